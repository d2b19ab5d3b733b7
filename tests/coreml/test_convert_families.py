"""The converter's model families in every precision and both formats, against PyTorch.

EfficientNet-B0 (torchvision, random weights, its batch norms fitted to random images so that
activations keep their scale through the 16 blocks) and a small segmentation net (a strided
convolution, a bilinear Resize and a ConvTranspose), plus the families of test_convert_ops, are
converted to an ML Program and to a .mlmodel, in fp32, fp16 and `--precision auto`.
`ringo predict` must match PyTorch: max abs error <= 1e-4 in fp32, <= 1e-2 relative in fp16 and
auto, and a classifier (EfficientNet and the sequence classifiers) the same top-1 in every
precision.
"""
import os
import tempfile
import unittest

import numpy as np
import torch
import torch.nn.functional as F
import torchvision

import test_convert_ops as ops  # a module, so its test classes are not collected twice

PRECISIONS = ("fp32", "fp16", "auto")


class SegmentationNet(torch.nn.Module):
    """Down by a strided convolution, up by Resize and by ConvTranspose, a class per pixel."""

    def __init__(self):
        super().__init__()
        self.enc = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.down = torch.nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.up = torch.nn.ConvTranspose2d(16, 8, 2, stride=2)
        self.head = torch.nn.Conv2d(8, 4, 1)

    def forward(self, x):
        h = F.relu(self.enc(x))
        h = F.relu(self.down(h))
        h = F.interpolate(h, scale_factor=2.0, mode="bilinear", align_corners=False)
        return self.head(F.relu(self.up(h)))


def efficientnet_b0():
    m = torchvision.models.efficientnet_b0(weights=None)
    for mod in m.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.momentum = None  # running statistics: the mean over the batches below
    m.train()
    with torch.no_grad():
        for _ in range(4):
            m(torch.randn(8, 3, 64, 64))
    return m.eval()


class ConvertFamiliesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = cls.tmp.name
        torch.manual_seed(0)
        g = torch.Generator().manual_seed(1)
        cls.cases = {}
        cls.export("efficientnet", efficientnet_b0(), torch.randn(1, 3, 64, 64, generator=g),
                   "image", "logits")
        seg = SegmentationNet().eval()
        cls.export("segmentation", seg, torch.randn(1, 3, 16, 20, generator=g), "image", "mask")

    @classmethod
    def export(cls, name, model, x, input_name, output_name):
        with torch.no_grad():
            y = model(x)
        path = os.path.join(cls.dir, name + ".onnx")
        torch.onnx.export(model, (x,), path, opset_version=14, input_names=[input_name],
                          output_names=[output_name])
        npy = os.path.join(cls.dir, name + ".x.npy")
        np.save(npy, x.numpy())
        cls.cases[name] = (path, {input_name: npy}, {output_name: y.numpy()})

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    # The helpers of test_convert_ops work on `self.cases` and `self.dir` as laid out above.
    convert_and_predict = ops.ConvertOpsTest.convert_and_predict
    check = ops.ConvertOpsTest.check

    def check_top1(self, got, expected):
        for output, want in expected.items():
            data = np.array(got[output]["data"], dtype=np.float64)
            self.assertEqual(int(np.argmax(data)), int(np.argmax(want)), output)

    def test_efficientnet_b0_in_both_formats_and_every_precision(self):
        for ext in (".mlpackage", ".mlmodel"):
            for precision in PRECISIONS:
                with self.subTest(format=ext, precision=precision):
                    got = self.convert_and_predict("efficientnet", "--precision", precision, ext=ext)
                    want = self.cases["efficientnet"][2]
                    self.check("efficientnet", got, want, fp16=precision != "fp32")
                    self.check_top1(got, want)

    def test_segmentation_net_in_both_formats_and_every_precision(self):
        for ext in (".mlpackage", ".mlmodel"):
            for precision in PRECISIONS:
                with self.subTest(format=ext, precision=precision):
                    got = self.convert_and_predict("segmentation", "--precision", precision, ext=ext)
                    self.check("segmentation", got, self.cases["segmentation"][2],
                               fp16=precision != "fp32")


class OpFamiliesInEveryPrecisionTest(ops.ConvertOpsTest):
    """test_convert_ops' families (transformer encoder with an embedding, vision transformer,
    LSTM and bidirectional GRU, attention, matrix input, ...) in fp16 and auto too, every one in
    both formats."""

    def test_each_family_in_fp16_and_auto(self):
        for name, (_, _, expected) in self.cases.items():
            for ext in (".mlpackage", ".mlmodel"):
                # test_convert_ops runs fp32 as an ML Program, and as a .mlmodel only the rank-N
                # families and the permute; a NeuralNetwork now holds the rest as well.
                fp32 = ext == ".mlmodel" and name not in self.RANK_N_NETWORKS + ("permute",)
                for precision in (("fp32",) if fp32 else ()) + ("fp16", "auto"):
                    with self.subTest(model=name, format=ext, precision=precision):
                        got = self.convert_and_predict(name, "--precision", precision, ext=ext)
                        self.check(name, got, expected, fp16=precision != "fp32")
                        if name in self.CLASSIFIERS:
                            self.check_top1_per_row(got["y"], expected["y"])

    # The sequence classifiers, one row of class scores per example.
    CLASSIFIERS = ("transformer", "vit", "recurrent")

    def check_top1_per_row(self, got, want):
        rows = want.reshape(-1, want.shape[-1])
        data = np.array(got["data"], dtype=np.float64).reshape(rows.shape)
        np.testing.assert_array_equal(data.argmax(axis=1), rows.argmax(axis=1))


# Only the tests defined here: the base class's own run in test_convert_ops.
for _name in [n for n in dir(ops.ConvertOpsTest) if n.startswith("test_")]:
    setattr(OpFamiliesInEveryPrecisionTest, _name, None)


if __name__ == "__main__":
    unittest.main()
