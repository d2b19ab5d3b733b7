"""Hostile input and the scope rules, probed as an attacker holding each kind of token would."""

import json
import re
import os
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from harness import API, ARTIFACTS, Server, ServerTestCase, make_core_ml_models, ringo_bin, unique

HAVE_TORCH = subprocess.run(["/usr/bin/python3", "-c", "import torch"], capture_output=True).returncode == 0

SIXTEEN_MB = 16 * 1024 * 1024
SCOPES = ("admin", "write", "read", "device")
# What each token scope may reach, by the access a route states.
COVERS = {
    "admin": {"any", "read", "write", "admin", "device"},
    "write": {"any", "read", "write"},
    "read": {"any", "read"},
    "device": {"any", "device"},
}


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def concrete(pattern):
    """A request path for a route pattern: prefix routes ('...*') get a name under them, {name}
    segments a value."""
    path = "/".join("x" if seg.startswith("{") else seg for seg in pattern.split("/"))
    return path[:-1] + "x" if path.endswith("*") else path


class HostileJsonTest(ServerTestCase):
    """No JSON a client sends may take the server down or be kept unchecked."""

    def json_routes(self):
        routes = self.ok("GET", "/api/ringo/v1/routes", prefix="")["routes"]
        # Uploads (PUT to the proxy, upload-artifact) take files, not JSON.
        return [r for r in routes if r["method"] in ("POST", "PATCH", "DELETE")
                and not r["path"].endswith("upload-artifact")]

    def assertAlive(self):
        self.assertEqual(self.server.request("GET", "/health").status, 200, self.server.stderr_tail())

    def test_deep_nesting_is_refused_by_every_endpoint(self):
        deep = "[" * 100000 + "]" * 100000
        deep_in_object = '{"events": ' + deep + "}"
        for route in self.json_routes():
            for body in (deep, deep_in_object):
                r = self.server.request(route["method"], concrete(route["path"]), body=body,
                                        headers={"Content-Type": "application/json"})
                self.assertTrue(400 <= r.status < 500 or r.status == 501, "%s %s -> %r" % (route["method"], route["path"], r))
        self.assertAlive()

    def test_huge_bodies_and_numbers_never_take_the_server_down(self):
        many_keys = "{" + ",".join('"k%d":%d' % (i, i) for i in range(1000000)) + "}"
        self.assertGreater(len(many_keys), 14 * 1024 * 1024)
        huge_numbers = '{"run_id": 1e999999, "max_results": 123456789012345678901234567890, "value": -1e400}'
        for route in self.json_routes():
            for body in (many_keys, huge_numbers):
                r = self.server.request(route["method"], concrete(route["path"]), body=body,
                                        headers={"Content-Type": "application/json"})
                self.assertTrue(r.status < 500 or r.status == 501, "%s %s -> %r" % (route["method"], route["path"], r))
        self.assertAlive()

    def test_telemetry_is_checked_against_its_schema(self):
        base = {"event": "prediction", "model": unique("m"), "version": "1"}
        cases = [
            ("deep value", dict(base, extra=json.loads("[" * 50 + "]" * 50))),
            ("huge latency", '[{"event":"prediction","model":"m","version":"1","latency_ms":1e400}]'),
            ("huge time", '[{"event":"prediction","model":"m","version":"1","time":123456789012345678901234567890}]'),
            ("negative latency", dict(base, latency_ms=-1)),
            ("long model", dict(base, model="m" * 300)),
            ("number as model", dict(base, model=5)),
            ("unknown event", dict(base, event="exploded")),
            ("not an object", [1]),
        ]
        for what, event in cases:
            body = event if isinstance(event, str) else [event]
            r = self.server.request("POST", "/api/deploy/v1/telemetry", body=body)
            self.assertEqual(r.status, 400, "%s -> %r" % (what, r))
        # 16 MB of keys: answered, and nothing unknown is kept.
        junk = ",".join('"k%d":%d' % (i, i) for i in range(900000))
        model = unique("m")
        body = '[{"event":"failed","model":"%s","version":"1","error":"boom",%s}]' % (model, junk)
        self.assertGreater(len(body), 14 * 1024 * 1024)
        r = self.server.request("POST", "/api/deploy/v1/telemetry", body=body)
        self.assertEqual(r.status, 200, r)
        r = self.server.request("GET", "/api/ringo/v1/telemetry", query={"model": model, "version": "1"})
        self.assertEqual(r.status, 200, r)
        stored = r.json["events"]
        self.assertEqual(len(stored), 1, r)
        self.assertEqual(set(stored[0]) - {"event", "model", "version", "error", "time"}, set(), stored[0])
        self.assertAlive()

    def test_artifact_names_must_be_utf8(self):
        run = self.ok("POST", "runs/create", {"experiment_id": "0"})["run"]
        rel = run["info"]["artifact_uri"].split(":", 1)[1].lstrip("/")
        r = self.server.request("PUT", "%s/%s/u%%ff%%fe.txt" % (ARTIFACTS, rel), body=b"x")
        self.assertError(r, 400, "INVALID_PARAMETER_VALUE", "UTF-8")
        r = self.server.request("POST", "/ajax-api/2.0/mlflow/upload-artifact?run_id=%s&path=a%%ff.txt" % run["info"]["run_id"],
                                body=b"x")
        self.assertError(r, 400, "INVALID_PARAMETER_VALUE", "UTF-8")
        self.assertEqual(self.server.request("PUT", "%s/%s/ok.txt" % (ARTIFACTS, rel), body=b"x").status, 200)
        # The folder's listing stays valid JSON for MLflow clients.
        listing = self.ok("GET", "artifacts/list", query={"run_id": run["info"]["run_id"]})
        self.assertEqual([f["path"] for f in listing["files"]], ["ok.txt"])


