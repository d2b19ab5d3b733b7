"""MLflow 3's webhooks REST API: CRUD, validation in MLflow's words, registry events delivered
to a listener on 127.0.0.1 with MLflow's headers and HMAC signature, and the test call."""

import base64
import hashlib
import hmac
import json
import subprocess
import time
import unittest

from harness import Receiver, ServerTestCase, ringo_bin, unique


def verify(secret, headers, body):
    """The receiver's side of MLflow's signature: v1,base64(HMAC-SHA256(id.timestamp.body))."""
    signed = "%s.%s.%s" % (headers["X-MLflow-Delivery-Id"], headers["X-MLflow-Timestamp"], body.decode())
    want = base64.b64encode(hmac.new(secret.encode(), signed.encode(), hashlib.sha256).digest()).decode()
    return headers.get("X-MLflow-Signature") == "v1," + want


class MlflowWebhooksTest(ServerTestCase):
    def setUp(self):
        self.receiver = Receiver()

    def tearDown(self):
        self.receiver.close()

    def create(self, events, **extra):
        body = {"name": unique("hook").replace("_", "-"), "url": self.receiver.url,
                "events": [{"entity": e.split(".")[0].upper(), "action": e.split(".")[1].upper()} for e in events]}
        body.update(extra)
        return self.ok("POST", "webhooks", body)["webhook"]

    def test_crud(self):
        hook = self.create(["model_version.created"], secret="s3cret", description="d")
        self.assertEqual(hook["status"], "ACTIVE")
        self.assertEqual(hook["events"], [{"entity": "MODEL_VERSION", "action": "CREATED"}])
        self.assertNotIn("secret", hook)
        got = self.ok("GET", "webhooks/" + hook["webhook_id"])["webhook"]
        self.assertEqual(got, hook)
        listed = [h["webhook_id"] for h in self.ok("GET", "webhooks", query={"max_results": "1000"})["webhooks"]]
        self.assertIn(hook["webhook_id"], listed)
        updated = self.ok("PATCH", "webhooks/" + hook["webhook_id"], {"status": "DISABLED", "description": "e"})["webhook"]
        self.assertEqual((updated["status"], updated["description"], updated["name"]), ("DISABLED", "e", hook["name"]))
        self.ok("DELETE", "webhooks/" + hook["webhook_id"])
        self.err(404, "RESOURCE_DOES_NOT_EXIST", "GET", "webhooks/" + hook["webhook_id"],
                 msg_contains="Webhook with ID %s not found." % hook["webhook_id"])
        self.err(404, "RESOURCE_DOES_NOT_EXIST", "DELETE", "webhooks/" + hook["webhook_id"])

    def test_bad_input_writes_nothing(self):
        before = len(self.ok("GET", "webhooks", query={"max_results": "1000"}).get("webhooks", []))
        good = {"entity": "MODEL_VERSION", "action": "CREATED"}
        for body, words in [
            ({"name": "-bad", "url": self.receiver.url, "events": [good]}, "must start and end with a letter or digit"),
            ({"name": "ok", "url": "ftp://x/y", "events": [good]}, "http://"),
            ({"name": "ok", "url": "  ", "events": [good]}, "cannot be empty"),
            ({"name": "ok", "url": self.receiver.url, "events": []}, "non-empty list"),
            ({"name": "ok", "url": self.receiver.url, "events": [{"entity": "MODEL_VERSION", "action": "SET"}]}, "Invalid webhook event"),
            ({"name": "ok", "url": self.receiver.url, "events": [good], "status": "SOMETIMES"}, "ACTIVE or DISABLED"),
            ({"url": self.receiver.url, "events": [good]}, "name"),
        ]:
            self.err(400, "INVALID_PARAMETER_VALUE", "POST", "webhooks", body, msg_contains=words)
        after = len(self.ok("GET", "webhooks", query={"max_results": "1000"}).get("webhooks", []))
        self.assertEqual(before, after)
        self.err(400, "INVALID_PARAMETER_VALUE", "GET", "webhooks", query={"max_results": "5000"})

    def test_registry_events_are_delivered_signed(self):
        secret = "topsecret"
        self.create(["registered_model.created", "model_version.created", "model_version_tag.set",
                     "model_version_tag.deleted", "model_version_alias.created",
                     "model_version_alias.deleted"], secret=secret)
        self.create(["model_version.created"], status="DISABLED")
        name = unique("m")
        self.ok("POST", "registered-models/create", {"name": name, "tags": [{"key": "k", "value": "v"}]})
        self.ok("POST", "model-versions/create", {"name": name, "source": "s3://bucket/model", "run_id": "r1"})
        self.ok("POST", "model-versions/set-tag", {"name": name, "version": "1", "key": "a", "value": "b"})
        self.ok("DELETE", "model-versions/delete-tag", {"name": name, "version": "1", "key": "a"})
        self.ok("POST", "registered-models/alias", {"name": name, "alias": "champion", "version": "1"})
        self.ok("DELETE", "registered-models/alias", {"name": name, "alias": "champion"})
        # A failed change fires nothing.
        self.err(404, "RESOURCE_DOES_NOT_EXIST", "POST", "model-versions/set-tag",
                 {"name": name, "version": "9", "key": "a", "value": "b"})
        got = self.receiver.wait_for(6)
        time.sleep(0.5)  # a seventh (the disabled hook, the failed change) would arrive by now
        got = self.receiver.received
        self.assertEqual(len(got), 6, [b for _, b in got])
        seen = []
        for headers, body in got:
            self.assertTrue(verify(secret, headers, body), headers)
            self.assertRegex(headers["X-MLflow-Delivery-Id"], r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
            self.assertLess(abs(int(headers["X-MLflow-Timestamp"]) - time.time()), 60)
            payload = json.loads(body)
            self.assertRegex(payload["timestamp"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")
            seen.append((payload["entity"], payload["action"], payload["data"]))
        seen.sort(key=lambda e: e[0] + e[1])
        self.assertIn(("registered_model", "created", {"name": name, "tags": {"k": "v"}, "description": ""}), seen)
        self.assertIn(("model_version", "created", {"name": name, "version": "1", "source": "s3://bucket/model",
                                                    "run_id": "r1", "tags": {}, "description": ""}), seen)
        self.assertIn(("model_version_tag", "set", {"name": name, "version": "1", "key": "a", "value": "b"}), seen)
        self.assertIn(("model_version_tag", "deleted", {"name": name, "version": "1", "key": "a"}), seen)
        self.assertIn(("model_version_alias", "created", {"name": name, "alias": "champion", "version": "1"}), seen)
        self.assertIn(("model_version_alias", "deleted", {"name": name, "alias": "champion"}), seen)

    def test_every_attempt_is_in_the_delivery_log(self):
        self.receiver.close()
        self.receiver = Receiver(fail_first=1)
        self.create(["registered_model.created"])
        self.ok("POST", "registered-models/create", {"name": unique("m")})
        self.receiver.wait_for(1)
        deadline = time.time() + 10
        mine = []
        while time.time() < deadline:
            r = self.server.request("GET", "/api/ringo/v1/webhook-deliveries", query={"limit": "1000"})
            self.assertEqual(r.status, 200, r)
            mine = [d for d in r.json["deliveries"] if d["attempt"]["url"] == self.receiver.url]
            if any(d["attempt"]["final"] for d in mine):
                break
            time.sleep(0.1)
        attempts = [(d["attempt"]["attempt"], d["attempt"]["status"], d["attempt"]["final"], d["attempt"]["source"])
                    for d in mine]
        self.assertEqual(attempts, [(1, 500, False, "mlflow"), (2, 200, True, "mlflow")])
        self.assertIn("answered 500", mine[0]["attempt"]["error"])
        self.assertEqual(mine[1]["attempt"]["error"], "")
        seqs = [d["seq"] for d in mine]
        later = self.server.request("GET", "/api/ringo/v1/webhook-deliveries", query={"after": str(seqs[0])})
        self.assertNotIn(seqs[0], [d["seq"] for d in later.json["deliveries"]])
        self.assertEqual(self.server.request("GET", "/api/ringo/v1/webhook-deliveries", query={"limit": "0"}).status, 400)
        cli = subprocess.run([ringo_bin(), "webhooks", "deliveries", "--limit", "1000",
                              "--tracking-uri", self.server.url], capture_output=True, text=True, timeout=60)
        self.assertEqual(cli.returncode, 0, cli.stderr)
        lines = [l for l in cli.stdout.splitlines() if self.receiver.url in l]
        self.assertEqual(len(lines), 2, cli.stdout)
        self.assertIn("mlflow  %s  try 1  500  " % self.receiver.url, lines[0])
        self.assertTrue(lines[1].endswith("try 2  200"), lines[1])

    def test_test_call_reports_the_answer(self):
        hook = self.create(["model_version_alias.created", "registered_model.created"], secret="x")
        result = self.ok("POST", "webhooks/%s/test" % hook["webhook_id"], {})["result"]
        self.assertEqual((result["success"], result["response_status"]), (True, 200))
        headers, body = self.receiver.wait_for(1)[0]
        self.assertTrue(verify("x", headers, body))
        payload = json.loads(body)
        self.assertEqual((payload["entity"], payload["action"]), ("model_version_alias", "created"))
        result = self.ok("POST", "webhooks/%s/test" % hook["webhook_id"],
                         {"event": {"entity": "REGISTERED_MODEL", "action": "CREATED"}})["result"]
        self.assertTrue(result["success"])
        self.assertEqual(json.loads(self.receiver.wait_for(2)[1][1])["entity"], "registered_model")
        # Nobody listening: a result that says so, not an error.
        dead = self.ok("POST", "webhooks", {"name": "dead", "url": "http://127.0.0.1:9/x",
                                             "events": [{"entity": "PROMPT", "action": "CREATED"}]})["webhook"]
        result = self.ok("POST", "webhooks/%s/test" % dead["webhook_id"], {})["result"]
        self.assertFalse(result["success"])
        self.assertIn("Failed to test webhook", result["error_message"])


if __name__ == "__main__":
    unittest.main()
