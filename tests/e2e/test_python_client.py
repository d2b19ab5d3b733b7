"""End-to-end tests of the Python client (clients/python/ringo) against the real `ringo server`."""

import json
import math
import os
import shutil
import sys
import tempfile
import unittest
from unittest import mock

import subprocess

from harness import ServerTestCase, kv, make_core_ml_models, unique

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "clients", "python"))

import ringo  # noqa: E402
from ringo import fluent  # noqa: E402

_ENV_KEYS = [p + k for p in ("MLFLOW_", "RINGO_") for k in ("TRACKING_URI", "RUN_ID", "EXPERIMENT_ID",
                                                             "EXPERIMENT_NAME")]


class ClientTestCase(ServerTestCase):
    def setUp(self):
        env = {k: v for k, v in os.environ.items() if k not in _ENV_KEYS}
        self.env = mock.patch.dict(os.environ, env, clear=True)
        self.env.start()
        fluent._experiment_id = None
        fluent._consumed_env_run_ids.clear()
        fluent._stack().clear()
        ringo.set_tracking_uri(self.server.url)
        self.client = ringo.RingoClient(self.server.url)
        self.tmp = tempfile.mkdtemp(prefix="ringo-client-")

    def tearDown(self):
        while ringo.active_run() is not None:
            ringo.end_run()
        ringo.set_tracking_uri(None)
        self.env.stop()
        self.client.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


