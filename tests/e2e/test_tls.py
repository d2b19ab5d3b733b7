"""HTTPS end to end: `ringo server --tls-cert/--tls-key` with a test CA made at test time (openssl
CLI, into a temporary directory), reached by the CLI, the pipeline runner, MLflow's Python client,
the device SDK and webhooks; a wrong CA refused with a clear error; MLFLOW_TRACKING_INSECURE_TLS;
certificate reload on SIGHUP; start errors."""

import http.client
import http.server
import json
import os
import shutil
import signal
import ssl
import subprocess
import tempfile
import textwrap
import threading
import time
import unittest

from harness import Server, make_core_ml_models, ringo_bin, unique

HERE = os.path.dirname(os.path.abspath(__file__))
VENVS = os.path.join(HERE, "..", "..", ".venvs")
HAVE_TORCH = subprocess.run(["/usr/bin/python3", "-c", "import torch"],
                            capture_output=True).returncode == 0


def mlflow_python():
    """The interpreter of an MLflow venv (scripts/setup makes them), or None."""
    for name in ("mlflow3", "mlflow2"):
        path = os.path.join(VENVS, name, "bin", "python")
        if os.access(path, os.X_OK):
            return os.path.abspath(path)
    return None


def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, capture_output=True)


class Pki:
    """Two CAs (the right one and a wrong one) and server certificates for 127.0.0.1 and
    localhost, made in a temporary directory."""

    def __init__(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="ringo-tls-")
        self.dir = self.tmp.name
        self.ca = self.make_ca("ca", "ringo test CA")
        self.wrong_ca = self.make_ca("wrong-ca", "some other CA")
        self.server = self.make_cert("server", "ca", "ringo test server")
        self.renewed = self.make_cert("renewed", "ca", "ringo renewed server")
        self.untrusted = self.make_cert("untrusted", "wrong-ca", "ringo untrusted server")

    def path(self, name):
        return os.path.join(self.dir, name)

    def make_ca(self, name, cn):
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", self.path(name + ".key"), "-out", self.path(name + ".pem"), "-days", "2",
                "-subj", "/CN=" + cn)
        return self.path(name + ".pem")

    def make_cert(self, name, ca, cn):
        """(cert, key) for `cn`, naming 127.0.0.1 and localhost, signed by `ca`."""
        ext = self.path(name + ".ext")
        with open(ext, "w") as f:
            f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                    "extendedKeyUsage=serverAuth\n")
        key, csr, cert = (self.path(name + s) for s in (".key", ".csr", ".pem"))
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", key, "-out", csr, "-subj", "/CN=" + cn)
        openssl("x509", "-req", "-in", csr, "-CA", self.path(ca + ".pem"), "-CAkey",
                self.path(ca + ".key"), "-CAcreateserial", "-out", cert, "-days", "2",
                "-extfile", ext)
        return cert, key


PKI = None


def setUpModule():
    global PKI
    if shutil.which("openssl") is None:
        raise unittest.SkipTest("needs the openssl command")
    PKI = Pki()


def tearDownModule():
    if PKI is not None:
        PKI.tmp.cleanup()


def run(args, env=None, timeout=120):
    full_env = dict(os.environ)
    for k in ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_SERVER_CERT_PATH",
              "MLFLOW_TRACKING_INSECURE_TLS"):
        full_env.pop(k, None)
    full_env.update(env or {})
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=full_env)


