"""Schedules kept by the server: an every-minute schedule fires exactly once per slot over three
slots with restarts between them, a paused one never fires, a telemetry trigger fires once when
the release model's on-device accuracy drops (reported by a simulated fleet) and not again while
its run is in progress, bad schedules are refused, and the CLI drives all of it."""

import json
import os
import subprocess
import tempfile
import time
import unittest

from harness import Server, ServerTestCase, make_core_ml_models, ringo_bin, unique

HAVE_TORCH = subprocess.run(["/usr/bin/python3", "-c", "import torch"], capture_output=True).returncode == 0
SCHEDULES = "/api/ringo/v1/schedules"


def make_project(root, command):
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, "MLproject"), "w") as f:
        f.write("name: tiny\nentry_points:\n  main:\n    parameters:\n      pause: {type: float, default: 0}\n"
                "    command: \"%s\"\n" % command)
    return root


class ScheduleCase(ServerTestCase):
    def cli(self, *args):
        p = subprocess.run([ringo_bin()] + list(args) + ["--tracking-uri", self.server.url],
                           capture_output=True, text=True)
        return p.returncode, p.stdout, p.stderr

    def show(self, name):
        r = self.server.request("GET", SCHEDULES + "/" + name)
        self.assertEqual(r.status, 200, r)
        return r.json

    def wait_firings(self, name, outcome, n, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            firings = self.show(name)["firings"]
            if sum(f["outcome"] == outcome for f in firings) >= n:
                return firings
            time.sleep(0.5)
        self.fail("%s: fewer than %d '%s' firings after %.0f s: %s" % (name, n, outcome, timeout, self.show(name)))

    def runs_of(self, experiment):
        exp = self.ok("GET", "experiments/get-by-name", query={"experiment_name": experiment})["experiment"]
        return self.ok("POST", "runs/search", {"experiment_ids": [exp["experiment_id"]],
                                               "max_results": 100}).get("runs", [])


class CronScheduleTest(ScheduleCase):
    def test_every_minute_fires_once_per_slot_across_restarts(self):
        project = make_project(os.path.join(self.server.workdir, "proj"), "true")
        exp = unique("sched")
        rc, out, err = self.cli("schedules", "create", "every-minute", "--project", project, "--cron", "* * * * *",
                                "--experiment-name", exp)
        self.assertEqual(rc, 0, err)
        self.assertIn("every-minute  cron '* * * * *' UTC  next ", out)
        rc, _, err = self.cli("schedules", "create", "paused", "--project", project, "--cron", "* * * * *",
                              "--experiment-name", exp)
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.cli("schedules", "pause", "paused")[0], 0)
        for i in range(1, 4):
            firings = self.wait_firings("every-minute", "finished", i, 75)
            if i < 3:
                self.assertEqual(self.server.stop(), 0)
                self.server.start()
        # The next slot may have come meanwhile: stop looking first.
        self.assertEqual(self.cli("schedules", "pause", "every-minute")[0], 0)
        firings = self.show("every-minute")["firings"]
        started = [f for f in firings if f["outcome"] == "started"]
        slots = sorted(f["slot"] for f in started)
        self.assertGreaterEqual(len(slots), 3)
        self.assertEqual(len(set(slots)), len(slots), "a slot fired twice: %s" % firings)
        self.assertTrue(all(b - a == 60 for a, b in zip(slots, slots[1:])), slots)
        runs = self.runs_of(exp)
        self.assertEqual(len(runs), len(slots))
        for run in runs:
            tags = {t["key"]: t["value"] for t in run["data"]["tags"]}
            self.assertEqual(tags["ringo.schedule"], "every-minute")
            self.assertIn("cron slot", tags["ringo.schedule.reason"])
            self.assertEqual(run["info"]["status"], "FINISHED")
        self.assertEqual(self.show("paused")["firings"], [])
        rc, out, _ = self.cli("schedules", "show", "every-minute")
        self.assertEqual(rc, 0)
        self.assertIn("started  cron slot", out)
        rc, out, _ = self.cli("schedules", "list")
        self.assertIn("paused", out)

    def test_bad_schedules_are_refused_and_nothing_is_stored(self):
        project = make_project(os.path.join(self.server.workdir, "proj2"), "true")
        for body, words in [
            ({"name": "x", "project": project, "trigger": {"type": "cron", "cron": "61 * * * *"}}, "minute"),
            ({"name": "x", "project": project, "trigger": {"type": "cron", "cron": "* * * * *", "time_zone": "Nowhere/Land"}},
             "unknown time zone"),
            ({"name": "bad name", "project": project, "trigger": {"type": "cron", "cron": "* * * * *"}}, "invalid schedule name"),
            ({"name": "x", "project": project, "trigger": {"type": "sometimes"}}, "invalid trigger type"),
            ({"name": "x", "project": project, "trigger": {"type": "telemetry", "collection": "c", "channel": "r",
                                                           "signal": "mood"}}, "invalid telemetry signal"),
            ({"name": "x", "project": project, "parameters": {"a": 1}, "trigger": {"type": "data", "path": "/"}}, "malformed"),
        ]:
            r = self.server.request("POST", SCHEDULES, body=body)
            self.assertError(r, 400, "INVALID_PARAMETER_VALUE", words)
        self.assertEqual(self.server.request("GET", SCHEDULES).json["schedules"], [])
        rc, _, err = self.cli("schedules", "create", "y", "--project", project)
        self.assertEqual(rc, 1)
        self.assertIn("exactly one of --cron", err)
        rc, _, err = self.cli("schedules", "show", "nope")
        self.assertEqual(rc, 1)
        self.assertIn("does not exist", err)


