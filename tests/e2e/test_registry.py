"""The model registry through MLflow's REST API and `ringo models register`."""

import hashlib
import json
import os
import subprocess
import tempfile
import time
import unittest

from harness import AJAX, ServerTestCase, kv, ringo_bin, unique


class RegistryApiTest(ServerTestCase):
    def create_model(self, **extra):
        name = unique("model")
        body = {"name": name}
        body.update(extra)
        m = self.ok("POST", "registered-models/create", body)["registered_model"]
        self.assertEqual(m["name"], name)
        return name

    def create_version(self, name, source="s3://bucket/model", **extra):
        body = {"name": name, "source": source}
        body.update(extra)
        return self.ok("POST", "model-versions/create", body)["model_version"]

    def test_model_lifecycle(self):
        name = self.create_model(description="first", tags=[{"key": "team", "value": "vision"}])
        self.err(400, "RESOURCE_ALREADY_EXISTS", "POST", "registered-models/create", {"name": name})
        m = self.ok("GET", "registered-models/get", query={"name": name})["registered_model"]
        self.assertEqual((m["description"], kv(m["tags"])), ("first", {"team": "vision"}))
        self.ok("PATCH", "registered-models/update", {"name": name, "description": "second"})
        self.ok("POST", "registered-models/set-tag", {"name": name, "key": "k", "value": "v"})
        self.ok("DELETE", "registered-models/delete-tag", {"name": name, "key": "team"})
        m = self.ok("GET", "registered-models/get", query={"name": name})["registered_model"]
        self.assertEqual((m["description"], kv(m["tags"])), ("second", {"k": "v"}))
        self.create_version(name)
        renamed = name + "-renamed"
        self.ok("POST", "registered-models/rename", {"name": name, "new_name": renamed})
        self.err(404, "RESOURCE_DOES_NOT_EXIST", "GET", "registered-models/get", query={"name": name})
        v = self.ok("GET", "model-versions/get", query={"name": renamed, "version": "1"})["model_version"]
        self.assertEqual(v["name"], renamed)
        self.ok("DELETE", "registered-models/delete", {"name": renamed})
        self.err(404, "RESOURCE_DOES_NOT_EXIST", "GET", "model-versions/get", query={"name": renamed, "version": "1"})

    def test_versions_aliases_stages(self):
        name = self.create_model()
        v1 = self.create_version(name, run_link="http://x", description="d1")
        v2 = self.create_version(name, tags=[{"key": "k", "value": "v"}])
        self.assertEqual((v1["version"], v2["version"], v2["status"], v2["current_stage"]), ("1", "2", "READY", "None"))
        self.ok("POST", "registered-models/alias", {"name": name, "alias": "champion", "version": "1"})
        self.ok("POST", "registered-models/alias", {"name": name, "alias": "champion", "version": "2"})
        got = self.ok("GET", "registered-models/alias", query={"name": name, "alias": "champion"})["model_version"]
        self.assertEqual((got["version"], got["aliases"]), ("2", ["champion"]))
        m = self.ok("GET", "registered-models/get", query={"name": name})["registered_model"]
        self.assertEqual(m["aliases"], [{"alias": "champion", "version": "2"}])
        self.err(400, "INVALID_PARAMETER_VALUE", "POST", "registered-models/alias",
                 {"name": name, "alias": "latest", "version": "1"})
        self.err(404, "RESOURCE_DOES_NOT_EXIST", "POST", "registered-models/alias",
                 {"name": name, "alias": "x", "version": "9"})
        self.ok("DELETE", "registered-models/alias", {"name": name, "alias": "champion"})
        self.err(404, "RESOURCE_DOES_NOT_EXIST", "GET", "registered-models/alias", query={"name": name, "alias": "champion"})
        self.ok("PATCH", "model-versions/update", {"name": name, "version": "1", "description": "new"})
        self.ok("POST", "model-versions/set-tag", {"name": name, "version": "1", "key": "a", "value": "b"})
        self.ok("DELETE", "model-versions/delete-tag", {"name": name, "version": "2", "key": "k"})
        v = self.ok("GET", "model-versions/get", query={"name": name, "version": "1"})["model_version"]
        self.assertEqual((v["description"], kv(v["tags"])), ("new", {"a": "b"}))
        t = self.ok("POST", "model-versions/transition-stage",
                    {"name": name, "version": "1", "stage": "Production", "archive_existing_versions": True})
        self.assertEqual(t["model_version"]["current_stage"], "Production")
        self.ok("POST", "model-versions/transition-stage",
                {"name": name, "version": "2", "stage": "production", "archive_existing_versions": True})
        v1 = self.ok("GET", "model-versions/get", query={"name": name, "version": "1"})["model_version"]
        self.assertEqual(v1["current_stage"], "Archived")
        latest = self.ok("POST", "registered-models/get-latest-versions", {"name": name, "stages": ["Production"]})
        self.assertEqual([v["version"] for v in latest["model_versions"]], ["2"])
        uri = self.ok("GET", "model-versions/get-download-uri", query={"name": name, "version": "2"})
        self.assertEqual(uri["artifact_uri"], "s3://bucket/model")
        self.ok("DELETE", "model-versions/delete", {"name": name, "version": "1"})
        self.err(404, "RESOURCE_DOES_NOT_EXIST", "GET", "model-versions/get", query={"name": name, "version": "1"})
        self.assertEqual(self.create_version(name)["version"], "3")

    def test_search(self):
        prefix = unique("search")
        names = [prefix + "-a", prefix + "-b", prefix + "-c"]
        for i, n in enumerate(names):
            self.ok("POST", "registered-models/create", {"name": n, "tags": [{"key": "i", "value": str(i)}]})
            for _ in range(i + 1):
                self.create_version(n, run_id="run%d" % i)
        r = self.ok("GET", "registered-models/search", query={"filter": "name LIKE '%s%%'" % prefix,
                                                              "order_by": "name DESC", "max_results": "2"})
        self.assertEqual([m["name"] for m in r["registered_models"]], [names[2], names[1]])
        r2 = self.ok("GET", "registered-models/search", query={"filter": "name LIKE '%s%%'" % prefix,
                                                               "order_by": "name DESC", "max_results": "2",
                                                               "page_token": r["next_page_token"]})
        self.assertEqual([m["name"] for m in r2["registered_models"]], [names[0]])
        self.assertNotIn("next_page_token", r2)
        r = self.ok("GET", "registered-models/search", query={"filter": "tags.i = '1' and name ILIKE '%s%%'" % prefix.upper()})
        self.assertEqual([m["name"] for m in r["registered_models"]], [names[1]])
        r = self.ok("GET", "model-versions/search", query={"filter": "name = '%s' and version_number >= 2" % names[2]})
        self.assertEqual(sorted(v["version"] for v in r["model_versions"]), ["2", "3"])
        r = self.ok("GET", "model-versions/search", query={"filter": "run_id IN ('run0', 'run1')"})
        self.assertEqual(len([v for v in r["model_versions"] if v["name"].startswith(prefix)]), 3)
        self.err(400, "INVALID_PARAMETER_VALUE", "GET", "model-versions/search", query={"filter": "bogus = 'x'"},
                 msg_contains="bogus")
        self.err(400, "INVALID_PARAMETER_VALUE", "GET", "registered-models/search", query={"order_by": "nope"})

    def test_registry_rules_as_mlflow_keeps_them(self):
        name = self.create_model()
        for _ in range(3):
            self.create_version(name)
        # Deleting the newest versions never frees their numbers.
        self.ok("DELETE", "model-versions/delete", {"name": name, "version": "3"})
        self.ok("DELETE", "model-versions/delete", {"name": name, "version": "2"})
        self.assertEqual(self.create_version(name)["version"], "4")
        # A stage change updates the model; a version's description does not.
        before = self.ok("GET", "registered-models/get", query={"name": name})["registered_model"]
        time.sleep(0.01)
        self.ok("POST", "model-versions/transition-stage", {"name": name, "version": "1", "stage": "Staging"})
        after = self.ok("GET", "registered-models/get", query={"name": name})["registered_model"]
        self.assertGreater(int(after["last_updated_timestamp"]), int(before["last_updated_timestamp"]))
        time.sleep(0.01)
        self.ok("PATCH", "model-versions/update", {"name": name, "version": "1", "description": "x"})
        again = self.ok("GET", "registered-models/get", query={"name": name})["registered_model"]
        self.assertEqual(again["last_updated_timestamp"], after["last_updated_timestamp"])
        # A version without a description says so with "", as MLflow's server does.
        v4 = self.ok("GET", "model-versions/get", query={"name": name, "version": "4"})["model_version"]
        self.assertEqual(v4["description"], "")
        # A copy (source models:/<name>/<version>) downloads from where the original is.
        copy = self.create_version(name, source="models:/%s/1" % name)
        uri = self.ok("GET", "model-versions/get-download-uri",
                      query={"name": name, "version": copy["version"]})["artifact_uri"]
        self.assertEqual(uri, "s3://bucket/model")
        # MLflow 3's clients hide prompts with a tag filter; models without the tag are no prompts.
        r = self.ok("GET", "registered-models/search",
                    query={"filter": "tag.`mlflow.prompt.is_prompt` != 'true'", "max_results": 1000})
        self.assertIn(name, [m["name"] for m in r["registered_models"]])
        self.err(400, "INVALID_PARAMETER_VALUE", "GET", "model-versions/get",
                 query={"name": name, "version": "x"}, msg_contains="Parameter 'version' must be an integer")

    def test_errors(self):
        self.err(400, "INVALID_PARAMETER_VALUE", "POST", "registered-models/create", {"name": ""})
        self.err(400, "INVALID_PARAMETER_VALUE", "POST", "registered-models/create", {"name": "a/b"})
        self.err(404, "RESOURCE_DOES_NOT_EXIST", "POST", "model-versions/create", {"name": unique("none"), "source": "s3://x"})
        name = self.create_model()
        self.err(400, "INVALID_PARAMETER_VALUE", "POST", "model-versions/create", {"name": name})
        self.err(400, "INVALID_PARAMETER_VALUE", "POST", "model-versions/create",
                 {"name": name, "source": "mlflow-artifacts:/0/../../etc"})
        self.err(400, "INVALID_PARAMETER_VALUE", "GET", "model-versions/get", query={"name": name, "version": "x"})
        self.err(400, "INVALID_PARAMETER_VALUE", "POST", "model-versions/transition-stage",
                 {"name": name, "version": "1", "stage": "Nowhere"})


