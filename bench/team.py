#!/usr/bin/env python3
"""Team-scale benchmark: ringo on PostgreSQL with artifacts in S3, one and two replicas, beside
MLflow's own server on the same PostgreSQL, all in one run. Prints a Markdown table for
docs/benchmarks.md.

  bench/team.py [--ringo build/ringo] [--mlflow .venvs/mlflow3/bin/mlflow] [--seconds 10]

Private PostgreSQL and S3 servers (tests/e2e/private_postgres.py, private_s3.py) on 127.0.0.1;
each system gets a database of its own on the one PostgreSQL server. Every server runs with its
default flags; the load generators (wrk, curl, bench/seed.py) are pinned to core 1. Two replicas
get the load from two wrk processes at once (half the connections each), as a load balancer
would spread it.
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
import private_postgres  # noqa: E402
import private_s3  # noqa: E402

LOAD = ["taskset", "-c", "1"]


def wait_http(url, seconds=120):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url + "/health", timeout=2)
            return
        except Exception:
            time.sleep(0.2)
    raise SystemExit("no answer from " + url)


def post(url, path, body):
    req = urllib.request.Request(url + path, json.dumps(body).encode(),
                                 {"Content-Type": "application/json"})
    return json.loads(urllib.request.urlopen(req, timeout=120).read() or b"{}")


def wrk(urls, conns, script, seconds, env):
    """Runs one wrk per URL at once (conns split evenly); total req/s and the worst p99 (ms)."""
    procs = [subprocess.Popen(LOAD + ["wrk", "-t1", "-c%d" % (conns // len(urls)), "-d%ds" % seconds,
                                      "--latency", "-s", os.path.join(HERE, script), u],
                              stdout=subprocess.PIPE, text=True, env=env) for u in urls]
    rps, p99 = 0.0, 0.0
    for p in procs:
        out = p.communicate()[0]
        rps += float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        m = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
        scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
        p99 = max(p99, float(m.group(1)) * scale)
    return rps, p99


def timed_get(url, path, n=5):
    times = []
    for _ in range(n):
        out = subprocess.run(LOAD + ["curl", "-fsS", "-o", "/dev/null", "-w", "%{time_total}", url + path],
                             capture_output=True, text=True, check=True).stdout
        times.append(float(out) * 1000)
    return statistics.median(times), max(times)


def timed_post(url, path, body, n=5):
    times = []
    for _ in range(n):
        out = subprocess.run(LOAD + ["curl", "-fsS", "-o", "/dev/null", "-w", "%{time_total}", "-X", "POST",
                                     "-H", "Content-Type: application/json", "-d", json.dumps(body), url + path],
                             capture_output=True, text=True, check=True).stdout
        times.append(float(out) * 1000)
    return statistics.median(times), max(times)


def measure(name, urls, seconds, seed_runs):
    """The tracking figures of one system; `urls` are its replicas."""
    url = urls[0]
    api = "/api/2.0/mlflow/"
    eid = post(url, api + "experiments/create", {"name": "bench-%d" % time.time_ns()})["experiment_id"]
    run = post(url, api + "runs/create", {"experiment_id": eid})["run"]["info"]["run_id"]
    env = dict(os.environ, RUN_ID=run)
    ceiling = wrk(urls, 64, "health.lua", seconds, env)[0]
    metric_rps, metric_p99 = wrk(urls, 64, "log_metric.lua", seconds, env)
    run2 = post(url, api + "runs/create", {"experiment_id": eid})["run"]["info"]["run_id"]
    env["RUN_ID"] = run2
    batch_rps, batch_p99 = wrk(urls, 8, "log_batch.lua", seconds, env)
    hrun = post(url, api + "runs/create", {"experiment_id": eid})["run"]["info"]["run_id"]
    subprocess.run(LOAD + [sys.executable, os.path.join(HERE, "seed.py"), url, "history", hrun, "100000"],
                   check=True, capture_output=True)
    hist = timed_get(url, api + "metrics/get-history?run_id=%s&metric_key=curve" % hrun)
    sexp = post(url, api + "experiments/create", {"name": "search-%d" % time.time_ns()})["experiment_id"]
    seeded = subprocess.run(LOAD + [sys.executable, os.path.join(HERE, "seed.py"), url, "runs", sexp, str(seed_runs)],
                            check=True, capture_output=True, text=True).stdout.strip()
    search = timed_post(url, api + "runs/search", {
        "experiment_ids": [sexp], "filter": "metrics.m0 > 0.5 and params.p1 = '3'",
        "order_by": ["metrics.m1 DESC"], "max_results": 100})
    return {"name": name, "ceiling": ceiling, "metric_rps": metric_rps, "metric_p99": metric_p99,
            "batch_points": batch_rps * 1000, "batch_p99": batch_p99, "hist": hist,
            "search": search, "runs_per_s": seeded}


def start_ringo(binary, pg, s3, db, work, name):
    store = os.path.join(work, name)
    log = open(os.path.join(work, name + ".log"), "w")
    env = dict(os.environ, **s3.env)
    p = subprocess.Popen([binary, "server", "--host", "127.0.0.1", "--port", "0", "--store", store,
                          "--backend-store-uri", pg.uri.rsplit("/", 1)[0] + "/" + db,
                          "--artifacts-destination", "s3://%s/%s" % (private_s3.BUCKET, name)],
                         stdout=log, stderr=subprocess.STDOUT, env=env)
    for _ in range(600):
        text = open(os.path.join(work, name + ".log")).read()
        m = re.search(r"listening on (http://[\d.]+:\d+)", text)
        if m:
            return p, m.group(1)
        time.sleep(0.05)
    raise SystemExit("ringo did not start:\n" + text)


def start_mlflow(mlflow, pg, db, work, port):
    log = open(os.path.join(work, "mlflow.log"), "w")
    p = subprocess.Popen([mlflow, "server", "--host", "127.0.0.1", "--port", str(port),
                          # SQLAlchemy 2.1 reads postgresql:// as psycopg 3; Debian has psycopg2.
                          "--backend-store-uri",
                          pg.uri.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg2://") + "/" + db,
                          "--artifacts-destination", os.path.join(work, "mlflow-artifacts")],
                         stdout=log, stderr=subprocess.STDOUT)
    url = "http://127.0.0.1:%d" % port
    try:
        wait_http(url, 300)
    except SystemExit:
        raise SystemExit("MLflow's server did not start:\n" + open(os.path.join(work, "mlflow.log")).read()[-3000:])
    return p, url


def artifact_figures(url, s3, work, cache, size_mb=256):
    """Upload and download of one file through ringo's proxy into S3; as ceilings, `cp` of it and
    the same file PUT straight to the object store (one request, SigV4, unsigned payload).
    `cache` is the replica's S3 cache, emptied before the first download so that it comes from S3
    (an upload leaves its file there)."""
    src = os.path.join(work, "blob.bin")
    with open(src, "wb") as f:
        f.write(os.urandom(size_mb << 20))
    t = time.monotonic()
    shutil.copy(src, src + ".copy")
    cp = size_mb / (time.monotonic() - t)
    path = url + "/api/2.0/mlflow-artifacts/artifacts/bench/blob.bin"

    def curl(*args):
        out = subprocess.run(LOAD + ["curl", "-fsS", "-o", "/dev/null", "-w", "%{time_total}"] + list(args),
                             capture_output=True, text=True, check=True).stdout
        return size_mb / float(out)

    # Medians of three: one upload's rate moves 3x with the other core's load here.
    ups, straights = [], []
    env = s3.env
    for i in range(3):
        ups.append(curl("-T", src, path + ".%d" % i))
        straights.append(curl("-T", src, "--aws-sigv4", "aws:amz:%s:s3" % env["AWS_DEFAULT_REGION"],
                              "--user", env["AWS_ACCESS_KEY_ID"] + ":" + env["AWS_SECRET_ACCESS_KEY"],
                              "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD",
                              "%s/%s/straight.%d" % (env["MLFLOW_S3_ENDPOINT_URL"], private_s3.BUCKET, i)))
    up, straight = statistics.median(ups), statistics.median(straights)
    path += ".0"
    shutil.rmtree(cache)
    cold = curl(path)  # fetched from S3 into the replica's cache, then sent
    warm = curl(path)  # from the cache
    return {"up": up, "cold": cold, "warm": warm, "cp": cp, "straight": straight, "mb": size_mb}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ringo", default=os.path.join(ROOT, "build", "ringo"))
    ap.add_argument("--mlflow", default=os.path.join(ROOT, ".venvs", "mlflow3", "bin", "mlflow"))
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--runs", type=int, default=10000)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="ringo-team-bench-")
    pg, s3 = private_postgres.PrivatePostgres(), private_s3.PrivateS3()
    procs = []
    try:
        pg.start()
        s3.start()
        for db in ("ringo1", "ringo2", "mlflow"):
            subprocess.run(pg._as + [os.path.join(private_postgres.BINDIR, "psql"), "-h", "127.0.0.1",
                                     "-p", str(pg.port), "-U", "ringo", "-d", "postgres", "-qc",
                                     "CREATE DATABASE %s" % db], check=True)
        results = []
        p, url = start_ringo(args.ringo, pg, s3, "ringo1", work, "one")
        procs.append(p)
        results.append(measure("ringo, 1 replica", [url], args.seconds, args.runs))
        arts = artifact_figures(url, s3, work, os.path.join(work, "one", "s3-cache"))
        p.terminate()
        p.wait()
        pa, ua = start_ringo(args.ringo, pg, s3, "ringo2", work, "a")
        pb, ub = start_ringo(args.ringo, pg, s3, "ringo2", work, "b")
        procs += [pa, pb]
        results.append(measure("ringo, 2 replicas", [ua, ub], args.seconds, args.runs))
        pa.terminate()
        pb.terminate()
        pm, um = start_mlflow(args.mlflow, pg, "mlflow", work, private_postgres._free_port())
        procs.append(pm)
        results.append(measure("MLflow 3.17.2 server", [um], args.seconds, args.runs))
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()
        s3.stop()
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)

    print("| system (PostgreSQL 15, same server) | ceiling: GET /health, 64 conns | log-metric, 64 conns "
          "| p99 | log-batch points/s | history 100k points (median / max) | search %d runs "
          "(median / max) | runs created/s |" % args.runs)
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print("| %s | %.0f req/s | %.0f req/s | %.1f ms | %.0f | %.0f / %.0f ms | %.0f / %.0f ms | %s |" % (
            r["name"], r["ceiling"], r["metric_rps"], r["metric_p99"], r["batch_points"], r["hist"][0],
            r["hist"][1], r["search"][0], r["search"][1], r["runs_per_s"]))
    print()
    print("| artifacts through ringo's proxy into S3 (versitygw with checksum ETags, same machine), %d MB | MB/s |" % arts["mb"])
    print("|---|---|")
    print("| upload (PUT to the proxy; multipart to S3), median of 3 | %.0f |" % arts["up"])
    print("| download, first (S3 → replica cache → client) | %.0f |" % arts["cold"])
    print("| download, again (from the replica's cache) | %.0f |" % arts["warm"])
    print("| ceiling: the file PUT straight to the object store (curl, one request), median of 3 | %.0f |" % arts["straight"])
    print("| ceiling: `cp` of the file | %.0f |" % arts["cp"])


if __name__ == "__main__":
    main()
