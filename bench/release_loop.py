#!/usr/bin/env python3
"""The release loop under load, in one run (Debian's /usr/bin/python3 with PyTorch, which
makes the small Core ML model):

    /usr/bin/python3 bench/release_loop.py [build/ringo] [channels=100] [devices=10000] [seconds=60]
        [reactions=9]   (channels=0: the reaction only)

1. Reaction: one channel's new deployment crosses the failure-rate limit (telemetry posted at
   once); timed until its release manifest names the previous deployment again, REACTIONS times
   (median and max).
2. Cost: CHANNELS collections, each with a release policy holding a rollout step
   (evaluate_seconds 10), while DEVICES devices report every 10 s (one prediction and one
   feedback each, posted in batches of 500). The server's CPU seconds per wall second are measured
   from /proc with the policies active, and again with the same telemetry and no policies (the
   ceiling); the difference is what evaluating the policies costs."""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/ringo")
CHANNELS = int(sys.argv[2]) if len(sys.argv) > 2 else 100
DEVICES = int(sys.argv[3]) if len(sys.argv) > 3 else 10000
SECONDS = int(sys.argv[4]) if len(sys.argv) > 4 else 60
REACTIONS = int(sys.argv[5]) if len(sys.argv) > 5 else 9
TICKS = os.sysconf("SC_CLK_TCK")


def call(url, method="GET", body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        text = r.read()
    try:
        return json.loads(text) if text else {}
    except ValueError:
        return {"text": text.decode("utf-8", "replace")}


def cli(url, *args):
    return subprocess.run([BIN] + list(args) + ["--tracking-uri", url], check=True, capture_output=True,
                          text=True).stdout


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


class Server:
    def __init__(self, tmp):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.proc = subprocess.Popen([BIN, "server", "--port", str(self.port), "--store", os.path.join(tmp, "store")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            try:
                call(self.url + "/health")
                return
            except OSError:
                time.sleep(0.05)
        raise SystemExit("server did not start")

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def make_model(tmp):
    subprocess.run(["/usr/bin/python3", os.path.join(HERE, "..", "tests", "coreml", "export_models.py"), tmp, "mlp"],
                   check=True, capture_output=True)
    path = os.path.join(tmp, "m.mlmodel")
    subprocess.run([BIN, "convert", os.path.join(tmp, "mlp.onnx"), "-o", path], check=True, capture_output=True)
    return path


def setup(server, path, n, evaluate=10, min_samples=10 ** 9, prefix=""):
    """n collections, each with version 1 in release and version 2 in a held rollout step (held:
    by default no step ever has enough events to move on, or to halt)."""
    policy = {"gates": {}, "staging": {"soak_seconds": 0}, "evaluate_seconds": 1,
              "release": {"steps": [1, 100], "hold_seconds": 100000, "min_samples": min_samples},
              "halt": {"max_failure_rate": 0.2}}
    colls = []
    for i in range(n):
        model, coll = "%sm%d" % (prefix, i), "%sc%d" % (prefix, i)
        v1 = cli(server.url, "models", "register", path, "--name", model).split("version ")[1].split()[0]
        cli(server.url, "collections", "create", coll, "--model", model)
        d1 = cli(server.url, "deployments", "create", coll, "--model", "%s=%s" % (model, v1)).strip()
        cli(server.url, "channels", "promote", coll, "release", d1)
        call(server.url + "/api/ringo/v1/release-policies/" + coll, "PUT", dict(policy, model=model))
        cli(server.url, "models", "register", path, "--name", model)
        colls.append((coll, model, d1))
    deadline = time.time() + 120
    while time.time() < deadline:
        stages = [c["stage"] for coll, _, _ in colls
                  for c in call(server.url + "/api/ringo/v1/release-policies/" + coll)["candidates"]]
        if stages.count("rollout") == n:
            break
        time.sleep(0.5)
    for coll, model, _ in colls:
        p = dict(policy, model=model, evaluate_seconds=evaluate)
        call(server.url + "/api/ringo/v1/release-policies/" + coll, "PUT", p)
    return colls


def report_forever(server, colls, stop, devices):
    """DEVICES devices every 10 s: a prediction and its feedback each, spread over the models."""
    per_model = max(1, devices // len(colls))
    while not stop.is_set():
        started = time.time()
        batch = []
        for coll, model, _ in colls:
            for d in range(per_model):
                batch.append({"event": "prediction", "model": model, "version": "2", "latency_ms": 5.0,
                              "device_class": "iPhone15,2"})
                batch.append({"event": "feedback", "model": model, "version": "2", "correct": d % 10 != 0})
                if len(batch) >= 1000:
                    call(server.url + "/api/deploy/v1/telemetry", "POST", batch)
                    batch = []
        if batch:
            call(server.url + "/api/deploy/v1/telemetry", "POST", batch)
        stop.wait(max(0.0, 10 - (time.time() - started)))


def measure(server, colls, devices, seconds):
    stop = threading.Event()
    t = threading.Thread(target=report_forever, args=(server, colls, stop, devices))
    t.start()
    time.sleep(5)
    c0, w0 = cpu_seconds(server.proc.pid), time.time()
    time.sleep(seconds)
    c1, w1 = cpu_seconds(server.proc.pid), time.time()
    stop.set()
    t.join()
    return (c1 - c0) / (w1 - w0)


def reaction(server, path, prefix):
    (coll, model, d1), = setup(server, path, 1, evaluate=1, min_samples=100, prefix=prefix)
    bad = [{"event": "prediction", "model": model, "version": "2", "error": "prediction failed"}] * 200
    started = time.time()
    call(server.url + "/api/deploy/v1/telemetry", "POST", bad)
    # The channel's own deployment (not a device's manifest: at 1% most devices already get the
    # previous one), then the manifest every device gets.
    while True:
        ch = call(server.url + "/api/ringo/v1/channels/get?collection=%s&channel=release" % coll)["channel"]
        if ch["deployment_id"] == d1:
            m = call(server.url + "/api/deploy/v1/collections/%s/channels/release/manifest?device_id=x" % coll)
            assert m["deployment_id"] == d1, m
            return time.time() - started
        time.sleep(0.01)


def main():
    tmp = tempfile.mkdtemp(prefix="ringo-bench-release-")
    try:
        path = make_model(tmp)
        s = Server(os.path.join(tmp, "a"))
        try:
            took = sorted(reaction(s, path, "r%d-" % k) for k in range(REACTIONS))
            print("reaction: threshold crossed -> rollback in the manifest (evaluate_seconds 1), %d runs: "
                  "median %.2f s, max %.2f s" % (REACTIONS, took[len(took) // 2], took[-1]))
        finally:
            s.stop()
        if CHANNELS == 0:
            return
        s = Server(os.path.join(tmp, "b"))
        try:
            colls = setup(s, path, CHANNELS)
            with_policies = measure(s, colls, DEVICES, SECONDS)
            for coll, _, _ in colls:
                call(s.url + "/api/ringo/v1/release-policies/" + coll, "DELETE")
            without = measure(s, colls, DEVICES, SECONDS)
        finally:
            s.stop()
        print("cost: %d channels in rollout, %d devices reporting every 10 s, %d s:" % (CHANNELS, DEVICES, SECONDS))
        print("  server CPU with policies    %.3f cores" % with_policies)
        print("  server CPU without policies %.3f cores (ceiling: the telemetry alone)" % without)
        print("  evaluating the policies     %.3f cores" % (with_policies - without))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
