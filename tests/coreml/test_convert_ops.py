"""The converter's op families beyond CNNs, through the ringo binary, against PyTorch.

Each model is built here with random weights and exported with Debian's PyTorch: a 2x2 matrix
input (a leading dimension that is not a batch), sequence ops (log-softmax, cumulative sum,
argmax, where, strided slices, layer norm, erf-GELU), an int64 token input through an embedding,
and a cross-entropy loss with int64 targets. Each is converted to an ML Program (and, where the
NeuralNetwork layers express it, to a .mlmodel), accepted by `ringo inspect --validate`, and
`ringo predict` must match PyTorch: max abs error <= 1e-4 in fp32 (<= 1e-2 relative in fp16),
integers exactly.
"""
import json
import os
import subprocess
import tempfile
import unittest

import numpy as np
import torch
import torch.nn.functional as F

RINGO = os.environ.get("RINGO_BIN", "ringo")


def ringo(*args):
    return subprocess.run([RINGO] + [str(a) for a in args], capture_output=True, text=True)


class MatrixModel(torch.nn.Module):
    """A 2x2 matrix in, no batch anywhere."""

    def forward(self, m):
        return m @ m.transpose(0, 1) + m.sum(dim=0)


class PermuteModel(torch.nn.Module):
    """Channels moved last: a permute layer in a NeuralNetwork."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x):
        return torch.relu(self.conv(x)).permute(0, 2, 3, 1) * 2.0


class ResizeModel(torch.nn.Module):
    """A segmentation head's upsampling: Resize in each mode PyTorch exports."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x):
        h = self.conv(x)
        return (F.interpolate(h, scale_factor=2, mode="nearest"),
                F.interpolate(h, size=(9, 13), mode="bilinear", align_corners=False),
                F.interpolate(h, scale_factor=1.5, mode="bicubic", align_corners=True),
                F.interpolate(h, size=(3, 4), mode="bilinear", align_corners=False))


class DeconvModel(torch.nn.Module):
    """Transposed convolutions: strided, padded with output padding, grouped and dilated."""

    def __init__(self):
        super().__init__()
        self.up = torch.nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1)
        self.grouped = torch.nn.ConvTranspose2d(6, 4, (3, 2), stride=(1, 3), groups=2,
                                                dilation=(2, 1))

    def forward(self, x):
        return self.grouped(torch.relu(self.up(x)))


class RecurrentModel(torch.nn.Module):
    """An LSTM and a bidirectional, batch-first GRU sequence classifier."""

    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(8, 16, num_layers=2)
        self.gru = torch.nn.GRU(8, 12, batch_first=True, bidirectional=True)
        self.head = torch.nn.Linear(16 + 24, 5)

    def forward(self, x):
        seq, _ = self.lstm(x)
        both, _ = self.gru(x.transpose(0, 1))
        return self.head(torch.cat([seq[-1], both[:, -1]], dim=1))


class AttentionModel(torch.nn.Module):
    """Self-attention written with einsum, as transformer exports often are."""

    def __init__(self):
        super().__init__()
        self.qkv = torch.nn.Linear(8, 24)

    def forward(self, x):
        q, k, v = self.qkv(x).reshape(1, 5, 3, 2, 4).permute(2, 0, 3, 1, 4)
        scores = torch.einsum("bhqd,bhkd->bhqk", q, k) / 2.0
        mixed = torch.einsum("bhqk,bhkd->bqhd", scores.softmax(dim=-1), v)
        return mixed.reshape(1, 5, 8), torch.einsum("bqhd->bh", mixed)


class TextClassifier(torch.nn.Module):
    """An nn.TransformerEncoder text classifier over an embedding."""

    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(50, 32)
        layer = torch.nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0, batch_first=True)
        self.encoder = torch.nn.TransformerEncoder(layer, 2)
        self.head = torch.nn.Linear(32, 3)

    def forward(self, tokens):
        return self.head(self.encoder(self.embed(tokens)).mean(dim=1))