class RegisterCommandTest(ServerTestCase):
    def test_register_core_ml_files(self):
        have_torch = subprocess.run(["/usr/bin/python3", "-c", "import torch"], capture_output=True).returncode == 0
        if not have_torch:
            self.skipTest("needs Debian's python3-torch to make a model")
        here = os.path.dirname(os.path.abspath(__file__))
        with tempfile.TemporaryDirectory() as d:
            subprocess.run(["/usr/bin/python3", os.path.join(here, "..", "coreml", "export_models.py"), d, "mlp"],
                           check=True, capture_output=True)
            for ext in ("mlmodel", "mlpackage"):
                out = os.path.join(d, "m." + ext)
                p = subprocess.run([ringo_bin(), "convert", os.path.join(d, "mlp.onnx"), "-o", out],
                                   capture_output=True, text=True)
                self.assertEqual(p.returncode, 0, p.stderr)
            name = unique("digits")
            for i, ext in enumerate(("mlmodel", "mlpackage")):
                p = subprocess.run([ringo_bin(), "models", "register", os.path.join(d, "m." + ext), "--name", name,
                                    "--tracking-uri", self.server.url], capture_output=True, text=True)
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertNotIn("warning", p.stderr)
                self.assertIn("%s version %d" % (name, i + 1), p.stdout)
                card = self.server.request("GET", "/api/ringo/v1/model-versions/coreml",
                                           query={"name": name, "version": str(i + 1)})
                self.assertEqual(card.status, 200, card)
                if ext == "mlmodel":
                    # A file's sha256 is the file's: what `shasum -a 256` prints.
                    with open(os.path.join(d, "m.mlmodel"), "rb") as f:
                        want = hashlib.sha256(f.read()).hexdigest()
                    self.assertEqual(card.json["sha256"], want)
                    self.assertNotIn("tree_sha256", card.json)
                    self.assertIn("sha256 " + want, p.stdout)
                else:
                    # A directory has no sha256 of its own; its tree hash is named as such.
                    self.assertNotIn("sha256", card.json)
                    self.assertEqual(len(card.json["tree_sha256"]), 64)
                    self.assertIn("tree_sha256 " + card.json["tree_sha256"], p.stdout)
                self.assertEqual(card.json["coreml"]["model_type"], "neuralNetwork" if ext == "mlmodel" else "mlProgram")
                v = self.ok("GET", "model-versions/get", query={"name": name, "version": str(i + 1)})["model_version"]
                self.assertTrue(v["source"].endswith("/model/m." + ext), v["source"])
                # The registered source downloads through the artifact proxy.
                listing = self.server.request("GET", "/api/2.0/mlflow-artifacts/artifacts",
                                              query={"path": v["source"].split("mlflow-artifacts:/")[1].rsplit("/", 1)[0]})
                self.assertIn("m." + ext, [f["path"] for f in listing.json["files"]])
        p = subprocess.run([ringo_bin(), "models", "register", "/nonexistent/x.mlmodel", "--name", "x",
                            "--tracking-uri", self.server.url], capture_output=True, text=True)
        self.assertEqual(p.returncode, 1)
        self.assertIn("does not exist", p.stderr)


    def test_list_show_and_delete_from_the_cli(self):
        name = unique("cli-model")
        self.ok("POST", "registered-models/create", {"name": name, "description": "digits"})
        for i in range(2):
            self.ok("POST", "model-versions/create", {"name": name, "source": "s3://b/m%d" % i, "run_id": "r%d" % i})
        self.ok("POST", "registered-models/alias", {"name": name, "alias": "champion", "version": "1"})

        def cli(*args):
            return subprocess.run([ringo_bin(), "models"] + list(args) + ["--tracking-uri", self.server.url],
                                  capture_output=True, text=True)

        out = cli("list")
        self.assertEqual(out.returncode, 0, out.stderr)
        line = [l for l in out.stdout.splitlines() if l.startswith(name + " ")]
        self.assertEqual(line, [name + "  latest v2  @champion=v1"])
        out = cli("show", name)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout.splitlines(), [name + ": digits", "  v2  None  s3://b/m1  run r1",
                                                   "  v1  None  s3://b/m0  run r0"])
        shown = json.loads(cli("show", name, "--json").stdout)
        self.assertEqual([v["version"] for v in shown["model_versions"]], ["2", "1"])
        self.assertEqual(cli("delete", name, "--version", "2").returncode, 0)
        self.assertEqual([v["version"] for v in json.loads(cli("show", name, "--json").stdout)["model_versions"]], ["1"])
        self.assertEqual(cli("delete", name).returncode, 0)
        gone = cli("show", name)
        self.assertEqual(gone.returncode, 1)
        self.assertIn("not found", gone.stderr)
        self.assertEqual(cli("delete", name).returncode, 1)

    def test_register_a_file_that_is_not_core_ml_warns(self):
        # Like MLflow, the registry takes any source; `models register` says it is no model.
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "metrics.json")
            with open(path, "w") as f:
                f.write('{"accuracy": 0.97}')
            name = unique("not-a-model")
            p = subprocess.run([ringo_bin(), "models", "register", path, "--name", name,
                                "--tracking-uri", self.server.url], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("%s version 1" % name, p.stdout)
        self.assertIn("warning", p.stderr)
        self.assertIn("'%s' is not a Core ML model" % path, p.stderr)
        self.ok("GET", "model-versions/get", query={"name": name, "version": "1"})


class VersionArtifactTest(ServerTestCase):
    """model-versions/get-artifact serves a file of a version's model, as MLflow's registry
    pages preview it, for a run's files and for a copy of that version."""

    def test_a_file_of_a_version_and_of_its_copy(self):
        run = self.ok("POST", "runs/create", {"experiment_id": "0"})["run"]
        rel = run["info"]["artifact_uri"].split(":", 1)[1].strip("/")
        put = self.server.request("PUT", "/api/2.0/mlflow-artifacts/artifacts/%s/model/MLmodel" % rel,
                                  body=b"flavors: {}\n")
        self.assertEqual(put.status, 200, put)
        name = unique("m")
        self.ok("POST", "registered-models/create", {"name": name})
        self.ok("POST", "model-versions/create",
                {"name": name, "source": "runs:/%s/model" % run["info"]["run_id"]})
        self.ok("POST", "model-versions/create", {"name": name, "source": "models:/%s/1" % name})
        for version in ("1", "2"):
            for path in ("/model-versions/get-artifact", "//model-versions/get-artifact",
                         AJAX + "model-versions/get-artifact"):
                r = self.server.request("GET", path, query={"name": name, "version": version, "path": "MLmodel"})
                self.assertEqual((r.status, r.body), (200, b"flavors: {}\n"), path)
        r = self.server.request("GET", "/model-versions/get-artifact",
                                query={"name": name, "version": "1", "path": "../secret"})
        self.assertEqual((r.status, r.json), (400, {"error_code": "INVALID_PARAMETER_VALUE", "message": "Invalid path"}))
        r = self.server.request("GET", "/model-versions/get-artifact",
                                query={"name": name, "version": "9", "path": "MLmodel"})
        self.assertEqual(r.status, 404)


class RegistryAcceptsWhatMlflowAcceptsTest(ServerTestCase):
    """Like MLflow, any source is registered; a broken Core ML model is registered with its
    problem recorded, and a deployment naming it is refused with that problem."""

    def test_foreign_runs_and_broken_models(self):
        name = unique("m")
        self.ok("POST", "registered-models/create", {"name": name})
        # A run this server does not know (registry and tracking may be different servers).
        v = self.ok("POST", "model-versions/create",
                    {"name": name, "source": "runs:/0123456789abcdef0123456789abcdef/model",
                     "run_id": "0123456789abcdef0123456789abcdef"})["model_version"]
        self.assertEqual((v["version"], v["status"]), ("1", "READY"))
        # A file named like a Core ML model that is not one.
        run = self.ok("POST", "runs/create", {"experiment_id": "0"})["run"]
        rel = run["info"]["artifact_uri"].split(":", 1)[1].strip("/")
        put = self.server.request("PUT", "/api/2.0/mlflow-artifacts/artifacts/%s/model/Broken.mlmodel" % rel,
                                  body=b"not a protobuf")
        self.assertEqual(put.status, 200, put)
        v = self.ok("POST", "model-versions/create",
                    {"name": name, "source": run["info"]["artifact_uri"] + "/model",
                     "run_id": run["info"]["run_id"]})["model_version"]
        self.assertEqual((v["version"], v["status"]), ("2", "READY"))
        card = self.server.request("GET", "/api/ringo/v1/model-versions/coreml", query={"name": name, "version": "2"})
        self.assertEqual(card.status, 200, card)
        self.assertIn("not a readable Core ML model", card.json["problem"])
        self.assertNotIn("coreml", card.json)
        coll = unique("app")
        self.ok("POST", "/api/ringo/v1/collections", {"name": coll, "models": [name]}, prefix="")
        r = self.call("POST", "/api/ringo/v1/deployments", {"collection": coll, "models": {name: "2"}}, prefix="")
        self.assertError(r, 400, "INVALID_PARAMETER_VALUE", "not a readable Core ML model")


if __name__ == "__main__":
    unittest.main()
