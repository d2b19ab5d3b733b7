#!/usr/bin/env python3
"""Seeds a ringo (or MLflow) server for the benchmarks, using only the standard library.

  seed.py URL history RUN_ID N      log N points of metric "curve" to RUN_ID (log-batch, 1000 each)
  seed.py URL runs EXPERIMENT_ID N  create N runs, each with 5 params and 5 metrics; prints runs/s
"""
import http.client
import json
import sys
import threading
import time
import urllib.parse


def conn_for(url):
    u = urllib.parse.urlparse(url)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=120)


def post(conn, path, body):
    conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    resp = conn.getresponse()
    data = resp.read()
    if resp.status != 200:
        raise SystemExit(f"{path}: {resp.status} {data[:200]!r}")
    return json.loads(data)


def seed_history(url, run_id, n):
    conn = conn_for(url)
    for start in range(0, n, 1000):
        metrics = [{"key": "curve", "value": i * 0.5, "timestamp": 1700000000000 + i, "step": i}
                   for i in range(start, min(n, start + 1000))]
        post(conn, "/api/2.0/mlflow/runs/log-batch", {"run_id": run_id, "metrics": metrics})


def seed_runs(url, experiment_id, n, threads=4):
    def worker(count, index):
        conn = conn_for(url)
        for i in range(count):
            k = index * count + i
            run = post(conn, "/api/2.0/mlflow/runs/create",
                       {"experiment_id": experiment_id, "start_time": 1700000000000 + k,
                        "run_name": f"run-{k}"})["run"]["info"]["run_id"]
            post(conn, "/api/2.0/mlflow/runs/log-batch", {
                "run_id": run,
                "params": [{"key": f"p{j}", "value": str((k + j) % 10)} for j in range(5)],
                "metrics": [{"key": f"m{j}", "value": ((k * 7919 + j) % 1000) / 1000.0,
                             "timestamp": 1700000000000 + k, "step": 0} for j in range(5)],
            })
    per = n // threads
    start = time.perf_counter()
    ts = [threading.Thread(target=worker, args=(per, t)) for t in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    elapsed = time.perf_counter() - start
    print(f"{per * threads / elapsed:.0f}")


if __name__ == "__main__":
    url, what, target, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    if what == "history":
        seed_history(url, target, n)
    elif what == "runs":
        seed_runs(url, target, n)
    else:
        raise SystemExit(f"unknown seed kind {what!r}")
