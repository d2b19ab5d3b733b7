#!/usr/bin/env python3
"""MLflow 3's log_model + register_model of a small scikit-learn model, timed against ringo and
against MLflow 3's own server (SQLite store, proxied artifacts) in the same run, with the same
client. Run it with the MLflow 3 venv that scripts/setup makes:

    .venvs/mlflow3/bin/python bench/mlflow3_log_model.py [build/ringo] [rounds=15]

Prints per server the median and p90 of one round (a run, log_model, register_model), beside
the ceiling: the client's own work of a round (save_model to a local folder, no server). The
difference between a server's line and the ceiling is what that server costs."""

import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")

import mlflow  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

BIN = sys.argv[1] if len(sys.argv) > 1 else "build/ringo"
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 15


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(url, proc, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited with %s" % proc.returncode)
        try:
            urllib.request.urlopen(url + "/health", timeout=1).read()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("server did not come up at " + url)


def start_ringo(work):
    port = free_port()
    proc = subprocess.Popen([BIN, "server", "--port", str(port), "--store", os.path.join(work, "ringo")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc, "http://127.0.0.1:%d" % port


def start_mlflow(work):
    port = free_port()
    mlflow_bin = os.path.join(os.path.dirname(sys.executable), "mlflow")
    proc = subprocess.Popen([mlflow_bin, "server", "--host", "127.0.0.1", "--port", str(port),
                             "--backend-store-uri", "sqlite:///" + os.path.join(work, "mlflow.db"),
                             "--artifacts-destination", os.path.join(work, "mlflow-artifacts"),
                             "--workers", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc, "http://127.0.0.1:%d" % port


# Default flags as a user runs them, then "lean": requirements given and no input example, so
# the client's own work shrinks and the servers' part shows.
MODES = {"default": lambda x: {"input_example": x[:2]},
         "lean": lambda x: {"pip_requirements": ["scikit-learn"]}}


def rounds(url, model, x, n, mode):
    mlflow.set_tracking_uri(url)
    mlflow.set_experiment("bench")
    name = "bench-%d" % os.getpid()
    whole = []
    for _ in range(n):
        t0 = time.perf_counter()
        with mlflow.start_run():
            info = mlflow.sklearn.log_model(model, name="clf", **MODES[mode](x))
        mlflow.register_model("models:/%s" % info.model_id, name)
        whole.append(time.perf_counter() - t0)
    return whole


def local_rounds(model, x, n, mode):
    """The ceiling: the client's own work of a round (saving the model, inferring requirements),
    with no server at all."""
    times = []
    for _ in range(n):
        d = tempfile.mkdtemp(prefix="ringo-bench-save-")
        t0 = time.perf_counter()
        mlflow.sklearn.save_model(model, os.path.join(d, "m"), **MODES[mode](x))
        times.append(time.perf_counter() - t0)
        shutil.rmtree(d, ignore_errors=True)
    return times


def summary(xs):
    xs = sorted(xs)
    return "median %.0f ms, p90 %.0f ms" % (statistics.median(xs) * 1000, xs[int(0.9 * (len(xs) - 1))] * 1000)


def main():
    rng = np.random.default_rng(0)
    x = rng.random((100, 8))
    model = LogisticRegression().fit(x, (x[:, 0] > 0.5).astype(int))
    work = tempfile.mkdtemp(prefix="ringo-bench-mlflow3-")
    servers = []
    try:
        for label, start in (("ringo", start_ringo), ("MLflow %s server" % mlflow.__version__, start_mlflow)):
            proc, url = start(work)
            servers.append((label, proc, url))
            wait_up(url, proc)
        for mode in MODES:
            local_rounds(model, x, 2, mode)
            print("%-8s %-22s save_model, no server (ceiling): %s" % (mode, "-", summary(local_rounds(model, x, ROUNDS, mode))))
            for label, _, url in servers:
                rounds(url, model, x, 2, mode)  # warm up
                print("%-8s %-22s log_model + register_model:       %s" % (mode, label, summary(rounds(url, model, x, ROUNDS, mode))))
    finally:
        for _, proc, _ in servers:
            proc.terminate()
            proc.wait()
        shutil.rmtree(work, ignore_errors=True)
    print("(%d rounds each)" % ROUNDS)


if __name__ == "__main__":
    main()