class FluentApiTest(ClientTestCase):
    def test_experiments(self):
        name = unique("py-exp")
        exp = ringo.set_experiment(name)
        self.assertEqual(exp["name"], name)
        self.assertEqual(ringo.set_experiment(name)["experiment_id"], exp["experiment_id"])
        self.assertEqual(ringo.get_experiment_by_name(name)["experiment_id"], exp["experiment_id"])
        self.assertIsNone(ringo.get_experiment_by_name(unique("absent")))
        with self.assertRaises(ringo.RingoError) as cm:
            ringo.create_experiment(name)
        self.assertEqual((cm.exception.status, cm.exception.error_code), (400, "RESOURCE_ALREADY_EXISTS"))
        eid = ringo.create_experiment(unique("py-exp2"), tags={"k": "v"})
        self.assertEqual(kv(ringo.get_experiment(eid)["tags"]), {"k": "v"})
        self.client.update_experiment(eid, unique("renamed"))
        self.client.set_experiment_tag(eid, "k2", "v2")
        self.client.delete_experiment_tag(eid, "k")
        self.assertEqual(kv(ringo.get_experiment(eid)["tags"]), {"k2": "v2"})
        ringo.delete_experiment(eid)
        self.assertEqual(ringo.get_experiment(eid)["lifecycle_stage"], "deleted")
        deleted = self.client.search_all_experiments(view_type="DELETED_ONLY")
        self.assertIn(eid, [e["experiment_id"] for e in deleted])
        with self.assertRaises(ringo.RingoError):
            ringo.set_experiment(experiment_id=eid)
        self.client.restore_experiment(eid)
        self.assertEqual(ringo.set_experiment(experiment_id=eid)["experiment_id"], eid)

    def test_nested_runs_params_metrics_tags(self):
        ringo.set_experiment(unique("py-nested"))
        with ringo.start_run(run_name="parent", tags={"team": "ml"}, description="about") as parent:
            ringo.log_param("lr", 0.01)
            ringo.log_params({"epochs": 3, "opt": "sgd"})
            ringo.set_tag("stage", "dev")
            ringo.set_tags({"a": 1, "b": "two"})
            for step in range(5):
                ringo.log_metric("loss", 1.0 / (step + 1), step=step, timestamp=1700000000000 + step)
            ringo.log_metrics({"acc": 0.5, "f1": 0.4}, step=2)
            ringo.log_metric("weird", float("nan"))
            with ringo.start_run(run_name="child", nested=True) as child:
                self.assertEqual(ringo.active_run().run_id, child.run_id)
                ringo.log_metric("child_m", 2.0)
            self.assertEqual(ringo.active_run().run_id, parent.run_id)
        self.assertIsNone(ringo.active_run())
        p = ringo.get_run(parent.run_id)
        self.assertEqual(p["info"]["status"], "FINISHED")
        self.assertGreater(int(p["info"]["end_time"]), 0)
        self.assertEqual(kv(p["data"]["params"]), {"lr": "0.01", "epochs": "3", "opt": "sgd"})
        tags = kv(p["data"]["tags"])
        for k, v in {"team": "ml", "stage": "dev", "a": "1", "b": "two", "mlflow.runName": "parent",
                     "mlflow.source.type": "LOCAL", "mlflow.note.content": "about"}.items():
            self.assertEqual(tags.get(k), v, k)
        self.assertIn("mlflow.user", tags)
        self.assertIn("mlflow.source.name", tags)
        self.assertNotIn("mlflow.parentRunId", tags)
        metrics = {m["key"]: m for m in p["data"]["metrics"]}
        self.assertEqual((metrics["loss"]["value"], metrics["loss"]["step"]), (0.2, 4))
        self.assertTrue(math.isnan(metrics["weird"]["value"]))
        hist = ringo.get_metric_history(parent.run_id, "loss")
        self.assertEqual(sorted((h["step"], h["timestamp"]) for h in hist),
                         [(s, 1700000000000 + s) for s in range(5)])
        c = ringo.get_run(child.run_id)
        self.assertEqual(kv(c["data"]["tags"])["mlflow.parentRunId"], parent.run_id)
        self.assertEqual(c["info"]["experiment_id"], p["info"]["experiment_id"])
        self.assertEqual(c["info"]["run_name"], "child")

    def test_end_run_status_and_failure(self):
        run = ringo.start_run()
        ringo.end_run("KILLED")
        self.assertEqual(ringo.get_run(run.run_id)["info"]["status"], "KILLED")
        with self.assertRaises(RuntimeError):
            with ringo.start_run() as failing:
                raise RuntimeError("boom")
        self.assertEqual(ringo.get_run(failing.run_id)["info"]["status"], "FAILED")
        ringo.log_param("auto", "started")
        auto = ringo.active_run()
        self.assertIsNotNone(auto)
        ringo.end_run()
        self.assertEqual(ringo.get_run(auto.run_id)["info"]["status"], "FINISHED")

    def test_batches_above_limits_are_chunked(self):
        with ringo.start_run() as run:
            ringo.log_params({"p%03d" % i: i for i in range(250)})
            ringo.set_tags({"t%03d" % i: i for i in range(150)})
            ringo.log_metrics({"m%04d" % i: float(i) for i in range(2500)}, step=1)
            self.client.log_batch(run.run_id, metrics=[("series", float(s), 1000 + s, s) for s in range(3000)])
        r = ringo.get_run(run.run_id)
        self.assertEqual(len(r["data"]["params"]), 250)
        self.assertEqual(len([t for t in r["data"]["tags"] if t["key"].startswith("t")]), 150)
        self.assertEqual(len(r["data"]["metrics"]), 2501)
        hist = ringo.get_metric_history(run.run_id, "series")
        self.assertEqual(sorted(h["step"] for h in hist), list(range(3000)))

    def test_artifacts(self):
        src = os.path.join(self.tmp, "src")
        os.makedirs(os.path.join(src, "sub", "deeper"))
        files = {"a.txt": b"alpha", "sub/b.bin": bytes(range(256)), "sub/deeper/c d.txt": b"see"}
        for rel, data in files.items():
            with open(os.path.join(src, *rel.split("/")), "wb") as f:
                f.write(data)
        single = os.path.join(self.tmp, "single.csv")
        with open(single, "wb") as f:
            f.write(b"x,y\n1,2\n")
        with ringo.start_run() as run:
            ringo.log_artifact(single)
            ringo.log_artifact(single, "tables/raw")
            ringo.log_artifacts(src, "tree")
            ringo.log_artifacts(src)
            ringo.log_text("hello\nworld\n", "notes/hello.txt")
            ringo.log_dict({"lr": 0.1, "layers": [64, 32], "name": "net", "nested": {"enabled": True}}, "cfg/config.json")
            ringo.log_dict({"lr": 0.1, "layers": [64, 32], "name": "net", "nested": {"enabled": True}}, "cfg/config.yaml")
        rid = run.run_id
        top = {e["path"]: e for e in ringo.list_artifacts(rid)}
        self.assertEqual(set(top), {"single.csv", "tables", "tree", "a.txt", "sub", "notes", "cfg"})
        self.assertEqual((top["single.csv"]["is_dir"], top["single.csv"]["file_size"]), (False, 8))
        self.assertTrue(top["tree"]["is_dir"])
        self.assertEqual([e["path"] for e in ringo.list_artifacts(rid, "tables/raw")], ["tables/raw/single.csv"])
        dst = os.path.join(self.tmp, "dl")
        out = ringo.download_artifacts(rid, "tree", dst)
        for rel, data in files.items():
            with open(os.path.join(out, *rel.split("/")), "rb") as f:
                self.assertEqual(f.read(), data, rel)
        everything = ringo.download_artifacts(rid, "", os.path.join(self.tmp, "all"))
        with open(os.path.join(everything, "notes", "hello.txt"), "rb") as f:
            self.assertEqual(f.read(), b"hello\nworld\n")
        with open(os.path.join(everything, "cfg", "config.json")) as f:
            self.assertEqual(json.load(f)["layers"], [64, 32])
        with open(os.path.join(everything, "cfg", "config.yaml")) as f:
            text = f.read()
        self.assertIn("layers:\n- 64\n- 32\n", text)
        self.assertIn("nested:\n  enabled: true\n", text)
        one = ringo.download_artifacts(rid, "sub/deeper/c d.txt", os.path.join(self.tmp, "one"))
        with open(one, "rb") as f:
            self.assertEqual(f.read(), b"see")
        self.assertEqual(self.client.read_artifact(rid, "a.txt"), b"alpha")
        self.client.delete_artifacts(rid, "tree")
        self.assertNotIn("tree", [e["path"] for e in ringo.list_artifacts(rid)])
        with self.assertRaises(ringo.RingoError) as cm:
            ringo.download_artifacts(rid, "no/such/file.txt", os.path.join(self.tmp, "none"))
        self.assertEqual(cm.exception.status, 404)

    def test_log_input(self):
        with ringo.start_run() as run:
            ringo.log_input({"name": "digits", "digest": "abc123", "source_type": "local",
                             "source": "{\"uri\": \"/data/digits\"}"}, context="training")
        inputs = ringo.get_run(run.run_id)["inputs"]["dataset_inputs"]
        self.assertEqual(inputs[0]["dataset"]["name"], "digits")
        self.assertEqual(kv(inputs[0]["tags"]), {"mlflow.data.context": "training"})

    def test_search_runs(self):
        exp = ringo.set_experiment(unique("py-search"))
        ids = []
        for i in range(7):
            with ringo.start_run(run_name="run%d" % i) as r:
                ringo.log_metric("score", i * 1.5)
                ringo.log_param("parity", "even" if i % 2 == 0 else "odd")
                ids.append(r.run_id)
        got = ringo.search_runs(filter_string="params.parity = 'even' and metrics.score > 2",
                                order_by=["metrics.score DESC"])
        self.assertEqual([r["info"]["run_id"] for r in got], [ids[6], ids[4], ids[2]])
        got = ringo.search_runs([exp["experiment_id"]], order_by=["attributes.run_name ASC"], max_results=5)
        self.assertEqual([r["info"]["run_name"] for r in got], ["run%d" % i for i in range(5)])
        page = self.client.search_runs([exp["experiment_id"]], max_results=3, order_by=["metrics.score ASC"])
        self.assertEqual(len(page), 3)
        self.assertIsNotNone(page.token)
        rest = self.client.search_runs([exp["experiment_id"]], max_results=3, order_by=["metrics.score ASC"],
                                       page_token=page.token)
        self.assertEqual([r["info"]["run_id"] for r in list(page) + list(rest)], ids[:6])
        everything = self.client.search_all_runs([exp["experiment_id"]], page_size=2)
        self.assertEqual(sorted(r["info"]["run_id"] for r in everything), sorted(ids))
        with self.assertRaises(ringo.RingoError) as cm:
            ringo.search_runs(filter_string="metrics.score >>> 1")
        self.assertEqual((cm.exception.status, cm.exception.error_code), (400, "INVALID_PARAMETER_VALUE"))

    def test_delete_restore_run(self):
        with ringo.start_run() as run:
            pass
        ringo.delete_run(run.run_id)
        self.assertEqual(ringo.get_run(run.run_id)["info"]["lifecycle_stage"], "deleted")
        self.assertNotIn(run.run_id, [r["info"]["run_id"] for r in ringo.search_runs(["0"])])
        self.assertIn(run.run_id, [r["info"]["run_id"] for r in ringo.search_runs(["0"], run_view_type="DELETED_ONLY")])
        with self.assertRaises(ringo.RingoError):
            ringo.start_run(run_id=run.run_id)
        ringo.restore_run(run.run_id)
        self.assertEqual(ringo.get_run(run.run_id)["info"]["lifecycle_stage"], "active")

    def test_low_level_errors(self):
        with self.assertRaises(ringo.RingoError) as cm:
            self.client.get_run("0" * 32)
        self.assertEqual((cm.exception.status, cm.exception.error_code), (404, "RESOURCE_DOES_NOT_EXIST"))
        run = self.client.create_run("0")
        rid = run["info"]["run_id"]
        self.client.log_param(rid, "k", "v")
        with self.assertRaises(ringo.RingoError) as cm:
            self.client.log_param(rid, "k", "other")
        self.assertEqual((cm.exception.status, cm.exception.error_code), (400, "INVALID_PARAMETER_VALUE"))
        self.client.set_tag(rid, "gone", "soon")
        self.client.delete_tag(rid, "gone")
        self.assertNotIn("gone", kv(self.client.get_run(rid)["data"]["tags"]))
        info = self.client.set_terminated(rid, "FINISHED")
        self.assertEqual(info["status"], "FINISHED")
        pts = self.client.get_metric_history_bulk_interval([rid], "none")
        self.assertEqual(pts, [])