class ScopeTest(ServerTestCase):
    """Every route with every kind of credential, and the holes that were found."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()

        def make(scope, auth=None):
            r = cls.server.request("POST", "/api/ringo/v1/tokens", body={"scope": scope, "name": scope + "-probe"},
                                   headers={"Authorization": "Bearer " + auth} if auth else None)
            assert r.status == 200, r
            return r.json["token"]

        cls.tokens = {"admin": make("admin")}
        for scope in ("write", "read", "device"):
            cls.tokens[scope] = make(scope, cls.tokens["admin"])

    def send(self, method, path, credential, body=None, headers=None):
        h = {"Origin": self.server.url}
        if credential == "bad":
            h["Authorization"] = "Bearer rg_" + "0" * 48
        elif credential != "none":
            h["Authorization"] = "Bearer " + self.tokens[credential]
        h.update(headers or {})
        if body is None and method not in ("GET", "HEAD"):
            body = {}
        return self.server.request(method, path, body=body, headers=h, timeout=30)

    def routes(self):
        r = self.send("GET", "/api/ringo/v1/routes", "read")
        self.assertEqual(r.status, 200, r)
        return r.json["routes"]

    def test_every_route_with_every_credential(self):
        routes = self.routes()
        self.assertGreater(len(routes), 100)
        for route in routes:
            method, path, access = route["method"], concrete(route["path"]), route["access"]
            for credential in ("none", "bad") + SCOPES:
                r = self.send(method, path, credential)
                where = "%s %s (%s access) with %s -> %r" % (method, path, access, credential, r)
                if access == "public":
                    self.assertNotIn(r.status, (401, 403), where)
                elif credential in ("none", "bad"):
                    self.assertEqual(r.status, 401, where)
                elif access in COVERS[credential]:
                    self.assertNotIn(r.status, (401, 403), where)
                else:
                    self.assertEqual(r.status, 403, where)

    def test_no_route_answers_a_longer_path(self):
        def matches(pattern, path):
            """Whether a route pattern ({name} segments, a trailing *) takes the path."""
            if pattern.endswith("*"):
                return path.startswith(pattern[:-1])
            regex = "^" + re.sub(r"\\\{[^/]*?\\\}", "[^/]+", re.escape(pattern)) + "$"
            return re.match(regex, path) is not None

        for route in self.routes():
            if route["path"].endswith("*"):
                continue
            method = route["method"]
            for suffix in ("/search", "/x", "/"):
                path = concrete(route["path"]).rstrip("/") + suffix
                if any(r["method"] == method and matches(r["path"], path) for r in self.routes_cache()):
                    continue  # a real route of its own
                for credential in ("none", "read", "write", "admin"):
                    r = self.send(method, path, credential)
                    where = "%s %s with %s -> %r" % (method, path, credential, r)
                    self.assertFalse(200 <= r.status < 300, where)
                    if credential == "none":
                        self.assertEqual(r.status, 401, where)
                    elif credential == "read" and method not in ("GET", "HEAD"):
                        self.assertEqual(r.status, 403, where)
                    else:
                        self.assertIn(r.status, (404, 405), where)

    def routes_cache(self):
        if not hasattr(self, "_routes"):
            self._routes = self.routes()
        return self._routes

    def test_a_read_token_cannot_overwrite_an_artifact(self):
        run = self.send("POST", API + "runs/create", "write", body={"experiment_id": "0"}).json["run"]
        rid = run["info"]["run_id"]
        upload = "/ajax-api/2.0/mlflow/upload-artifact"
        r = self.send("POST", upload + "?run_id=%s&path=model.mlmodel" % rid, "write", body=b"original")
        self.assertEqual(r.status, 200, r)
        for path in (upload + "/search", upload):
            r = self.send("POST", path + "?run_id=%s&path=model.mlmodel" % rid, "read", body=b"tampered")
            self.assertEqual(r.status, 403, r)
        r = self.send("GET", "/get-artifact?run_id=%s&path=model.mlmodel" % rid, "read")
        self.assertEqual((r.status, r.body), (200, b"original"))
        self.assertIn("sandbox", r.header("Content-Security-Policy"))
        self.assertEqual(r.header("X-Content-Type-Options"), "nosniff")

    def test_delivery_management_needs_admin(self):
        for method, path in (("POST", "/api/ringo/v1/apps/contracts"), ("POST", "/api/ringo/v1/apps/contracts/delete"),
                             ("POST", "/api/ringo/v1/webhooks"), ("GET", "/api/ringo/v1/webhooks")):
            self.assertEqual(self.send(method, path, "write").status, 403, path)

    def test_cookie_changes_need_json_from_this_origin(self):
        cookie = {"Cookie": "ringo_token=" + self.tokens["admin"]}
        body = json.dumps({"scope": "read", "name": "csrf"})

        def post(headers):
            h = {"Host": self.server.url.split("//")[1]}
            h.update(headers)
            return self.server.request("POST", "/api/ringo/v1/tokens", body=body, headers=h)

        other = "http://127.0.0.1:1"
        self.assertEqual(post(dict(cookie, Origin=other, **{"Content-Type": "text/plain"})).status, 403)
        self.assertEqual(post(dict(cookie, Origin=other, **{"Content-Type": "application/json"})).status, 403)
        self.assertEqual(post(dict(cookie, **{"Content-Type": "application/json"})).status, 403)
        self.assertEqual(post(dict(cookie, Origin=self.server.url, **{"Content-Type": "text/plain"})).status, 403)
        self.assertEqual(post(dict(cookie, Origin=self.server.url, **{"Content-Type": "application/json"})).status, 200)
        # Bearer tokens are not a browser's ambient credential: no Origin needed.
        bearer = {"Authorization": "Bearer " + self.tokens["admin"], "Content-Type": "text/plain"}
        self.assertEqual(post(bearer).status, 200)
        # Reads by cookie (images, downloads) need neither.
        r = self.server.request("GET", API + "experiments/get", query={"experiment_id": "0"}, headers=cookie)
        self.assertEqual(r.status, 200, r)

    def test_the_ui_session_sets_an_httponly_cookie(self):
        h = {"Origin": self.server.url}
        r = self.server.request("POST", "/api/ringo/v1/session", body={"token": self.tokens["read"]}, headers=h)
        self.assertEqual(r.status, 200, r)
        cookie = r.header("Set-Cookie")
        self.assertIn("HttpOnly", cookie)
        self.assertIn("SameSite=Strict", cookie)
        r = self.server.request("POST", "/api/ringo/v1/session", body={"token": "rg_nope"}, headers=h)
        self.assertEqual(r.status, 401, r)

    def test_unknown_routes_hold_no_memory(self):
        """30 connections announce 16 MB bodies to unknown routes without a token: each is
        answered before its body, and sending the bodies anyway does not grow the server."""
        pid = self.server.proc.pid
        before = rss_kib(pid)
        peak = [before]
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                peak[0] = max(peak[0], rss_kib(pid))
                time.sleep(0.02)

        sampler = threading.Thread(target=sample)
        sampler.start()
        answers = []
        lock = threading.Lock()

        def attack(i, token):
            s = socket.create_connection((self.server.host, self.server.port), timeout=30)
            try:
                head = "POST /nowhere-%d HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n" % (i, SIXTEEN_MB)
                if token:
                    head += "Authorization: Bearer %s\r\n" % token
                s.sendall((head + "\r\n").encode())
                # The answer comes before a single body byte is sent.
                first = s.recv(4096).decode("latin-1")
                with lock:
                    answers.append(first.split("\r\n", 1)[0])
                try:
                    chunk = b"x" * (1 << 20)
                    for _ in range(16):
                        s.sendall(chunk)
                except OSError:
                    pass  # the server closed: exactly what it should do
            finally:
                s.close()

        threads = [threading.Thread(target=attack, args=(i, None)) for i in range(30)]
        threads += [threading.Thread(target=attack, args=(99, self.tokens["write"]))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        stop.set()
        sampler.join()
        self.assertEqual(sorted(a.split(" ")[1] for a in answers), ["401"] * 30 + ["404"], answers)
        grown_mib = (peak[0] - before) / 1024
        self.assertLess(grown_mib, 64, "server grew by %.0f MiB" % grown_mib)
        self.assertEqual(self.server.request("GET", "/health").status, 200)


@unittest.skipUnless(HAVE_TORCH, "needs Debian's python3-torch to make Core ML models")
class DeliveryIntegrityTest(ServerTestCase):
    """What ships to devices is what was registered, and the history names who did it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.TemporaryDirectory()
        cls.files = make_core_ml_models(cls.tmp.name)
        r = cls.server.request("POST", "/api/ringo/v1/tokens", body={"scope": "admin", "name": "release-bot"})
        assert r.status == 200, r
        cls.admin = r.json["token"]

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()
        super().tearDownClass()

    def cli(self, *args):
        env = dict(os.environ, MLFLOW_TRACKING_TOKEN=self.admin)
        p = subprocess.run([ringo_bin()] + list(args) + ["--tracking-uri", self.server.url],
                           capture_output=True, text=True, env=env)
        return p.returncode, p.stdout, p.stderr

    def registered(self, ext):
        """Registers a fresh copy of the model; returns (name, version, its file in the store)."""
        name = unique("m")
        rc, out, err = self.cli("models", "register", self.files[ext], "--name", name)
        self.assertEqual(rc, 0, err)
        version = out.split("version ")[1].split()[0]
        r = self.server.request("GET", API + "model-versions/get", query={"name": name, "version": version},
                                headers={"Authorization": "Bearer " + self.admin})
        source = r.json["model_version"]["source"]
        rel = source.split(":", 1)[1].lstrip("/")
        path = os.path.join(self.server.store, "artifacts", rel)
        if not path.endswith("." + ext):
            found = [os.path.join(d, n) for d, dirs, files in os.walk(path) for n in dirs + files if n.endswith("." + ext)]
            self.assertEqual(len(found), 1, found)
            path = found[0]
        coll = unique("app")
        rc, _, err = self.cli("collections", "create", coll, "--model", name)
        self.assertEqual(rc, 0, err)
        return name, version, path, coll

    def deploy(self, name, version, coll):
        return self.cli("deployments", "create", coll, "--model", "%s=%s" % (name, version))

    def test_a_model_changed_after_registration_is_not_deployed(self):
        name, version, path, coll = self.registered("mlmodel")
        with open(path, "ab") as f:
            f.write(b"tampered")
        rc, out, err = self.deploy(name, version, coll)
        self.assertNotEqual(rc, 0, out)
        self.assertIn("version %s" % version, err)
        self.assertIn("does not match the registered", err)

    def test_symlinks_are_never_packaged(self):
        outside = os.path.join(self.tmp.name, "secret.txt")
        with open(outside, "w") as f:
            f.write("not for devices")
        # A link inside a package.
        name, version, path, coll = self.registered("mlpackage")
        os.symlink(outside, os.path.join(path, "leak.txt"))
        rc, _, err = self.deploy(name, version, coll)
        self.assertNotEqual(rc, 0)
        self.assertIn("symbolic link", err)
        # A model file that is itself a link, to a copy of the real model outside the store.
        name, version, path, coll = self.registered("mlmodel")
        copy = os.path.join(self.tmp.name, "copy.mlmodel")
        with open(path, "rb") as src, open(copy, "wb") as dst:
            dst.write(src.read())
        os.remove(path)
        os.symlink(copy, path)
        rc, _, err = self.deploy(name, version, coll)
        self.assertNotEqual(rc, 0)
        self.assertTrue("symbolic link" in err or "outside the artifact root" in err, err)

    def test_history_records_the_token_not_the_claim(self):
        name, version, _, coll = self.registered("mlmodel")
        rc, dep, err = self.deploy(name, version, coll)
        self.assertEqual(rc, 0, err)
        headers = {"Authorization": "Bearer " + self.admin}
        r = self.server.request("POST", "/api/ringo/v1/channels/promote", headers=headers,
                                body={"collection": coll, "channel": "staging", "deployment_id": dep.strip(),
                                      "actor": "someone-else"})
        self.assertEqual(r.status, 200, r)
        r = self.server.request("GET", "/api/ringo/v1/channels/history", headers=headers,
                                query={"collection": coll, "channel": "staging"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual([h["actor"] for h in r.json["history"]], ["token:release-bot (as someone-else)"], r.json)


class WebhookDestinationTest(unittest.TestCase):
    """Webhooks cannot be pointed into the server's own network: link-local (cloud metadata),
    loopback and private addresses are refused at creation, for ringo's webhooks and MLflow's,
    unless --webhook-allow lets a range through."""

    def create(self, server, url):
        ringo = server.request("POST", "/api/ringo/v1/webhooks", body={"url": url})
        mlflow = server.request("POST", API + "webhooks",
                                body={"name": unique("w"), "url": url, "events": [
                                    {"entity": "model_version", "action": "created"}]})
        return ringo, mlflow

    def test_internal_destinations_are_refused_unless_allowed(self):
        with tempfile.TemporaryDirectory() as d:
            strict = Server(store=os.path.join(d, "a"), webhook_allow=())
            open_ = Server(store=os.path.join(d, "b"), webhook_allow=("127.0.0.1/32", "10.9.0.0/16"))
            for s in (strict, open_):
                s.start()
            try:
                for url, why in (("http://169.254.169.254/latest/meta-data/", "link-local"),
                                 ("http://127.0.0.1:9/hook", "loopback"),
                                 ("http://10.0.0.1/hook", "private"),
                                 ("http://[::1]:9/hook", "loopback")):
                    for r in self.create(strict, url):
                        self.assertEqual(r.status, 400, (url, r))
                        self.assertIn(why, r.json["message"])
                self.assertEqual(strict.request("GET", "/api/ringo/v1/webhooks").json.get("webhooks", []), [])
                self.assertNotIn("webhooks", strict.request("GET", API + "webhooks").json)
                for url in ("http://127.0.0.1:9/hook", "http://10.9.8.7/hook"):
                    for r in self.create(open_, url):
                        self.assertEqual(r.status, 200, (url, r))
                for r in self.create(open_, "http://169.254.169.254/latest/meta-data/"):
                    self.assertEqual(r.status, 400, r)
            finally:
                for s in (strict, open_):
                    s.stop()
                    s.cleanup()


class RateLimitTest(unittest.TestCase):
    """The device API's limits per device and per token: 429 with Retry-After, others unaffected."""

    def test_per_device_and_per_token_limits(self):
        with tempfile.TemporaryDirectory() as d:
            s = Server(store=os.path.join(d, "store"),
                       extra_args=["--device-rate-limit", "0.2:3", "--token-rate-limit", "0.5:8"])
            s.start()
            try:
                manifest = "/api/deploy/v1/collections/app/channels/release/manifest"
                seen = [s.request("GET", manifest, query={"device_id": "phone-1"}).status for _ in range(4)]
                # No such channel (404) three times: the burst; then the device is held back.
                self.assertEqual(seen, [404, 404, 404, 429])
                r = s.request("GET", manifest, query={"device_id": "phone-1"})
                self.assertEqual(r.status, 429)
                self.assertEqual(r.json["error_code"], "REQUEST_LIMIT_EXCEEDED")
                self.assertGreaterEqual(int(r.header("Retry-After")), 1)
                # Another device is not held back; telemetry counts by the SDK's header.
                self.assertEqual(s.request("GET", manifest, query={"device_id": "phone-2"}).status, 404)
                event = [{"event": "prediction", "model": "m", "version": "1"}]
                statuses = [s.request("POST", "/api/deploy/v1/telemetry", body=event,
                                      headers={"X-Ringo-Device-Id": "phone-3"}).status for _ in range(4)]
                self.assertEqual(statuses, [200, 200, 200, 429])
                # Tracking is not the device API: never limited.
                for _ in range(10):
                    self.assertEqual(s.request("GET", "/api/2.0/mlflow/experiments/get",
                                               query={"experiment_id": "0"}).status, 200)
                # A token's limit covers all the devices that share it.
                admin = s.request("POST", "/api/ringo/v1/tokens", body={"scope": "admin", "name": "a"}).json["token"]
                r = s.request("POST", "/api/ringo/v1/tokens", body={"scope": "device", "name": "fleet"},
                              headers={"Authorization": "Bearer " + admin})
                fleet = {"Authorization": "Bearer " + r.json["token"]}
                statuses = [s.request("GET", manifest, query={"device_id": "dev-%d" % i}, headers=fleet).status
                            for i in range(9)]
                self.assertEqual(statuses, [404] * 8 + [429])
                self.assertIn("token", s.request("GET", manifest, query={"device_id": "dev-x"}, headers=fleet).json["message"])
                time.sleep(2.1)  # the token's bucket refills at 0.5/s
                self.assertEqual(s.request("GET", manifest, query={"device_id": "phone-9"}, headers=fleet).status, 404)
            finally:
                self.assertEqual(s.stop(), 0)
                s.cleanup()

    def test_bad_limits_are_refused_at_start(self):
        for flag, value in (("--device-rate-limit", "fast"), ("--token-rate-limit", "5:0"),
                            ("--device-rate-limit", "-1")):
            p = subprocess.run([ringo_bin(), "server", "--port", "0", flag, value],
                               capture_output=True, text=True, timeout=30)
            self.assertNotEqual(p.returncode, 0, (flag, value))
            self.assertIn(flag, p.stderr)
            self.assertIn("rate", p.stderr)


class AuditLogTest(ServerTestCase):
    """Every route that changes state leaves an entry in the audit log: who, what, from where."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        token = cls.server.request("POST", "/api/ringo/v1/tokens",
                                   body={"scope": "admin", "name": "auditor"}).json["token"]
        cls.auth = {"Authorization": "Bearer " + token, "Origin": cls.server.url}

    def test_every_changing_route_is_in_the_audit_log(self):
        auth = self.auth
        routes = self.server.request("GET", "/api/ringo/v1/routes", headers=auth).json["routes"]
        changing = [r for r in routes if r["method"] not in ("GET", "HEAD") and r["access"] != "read"]
        self.assertGreater(len(changing), 50)
        for r in changing:
            # Deeper than any {name} route beside a prefix route, so the prefix one matches.
            path = concrete(r["path"]) + ("/deeper/still" if r["path"].endswith("*") else "")
            self.server.request(r["method"], path, body={}, headers=auth, timeout=30)
        # A read leaves nothing.
        self.server.request("GET", "/api/2.0/mlflow/experiments/get", query={"experiment_id": "0"}, headers=auth)
        r = self.server.request("GET", "/api/ringo/v1/audit", query={"limit": "10000"}, headers=auth)
        self.assertEqual(r.status, 200, r)
        entries = r.json["entries"]
        by_route = {}
        for e in entries:
            by_route.setdefault((e["method"], e["route"]), []).append(e)
        missing = [(c["method"], c["path"]) for c in changing if (c["method"], c["path"]) not in by_route]
        self.assertEqual(missing, [])
        self.assertNotIn(("GET", "/api/2.0/mlflow/experiments/get"), by_route)
        # Who and from where: the token's name and the client's address; the first token's
        # creation, made without one, is anonymous.
        for (method, route), es in by_route.items():
            for e in es:
                if route == "/api/ringo/v1/session" or e["actor"] == "anonymous":
                    continue
                self.assertEqual(e["actor"], "token:auditor", e)
                # Devices are a fleet: their reports are counted by token, not by address.
                self.assertEqual(e["origin"], "" if route.startswith("/api/deploy/") else "127.0.0.1", e)
        first = by_route[("POST", "/api/ringo/v1/tokens")]
        self.assertIn("anonymous", [e["actor"] for e in first])

    def test_what_a_change_names_and_the_cli(self):
        exp = self.server.request("POST", API + "experiments/create", body={"name": unique("audited")},
                                  headers=self.auth)
        self.assertEqual(exp.status, 200, exp)
        eid = exp.json["experiment_id"]
        run = self.server.request("POST", API + "runs/create", body={"experiment_id": eid},
                                  headers=self.auth).json["run"]["info"]["run_id"]
        for step in range(50):
            self.server.request("POST", API + "runs/log-metric", headers=self.auth,
                                body={"run_id": run, "key": "loss", "value": 1.0 / (step + 1), "timestamp": 1, "step": step})
        env = dict(os.environ, MLFLOW_TRACKING_TOKEN=self.auth["Authorization"][len("Bearer "):])
        p = subprocess.run([ringo_bin(), "audit", "--route", "log-metric", "--json", "--tracking-uri", self.server.url],
                           capture_output=True, text=True, timeout=30, env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        entries = json.loads(p.stdout)["entries"]
        self.assertEqual(sum(e["count"] for e in entries if e["target"] == "run_id=%s key=loss" % run), 50)
        p = subprocess.run([ringo_bin(), "audit", "--tracking-uri", self.server.url],
                           capture_output=True, text=True, timeout=30, env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("experiments/create", p.stdout)
        self.assertIn("name=", p.stdout)
        p = subprocess.run([ringo_bin(), "audit", "--hours", "0", "--tracking-uri", self.server.url],
                           capture_output=True, text=True, timeout=30, env=env)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("--hours", p.stderr)


class StoreSecretsTest(unittest.TestCase):
    def test_artifacts_destination_may_not_hold_the_store(self):
        with tempfile.TemporaryDirectory() as d:
            for dest in (d, os.path.dirname(d)):
                p = subprocess.run([ringo_bin(), "server", "--port", "0", "--store", d, "--artifacts-destination", dest],
                                   capture_output=True, text=True, timeout=30)
                self.assertNotEqual(p.returncode, 0)
                self.assertIn("--artifacts-destination", p.stderr)
                self.assertIn("private files", p.stderr)
            # Beside the store is fine.
            s = Server(store=os.path.join(d, "store"), extra_args=["--artifacts-destination", os.path.join(d, "art")])
            try:
                s.start()
                self.assertEqual(s.request("GET", "/health").status, 200)
                self.assertEqual(s.stop(), 0)
            finally:
                s.cleanup()


if __name__ == "__main__":
    unittest.main()
