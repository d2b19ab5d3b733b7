"""A private PostgreSQL server for end-to-end tests: initdb in a fresh temporary directory,
listening on 127.0.0.1 at an ephemeral port, removed by stop(). PostgreSQL refuses to run as
root, so under root the server runs as `nobody` (runuser). $RINGO_PG_BINDIR overrides where the
server binaries are (default /usr/lib/postgresql/15/bin)."""

import os
import shutil
import socket
import subprocess
import tempfile

BINDIR = os.environ.get("RINGO_PG_BINDIR") or "/usr/lib/postgresql/15/bin"


def backend():
    """The store engine the e2e servers use: "sqlite" (default) or "postgres", from
    $RINGO_TEST_BACKEND."""
    value = os.environ.get("RINGO_TEST_BACKEND", "sqlite") or "sqlite"
    if value not in ("sqlite", "postgres"):
        raise RuntimeError("RINGO_TEST_BACKEND=%s: expected sqlite or postgres" % value)
    return value


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivatePostgres:
    def __init__(self):
        if not os.path.exists(os.path.join(BINDIR, "initdb")):
            raise RuntimeError("no PostgreSQL server binaries in %s (install postgresql-15 or set "
                               "RINGO_PG_BINDIR)" % BINDIR)
        self.dir = tempfile.mkdtemp(prefix="ringo-e2e-pg-")
        self.data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "server.log")
        self.port = _free_port()
        self._as = []
        if os.geteuid() == 0:
            self._as = ["runuser", "-u", "nobody", "--"]
            shutil.chown(self.dir, user="nobody")
        self._run([os.path.join(BINDIR, "initdb"), "-D", self.data, "-U", "ringo", "-A", "trust",
                   "-E", "UTF8", "--locale=C", "--no-sync"])
        self.running = False

    @property
    def uri(self):
        return "postgresql://ringo@127.0.0.1:%d/postgres" % self.port

    def _run(self, args):
        r = subprocess.run(self._as + args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            output = r.stdout.decode("utf-8", "replace")
            raise RuntimeError("%s failed:\n%s" % (" ".join(args), output))

    def _ctl(self, *args):
        self._run([os.path.join(BINDIR, "pg_ctl"), "-D", self.data, "-w", "-t", "60"] + list(args))

    def start(self):
        # No fsync: these tests check ringo's behaviour, not the disk's.
        options = ("-p %d -c listen_addresses=127.0.0.1 -k %s -c fsync=off -c full_page_writes=off"
                   % (self.port, self.dir))
        self._ctl("-l", self.log, "-o", options, "start")
        self.running = True

    def stop(self):
        """Stops the server and removes its directory."""
        if self.running:
            try:
                self._ctl("-m", "immediate", "stop")
            finally:
                self.running = False
        shutil.rmtree(self.dir, ignore_errors=True)
