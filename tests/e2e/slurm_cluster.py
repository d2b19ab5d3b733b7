"""A private one-node Slurm cluster for tests: its own munge key and socket, slurm.conf, state
directories and free ports, all in a temporary directory, listening on 127.0.0.1 only."""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SlurmCluster:
    NODE = "ringo-node"

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="ringo-slurm-")
        self.env = dict(os.environ, SLURM_CONF=os.path.join(self.dir, "slurm.conf"))
        self.pid_files = []

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def start(self):
        for d in ("munge", "state", "spool", "log"):
            os.makedirs(self.path(d), mode=0o700)
        with open(self.path("munge", "key"), "wb") as f:
            f.write(os.urandom(1024))
        os.chmod(self.path("munge", "key"), 0o400)
        subprocess.run(["munged", "--force", "--key-file", self.path("munge", "key"),
                        "--socket", self.path("munge", "sock"),
                        "--pid-file", self.path("munge", "pid"),
                        "--log-file", self.path("munge", "log"),
                        "--seed-file", self.path("munge", "seed")], check=True)
        self.pid_files.append(self.path("munge", "pid"))
        self.write_conf()
        subprocess.run(["slurmctld", "-i"], env=self.env, check=True)
        self.pid_files.append(self.path("slurmctld.pid"))
        subprocess.run(["slurmd", "-N", self.NODE], env=self.env, check=True)
        self.pid_files.append(self.path("slurmd.pid"))
        deadline = time.time() + 30
        while time.time() < deadline:
            p = subprocess.run(["sinfo", "-h", "-o", "%t"], env=self.env, capture_output=True,
                               text=True)
            if p.returncode == 0 and p.stdout.strip() == "idle":
                return self
            time.sleep(0.2)
        raise RuntimeError("the Slurm node did not become idle:\n" + self.logs())

    def write_conf(self):
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1 << 20) // 2
        lines = {
            "ClusterName": "ringotest",
            "SlurmctldHost": "%s(127.0.0.1)" % socket.gethostname(),
            "SlurmctldPort": free_port(), "SlurmdPort": free_port(),
            "SlurmUser": "root", "SlurmdUser": "root",
            "AuthType": "auth/munge", "CredType": "cred/munge",
            "AuthInfo": "socket=" + self.path("munge", "sock"),
            "StateSaveLocation": self.path("state"), "SlurmdSpoolDir": self.path("spool"),
            "SlurmctldPidFile": self.path("slurmctld.pid"),
            "SlurmdPidFile": self.path("slurmd.pid"),
            "SlurmctldLogFile": self.path("log", "slurmctld.log"),
            "SlurmdLogFile": self.path("log", "slurmd.log"),
            "ProctrackType": "proctrack/linuxproc", "TaskPlugin": "task/none",
            "SchedulerType": "sched/builtin", "SelectType": "select/cons_tres",
            "SelectTypeParameters": "CR_CPU", "JobAcctGatherType": "jobacct_gather/none",
            "AccountingStorageType": "accounting_storage/none", "MpiDefault": "none",
            "ReturnToService": 2,
            "NodeName": "%s NodeAddr=127.0.0.1 CPUs=%d RealMemory=%d State=UNKNOWN" % (
                self.NODE, os.cpu_count(), memory),
            "PartitionName": "debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP",
        }
        with open(self.env["SLURM_CONF"], "w") as f:
            for k, v in lines.items():
                f.write("%s=%s\n" % (k, v))

    def run(self, *args):
        return subprocess.run(list(args), env=self.env, capture_output=True, text=True).stdout

    def logs(self):
        out = ""
        for name in ("slurmctld.log", "slurmd.log"):
            try:
                with open(self.path("log", name)) as f:
                    out += "--- %s\n%s" % (name, f.read()[-3000:])
            except OSError:
                pass
        return out

    def stop(self):
        subprocess.run(["scancel", "--full", "--user", "root"], env=self.env, capture_output=True)
        for pid_file in reversed(self.pid_files):
            try:
                with open(pid_file) as f:
                    pid = int(f.read().strip())
                os.kill(pid, signal.SIGTERM)
                for _ in range(100):
                    os.kill(pid, 0)
                    time.sleep(0.05)
            except (OSError, ValueError):
                pass
        shutil.rmtree(self.dir, True)
