#!/usr/bin/env python3
"""Bytes per metric point on disk, before and after metric histories became compressed chunks,
and the migration between the two, on the embedded store (SQLite).

One run, 10 keys x 100,000 steps (1,000,000 points, a float32-like loss curve with a wall-clock
timestamp per step), logged through `ringo server` with log-batch requests of 1,000 points. The
store is then measured (checkpointed and vacuumed); the same points written as rows of the old
layout (schema 7: one row per point) into a copy of the database are measured the same way; then
`ringo server` opens that copy, which converts it (migration 8), and the time to its first
"listening" line and the converted size are measured. Prints a Markdown table.

  bench/series.py [build/ringo]
"""
import http.client
import json
import os
import re
import shutil
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time

BIN = sys.argv[1] if len(sys.argv) > 1 else "build/ringo"
KEYS, STEPS = 10, 100_000
POINTS = KEYS * STEPS


def point(k, s):
    # A loss curve rounded to float32, as frameworks log it; a step every ~20 ms.
    v = struct.unpack("f", struct.pack("f", (k + 1) / (1 + s * 0.01) + (s * 7919 % 100) * 1e-4))[0]
    return v, 1_700_000_000_000 + s * 20 + (s * 13 % 7)


def start(store):
    proc = subprocess.Popen([BIN, "server", "--host", "127.0.0.1", "--port", "0", "--store", store],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    t0 = time.perf_counter()
    for line in proc.stdout:
        m = re.search(r"listening on http://([\d.]+):(\d+)", line)
        if m:
            return proc, m.group(1), int(m.group(2)), time.perf_counter() - t0
    raise SystemExit("ringo server did not start")


def stop(proc):
    proc.terminate()
    proc.wait(30)


def post(conn, path, body):
    conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    r = conn.getresponse()
    data = r.read()
    if r.status != 200:
        raise SystemExit(f"{path}: {r.status} {data[:200]!r}")
    return json.loads(data)


def compact_size(db_path):
    con = sqlite3.connect(db_path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.execute("VACUUM")
    con.close()
    return os.path.getsize(db_path)


def main():
    work = tempfile.mkdtemp(prefix="ringo-series-bench-")
    try:
        store = os.path.join(work, "store")
        proc, host, port, _ = start(store)
        conn = http.client.HTTPConnection(host, port, timeout=120)
        exp = post(conn, "/api/2.0/mlflow/experiments/create", {"name": "series"})["experiment_id"]
        run = post(conn, "/api/2.0/mlflow/runs/create", {"experiment_id": exp})["run"]["info"]["run_id"]
        t0 = time.perf_counter()
        for s0 in range(0, STEPS, 100):
            metrics = []
            for k in range(KEYS):
                for s in range(s0, s0 + 100):
                    v, ts = point(k, s)
                    metrics.append({"key": f"m{k}", "value": v, "timestamp": ts, "step": s})
            post(conn, "/api/2.0/mlflow/runs/log-batch", {"run_id": run, "metrics": metrics})
        log_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        conn.request("GET", f"/api/2.0/mlflow/metrics/get-history?run_id={run}&metric_key=m3")
        hist = json.loads(conn.getresponse().read())["metrics"]
        hist_s = time.perf_counter() - t0
        assert len(hist) == STEPS, len(hist)
        stop(proc)
        db = os.path.join(store, "ringo.db")

        # The old layout: the same points as rows, in a copy of the database at schema 7.
        old_store = os.path.join(work, "old")
        shutil.copytree(store, old_store)
        old_db = os.path.join(old_store, "ringo.db")
        con = sqlite3.connect(old_db)
        con.execute("DROP TABLE metric_chunks")
        con.executemany("INSERT INTO metrics (run_id, key, step, timestamp, value, is_nan) "
                        "VALUES (?, ?, ?, ?, ?, 0)",
                        ((run, f"m{k}", s, *reversed(point(k, s)))
                         for k in range(KEYS) for s in range(STEPS)))
        con.execute("PRAGMA user_version = 7")
        con.commit()
        con.close()

        empty = os.path.join(work, "empty")
        p, *_ = start(empty)
        stop(p)
        base = compact_size(os.path.join(empty, "ringo.db"))
        after = compact_size(db)
        before = compact_size(old_db)

        proc, host, port, migrate_s = start(old_store)
        conn = http.client.HTTPConnection(host, port, timeout=120)
        conn.request("GET", f"/api/2.0/mlflow/metrics/get-history?run_id={run}&metric_key=m3")
        migrated = json.loads(conn.getresponse().read())["metrics"]
        stop(proc)
        assert migrated == hist, "the migrated history differs"
        converted = compact_size(old_db)

        per = lambda size: (size - base) / POINTS
        print("| measurement (1,000,000 points: 10 keys x 100,000 steps, one run) | figure |")
        print("|---|---|")
        print(f"| logged through the server, log-batch of 1,000 points, one client | "
              f"{POINTS / log_s:,.0f} points/s |")
        print(f"| get-history of one key (100,000 points), just after, parsed by Python | "
              f"{hist_s * 1000:.1f} ms |")
        print(f"| on disk, rows (schema 7) | {per(before):.1f} bytes/point |")
        print(f"| on disk, chunks (schema 8) | {per(after):.1f} bytes/point |")
        print(f"| migration 7 -> 8 of those 1,000,000 points (server start to listening) | "
              f"{migrate_s:.2f} s |")
        print(f"| on disk after the migration | {per(converted):.1f} bytes/point |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
