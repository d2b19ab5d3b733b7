"""`ringo store backup` while the server takes writes, and `ringo store restore`: the restored
store holds every write acknowledged before the backup began, the artifacts and the signing key,
and a restore never overwrites a store."""

import os
import subprocess
import tempfile
import threading
import time
import unittest

from harness import API, ARTIFACTS, Server, ringo_bin
from private_postgres import BINDIR, PrivatePostgres


class BackupRestoreTest(unittest.TestCase):
    def seed(self, src):
        """A run with an artifact on `src`: its id, its artifact path, the signing key."""
        run = src.api("POST", "runs/create", {"experiment_id": "0"}).json["run"]
        rel = run["info"]["artifact_uri"].split(":", 1)[1].strip("/")
        put = src.request("PUT", ARTIFACTS + "/" + rel + "/model/notes.txt", body=b"kept")
        self.assertEqual(put.status, 200, put)
        key = src.request("GET", "/api/deploy/v1/keys").json["public_key"]
        return run["info"]["run_id"], rel, key

    def check_seeded(self, dst, rel, key):
        """The artifact and the signing key `seed` left, on a restored server."""
        art = dst.request("GET", ARTIFACTS + "/" + rel + "/model/notes.txt")
        self.assertEqual((art.status, art.body), (200, b"kept"))
        self.assertEqual(dst.request("GET", "/api/deploy/v1/keys").json["public_key"], key)

    def test_backup_under_load_restores_every_acknowledged_write(self):
        with tempfile.TemporaryDirectory() as d:
            src = Server(store=os.path.join(d, "live"))
            src.start()
            try:
                rid, rel, key = self.seed(src)
                acked, stop = [], threading.Event()

                def load():
                    step = 0
                    while not stop.is_set():
                        r = src.api("POST", "runs/log-metric", {"run_id": rid, "key": "loss", "value": step,
                                                                "timestamp": 1000 + step, "step": step})
                        if r.status == 200:
                            acked.append(step)
                        step += 1

                t = threading.Thread(target=load)
                t.start()
                while len(acked) < 200:
                    time.sleep(0.01)
                before = list(acked)
                backup = os.path.join(d, "backup")
                p = subprocess.run([ringo_bin(), "store", "backup", backup, "--store", src.store],
                                   capture_output=True, text=True, timeout=120)
                time.sleep(0.2)
                stop.set()
                t.join()
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertIn("backed up", p.stdout)
                self.assertGreater(len(acked), len(before))  # writes went on during the backup
            finally:
                src.stop()
                src.cleanup()

            restored = os.path.join(d, "restored")
            p = subprocess.run([ringo_bin(), "store", "restore", backup, "--store", restored],
                               capture_output=True, text=True, timeout=120)
            self.assertEqual(p.returncode, 0, p.stderr)
            again = subprocess.run([ringo_bin(), "store", "restore", backup, "--store", restored],
                                   capture_output=True, text=True, timeout=120)
            self.assertEqual(again.returncode, 1)
            self.assertIn("never overwritten", again.stderr)

            dst = Server(store=restored)
            dst.start()
            try:
                hist = dst.api("GET", "metrics/get-history", query={"run_id": rid, "metric_key": "loss"}).json
                steps = {int(m["step"]) for m in hist.get("metrics", [])}
                missing = [s for s in before if s not in steps]
                self.assertEqual(missing, [], "acknowledged before the backup, missing after restore")
                self.check_seeded(dst, rel, key)
            finally:
                dst.stop()
                dst.cleanup()

    def test_postgres_is_backed_up_with_pg_dump_as_the_readme_says(self):
        """On PostgreSQL the database's own tools are the backup: pg_dump while the server writes,
        pg_restore into a new database, and a server on it has every write acknowledged before
        the dump began, the artifact (copied from --store after the dump), and the signing key."""
        pg = PrivatePostgres()
        pg.start()
        with tempfile.TemporaryDirectory() as d:
            src = Server(store=os.path.join(d, "live"), extra_args=["--backend-store-uri", pg.uri])
            src.start()
            try:
                rid, rel, key = self.seed(src)
                for step in range(50):
                    r = src.api("POST", "runs/log-metric", {"run_id": rid, "key": "loss", "value": step,
                                                            "timestamp": 1000 + step, "step": step})
                    self.assertEqual(r.status, 200, r)
                dump = os.path.join(d, "ringo.dump")
                subprocess.run([os.path.join(BINDIR, "pg_dump"), "--format=custom", "--file", dump, pg.uri],
                               check=True, capture_output=True, timeout=120)
                after = src.api("POST", "runs/log-metric", {"run_id": rid, "key": "later", "value": 1,
                                                            "timestamp": 5000, "step": 0})
                self.assertEqual(after.status, 200, after)
                restored_store = os.path.join(d, "restored")
                os.makedirs(restored_store)
                subprocess.run(["cp", "-a", os.path.join(src.store, "artifacts"), restored_store], check=True)
            finally:
                src.stop()
                src.cleanup()
            target = pg.uri.rsplit("/", 1)[0] + "/restored"
            subprocess.run([os.path.join(BINDIR, "createdb"), "-h", "127.0.0.1", "-p", str(pg.port), "-U",
                            "ringo", "restored"], check=True, capture_output=True, timeout=60)
            subprocess.run([os.path.join(BINDIR, "pg_restore"), "--no-owner", "--dbname", target, dump],
                           check=True, capture_output=True, timeout=120)
            dst = Server(store=restored_store, extra_args=["--backend-store-uri", target])
            dst.start()
            try:
                hist = dst.api("GET", "metrics/get-history", query={"run_id": rid, "metric_key": "loss"}).json
                self.assertEqual(sorted(int(m["step"]) for m in hist["metrics"]), list(range(50)))
                later = dst.api("GET", "metrics/get-history", query={"run_id": rid, "metric_key": "later"}).json
                self.assertEqual(later.get("metrics", []), [])  # written after the dump began
                self.check_seeded(dst, rel, key)
            finally:
                dst.stop()
                dst.cleanup()
                pg.stop()

    def test_bad_sources_and_destinations_are_refused(self):
        with tempfile.TemporaryDirectory() as d:
            empty = os.path.join(d, "empty")
            os.makedirs(empty)
            p = subprocess.run([ringo_bin(), "store", "restore", empty, "--store", os.path.join(d, "x")],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 1)
            self.assertIn("does not open", p.stderr)
            with open(os.path.join(empty, "ringo.db"), "wb") as f:
                f.write(b"not a database" * 100)
            p = subprocess.run([ringo_bin(), "store", "restore", empty, "--store", os.path.join(d, "x")],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 1)
            self.assertFalse(os.path.exists(os.path.join(d, "x", "ringo.db")))
            p = subprocess.run([ringo_bin(), "store", "backup", os.path.join(d, "b"), "--store", os.path.join(d, "none")],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 1)
            self.assertIn("no database", p.stderr)


if __name__ == "__main__":
    unittest.main()
