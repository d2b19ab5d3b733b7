"""Updatable models: `ringo convert --updatable` and `ringo update` against a PyTorch fine-tune.

Small networks with random weights are exported with Debian's PyTorch and converted to
updatable NeuralNetworks (.mlmodel), which `ringo inspect --validate` accepts and describes. On
a random labelled set, `ringo update` must lower the loss, and the updated model's predictions
must match the same network fine-tuned in PyTorch (the same layers trainable, the same optimizer
settings, mini-batches in order) within 1e-4: an MLP classifier with its last two Linear layers
trained by SGD with momentum and by Adam, a regressor trained with mse, and a CNN whose
convolution and Linear layer are trained. Bad options and data are refused by name.
"""
import json
import os
import subprocess
import tempfile
import unittest

import numpy as np
import torch

RINGO = os.environ.get("RINGO_BIN", "ringo")
SAMPLES = 32
PROBES = 4


def ringo(*args):
    return subprocess.run([RINGO] + [str(a) for a in args], capture_output=True, text=True)


def mlp(outputs, softmax):
    layers = [torch.nn.Linear(6, 16), torch.nn.ReLU(), torch.nn.Linear(16, 8), torch.nn.Tanh(),
              torch.nn.Linear(8, outputs)]
    if softmax:
        layers.append(torch.nn.Softmax(dim=1))
    return torch.nn.Sequential(*layers)


def cnn():
    return torch.nn.Sequential(
        torch.nn.Conv2d(2, 4, 3, padding=1), torch.nn.ReLU(),
        torch.nn.Conv2d(4, 3, 3, stride=2, padding=1), torch.nn.Sigmoid(),
        torch.nn.Flatten(), torch.nn.Linear(3 * 3 * 3, 5), torch.nn.Softmax(dim=1))


class UpdateTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = cls.tmp.name

    def export(self, model, shape, name):
        path = os.path.join(self.dir, name + ".onnx")
        torch.onnx.export(model, torch.rand(1, *shape), path, opset_version=13,
                          input_names=["x"], output_names=["y"])
        return path

    def data(self, name, x, target):
        d = os.path.join(self.dir, name + "_data")
        os.makedirs(d, exist_ok=True)
        np.save(os.path.join(d, "x.npy"), x.numpy())
        np.save(os.path.join(d, "labels.npy"), target.numpy())
        return d

    def predict(self, model_path, x):
        out = []
        for k in range(PROBES):
            p = os.path.join(self.dir, "probe.npy")
            np.save(p, x[k:k + 1].numpy())
            r = ringo("predict", model_path, "-i", "x=" + p, "--json")
            self.assertEqual(r.returncode, 0, r.stderr)
            out.append(json.loads(r.stdout)["y"]["data"])
        return np.array(out, dtype=np.float64)

    def fine_tune(self, model, trainable, x, target, opt, lr, epochs, batch, cross_entropy):
        for p in model.parameters():
            p.requires_grad_(False)
        params = []
        for i in trainable:
            for p in model[i].parameters():
                p.requires_grad_(True)
                params.append(p)
        if opt == "adam":
            optimizer = torch.optim.Adam(params, lr=lr)
        else:
            optimizer = torch.optim.SGD(params, lr=lr, momentum=0.9)
        for _ in range(epochs):
            for s in range(0, len(x), batch):
                optimizer.zero_grad()
                y = model(x[s:s + batch])
                if cross_entropy:
                    loss = torch.nn.functional.nll_loss(torch.log(y), target[s:s + batch])
                else:
                    loss = torch.nn.functional.mse_loss(y, target[s:s + batch])
                loss.backward()
                optimizer.step()
        return model

    def check(self, name, model, shape, trainable, layers, opt, lr, loss, target, extra=()):
        torch.manual_seed(hash(name) % 1000)
        model = model.eval()
        onnx = self.export(model, shape, name)
        out = os.path.join(self.dir, name + ".mlmodel")
        epochs, batch = 4, 8
        args = ["convert", onnx, "-o", out, "--updatable", ",".join(layers), "--loss", loss,
                "--optimizer", opt, "--learning-rate", lr, "--epochs", epochs,
                "--batch-size", batch] + list(extra)
        r = ringo(*args)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = ringo("inspect", out, "--validate", "--json")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        info = json.loads(r.stdout)
        self.assertTrue(info["valid"])
        self.assertGreaterEqual(info["specification_version"], 4)
        self.assertEqual(len(info["updatable_layers"]), len(layers))
        self.assertIn(opt, info["update"])

        g = torch.Generator().manual_seed(7)
        x = torch.rand(SAMPLES, *shape, generator=g)
        data = self.data(name, x, target)
        updated = os.path.join(self.dir, name + "_updated.mlmodel")
        r = ringo("update", out, "--data", data, "--out", updated, "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        losses = json.loads(r.stdout)["loss"]
        self.assertEqual(len(losses), epochs)
        self.assertLess(losses[-1], losses[0])

        tuned = self.fine_tune(model, trainable, x, target, opt, lr, epochs, batch,
                               loss == "cross-entropy")
        with torch.no_grad():
            want = tuned(x[:PROBES]).reshape(PROBES, -1).double().numpy()
        got = self.predict(updated, x).reshape(PROBES, -1)
        before = self.predict(out, x).reshape(PROBES, -1)
        self.assertGreater(np.abs(before - want).max(), 1e-3)  # the update changed something
        np.testing.assert_allclose(got, want, atol=1e-4, rtol=0)
        self.assertEqual(ringo("inspect", updated, "--validate").returncode, 0)
        return info

    def test_mlp_sgd_momentum(self):
        target = torch.randint(0, 4, (SAMPLES,), generator=torch.Generator().manual_seed(3))
        self.check("sgd", mlp(4, True), (6,), [2, 4], ["/2/Gemm", "/4/Gemm"], "sgd", 0.5,
                   "cross-entropy", target, ["--momentum", 0.9])

    def test_mlp_adam(self):
        target = torch.randint(0, 4, (SAMPLES,), generator=torch.Generator().manual_seed(4))
        self.check("adam", mlp(4, True), (6,), [4], ["/4/Gemm"], "adam", 0.01,
                   "cross-entropy", target)

    def test_regressor_mse(self):
        target = torch.rand(SAMPLES, 3, generator=torch.Generator().manual_seed(5))
        self.check("mse", mlp(3, False), (6,), [2, 4], ["/2/Gemm", "/4/Gemm"], "adam", 0.01,
                   "mse", target)

    def test_cnn_convolution_and_linear(self):
        target = torch.randint(0, 5, (SAMPLES,), generator=torch.Generator().manual_seed(6))
        self.check("cnn", cnn(), (2, 6, 6), [2, 5], ["/2/Conv", "/5/Gemm"], "sgd", 0.5,
                   "cross-entropy", target, ["--momentum", 0.9])

    def test_refusals(self):
        onnx = self.export(mlp(3, False).eval(), (6,), "plain")
        out = os.path.join(self.dir, "bad.mlmodel")
        r = ringo("convert", onnx, "-o", out, "--updatable", "/4/Gemm")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("softmax", r.stderr)
        r = ringo("convert", onnx, "-o", out, "--updatable", "/1/Relu", "--loss", "mse")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("/0/Gemm", r.stderr.replace("_0_Gemm", "/0/Gemm"))
        r = ringo("convert", onnx, "-o", os.path.join(self.dir, "bad.mlpackage"),
                  "--updatable", "/4/Gemm", "--loss", "mse")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(".mlmodel", r.stderr)
        self.assertFalse(os.path.exists(out))
        r = ringo("convert", onnx, "-o", out, "--loss", "mse")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("--updatable", r.stderr)
        r = ringo("convert", onnx, "-o", out, "--updatable", "/4/Gemm", "--loss", "mse")
        self.assertEqual(r.returncode, 0, r.stderr)
        data = self.data("short", torch.rand(5, 6), torch.rand(4, 3))
        r = ringo("update", out, "--data", data, "--out", os.path.join(self.dir, "u.mlmodel"))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("samples", r.stderr)
        plain = os.path.join(self.dir, "plain.mlmodel")
        self.assertEqual(ringo("convert", onnx, "-o", plain).returncode, 0)
        r = ringo("update", plain, "--data", data, "--out", os.path.join(self.dir, "u.mlmodel"))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("not an updatable model", r.stderr)


if __name__ == "__main__":
    unittest.main()