@unittest.skipUnless(HAVE_TORCH, "needs Debian's python3-torch to make a Core ML model")
class TelemetryTriggerTest(ScheduleCase):
    def test_accuracy_drop_fires_once_with_its_reason(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        files = make_core_ml_models(tmp.name)
        model, coll = unique("m"), unique("app")
        rc, out, err = self.cli("models", "register", files["mlmodel"], "--name", model)
        self.assertEqual(rc, 0, err)
        version = out.split("version ")[1].split()[0]
        self.assertEqual(self.cli("collections", "create", coll, "--model", model)[0], 0)
        rc, dep, err = self.cli("deployments", "create", coll, "--model", "%s=%s" % (model, version))
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.cli("channels", "promote", coll, "release", dep.strip())[0], 0)

        project = make_project(os.path.join(tmp.name, "retrain"), "sleep {pause}")
        exp = unique("retrain")
        rc, _, err = self.cli("schedules", "create", "retrain", "--project", project, "-P", "pause=6",
                              "--experiment-name", exp, "--telemetry", "accuracy", "--collection", coll,
                              "--channel", "release", "--below", "0.9", "--min-samples", "100",
                              "--window", "3600", "--check-every", "1")
        self.assertEqual(rc, 0, err)

        def simulate(accuracy, prefix):
            """A fleet of 100 devices on release, each reporting 2 predictions and their feedback."""
            p = subprocess.run([ringo_bin(), "device", "simulate", "--tracking-uri", self.server.url,
                                "--collection", coll, "--channel", "release", "--count", "100",
                                "--model", model, "--predictions", "2", "--attr", "id_prefix=" + prefix,
                                "--behave", "*=accuracy:%s" % accuracy, "--json"],
                               capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, p.stderr)

        simulate(1.0, "good-")
        time.sleep(2.5)
        self.assertEqual(self.show("retrain")["firings"], [])  # accuracy 1.0: nothing
        simulate(0.0, "bad-")  # in the end 200 of 400 feedback events right: 0.5
        firings = self.wait_firings("retrain", "started", 1, 20)
        time.sleep(3)  # still low while the 6 s run goes on: no second firing
        firings = self.show("retrain")["firings"]
        self.assertEqual([f["outcome"] for f in firings], ["started"], firings)
        fired = firings[0]
        # Checked every second while the fleet reports: whatever share was seen when it crossed.
        self.assertTrue(0.5 <= fired["observed"] < 0.9, fired)
        self.assertRegex(fired["reason"], r"^accuracy 0\.\d+ < 0\.9$")
        self.assertRegex(fired["window"], r"^\d+ events of the last 3600 s$")
        self.assertGreaterEqual(int(fired["window"].split()[0]), 100)
        self.wait_firings("retrain", "finished", 1, 30)
        time.sleep(2.5)  # finished, same window: it does not fire again
        self.assertEqual(sum(f["outcome"] == "started" for f in self.show("retrain")["firings"]), 1)
        runs = self.runs_of(exp)
        self.assertEqual(len(runs), 1)
        tags = {t["key"]: t["value"] for t in runs[0]["data"]["tags"]}
        self.assertEqual(tags["ringo.schedule.reason"], fired["reason"])
        # Feedback events are validated like every event.
        r = self.server.request("POST", "/api/deploy/v1/telemetry",
                                body=[{"event": "feedback", "model": model, "version": version}])
        self.assertEqual(r.status, 400, r)


if __name__ == "__main__":
    unittest.main()