class TinyVit(torch.nn.Module):
    """A vision transformer: patch convolution, class token, position embedding, GELU MLPs."""

    def __init__(self):
        super().__init__()
        self.patch = torch.nn.Conv2d(3, 24, 4, stride=4)
        self.cls = torch.nn.Parameter(torch.zeros(1, 1, 24))
        self.pos = torch.nn.Parameter(torch.zeros(1, 17, 24))
        layer = torch.nn.TransformerEncoderLayer(24, 3, 48, dropout=0.0, activation="gelu",
                                                 batch_first=True, norm_first=True)
        self.encoder = torch.nn.TransformerEncoder(layer, 2)
        self.head = torch.nn.Linear(24, 10)

    def forward(self, image):
        x = self.patch(image).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1) + self.pos
        return self.head(self.encoder(x)[:, 0])


class SequenceModel(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.norm = torch.nn.LayerNorm(6)

    def forward(self, x):
        a = F.log_softmax(x, dim=0)
        b = torch.cumsum(x, dim=1)
        c = torch.argmax(x, dim=1)
        d = torch.where(x > 0, x, 0.1 * x)[1:, ::2]
        e = F.gelu(self.norm(x))
        return a, b, c, d, e


class EmbeddingModel(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(10, 6)
        self.proj = torch.nn.Linear(6, 3)

    def forward(self, tokens):
        return self.proj(torch.tanh(self.embed(tokens))).max(dim=0).values


class LossModel(torch.nn.Module):
    def forward(self, scores, target):
        return F.cross_entropy(scores, target)


def models():
    g = torch.Generator().manual_seed(3)
    return {
        "matrix": (MatrixModel(), (torch.randn(2, 2, generator=g),), ["m"], ["y"]),
        "resize": (ResizeModel(), (torch.randn(1, 3, 6, 8, generator=g),), ["x"],
                   ["nearest", "bilinear", "bicubic", "down"]),
        "deconv": (DeconvModel(), (torch.randn(1, 4, 5, 7, generator=g),), ["x"], ["y"]),
        "recurrent": (RecurrentModel(), (torch.randn(7, 2, 8, generator=g),), ["x"], ["y"]),
        "attention": (AttentionModel(), (torch.randn(1, 5, 8, generator=g),), ["x"],
                      ["y", "pooled"]),
        "transformer": (TextClassifier(), (torch.randint(0, 50, (1, 12), generator=g),),
                        ["tokens"], ["y"]),
        "vit": (TinyVit(), (torch.randn(1, 3, 16, 16, generator=g),), ["image"], ["y"]),
        "permute": (PermuteModel(), (torch.randn(1, 3, 5, 6, generator=g),), ["x"], ["y"]),
        "sequence": (SequenceModel(), (torch.randn(4, 6, generator=g),), ["x"],
                     ["a", "b", "c", "d", "e"]),
        "embedding": (EmbeddingModel(), (torch.randint(0, 10, (5,), generator=g),), ["tokens"],
                      ["y"]),
        "loss": (LossModel(), (torch.randn(4, 3, generator=g), torch.randint(0, 3, (4,), generator=g)),
                 ["scores", "target"], ["loss"]),
    }


class ConvertOpsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = cls.tmp.name
        torch.manual_seed(0)
        cls.cases = {}
        for name, (model, inputs, input_names, output_names) in models().items():
            model.eval()
            with torch.no_grad():
                for p in model.parameters():
                    p.copy_(torch.randn(p.shape) * 0.5)
                expected = model(*inputs)
            if isinstance(expected, torch.Tensor):
                expected = (expected,)
            path = os.path.join(cls.dir, name + ".onnx")
            torch.onnx.export(model, inputs, path, opset_version=14, input_names=input_names,
                              output_names=output_names)
            files = {}
            for n, v in zip(input_names, inputs):
                files[n] = os.path.join(cls.dir, "%s.%s.npy" % (name, n))
                np.save(files[n], v.numpy())
            cls.cases[name] = (path, files, dict(zip(output_names, [e.numpy() for e in expected])))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def convert_and_predict(self, name, *flags, ext=".mlpackage"):
        onnx_path, files, _ = self.cases[name]
        out = os.path.join(self.dir, name + "".join(flags) + ext)
        p = ringo("convert", onnx_path, "-o", out, *flags)
        self.assertEqual(p.returncode, 0, p.stderr)
        v = ringo("inspect", out, "--validate", "--json")
        self.assertEqual(v.returncode, 0, v.stderr + v.stdout)
        self.assertTrue(json.loads(v.stdout)["valid"])
        args = []
        for n, f in files.items():
            args += ["-i", "%s=%s" % (n, f)]
        p = ringo("predict", out, "--json", *args)
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout)

    def check(self, name, got, expected, fp16=False):
        for output, want in expected.items():
            with self.subTest(model=name, output=output):
                value = got[output]
                if not isinstance(value, dict):
                    value = {"shape": [], "data": [value]}
                data = np.array(value["data"], dtype=np.float64)
                self.assertEqual(data.size, want.size)
                # A NeuralNetwork declares its outputs without the leading 1.
                strip = lambda shape: tuple(shape)[next(
                    (k for k, d in enumerate(shape) if d != 1), len(shape)):]
                self.assertEqual(strip(value["shape"]), strip(want.shape))
                want = want.reshape(-1).astype(np.float64)
                if np.issubdtype(expected[output].dtype, np.integer):
                    np.testing.assert_array_equal(data, want)
                elif fp16:
                    scale = max(1.0, float(np.abs(want).max()))
                    self.assertLessEqual(float(np.abs(data - want).max()) / scale, 1e-2)
                else:
                    self.assertLessEqual(float(np.abs(data - want).max()), 1e-4)

    def test_each_model_matches_pytorch_in_fp32(self):
        for name, (_, _, expected) in self.cases.items():
            self.check(name, self.convert_and_predict(name), expected)

    def test_sequence_and_transformer_models_in_fp16(self):
        for name in ("sequence", "transformer", "vit"):
            self.check(name, self.convert_and_predict(name, "--precision", "fp16"),
                       self.cases[name][2], fp16=True)

    def test_transpose_in_a_neural_network(self):
        self.check("permute", self.convert_and_predict("permute", ext=".mlmodel"),
                   self.cases["permute"][2])

    # The families a NeuralNetwork writes with the rank-N layers of spec 4 (iOS 13).
    RANK_N_NETWORKS = ("matrix", "attention", "transformer", "vit", "recurrent", "embedding",
                       "resize", "deconv")

    def test_rank_n_families_in_a_neural_network(self):
        for name in self.RANK_N_NETWORKS:
            got = self.convert_and_predict(name, ext=".mlmodel")
            self.check(name, got, self.cases[name][2])
            got = self.convert_and_predict(name, "--precision", "fp16", ext=".mlmodel")
            self.check(name, got, self.cases[name][2], fp16=True)

    def test_neural_network_keeps_rank_5_layers_when_they_suffice(self):
        for name, version in (("permute", 1), ("matrix", 4), ("transformer", 4)):
            out = os.path.join(self.dir, name + ".spec.mlmodel")
            p = ringo("convert", self.cases[name][0], "-o", out)
            self.assertEqual(p.returncode, 0, p.stderr)
            info = json.loads(ringo("inspect", out, "--json").stdout)
            self.assertEqual(info["specification_version"], version, name)

    def test_matrix_input_is_not_taken_for_a_batch(self):
        onnx_path = self.cases["matrix"][0]
        out = os.path.join(self.dir, "matrix.mlmodel")
        p = ringo("convert", onnx_path, "-o", out)
        self.assertEqual(p.returncode, 0, p.stderr)
        info = json.loads(ringo("inspect", out, "--json").stdout)
        self.assertEqual(info["inputs"][0]["shape"], [2, 2])


class OverflowModel(torch.nn.Module):
    """One op (the square) whose values exceed fp16's 65504."""

    def __init__(self):
        super().__init__()
        self.a = torch.nn.Linear(16, 32)
        self.b = torch.nn.Linear(32, 4)

    def forward(self, x):
        h = torch.relu(self.a(x)) * 300.0
        h = h * h
        return self.b(h / 10000.0)


class AutoPrecisionTest(unittest.TestCase):
    def test_auto_keeps_the_overflowing_op_in_fp32(self):
        # An ML Program keeps the op in fp32; a NeuralNetwork has no per-layer precision and
        # keeps the fp32 weights of the layer whose fp16 result feeds the overflow.
        torch.manual_seed(0)
        model = OverflowModel().eval()
        x = torch.randn(1, 16)
        with torch.no_grad():
            want = model(x).numpy().reshape(-1)
        with tempfile.TemporaryDirectory() as d:
            onnx_path = os.path.join(d, "overflow.onnx")
            torch.onnx.export(model, x, onnx_path, opset_version=13, input_names=["x"],
                              output_names=["y"])
            np.save(os.path.join(d, "x.npy"), x.numpy())
            for ext in ("mlpackage", "mlmodel"):
                with self.subTest(ext):
                    self.check_auto(d, onnx_path, ext, want)

    def check_auto(self, d, onnx_path, ext, want):
        results = {}
        report = os.path.join(d, "report.json")
        for precision in ("fp16", "auto"):
            out = os.path.join(d, precision + "." + ext)
            p = ringo("convert", onnx_path, "-o", out, "--precision", precision,
                      "--report", report)
            self.assertEqual(p.returncode, 0, p.stderr)
            p = ringo("predict", out, "-i", "x=" + os.path.join(d, "x.npy"), "--json")
            self.assertEqual(p.returncode, 0, p.stderr)
            results[precision] = np.array(json.loads(p.stdout)["y"]["data"], dtype=float)
        self.assertFalse(np.isfinite(results["fp16"]).all())
        got = results["auto"]
        self.assertLessEqual(np.abs(got - want).max() / np.abs(want).max(), 1e-2)
        with open(report) as f:
            ops = json.load(f)["ops"]
        kept = [o for o in ops if o["precision"] == "fp32"]
        overflow = [o for o in ops if o.get("reason") == "overflows fp16"]
        self.assertTrue(overflow and all(o["max_abs_fp32"] > 65504 for o in overflow), ops)
        if ext == "mlpackage":
            self.assertTrue(set(o["op"] for o in overflow) <= set(o["op"] for o in kept))
        else:
            self.assertTrue(kept and all("overflows fp16" in o["reason"] for o in kept), kept)
        self.assertLess(len(kept), len(ops) // 2)
        info = ringo("inspect", os.path.join(d, "auto." + ext), "--validate", "--json")
        self.assertEqual(info.returncode, 0, info.stdout)
        self.assertIn("in fp32" if ext == "mlpackage" else "with fp32 weights",
                      json.loads(info.stdout)["metadata"]["com.ringo.precision"])
        if ext == "mlmodel":
            self.assertEqual(json.loads(info.stdout)["weight_precision"], "mixed")


class ConvertCheckTest(unittest.TestCase):
    def test_check_lists_exactly_the_two_unsupported_nodes(self):
        import onnx
        from onnx import TensorProto, helper
        x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])
        outs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("y", "z")]
        nodes = [
            helper.make_node("Relu", ["x"], ["r"], name="relu"),
            helper.make_node("Det", ["r"], ["d"], name="first_bad"),
            helper.make_node("Sigmoid", ["x"], ["s"], name="sigmoid"),
            helper.make_node("Unique", ["s"], ["y"], name="second_bad"),
            helper.make_node("Tanh", ["d"], ["z"], name="after_bad"),
        ]
        model = helper.make_model(helper.make_graph(nodes, "g", [x], outs),
                                  opset_imports=[helper.make_opsetid("", 13)])
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "two.onnx")
            onnx.save(model, path)
            p = ringo("convert", "--check", path)
            self.assertEqual(p.returncode, 1, p.stderr)
            listed = [line.split("\t")[:3] for line in p.stdout.splitlines() if "\t" in line]
            self.assertEqual(listed, [["first_bad", "Det", "opset 11"],
                                      ["second_bad", "Unique", "opset 11"]])
            p = ringo("convert", path, "-o", os.path.join(d, "two.mlpackage"))
            self.assertEqual(p.returncode, 1)
            first = p.stderr.splitlines()[0]
            self.assertLess(first.index("first_bad"), first.index("second_bad"))
            self.assertFalse(os.path.exists(os.path.join(d, "two.mlpackage")))

            ok = helper.make_model(helper.make_graph([nodes[0]], "g", [x], [
                helper.make_tensor_value_info("r", TensorProto.FLOAT, None)]),
                opset_imports=[helper.make_opsetid("", 13)])
            onnx.save(ok, path)
            for to in ("mlmodel", "mlpackage"):
                p = ringo("convert", "--check", path, "--to", to)
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr)


if __name__ == "__main__":
    unittest.main()
