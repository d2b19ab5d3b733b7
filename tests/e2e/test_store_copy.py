"""`ringo store copy`: a store made by one server on SQLite + local files is copied to
PostgreSQL + S3 (and to another store directory) and served from there by a new server as it
was: runs, histories, artifacts, registry, deployments signed with the same key and their blobs.
A second run is refused without --resume and finds everything copied with it; bad arguments are
refused with a clear error."""

import hashlib
import os
import shutil
import subprocess
import tempfile
import unittest

import private_postgres
import private_s3
from harness import Server, make_core_ml_models, ringo_bin, unique

HAVE_TORCH = subprocess.run(["/usr/bin/python3", "-c", "import torch"],
                            capture_output=True).returncode == 0


def ringo(*args, env=None):
    return subprocess.run([ringo_bin()] + list(args), capture_output=True, text=True,
                          env=dict(os.environ, **(env or {})))


class StoreCopyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="ringo-copy-e2e-")
        cls.pg = private_postgres.PrivatePostgres()
        cls.s3 = private_s3.PrivateS3()
        try:
            cls.pg.start()
            cls.s3.start()
            cls.make_source()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.s3.stop()
        cls.pg.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def make_source(cls):
        """A store with an experiment, a run with a long history and artifacts, and (with
        PyTorch) a registered Core ML model deployed to a channel."""
        cls.src = os.path.join(cls.tmp, "src")
        s = Server(store=cls.src, extra_args=["--backend-store-uri",
                                              "sqlite:///" + os.path.join(cls.src, "ringo.db")])
        s.start()
        try:
            eid = s.api("POST", "experiments/create", {"name": "ios"}).json["experiment_id"]
            run = s.api("POST", "runs/create", {"experiment_id": eid}).json["run"]["info"]
            cls.run_id = run["run_id"]
            for first in range(0, 3000, 1000):
                metrics = [{"key": "loss", "value": 1.0 / (i + 1), "timestamp": i, "step": i}
                           for i in range(first, first + 1000)]
                s.api("POST", "runs/log-batch", {"run_id": cls.run_id, "metrics": metrics})
            cls.artifact = "%s/%s/artifacts/data/weights.bin" % (eid, cls.run_id)
            cls.artifact_bytes = os.urandom(3 << 20)
            r = s.request("PUT", "/api/2.0/mlflow-artifacts/artifacts/" + cls.artifact,
                          body=cls.artifact_bytes)
            assert r.status == 200, r
            cls.collection = None
            if HAVE_TORCH:
                cls.make_deployment(s)
            cls.key = s.request("GET", "/api/deploy/v1/keys").json["public_key"]
        finally:
            s.stop()
            s.cleanup()

    @classmethod
    def make_deployment(cls, s):
        def cli(*args):
            p = ringo(*args, "--tracking-uri", s.url)
            assert p.returncode == 0, p.stderr
            return p.stdout
        d = os.path.join(cls.tmp, "models")
        os.makedirs(d)
        files = make_core_ml_models(d)
        cls.model, cls.collection = unique("m"), unique("app")
        out = cli("models", "register", files["mlpackage"], "--name", cls.model)
        version = out.split("version ")[1].split()[0]
        cli("collections", "create", cls.collection, "--model", cls.model)
        dep = cli("deployments", "create", cls.collection, "--model",
                  "%s=%s" % (cls.model, version)).strip()
        cli("channels", "promote", cls.collection, "release", dep)

    def copy(self, *extra):
        return ringo("store", "copy", "--from", self.src, "--to", self.pg.uri,
                     "--artifacts-to", "s3://%s/team" % private_s3.BUCKET,
                     "--s3-endpoint-url", self.s3.endpoint, *extra, env=self.s3.env)

    def test_1_copied_store_is_served_from_postgres_and_s3(self):
        p = self.copy()
        self.assertEqual(p.returncode, 0, p.stderr + p.stdout)
        self.assertIn("rows verified", p.stdout)
        self.assertIn("artifacts: ", p.stdout)
        s = Server(extra_args=["--backend-store-uri", self.pg.uri,
                               "--artifacts-destination", "s3://%s/team" % private_s3.BUCKET],
                   env=self.s3.env)
        s.start()
        try:
            run = s.api("GET", "runs/get", query={"run_id": self.run_id})
            self.assertEqual(run.status, 200, run)
            hist = s.api("GET", "metrics/get-history",
                         query={"run_id": self.run_id, "metric_key": "loss"}).json["metrics"]
            self.assertEqual(len(hist), 3000)
            self.assertEqual(hist[2999]["value"], 1.0 / 3000)
            got = s.request("GET", "/api/2.0/mlflow-artifacts/artifacts/" + self.artifact)
            self.assertEqual(got.status, 200)
            self.assertEqual(hashlib.sha256(got.body).hexdigest(),
                             hashlib.sha256(self.artifact_bytes).hexdigest())
            # The devices' trusted key is the same, and they are served as before.
            self.assertEqual(s.request("GET", "/api/deploy/v1/keys").json["public_key"], self.key)
            if self.collection:
                path = "/api/deploy/v1/collections/%s/channels/release/manifest" % self.collection
                m = s.request("GET", path, query={"device_id": "phone-1"})
                self.assertEqual(m.status, 200, m)
                entry = m.json["models"][0]
                blob = s.request("GET", entry["url"])
                self.assertEqual(blob.status, 200, blob)
                self.assertEqual(hashlib.sha256(blob.body).hexdigest(), entry["sha256"])
            # The new engine goes on numbering where the old one stopped.
            eid = s.api("POST", "experiments/create", {"name": unique("after")}).json
            self.assertNotIn(eid["experiment_id"], ("0", "1"))
        finally:
            s.stop()
            s.cleanup()

    def test_2_to_a_store_directory_then_again_with_resume(self):
        dst = os.path.join(self.tmp, "dst")
        p = ringo("store", "copy", "--from", self.src, "--to", dst)
        self.assertEqual(p.returncode, 0, p.stderr)
        if self.collection:
            self.assertIn("deployment blobs: ", p.stdout)
            self.assertNotIn("not copied", p.stdout)
        p = ringo("store", "copy", "--from", self.src, "--to", dst)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("already holds data", p.stderr)
        p = ringo("store", "copy", "--from", self.src, "--to", dst, "--resume")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("tables already equal", p.stdout)
        self.assertIn("already there", p.stdout)
        s = Server(store=dst)
        s.start()
        try:
            self.assertEqual(s.request("GET", "/api/deploy/v1/keys").json["public_key"], self.key)
            got = s.request("GET", "/api/2.0/mlflow-artifacts/artifacts/" + self.artifact)
            self.assertEqual(got.body, self.artifact_bytes)
            if self.collection:
                path = "/api/deploy/v1/collections/%s/channels/release/manifest" % self.collection
                entry = s.request("GET", path, query={"device_id": "p"}).json["models"][0]
                self.assertEqual(s.request("GET", entry["url"]).status, 200)
        finally:
            s.stop()
            s.cleanup()

    def test_bad_arguments_name_the_problem(self):
        p = ringo("store", "copy", "--from", os.path.join(self.tmp, "nothing"), "--to", self.pg.uri)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("holds no store", p.stderr)
        p = ringo("store", "copy", "--from", "mysql://x/y", "--to", self.pg.uri)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("is not a store", p.stderr)
        p = ringo("store", "copy", "--from", self.src, "--to", "postgresql://127.0.0.1:1/none")
        self.assertNotEqual(p.returncode, 0)
        p = ringo("store", "copy", "--from", self.src, "--to", self.pg.uri, "--chunk-rows", "1")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("--chunk-rows", p.stderr)


if __name__ == "__main__":
    unittest.main()