class TlsReceiver:
    """A webhook receiver speaking https on 127.0.0.1 with `cert`, recording every POST."""

    def __init__(self, cert):
        self.received = []
        self.cond = threading.Condition()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with outer.cond:
                    outer.received.append(body)
                    outer.cond.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*cert)
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.url = "https://127.0.0.1:%d/hook" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def wait_for(self, n, timeout=15.0):
        with self.cond:
            self.cond.wait_for(lambda: len(self.received) >= n, timeout)
            return list(self.received)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class TlsServerCase(unittest.TestCase):
    """A server with the test CA's certificate (copied, so a test may replace the files)."""

    @classmethod
    def setUpClass(cls):
        cls.files = tempfile.TemporaryDirectory(prefix="ringo-tls-files-")
        cls.cert = os.path.join(cls.files.name, "cert.pem")
        cls.key = os.path.join(cls.files.name, "key.pem")
        shutil.copy(PKI.server[0], cls.cert)
        shutil.copy(PKI.server[1], cls.key)
        cls.server = Server(extra_args=["--tls-cert", cls.cert, "--tls-key", cls.key,
                                        "--webhook-ca-cert", PKI.ca])
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        rc = cls.server.stop()
        cls.server.cleanup()
        cls.files.cleanup()
        assert rc == 0, "ringo server exited with %s" % rc

    def https(self, method, path, body=None, headers=None, ca=None):
        """One request on a fresh verified connection: (status, headers, body bytes)."""
        ctx = ssl.create_default_context(cafile=ca or PKI.ca)
        c = http.client.HTTPSConnection("127.0.0.1", self.server.port, context=ctx, timeout=60)
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body)
                headers = dict(headers or {}, **{"Content-Type": "application/json"})
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return r.status, dict(r.getheaders()), r.read()
        finally:
            c.close()

    def api(self, method, endpoint, body=None):
        status, _, data = self.https(method, "/api/2.0/mlflow/" + endpoint, body)
        self.assertEqual(status, 200, data[:500])
        return json.loads(data) if data else {}

    def cli(self, *args, env=None, ok=True):
        p = run([ringo_bin()] + list(args) + ["--tracking-uri", self.server.url], env=env)
        if ok:
            self.assertEqual(p.returncode, 0, (args, p.stdout, p.stderr))
        return p


