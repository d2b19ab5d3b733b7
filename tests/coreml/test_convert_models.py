"""End-to-end conversion of PyTorch exports to both Core ML formats and precisions.

Exports the models with export_models.py into a fresh temporary directory, converts each with
the test-only convert_tool (which saves, reloads with coreml::Load and prints a summary) and
checks the interface and the layers/ops of the result. Prediction accuracy is checked by the
evaluator's tests.
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
TOOL = os.environ.get("RINGO_CONVERT_TOOL", "convert_tool")


class ConvertModelsTest(unittest.TestCase):
    count = 0

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = cls.tmp.name
        subprocess.run([sys.executable, os.path.join(HERE, "export_models.py"), cls.dir],
                       check=True, stdout=subprocess.DEVNULL)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def convert(self, name, ext, *args):
        src = os.path.join(self.dir, name + ".onnx")
        ConvertModelsTest.count += 1
        out = os.path.join(self.dir, "%s_%d%s" % (name, self.count, ext))
        proc = subprocess.run([TOOL, src, out] + list(args), capture_output=True, text=True)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertTrue(os.path.exists(out))
        return json.loads(proc.stdout)

    def check_common(self, s, ext, fp16):
        self.assertEqual(s["metadata"]["com.ringo.version"], "0.1.0")
        self.assertTrue(s["metadata"]["com.ringo.source"].endswith(".onnx"))
        if ext == ".mlpackage":
            self.assertEqual(s["type"], "mlProgram")
            self.assertEqual(s["spec_version"], 6)
            self.assertEqual(s["opset"], "CoreML5")
            self.assertGreater(s["weights_bytes"], 64)
            self.assertEqual("cast" in s["layers"], fp16)
        else:
            self.assertIn(s["type"], ("neuralNetwork", "neuralNetworkClassifier"))
            self.assertEqual(s["spec_version"], 2 if fp16 else 1)

    def test_classifiers(self):
        for name, n_in, n_labels in (("mlp", [20], 5), ("small_cnn", [3, 32, 32], 10)):
            labels = os.path.join(self.dir, name + ".labels.txt")
            for ext in (".mlmodel", ".mlpackage"):
                for fp16 in (False, True):
                    with self.subTest(model=name, ext=ext, fp16=fp16):
                        args = ["--labels", labels] + (["--fp16"] if fp16 else [])
                        s = self.convert(name, ext, *args)
                        self.check_common(s, ext, fp16)
                        outs = [(o["name"], o["type"]) for o in s["outputs"]]
                        self.assertEqual(outs, [("classLabel", "String"), ("scores", "Dictionary")])
                        shape = s["inputs"][0]["shape"]
                        self.assertEqual(shape, n_in if ext == ".mlmodel" else [1] + n_in)
                        if ext == ".mlmodel":
                            self.assertEqual(s["type"], "neuralNetworkClassifier")
                            self.assertEqual(s["labels"], n_labels)
                        else:
                            self.assertEqual(s["layers"]["classify"], 1)

    def test_image_models(self):
        expected = {"mobilenet_v2": 52, "resnet18": 20}
        for name, convs in expected.items():
            for ext in (".mlmodel", ".mlpackage"):
                for fp16 in (False, True):
                    with self.subTest(model=name, ext=ext, fp16=fp16):
                        args = ["--image", "image"] + (["--fp16"] if fp16 else [])
                        s = self.convert(name, ext, *args)
                        self.check_common(s, ext, fp16)
                        self.assertEqual(s["inputs"][0]["type"], "Image")
                        self.assertEqual(s["inputs"][0]["width"], 224)
                        out = s["outputs"][0]
                        self.assertEqual(out["name"], "scores")
                        self.assertEqual(out["shape"], [1000] if ext == ".mlmodel" else [1, 1000])
                        layer = "convolution" if ext == ".mlmodel" else "conv"
                        self.assertEqual(s["layers"][layer], convs)

    def test_tensor_input_cnn(self):
        s = self.convert("resnet18", ".mlpackage", "--target", "iOS16")
        self.assertEqual(s["spec_version"], 7)
        self.assertEqual(s["opset"], "CoreML6")
        self.assertEqual(s["inputs"][0]["shape"], [1, 3, 224, 224])


if __name__ == "__main__":
    unittest.main()
