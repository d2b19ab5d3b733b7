"""Starts the real `ringo server` on 127.0.0.1 with an ephemeral port and a fresh store, and
sends raw HTTP requests to it. Used by every black-box test in this folder."""

import http.client
import http.server
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tarfile
import tempfile
import threading
import time
import unittest
import urllib.parse
import uuid

import private_postgres
import private_s3

STARTUP_TIMEOUT = 20.0
STOP_TIMEOUT = 20.0
API = "/api/2.0/mlflow/"
AJAX = "/ajax-api/2.0/mlflow/"
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"

_LISTENING = re.compile(r"listening on (https?://\S+)")


def ringo_bin():
    """Path of the binary under test, from $RINGO_BIN; skips the test when unset."""
    path = os.environ.get("RINGO_BIN")
    if not path:
        raise unittest.SkipTest("RINGO_BIN is not set (ctest sets it to the built ringo binary)")
    if not os.access(path, os.X_OK):
        raise RuntimeError("RINGO_BIN=%s is not an executable file" % path)
    return path


def _strict_constant(token):
    raise ValueError("bare %s token in JSON (proto3 JSON needs the string form)" % token)


def parse_json(body):
    """Parses a response body as JSON, refusing bare NaN/Infinity tokens.
    Returns None for an empty body; raises ValueError for invalid JSON."""
    if not body.strip():
        return None
    return json.loads(body, parse_constant=_strict_constant)


