#!/usr/bin/python3
"""Exports the converter's test models to ONNX with seeded random weights, plus reference I/O.

Usage: export_models.py OUTDIR [NAME ...]

For each model NAME writes OUTDIR/NAME.onnx, OUTDIR/NAME.input.npy and OUTDIR/NAME.output.npy
(PyTorch's output for that input), and OUTDIR/NAME.labels.txt for classifiers. Nothing is
downloaded: torchvision models are built with weights=None. Needs torch, torchvision, numpy
(Debian's python3-torch, python3-torchvision).
"""
import os
import sys

import numpy as np
import torch
import torchvision

OPSET = 13


class Mlp(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(20, 64), torch.nn.ReLU(), torch.nn.Linear(64, 32), torch.nn.Tanh(),
            torch.nn.Linear(32, 5), torch.nn.Softmax(dim=1))

    def forward(self, x):
        return self.net(x)


class SmallCnn(torch.nn.Module):
    """Exercises padding, BatchNorm folding, ReLU6, pooling and a Shape->Reshape chain."""

    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = torch.nn.BatchNorm2d(8)
        self.conv2 = torch.nn.Conv2d(8, 16, 3, stride=2, padding=1, groups=2)
        self.bn2 = torch.nn.BatchNorm2d(16)
        self.pool = torch.nn.MaxPool2d(2)
        self.fc = torch.nn.Linear(16 * 8 * 8, 10)

    def forward(self, x):
        x = torch.nn.functional.relu6(self.bn1(self.conv1(x)))
        x = torch.sigmoid(self.bn2(self.conv2(x))) * 2.0
        x = self.pool(x)
        x = x.view(x.size(0), -1)
        return torch.softmax(self.fc(x), dim=1)


def randomize_bn(model, generator):
    # Fresh BatchNorm layers hold mean 0 / var 1; random statistics make folding observable.
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            with torch.no_grad():
                m.running_mean.copy_(torch.randn(m.num_features, generator=generator) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=generator) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=generator) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=generator) * 0.1)


def models():
    return {
        "mlp": (Mlp, (1, 20), "x", True),
        "small_cnn": (SmallCnn, (1, 3, 32, 32), "image", True),
        "mobilenet_v2": (lambda: torchvision.models.mobilenet_v2(weights=None),
                         (1, 3, 224, 224), "image", False),
        "resnet18": (lambda: torchvision.models.resnet18(weights=None),
                     (1, 3, 224, 224), "image", False),
        "resnet50": (lambda: torchvision.models.resnet50(weights=None),
                     (1, 3, 224, 224), "image", False),
    }


def export(name, outdir):
    make, shape, input_name, labelled = models()[name]
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(1)
    model = make()
    randomize_bn(model, generator)
    model.eval()
    x = torch.rand(*shape, generator=generator)
    with torch.no_grad():
        y = model(x)
    path = os.path.join(outdir, name + ".onnx")
    torch.onnx.export(model, x, path, opset_version=OPSET, input_names=[input_name],
                      output_names=["scores"], do_constant_folding=True)
    np.save(os.path.join(outdir, name + ".input.npy"), x.numpy().astype(np.float32))
    np.save(os.path.join(outdir, name + ".output.npy"), y.numpy().astype(np.float32))
    if labelled:
        with open(os.path.join(outdir, name + ".labels.txt"), "w") as f:
            for k in range(y.shape[1]):
                f.write("class_%d\n" % k)


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    names = sys.argv[2:] or ["mlp", "small_cnn", "mobilenet_v2", "resnet18"]
    for name in names:
        if name not in models():
            print("unknown model %r" % name, file=sys.stderr)
            return 2
        export(name, outdir)
        print("exported", name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
