"""Over-the-air delivery: collections, deployments, channels, signed manifests, blobs, telemetry."""

import base64
import hashlib
import json
import os
import subprocess
import tempfile
import time
import unittest

from harness import ServerTestCase, make_core_ml_models, ringo_bin, unique

HAVE_TORCH = subprocess.run(["/usr/bin/python3", "-c", "import torch"], capture_output=True).returncode == 0
HERE = os.path.dirname(os.path.abspath(__file__))


def verify_ed25519(public_key_b64, body, signature_b64):
    """Verifies with the openssl CLI (Python's standard library has no Ed25519)."""
    der = bytes.fromhex("302a300506032b6570032100") + base64.b64decode(public_key_b64)
    with tempfile.TemporaryDirectory() as d:
        pem = os.path.join(d, "pub.pem")
        with open(pem, "w") as f:
            f.write("-----BEGIN PUBLIC KEY-----\n%s\n-----END PUBLIC KEY-----\n" % base64.b64encode(der).decode())
        with open(os.path.join(d, "body"), "wb") as f:
            f.write(body)
        with open(os.path.join(d, "sig"), "wb") as f:
            f.write(base64.b64decode(signature_b64))
        p = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", pem, "-rawin",
                            "-in", os.path.join(d, "body"), "-sigfile", os.path.join(d, "sig")],
                           capture_output=True, text=True)
        return p.returncode == 0