class Response:
    """One HTTP answer. Unpacks as (status, headers, body, json)."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body
        try:
            self.json = parse_json(body)
            self.json_error = None
        except ValueError as e:
            self.json = None
            self.json_error = str(e)

    def __iter__(self):
        return iter((self.status, self.headers, self.body, self.json))

    def header(self, name):
        return self.headers.get(name)

    def __repr__(self):
        return "<Response %d %r>" % (self.status, self.body[:300])


class Server:
    """One `ringo server` process on a store directory.

    start() launches it and waits (STARTUP_TIMEOUT s) for the "listening on" line;
    stop() sends SIGTERM and returns the exit code; kill() sends SIGKILL. The store
    directory outlives restarts of the same Server object.
    """

    # Test receivers of webhooks listen on loopback, which servers refuse by default.
    def __init__(self, store=None, extra_args=(), webhook_allow=("127.0.0.1/32",), env=None):
        self.bin = ringo_bin()
        self._own_tmp = None
        if store is None:
            self._own_tmp = tempfile.mkdtemp(prefix="ringo-e2e-")
            store = os.path.join(self._own_tmp, "store")
        self.store = store
        self.workdir = os.path.dirname(os.path.abspath(store))
        self.extra_args = list(extra_args)
        self.env = dict(os.environ, **env) if env else None
        for r in webhook_allow:
            self.extra_args += ["--webhook-allow", r]
        # Under RINGO_TEST_BACKEND=postgres each Server has a PostgreSQL server of its own,
        # started with it and kept across its restarts, so the same tests run on either engine.
        self.postgres = None
        if private_postgres.backend() == "postgres" and not any(
                a.startswith("--backend-store-uri") for a in self.extra_args):
            self.postgres = private_postgres.PrivatePostgres()
            self.extra_args += ["--backend-store-uri", self.postgres.uri]
        # Under RINGO_TEST_ARTIFACTS=s3 each Server keeps its artifacts in a private S3 server.
        self.s3 = None
        if private_s3.artifacts_backend() == "s3" and not any(
                a.startswith("--artifacts-destination") for a in self.extra_args):
            self.s3 = private_s3.PrivateS3()
            self.extra_args += ["--artifacts-destination", "s3://%s/e2e" % private_s3.BUCKET,
                                "--s3-endpoint-url", self.s3.endpoint]
            self.env = dict(self.env or os.environ, **self.s3.env)
        self.proc = None
        self.url = None
        self.host = None
        self.port = None
        self._stdout_lines = []
        self._stderr_path = None
        self._starts = 0

    # -------------------------------------------------------------------- lifecycle

    def start(self):
        if self.postgres is not None and not self.postgres.running:
            self.postgres.start()
        if self.s3 is not None and not self.s3.running:
            self.s3.start()
        self._starts += 1
        self._stderr_path = os.path.join(self.workdir, "server-%d.log" % self._starts)
        err = open(self._stderr_path, "wb")
        cmd = [self.bin, "server", "--host", "127.0.0.1", "--port", "0", "--store", self.store] + self.extra_args
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL,
                                     cwd=self.workdir, env=self.env)
        err.close()
        found = threading.Event()
        lines = self._stdout_lines = []

        def pump(stream):
            # Keeps draining stdout so the server never blocks on a full pipe.
            for raw in iter(stream.readline, b""):
                line = raw.decode("utf-8", "replace").rstrip("\n")
                lines.append(line)
                m = _LISTENING.search(line)
                if m and not found.is_set():
                    self.url = m.group(1).rstrip("/")
                    found.set()
            stream.close()

        threading.Thread(target=pump, args=(self.proc.stdout,), daemon=True).start()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not found.wait(0.05):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                rc = self.proc.poll()
                if rc is None:
                    self.proc.kill()
                    self.proc.wait()
                raise AssertionError("ringo server did not report listening within %.0f s (exit %s)\n"
                                     "stdout:\n%s\nstderr:\n%s" % (STARTUP_TIMEOUT, rc, "\n".join(lines),
                                                                   self.stderr_tail()))
        u = urllib.parse.urlsplit(self.url)
        self.host, self.port = u.hostname, u.port
        return self.url

    def stop(self):
        """SIGTERM, wait, return the exit code (kills and fails after STOP_TIMEOUT)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("ringo server ignored SIGTERM for %.0f s\n%s" % (STOP_TIMEOUT, self.stderr_tail()))
        finally:
            self.proc = None
        return rc

    def kill(self):
        """SIGKILL the server (no chance to flush anything) and reap it."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def unsafe_blob_entries(self):
        """Names in the store's package blobs (tar archives) that an extractor could place
        outside its folder: absolute, or holding a '..' segment, or anything but files and
        folders. Every test server is checked when it is cleaned up."""
        bad = []
        blobs = os.path.join(self.store, "deploy", "blobs")
        if not os.path.isdir(blobs):
            return bad
        for name in os.listdir(blobs):
            path = os.path.join(blobs, name)
            if not tarfile.is_tarfile(path):
                continue
            with tarfile.open(path) as tar:
                for m in tar.getmembers():
                    parts = m.name.split("/")
                    if m.name.startswith("/") or ".." in parts or not (m.isfile() or m.isdir()):
                        bad.append("%s: %s" % (name, m.name))
        return bad

    def cleanup(self):
        if self.proc is not None:
            self.kill()
        unsafe = self.unsafe_blob_entries()
        if self.postgres is not None:
            self.postgres.stop()
        if self.s3 is not None:
            self.s3.stop()
        if self._own_tmp:
            shutil.rmtree(self._own_tmp, ignore_errors=True)
        if unsafe:
            raise AssertionError("package blobs hold unsafe tar entries: %s" % unsafe)

    def stderr_tail(self, n=4000):
        try:
            with open(self._stderr_path, "rb") as f:
                return f.read()[-n:].decode("utf-8", "replace")
        except (OSError, TypeError):
            return ""

    # --------------------------------------------------------------------- requests

    def connect(self, timeout=60):
        c = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        c.connect()
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return c

    def request(self, method, path, body=None, headers=None, query=None, timeout=60):
        """Sends one request on a fresh connection and returns a Response.

        `path` is sent verbatim (no normalisation, so traversal probes reach the
        server as written). `query`: dict, list values repeat the parameter.
        `body`: bytes/str sent as is, any other object JSON-encoded (allow_nan off).
        """
        hdrs = dict(headers or {})
        if body is not None and not isinstance(body, (bytes, bytearray, str)):
            body = json.dumps(body, allow_nan=False)
            hdrs.setdefault("Content-Type", "application/json")
        if isinstance(body, str):
            body = body.encode("utf-8")
        if query:
            pairs = []
            for k, v in query.items():
                for x in (v if isinstance(v, (list, tuple)) else [v]):
                    pairs.append((k, str(x)))
            path += ("&" if "?" in path else "?") + urllib.parse.urlencode(pairs)
        conn = self.connect(timeout)
        try:
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            data = resp.read()
            return Response(resp.status, resp.headers, data)
        finally:
            conn.close()

    def api(self, method, endpoint, body=None, query=None, prefix=API, headers=None):
        """Request to an MLflow endpoint, e.g. api("POST", "runs/create", {...})."""
        return self.request(method, prefix + endpoint, body=body, query=query, headers=headers)


def unique(prefix="x"):
    """A fresh name, so tests sharing one server never collide."""
    return "%s-%s" % (prefix, uuid.uuid4().hex[:12])


class ServerTestCase(unittest.TestCase):
    """One server per test class, stopped with SIGTERM after the class; the class
    fails if the server does not exit with code 0."""

    server = None

    @classmethod
    def setUpClass(cls):
        cls.server = Server()
        try:
            cls.server.start()
        except BaseException:
            cls.server.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            rc = cls.server.stop()
            if rc != 0:
                raise AssertionError("ringo server exited with %s after SIGTERM\n%s" % (rc, cls.server.stderr_tail()))
        finally:
            cls.server.cleanup()

    # ----------------------------------------------------------------- assertions

    def call(self, method, endpoint, body=None, query=None, prefix=API):
        return self.server.api(method, endpoint, body=body, query=query, prefix=prefix)

    def ok(self, method, endpoint, body=None, query=None, prefix=API):
        """Asserts a 200 JSON answer and returns the parsed object ({} if empty)."""
        r = self.call(method, endpoint, body, query, prefix)
        self.assertEqual(r.status, 200, "%s %s%s -> %r" % (method, prefix, endpoint, r))
        self.assertIsNone(r.json_error, r.json_error)
        return r.json if r.json is not None else {}

    def assertError(self, r, status, codes=None, msg_contains=None):
        """Asserts an MLflow error answer: `status` (int or tuple), a JSON body with
        error_code in `codes` (str or tuple; any if None) and a message string."""
        statuses = status if isinstance(status, tuple) else (status,)
        self.assertIn(r.status, statuses, repr(r))
        self.assertIsInstance(r.json, dict, "error body is not a JSON object: %r" % r)
        self.assertIn("error_code", r.json, repr(r))
        self.assertIsInstance(r.json.get("message"), str, repr(r))
        if codes is not None:
            self.assertIn(r.json["error_code"], codes if isinstance(codes, tuple) else (codes,), repr(r))
        if msg_contains is not None:
            self.assertIn(msg_contains, r.json["message"], repr(r))
        return r.json

    def err(self, status, codes, method, endpoint, body=None, query=None, prefix=API, msg_contains=None):
        return self.assertError(self.call(method, endpoint, body, query, prefix), status, codes, msg_contains)

    # --------------------------------------------------------------------- fixtures

    def new_experiment(self, prefix="exp", tags=None):
        body = {"name": unique(prefix)}
        if tags:
            body["tags"] = [{"key": k, "value": v} for k, v in tags.items()]
        return self.ok("POST", "experiments/create", body)["experiment_id"]

    def new_run(self, experiment_id="0", **fields):
        body = {"experiment_id": experiment_id}
        body.update(fields)
        return self.ok("POST", "runs/create", body)["run"]

    def get_run(self, run_id):
        return self.ok("GET", "runs/get", query={"run_id": run_id})["run"]


def kv(entries):
    """[{key, value}] -> {key: value}."""
    return {e["key"]: e["value"] for e in entries or []}


def metric_value(v):
    """A metric value from a response: a number, or the strings "NaN", "Infinity", "-Infinity"."""
    if isinstance(v, str):
        return float({"NaN": "nan", "Infinity": "inf", "-Infinity": "-inf"}[v])
    return float(v)


def make_core_ml_models(directory):
    """Exports a small MLP with Debian's PyTorch and converts it with the binary under test to
    both Core ML formats; returns {"mlmodel": path, "mlpackage": path}."""
    here = os.path.dirname(os.path.abspath(__file__))
    subprocess.run(["/usr/bin/python3", os.path.join(here, "..", "coreml", "export_models.py"), directory, "mlp"],
                   check=True, capture_output=True)
    files = {}
    for ext in ("mlmodel", "mlpackage"):
        out = os.path.join(directory, "m." + ext)
        subprocess.run([ringo_bin(), "convert", os.path.join(directory, "mlp.onnx"), "-o", out], check=True,
                       capture_output=True)
        files[ext] = out
    return files


class Receiver:
    """A webhook receiver on 127.0.0.1 (ephemeral port) recording every POST. The first
    `fail_first` requests are answered 500, to exercise retries."""

    def __init__(self, fail_first=0):
        self.received = []
        self.attempts = 0
        self.fail_first = fail_first
        self.cond = threading.Condition()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with outer.cond:
                    outer.attempts += 1
                    fail = outer.attempts <= outer.fail_first
                    if not fail:
                        outer.received.append((dict(self.headers), body))
                    outer.cond.notify_all()
                self.send_response(500 if fail else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/hook" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, n, timeout=10.0):
        with self.cond:
            self.cond.wait_for(lambda: len(self.received) >= n, timeout)
            return list(self.received)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
