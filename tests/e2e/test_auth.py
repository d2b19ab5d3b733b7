"""Tokens: once one exists, every call but /health needs one, with the right scope."""

import os
import subprocess
import unittest

import tempfile

from harness import API, Server, ServerTestCase, ringo_bin


class AuthTest(ServerTestCase):
    def req(self, method, path, token=None, body=None, query=None):
        headers = {"Authorization": "Bearer " + token} if token else None
        return self.server.request(method, path, body=body, query=query, headers=headers)

    def create(self, scope, token=None):
        r = self.req("POST", "/api/ringo/v1/tokens", token, body={"scope": scope, "name": scope + " test"})
        self.assertEqual(r.status, 200, r)
        return r.json["token"]

    def test_scopes(self):
        # Before any token: open, so the first (admin) token can be made.
        self.assertEqual(self.req("GET", API + "experiments/get", query={"experiment_id": "0"}).status, 200)
        admin = self.create("admin")
        # From now on, no token or a bad one is 401; /health stays open.
        self.assertEqual(self.req("GET", "/health").status, 200)
        r = self.req("GET", API + "experiments/get", query={"experiment_id": "0"})
        self.assertEqual((r.status, r.json["error_code"]), (401, "UNAUTHENTICATED"))
        self.assertEqual(self.req("GET", API + "experiments/get", "rg_wrong", query={"experiment_id": "0"}).status, 401)
        self.assertEqual(self.req("POST", "/api/ringo/v1/tokens", body={"scope": "read"}).status, 401)
        write = self.create("write", admin)
        read = self.create("read", admin)
        device = self.create("device", admin)
        self.assertEqual(self.req("POST", "/api/ringo/v1/tokens", admin, body={"scope": "root"}).status, 400)

        run = self.req("POST", API + "runs/create", write, body={"experiment_id": "0"})
        self.assertEqual(run.status, 200, run)
        rid = run.json["run"]["info"]["run_id"]
        self.assertEqual(self.req("GET", API + "runs/get", read, query={"run_id": rid}).status, 200)
        self.assertEqual(self.req("POST", API + "runs/search", read, body={"experiment_ids": ["0"]}).status, 200)
        r = self.req("POST", API + "runs/log-metric", read,
                     body={"run_id": rid, "key": "a", "value": 1, "timestamp": 1})
        self.assertEqual((r.status, r.json["error_code"]), (403, "PERMISSION_DENIED"))
        # A device token reaches the device API only.
        self.assertEqual(self.req("GET", "/api/deploy/v1/keys", device).status, 200)
        self.assertEqual(self.req("GET", API + "runs/get", device, query={"run_id": rid}).status, 403)
        self.assertEqual(self.req("POST", "/api/ringo/v1/collections", device, body={"name": "x", "models": ["m"]}).status, 403)
        # Delivery and token management need admin.
        self.assertEqual(self.req("POST", "/api/ringo/v1/collections", write, body={"name": "x", "models": ["m"]}).status, 403)
        self.assertEqual(self.req("POST", "/api/ringo/v1/tokens", write, body={"scope": "admin"}).status, 403)
        self.assertEqual(self.req("POST", "/api/ringo/v1/collections", admin,
                                  body={"name": "x", "models": ["nope"]}).status, 404)
        # Clients send MLFLOW_TRACKING_TOKEN.
        env = dict(os.environ, MLFLOW_TRACKING_URI=self.server.url)
        env.pop("MLFLOW_TRACKING_TOKEN", None)
        p = subprocess.run([ringo_bin(), "experiments", "list"], capture_output=True, text=True, env=env)
        self.assertEqual(p.returncode, 1)
        env["MLFLOW_TRACKING_TOKEN"] = read
        p = subprocess.run([ringo_bin(), "experiments", "list"], capture_output=True, text=True, env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("Default", p.stdout)
        import ringo
        os.environ["MLFLOW_TRACKING_TOKEN"] = write
        try:
            client = ringo.RingoClient(self.server.url)
            client.log_param(rid, "p", "1")
        finally:
            del os.environ["MLFLOW_TRACKING_TOKEN"]


class TokenLifecycleTest(ServerTestCase):
    """Tokens can be listed (never their secrets), revoked and made to expire."""

    def req(self, method, path, token=None, body=None):
        headers = {"Authorization": "Bearer " + token} if token else None
        return self.server.request(method, path, body=body, headers=headers)

    def test_list_revoke_expire(self):
        import time
        admin = self.req("POST", "/api/ringo/v1/tokens", body={"scope": "admin", "name": "root"}).json["token"]
        r = self.req("POST", "/api/ringo/v1/tokens", admin, body={"scope": "read", "name": "dashboard"})
        read = r.json["token"]
        soon = self.req("POST", "/api/ringo/v1/tokens", admin,
                        body={"scope": "read", "name": "temp", "expires": int(time.time() * 1000) + 1500}).json["token"]
        self.assertEqual(self.req("POST", "/api/ringo/v1/tokens", admin,
                                  body={"scope": "read", "expires": 1000}).status, 400)
        listing = self.req("GET", "/api/ringo/v1/tokens", admin)
        self.assertEqual(listing.status, 200, listing)
        self.assertNotIn(read, listing.body.decode())
        names = {t["name"]: t for t in listing.json["tokens"]}
        self.assertEqual(set(names), {"root", "dashboard", "temp"})
        self.assertEqual(self.req("GET", "/api/ringo/v1/tokens", read).status, 403)
        self.assertEqual(self.req("GET", "/api/2.0/mlflow/experiments/get?experiment_id=0", read).status, 200)
        r = self.req("DELETE", "/api/ringo/v1/tokens/" + names["dashboard"]["id"], admin)
        self.assertEqual(r.status, 200, r)
        r = self.req("GET", "/api/2.0/mlflow/experiments/get?experiment_id=0", read)
        self.assertEqual((r.status, r.json["error_code"]), (401, "UNAUTHENTICATED"))
        revoked = {t["name"]: t for t in self.req("GET", "/api/ringo/v1/tokens", admin).json["tokens"]}
        self.assertTrue(revoked["dashboard"]["revoked"])
        self.assertEqual(self.req("DELETE", "/api/ringo/v1/tokens/000000000000", admin).status, 404)
        self.assertEqual(self.req("GET", "/api/2.0/mlflow/experiments/get?experiment_id=0", soon).status, 200)
        time.sleep(1.6)
        self.assertEqual(self.req("GET", "/api/2.0/mlflow/experiments/get?experiment_id=0", soon).status, 401)
        # Revoking every token does not open the server.
        self.req("DELETE", "/api/ringo/v1/tokens/" + names["root"]["id"], admin)
        self.assertEqual(self.req("GET", "/api/2.0/mlflow/experiments/get?experiment_id=0").status, 401)


class FirstAdminUserTest(unittest.TestCase):
    """The first admin user is made on the server's machine, never by an anonymous request."""

    def test_first_admin_from_the_cli_then_basic_auth(self):
        import base64
        with tempfile.TemporaryDirectory() as d:
            store = os.path.join(d, "store")
            s = Server(store=store)
            s.start()
            try:
                r = s.request("POST", API + "users/create", body={"username": "eve", "password": "password-1"})
                self.assertEqual(r.status, 400, r)
                self.assertIn("first admin", r.json["message"])
            finally:
                self.assertEqual(s.stop(), 0)
            # Straight into the server's database: its --store, or its PostgreSQL.
            where = ["--store", store]
            if "--backend-store-uri" in s.extra_args:
                where = ["--backend-store-uri", s.extra_args[s.extra_args.index("--backend-store-uri") + 1]]
            p = subprocess.run([ringo_bin(), "users", "create", "root", "--admin", "--password-stdin"] + where,
                               input="root-password\n", capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, p.stderr)
            p = subprocess.run([ringo_bin(), "users", "create", "root", "--password-stdin"] + where,
                               input="another-one\n", capture_output=True, text=True)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn("already exists", p.stderr)
            s.start()
            try:
                self.assertEqual(s.request("GET", API + "experiments/get", query={"experiment_id": "0"}).status, 401)
                basic = {"Authorization": "Basic " + base64.b64encode(b"root:root-password").decode()}
                self.assertEqual(s.request("GET", API + "experiments/get", query={"experiment_id": "0"},
                                           headers=basic).status, 200)
                # The CLI signs in the same way, with MLflow's variables.
                env = dict(os.environ, MLFLOW_TRACKING_USERNAME="root", MLFLOW_TRACKING_PASSWORD="root-password")
                p = subprocess.run([ringo_bin(), "users", "create", "dana", "--tracking-uri", s.url],
                                   env=dict(env, RINGO_USER_PASSWORD="dana-password"), capture_output=True, text=True)
                self.assertEqual(p.returncode, 0, p.stderr)
                p = subprocess.run([ringo_bin(), "audit", "--route", "users/create", "--tracking-uri", s.url, "--json"],
                                   env=env, capture_output=True, text=True)
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertIn("user:root", p.stdout)
                # A user who is not admin reaches neither delivery nor the audit log.
                dana = {"Authorization": "Basic " + base64.b64encode(b"dana:dana-password").decode()}
                self.assertEqual(s.request("GET", "/api/ringo/v1/audit", headers=dana).status, 403)
                self.assertEqual(s.request("POST", "/api/ringo/v1/collections", body={}, headers=dana).status, 403)
            finally:
                self.assertEqual(s.stop(), 0)
                s.cleanup()


if __name__ == "__main__":
    unittest.main()


class FirstTokenTest(unittest.TestCase):
    """A fresh server's first token comes from its own machine or RINGO_ADMIN_TOKEN, never from
    whoever reaches it over the network (here: a request relayed by a proxy)."""

    def test_relayed_requests_cannot_create_the_first_token(self):
        with tempfile.TemporaryDirectory() as d:
            s = Server(store=os.path.join(d, "s"))
            s.start()
            try:
                for header in ({"X-Forwarded-For": "203.0.113.5"}, {"Forwarded": "for=203.0.113.5"}):
                    r = s.request("POST", "/api/ringo/v1/tokens", body={"scope": "admin"}, headers=header)
                    self.assertEqual((r.status, r.json["error_code"]), (403, "PERMISSION_DENIED"), r)
                    self.assertIn("RINGO_ADMIN_TOKEN", r.json["message"])
                # Nothing was created: the server is still open, and its own machine may start it.
                self.assertEqual(s.request("GET", API + "experiments/get", query={"experiment_id": "0"}).status, 200)
                r = s.request("POST", "/api/ringo/v1/tokens", body={"scope": "admin"})
                self.assertEqual(r.status, 200, r)
            finally:
                s.stop()
                s.cleanup()

    def test_admin_token_from_the_environment(self):
        secret = "bootstrap-secret-0123456789"
        with tempfile.TemporaryDirectory() as d:
            s = Server(store=os.path.join(d, "s"), env={"RINGO_ADMIN_TOKEN": secret})
            s.start()
            try:
                r = s.request("GET", API + "experiments/get", query={"experiment_id": "0"})
                self.assertEqual(r.status, 401, r)
                auth = {"Authorization": "Bearer " + secret}
                tokens = s.request("GET", "/api/ringo/v1/tokens", headers=auth)
                self.assertEqual([t["name"] for t in tokens.json["tokens"]], ["bootstrap"])
                self.assertEqual(tokens.json["tokens"][0]["scope"], "admin")
                # A restart with the variable still set adds nothing.
                s.stop()
                s.start()
                tokens = s.request("GET", "/api/ringo/v1/tokens", headers=auth)
                self.assertEqual(len(tokens.json["tokens"]), 1)
            finally:
                s.stop()
                s.cleanup()

    def test_a_short_admin_secret_stops_the_start(self):
        with tempfile.TemporaryDirectory() as d:
            env = dict(os.environ, RINGO_ADMIN_TOKEN="short")
            p = subprocess.run([ringo_bin(), "server", "--port", "0", "--store", os.path.join(d, "s")],
                               env=env, capture_output=True, text=True, timeout=60)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn("at least 16 characters", p.stderr)
