"""MLflow's basic auth against `ringo server`, driven by MLflow's own clients: its auth client
(users and permissions) and its tracking client with MLFLOW_TRACKING_USERNAME/PASSWORD. Run by
ctest once per MLflow major version with that venv's interpreter."""

import os
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))

import mlflow  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from mlflow.exceptions import MlflowException, RestException  # noqa: E402
from mlflow.server.auth.client import AuthServiceClient  # noqa: E402

from harness import Server, unique  # noqa: E402

ADMIN, ADMIN_PASSWORD = "admin", "admin-password-1"


class As:
    """MLflow's clients signed in as one user, through MLflow's environment variables."""

    def __init__(self, user, password):
        self.user, self.password = user, password

    def __enter__(self):
        os.environ["MLFLOW_TRACKING_USERNAME"] = self.user
        os.environ["MLFLOW_TRACKING_PASSWORD"] = self.password
        return self

    def __exit__(self, *exc):
        os.environ.pop("MLFLOW_TRACKING_USERNAME", None)
        os.environ.pop("MLFLOW_TRACKING_PASSWORD", None)


class Permissions:
    """Per-resource permissions: through MLflow's auth client where it has the calls (MLflow 2),
    else through the same REST endpoints with the signed-in user's credentials (MLflow 3.17's
    client speaks a newer, role-based permission API instead)."""

    def __init__(self, client, url):
        self.client, self.url = client, url

    def _rest(self, method, path, **params):
        import requests
        auth = (os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"])
        kw = {"params": params} if method == "GET" else {"json": params}
        r = requests.request(method, self.url + "/api/2.0/mlflow/" + path, auth=auth, timeout=30, **kw)
        if r.status_code != 200:
            raise RestException(r.json())
        return r.json()

    def __getattr__(self, name):
        if hasattr(self.client, name):
            return getattr(self.client, name)
        op, kind = name.split("_", 1)
        kind = kind[:-len("_permission")]
        path = ("experiments" if kind == "experiment" else "registered-models") + "/permissions/" + op
        key = "experiment_id" if kind == "experiment" else "name"
        method = {"get": "GET", "create": "POST", "update": "PATCH", "delete": "DELETE"}[op]

        def call(resource, username, permission=None):
            params = {key: resource, "username": username}
            if permission is not None:
                params["permission"] = permission
            out = self._rest(method, path, **params)
            got = out.get(kind + "_permission") if kind == "experiment" else out.get("registered_model_permission")
            return type("P", (), got or {})
        return call


class MlflowUsersTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server(env={"MLFLOW_AUTH_ADMIN_USERNAME": ADMIN,
                                 "MLFLOW_AUTH_ADMIN_PASSWORD": ADMIN_PASSWORD})
        cls.server.start()
        mlflow.set_tracking_uri(cls.server.url)
        cls.auth = Permissions(AuthServiceClient(cls.server.url), cls.server.url)

    @classmethod
    def tearDownClass(cls):
        rc = cls.server.stop()
        cls.server.cleanup()
        assert rc == 0, "ringo server exited with %s" % rc

    def new_user(self, prefix):
        name = unique(prefix)
        with As(ADMIN, ADMIN_PASSWORD):
            user = self.auth.create_user(name, name + "-password")
        self.assertEqual((user.username, user.is_admin), (name, False))
        return name, name + "-password"

    def test_no_credentials_or_wrong_ones_are_refused(self):
        r = self.server.request("GET", "/api/2.0/mlflow/experiments/search", query={"max_results": "1"})
        self.assertEqual(r.status, 401)
        self.assertIn("Basic", r.header("WWW-Authenticate"))
        with As(ADMIN, "not-the-password"):
            with self.assertRaises(MlflowException):
                MlflowClient().search_experiments()

    def test_users_through_mlflows_auth_client(self):
        alice, alice_pw = self.new_user("alice")
        with As(ADMIN, ADMIN_PASSWORD):
            self.assertEqual(self.auth.get_user(alice).username, alice)
            with self.assertRaises(RestException) as e:
                self.auth.create_user(alice, "another-password")
            self.assertEqual(e.exception.error_code, "RESOURCE_ALREADY_EXISTS")
        # A user reads itself, not others, and cannot make users.
        bob, bob_pw = self.new_user("bob")
        with As(alice, alice_pw):
            self.assertEqual(self.auth.get_user(alice).username, alice)
            with self.assertRaises(RestException) as e:
                self.auth.get_user(bob)
            self.assertEqual(e.exception.error_code, "PERMISSION_DENIED")
            with self.assertRaises(RestException):
                self.auth.create_user(unique("mallory"), "password-123")
            self.auth.update_user_password(alice, "a-new-password")
        with As(alice, alice_pw):
            with self.assertRaises(MlflowException):
                MlflowClient().search_experiments()
        with As(alice, "a-new-password"):
            MlflowClient().search_experiments()
        with As(ADMIN, ADMIN_PASSWORD):
            self.auth.update_user_admin(bob, True)
            self.assertTrue(self.auth.get_user(bob).is_admin)
            self.auth.delete_user(bob)
            with self.assertRaises(RestException) as e:
                self.auth.get_user(bob)
            self.assertEqual(e.exception.error_code, "RESOURCE_DOES_NOT_EXIST")
        with As(bob, bob_pw):
            with self.assertRaises(MlflowException):
                MlflowClient().search_experiments()

    def test_permissions_decide_what_a_user_sees_and_changes(self):
        alice, alice_pw = self.new_user("alice")
        bob, bob_pw = self.new_user("bob")
        with As(alice, alice_pw):
            # The creator manages its experiment; its runs are logged with MLflow's client.
            exp_id = mlflow.create_experiment(unique("private"))
            with mlflow.start_run(experiment_id=exp_id) as run:
                mlflow.log_metric("loss", 0.5)
                mlflow.log_param("lr", 0.1)
            with tempfile.TemporaryDirectory() as d:
                path = os.path.join(d, "notes.txt")
                with open(path, "w") as f:
                    f.write("secret")
                MlflowClient().log_artifact(run.info.run_id, path)
            perm = self.auth.get_experiment_permission(exp_id, alice)
            self.assertEqual(perm.permission, "MANAGE")
        # Bob holds the default, READ: he sees it but cannot log to it.
        with As(bob, bob_pw):
            client = MlflowClient()
            self.assertEqual(client.get_run(run.info.run_id).data.metrics["loss"], 0.5)
            with self.assertRaises(MlflowException) as e:
                client.create_run(exp_id)
            self.assertIn("PERMISSION_DENIED", str(e.exception.error_code))
            with self.assertRaises(RestException):
                self.auth.create_experiment_permission(exp_id, bob, "MANAGE")
        # Alice takes even that away: Bob then finds none of it, in gets or in searches.
        with As(alice, alice_pw):
            self.auth.create_experiment_permission(exp_id, bob, "NO_PERMISSIONS")
        with As(bob, bob_pw):
            client = MlflowClient()
            with self.assertRaises(MlflowException):
                client.get_experiment(exp_id)
            with self.assertRaises(MlflowException):
                client.get_run(run.info.run_id)
            self.assertNotIn(exp_id, [e.experiment_id for e in client.search_experiments()])
            self.assertEqual(client.search_runs([exp_id]), [])
            # MLflow 2's artifact client raises the HTTP error itself (403), MLflow 3's an
            # MlflowException.
            with self.assertRaises(Exception) as e:
                client.download_artifacts(run.info.run_id, "notes.txt", tempfile.mkdtemp())
            self.assertRegex(str(e.exception), "403|PERMISSION_DENIED")
        # EDIT lets him log.
        with As(alice, alice_pw):
            self.auth.update_experiment_permission(exp_id, bob, "EDIT")
        with As(bob, bob_pw):
            client = MlflowClient()
            run2 = client.create_run(exp_id)
            client.log_metric(run2.info.run_id, "acc", 0.9)
            self.assertEqual(len(client.search_runs([exp_id])), 2)
            with self.assertRaises(MlflowException):
                client.delete_experiment(exp_id)  # deleting needs MANAGE
        with As(alice, alice_pw):
            self.auth.delete_experiment_permission(exp_id, bob)
            with self.assertRaises(RestException) as e:
                self.auth.get_experiment_permission(exp_id, bob)
            self.assertEqual(e.exception.error_code, "RESOURCE_DOES_NOT_EXIST")

    def test_registered_model_permissions(self):
        alice, alice_pw = self.new_user("alice")
        bob, bob_pw = self.new_user("bob")
        name = unique("model")
        with As(alice, alice_pw):
            MlflowClient().create_registered_model(name)
            self.assertEqual(self.auth.get_registered_model_permission(name, alice).permission, "MANAGE")
            self.auth.create_registered_model_permission(name, bob, "NO_PERMISSIONS")
        with As(bob, bob_pw):
            client = MlflowClient()
            with self.assertRaises(MlflowException):
                client.get_registered_model(name)
            self.assertNotIn(name, [m.name for m in client.search_registered_models()])
            with self.assertRaises(MlflowException):
                client.delete_registered_model(name)
        with As(ADMIN, ADMIN_PASSWORD):
            self.assertIn(name, [m.name for m in MlflowClient().search_registered_models()])
            with self.assertRaises(RestException) as e:
                self.auth.create_registered_model_permission(name, bob, "OWNER")
            self.assertEqual(e.exception.error_code, "INVALID_PARAMETER_VALUE")

    def test_only_admins_list_users(self):
        import base64
        bob, bob_pw = self.new_user("bob")

        def basic(user, pw):
            return {"Authorization": "Basic " + base64.b64encode(("%s:%s" % (user, pw)).encode()).decode()}
        r = self.server.request("GET", "/api/2.0/mlflow/users/list", headers=basic(ADMIN, ADMIN_PASSWORD))
        self.assertEqual(r.status, 200, r)
        listed = {u["username"]: u for u in r.json["users"]}
        self.assertTrue({ADMIN, bob} <= set(listed))
        self.assertEqual((listed[ADMIN]["is_admin"], listed[bob]["is_admin"]), (True, False))
        self.assertNotIn("password", str(r.json))
        self.assertEqual(self.server.request("GET", "/ajax-api/2.0/mlflow/users/list",
                                             headers=basic(bob, bob_pw)).status, 403)
        self.assertEqual(self.server.request("GET", "/api/2.0/mlflow/users/list").status, 401)

    def test_permission_errors_in_the_clients_own_words(self):
        """MLflow 3 names the workspace of a registered model's permission, MLflow 2 does not:
        each client gets its own version's wording."""
        bob, _ = self.new_user("bob")
        name = unique("model")
        ws = "workspace=default, " if mlflow.__version__.startswith("3.") else ""
        with As(ADMIN, ADMIN_PASSWORD):
            MlflowClient().create_registered_model(name)
            with self.assertRaises(RestException) as e:
                self.auth.get_registered_model_permission(name, bob)
            self.assertIn("Registered model permission with %sname=%s and username=%s not found"
                          % (ws, name, bob), str(e.exception))
            self.auth.create_registered_model_permission(name, bob, "READ")
            with self.assertRaises(RestException) as e:
                self.auth.create_registered_model_permission(name, bob, "READ")
            self.assertEqual(e.exception.error_code, "RESOURCE_ALREADY_EXISTS")
            expected = ("Registered model permission with workspace=default, name=%s and username=%s "
                        "already exists." if ws else
                        "Registered model permission (name=%s, username=%s) already exists.")
            self.assertIn(expected % (name, bob), str(e.exception))
            with self.assertRaises(RestException) as e:
                MlflowClient().get_model_version(name, "x")
            self.assertIn("Parameter 'version' must be an integer" if ws
                          else "Model version must be an integer", str(e.exception))


if __name__ == "__main__":
    unittest.main()
