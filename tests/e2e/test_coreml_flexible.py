"""Flexible input shapes: `ringo convert --shape` and `ringo predict` at the shapes it allows.

A fully convolutional PyTorch network exported with symbolic batch, height and width is
converted with shape ranges and with enumerated shapes to both formats (a NeuralNetwork's
rank-5 input keeps one example, so only its height and width vary). `ringo inspect --validate`
accepts each file and shows the flexibility; `ringo predict` matches PyTorch within 1e-4 at
several allowed shapes and refuses the others naming what is allowed; a network whose flatten
fixes the spatial size is refused at conversion.
"""
import json
import os
import subprocess
import tempfile
import unittest

import numpy as np
import torch

RINGO = os.environ.get("RINGO_BIN", "ringo")


def ringo(*args):
    return subprocess.run([RINGO] + [str(a) for a in args], capture_output=True, text=True)


class Fcn(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.c2 = torch.nn.Conv2d(8, 4, 3, padding=1)

    def forward(self, x):
        return torch.mean(self.c2(torch.relu(self.c1(x))), dim=(2, 3))


class FlexibleShapeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = cls.tmp.name
        torch.manual_seed(0)
        cls.model = Fcn().eval()
        cls.onnx = os.path.join(cls.dir, "fcn.onnx")
        torch.onnx.export(cls.model, torch.rand(1, 3, 16, 16), cls.onnx, opset_version=13,
                          input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "batch", 2: "h", 3: "w"}})

    def convert(self, name, shape):
        out = os.path.join(self.dir, name)
        r = ringo("convert", self.onnx, "-o", out, "--shape", "x=" + shape)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = ringo("inspect", out, "--validate", "--json")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertTrue(json.loads(r.stdout)["inputs"][0]["flexible_shape"])
        return out

    def predict(self, model, shape):
        x = np.random.default_rng(sum(shape)).random(shape, dtype=np.float32)
        path = os.path.join(self.dir, "x.npy")
        np.save(path, x)
        r = ringo("predict", model, "-i", "x=" + path, "--json")
        if r.returncode != 0:
            return None, r.stderr
        got = np.array(json.loads(r.stdout)["y"]["data"]).reshape(-1)
        with torch.no_grad():
            want = self.model(torch.from_numpy(x.reshape((-1,) + x.shape[-3:]))).reshape(-1)
        np.testing.assert_allclose(got, want.numpy(), atol=1e-4, rtol=0)
        return got, ""

    def test_ranges_in_both_formats(self):
        package = self.convert("range.mlpackage", "1..4x3x8..32x8..")
        for shape in [(1, 3, 8, 8), (3, 3, 20, 12), (4, 3, 32, 64)]:
            self.assertIsNotNone(self.predict(package, shape)[0], shape)
        got, err = self.predict(package, (1, 3, 40, 7))
        self.assertIsNone(got)
        self.assertIn("allows [1..4, 3, 8..32, 8..]", err)

        nn = self.convert("range.mlmodel", "1x3x8..32x8..32")
        for shape in [(1, 3, 8, 8), (3, 17, 30)]:
            self.assertIsNotNone(self.predict(nn, shape)[0], shape)
        got, err = self.predict(nn, (2, 3, 8, 8))
        self.assertIsNone(got)
        self.assertIn("allows", err)

    def test_enumerated_shapes_in_both_formats(self):
        for ext in ("mlpackage", "mlmodel"):
            out = self.convert("enum." + ext, "1x3x16x16,1x3x24x12")
            self.assertIsNotNone(self.predict(out, (1, 3, 24, 12))[0])
            self.assertIsNotNone(self.predict(out, (1, 3, 16, 16))[0])
            got, err = self.predict(out, (1, 3, 16, 12))
            self.assertIsNone(got)
            self.assertIn("or", err)

    def test_refusals(self):
        flat = os.path.join(self.dir, "flat.onnx")
        net = torch.nn.Sequential(torch.nn.Conv2d(3, 2, 3), torch.nn.Flatten(),
                                  torch.nn.Linear(2 * 6 * 6, 3)).eval()
        torch.onnx.export(net, torch.rand(1, 3, 8, 8), flat, opset_version=13,
                          input_names=["x"], output_names=["y"])
        out = os.path.join(self.dir, "flat.mlpackage")
        r = ringo("convert", flat, "-o", out, "--shape", "x=1x3x8..16x8")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("cannot take the shape 1x3x16x8", r.stderr)
        self.assertFalse(os.path.exists(out))
        r = ringo("convert", self.onnx, "-o", os.path.join(self.dir, "b.mlmodel"),
                  "--shape", "x=1..2x3x8x8")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("one example", r.stderr)
        r = ringo("convert", self.onnx, "-o", out, "--shape", "x=1x3x9..8x8")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("ends below its start", r.stderr)


if __name__ == "__main__":
    unittest.main()
