"""Several ringo servers as replicas of one team deployment: one PostgreSQL, one S3 bucket, each
server with a store directory of its own. What one replica writes, the others serve: runs,
artifacts, registered models, deployments (signed with the same key, blobs from the bucket) and
long-polls woken by a change made on another replica."""

import hashlib
import json
import os
import subprocess
import tempfile
import threading
import time
import unittest

import private_postgres
import private_s3
from harness import Receiver, Server, make_core_ml_models, ringo_bin, unique
from test_deploy import verify_ed25519

HAVE_TORCH = subprocess.run(["/usr/bin/python3", "-c", "import torch"], capture_output=True).returncode == 0


class ReplicasTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg = private_postgres.PrivatePostgres()
        cls.s3 = private_s3.PrivateS3()
        cls.servers = []
        try:
            cls.pg.start()
            cls.s3.start()
            cls.a = cls.replica()
            cls.b = cls.replica()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def replica(cls, store=None, start=True):
        s = Server(store=store, env=cls.s3.env, extra_args=[
            "--backend-store-uri", cls.pg.uri,
            "--artifacts-destination", "s3://%s/team" % private_s3.BUCKET])
        cls.servers.append(s)
        if start:
            s.start()
        return s

    @classmethod
    def tearDownClass(cls):
        for s in cls.servers:
            s.cleanup()
        cls.s3.stop()
        cls.pg.stop()

    def cli(self, server, *args):
        p = subprocess.run([ringo_bin()] + list(args) + ["--tracking-uri", server.url],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout

    def test_runs_and_artifacts_written_on_one_are_served_by_the_other(self):
        eid = self.a.api("POST", "experiments/create", {"name": unique("team")}).json["experiment_id"]
        run = self.a.api("POST", "runs/create", {"experiment_id": eid}).json["run"]["info"]
        rel = "%s/%s/artifacts/notes/readme.txt" % (eid, run["run_id"])
        r = self.a.request("PUT", "/api/2.0/mlflow-artifacts/artifacts/" + rel, body=b"shared bytes")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(os.path.exists(self.s3.object_path("team/" + rel)))
        self.assertEqual(self.b.api("GET", "runs/get", query={"run_id": run["run_id"]}).status, 200)
        got = self.b.request("GET", "/api/2.0/mlflow-artifacts/artifacts/" + rel)
        self.assertEqual((got.status, got.body), (200, b"shared bytes"))
        ranged = self.b.request("GET", "/api/2.0/mlflow-artifacts/artifacts/" + rel,
                                headers={"Range": "bytes=7-11"})
        self.assertEqual((ranged.status, ranged.body), (206, b"bytes"))
        # Overwritten through B, read again through A: the new bytes, not A's cached copy.
        self.a.request("GET", "/api/2.0/mlflow-artifacts/artifacts/" + rel)
        self.b.request("PUT", "/api/2.0/mlflow-artifacts/artifacts/" + rel, body=b"second version")
        self.assertEqual(self.a.request("GET", "/api/2.0/mlflow-artifacts/artifacts/" + rel).body,
                         b"second version")
        # Metrics from both replicas land in the one run.
        for i, s in enumerate((self.a, self.b, self.a, self.b)):
            self.assertEqual(s.api("POST", "runs/log-metric", {
                "run_id": run["run_id"], "key": "loss", "value": float(i), "timestamp": i, "step": i}).status, 200)
        hist = self.a.api("GET", "metrics/get-history", query={"run_id": run["run_id"], "metric_key": "loss"}).json
        self.assertEqual([m["step"] for m in hist["metrics"]], [0, 1, 2, 3])

    @unittest.skipUnless(HAVE_TORCH, "needs Debian's python3-torch to make Core ML models")
    def test_a_deployment_made_on_one_is_delivered_by_the_other(self):
        with tempfile.TemporaryDirectory() as d:
            files = make_core_ml_models(d)
            model, coll = unique("m"), unique("app")
            out = self.cli(self.a, "models", "register", files["mlpackage"], "--name", model)
            v1 = out.split("version ")[1].split()[0]
            out = self.cli(self.a, "models", "register", files["mlmodel"], "--name", model)
            v2 = out.split("version ")[1].split()[0]
        self.cli(self.a, "collections", "create", coll, "--model", model)
        d1 = self.cli(self.a, "deployments", "create", coll, "--model", "%s=%s" % (model, v1)).strip()
        d2 = self.cli(self.a, "deployments", "create", coll, "--model", "%s=%s" % (model, v2)).strip()
        self.cli(self.a, "channels", "promote", coll, "release", d1)

        # One signing key for the team.
        key_a = self.a.request("GET", "/api/deploy/v1/keys").json["public_key"]
        self.assertEqual(self.b.request("GET", "/api/deploy/v1/keys").json["public_key"], key_a)
        path = "/api/deploy/v1/collections/%s/channels/release/manifest" % coll
        r = self.b.request("GET", path, query={"device_id": "phone-1"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["deployment_id"], d1)
        sig = r.header("X-Ringo-Signature")[len("ed25519="):]
        self.assertTrue(verify_ed25519(key_a, r.body, sig))
        # B never packed this deployment: the blob comes from the bucket.
        entry = r.json["models"][0]
        blob = self.b.request("GET", entry["url"])
        self.assertEqual(blob.status, 200, blob)
        self.assertEqual(hashlib.sha256(blob.body).hexdigest(), entry["sha256"])

        # A device long-polling B hears of a promotion made on A.
        etag = r.header("ETag")
        result = {}

        def poll():
            result["r"] = self.b.request("GET", path, query={"device_id": "phone-1", "wait": "20"},
                                         headers={"If-None-Match": etag}, timeout=30)
            result["t"] = time.monotonic()

        t = threading.Thread(target=poll)
        t.start()
        time.sleep(0.5)
        promoted = time.monotonic()
        self.cli(self.a, "channels", "promote", coll, "release", d2)
        t.join(30)
        self.assertEqual(result["r"].status, 200, result["r"])
        self.assertEqual(result["r"].json["deployment_id"], d2)
        self.assertLess(result["t"] - promoted, 1.0)

    def test_a_cron_slot_fires_on_one_replica_only(self):
        # Both replicas run their scheduler and see the schedule; each slot is claimed once.
        from test_schedules import make_project
        project = make_project(os.path.join(self.a.workdir, "proj"), "true")
        exp, name = unique("sched"), unique("every-minute")
        self.cli(self.a, "schedules", "create", name, "--project", project, "--cron", "* * * * *",
                 "--experiment-name", exp)
        deadline = time.monotonic() + 80
        firings = []
        while time.monotonic() < deadline:
            firings = self.b.request("GET", "/api/ringo/v1/schedules/" + name).json["firings"]
            if any(f["outcome"] == "finished" for f in firings):
                break
            time.sleep(0.5)
        self.cli(self.b, "schedules", "pause", name)
        firings = self.a.request("GET", "/api/ringo/v1/schedules/" + name).json["firings"]
        started = [f["slot"] for f in firings if f["outcome"] == "started"]
        self.assertGreaterEqual(len(started), 1, firings)
        self.assertEqual(len(set(started)), len(started), "a slot fired twice: %s" % firings)
        eid = self.a.api("GET", "experiments/get-by-name", query={"experiment_name": exp}).json[
            "experiment"]["experiment_id"]
        runs = self.b.api("POST", "runs/search", {"experiment_ids": [eid]}).json.get("runs", [])
        self.assertEqual(len(runs), len(started))

    def test_a_replica_with_another_signing_key_is_refused(self):
        c = self.replica(start=False)
        os.makedirs(os.path.join(c.store, "deploy"), exist_ok=True)
        subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out",
                        os.path.join(c.store, "deploy", "deploy_key.pem")], check=True)
        # Make sure the team's key exists (the first replicas created it at start).
        self.assertEqual(self.a.request("GET", "/api/deploy/v1/keys").status, 200)
        with self.assertRaises(Exception):
            c.start()
        self.assertIn("differs from the one the store holds", c.stderr_tail() + "\n".join(c._stdout_lines))

    @unittest.skipUnless(HAVE_TORCH, "needs Debian's python3-torch to make Core ML models")
    def test_blob_redirect_sends_devices_to_the_bucket(self):
        with tempfile.TemporaryDirectory() as d:
            files = make_core_ml_models(d)
            model, coll = unique("m"), unique("app")
            out = self.cli(self.a, "models", "register", files["mlpackage"], "--name", model)
            version = out.split("version ")[1].split()[0]
        self.cli(self.a, "collections", "create", coll, "--model", model)
        dep = self.cli(self.a, "deployments", "create", coll, "--model",
                       "%s=%s" % (model, version)).strip()
        self.cli(self.a, "channels", "promote", coll, "release", dep)
        c = Server(env=self.s3.env, extra_args=[
            "--backend-store-uri", self.pg.uri,
            "--artifacts-destination", "s3://%s/team" % private_s3.BUCKET,
            "--blob-redirect", "60"])
        self.servers.append(c)
        c.start()
        path = "/api/deploy/v1/collections/%s/channels/release/manifest" % coll
        entry = c.request("GET", path, query={"device_id": "p"}).json["models"][0]
        r = c.request("GET", entry["url"])
        self.assertEqual(r.status, 302, r)
        self.assertEqual(r.header("Cache-Control"), "no-store")
        location = r.header("Location")
        self.assertTrue(location.startswith(self.s3.endpoint + "/"), location)
        # The presigned URL needs no credentials; the bytes are the manifest's.
        import urllib.request
        with urllib.request.urlopen(location, timeout=10) as got:
            self.assertEqual(hashlib.sha256(got.read()).hexdigest(), entry["sha256"])
        # The device SDK follows it and installs the model.
        p = subprocess.run([ringo_bin(), "device", "simulate", "--tracking-uri", c.url,
                            "--collection", coll, "--channel", "release", "--count", "2", "--json"],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr + p.stdout[-500:])
        devices = json.loads(p.stdout)["devices"]
        self.assertEqual({x["deployment_id"] for x in devices}, {dep})
        # A malformed digest is still refused, and a server without redirects serves bytes.
        self.assertEqual(c.request("GET", "/api/deploy/v1/blobs/nothex").status, 400)
        self.assertEqual(self.b.request("GET", entry["url"]).status, 200)
        # Redirects need an object store.
        local = Server(extra_args=["--blob-redirect", "60"])
        self.servers.append(local)
        with self.assertRaises(Exception):
            local.start()
        self.assertIn("blob redirects need artifacts in an object store",
                      local.stderr_tail() + "\n".join(local._stdout_lines))


