"""MLflow's own Python client (from PyPI, the version of the venv running this file) against
`ringo server`: the everyday calls of a training script, unmodified. Run by ctest once per
MLflow major version with that venv's interpreter."""

import os
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "clients", "python"))

import mlflow  # noqa: E402
import numpy as np  # noqa: E402
from mlflow import MlflowClient  # noqa: E402

import ringo  # noqa: E402
from harness import Receiver, Server, make_core_ml_models, unique  # noqa: E402

MLFLOW3 = int(mlflow.__version__.split(".")[0]) >= 3


def log_model(flavor, model, name, **kwargs):
    """MLflow 3 names the model; MLflow 2 gives it an artifact path."""
    if MLFLOW3:
        return flavor.log_model(model, name=name, **kwargs)
    return flavor.log_model(model, name, **kwargs)


class MlflowClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server()
        cls.server.start()
        mlflow.set_tracking_uri(cls.server.url)
        cls.tmp = tempfile.TemporaryDirectory()

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()
        rc = cls.server.stop()
        cls.server.cleanup()
        assert rc == 0, "ringo server exited with %s" % rc

    def setUp(self):
        mlflow.set_experiment(unique("compat"))

    def test_tracking(self):
        client = MlflowClient()
        path = os.path.join(self.tmp.name, "notes.txt")
        with open(path, "w") as f:
            f.write("hello")
        with mlflow.start_run(run_name="train") as run:
            mlflow.log_param("lr", 0.1)
            mlflow.log_params({"epochs": 3, "batch": 32})
            for step in range(5):
                mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
            client.log_batch(run.info.run_id, metrics=[mlflow.entities.Metric("acc", 0.9, 0, 0)],
                             params=[mlflow.entities.Param("opt", "sgd")])
            mlflow.log_artifact(path, artifact_path="docs")
            mlflow.log_dict({"classes": [0, 1]}, "meta/classes.json")
            mlflow.set_tag("team", "ios")
            mlflow.log_input(mlflow.data.from_numpy(np.arange(6).reshape(3, 2), name="digits"), context="training")
        got = mlflow.get_run(run.info.run_id)
        self.assertEqual(got.data.params, {"lr": "0.1", "epochs": "3", "batch": "32", "opt": "sgd"})
        self.assertEqual(got.data.metrics["loss"], 0.2)
        self.assertEqual(got.data.tags["team"], "ios")
        self.assertEqual(got.inputs.dataset_inputs[0].dataset.name, "digits")
        history = client.get_metric_history(run.info.run_id, "loss")
        self.assertEqual([m.step for m in history], [0, 1, 2, 3, 4])
        files = sorted(f.path for f in client.list_artifacts(run.info.run_id))
        self.assertEqual(files, ["docs", "meta"])
        out = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="docs/notes.txt",
                                                  dst_path=self.tmp.name)
        with open(out) as f:
            self.assertEqual(f.read(), "hello")
        found = mlflow.search_runs(filter_string="metrics.acc > 0.5 and params.opt = 'sgd'", output_format="list")
        self.assertEqual([r.info.run_id for r in found], [run.info.run_id])

    def test_sklearn_model_logged_loaded_registered(self):
        from sklearn.linear_model import LogisticRegression

        rng = np.random.default_rng(0)
        x = rng.random((60, 4))
        y = (x[:, 0] > 0.5).astype(int)
        model = LogisticRegression().fit(x, y)
        with mlflow.start_run() as run:
            info = log_model(mlflow.sklearn, model, "clf")
        first_run = run
        loaded = mlflow.pyfunc.load_model(info.model_uri)
        np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
        name = unique("clf")
        v1 = mlflow.register_model(info.model_uri, name)
        artifact_path = "clf" if not MLFLOW3 else None
        if MLFLOW3:
            # Also from runs:/ as MLflow 2 code does: the model's files are then under the run.
            with mlflow.start_run() as run2:
                mlflow.sklearn.save_model(model, os.path.join(self.tmp.name, "skl"))
                mlflow.log_artifacts(os.path.join(self.tmp.name, "skl"), "clf")
            run, artifact_path = run2, "clf"
        v2 = mlflow.register_model("runs:/%s/%s" % (run.info.run_id, artifact_path), name)
        self.assertEqual((v1.version, v2.version), ("1", "2"))
        client = MlflowClient()
        client.set_registered_model_alias(name, "champion", v2.version)
        self.assertEqual(client.get_model_version_by_alias(name, "champion").version, "2")
        by_alias = mlflow.pyfunc.load_model("models:/%s@champion" % name)
        np.testing.assert_array_equal(by_alias.predict(x), model.predict(x))
        if MLFLOW3:
            found = mlflow.search_logged_models(filter_string="name = 'clf'", output_format="list")
            self.assertIn(info.model_id, [m.model_id for m in found])
            self.assertEqual(mlflow.get_logged_model(info.model_id).status.name, "READY")
            outputs = mlflow.get_run(first_run.info.run_id).outputs
            self.assertEqual([o.model_id for o in outputs.model_outputs], [info.model_id])
            # Metrics linked to the logged model, as MLflow 3 logs evaluation results.
            with mlflow.start_run(run_id=first_run.info.run_id):
                mlflow.log_metric("val_acc", 0.93, model_id=info.model_id)
            got = mlflow.get_logged_model(info.model_id)
            self.assertEqual([(m.key, m.value) for m in got.metrics], [("val_acc", 0.93)])
            best = mlflow.search_logged_models(filter_string="metrics.val_acc > 0.9", output_format="list")
            self.assertEqual([m.model_id for m in best], [info.model_id])

    def test_pytorch_model_logged_and_loaded(self):
        import torch

        if MLFLOW3 and not hasattr(torch, "export"):
            self.skipTest("MLflow 3's pytorch flavor needs torch >= 2 (torch.export); Debian 12 ships "
                          "torch " + torch.__version__)

        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
        x = torch.rand(5, 4)
        with mlflow.start_run():
            info = log_model(mlflow.pytorch, net, "net")
        back = mlflow.pytorch.load_model(info.model_uri)
        self.assertTrue(torch.equal(back(x), net(x)))

    @unittest.skipUnless(MLFLOW3, "logged models are MLflow 3's")
    def test_core_ml_model_logged_by_ringo_is_found_and_downloaded_by_mlflow(self):
        files = make_core_ml_models(self.tmp.name)
        ringo.set_tracking_uri(self.server.url)
        exp = mlflow.get_experiment_by_name(unique("coreml")) or mlflow.set_experiment(unique("coreml"))
        ringo.set_experiment(exp.name)
        with ringo.start_run():
            logged = ringo.coreml.log_model(files["mlpackage"], name="DigitClassifier")
        model_id = logged["info"]["model_id"]
        found = mlflow.search_logged_models(experiment_ids=[exp.experiment_id], output_format="list")
        self.assertEqual([(m.model_id, m.model_type) for m in found], [(model_id, "coreml")])
        out = mlflow.artifacts.download_artifacts("models:/" + model_id, dst_path=os.path.join(self.tmp.name, "dl"))
        self.assertTrue(os.path.isfile(os.path.join(out, "m.mlpackage", "Manifest.json")))
        meta = mlflow.models.Model.load(os.path.join(out, "MLmodel"))
        self.assertEqual(meta.flavors["coreml"]["model_file"], "m.mlpackage")
        name = unique("Digits")
        version = mlflow.register_model("models:/" + model_id, name)
        self.assertEqual(version.version, "1")
        # The client sends the logged model's id; its ModelVersion object does not read it back
        # (MLflow 3.17), so the server's record is checked.
        got = self.server.request("GET", "/api/2.0/mlflow/model-versions/get", query={"name": name, "version": "1"})
        self.assertEqual(got.json["model_version"]["model_id"], model_id)
        # ringo follows models:/<model_id> to the files, so the version is a deployable Core ML model.
        card = self.server.request("GET", "/api/ringo/v1/model-versions/coreml", query={"name": name, "version": "1"})
        self.assertEqual(card.status, 200, card)
        self.assertEqual(card.json["coreml"]["model_type"], "mlProgram")

    @unittest.skipUnless(MLFLOW3, "webhooks are MLflow 3.3+'s")
    def test_webhooks(self):
        from mlflow.webhooks.delivery import _generate_hmac_signature

        receiver = Receiver()
        try:
            client = MlflowClient()
            hook = client.create_webhook(name=unique("ci").replace("_", "-"), url=receiver.url,
                                         events=["model_version.created", "registered_model.created"],
                                         secret="k3y")
            self.assertEqual(client.get_webhook(hook.webhook_id).url, receiver.url)
            self.assertIn(hook.webhook_id, [h.webhook_id for h in client.list_webhooks()])
            result = client.test_webhook(hook.webhook_id)
            self.assertTrue(result.success, result.error_message)
            self.assertEqual(result.response_status, 200)
            client.create_registered_model(unique("hooked"))
            got = receiver.wait_for(2)
            self.assertEqual(len(got), 2)
            for headers, body in got:
                want = _generate_hmac_signature("k3y", headers["X-MLflow-Delivery-Id"],
                                                headers["X-MLflow-Timestamp"], body.decode())
                self.assertEqual(headers["X-MLflow-Signature"], want)
            client.update_webhook(hook.webhook_id, status="DISABLED")
            self.assertEqual(str(client.get_webhook(hook.webhook_id).status), "DISABLED")
            client.delete_webhook(hook.webhook_id)
            with self.assertRaises(mlflow.exceptions.MlflowException):
                client.get_webhook(hook.webhook_id)
        finally:
            receiver.close()


if __name__ == "__main__":
    unittest.main()