class EnvironmentTest(ClientTestCase):
    def test_tracking_uri_from_env(self):
        ringo.set_tracking_uri(None)
        os.environ["MLFLOW_TRACKING_URI"] = self.server.url
        self.assertEqual(ringo.get_tracking_uri(), self.server.url)
        with ringo.start_run() as run:
            ringo.log_metric("m", 1.0)
        self.assertEqual(self.client.get_run(run.run_id)["data"]["metrics"][0]["value"], 1.0)
        del os.environ["MLFLOW_TRACKING_URI"]
        os.environ["RINGO_TRACKING_URI"] = self.server.url
        with ringo.start_run() as run:
            pass
        self.assertEqual(self.client.get_run(run.run_id)["info"]["status"], "FINISHED")

    def test_run_id_env_resumes_the_run(self):
        created = self.client.create_run("0", run_name="from-parent-process")
        rid = created["info"]["run_id"]
        self.client.set_terminated(rid, "FINISHED")
        os.environ["MLFLOW_RUN_ID"] = rid
        with ringo.start_run() as run:
            self.assertEqual(run.run_id, rid)
            self.assertEqual(self.client.get_run(rid)["info"]["status"], "RUNNING")
            ringo.log_metric("resumed", 1.0)
        r = self.client.get_run(rid)
        self.assertEqual(r["info"]["status"], "FINISHED")
        self.assertIn("resumed", [m["key"] for m in r["data"]["metrics"]])
        with ringo.start_run() as fresh:
            self.assertNotEqual(fresh.run_id, rid)

    def test_ringo_twins_for_run_and_experiment(self):
        eid = self.client.create_experiment(unique("env-exp"))
        os.environ["RINGO_EXPERIMENT_ID"] = eid
        with ringo.start_run() as run:
            pass
        self.assertEqual(self.client.get_run(run.run_id)["info"]["experiment_id"], eid)
        os.environ["MLFLOW_EXPERIMENT_ID"] = "0"
        with ringo.start_run() as run:
            pass
        self.assertEqual(self.client.get_run(run.run_id)["info"]["experiment_id"], "0")
        rid = self.client.create_run(eid)["info"]["run_id"]
        os.environ["RINGO_RUN_ID"] = rid
        with ringo.start_run() as run:
            self.assertEqual(run.run_id, rid)

    def test_nested_start_ignores_env_run(self):
        rid = self.client.create_run("0")["info"]["run_id"]
        with ringo.start_run() as outer:
            os.environ["MLFLOW_RUN_ID"] = rid
            with ringo.start_run(nested=True) as inner:
                self.assertNotEqual(inner.run_id, rid)
        self.assertEqual(kv(self.client.get_run(inner.run_id)["data"]["tags"])["mlflow.parentRunId"], outer.run_id)