if __name__ == "__main__":
    unittest.main()


class ReplicaFaultsTest(unittest.TestCase):
    """Faults of a team deployment: a replica killed under load, the object store gone."""

    def setUp(self):
        self.pg = private_postgres.PrivatePostgres()
        self.s3 = private_s3.PrivateS3()
        self.servers = []
        self.pg.start()
        self.s3.start()
        for _ in range(2):
            s = Server(env=self.s3.env, extra_args=[
                "--backend-store-uri", self.pg.uri,
                "--artifacts-destination", "s3://%s/team" % private_s3.BUCKET])
            self.servers.append(s)
            s.start()

    def tearDown(self):
        for s in self.servers:
            s.cleanup()
        self.s3.stop()
        self.pg.stop()

    def test_every_acknowledged_batch_survives_a_killed_replica(self):
        a, b = self.servers
        eid = a.api("POST", "experiments/create", {"name": unique("kill")}).json["experiment_id"]
        run_id = a.api("POST", "runs/create", {"experiment_id": eid}).json["run"]["info"]["run_id"]
        acked = []
        lock = threading.Lock()

        def writer(worker):
            # Spreads batches over both replicas, as a load balancer would; keeps what was acked.
            for i in range(200):
                server = (a, b)[(i + worker) % 2]
                step = worker * 1000 + i
                batch = {"run_id": run_id, "metrics": [
                    {"key": "m", "value": float(step), "timestamp": step, "step": step}]}
                try:
                    r = server.api("POST", "runs/log-batch", batch)
                except OSError:
                    continue
                if r.status == 200:
                    with lock:
                        acked.append(step)

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.3)
        b.kill()
        for t in threads:
            t.join(60)
        hist = a.api("GET", "metrics/get-history", query={"run_id": run_id, "metric_key": "m"}).json
        stored = {int(m["step"]) for m in hist.get("metrics", [])}
        self.assertGreater(len(acked), 100)
        self.assertEqual(sorted(set(acked) - stored), [])

    def test_object_store_down_fails_artifact_calls_only(self):
        a = self.servers[0]
        eid = a.api("POST", "experiments/create", {"name": unique("s3down")}).json["experiment_id"]
        run_id = a.api("POST", "runs/create", {"experiment_id": eid}).json["run"]["info"]["run_id"]
        rel = "%s/%s/artifacts/x.txt" % (eid, run_id)
        self.assertEqual(a.request("PUT", "/api/2.0/mlflow-artifacts/artifacts/" + rel, body=b"x").status, 200)
        self.s3.proc.kill()
        self.s3.proc.wait()
        for method, body in (("GET", None), ("PUT", b"y")):
            r = a.request(method, "/api/2.0/mlflow-artifacts/artifacts/" + rel, body=body, timeout=30)
            self.assertEqual(r.status, 503, r)
            self.assertEqual(r.json["error_code"], "TEMPORARILY_UNAVAILABLE")
        r = a.request("GET", "/api/2.0/mlflow-artifacts/artifacts", query={"path": "%s/%s" % (eid, run_id)})
        self.assertEqual(r.status, 503, r)
        # Metadata keeps working.
        self.assertEqual(a.api("POST", "runs/log-metric", {
            "run_id": run_id, "key": "k", "value": 1.0, "timestamp": 1, "step": 0}).status, 200)
        self.assertEqual(a.api("GET", "runs/get", query={"run_id": run_id}).status, 200)

    def hook(self, receiver):
        r = self.servers[0].api("POST", "webhooks", {
            "name": unique("hook").replace("_", "-"), "url": receiver.url,
            "events": [{"entity": "REGISTERED_MODEL", "action": "CREATED"}]})
        self.assertEqual(r.status, 200, r)

    def test_each_webhook_event_is_delivered_once_by_one_replica(self):
        receiver = Receiver()
        self.addCleanup(receiver.close)
        self.hook(receiver)
        names = [unique("model") for _ in range(6)]
        for i, name in enumerate(names):
            server = self.servers[i % 2]
            self.assertEqual(server.api("POST", "registered-models/create", {"name": name}).status, 200)
        got = receiver.wait_for(len(names), 15)
        time.sleep(2.5)  # room for a duplicate to arrive
        delivered = [json.loads(body)["data"]["name"] for _, body in receiver.received]
        self.assertEqual(sorted(delivered), sorted(names), got)

    def test_a_pending_delivery_survives_its_replica_stopping(self):
        # The first attempt fails; the replica that claimed the event stops before its retry;
        # the other replica takes the event over from the outbox and delivers it.
        receiver = Receiver(fail_first=1)
        self.addCleanup(receiver.close)
        self.hook(receiver)
        a, b = self.servers
        name = unique("model")
        self.assertEqual(a.api("POST", "registered-models/create", {"name": name}).status, 200)
        deadline = time.monotonic() + 10
        while receiver.attempts < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(receiver.attempts, 1)
        a.stop()
        got = receiver.wait_for(1, 15)
        time.sleep(2.5)
        self.assertEqual([json.loads(body)["data"]["name"] for _, body in receiver.received], [name], got)
