"""The server launcher of MLflow's tracking test files, replaced: every server these tests start
is a fresh `ringo server` (binary from RINGO_BIN) on 127.0.0.1 with a store of its own, in place of
MLflow's own server. With SUITE_SERVER=mlflow, `_init_server` starts MLflow's own server instead
(from the running interpreter), for the baseline of the same files in the same run. The backend URI the test asks for decides where that store lives: a sqlite
URI names ringo's database file; a file: URI (MLflow's file store, which ringo does not have) a
directory holding a ringo store. As MLflow's launcher does, a file: root_artifact_uri gets a fresh
directory beneath it as the server's --default-artifact-root, which clients write to directly."""

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.parse

import requests

from tests.helper_functions import get_safe_port  # noqa: F401 (MLflow's files import it here)

_LISTENING = re.compile(r"listening on (http://\S+)")


def _store_args(backend_uri, workdir, root_artifact_uri=None):
    u = urllib.parse.urlsplit(backend_uri)
    root = urllib.parse.urlsplit(root_artifact_uri or "")
    if root.scheme == "file":
        os.makedirs(urllib.parse.unquote(root.path), exist_ok=True)
        artifacts = ["--default-artifact-root",
                     "file://" + tempfile.mkdtemp(dir=urllib.parse.unquote(root.path))]
    elif u.scheme == "sqlite":
        artifacts = ["--artifacts-destination",
                     os.path.join(os.path.dirname(backend_uri[len("sqlite:///"):]), "ringo-artifacts")]
    else:
        artifacts = []
    if u.scheme == "sqlite":
        return ["--backend-store-uri", backend_uri] + artifacts
    if u.scheme == "file":
        return ["--store", urllib.parse.unquote(u.path)] + artifacts
    return ["--store", os.path.join(workdir, "store")] + artifacts


_AUTH_APP = "mlflow.server.auth:create_app"


def _auth_args(env):
    """MLflow's basic-auth app as ringo serves it: the admin and the default permission of
    MLflow's auth configuration (its defaults, or the file MLFLOW_AUTH_CONFIG_PATH names)."""
    import configparser

    from mlflow.server.auth import auth_config

    admin, password, default = (auth_config.admin_username, auth_config.admin_password,
                                auth_config.default_permission)
    path = env.get("MLFLOW_AUTH_CONFIG_PATH")
    if path and os.path.isfile(path):
        ini = configparser.ConfigParser()
        ini.read(path)
        section = ini["mlflow"]
        admin = section.get("admin_username", admin)
        password = section.get("admin_password", password)
        default = section.get("default_permission", default)
    env["MLFLOW_AUTH_ADMIN_USERNAME"], env["MLFLOW_AUTH_ADMIN_PASSWORD"] = admin, password
    return ["--default-permission", default]


class _RingoServer:
    def __init__(self, backend_uri, extra_env=None, root_artifact_uri=None, app=None):
        self.workdir = tempfile.mkdtemp(prefix="ringo-mlflow-suite-")
        env = dict(os.environ, **(extra_env or {}))
        cmd = [os.environ["RINGO_BIN"], "server", "--host", "127.0.0.1", "--port", "0"]
        cmd += _store_args(backend_uri, self.workdir, root_artifact_uri)
        if app == _AUTH_APP:
            cmd += _auth_args(env)
        self.log = open(os.path.join(self.workdir, "server.log"), "wb")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.log,
                                     stdin=subprocess.DEVNULL, env=env)
        self.url = None
        found = threading.Event()

        def pump():
            for raw in iter(self.proc.stdout.readline, b""):
                m = _LISTENING.search(raw.decode("utf-8", "replace"))
                if m and not found.is_set():
                    self.url = m.group(1).rstrip("/")
                    found.set()

        threading.Thread(target=pump, daemon=True).start()
        if not found.wait(30):
            self.stop()
            raise RuntimeError("ringo server did not start: %s" % " ".join(cmd))

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.workdir, True)


class _MlflowServer:
    def __init__(self, backend_uri, root_artifact_uri, extra_env=None, app=None):
        import socket
        import sys

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        os.makedirs(urllib.parse.urlsplit(root_artifact_uri).path, exist_ok=True)
        root = tempfile.mkdtemp(dir=urllib.parse.urlsplit(root_artifact_uri).path)
        env = dict(os.environ, **(extra_env or {}))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", backend_uri,
             "--default-artifact-root", "file://" + root, "--host", "127.0.0.1",
             "--port", str(port), "--workers", "1"]
            + (["--app-name", "basic-auth"] if app == _AUTH_APP else []),
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        self.url = "http://127.0.0.1:%d" % port
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                requests.get(self.url + "/health", timeout=1)
                return
            except requests.RequestException:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("MLflow's server did not start")

    def stop(self):
        # MLflow's server runs gunicorn workers: the whole session goes.
        import signal

        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.proc.pid, sig)
                self.proc.wait(10)
                return
            except subprocess.TimeoutExpired:
                continue
            except OSError:
                return


@contextlib.contextmanager
def _init_server(backend_uri, root_artifact_uri=None, extra_env=None, app=None, **_ignored):
    import mlflow

    mlflow.set_tracking_uri(None)
    if os.environ.get("SUITE_SERVER") == "mlflow":
        server = _MlflowServer(backend_uri, root_artifact_uri, extra_env, app)
    else:
        server = _RingoServer(backend_uri, extra_env, root_artifact_uri, app)
    try:
        yield server.url
    finally:
        server.stop()


def _initialised_artifact_root():
    """The default artifact root the test gave MLflow's `initialize_backend_stores` before
    starting its in-process server, which ringo's server then gets too; None when none."""
    try:
        from mlflow.server import handlers
    except ImportError:
        return None
    return getattr(handlers._tracking_store, "artifact_root_uri", None)


class ServerThread:
    """Stands in for MLflow's in-process server thread: a fresh ringo store per use, the app
    argument ignored, with the file: artifact root the test initialised MLflow's stores with.
    With SUITE_SERVER=mlflow it serves `app` (MLflow's own, on the backend the fixture
    initialised) in this process with uvicorn instead, for the baseline."""

    def __init__(self, app=None, port=None):
        self.app, self.port = app, port
        self.saved_uri = None
        self.server = None
        self.thread = None

    def __enter__(self):
        if os.environ.get("SUITE_SERVER") != "mlflow":
            self.server = _RingoServer("", root_artifact_uri=_initialised_artifact_root())
            # MLflow's `initialize_backend_stores` points the process's tracking URI at the
            # database its in-process server serves (the CLI tests write through it); here that
            # server is ringo's.
            from mlflow.tracking._tracking_service import utils

            self.saved_uri = (utils._tracking_uri, os.environ.get("MLFLOW_TRACKING_URI"))
            utils.set_tracking_uri(self.server.url)
            return self.server.url
        import uvicorn

        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port,
                                                    log_level="error"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        url = "http://127.0.0.1:%d" % self.port
        deadline = time.time() + 30
        while not self.server.started and time.time() < deadline:
            time.sleep(0.05)
        return url

    def __exit__(self, *exc):
        if self.thread is None:
            self.server.stop()
            from mlflow.tracking._tracking_service import utils

            utils._tracking_uri, env = self.saved_uri
            if env is None:
                os.environ.pop("MLFLOW_TRACKING_URI", None)
            else:
                os.environ["MLFLOW_TRACKING_URI"] = env
            return
        self.server.should_exit = True
        self.thread.join(10)


def _send_rest_tracking_post_request(tracking_server_uri, api_path, json_payload, auth=None):
    return requests.post(tracking_server_uri + api_path, json=json_payload, auth=auth)
