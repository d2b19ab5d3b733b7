#!/usr/bin/env python3
"""Memory a stranger can make the server hold: N connections each announcing a 16 MB body,
without a token, to an unknown route and to a real one, while the server requires tokens.
Prints the server's RSS before and at its peak, and how long the first answer took.
Usage: bench/hostile_bodies.py [build/ringo] [connections=30]"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

BIN = sys.argv[1] if len(sys.argv) > 1 else "build/ringo"
N = int(sys.argv[2]) if len(sys.argv) > 2 else 30
BODY = 16 * 1024 * 1024


def rss_mib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def attack(host, port, path, answers, lock):
    s = socket.create_connection((host, port), timeout=60)
    try:
        t0 = time.perf_counter()
        s.sendall(("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   "Content-Length: %d\r\n\r\n" % (path, BODY)).encode())
        chunk = b" " * (1 << 20)
        sent = 0
        s.settimeout(0.01)
        first = b""
        while sent < BODY:
            try:
                s.sendall(chunk)
                sent += len(chunk)
            except (socket.timeout, OSError):
                pass
            try:
                first = s.recv(4096)
                if first:
                    break
            except socket.timeout:
                pass
            except OSError:
                break
        if not first:
            s.settimeout(60)
            first = s.recv(4096)
        with lock:
            answers.append((first.split(b"\r\n", 1)[0].decode("latin-1"), time.perf_counter() - t0, sent))
    finally:
        s.close()


def main():
    with tempfile.TemporaryDirectory() as d:
        proc = subprocess.Popen([BIN, "server", "--port", "0", "--store", os.path.join(d, "s")],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            line = proc.stdout.readline()
            while "listening on" not in line:
                line = proc.stdout.readline()
            url = line.split("listening on ")[1].split()[0]
            host, port = url.split("//")[1].split(":")
            req = urllib.request.Request(url + "/api/ringo/v1/tokens", data=json.dumps({"scope": "admin"}).encode(),
                                         headers={"Content-Type": "application/json"})
            urllib.request.urlopen(req).read()
            for path in ("/nowhere", "/api/2.0/mlflow/runs/log-batch"):
                before = rss_mib(proc.pid)
                peak = [before]
                done = threading.Event()

                def sample():
                    while not done.is_set():
                        peak[0] = max(peak[0], rss_mib(proc.pid))
                        time.sleep(0.01)

                sampler = threading.Thread(target=sample)
                sampler.start()
                answers, lock = [], threading.Lock()
                threads = [threading.Thread(target=attack, args=(host, int(port), path, answers, lock)) for _ in range(N)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                done.set()
                sampler.join()
                statuses = sorted({a[0] for a in answers})
                slowest = max(a[1] for a in answers)
                sent = max(a[2] for a in answers) / (1 << 20)
                print("%-34s %d connections x 16 MB, no token: answers %s within %.0f ms (at most %.0f MB sent "
                      "before the answer); RSS %.0f MB before, %.0f MB peak"
                      % (path, N, statuses, slowest * 1000, sent, before, peak[0]))
        finally:
            proc.terminate()
            proc.wait()


if __name__ == "__main__":
    main()
