"""Overhead of a step per executor: a one-line step (`echo ready`) through local, a private
one-node Slurm cluster, a local Ray head and a podman container (--env-manager docker, in the
tests' busybox image), timing submit -> first log line -> finished from ringo's own output; then
the fully cached digits pipeline through each cluster executor (its steps have no image, so not
in containers). An executor written NAME+artifacts runs its steps with --file-transfer
artifacts (a scratch directory on the node, the code and outputs through the artifact store).

Usage: python3 bench/executors.py [RINGO_BIN] [REPEATS] [EXECUTORS]
  EXECUTORS: comma-separated, of local,slurm,ray,container, each cluster one optionally
  +artifacts (default: local,slurm,ray,container; needs scripts/setup's Slurm, Ray and podman)"""

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))

from container_image import ContainerImage  # noqa: E402
from ray_head import RayHead  # noqa: E402
from slurm_cluster import SlurmCluster  # noqa: E402

RINGO = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "ringo")
REPEATS = int(sys.argv[2]) if len(sys.argv) > 2 else 5
EXECUTORS = sys.argv[3].split(",") if len(sys.argv) > 3 else ["local", "slurm", "ray", "container"]


def step_project(tmp, image=None):
    root = os.path.join(tmp, "one-in-container" if image else "one")
    os.makedirs(os.path.join(root, "s"))
    env = "docker_env:\n  image: %s\n" % image if image else ""
    with open(os.path.join(root, "s", "MLproject"), "w") as f:
        f.write("name: s\n%sentry_points:\n  main:\n    command: echo ready\n" % env)
    with open(os.path.join(root, "MLproject"), "w") as f:
        f.write("name: one\nsteps:\n  - name: s\n    project: s\n    cache: false\n")
    return root


def timed_run(args, env):
    """Seconds from start to the step's submit line, its first log line and its finish."""
    start = time.monotonic()
    p = subprocess.Popen([RINGO, "run"] + args, stdout=subprocess.PIPE, text=True, env=env)
    marks = {}
    for line in p.stdout:
        now = time.monotonic() - start
        if ": running (run" in line:
            marks.setdefault("submit", now)
        elif line.strip() == "ready":
            marks.setdefault("log", now)
        elif ": finished" in line:
            marks.setdefault("finished", now)
    p.wait()
    marks["total"] = time.monotonic() - start
    if p.returncode != 0:
        raise RuntimeError("ringo run failed: %s" % args)
    return marks


def median(samples, key):
    return statistics.median(s[key] - s["submit"] for s in samples) * 1000


def main():
    tmp = tempfile.mkdtemp(prefix="ringo-bench-exec-")
    engines = {"slurm": SlurmCluster(), "ray": RayHead(), "container": ContainerImage()}
    started = []
    try:
        env = dict(os.environ)
        engine_names = {e.split("+")[0] for e in EXECUTORS}
        if "slurm" in engine_names:
            started.append(engines["slurm"])
            engines["slurm"].start()
            env["SLURM_CONF"] = engines["slurm"].env["SLURM_CONF"]
        if "ray" in engine_names:
            started.append(engines["ray"])
            engines["ray"].start()
            env["RAY_ADDRESS"] = engines["ray"].address
        if "container" in engine_names:
            image = engines["container"]
            started.append(image)
            if not image.start():
                raise RuntimeError(image.reason)
            env.update(image.env)
        plain = step_project(tmp)
        store = os.path.join(tmp, "store")
        print("| executor | submit -> first log (ms) | submit -> finished (ms) "
              "| cached digits (s) |")
        print("|---|---|---|---|")
        digits = os.path.join(tmp, "digits")
        shutil.copytree(os.path.join(ROOT, "examples", "digits"), digits,
                        ignore=shutil.ignore_patterns(".ringo", "__pycache__", "ringo-data"))
        for executor in EXECUTORS:
            if executor == "container":
                project = step_project(tmp, image.name)
                base = ["--store", store, "--env-manager", "docker"]
            else:
                name, _, transfer = executor.partition("+")
                project, base = plain, ["--store", store, "--executor", name]
                if transfer:
                    base += ["--file-transfer", transfer]
            samples = [timed_run([project] + base, env) for _ in range(REPEATS)]
            cached = "n/a"
            if executor != "container":
                exp = ["--experiment-name", "digits-" + executor.replace("+", "-"),
                       "-P", "epochs=3"]
                timed_run([digits] + base + exp, env)  # fills the cache
                cached = "%.2f" % statistics.median(
                    timed_run([digits] + base + exp, env)["total"] for _ in range(REPEATS))
            print("| %s | %.0f | %.0f | %s |" % (executor, median(samples, "log"),
                                                 median(samples, "finished"), cached))
    finally:
        for engine in reversed(started):
            engine.stop()
        shutil.rmtree(tmp, True)


if __name__ == "__main__":
    main()
