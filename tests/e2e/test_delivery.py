"""Delivery beyond the basics: targeting rules, the interface gate, long-poll, webhooks."""

import hashlib
import hmac
import json
import os
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from harness import Receiver, Server, ServerTestCase, make_core_ml_models, ringo_bin, unique

HAVE_TORCH = subprocess.run(["/usr/bin/python3", "-c", "import torch"], capture_output=True).returncode == 0
HERE = os.path.dirname(os.path.abspath(__file__))


@unittest.skipUnless(HAVE_TORCH, "needs Debian's python3-torch to make Core ML models")
class DeliveryTest(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.tmp.name
        cls.files = make_core_ml_models(d)
        onnx = os.path.join(d, "mlp.onnx")
        info = json.loads(subprocess.run([ringo_bin(), "inspect", "--json", cls.files["mlmodel"]],
                                         check=True, capture_output=True, text=True).stdout)
        cls.interface_json = os.path.join(d, "interface.json")
        with open(cls.interface_json, "w") as f:
            json.dump(info, f)
        # The same network with its input renamed: an app feeding the old name breaks.
        cls.files["renamed"] = os.path.join(d, "renamed.mlmodel")
        subprocess.run([ringo_bin(), "convert", onnx, "-o", cls.files["renamed"], "--rename-input",
                        "%s=renamed_input" % info["inputs"][0]["name"]], check=True, capture_output=True)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()
        super().tearDownClass()

    def cli(self, *args):
        p = subprocess.run([ringo_bin()] + list(args) + ["--tracking-uri", self.server.url],
                           capture_output=True, text=True)
        return p.returncode, p.stdout, p.stderr

    def ok_cli(self, *args):
        rc, out, err = self.cli(*args)
        self.assertEqual(rc, 0, err)
        return out

    def setup_collection(self, kinds=("mlmodel", "mlpackage")):
        """A collection of one model with a deployment per kind of file; release serves the first."""
        model = unique("m")
        coll = unique("app")
        deployments = []
        for kind in kinds:
            out = self.ok_cli("models", "register", self.files[kind], "--name", model)
            version = out.split("version ")[1].split()[0]
            if not deployments:
                self.ok_cli("collections", "create", coll, "--model", model)
            deployments.append(self.ok_cli("deployments", "create", coll, "--model",
                                           "%s=%s" % (model, version)).strip())
        self.ok_cli("channels", "promote", coll, "release", deployments[0])
        return model, coll, deployments

    def manifest(self, coll, channel="release", headers=None, timeout=60, **query):
        return self.server.request("GET", "/api/deploy/v1/collections/%s/channels/%s/manifest" % (coll, channel),
                                   query=query, headers=headers, timeout=timeout)

    def write_json(self, value):
        fd, path = tempfile.mkstemp(suffix=".json", dir=self.tmp.name)
        with os.fdopen(fd, "w") as f:
            json.dump(value, f)
        return path

    # ------------------------------------------------------------------ targeting rules

    def test_rules_give_other_deployments_to_matching_devices(self):
        _, coll, (d1, d2) = self.setup_collection()
        rules = [{"name": "testers", "deployment_id": d2, "device_ids": ["tester-1", "tester-2"]},
                 {"deployment_id": d2, "device_class": ["iPad"], "os": "iPadOS",
                  "os_version": {"min": "17.0"}, "app_version": ">=2.0,<3.0", "region": ["DE", "AT"],
                  "language": "de"}]
        self.ok_cli("channels", "rules", coll, "release", "--set", self.write_json(rules), "--reason", "beta")
        before = self.manifest(coll, device_id="phone-1")
        self.assertEqual(before.json["deployment_id"], d1)
        tester = self.manifest(coll, device_id="tester-2")
        self.assertEqual(tester.json["deployment_id"], d2)
        self.assertNotEqual(tester.header("ETag"), before.header("ETag"))
        ipad = dict(device_id="ipad-9", device_class="iPad", os="ipados", os_version="17.4.1",
                    app_version="2.3", region="de", language="DE")
        self.assertEqual(self.manifest(coll, **ipad).json["deployment_id"], d2)
        for change in ({"os_version": "16.7"}, {"app_version": "3.0"}, {"region": "US"},
                       {"device_class": "iPhone"}, {"language": ""}):
            q = dict(ipad, **change)
            self.assertEqual(self.manifest(coll, **q).json["deployment_id"], d1, change)
        # The manifest format is unchanged: only which deployment differs.
        self.assertEqual(set(tester.json), set(before.json))

        out = self.ok_cli("channels", "rules", coll, "release")
        self.assertIn("testers", out)
        shown = json.loads(self.ok_cli("channels", "rules", coll, "release", "--json"))["channel"]["rules"]
        self.assertEqual(shown[0]["device_ids"], ["tester-1", "tester-2"])
        self.assertEqual(shown[1]["os_version"], ">=17.0")

        # A tester's ETag changes when the rules stop applying to it.
        etag = tester.header("ETag")
        self.ok_cli("channels", "rules", coll, "release", "--clear", "--reason", "beta over")
        r = self.manifest(coll, device_id="tester-2", headers={"If-None-Match": etag})
        self.assertEqual((r.status, r.json["deployment_id"]), (200, d1))

        history = json.loads(self.ok_cli("channels", "history", coll, "release", "--json"))["history"]
        self.assertEqual([h["action"] for h in history], ["promote", "rules", "rules"])
        self.assertEqual(history[1]["rules"][0]["name"], "testers")
        self.assertEqual((history[1]["reason"], history[2]["rules"]), ("beta", []))

        # Bad rules are refused and change nothing.
        for bad, why in (([{"deployment_id": "dep-nope"}], "does not exist"),
                         ([{"deployment_id": d2, "regoin": "US"}], "regoin"),
                         ([{"deployment_id": d2, "os_version": ">=17,<16"}], "no version")):
            rc, _, err = self.cli("channels", "rules", coll, "release", "--set", self.write_json(bad))
            self.assertEqual(rc, 1, bad)
            self.assertIn(why, err)
        rc, _, err = self.cli("channels", "rules", coll, "nochannel", "--set", self.write_json(rules))
        self.assertEqual(rc, 1)
        self.assertIn("does not exist", err)
        r = self.server.request("POST", "/api/ringo/v1/channels/rules",
                                body={"collection": coll, "channel": "release", "rules": {"x": 1}})
        self.assertEqual(r.status, 400)
        self.assertEqual(len(json.loads(self.ok_cli("channels", "history", coll, "release", "--json"))["history"]), 3)

    # ------------------------------------------------------------------ interface gate

    def test_gate_refuses_a_breaking_interface_unless_forced(self):
        model, coll, (d_same, d_broken, d_again) = self.setup_collection(("mlmodel", "renamed", "mlmodel"))
        self.ok_cli("apps", "contract", coll, "--app-versions", ">=1.0,<2.0",
                    "--model", "%s=%s" % (model, self.files["mlmodel"]))
        self.ok_cli("apps", "contract", coll, "--app-versions", ">=2.0,<3.0", "--model",
                    "%s=%s" % (model, self.interface_json))
        listed = json.loads(self.ok_cli("apps", "list", coll, "--json"))["contracts"]
        self.assertEqual(sorted(c["app_versions"] for c in listed), [">=1.0,<2.0", ">=2.0,<3.0"])

        rc, _, err = self.cli("channels", "promote", coll, "release", d_broken)
        self.assertEqual(rc, 1)
        self.assertIn("breaks the interface", err)
        self.assertIn("removed", err)
        self.assertIn(">=1.0,<2.0", err)
        r = self.server.request("POST", "/api/ringo/v1/channels/promote",
                                body={"collection": coll, "channel": "release", "deployment_id": d_broken})
        self.assertEqual((r.status, r.json["error_code"]), (400, "INVALID_STATE"))
        self.assertEqual(self.manifest(coll).json["deployment_id"], d_same)
        # The same interface passes.
        self.ok_cli("channels", "promote", coll, "release", d_again)
        # A rule may hand the broken model to app versions no contract covers, without force ...
        only_new_apps = [{"deployment_id": d_broken, "app_version": ">=5.0", "device_ids": ["t"]}]
        self.ok_cli("channels", "rules", coll, "release", "--set", self.write_json(only_new_apps))
        # ... but not to apps built against the old interface.
        rc, _, err = self.cli("channels", "rules", coll, "release", "--set",
                              self.write_json([{"deployment_id": d_broken, "app_version": ">=2.5"}]))
        self.assertEqual(rc, 1)
        self.assertIn("rule 1", err)
        # Forced with a reason: allowed and recorded with what it overrode.
        rc, _, err = self.cli("channels", "promote", coll, "release", d_broken, "--force")
        self.assertEqual(rc, 1)
        self.assertIn("reason", err)
        self.ok_cli("channels", "promote", coll, "release", d_broken, "--force", "--reason", "all apps updated")
        last = json.loads(self.ok_cli("channels", "history", coll, "release", "--json"))["history"][-1]
        self.assertTrue(last["forced"])
        self.assertEqual(last["reason"], "all apps updated")
        self.assertTrue(any("removed" in o for o in last["overridden"]), last)
        # Rollback is never gated.
        self.ok_cli("channels", "rollback", coll, "release")
        # Once the old apps' contracts are gone, the change is no longer breaking for anyone.
        self.ok_cli("apps", "remove", coll, "--app-versions", ">=1.0,<2.0")
        self.ok_cli("apps", "remove", coll, "--app-versions", ">= 2.0, < 3.0")
        rc, _, err = self.cli("apps", "remove", coll, "--app-versions", ">=2.0,<3.0")
        self.assertEqual(rc, 1)
        self.ok_cli("channels", "promote", coll, "release", d_broken)

        rc, _, err = self.cli("apps", "contract", coll, "--app-versions", "~>2", "--model",
                              "%s=%s" % (model, self.interface_json))
        self.assertEqual(rc, 1)
        rc, _, err = self.cli("apps", "contract", coll, "--app-versions", ">=1", "--model",
                              "other=%s" % self.interface_json)
        self.assertEqual(rc, 1)
        self.assertIn("not part of collection", err)

    # ------------------------------------------------------------------ long-poll

    def test_long_poll_wakes_on_a_change_and_times_out_otherwise(self):
        _, coll, (d1, d2) = self.setup_collection()
        first = self.manifest(coll, device_id="phone-7")
        etag = first.header("ETag")
        # Unchanged until the deadline: 304 after about a second, not at once.
        start = time.monotonic()
        r = self.manifest(coll, device_id="phone-7", wait="1", headers={"If-None-Match": etag})
        self.assertEqual(r.status, 304)
        self.assertEqual(r.header("ETag"), etag)
        self.assertGreaterEqual(time.monotonic() - start, 0.9)
        # Without If-None-Match the answer is immediate.
        self.assertEqual(self.manifest(coll, device_id="phone-7", wait="30").status, 200)
        self.assertEqual(self.manifest(coll, device_id="x", wait="-1").status, 400)

        results = {}

        def poll(name, channel, tag, seconds):
            resp = self.manifest(coll, channel, device_id="phone-7", wait=str(seconds),
                                 headers={"If-None-Match": tag}, timeout=seconds + 10)
            results[name] = (resp, time.monotonic())

        # A poll of an unrelated channel of the same collection must not wake.
        self.ok_cli("channels", "promote", coll, "staging", d1)
        staging_etag = self.manifest(coll, "staging", device_id="phone-7").header("ETag")
        threads = [threading.Thread(target=poll, args=("release", "release", etag, 20)),
                   threading.Thread(target=poll, args=("staging", "staging", staging_etag, 3))]
        for t in threads:
            t.start()
        time.sleep(0.5)
        promoted = time.monotonic()
        self.ok_cli("channels", "promote", coll, "release", d2)
        threads[0].join(10)
        resp, when = results["release"]
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.json["deployment_id"], d2)
        self.assertLess(when - promoted, 1.0)
        threads[1].join(10)
        self.assertEqual(results["staging"][0].status, 304, "staging did not change")

    def test_devices_that_go_away_while_polling_are_let_go(self):
        # 40 devices long-poll for 5 minutes and vanish (app killed, network gone): their
        # connections are closed by the server at once, not held until the wait ends.
        _, coll, _ = self.setup_collection()
        etag = self.manifest(coll, device_id="phone-1").header("ETag")

        def open_connections():
            body = self.server.request("GET", "/metrics").body
            body = body.decode() if isinstance(body, bytes) else body
            for line in body.splitlines():
                if line.startswith("ringo_http_open_connections "):
                    return int(float(line.split()[1]))
            self.fail("no ringo_http_open_connections in /metrics")

        before = open_connections()
        socks = []
        for i in range(40):
            s = socket.create_connection((self.server.host, self.server.port))
            s.sendall(("GET /api/deploy/v1/collections/%s/channels/release/manifest?device_id=v%d"
                       "&wait=300 HTTP/1.1\r\nHost: x\r\nIf-None-Match: %s\r\n\r\n"
                       % (coll, i, etag)).encode())
            socks.append(s)
        ports = {s.getsockname()[1] for s in socks}

        def server_ends():
            """States of the server's ends of these connections (kernel's TCP table), one per
            connection: a table read while it changes can list an entry twice."""
            states = {}
            with open("/proc/net/tcp") as f:
                for line in f.readlines()[1:]:
                    local, remote, state = line.split()[1:4]
                    port = int(remote.split(":")[1], 16)
                    if int(local.split(":")[1], 16) == self.server.port and port in ports:
                        states[port] = state
            return list(states.values())

        # Deadlines rather than fixed waits: the whole suite runs on two busy cores. The bug
        # this guards against held the connections for the wait's 300 s.
        deadline = time.monotonic() + 10
        while server_ends().count("01") < 40 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # and the requests read, so the server holds them as waiting polls
        self.assertEqual(server_ends().count("01"), 40, "the polls were not all held open")
        for s in socks:
            s.close()
        deadline = time.monotonic() + 10
        while server_ends() and time.monotonic() < deadline:
            time.sleep(0.05)
        # Without the server closing them, they would sit half-closed (CLOSE_WAIT, "08").
        self.assertEqual(server_ends(), [], "connections of vanished devices still open")
        # ... and let go of at once: not counted as open (nor kept in memory) until the wait ends.
        # Each look is a request of its own, and the one before it may not be counted closed
        # yet when the next arrives: the last look's figure is the one judged.
        deadline = time.monotonic() + 10
        count = open_connections()
        while count > before and time.monotonic() < deadline:
            time.sleep(0.05)
            count = open_connections()
        self.assertLessEqual(count, before, "vanished devices still counted as open")
        # A device that stays is still answered when the channel changes, and the server
        # keeps serving.
        self.assertEqual(self.manifest(coll, device_id="phone-1").status, 200)

    def test_shutdown_answers_waiting_devices(self):
        server = Server()
        server.start()
        try:
            url = server.url
            model = unique("m")
            run = lambda *a: subprocess.run([ringo_bin()] + list(a) + ["--tracking-uri", url],
                                            capture_output=True, text=True, check=True).stdout
            version = run("models", "register", self.files["mlmodel"], "--name", model).split("version ")[1].split()[0]
            coll = unique("c")
            run("collections", "create", coll, "--model", model)
            dep = run("deployments", "create", coll, "--model", "%s=%s" % (model, version)).strip()
            run("channels", "promote", coll, "release", dep)
            path = "/api/deploy/v1/collections/%s/channels/release/manifest" % coll
            etag = server.request("GET", path, query={"device_id": "a"}).header("ETag")
            got = {}

            def poll():
                got["r"] = server.request("GET", path, query={"device_id": "a", "wait": "60"},
                                          headers={"If-None-Match": etag}, timeout=30)

            t = threading.Thread(target=poll)
            t.start()
            time.sleep(0.5)
            start = time.monotonic()
            self.assertEqual(server.stop(), 0)
            t.join(20)
            self.assertLess(time.monotonic() - start, 10)
            self.assertEqual(got["r"].status, 304)
        finally:
            server.cleanup()

    # ------------------------------------------------------------------ webhooks

    def test_webhooks_post_signed_changes_with_retries(self):
        _, coll, (d1, d2) = self.setup_collection()
        signed = Receiver(fail_first=1)  # the first delivery fails: it must be retried
        other = Receiver()
        try:
            hook_id = self.ok_cli("webhooks", "add", signed.url, "--secret", "s3cret", "--collection", coll).strip()
            other_coll_hook = self.ok_cli("webhooks", "add", other.url).strip()
            # A receiver that refuses connections does not slow the admin call down.
            self.ok_cli("webhooks", "add", "http://127.0.0.1:9/nothing-listens", "--collection", coll)
            listed = json.loads(self.ok_cli("webhooks", "list", "--collection", coll, "--json"))["webhooks"]
            self.assertEqual(len(listed), 3)
            self.assertTrue(all("secret" not in w for w in listed))
            self.assertEqual([w["has_secret"] for w in listed if w["id"] == hook_id], [True])

            start = time.monotonic()
            self.ok_cli("channels", "promote", coll, "release", d2, "--rollout", "20", "--reason", "canary")
            self.assertLess(time.monotonic() - start, 2.0)
            (headers, body), = signed.wait_for(1)
            self.assertGreaterEqual(signed.attempts, 2)
            payload = json.loads(body)
            self.assertEqual({k: payload[k] for k in ("collection", "channel", "action", "from", "to", "rollout", "reason")},
                             {"collection": coll, "channel": "release", "action": "promote", "from": d1, "to": d2,
                              "rollout": 20, "reason": "canary"})
            self.assertTrue(payload["actor"])
            self.assertGreater(payload["time"], 0)
            want = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
            self.assertEqual(headers.get("X-Ringo-Webhook-Signature"), want)
            # The global hook hears it too, unsigned.
            (oheaders, obody), = other.wait_for(1)
            self.assertNotIn("X-Ringo-Webhook-Signature", oheaders)
            self.assertEqual(json.loads(obody)["to"], d2)

            self.ok_cli("webhooks", "remove", hook_id)
            rc, _, err = self.cli("webhooks", "remove", hook_id)
            self.assertEqual(rc, 1)
            self.ok_cli("channels", "rollback", coll, "release")
            self.assertEqual(other.wait_for(2)[1][1] and json.loads(other.wait_for(2)[1][1])["action"], "rollback")
            time.sleep(0.5)
            self.assertEqual(len(signed.received), 1, "a removed webhook is not called")
            self.ok_cli("webhooks", "remove", other_coll_hook)
            rc, _, err = self.cli("webhooks", "add", "ftp://example.com/x")
            self.assertEqual(rc, 1)
            self.assertIn("http://", err)
        finally:
            signed.close()
            other.close()


if __name__ == "__main__":
    unittest.main()
