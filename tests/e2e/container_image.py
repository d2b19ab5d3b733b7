"""A tiny container image for the docker_env tests, built from a local root file system (a static
busybox, no pulls) and imported into podman under a unique localhost/ name; `stop()` removes it.

Podman's defaults may not start a container on a host that is itself a container (crun refuses
hybrid cgroups, and podman's default rlimits exceed what the host grants). `start()` tries the
defaults first, then runc and this process's own limits through a private containers.conf; `env`
holds what ringo needs to see it (CONTAINERS_CONF), and `reason` why no configuration worked."""

import os
import resource
import shutil
import subprocess
import tempfile
import uuid

PODMAN = shutil.which("podman")
BUSYBOX_APPLETS = ("sh", "echo", "cat", "sleep", "wget", "date", "mkdir", "true", "pwd", "env",
                   "wc", "test")


class ContainerImage:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="ringo-ctr-")
        self.short_name = "ringo-test-%s:1" % uuid.uuid4().hex[:12]
        self.name = "localhost/" + self.short_name
        self.env = {}
        self.reason = None
        self.imported = False

    def podman(self, *args, check=True, timeout=60):
        p = subprocess.run([PODMAN] + list(args), capture_output=True, text=True,
                           env=dict(os.environ, **self.env), timeout=timeout)
        if check and p.returncode != 0:
            raise RuntimeError("podman %s: %s" % (" ".join(args), p.stderr.strip()))
        return p

    def start(self):
        """Builds and imports the image; returns False (with `reason` set) when no container can
        run here."""
        busybox = shutil.which("busybox")
        if not PODMAN or not busybox:
            self.reason = "needs podman and busybox-static (scripts/setup installs them)"
            return False
        rootfs = os.path.join(self.tmp, "rootfs")
        for d in ("bin", "etc", "tmp", "proc", "sys", "dev"):
            os.makedirs(os.path.join(rootfs, d))
        shutil.copy(busybox, os.path.join(rootfs, "bin", "busybox"))
        for applet in BUSYBOX_APPLETS:
            os.symlink("busybox", os.path.join(rootfs, "bin", applet))
        # What a step sees only inside the image: proof that it ran there.
        with open(os.path.join(rootfs, "etc", "ringo-image"), "w") as f:
            f.write(self.short_name + "\n")
        tar = subprocess.Popen(["tar", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE)
        imported = subprocess.run([PODMAN, "import", "-", self.name], stdin=tar.stdout,
                                  capture_output=True, text=True, timeout=120)
        tar.stdout.close()
        tar.wait()
        if imported.returncode != 0:
            self.reason = "podman import failed: " + imported.stderr.strip()
            return False
        self.imported = True
        return self.find_configuration()

    def find_configuration(self):
        tried = []
        for conf in [None] + self.candidate_confs():
            self.env = {"CONTAINERS_CONF": conf} if conf else {}
            p = self.podman("run", "--rm", self.name, "true", check=False)
            if p.returncode == 0:
                return True
            tried.append(p.stderr.strip().splitlines()[-1] if p.stderr.strip() else
                         "exit %d" % p.returncode)
        self.env = {}
        self.reason = "podman cannot run a container here: " + " / ".join(tried)
        return False

    def candidate_confs(self):
        """containers.conf files with runc (when installed) and rlimits no higher than this
        process has: a process without CAP_SYS_RESOURCE cannot raise them for a container."""
        nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        nprocs = [resource.getrlimit(resource.RLIMIT_NPROC)[1]]
        with open("/proc/sys/kernel/pid_max") as f:
            nprocs.append(int(f.read()))  # podman lowers its own limit to this
        runtimes = ["runc"] if shutil.which("runc") else []
        confs = []
        for runtime in runtimes + [None]:
            for nproc in sorted({n for n in nprocs if n > 0}):
                path = os.path.join(self.tmp, "containers-%d.conf" % len(confs))
                with open(path, "w") as f:
                    f.write('[containers]\ndefault_ulimits = ["nofile=%d:%d", "nproc=%d:%d"]\n'
                            % (nofile, nofile, nproc, nproc))
                    if runtime:
                        f.write('[engine]\nruntime = "%s"\n' % runtime)
                confs.append(path)
        return confs

    def containers(self, run_id):
        """Names of the containers, running or not, labelled with run `run_id`."""
        p = self.podman("ps", "-a", "--filter", "label=ringo.runId=" + run_id,
                        "--format", "{{.Names}}")
        return p.stdout.split()

    def stop(self):
        if self.imported:
            self.podman("rmi", "-f", self.name, check=False)
        shutil.rmtree(self.tmp, True)
