"""The device SDK against the real server: install, update on promote, fall back, resume a killed
download. Drives tests/device/device_tool (a CLI device) and the ringo CLI."""

import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))

from harness import ServerTestCase, ringo_bin, unique  # noqa: E402

HAVE_TORCH = subprocess.run(["/usr/bin/python3", "-c", "import torch"], capture_output=True).returncode == 0


def device_tool():
    path = os.environ.get("DEVICE_TOOL")
    if not path:
        raise unittest.SkipTest("DEVICE_TOOL is not set (ctest sets it to the built device_tool)")
    return path


@unittest.skipUnless(HAVE_TORCH, "needs Debian's python3-torch to make Core ML models")
class DeviceE2ETest(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        device_tool()
        super().setUpClass()
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.tmp.name
        subprocess.run(["/usr/bin/python3", os.path.join(HERE, "..", "coreml", "export_models.py"), d, "mlp"],
                       check=True, capture_output=True)
        cls.files = {}
        for ext in ("mlmodel", "mlpackage"):
            out = os.path.join(d, "m." + ext)
            subprocess.run([ringo_bin(), "convert", os.path.join(d, "mlp.onnx"), "-o", out], check=True,
                           capture_output=True)
            cls.files[ext] = out

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()
        super().tearDownClass()

    def cli(self, *args):
        p = subprocess.run([ringo_bin()] + list(args) + ["--tracking-uri", self.server.url],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, (args, p.stderr))
        return p.stdout.strip()

    def device(self, storage, *args, expect_rc=None, extra=()):
        cmd = [device_tool(), "--server", self.server.url, "--dir", storage, "--collection", self.coll,
               "--channel", "release", "--key", self.key, "--device-id", "e2e-phone"] + list(extra) + list(args)
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if expect_rc is not None:
            self.assertEqual(p.returncode, expect_rc, (args, p.stdout, p.stderr))
        return json.loads(p.stdout) if p.stdout.strip() else None

    def test_install_update_fallback_and_resume(self):
        self.key = self.server.request("GET", "/api/deploy/v1/keys").json["public_key"]
        model = unique("digits")
        v1 = self.cli("models", "register", self.files["mlmodel"], "--name", model).split("version ")[1].split()[0]
        v2 = self.cli("models", "register", self.files["mlpackage"], "--name", model).split("version ")[1].split()[0]
        self.coll = unique("app")
        self.cli("collections", "create", self.coll, "--model", model)
        d1 = self.cli("deployments", "create", self.coll, "--model", "%s=%s" % (model, v1))
        d2 = self.cli("deployments", "create", self.coll, "--model", "%s=%s" % (model, v2))
        storage = os.path.join(self.tmp.name, "phone")

        # Nothing promoted yet: no update, nothing installed.
        r = self.device(storage, "check", expect_rc=0)
        self.assertEqual((r["status"], r["deployment_id"]), ("RINGO_NO_UPDATE", ""))
        self.assertEqual(self.device(storage, "path", model, expect_rc=1)["status"], "RINGO_ERR_NOT_FOUND")

        # Deployment 1 (an .mlmodel) is installed byte for byte.
        self.cli("channels", "promote", self.coll, "release", d1, "--reason", "first")
        r = self.device(storage, "check", expect_rc=0)
        self.assertEqual((r["status"], r["changed"], r["deployment_id"]), ("RINGO_OK", 1, d1))
        p = self.device(storage, "path", model, expect_rc=0)
        self.assertEqual(p["version"], v1)
        self.assertTrue(p["path"].endswith(".mlmodel"), p)
        with open(p["path"], "rb") as a, open(self.files["mlmodel"], "rb") as b:
            self.assertEqual(a.read(), b.read())
        self.assertEqual(self.device(storage, "check", expect_rc=0)["status"], "RINGO_NO_UPDATE")

        # Promoting deployment 2 (an .mlpackage) reaches the device; 1 is kept for fallback.
        self.cli("channels", "promote", self.coll, "release", d2, "--reason", "second")
        r = self.device(storage, "check", expect_rc=0)
        self.assertEqual((r["status"], r["deployment_id"], r["previous_deployment_id"]), ("RINGO_OK", d2, d1))
        p = self.device(storage, "path", model, expect_rc=0)
        self.assertEqual(p["version"], v2)
        self.assertTrue(p["path"].endswith(".mlpackage"), p)
        self.assertTrue(os.path.isfile(os.path.join(p["path"], "Manifest.json")))
        for root, _, files in os.walk(self.files["mlpackage"]):
            for f in files:
                rel = os.path.relpath(os.path.join(root, f), self.files["mlpackage"])
                with open(os.path.join(root, f), "rb") as a, open(os.path.join(p["path"], rel), "rb") as b:
                    self.assertEqual(a.read(), b.read(), rel)

        # Core ML failed to compile it on this device: back to 1, and 2 is never installed again.
        r = self.device(storage, "fail", model, "compile failed", expect_rc=0)
        self.assertEqual(r["deployment_id"], d1)
        self.assertEqual(self.device(storage, "path", model, expect_rc=0)["version"], v1)
        r = self.device(storage, "check", expect_rc=0)
        self.assertEqual((r["status"], r["deployment_id"]), ("RINGO_NO_UPDATE", d1))

        # Telemetry reaches the server: two downloads and the failure.
        r = self.device(storage, "flush", expect_rc=0)
        self.assertEqual((r["sent"], r["pending"]), (3, 0))
        events = self.server.request("GET", "/api/ringo/v1/telemetry", query={"model": model, "version": v2}).json
        self.assertEqual([e["event"] for e in events["events"]], ["downloaded", "failed"])
        self.assertEqual(events["events"][1]["error"], "compile failed")

        # A device killed in the middle of a download resumes where it stopped.
        fresh = os.path.join(self.tmp.name, "killed")
        p = subprocess.run([device_tool(), "--server", self.server.url, "--dir", fresh, "--collection", self.coll,
                            "--channel", "release", "--key", self.key, "--die-after-bytes", "3000", "check"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, -9, p)
        parts = [f for f in os.listdir(os.path.join(fresh, "blobs")) if f.endswith(".part")]
        self.assertEqual(len(parts), 1)
        self.assertEqual(os.path.getsize(os.path.join(fresh, "blobs", parts[0])), 3000)
        self.assertFalse(os.path.exists(os.path.join(fresh, "current")))
        manifest = self.server.request("GET", "/api/deploy/v1/collections/%s/channels/release/manifest" % self.coll).json
        size = manifest["models"][0]["size"]
        self.assertGreater(size, 3000)
        r = self.device(fresh, "check", expect_rc=0)
        self.assertEqual((r["status"], r["deployment_id"]), ("RINGO_OK", d2))
        self.assertEqual(r["bytes_downloaded"], size - 3000)
        self.assertTrue(self.device(fresh, "path", model, expect_rc=0)["path"].endswith(".mlpackage"))

        # A device configured with another key accepts nothing and keeps its model.
        other = os.path.join(self.tmp.name, "otherkey")
        self.key, good = "A" * 43 + "=", self.key
        r = self.device(other, "check", expect_rc=1)
        self.assertEqual(r["status"], "RINGO_ERR_SIGNATURE")
        self.key = good


if __name__ == "__main__":
    unittest.main()
