"""A local Ray head for tests, started in a temporary directory with its dashboard (the job
submission API) on a free 127.0.0.1 port, from the virtual environment scripts/setup makes."""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request

from slurm_cluster import free_port

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def ray_bin():
    return os.environ.get("RINGO_RAY_BIN") or os.path.join(ROOT, ".venvs", "ray", "bin", "ray")


class RayHead:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="ringo-ray-")
        self.port = free_port()
        self.address = "http://127.0.0.1:%d" % self.port
        self.proc = None

    def start(self):
        # --block keeps `ray start` in the foreground as the parent of every Ray process of the
        # head, all in one new session, so stopping it stops them and nothing else.
        self.log = open(os.path.join(self.dir, "ray-start.log"), "w")
        self.proc = subprocess.Popen(
            [ray_bin(), "start", "--head", "--block", "--node-ip-address", "127.0.0.1",
             "--dashboard-host", "127.0.0.1", "--dashboard-port", str(self.port),
             "--temp-dir", os.path.join(self.dir, "t"), "--num-cpus", "2",
             "--disable-usage-stats", "--include-dashboard", "true"] + self.port_flags(),
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True, cwd=self.dir)
        # A loaded machine (a parallel build, other tests) can take minutes to bring Ray up.
        deadline = time.time() + 240
        job = None
        while time.time() < deadline:
            if self.proc.poll() is not None:
                break
            # The dashboard answers before its job agent is up: ready is a job that ran. One job
            # is submitted and waited for; another only if the submission itself failed.
            try:
                if job is None:
                    job = self.submit_probe()
                status = self.job_status(job)
                if status == "SUCCEEDED":
                    return self
                if status in ("FAILED", "STOPPED"):
                    job = None
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.5)
        raise RuntimeError("the Ray head did not come up:\n" + self.logs())

    @staticmethod
    def port_flags():
        """Every port a Ray head listens on, free ones of its own: Ray's fixed defaults (the
        dashboard agent's 52365 above all) make a second head on the machine, another test's,
        start but never run a job. Workers bind random ports (0)."""
        flags = []
        for name in ("port", "dashboard-agent-listen-port", "dashboard-agent-grpc-port",
                     "runtime-env-agent-port", "metrics-export-port", "node-manager-port",
                     "object-manager-port", "ray-client-server-port", "dashboard-grpc-port"):
            flags += ["--" + name, str(free_port())]
        return flags + ["--min-worker-port", "0", "--max-worker-port", "0"]

    def submit_probe(self):
        req = urllib.request.Request(self.address + "/api/jobs/", data=b'{"entrypoint": "true"}',
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.load(r)["submission_id"]

    def job_status(self, job):
        with urllib.request.urlopen(self.address + "/api/jobs/" + job, timeout=10) as r:
            return json.load(r)["status"]

    def logs(self):
        try:
            with open(os.path.join(self.dir, "ray-start.log")) as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    def stop(self):
        if self.proc is not None:
            # Ray's servers outlive a SIGTERM of the group; whatever is left gets SIGKILL.
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(self.proc.pid, sig)
                except OSError:
                    break
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass
                time.sleep(1)
            self.log.close()
        shutil.rmtree(self.dir, True)