class DeliveryCase(ServerTestCase):
    """A server with Core ML models to register, and the CLI and device views of it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.TemporaryDirectory()
        cls.files = make_core_ml_models(cls.tmp.name)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()
        super().tearDownClass()

    def cli(self, *args):
        p = subprocess.run([ringo_bin()] + list(args) + ["--tracking-uri", self.server.url],
                           capture_output=True, text=True)
        return p.returncode, p.stdout, p.stderr

    def register(self, name, ext):
        rc, out, err = self.cli("models", "register", self.files[ext], "--name", name)
        self.assertEqual(rc, 0, err)
        return out.split("version ")[1].split()[0]

    def manifest(self, collection, channel, **query):
        return self.server.request("GET", "/api/deploy/v1/collections/%s/channels/%s/manifest" % (collection, channel),
                                   query=query)

    def simulate(self, coll, channel, count, prefix):
        p = subprocess.run([ringo_bin(), "device", "simulate", "--tracking-uri", self.server.url, "--collection", coll,
                            "--channel", channel, "--count", str(count), "--attr", "id_prefix=" + prefix,
                            "--attr", "device_class=iPhone", "--json"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr + p.stdout[-500:])
        out = json.loads(p.stdout)
        return {d["device_id"]: d["deployment_id"] for d in out["devices"]}


@unittest.skipUnless(HAVE_TORCH, "needs Debian's python3-torch to make Core ML models")
class DeployTest(DeliveryCase):
    def test_promote_rollout_rollback_and_the_device_view(self):
        model = unique("digits")
        v1 = self.register(model, "mlmodel")
        v2 = self.register(model, "mlpackage")
        coll = unique("app")
        rc, _, err = self.cli("collections", "create", coll, "--model", model)
        self.assertEqual(rc, 0, err)
        rc, d1, err = self.cli("deployments", "create", coll, "--model", "%s=%s" % (model, v1))
        self.assertEqual(rc, 0, err)
        d1 = d1.strip()
        rc, d2, err = self.cli("deployments", "create", coll, "--model", "%s=%s" % (model, v2))
        d2 = d2.strip()
        rc, shown, err = self.cli("deployments", "show", d1)
        self.assertEqual(rc, 0, err)
        self.assertRegex(shown, r"^%s  %s\n  %s v%s  (mlmodel|mlpackage\.tar)  \d+ bytes  sha256 [0-9a-f]{64}\n$"
                         % (d1, coll, model, v1))
        rc, _, err = self.cli("deployments", "show", "dep-nope")
        self.assertEqual(rc, 1)
        self.assertIn("does not exist", err)
        rc, out, _ = self.cli("channels", "promote", coll, "release", d1, "--reason", "first")
        self.assertEqual(rc, 0)
        # A deployment is named by what it holds, its id beside it.
        self.assertIn("%s v%s [%s]" % (model, v1, d1), out)
        ch = self.server.request("GET", "/api/ringo/v1/channels/get", query={"collection": coll, "channel": "release"})
        self.assertEqual(ch.json["channel"]["deployment_label"], "%s v%s" % (model, v1))

        keys = self.server.request("GET", "/api/deploy/v1/keys").json
        self.assertEqual(keys["algorithm"], "Ed25519")
        r = self.manifest(coll, "release", device_id="phone-1")
        self.assertEqual(r.status, 200, r)
        body = r.json
        self.assertEqual((body["deployment_id"], body["models"][0]["version"]), (d1, v1))
        sig = r.header("X-Ringo-Signature")
        self.assertTrue(sig.startswith("ed25519="))
        self.assertTrue(verify_ed25519(keys["public_key"], r.body, sig[len("ed25519="):]))
        self.assertFalse(verify_ed25519(keys["public_key"], r.body + b" ", sig[len("ed25519="):]))
        etag = r.header("ETag")
        self.assertEqual(self.server.request("GET", "/api/deploy/v1/collections/%s/channels/release/manifest" % coll,
                                             query={"device_id": "phone-1"},
                                             headers={"If-None-Match": etag}).status, 304)

        # The blob is the model, content-addressed and resumable.
        entry = body["models"][0]
        blob = self.server.request("GET", entry["url"])
        self.assertEqual(blob.status, 200)
        self.assertEqual(hashlib.sha256(blob.body).hexdigest(), entry["sha256"])
        with open(self.files["mlmodel"], "rb") as f:
            self.assertEqual(blob.body, f.read())
        self.assertIn("immutable", blob.header("Cache-Control"))
        part = self.server.request("GET", entry["url"], headers={"Range": "bytes=10-19"})
        self.assertEqual((part.status, part.body), (206, blob.body[10:20]))

        # Staged rollout: about half the devices get the new deployment, the same ones every time.
        self.assertEqual(self.cli("channels", "promote", coll, "release", d2, "--rollout", "50", "--reason", "canary")[0], 0)
        seen = {}
        for i in range(200):
            seen["dev%d" % i] = self.manifest(coll, "release", device_id="dev%d" % i).json["deployment_id"]
        share = sum(1 for v in seen.values() if v == d2) / len(seen)
        self.assertTrue(0.3 < share < 0.7, share)
        self.assertEqual(self.manifest(coll, "release", device_id="dev7").json["deployment_id"], seen["dev7"])
        self.assertEqual(self.manifest(coll, "release").json["deployment_id"], d1, "unidentified devices stay")
        new = self.manifest(coll, "release", device_id=[k for k, v in seen.items() if v == d2][0]).json
        self.assertEqual(new["models"][0]["format"], "mlpackage.tar")
        self.assertEqual(self.cli("channels", "rollout", coll, "release", "100")[0], 0)
        self.assertEqual(self.manifest(coll, "release").json["deployment_id"], d2)
        rc, out, _ = self.cli("channels", "rollback", coll, "release", "--reason", "crash on iOS 16")
        self.assertEqual(rc, 0)
        self.assertEqual(self.manifest(coll, "release", device_id="dev1").json["deployment_id"], d1)

        rc, out, _ = self.cli("channels", "history", coll, "release", "--json")
        history = json.loads(out)["history"]
        self.assertEqual([h["action"] for h in history], ["promote", "promote", "complete", "rollback"])
        self.assertEqual((history[1]["from"], history[1]["to"], history[1]["rollout"]), (d1, d2, 50))
        self.assertEqual(history[3]["reason"], "crash on iOS 16")
        self.assertTrue(all(h["actor"] for h in history))
        # Staging is independent of release.
        self.assertEqual(self.manifest(coll, "staging").status, 404)

    def test_staged_rollout_through_the_device_sdk(self):
        model = unique("fleet")
        v1 = self.register(model, "mlmodel")
        v2 = self.register(model, "mlpackage")
        coll = unique("fleet")
        self.assertEqual(self.cli("collections", "create", coll, "--model", model)[0], 0)
        d1 = self.cli("deployments", "create", coll, "--model", "%s=%s" % (model, v1))[1].strip()
        d2 = self.cli("deployments", "create", coll, "--model", "%s=%s" % (model, v2))[1].strip()
        self.assertEqual(self.cli("channels", "promote", coll, "release", d1)[0], 0)
        self.assertEqual(self.cli("channels", "promote", coll, "staging", d2)[0], 0)
        # Testers on staging get v2, users on release v1.
        self.assertEqual(set(self.simulate(coll, "staging", 3, "tester-").values()), {d2})
        self.assertEqual(set(self.simulate(coll, "release", 20, "user-").values()), {d1})
        # A 10% rollout of v2 on release reaches 10% +- 3% of 1000 devices, the same ones each poll.
        self.assertEqual(self.cli("channels", "promote", coll, "release", d2, "--rollout", "10", "--reason", "canary")[0], 0)
        first = self.simulate(coll, "release", 1000, "dev-")
        share = sum(1 for v in first.values() if v == d2) / 1000.0
        self.assertTrue(0.07 <= share <= 0.13, share)
        self.assertEqual(self.simulate(coll, "release", 1000, "dev-"), first)
        # Rollback returns them all to v1.
        self.assertEqual(self.cli("channels", "rollback", coll, "release", "--reason", "regression")[0], 0)
        self.assertEqual(set(self.simulate(coll, "release", 1000, "dev-").values()), {d1})

    def test_telemetry_summary_by_os_and_app_version_over_a_time_range(self):
        # The device SDK reports the OS and app versions it was configured with; `device simulate`
        # passes --attr through to it.
        model = unique("osv")
        v1 = self.register(model, "mlmodel")
        coll = unique("osv")
        self.assertEqual(self.cli("collections", "create", coll, "--model", model)[0], 0)
        d1 = self.cli("deployments", "create", coll, "--model", "%s=%s" % (model, v1))[1].strip()
        self.assertEqual(self.cli("channels", "promote", coll, "release", d1)[0], 0)
        p = subprocess.run([ringo_bin(), "device", "simulate", "--tracking-uri", self.server.url,
                            "--collection", coll, "--channel", "release", "--count", "4",
                            "--model", model, "--predictions", "3", "--attr", "os_version=17.4",
                            "--attr", "app_version=3.2.1", "--json"],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        summary = "/api/ringo/v1/telemetry/summary"
        s = self.server.request("GET", summary, query={"model": model, "version": v1}).json
        self.assertEqual([r["os_version"] for r in s["os_versions"]], ["17.4"])
        self.assertEqual([r["app_version"] for r in s["app_versions"]], ["3.2.1"])
        self.assertEqual(s["os_versions"][0]["counts"]["prediction"], 12)
        self.assertEqual(s["failure_rate"], 0)
        later = s["last_time"] + 1
        query = {"model": model, "version": v1}
        empty = self.server.request("GET", summary, query=dict(query, from_ms=later)).json
        self.assertEqual((empty["total"], empty["os_versions"]), (0, []))
        some = self.server.request("GET", summary, query=dict(query, from_ms=s["first_time"],
                                                              to_ms=s["last_time"])).json
        self.assertEqual(some["total"], s["total"])
        for bad in ({"from_ms": "soon"}, {"from_ms": 5, "to_ms": 4}):
            r = self.server.request("GET", summary, query=dict(bad, model=model, version=v1))
            self.assertError(r, 400, "INVALID_PARAMETER_VALUE")

    def test_one_sha256_for_a_model_file(self):
        # The registry, `models register`, the deployment and the manifest name the same digest:
        # the file's SHA-256, as `shasum -a 256` prints it.
        with open(self.files["mlmodel"], "rb") as f:
            want = hashlib.sha256(f.read()).hexdigest()
        model = unique("sha")
        rc, out, err = self.cli("models", "register", self.files["mlmodel"], "--name", model)
        self.assertEqual(rc, 0, err)
        self.assertIn("sha256 " + want, out)
        card = self.server.request("GET", "/api/ringo/v1/model-versions/coreml",
                                   query={"name": model, "version": "1"}).json
        self.assertEqual(card["sha256"], want)
        coll = unique("sha-app")
        self.assertEqual(self.cli("collections", "create", coll, "--model", model)[0], 0)
        rc, dep, err = self.cli("deployments", "create", coll, "--model", model + "=1")
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.cli("channels", "promote", coll, "release", dep.strip())[0], 0)
        m = self.manifest(coll, "release", device_id="d1").json
        self.assertEqual(m["models"][0]["sha256"], want)

    def test_telemetry_and_errors(self):
        model = unique("tm")
        v1 = self.register(model, "mlmodel")
        events = [{"event": "downloaded", "model": model, "version": v1, "device_class": "iPhone"},
                  {"event": "prediction", "model": model, "version": v1, "latency_ms": 3.5, "compute_unit": "ANE"},
                  {"event": "failed", "model": model, "version": v1, "error": "compile failed"}]
        self.assertEqual(self.server.request("POST", "/api/deploy/v1/telemetry", body=events).status, 200)
        got = self.server.request("GET", "/api/ringo/v1/telemetry", query={"model": model, "version": v1}).json
        self.assertEqual([e["event"] for e in got["events"]], ["downloaded", "prediction", "failed"])
        for bad in ([{"event": "nope", "model": model, "version": v1}], [{"event": "loaded"}], {"x": 1}, "[1,"):
            r = self.server.request("POST", "/api/deploy/v1/telemetry", body=bad if isinstance(bad, str) else json.dumps(bad))
            self.assertEqual(r.status, 400, (bad, r))

        coll = unique("c")
        self.assertEqual(self.cli("collections", "create", coll, "--model", model)[0], 0)
        rc, _, err = self.cli("collections", "create", coll, "--model", model)
        self.assertEqual(rc, 1)
        self.assertIn("already exists", err)
        rc, _, err = self.cli("collections", "create", unique("c"), "--model", "no-such-model")
        self.assertEqual(rc, 1)
        rc, _, err = self.cli("deployments", "create", coll, "--model", "%s=99" % model)
        self.assertEqual(rc, 1)
        self.assertIn("not found", err)
        rc, _, err = self.cli("deployments", "create", coll, "--model", "other=1")
        self.assertEqual(rc, 1)
        rc, d1, _ = self.cli("deployments", "create", coll, "--model", "%s=%s" % (model, v1))
        d1 = d1.strip()
        # A typo in the collection is named as that, not blamed on the deployment.
        rc, _, err = self.cli("channels", "promote", "no-such-" + coll, "beta", d1)
        self.assertEqual(rc, 1)
        self.assertIn("collection 'no-such-%s' does not exist" % coll, err)
        rc, _, err = self.cli("channels", "promote", coll, "beta", d1, "--rollout", "0")
        self.assertEqual(rc, 1)
        rc, _, err = self.cli("channels", "promote", coll, "beta", d1, "--force")
        self.assertEqual(rc, 1)
        self.assertIn("reason", err)
        rc, _, err = self.cli("channels", "rollback", coll, "beta")
        self.assertEqual(rc, 1)
        self.assertEqual(self.cli("channels", "promote", coll, "beta", d1)[0], 0)
        rc, _, err = self.cli("channels", "rollback", coll, "beta")
        self.assertEqual(rc, 1)
        self.assertIn("no previous deployment", err)
        self.assertEqual(self.server.request("GET", "/api/deploy/v1/blobs/xyz").status, 400)
        self.assertEqual(self.server.request("GET", "/api/deploy/v1/blobs/" + "0" * 64).status, 404)
        self.assertEqual(self.manifest("nope", "release").status, 404)


@unittest.skipUnless(HAVE_TORCH, "needs Debian's python3-torch to make Core ML models")
class FreshManifestsAndKeyRotationTest(DeliveryCase):
    """Manifests a device can refuse when replayed or stale; signing keys rotated in two steps."""

    def signatures(self, r):
        out = {}
        for header in ("X-Ringo-Signature", "X-Ringo-Signature-Next"):
            value = r.header(header)
            if value:
                self.assertTrue(value.startswith("ed25519="), value)
                out[header] = value[len("ed25519="):]
        return out

    def test_sequence_expiry_and_rotation(self):
        model = unique("fresh")
        v1 = self.register(model, "mlmodel")
        coll = unique("fresh")
        self.assertEqual(self.cli("collections", "create", coll, "--model", model)[0], 0)
        d1 = self.cli("deployments", "create", coll, "--model", "%s=%s" % (model, v1))[1].strip()
        d2 = self.cli("deployments", "create", coll, "--model", "%s=%s" % (model, v1))[1].strip()
        seen = []
        for step in (["promote", coll, "release", d1], ["promote", coll, "release", d2],
                     ["rollback", coll, "release"]):
            rc, _, err = self.cli("channels", *step, "--reason", "test")
            self.assertEqual(rc, 0, err)
            body = self.manifest(coll, "release", device_id="phone-1").json
            seen.append(body)
            # Valid for the default week from a time no later than now.
            self.assertEqual(body["expires_at"] - body["issued_at"], 7 * 24 * 3600 * 1000)
            self.assertLessEqual(body["issued_at"], time.time() * 1000)
        self.assertEqual([b["deployment_id"] for b in seen], [d1, d2, d1])
        # The rollback is a new manifest: its sequence is above every earlier one.
        self.assertLess(seen[0]["sequence"], seen[1]["sequence"])
        self.assertLess(seen[1]["sequence"], seen[2]["sequence"])

        keys = self.server.request("GET", "/api/deploy/v1/keys").json
        old = keys["public_key"]
        self.assertNotIn("next_public_key", keys)
        before = self.manifest(coll, "release", device_id="phone-1")
        self.assertEqual(list(self.signatures(before)), ["X-Ringo-Signature"])

        rc, out, err = self.cli("deploy", "keys", "rotate")
        self.assertEqual(rc, 0, err)
        keys = self.server.request("GET", "/api/deploy/v1/keys").json
        new = keys["next_public_key"]
        self.assertEqual(keys["public_key"], old)
        self.assertIn(new, out)
        during = self.manifest(coll, "release", device_id="phone-1")
        self.assertEqual(during.body, before.body)  # same content, same ETag: devices see a 304
        sigs = self.signatures(during)
        self.assertTrue(verify_ed25519(old, during.body, sigs["X-Ringo-Signature"]))
        self.assertTrue(verify_ed25519(new, during.body, sigs["X-Ringo-Signature-Next"]))
        self.assertFalse(verify_ed25519(old, during.body, sigs["X-Ringo-Signature-Next"]))
        rc, _, err = self.cli("deploy", "keys", "rotate")
        self.assertNotEqual(rc, 0)
        self.assertIn("already under way", err)
        # Devices keep working during the rotation with the key they were built with.
        self.assertEqual(set(self.simulate(coll, "release", 3, "dev-").values()), {d1})

        rc, out, err = self.cli("deploy", "keys", "rotate", "--finish")
        self.assertEqual(rc, 0, err)
        keys = self.server.request("GET", "/api/deploy/v1/keys").json
        self.assertEqual(keys, {"algorithm": "Ed25519", "public_key": new})
        after = self.manifest(coll, "release", device_id="phone-1")
        sigs = self.signatures(after)
        self.assertEqual(list(sigs), ["X-Ringo-Signature"])
        self.assertTrue(verify_ed25519(new, after.body, sigs["X-Ringo-Signature"]))
        rc, _, err = self.cli("deploy", "keys", "rotate", "--finish")
        self.assertNotEqual(rc, 0)
        self.assertIn("no key rotation is under way", err)

        # A restart keeps the new key (the key file beside the blobs followed the rotation).
        self.assertEqual(self.server.stop(), 0)
        self.server.start()
        self.assertEqual(self.server.request("GET", "/api/deploy/v1/keys").json["public_key"], new)

    def test_manifest_lifetime_is_bounded(self):
        p = subprocess.run([ringo_bin(), "server", "--manifest-lifetime", "5", "--port", "0"],
                           capture_output=True, text=True, timeout=30)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("--manifest-lifetime", p.stderr)


if __name__ == "__main__":
    unittest.main()