class HttpsServerTest(TlsServerCase):
    def test_startup_line_says_https(self):
        self.assertTrue(self.server.url.startswith("https://127.0.0.1:"), self.server.url)

    def test_cli_creates_logs_and_lists(self):
        name = unique("tls")
        out = self.cli("experiments", "create", name, "--ca-cert", PKI.ca).stdout
        exp_id = out.strip().split()[-1]
        run_id = self.api("POST", "runs/create", {"experiment_id": exp_id})["run"]["info"]["run_id"]
        self.cli("log", "metric", "acc", "0.93", "--run-id", run_id, "--ca-cert", PKI.ca)
        # MLflow's variable does what --ca-cert does.
        listed = self.cli("runs", "list", "--experiment-id", exp_id, "--json",
                          env={"MLFLOW_TRACKING_SERVER_CERT_PATH": PKI.ca}).stdout
        self.assertIn(run_id, listed)
        got = self.api("GET", "runs/get?run_id=" + run_id)["run"]["data"]["metrics"]
        self.assertEqual([(m["key"], m["value"]) for m in got], [("acc", 0.93)])

    def test_ringo_python_client_reads_mlflow_variables(self):
        import ringo
        saved = os.environ.get("MLFLOW_TRACKING_SERVER_CERT_PATH")
        try:
            os.environ["MLFLOW_TRACKING_SERVER_CERT_PATH"] = PKI.ca
            client = ringo.RingoClient(self.server.url, max_retries=0)
            exp_id = client.create_experiment(unique("py-tls"))
            self.assertEqual(client.get_experiment(exp_id)["experiment_id"], exp_id)
            os.environ["MLFLOW_TRACKING_SERVER_CERT_PATH"] = PKI.wrong_ca
            with self.assertRaises(Exception) as refused:
                ringo.RingoClient(self.server.url, max_retries=0).get_experiment(exp_id)
            self.assertIn("CERTIFICATE_VERIFY_FAILED", str(refused.exception))
        finally:
            os.environ.pop("MLFLOW_TRACKING_SERVER_CERT_PATH", None)
            if saved is not None:
                os.environ["MLFLOW_TRACKING_SERVER_CERT_PATH"] = saved

    def test_wrong_or_missing_ca_is_refused_clearly(self):
        for args in (["--ca-cert", PKI.wrong_ca], []):
            p = self.cli("experiments", "list", *args, ok=False)
            self.assertEqual(p.returncode, 1, p.stderr)
            self.assertIn("TLS handshake with 127.0.0.1:%d failed" % self.server.port, p.stderr)
            self.assertIn("certificate verify failed: unable to get local issuer certificate",
                          p.stderr)
        p = self.cli("experiments", "list", ok=False, env={"MLFLOW_TRACKING_INSECURE_TLS": "true"})
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("Default", p.stdout)
        # A name the certificate does not carry is refused too.
        p = run([ringo_bin(), "experiments", "list", "--ca-cert", PKI.ca, "--tracking-uri",
                 "https://127.0.0.2:%d" % self.server.port])
        self.assertEqual(p.returncode, 1)
        self.assertTrue("mismatch" in p.stderr or "cannot connect" in p.stderr, p.stderr)
        p = self.cli("experiments", "list", "--ca-cert", "/nonexistent/ca.pem", ok=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("/nonexistent/ca.pem", p.stderr)

    def test_plain_http_to_a_tls_port_gets_nothing_useful(self):
        c = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=10)
        try:
            c.request("GET", "/health")
            with self.assertRaises((http.client.HTTPException, ConnectionError, OSError)):
                r = c.getresponse()
                if r.status:
                    raise http.client.HTTPException("answered %d" % r.status)
        finally:
            c.close()

    def test_uploads_ranges_and_ui_over_tls(self):
        data = os.urandom(3 * 1024 * 1024 + 17)
        path = "/api/2.0/mlflow-artifacts/artifacts/%s/big.bin" % unique("tls")
        status, _, _ = self.https("PUT", path, body=data,
                                  headers={"Content-Type": "application/octet-stream"})
        self.assertEqual(status, 200)
        status, _, got = self.https("GET", path)
        self.assertEqual((status, len(got)), (200, len(data)))
        self.assertEqual(got, data)
        status, headers, part = self.https("GET", path, headers={"Range": "bytes=1000-1999"})
        self.assertEqual((status, part), (206, data[1000:2000]))
        status, headers, body = self.https("HEAD", path)
        self.assertEqual((status, headers.get("Content-Length"), body), (200, str(len(data)), b""))
        status, _, page = self.https("GET", "/")
        self.assertEqual(status, 200)
        self.assertIn(b"<html", page.lower())

    def test_keep_alive_connection_serves_many_requests(self):
        ctx = ssl.create_default_context(cafile=PKI.ca)
        c = http.client.HTTPSConnection("127.0.0.1", self.server.port, context=ctx, timeout=30)
        try:
            for _ in range(20):
                c.request("GET", "/health")
                r = c.getresponse()
                self.assertEqual(r.status, 200)
                r.read()
        finally:
            c.close()

    @unittest.skipUnless(mlflow_python(), "needs an MLflow venv (scripts/setup)")
    def test_mlflow_python_client_logs_a_run(self):
        name = unique("mlflow-tls")
        script = textwrap.dedent("""\
            import mlflow
            mlflow.set_experiment(%r)
            with mlflow.start_run() as r:
                mlflow.log_param("lr", "0.1")
                mlflow.log_metric("loss", 0.25, step=1)
            print(r.info.run_id)
            """ % name)
        p = run([mlflow_python(), "-c", script],
                env={"MLFLOW_TRACKING_URI": self.server.url,
                     "MLFLOW_TRACKING_SERVER_CERT_PATH": PKI.ca, "GIT_PYTHON_REFRESH": "quiet"},
                timeout=180)
        self.assertEqual(p.returncode, 0, p.stderr[-3000:])
        run_id = p.stdout.strip().splitlines()[-1]
        data = self.api("GET", "runs/get?run_id=" + run_id)["run"]["data"]
        self.assertEqual([(m["key"], m["value"]) for m in data["metrics"]], [("loss", 0.25)])
        # Without the CA MLflow's client refuses the server as well.
        p = run([mlflow_python(), "-c", script],
                env={"MLFLOW_TRACKING_URI": self.server.url, "GIT_PYTHON_REFRESH": "quiet",
                     "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}, timeout=180)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("CERTIFICATE_VERIFY_FAILED", p.stderr)

    @unittest.skipUnless(mlflow_python(), "needs an MLflow venv (scripts/setup)")
    def test_pipeline_step_logs_through_mlflow_over_https(self):
        project = tempfile.mkdtemp(prefix="ringo-tls-project-")
        try:
            with open(os.path.join(project, "step.py"), "w") as f:
                f.write(textwrap.dedent("""\
                    import os
                    import mlflow
                    assert os.environ["MLFLOW_TRACKING_SERVER_CERT_PATH"]
                    with mlflow.start_run():
                        mlflow.log_metric("tls_metric", 7.0)
                    """))
            with open(os.path.join(project, "MLproject"), "w") as f:
                f.write(textwrap.dedent("""\
                    name: tls
                    entry_points:
                      main:
                        command: "%s step.py"
                    """ % mlflow_python()))
            exp = unique("tls-run")
            p = run([ringo_bin(), "run", project, "--tracking-uri", self.server.url,
                     "--ca-cert", PKI.ca, "--experiment-name", exp],
                    env={"GIT_PYTHON_REFRESH": "quiet"}, timeout=240)
            self.assertEqual(p.returncode, 0, p.stdout[-2000:] + p.stderr[-3000:])
            exp_id = self.api("GET", "experiments/get-by-name?experiment_name=" + exp)[
                "experiment"]["experiment_id"]
            runs = self.api("POST", "runs/search", {"experiment_ids": [exp_id]}).get("runs", [])
            metrics = [(m["key"], m["value"]) for r in runs for m in r["data"].get("metrics", [])]
            self.assertIn(("tls_metric", 7.0), metrics)
        finally:
            shutil.rmtree(project, ignore_errors=True)

    def test_webhook_delivered_over_https_and_wrong_ca_logged_failed(self):
        good = TlsReceiver(PKI.server)
        bad = TlsReceiver(PKI.untrusted)
        try:
            for receiver in (good, bad):
                self.api("POST", "webhooks", {
                    "name": unique("hook").replace("_", "-"), "url": receiver.url,
                    "events": [{"entity": "REGISTERED_MODEL", "action": "CREATED"}]})
            name = unique("tls-model")
            self.api("POST", "registered-models/create", {"name": name})
            got = good.wait_for(1)
            self.assertEqual(len(got), 1)
            self.assertEqual(json.loads(got[0])["data"]["name"], name)
            deadline = time.time() + 20
            failed = []
            while time.time() < deadline and not any(d["attempt"]["final"] for d in failed):
                status, _, body = self.https("GET", "/api/ringo/v1/webhook-deliveries?limit=1000")
                self.assertEqual(status, 200)
                failed = [d for d in json.loads(body)["deliveries"]
                          if d["attempt"]["url"] == bad.url]
                time.sleep(0.2)
            self.assertTrue(failed and failed[-1]["attempt"]["final"], failed)
            self.assertEqual(bad.received, [])
            self.assertIn("certificate verify failed", failed[-1]["attempt"]["error"])
        finally:
            good.close()
            bad.close()

    @unittest.skipUnless(HAVE_TORCH, "needs Debian's python3-torch to make Core ML models")
    def test_device_sdk_fetches_manifest_and_blob_over_https(self):
        tmp = tempfile.mkdtemp(prefix="ringo-tls-device-")
        try:
            files = make_core_ml_models(tmp)
            model, coll = unique("tlsmodel"), unique("tlsfleet")
            ca = ["--ca-cert", PKI.ca]
            out = self.cli("models", "register", files["mlpackage"], "--name", model, *ca).stdout
            version = out.split("version ")[1].split()[0]
            self.cli("collections", "create", coll, "--model", model, *ca)
            dep = self.cli("deployments", "create", coll, "--model", "%s=%s" % (model, version),
                           *ca).stdout.strip()
            self.cli("channels", "promote", coll, "release", dep, *ca)
            sim = ["device", "simulate", "--collection", coll, "--channel", "release",
                   "--count", "2", "--storage", os.path.join(tmp, "devices"), "--json"]
            p = self.cli(*sim, *ca)
            devices = json.loads(p.stdout)["devices"]
            self.assertEqual({d["deployment_id"] for d in devices}, {dep}, p.stdout)
            installed = os.path.join(tmp, "devices", devices[0]["device_id"], "deployments", dep)
            self.assertTrue(os.path.isdir(installed), os.listdir(os.path.dirname(installed)))
            # A held long-poll is answered over TLS as well: 304 at its deadline.
            manifest = "/api/deploy/v1/collections/%s/channels/release/manifest" % coll
            status, headers, _ = self.https("GET", manifest + "?device_id=tls-phone")
            self.assertEqual(status, 200)
            started = time.monotonic()
            status, _, _ = self.https("GET", manifest + "?device_id=tls-phone&wait=1",
                                      headers={"If-None-Match": headers["ETag"]})
            self.assertEqual(status, 304)
            self.assertGreater(time.monotonic() - started, 0.8)
            # Devices never skip verification: the CLI's client may (to fetch the key), the
            # devices without the CA refuse the server and say why.
            sim[sim.index("--storage") + 1] = os.path.join(tmp, "refused")
            p = self.cli(*sim, ok=False, env={"MLFLOW_TRACKING_INSECURE_TLS": "true"})
            self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
            self.assertIn("certificate verify failed", p.stdout + p.stderr)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def peer_certificate(port, ca):
    """The subject CN and serial of the certificate a new connection to `port` is shown."""
    ctx = ssl.create_default_context(cafile=ca)
    c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10)
    try:
        c.connect()
        cert = c.sock.getpeercert()
    finally:
        c.close()
    subject = dict(x[0] for x in cert["subject"])
    return subject["commonName"], cert["serialNumber"]


def serial_of(cert_path):
    out = subprocess.run(["openssl", "x509", "-in", cert_path, "-noout", "-serial"],
                         capture_output=True, text=True, check=True).stdout
    return out.strip().split("=", 1)[1].upper()


class ReloadTest(TlsServerCase):
    def test_sighup_swaps_the_certificate_for_new_connections(self):
        self.assertEqual(peer_certificate(self.server.port, PKI.ca),
                         ("ringo test server", serial_of(PKI.server[0])))
        # A bad pair (a key of another certificate) is refused; the old certificate stays.
        shutil.copy(PKI.renewed[1], self.key)
        self.server.proc.send_signal(signal.SIGHUP)
        time.sleep(1)
        self.assertIn("TLS certificate not reloaded", self.server.stderr_tail())
        self.assertEqual(peer_certificate(self.server.port, PKI.ca)[0], "ringo test server")
        shutil.copy(PKI.renewed[0], self.cert)
        self.server.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 10
        seen = None
        while time.time() < deadline:
            seen = peer_certificate(self.server.port, PKI.ca)
            if seen[0] == "ringo renewed server":
                break
            time.sleep(0.1)
        self.assertEqual(seen, ("ringo renewed server", serial_of(PKI.renewed[0])))
        self.assertIsNone(self.server.proc.poll(), "the server keeps running")
        status, _, _ = self.https("GET", "/health")
        self.assertEqual(status, 200)


class SessionCookieTest(TlsServerCase):
    def test_ui_session_cookie_is_secure_over_https(self):
        status, _, body = self.https("POST", "/api/ringo/v1/tokens",
                                     {"scope": "admin", "name": "tls-admin"})
        self.assertEqual(status, 200, body)
        token = json.loads(body)["token"]
        status, headers, body = self.https("POST", "/api/ringo/v1/session", {"token": token},
                                           headers={"Origin": self.server.url})
        self.assertEqual(status, 200, body)
        cookie = headers.get("Set-Cookie", "")
        for attribute in ("HttpOnly", "SameSite=Strict", "Secure"):
            self.assertIn(attribute, cookie)


class StartErrorsTest(unittest.TestCase):
    def start(self, *args):
        store = tempfile.mkdtemp(prefix="ringo-tls-start-")
        try:
            return run([ringo_bin(), "server", "--port", "0", "--store",
                        os.path.join(store, "s")] + list(args), timeout=30)
        finally:
            shutil.rmtree(store, ignore_errors=True)

    def test_bad_tls_options_stop_the_start(self):
        cert, key = PKI.server
        p = self.start("--tls-cert", cert)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("--tls-cert and --tls-key go together", p.stderr)
        p = self.start("--tls-cert", cert, "--tls-key", PKI.renewed[1])
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("TLS private key", p.stderr)
        self.assertIn("mismatch", p.stderr)
        p = self.start("--tls-cert", key, "--tls-key", key)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("cannot load the TLS certificate", p.stderr)
        p = self.start("--tls-cert", "/nonexistent/cert.pem", "--tls-key", key)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("/nonexistent/cert.pem", p.stderr)
        p = self.start("--webhook-ca-cert", key)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("--webhook-ca-cert", p.stderr)


if __name__ == "__main__":
    unittest.main()
