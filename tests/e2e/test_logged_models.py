"""MLflow 3's logged models over REST: the calls MLflow 3 clients make to log, find and register
models, and clear errors for bad input."""

import unittest

from harness import API, ServerTestCase, unique


class LoggedModelsTest(ServerTestCase):
    def experiment(self):
        return self.ok("POST", "experiments/create", {"name": unique("lm")})["experiment_id"]

    def search(self, exp, **extra):
        return self.ok("POST", "logged-models/search", dict({"experiment_ids": [exp]}, **extra)).get("models", [])

    def test_lifecycle(self):
        exp = self.experiment()
        run = self.ok("POST", "runs/create", {"experiment_id": exp})["run"]["info"]["run_id"]
        m = self.ok("POST", "logged-models", {"experiment_id": exp, "name": "clf", "model_type": "sklearn",
                                              "source_run_id": run, "params": [{"key": "C", "value": "1"}],
                                              "tags": [{"key": "t", "value": "v"}]})["model"]
        info = m["info"]
        mid = info["model_id"]
        self.assertTrue(mid.startswith("m-"))
        self.assertEqual(info["status"], "LOGGED_MODEL_PENDING")
        self.assertEqual(info["artifact_uri"], "mlflow-artifacts:/%s/models/%s/artifacts" % (exp, mid))
        self.assertEqual(m["data"]["params"], [{"key": "C", "value": "1"}])
        # The client uploads through the proxy, then finalizes.
        up = self.server.request("PUT", "/api/2.0/mlflow-artifacts/artifacts/%s/models/%s/artifacts/MLmodel" % (exp, mid),
                                 body=b"flavors: {}\n")
        self.assertEqual(up.status, 200, up)
        done = self.ok("PATCH", "logged-models/" + mid, {"model_id": mid, "status": "LOGGED_MODEL_READY"})
        self.assertEqual(done["model"]["info"]["status"], "LOGGED_MODEL_READY")
        listing = self.ok("GET", "logged-models/%s/artifacts/directories" % mid)
        self.assertEqual([f["path"] for f in listing["files"]], ["MLmodel"])
        got_file = self.server.request("GET", "/ajax-api/2.0/mlflow/logged-models/%s/artifacts/files" % mid,
                                       query={"artifact_file_path": "MLmodel"})
        self.assertEqual((got_file.status, got_file.body), (200, b"flavors: {}\n"))
        self.err(404, "RESOURCE_DOES_NOT_EXIST", "GET", "logged-models/%s/artifacts/files" % mid,
                 query={"artifact_file_path": "absent"})
        self.err(400, "INVALID_PARAMETER_VALUE", "GET", "logged-models/%s/artifacts/files" % mid,
                 query={"artifact_file_path": "../x"})
        self.ok("PATCH", "logged-models/%s/tags" % mid, {"tags": [{"key": "stage", "value": "dev"}]})
        self.ok("POST", "logged-models/%s/params" % mid, {"params": [{"key": "lr", "value": "0.1"}]})
        got = self.ok("GET", "logged-models/" + mid)["model"]
        self.assertEqual({t["key"]: t["value"] for t in got["info"]["tags"]}, {"t": "v", "stage": "dev"})
        self.assertEqual({p["key"] for p in got["data"]["params"]}, {"C", "lr"})
        self.assertEqual([x["info"]["model_id"] for x in self.search(exp, filter="tags.stage = 'dev' AND name LIKE 'c%'")], [mid])
        self.assertEqual(self.search(exp, filter="name = 'other'"), [])
        self.ok("DELETE", "logged-models/%s/tags/stage" % mid)
        name = unique("reg")
        self.ok("POST", "registered-models/create", {"name": name})
        mv = self.ok("POST", "model-versions/create", {"name": name, "source": "models:/" + mid, "model_id": mid})
        self.assertEqual((mv["model_version"]["model_id"], mv["model_version"]["source"]), (mid, "models:/" + mid))
        got_mv = self.ok("GET", "model-versions/get", query={"name": name, "version": "1"})["model_version"]
        self.assertEqual(got_mv["model_id"], mid)
        # As MLflow does, the logged model lists the versions made of it.
        tags = {t["key"]: t["value"] for t in self.ok("GET", "logged-models/" + mid)["model"]["info"]["tags"]}
        self.assertEqual(tags["mlflow.modelVersions"], '[{"name": "%s", "version": 1}]' % name)
        self.ok("POST", "runs/outputs", {"run_id": run, "models": [{"model_id": mid, "step": 3}]})
        outputs = self.ok("GET", "runs/get", query={"run_id": run})["run"]["outputs"]["model_outputs"]
        self.assertEqual(outputs, [{"model_id": mid, "step": 3}])
        # MLflow 3's model inputs: a run names the logged models it used.
        self.ok("POST", "runs/log-inputs", {"run_id": run, "models": [{"model_id": mid}]})
        got_run = self.ok("GET", "runs/get", query={"run_id": run})["run"]
        self.assertEqual(got_run["inputs"]["model_inputs"], [{"model_id": mid}])
        self.err(404, "RESOURCE_DOES_NOT_EXIST", "POST", "runs/log-inputs",
                 {"run_id": run, "models": [{"model_id": "m-" + "0" * 32}]})
        self.err(400, "INVALID_PARAMETER_VALUE", "POST", "runs/log-inputs",
                 {"run_id": run, "models": [{}]})
        self.ok("DELETE", "logged-models/" + mid)
        self.err(404, "RESOURCE_DOES_NOT_EXIST", "GET", "logged-models/" + mid)
        self.assertEqual(self.search(exp), [])

    def test_metrics_linked_to_models(self):
        exp = self.experiment()
        run = self.ok("POST", "runs/create", {"experiment_id": exp})["run"]["info"]["run_id"]
        a, b, c = (self.ok("POST", "logged-models", {"experiment_id": exp, "name": n})["model"]["info"]["model_id"]
                   for n in ("a", "b", "c"))
        self.ok("POST", "runs/log-metric", {"run_id": run, "key": "acc", "value": 0.7, "timestamp": 1, "step": 0,
                                            "model_id": a, "dataset_name": "val", "dataset_digest": "d1"})
        self.ok("POST", "runs/log-metric", {"run_id": run, "key": "acc", "value": 0.9, "timestamp": 2, "step": 1,
                                            "model_id": a, "dataset_name": "val", "dataset_digest": "d1"})
        self.ok("POST", "runs/log-batch", {"run_id": run, "metrics": [
            {"key": "acc", "value": 0.8, "timestamp": 3, "step": 0, "model_id": b, "dataset_name": "val",
             "dataset_digest": "d1"},
            {"key": "acc", "value": 0.99, "timestamp": 3, "step": 0, "model_id": b, "dataset_name": "train",
             "dataset_digest": "d0"}]})
        got = self.ok("GET", "logged-models/" + a)["model"]["data"]["metrics"]
        self.assertEqual([(m["key"], m["value"], m["step"], m["model_id"], m["run_id"], m["dataset_name"]) for m in got],
                         [("acc", 0.9, 1, a, run, "val")])
        ids = lambda models: [m["info"]["model_id"] for m in models]
        self.assertEqual(sorted(ids(self.search(exp, filter="metrics.acc > 0.85"))), sorted([a, b]))
        on_val = self.search(exp, filter="metrics.acc > 0.85", datasets=[{"dataset_name": "val"}])
        self.assertEqual(ids(on_val), [a])
        ordered = self.search(exp, order_by=[{"field_name": "metrics.acc", "ascending": False,
                                              "dataset_name": "val", "dataset_digest": "d1"}])
        self.assertEqual(ids(ordered), [a, b, c])  # c has no acc: last
        # The run still has its metric history as before.
        hist = self.ok("GET", "metrics/get-history", query={"run_id": run, "metric_key": "acc"})["metrics"]
        self.assertEqual(len(hist), 4)
        self.err(400, "INVALID_PARAMETER_VALUE", "POST", "logged-models/search",
                 {"experiment_ids": [exp], "filter": "metrics.acc LIKE '1'"})
        self.err(400, "INVALID_PARAMETER_VALUE", "POST", "logged-models/search",
                 {"experiment_ids": [exp], "datasets": [{"dataset_digest": "x"}]})

    def test_search_orders_and_pages(self):
        exp = self.experiment()
        ids = [self.ok("POST", "logged-models", {"experiment_id": exp, "name": n})["model"]["info"]["model_id"]
               for n in ("b", "a", "c")]
        names = [m["info"]["name"] for m in self.search(exp, order_by=[{"field_name": "name", "ascending": True}])]
        self.assertEqual(names, ["a", "b", "c"])
        first = self.ok("POST", "logged-models/search", {"experiment_ids": [exp], "max_results": 2})
        self.assertEqual(len(first["models"]), 2)
        second = self.ok("POST", "logged-models/search", {"experiment_ids": [exp], "max_results": 2,
                                                         "page_token": first["next_page_token"]})
        seen = [m["info"]["model_id"] for m in first["models"] + second["models"]]
        self.assertEqual(sorted(seen), sorted(ids))
        self.assertNotIn("next_page_token", second)

    def test_bad_input_is_refused_and_writes_nothing(self):
        exp = self.experiment()
        self.err(400, "INVALID_PARAMETER_VALUE", "POST", "logged-models", {"name": "x"})
        self.err(404, "RESOURCE_DOES_NOT_EXIST", "POST", "logged-models", {"experiment_id": "987654"})
        self.err(400, "INVALID_PARAMETER_VALUE", "POST", "logged-models",
                 {"experiment_id": exp, "tags": [{"value": "no key"}]})
        r = self.err(404, "RESOURCE_DOES_NOT_EXIST", "GET", "logged-models/m-nope")
        self.assertEqual(r["message"], "Logged model with ID 'm-nope' not found.")
        mid = self.ok("POST", "logged-models", {"experiment_id": exp})["model"]["info"]["model_id"]
        self.err(400, "INVALID_PARAMETER_VALUE", "PATCH", "logged-models/" + mid, {"status": "DONE"})
        self.err(400, "INVALID_PARAMETER_VALUE", "PATCH", "logged-models/" + mid, {})
        self.err(400, "INVALID_PARAMETER_VALUE", "POST", "logged-models/search",
                 {"experiment_ids": [exp], "filter": "name > 'a'"})
        self.err(400, "INVALID_PARAMETER_VALUE", "POST", "logged-models/search",
                 {"experiment_ids": [exp], "order_by": [{"field_name": "color"}]})
        self.err(400, "INVALID_PARAMETER_VALUE", "POST", "logged-models/search",
                 {"experiment_ids": [exp], "page_token": "???"})
        self.err(404, "RESOURCE_DOES_NOT_EXIST", "DELETE", "logged-models/%s/tags/none" % mid)
        run = self.ok("POST", "runs/create", {"experiment_id": exp})["run"]["info"]["run_id"]
        self.err(404, "RESOURCE_DOES_NOT_EXIST", "POST", "runs/outputs", {"run_id": run, "models": [{"model_id": "m-nope"}]})
        self.assertNotIn("outputs", self.ok("GET", "runs/get", query={"run_id": run})["run"])
        models = self.search(exp)
        self.assertEqual(len(models), 1)
        self.assertEqual(models[0]["info"]["status"], "LOGGED_MODEL_PENDING")
        self.assertNotIn("tags", models[0]["info"])

    def test_tracing_is_refused_clearly(self):
        for method, path in (("POST", "/api/3.0/mlflow/traces"), ("GET", "/api/2.0/mlflow/traces/tr-1"),
                             ("POST", "/v1/traces"), ("GET", "/ajax-api/3.0/mlflow/traces/search"),
                             ("POST", "/api/3.0/mlflow/datasets/create"),
                             ("POST", "/api/3.0/mlflow/scorers/register"),
                             ("POST", "/api/3.0/mlflow/issues/search"),
                             ("GET", "/ajax-api/3.0/mlflow/gateway/supported-providers")):
            r = self.server.request(method, path, body={} if method == "POST" else None)
            self.assertError(r, 501, "NOT_IMPLEMENTED", "not supported by this server")


if __name__ == "__main__":
    unittest.main()
