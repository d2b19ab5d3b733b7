"""Crash durability of `ringo server`: whatever it acknowledged with 200 survives a SIGKILL."""

import json
import threading
import time
import unittest

from harness import API, Server, kv, metric_value

THREADS = 3
METRICS_PER_BATCH = 200
MIN_ACKED_BATCHES = 30
LOAD_TIMEOUT = 60.0


class DurabilityTest(unittest.TestCase):
    def setUp(self):
        self.server = Server()
        self.addCleanup(self.server.cleanup)
        self.server.start()

    def _create_run(self):
        r = self.server.api("POST", "runs/create", {"experiment_id": "0", "run_name": "durable"})
        self.assertEqual(r.status, 200, r)
        return r.json["run"]["info"]["run_id"]

    def test_acknowledged_batches_survive_sigkill(self):
        rid = self._create_run()
        acked = [[] for _ in range(THREADS)]  # per thread: list of acknowledged batch numbers
        acked_count = [0]
        lock = threading.Lock()
        stop = threading.Event()
        enough = threading.Event()
        errors = []

        def load(t):
            key = "load_t%d" % t
            conn = None
            n = 0
            while not stop.is_set():
                body = {"run_id": rid,
                        "metrics": [{"key": key, "value": n * 1000 + i + 0.25, "timestamp": 1700000000000 + n,
                                     "step": n * METRICS_PER_BATCH + i} for i in range(METRICS_PER_BATCH)],
                        "params": [{"key": "p_t%d_b%d" % (t, n), "value": str(n)}],
                        "tags": [{"key": "tag_t%d" % t, "value": str(n)}]}
                try:
                    if conn is None:
                        conn = self.server.connect(timeout=10)
                    conn.request("POST", API + "runs/log-batch", body=json.dumps(body),
                                 headers={"Content-Type": "application/json"})
                    resp = conn.getresponse()
                    resp.read()
                except OSError:
                    # Expected once the server is killed; anything before that is a failure.
                    if not stop.is_set() and not enough.is_set():
                        errors.append("thread %d batch %d: connection failed before the kill" % (t, n))
                    return
                except Exception as e:  # http.client protocol errors when the socket dies mid-response
                    if not enough.is_set():
                        errors.append("thread %d: %r" % (t, e))
                    return
                if resp.status != 200:
                    errors.append("thread %d batch %d: HTTP %d" % (t, n, resp.status))
                    return
                with lock:
                    acked[t].append(n)
                    acked_count[0] += 1
                    if acked_count[0] >= MIN_ACKED_BATCHES:
                        enough.set()
                n += 1

        threads = [threading.Thread(target=load, args=(t,), daemon=True) for t in range(THREADS)]
        for th in threads:
            th.start()
        self.assertTrue(enough.wait(LOAD_TIMEOUT), "server acknowledged only %d batches in %.0f s: %s"
                        % (acked_count[0], LOAD_TIMEOUT, errors))
        # Let the load run a little longer so the kill lands mid-flight.
        time.sleep(0.2)
        self.server.kill()
        stop.set()
        for th in threads:
            th.join(15)
        self.assertEqual(errors, [])
        with lock:
            acked_snapshot = [list(a) for a in acked]

        self.server.start()
        run = self.server.api("GET", "runs/get", query={"run_id": rid})
        self.assertEqual(run.status, 200, run)
        params = kv(run.json["run"]["data"].get("params"))
        tags = kv(run.json["run"]["data"].get("tags"))
        for t, batches in enumerate(acked_snapshot):
            key = "load_t%d" % t
            r = self.server.api("GET", "metrics/get-history", query={"run_id": rid, "metric_key": key})
            self.assertEqual(r.status, 200, r)
            points = {}
            token = r.json.get("next_page_token")
            pts = list(r.json.get("metrics", []))
            while token:
                r = self.server.api("GET", "metrics/get-history",
                                    query={"run_id": rid, "metric_key": key, "page_token": token})
                pts += r.json.get("metrics", [])
                token = r.json.get("next_page_token")
            for m in pts:
                points[int(m["step"])] = metric_value(m["value"])
            for n in batches:
                for i in range(METRICS_PER_BATCH):
                    step = n * METRICS_PER_BATCH + i
                    self.assertIn(step, points, "thread %d acknowledged batch %d lost step %d" % (t, n, step))
                    self.assertEqual(points[step], n * 1000 + i + 0.25)
                self.assertEqual(params.get("p_t%d_b%d" % (t, n)), str(n))
            if batches:
                # The tag was overwritten by each batch; it is at least the last acknowledged one.
                self.assertGreaterEqual(int(tags["tag_t%d" % t]), batches[-1])

        # The restarted server serves normally.
        self.assertEqual(self.server.request("GET", "/health").status, 200)
        rid2 = self._create_run()
        r = self.server.api("POST", "runs/log-metric", {"run_id": rid2, "key": "after", "value": 1.0,
                                                        "timestamp": 1, "step": 0})
        self.assertEqual(r.status, 200, r)
        r = self.server.api("GET", "metrics/get-history", query={"run_id": rid2, "metric_key": "after"})
        self.assertEqual(len(r.json["metrics"]), 1)
        self.assertEqual(self.server.stop(), 0)

    def test_clean_restart_keeps_everything(self):
        rid = self._create_run()
        r = self.server.api("POST", "runs/log-batch", {"run_id": rid, "metrics": [
            {"key": "m", "value": float(i), "timestamp": 5, "step": i} for i in range(50)],
            "params": [{"key": "p", "value": "v"}]})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.server.stop(), 0)
        self.server.start()
        r = self.server.api("GET", "metrics/get-history", query={"run_id": rid, "metric_key": "m"})
        self.assertEqual(sorted(int(m["step"]) for m in r.json["metrics"]), list(range(50)))
        run = self.server.api("GET", "runs/get", query={"run_id": rid}).json["run"]
        self.assertEqual(kv(run["data"]["params"]), {"p": "v"})
        self.assertEqual(self.server.stop(), 0)


if __name__ == "__main__":
    unittest.main()