HAVE_TORCH = subprocess.run(["/usr/bin/python3", "-c", "import torch"], capture_output=True).returncode == 0


@unittest.skipUnless(HAVE_TORCH, "needs Debian's python3-torch to make Core ML models")
class CoreMLLogModelTest(ClientTestCase):
    """ringo.coreml.log_model: a Core ML file or package as an MLflow 3 logged model."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.models_dir = tempfile.mkdtemp(prefix="ringo-coreml-")
        cls.files = make_core_ml_models(cls.models_dir)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.models_dir, ignore_errors=True)
        super().tearDownClass()

    def test_file_and_package_become_logged_models(self):
        ringo.set_experiment(unique("coreml"))
        registered = unique("Digits")
        with ringo.start_run() as run:
            m1 = ringo.coreml.log_model(self.files["mlmodel"], name="digits", registered_model_name=registered)
            m2 = ringo.coreml.log_model(self.files["mlpackage"], name="digits-pkg", params={"precision": "fp32"})
        for m, file_name in ((m1, "m.mlmodel"), (m2, "m.mlpackage")):
            info = m["info"]
            self.assertEqual((info["status"], info["model_type"], info["source_run_id"]),
                             ("LOGGED_MODEL_READY", "coreml", run.run_id))
            listing = self.client._get("logged-models/%s/artifacts/directories" % info["model_id"])
            self.assertEqual(sorted(f["path"] for f in listing["files"]), sorted(["MLmodel", file_name]))
            rel = info["artifact_uri"].split(":", 1)[1].strip("/")
            _, _, mlmodel = self.client.request("GET", "/api/2.0/mlflow-artifacts/artifacts/%s/MLmodel" % rel)
            text = mlmodel.decode()
            self.assertIn("coreml:", text)
            self.assertIn("model_file: %s" % file_name, text)
            self.assertIn("model_id: %s" % info["model_id"], text)
            self.assertIn("specification_version:", text)
        outputs = self.client.get_run(run.run_id)["outputs"]["model_outputs"]
        self.assertEqual([o["model_id"] for o in outputs], [m1["info"]["model_id"], m2["info"]["model_id"]])
        # The registered version points into the logged model and carries its Core ML summary.
        self.assertEqual(m1["registered_version"], "1")
        _, _, card = self.client.request("GET", "/api/ringo/v1/model-versions/coreml",
                                         query={"name": registered, "version": "1"})
        self.assertEqual(json.loads(card)["coreml"]["model_type"], "neuralNetwork")
        found = self.client.search_logged_models([run.info["experiment_id"]], "name = 'digits-pkg'")
        self.assertEqual([x["info"]["model_id"] for x in found], [m2["info"]["model_id"]])

    def test_refuses_what_is_not_a_core_ml_model(self):
        bad = os.path.join(self.tmp, "notes.mlmodel")
        with open(bad, "wb") as f:
            f.write(b"not protobuf")
        ringo.set_experiment(unique("coreml-bad"))
        with self.assertRaises(ringo.RingoError):
            ringo.coreml.log_model(bad)
        with self.assertRaises(ringo.RingoError):
            ringo.coreml.log_model(os.path.join(self.tmp, "missing.mlmodel"))
        with self.assertRaises(ringo.RingoError):
            ringo.coreml.log_model(__file__)


if __name__ == "__main__":
    unittest.main()
