"""Weight compression (`ringo convert --compress`) on a PyTorch CNN, through the ringo binary.

A small CNN classifier with random weights is exported with Debian's PyTorch and converted to an
ML Program in fp32 and with each compression. On a set of random inputs, `ringo predict` of the
int8 model must stay within 2e-2 of the fp32 model's outputs (relative to their largest
magnitude) with the same top-1 on >= 98% of the inputs, and its weight file must be about a
quarter of fp32's; palettized and pruned models must shrink as their bit widths say, run, and
be reported by `ringo inspect`, which accepts every file. A NeuralNetwork stores 8-bit weights,
its embedding tables too when it needs rank-N layers.
"""
import json
import os
import subprocess
import tempfile
import unittest

import numpy as np
import torch

RINGO = os.environ.get("RINGO_BIN", "ringo")
SAMPLES = 50


def ringo(*args):
    return subprocess.run([RINGO] + [str(a) for a in args], capture_output=True, text=True)


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 16, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(16, 32, 3, padding=1)
        self.fc1 = torch.nn.Linear(32 * 8 * 8, 128)
        self.fc2 = torch.nn.Linear(128, 10)

    def forward(self, x):
        x = torch.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = torch.max_pool2d(torch.relu(self.conv2(x)), 2)
        return self.fc2(torch.relu(self.fc1(x.flatten(1))))


class CompressTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = cls.tmp.name
        torch.manual_seed(0)
        model = Net().eval()
        cls.onnx = os.path.join(cls.dir, "net.onnx")
        torch.onnx.export(model, torch.rand(1, 3, 32, 32), cls.onnx, opset_version=13,
                          input_names=["x"], output_names=["y"])
        g = torch.Generator().manual_seed(1)
        cls.inputs = []
        for k in range(SAMPLES):
            path = os.path.join(cls.dir, "x%d.npy" % k)
            np.save(path, torch.rand(1, 3, 32, 32, generator=g).numpy())
            cls.inputs.append(path)
        cls.outputs = {}

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def convert(self, compress, ext=".mlpackage"):
        out = os.path.join(self.dir, "net_%s%s" % (compress or "fp32", ext))
        if not os.path.exists(out):
            args = ["--compress", compress] if compress else []
            p = ringo("convert", self.onnx, "-o", out, *args)
            self.assertEqual(p.returncode, 0, p.stderr)
        return out

    def run_all(self, compress, ext=".mlpackage"):
        if (compress, ext) not in self.outputs:
            package = self.convert(compress, ext)
            ys = []
            for x in self.inputs:
                p = ringo("predict", package, "-i", "x=" + x, "--json")
                self.assertEqual(p.returncode, 0, p.stderr)
                ys.append(np.array(json.loads(p.stdout)["y"]["data"]))
            self.outputs[(compress, ext)] = np.array(ys)
        return self.outputs[(compress, ext)]

    def weight_bytes(self, compress):
        return os.path.getsize(os.path.join(self.convert(compress), "Data", "com.apple.CoreML",
                                            "weights", "weight.bin"))

    def inspect(self, compress, ext=".mlpackage"):
        p = ringo("inspect", self.convert(compress, ext), "--validate", "--json")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        info = json.loads(p.stdout)
        self.assertTrue(info["valid"], info["problems"])
        return info

    def agreement(self, compress, ext=".mlpackage"):
        ref, got = self.run_all(""), self.run_all(compress, ext)
        rel = np.abs(got - ref).max(axis=1) / np.abs(ref).max(axis=1)
        top1 = np.mean(got.argmax(axis=1) == ref.argmax(axis=1))
        return float(rel.max()), float(top1)

    def test_int8_matches_fp32_at_a_quarter_of_the_size(self):
        for compress in ("int8", "int8-tensor"):
            with self.subTest(compress=compress):
                rel, top1 = self.agreement(compress)
                self.assertLessEqual(rel, 2e-2)
                self.assertGreaterEqual(top1, 0.98)
                ratio = self.weight_bytes(compress) / self.weight_bytes("")
                self.assertGreater(ratio, 0.2)
                self.assertLess(ratio, 0.3)
                info = self.inspect(compress)
                self.assertEqual(info["weight_compression"], "int8")
                self.assertEqual(info["parameter_count"], self.inspect("")["parameter_count"])

    def test_palettized_and_pruned_models_shrink_and_run(self):
        fp32 = self.weight_bytes("")
        for compress, kind, most, tolerance in (("palettize6", "palettized 6-bit", 0.22, 0.06),
                                                ("palettize4", "palettized 4-bit", 0.16, 0.25),
                                                ("palettize2", "palettized 2-bit", 0.10, None),
                                                ("prune", "pruned", 0.56, None)):
            with self.subTest(compress=compress):
                self.assertLess(self.weight_bytes(compress) / fp32, most)
                self.assertEqual(self.inspect(compress)["weight_compression"], kind)
                rel, _ = self.agreement(compress)
                if tolerance is not None:
                    self.assertLessEqual(rel, tolerance)

    def test_neural_network_stores_8_bit_weights(self):
        fp32 = os.path.getsize(self.convert("", ".mlmodel"))
        for compress, kind in (("int8", "int8"), ("palettize8", "palettized 8-bit")):
            with self.subTest(compress=compress):
                rel, top1 = self.agreement(compress, ".mlmodel")
                self.assertLessEqual(rel, 2e-2)
                self.assertGreaterEqual(top1, 0.98)
                self.assertLess(os.path.getsize(self.convert(compress, ".mlmodel")) / fp32, 0.3)
                self.assertEqual(self.inspect(compress, ".mlmodel")["weight_compression"], kind)

    def test_sweep_picks_the_smallest_variant_that_meets_the_condition(self):
        eval_dir = os.path.join(self.dir, "eval")
        os.makedirs(eval_dir, exist_ok=True)
        batch = np.stack([np.load(x) for x in self.inputs[:20]])
        np.save(os.path.join(eval_dir, "x.npy"), batch)
        out = os.path.join(self.dir, "picked.mlpackage")
        p = ringo("convert", self.onnx, "-o", out, "--sweep", "fp16,int8,palettize6,palettize4",
                  "--eval", eval_dir, "--pick", "max_error <= 0.02", "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        rows = {r["variant"]: r for r in json.loads(p.stdout)}
        self.assertEqual(set(rows), {"fp32", "fp16", "int8", "palettize6", "palettize4"})
        self.assertEqual(rows["fp32"]["max_error"], 0)
        meeting = [r for r in rows.values() if r["max_error"] <= 0.02]
        smallest = min(meeting, key=lambda r: r["size"])
        kind = {"palettize6": "palettized 6-bit", "int8": "int8", "fp16": "none",
                "fp32": "none", "palettize4": "palettized 4-bit"}[smallest["variant"]]
        info = json.loads(ringo("inspect", out, "--json").stdout)
        self.assertEqual(info["weight_compression"], kind)
        self.assertLess(rows["palettize4"]["size"], rows["int8"]["size"])
        self.assertLess(rows["int8"]["size"], rows["fp16"]["size"])
        # Nothing meets an impossible condition: exit 1, nothing written.
        never = os.path.join(self.dir, "never.mlpackage")
        p = ringo("convert", self.onnx, "-o", never, "--sweep", "int8", "--eval", eval_dir,
                  "--pick", "accuracy >= 1.5")
        self.assertEqual(p.returncode, 1)
        self.assertFalse(os.path.exists(never))

    def test_unsupported_compressions_are_refused(self):
        for out, flag in (("net.mlmodel", "palettize4"), ("net_bad.mlpackage", "int3")):
            with self.subTest(flag=flag):
                path = os.path.join(self.dir, out)
                p = ringo("convert", self.onnx, "-o", path, "--compress", flag)
                self.assertNotEqual(p.returncode, 0)
                self.assertFalse(os.path.exists(path))


class TokenModel(torch.nn.Module):
    """An embedding table (a loadConstantND in a rank-N NeuralNetwork) and a linear head."""

    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(4000, 64)
        self.head = torch.nn.Linear(64, 5)

    def forward(self, tokens):
        return self.head(self.embed(tokens).mean(dim=1))


class RankNCompressTest(unittest.TestCase):
    def test_embedding_table_of_a_rank_n_network_is_compressed(self):
        torch.manual_seed(0)
        model = TokenModel().eval()
        tokens = torch.randint(0, 4000, (1, 7))
        with torch.no_grad():
            want = model(tokens).numpy().reshape(-1)
        with tempfile.TemporaryDirectory() as d:
            onnx_path = os.path.join(d, "tokens.onnx")
            torch.onnx.export(model, (tokens,), onnx_path, opset_version=14,
                              input_names=["tokens"], output_names=["y"])
            np.save(os.path.join(d, "tokens.npy"), tokens.numpy())
            sizes = {}
            for compress, kind in (("", "none"), ("int8", "int8"),
                                   ("palettize8", "palettized 8-bit")):
                out = os.path.join(d, "tokens%s.mlmodel" % compress)
                flags = ["--compress", compress] if compress else []
                p = ringo("convert", onnx_path, "-o", out, *flags)
                self.assertEqual(p.returncode, 0, p.stderr)
                info = json.loads(ringo("inspect", out, "--validate", "--json").stdout)
                self.assertTrue(info["valid"], info)
                self.assertEqual(info["weight_compression"], kind)
                p = ringo("predict", out, "-i", "tokens=" + os.path.join(d, "tokens.npy"),
                          "--json")
                self.assertEqual(p.returncode, 0, p.stderr)
                got = np.array(json.loads(p.stdout)["y"]["data"], dtype=float)
                self.assertLessEqual(np.abs(got - want).max() / np.abs(want).max(), 2e-2)
                sizes[compress] = os.path.getsize(out)
            self.assertLess(sizes["int8"] / sizes[""], 0.3)
            self.assertLess(sizes["palettize8"] / sizes[""], 0.3)


if __name__ == "__main__":
    unittest.main()
