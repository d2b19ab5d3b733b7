"""The closed release loop, end to end with 1,000 simulated devices: a good candidate passes its
gates, reaches staging (webhook seen), then release through every rollout step to 100%; a bad
one (more failures on devices) is halted at its first step and rolled back within one
evaluation interval; a less accurate one and one breaking the apps' interface never leave the
gates. Every automatic step is in the history with actor "policy", its reason and numbers."""

import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

from harness import Receiver, ServerTestCase, make_core_ml_models, ringo_bin, unique

HAVE_TORCH = subprocess.run(["/usr/bin/python3", "-c", "import torch"], capture_output=True).returncode == 0
DEVICES = 1000


@unittest.skipUnless(HAVE_TORCH, "needs Debian's python3-torch to make Core ML models")
class ReleaseLoopTest(ServerTestCase):
    def cli(self, *args):
        p = subprocess.run([ringo_bin()] + list(args) + ["--tracking-uri", self.server.url],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, "%s: %s" % (args, p.stderr))
        return p.stdout

    def simulate(self, channel, behave=(), predictions=5):
        args = [ringo_bin(), "device", "simulate", "--tracking-uri", self.server.url, "--collection", self.coll,
                "--channel", channel, "--count", str(DEVICES), "--model", self.model,
                "--predictions", str(predictions), "--json", "--attr", "id_prefix=%s-" % unique("d")]
        for b in behave:
            args += ["--behave", b]
        p = subprocess.run(args, capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr + p.stdout[-2000:])
        return json.loads(p.stdout)["deployments"]

    def register(self, path, accuracy):
        run = self.ok("POST", "runs/create", {"experiment_id": "0"})["run"]["info"]["run_id"]
        self.ok("POST", "runs/log-metric", {"run_id": run, "key": "accuracy", "value": accuracy,
                                            "timestamp": 0, "step": 0})
        out = self.cli("models", "register", path, "--name", self.model, "--run-id", run)
        return int(out.split("version ")[1].split()[0])

    def state(self):
        r = self.server.request("GET", "/api/ringo/v1/release-policies/" + self.coll)
        self.assertEqual(r.status, 200, r)
        return {c["version"]: c for c in r.json["candidates"]}

    def wait_stage(self, version, stages, timeout=30, drive=None):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            c = self.state().get(version)
            if c and c["stage"] in stages:
                return c
            if drive:
                drive()
            time.sleep(0.3)
        self.fail("version %d did not reach %s: %s" % (version, stages, self.state().get(version)))

    def history(self, channel):
        return json.loads(self.cli("channels", "history", self.coll, channel, "--json"))["history"]

    def channel(self, name):
        r = self.server.request("GET", "/api/ringo/v1/channels/get", query={"collection": self.coll, "channel": name})
        self.assertEqual(r.status, 200, r)
        return r.json["channel"]

    def test_the_loop(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        files = make_core_ml_models(tmp.name)
        info = json.loads(subprocess.run([ringo_bin(), "inspect", "--json", files["mlmodel"]],
                                         check=True, capture_output=True, text=True).stdout)
        renamed = os.path.join(tmp.name, "renamed.mlmodel")
        subprocess.run([ringo_bin(), "convert", os.path.join(tmp.name, "mlp.onnx"), "-o", renamed,
                        "--rename-input", "%s=renamed_input" % info["inputs"][0]["name"]], check=True,
                       capture_output=True)
        self.model, self.coll = unique("digits"), unique("app")

        # The app as it ships today: version 1 in both channels, its interface as the contract.
        v1 = self.register(files["mlmodel"], 0.95)
        self.cli("collections", "create", self.coll, "--model", self.model)
        d1 = self.cli("deployments", "create", self.coll, "--model", "%s=%d" % (self.model, v1)).strip()
        for channel in ("staging", "release"):
            self.cli("channels", "promote", self.coll, channel, d1)
        self.cli("apps", "contract", self.coll, "--app-versions", ">=1.0", "--model",
                 "%s=%s" % (self.model, files["mlmodel"]))
        receiver = Receiver()
        self.addCleanup(receiver.close)
        self.cli("webhooks", "add", receiver.url, "--collection", self.coll)
        policy = {"model": self.model,
                  "gates": {"metrics": [{"metric": "accuracy", "min": 0.9}],
                            "compare_metric": "accuracy", "max_drop": 0.02},
                  "staging": {"soak_seconds": 2, "min_samples": 100},
                  "release": {"steps": [1, 10, 50, 100], "hold_seconds": 1, "min_samples": 50},
                  "halt": {"max_failure_rate": 0.1},
                  "evaluate_seconds": 1}
        path = os.path.join(tmp.name, "policy.json")
        with open(path, "w") as f:
            json.dump(policy, f)
        self.cli("release", "set", self.coll, "--file", path)

        # A good candidate: gates, staging (testers notified), then every step to 100%.
        v2 = self.register(files["mlmodel"], 0.96)
        c2 = self.wait_stage(v2, ("staging",))
        self.assertTrue(all(g["passed"] for g in c2["gates"]), c2)
        staged = [json.loads(b) for _, b in receiver.wait_for(1)]
        self.assertEqual((staged[0]["channel"], staged[0]["actor"]), ("staging", "policy"))
        self.assertEqual(self.simulate("staging", ["*=failure_rate:0.01"]), {c2["deployment_id"]: DEVICES})
        self.wait_stage(v2, ("rollout", "released"), timeout=15)
        healthy = ["*=failure_rate:0.01,latency_ms:12"]
        self.wait_stage(v2, ("released",), timeout=90, drive=lambda: self.simulate("release", healthy))
        self.assertEqual((self.channel("release")["deployment_id"], self.channel("release")["rollout"]),
                         (c2["deployment_id"], 100))
        steps = [(h["action"], h["rollout"]) for h in self.history("release") if h["actor"] == "policy"]
        self.assertEqual(steps, [("promote", 1), ("rollout", 10), ("rollout", 50), ("complete", 100)])

        # A bad candidate: fine on paper, failing on devices. Approved past its soak, halted at 1%.
        v3 = self.register(files["mlmodel"], 0.96)
        c3 = self.wait_stage(v3, ("staging",))
        self.cli("channels", "approve", self.coll)
        self.wait_stage(v3, ("rollout",), timeout=10)
        bad = ["%s=failure_rate:0.5" % c3["deployment_id"], "*=failure_rate:0.01"]
        reported = time.monotonic()
        while self.channel("release")["deployment_id"] == c3["deployment_id"]:
            self.assertLess(time.monotonic() - reported, 60, self.state()[v3])
            self.simulate("release", bad, predictions=20)
            reported = time.monotonic()
            time.sleep(0.2)
        rolled_back_after = time.monotonic() - reported
        self.assertLess(rolled_back_after, 1 + 2, "rollback took longer than an evaluation interval")
        c3 = self.wait_stage(v3, ("halted",), timeout=5)
        self.assertIn("halted at 1%: failure rate", c3["note"])
        self.assertIn("rolled back", c3["note"])
        rollback = self.history("release")[-1]
        self.assertEqual((rollback["action"], rollback["actor"]), ("rollback", "policy"))
        self.assertIn("failure rate", rollback["reason"])
        self.assertEqual(self.channel("release")["deployment_id"], c2["deployment_id"])
        manifest = self.server.request("GET", "/api/deploy/v1/collections/%s/channels/release/manifest" % self.coll,
                                       query={"device_id": "anyone"})
        self.assertEqual(manifest.json["deployment_id"], c2["deployment_id"])

        # Never past the gates: less accurate than release, or breaking the apps' interface.
        v4 = self.register(files["mlmodel"], 0.80)
        c4 = self.wait_stage(v4, ("rejected",))
        failed = {g["name"] for g in c4["gates"] if not g["passed"]}
        self.assertEqual(failed, {"metric accuracy", "not worse than release"})
        v5 = self.register(renamed, 0.97)
        c5 = self.wait_stage(v5, ("rejected",))
        self.assertEqual([g["name"] for g in c5["gates"] if not g["passed"]], ["interface"])
        self.assertEqual(self.channel("staging")["deployment_id"], c3["deployment_id"])
        out = self.cli("release", "show", self.coll)
        self.assertIn("FAIL interface", out)


@unittest.skipUnless(HAVE_TORCH, "needs Debian's python3-torch to train the digits model")
class DigitsCandidateTest(ServerTestCase):
    def test_the_digits_pipeline_registers_a_gated_candidate(self):
        """`-P register_as=` makes the example register each new model with its accuracy and its
        Core ML-against-PyTorch parity on the version's run: what the example policy gates."""
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        here = os.path.dirname(os.path.abspath(__file__))
        project = os.path.join(tmp.name, "digits")
        shutil.copytree(os.path.join(here, "..", "..", "examples", "digits"), project,
                        ignore=shutil.ignore_patterns(".ringo", "__pycache__"))
        name = unique("DigitClassifier")
        p = subprocess.run([ringo_bin(), "run", project, "-P", "register_as=" + name, "-P", "epochs=5",
                            "--tracking-uri", self.server.url], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stdout[-3000:] + p.stderr[-3000:])
        v = self.ok("GET", "model-versions/get", query={"name": name, "version": "1"})["model_version"]
        run = self.ok("GET", "runs/get", query={"run_id": v["run_id"]})["run"]
        metrics = {m["key"]: m["value"] for m in run["data"]["metrics"]}
        self.assertGreater(metrics["accuracy"], 0.5)
        self.assertLess(metrics["parity_max_abs_diff"], 1e-4)
        with open(os.path.join(project, "release-policy.json")) as f:
            gates = {g["metric"] for g in json.load(f)["gates"]["metrics"]}
        self.assertEqual(gates, {"accuracy", "parity_max_abs_diff"})


if __name__ == "__main__":
    unittest.main()
