"""A private S3-compatible server for end-to-end tests: versitygw (built by scripts/setup into
.tools/bin) over a fresh temporary directory, on 127.0.0.1 at an ephemeral port, with one bucket
"ringo". $RINGO_VERSITYGW overrides the binary. Its ETags are checksum-derived rather than MD5s
(--data-integrity-etag): the MD5 of every byte held its uploads to ~300 MB/s on a 2-core machine,
below what the proxy's benchmark measures; S3's ETags are opaque, and ringo treats them so.
Under RINGO_TEST_ARTIFACTS=s3 every harness Server keeps its artifacts there
(--artifacts-destination s3://ringo/<prefix>)."""

import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ACCESS_KEY = "ringo-test-key"
SECRET_KEY = "ringo-test-secret-0123456789"
BUCKET = "ringo"


def artifacts_backend():
    """Where the e2e servers keep artifacts: "local" (default) or "s3", from
    $RINGO_TEST_ARTIFACTS."""
    value = os.environ.get("RINGO_TEST_ARTIFACTS", "local") or "local"
    if value not in ("local", "s3"):
        raise RuntimeError("RINGO_TEST_ARTIFACTS=%s: expected local or s3" % value)
    return value


def _binary():
    path = os.environ.get("RINGO_VERSITYGW") or os.path.join(ROOT, ".tools", "bin", "versitygw")
    if not os.path.exists(path):
        raise RuntimeError("no S3 server at %s: scripts/setup builds it" % path)
    return path


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateS3:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="ringo-e2e-s3-")
        self.root = os.path.join(self.dir, "gw")
        os.makedirs(os.path.join(self.root, BUCKET))
        self.port = _free_port()
        self.proc = None

    @property
    def endpoint(self):
        return "http://127.0.0.1:%d" % self.port

    @property
    def env(self):
        """What a process needs in its environment to use this server."""
        return {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
                "AWS_DEFAULT_REGION": "us-east-1", "MLFLOW_S3_ENDPOINT_URL": self.endpoint}

    def object_path(self, key):
        """Where versitygw keeps object `key` of the bucket on disk."""
        return os.path.join(self.root, BUCKET, key)

    def start(self):
        log = open(os.path.join(self.dir, "gw.log"), "wb")
        self.proc = subprocess.Popen(
            [_binary(), "--port", "127.0.0.1:%d" % self.port, "--access", ACCESS_KEY,
             "--secret", SECRET_KEY, "posix", "--data-integrity-etag", self.root],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                urllib.request.urlopen(self.endpoint + "/", timeout=1)
                return
            except urllib.error.HTTPError:
                return  # it answers (403 without a signature)
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        raise RuntimeError("versitygw did not start:\n" +
                           open(os.path.join(self.dir, "gw.log")).read())

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """Stops the server and removes its directory."""
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)
