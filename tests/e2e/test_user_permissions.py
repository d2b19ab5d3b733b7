"""Users who are not admins on the routes past MLflow's core ones: bulk metric reads, GraphQL,
logged models, traces, ringo's own reads, and tokens owned by a user, which act as that user.
A second user's experiment (NO_PERMISSIONS for the first) is the control of every check."""

import base64
import json
import unittest

from harness import API, Server

ADMIN = ("root", "root-password-1")
ALICE = ("alice", "alice-password-1")


def basic(user):
    return {"Authorization": "Basic " + base64.b64encode(("%s:%s" % user).encode()).decode()}


def bearer(token):
    return {"Authorization": "Bearer " + token}


class UserPermissionsTest(unittest.TestCase):
    server = None

    @classmethod
    def setUpClass(cls):
        cls.server = Server(env={"MLFLOW_AUTH_ADMIN_USERNAME": ADMIN[0],
                                 "MLFLOW_AUTH_ADMIN_PASSWORD": ADMIN[1]},
                            extra_args=["--default-permission", "READ"])
        cls.server.start()
        cls.as_admin("POST", "users/create", {"username": ALICE[0], "password": ALICE[1]})
        cls.mine = cls.as_admin("POST", "experiments/create", {"name": "alice-reads"})["experiment_id"]
        cls.hidden = cls.as_admin("POST", "experiments/create", {"name": "hidden"})["experiment_id"]
        for exp, perm in ((cls.mine, "READ"), (cls.hidden, "NO_PERMISSIONS")):
            cls.as_admin("POST", "experiments/permissions/create",
                         {"experiment_id": exp, "username": ALICE[0], "permission": perm})
        cls.run_mine = cls.new_run(cls.mine)
        cls.run_hidden = cls.new_run(cls.hidden)

    @classmethod
    def tearDownClass(cls):
        try:
            cls.server.stop()
        finally:
            cls.server.cleanup()

    @classmethod
    def as_admin(cls, method, endpoint, body=None, query=None, prefix=API):
        r = cls.server.api(method, endpoint, body, query, prefix=prefix, headers=basic(ADMIN))
        if r.status != 200:
            raise AssertionError("%s %s: %s %s" % (method, endpoint, r.status, r.body[:300]))
        return r.json

    @classmethod
    def new_run(cls, exp):
        run_id = cls.as_admin("POST", "runs/create", {"experiment_id": exp})["run"]["info"]["run_id"]
        cls.as_admin("POST", "runs/log-metric", {"run_id": run_id, "key": "loss", "value": 0.5,
                                                 "timestamp": 1, "step": 0})
        return run_id

    def alice(self, method, endpoint, body=None, query=None, prefix=API, headers=None):
        return self.server.api(method, endpoint, body, query, prefix=prefix,
                               headers=headers or basic(ALICE))

    def assertRefused(self, r):
        self.assertEqual(r.status, 403, r.body[:300])
        self.assertEqual(r.json["error_code"], "PERMISSION_DENIED")
        self.assertTrue(r.json["message"].startswith("Permission denied"), r.json["message"])

    def test_searches_page_through_readable_experiments_only(self):
        """Pages of a user's run and logged-model searches are full: the search asks only for the
        experiments the user may read (filtering answers alone would leave pages short)."""
        def search(endpoint, body):
            r = self.alice("POST", endpoint, body)
            self.assertEqual(r.status, 200, r.body[:300])
            return r.json

        exp = self.as_admin("POST", "experiments/create", {"name": "paged"})["experiment_id"]
        runs = {self.new_run(exp) for _ in range(3)}
        for _ in range(4):
            self.new_run(self.hidden)
        seen, token = [], None
        for _ in range(5):
            body = {"experiment_ids": [self.hidden, exp], "max_results": 2}
            if token:
                body["page_token"] = token
            page = search("runs/search", body)
            seen += [r["info"]["run_id"] for r in page.get("runs", [])]
            token = page.get("next_page_token")
            if not token:
                break
            self.assertEqual(len(page["runs"]), 2)
        self.assertEqual(set(seen), runs)
        self.assertEqual(search("runs/search", {"experiment_ids": [self.hidden]}), {"runs": []})
        for e in (exp, self.hidden):
            self.as_admin("POST", "logged-models", {"experiment_id": e, "name": "m"})
            self.as_admin("POST", "logged-models", {"experiment_id": e, "name": "m"})
        page = search("logged-models/search", {"experiment_ids": [self.hidden, exp], "max_results": 2})
        self.assertEqual(len(page["models"]), 2)
        self.assertTrue(all(m["info"]["experiment_id"] == exp for m in page["models"]))

    def test_bulk_metric_reads_need_read_on_every_run(self):
        q = {"run_ids": [self.run_mine], "metric_key": "loss", "max_results": 10}
        self.assertEqual(self.alice("GET", "metrics/get-history-bulk-interval", query=q).status, 200)
        q["run_ids"] = [self.run_mine, self.run_hidden]
        self.assertRefused(self.alice("GET", "metrics/get-history-bulk-interval", query=q))
        self.assertRefused(self.alice("GET", "metrics/get-history-bulk", query={
            "run_id": [self.run_hidden], "metric_key": "loss"}, prefix="/ajax-api/2.0/mlflow/"))

    def test_graphql_answers_with_the_users_permissions(self):
        query = "query q($id: String) { mlflowGetRun(input: {runId: $id}) { run { info { runId } } } }"
        for run_id, allowed in ((self.run_mine, True), (self.run_hidden, False)):
            r = self.server.request("POST", "/graphql", body=json.dumps(
                {"query": query, "variables": {"id": run_id}}),
                headers=dict(basic(ALICE), **{"Content-Type": "application/json"}))
            self.assertEqual(r.status, 200, r.body[:300])
            got = r.json["data"]["mlflowGetRun"]
            if allowed:
                self.assertEqual(got["run"]["info"]["runId"], run_id)
            else:
                self.assertIsNone(got)
                self.assertIn("Permission denied", json.dumps(r.json["errors"]))

    def test_logged_models_follow_their_experiment(self):
        made = {}
        for exp in (self.mine, self.hidden):
            made[exp] = self.as_admin("POST", "logged-models", {"experiment_id": exp})["model"][
                "info"]["model_id"]
        self.assertEqual(self.alice("GET", "logged-models/" + made[self.mine]).status, 200)
        self.assertRefused(self.alice("GET", "logged-models/" + made[self.hidden]))
        # READ is not EDIT: she may not log a model into either, nor change one.
        self.assertRefused(self.alice("POST", "logged-models", {"experiment_id": self.mine}))
        self.assertRefused(self.alice("PATCH", "logged-models/" + made[self.mine],
                                      {"status": "LOGGED_MODEL_READY"}))
        found = self.alice("POST", "logged-models/search",
                           {"experiment_ids": [self.mine, self.hidden]}).json["models"]
        self.assertEqual([m["info"]["model_id"] for m in found], [made[self.mine]])

    def test_traces_follow_their_experiment(self):
        trace = self.as_admin("POST", "traces", {"experiment_id": self.hidden, "timestamp_ms": 1,
                                                 "request_metadata": [], "tags": []})
        request_id = trace["trace_info"]["request_id"]
        self.assertRefused(self.alice("GET", "traces/%s/info" % request_id))
        self.assertRefused(self.alice("GET", "traces", query={"experiment_ids": [self.hidden]}))
        self.assertEqual(self.alice("GET", "traces", query={"experiment_ids": [self.mine]}).status,
                         200)

    def test_ringo_reads_open_to_users_and_changes_to_admins(self):
        self.assertEqual(self.alice("GET", "/version", prefix="").status, 200)
        self.assertEqual(self.alice("GET", "/api/ringo/v1/collections", prefix="").status, 200)
        q = {"run_id": self.run_hidden, "key": "loss"}
        self.assertRefused(self.alice("GET", "/api/ringo/v1/metrics/downsample", query=q, prefix=""))
        q["run_id"] = self.run_mine
        self.assertEqual(
            self.alice("GET", "/api/ringo/v1/metrics/downsample", query=q, prefix="").status, 200)
        self.assertEqual(self.alice("POST", "/api/ringo/v1/collections", {"name": "c"},
                                    prefix="").status, 403)

    def test_a_token_owned_by_a_user_acts_as_that_user(self):
        made = self.server.api("POST", "/api/ringo/v1/tokens",
                               {"scope": "admin", "name": "alice-ci", "owner": ALICE[0]},
                               prefix="", headers=basic(ADMIN))
        self.assertEqual(made.status, 200, made.body[:300])
        token = made.json["token"]
        self.assertEqual(made.json["owner"], ALICE[0])
        # Her permissions apply, and an admin scope does not make her an admin.
        self.assertEqual(self.alice("GET", "runs/get", query={"run_id": self.run_mine},
                                    headers=bearer(token)).status, 200)
        self.assertRefused(self.alice("GET", "runs/get", query={"run_id": self.run_hidden},
                                      headers=bearer(token)))
        self.assertRefused(self.alice("GET", "/api/ringo/v1/tokens", prefix="",
                                      headers=bearer(token)))
        names = [e["name"] for e in self.alice("POST", "experiments/search", {"max_results": 100},
                                               headers=bearer(token)).json["experiments"]]
        self.assertIn("alice-reads", names)
        self.assertNotIn("hidden", names)
        listed = self.as_admin("GET", "/api/ringo/v1/tokens", prefix="")["tokens"]
        self.assertIn(ALICE[0], [t.get("owner") for t in listed if t["name"] == "alice-ci"])
        # A token of an unknown user is refused at creation.
        r = self.server.api("POST", "/api/ringo/v1/tokens",
                            {"scope": "read", "owner": "nobody"}, prefix="", headers=basic(ADMIN))
        self.assertEqual(r.status, 404, r.body[:300])

    def test_a_deleted_users_tokens_stop(self):
        self.as_admin("POST", "users/create", {"username": "bob", "password": "bob-password-1"})
        token = self.server.api("POST", "/api/ringo/v1/tokens", {"scope": "read", "owner": "bob"},
                                prefix="", headers=basic(ADMIN)).json["token"]
        self.assertEqual(self.alice("GET", "experiments/get", query={"experiment_id": self.mine},
                                    headers=bearer(token)).status, 200)
        self.as_admin("DELETE", "users/delete", {"username": "bob"})
        r = self.alice("GET", "experiments/get", query={"experiment_id": self.mine},
                       headers=bearer(token))
        self.assertEqual(r.status, 401, r.body[:300])
        self.assertIn("no longer exists", r.json["message"])

    def test_a_registered_models_permissions_go_with_it(self):
        self.as_admin("POST", "registered-models/create", {"name": "to-rename"})
        self.as_admin("POST", "registered-models/permissions/create",
                      {"name": "to-rename", "username": ALICE[0], "permission": "EDIT"})
        self.as_admin("POST", "registered-models/rename", {"name": "to-rename", "new_name": "renamed"})
        got = self.as_admin("GET", "registered-models/permissions/get",
                            query={"name": "renamed", "username": ALICE[0]})
        self.assertEqual(got["registered_model_permission"]["permission"], "EDIT")
        self.as_admin("DELETE", "registered-models/delete", {"name": "renamed"})
        r = self.server.api("GET", "registered-models/permissions/get",
                            query={"name": "renamed", "username": ALICE[0]}, headers=basic(ADMIN))
        self.assertEqual(r.status, 404, r.body[:300])


if __name__ == "__main__":
    unittest.main()
