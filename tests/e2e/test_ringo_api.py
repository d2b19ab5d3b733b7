"""ringo's own endpoints beside MLflow's: downsampled metrics, Core ML model cards, the UI root."""

import os
import subprocess
import sys
import tempfile
import unittest

from harness import API, ServerTestCase, ringo_bin


class DownsampleTest(ServerTestCase):
    def seed(self, n, nan_at=None, spike_at=None):
        rid = self.new_run()["info"]["run_id"]
        for start in range(0, n, 1000):
            metrics = []
            for i in range(start, min(n, start + 1000)):
                v = float(i % 100)
                if i == spike_at:
                    v = 1e6
                metrics.append({"key": "loss", "value": "NaN" if i == nan_at else v,
                                "timestamp": 1000 + i, "step": i})
            self.ok("POST", "runs/log-batch", {"run_id": rid, "metrics": metrics})
        return rid

    def test_buckets_keep_extremes(self):
        rid = self.seed(5000, spike_at=2345)
        r = self.server.request("GET", "/api/ringo/v1/metrics/downsample",
                                query={"run_id": rid, "key": "loss", "buckets": "50"})
        self.assertEqual(r.status, 200, r)
        body = r.json
        self.assertEqual(body["total"], 5000)
        self.assertLessEqual(len(body["points"]), 50)
        self.assertEqual(sum(p["count"] for p in body["points"]), 5000)
        self.assertEqual(max(p["max"] for p in body["points"]), 1e6, "a single spike survives")
        self.assertEqual(min(p["min"] for p in body["points"]), 0.0)
        xs = [p["x"] for p in body["points"]]
        self.assertEqual(xs, sorted(xs))
        self.assertEqual(xs[0], 0)

    def test_range_and_time_axis(self):
        rid = self.seed(2000)
        r = self.server.request("GET", "/api/ringo/v1/metrics/downsample",
                                query={"run_id": rid, "key": "loss", "buckets": "10", "start": "100", "end": "199"})
        self.assertEqual(r.json["total"], 100)
        self.assertGreaterEqual(r.json["points"][0]["x"], 100)
        r = self.server.request("GET", "/api/ringo/v1/metrics/downsample",
                                query={"run_id": rid, "key": "loss", "buckets": "4", "x": "time"})
        self.assertEqual(r.json["points"][0]["x"], 1000)

    def test_errors(self):
        rid = self.seed(10)
        for q, status in (({"run_id": rid, "key": "loss", "buckets": "0"}, 400),
                          ({"run_id": rid, "key": "loss", "x": "epoch"}, 400),
                          ({"run_id": rid}, 400),
                          ({"run_id": "f" * 32, "key": "loss"}, 404)):
            r = self.server.request("GET", "/api/ringo/v1/metrics/downsample", query=q)
            self.assertEqual(r.status, status, (q, r))
        r = self.server.request("GET", "/api/ringo/v1/metrics/downsample",
                                query={"run_id": rid, "key": "nothing"})
        self.assertEqual((r.status, r.json["total"], r.json["points"]), (200, 0, []))


class CoreMLCardTest(ServerTestCase):
    def test_card_of_a_logged_model(self):
        # A model made by the binary itself: convert a tiny ONNX file when Debian's PyTorch is
        # there; otherwise the endpoint's error paths are still checked below.
        rid = self.new_run()["info"]["run_id"]
        base = "/api/2.0/mlflow-artifacts/artifacts/0/%s/artifacts" % rid
        have_torch = subprocess.run(["/usr/bin/python3", "-c", "import torch"], capture_output=True).returncode == 0
        if have_torch:
            with tempfile.TemporaryDirectory() as d:
                here = os.path.dirname(os.path.abspath(__file__))
                export = os.path.join(here, "..", "coreml", "export_models.py")
                subprocess.run(["/usr/bin/python3", export, d, "mlp"], check=True, capture_output=True)
                out = os.path.join(d, "m.mlmodel")
                p = subprocess.run([ringo_bin(), "convert", os.path.join(d, "mlp.onnx"), "-o", out,
                                    "--classifier-labels", os.path.join(d, "mlp.labels.txt")],
                                   capture_output=True, text=True)
                self.assertEqual(p.returncode, 0, p.stderr)
                with open(out, "rb") as f:
                    self.assertEqual(self.server.request("PUT", base + "/model/m.mlmodel", body=f.read()).status, 200)
            r = self.server.request("GET", "/api/ringo/v1/coreml/inspect",
                                    query={"run_id": rid, "path": "model/m.mlmodel"})
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json["model_type"], "neuralNetworkClassifier")
            self.assertTrue(r.json["valid"])
            self.assertEqual(len(r.json["class_labels"]), 5)
        self.assertEqual(self.server.request("PUT", base + "/notes.txt", body=b"hello").status, 200)
        r = self.server.request("GET", "/api/ringo/v1/coreml/inspect", query={"run_id": rid, "path": "notes.txt"})
        self.assertEqual(r.status, 400)
        self.assertIn("not a Core ML model", r.json["message"])
        r = self.server.request("GET", "/api/ringo/v1/coreml/inspect", query={"run_id": rid, "path": "missing.mlmodel"})
        self.assertEqual(r.status, 404)
        r = self.server.request("GET", "/api/ringo/v1/coreml/inspect", query={"run_id": rid, "path": "../../x"})
        self.assertEqual(r.status, 400)


class UiRootTest(ServerTestCase):
    def test_root_answers(self):
        r = self.server.request("GET", "/")
        # With the UI built: index.html; without: a 404 that says how to get it.
        if r.status == 200:
            self.assertIn(b"<html", r.body.lower())
            self.assertIn("text/html", r.header("Content-Type"))
        else:
            self.assertEqual(r.status, 404)
            self.assertIn(b"web UI", r.body)
        self.assertEqual(self.server.request("GET", "/assets/nope.js").status, 404)


if __name__ == "__main__":
    unittest.main()
