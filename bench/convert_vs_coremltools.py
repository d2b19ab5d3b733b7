#!/usr/bin/python3
"""Converter benchmark against coremltools: the ResNet-50 compression sweep and a ViT-B/16.

Usage: bench/convert_vs_coremltools.py [--build DIR] [--coremltools-python PY] [--only NAME]

Both models are torchvision's with seeded random weights (nothing is downloaded). ringo converts
their ONNX exports as a whole process (`/usr/bin/time -v`: wall time, peak RSS): ResNet-50 with
`--sweep fp16,int8,palettize6,palettize4 --eval` (fp32 plus the four variants, each evaluated on
two samples by the reference evaluator) and as the five conversions alone, ViT-B/16 to an fp32
and an fp16 .mlpackage. coremltools, which no longer reads ONNX, converts the same PyTorch
models (saved with their weights, traced with torch.jit.trace) with ct.convert to ML Programs,
then for the sweep makes fp16 (a second ct.convert with FLOAT16 compute precision), int8
(linear_quantize_weights, symmetric) and palettize6/palettize4 (palettize_weights, k-means) and
saves each package; coremltools cannot run a model on Linux, so its sweep evaluates nothing.

coremltools is optional and kept out of scripts/setup. Make its environment with Debian's
PyTorch and the pinned version:
    /usr/bin/python3 -m venv --system-site-packages /tmp/ct-venv
    /tmp/ct-venv/bin/pip install -r bench/requirements-coremltools.txt
and pass --coremltools-python /tmp/ct-venv/bin/python. One run per figure.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))

CT_SCRIPT = r'''
import sys, torch, coremltools as ct
import coremltools.optimize.coreml as cto
model = torch.load(sys.argv[1]).eval()
shape, out, sweep = tuple(int(d) for d in sys.argv[2].split("x")), sys.argv[3], sys.argv[4] == "1"
traced = torch.jit.trace(model, torch.rand(*shape), check_trace=False)
inputs = [ct.TensorType(name="x", shape=shape)]
fp32 = ct.convert(traced, inputs=inputs, convert_to="mlprogram",
                  compute_precision=ct.precision.FLOAT32)
fp32.save(out + "_fp32.mlpackage")
if sweep:
    ct.convert(traced, inputs=inputs, convert_to="mlprogram",
               compute_precision=ct.precision.FLOAT16).save(out + "_fp16.mlpackage")
    config = cto.OptimizationConfig(global_config=cto.OpLinearQuantizerConfig(
        mode="linear_symmetric"))
    cto.linear_quantize_weights(fp32, config).save(out + "_int8.mlpackage")
    for bits in (6, 4):
        config = cto.OptimizationConfig(global_config=cto.OpPalettizerConfig(
            mode="kmeans", nbits=bits))
        cto.palettize_weights(fp32, config).save(out + "_palettize%d.mlpackage" % bits)
else:
    ct.convert(traced, inputs=inputs, convert_to="mlprogram",
               compute_precision=ct.precision.FLOAT16).save(out + "_fp16.mlpackage")
'''


def timed(cmd):
    """Runs cmd under /usr/bin/time -v; returns (seconds, peak RSS MiB)."""
    with tempfile.NamedTemporaryFile("r", suffix=".txt") as t:
        r = subprocess.run(["/usr/bin/time", "-v", "-o", t.name] + cmd, capture_output=True,
                           text=True)
        if r.returncode != 0:
            raise SystemExit("failed: %s\n%s" % (" ".join(cmd), r.stderr[-2000:]))
        text = open(t.name).read()
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", text).group(1)
    seconds = sum(float(p) * 60 ** i for i, p in enumerate(reversed(wall.split(":"))))
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1))
    return seconds, rss / 1024


def size_mb(path):
    total = 0
    for root, _, files in os.walk(path):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    return total / 1e6


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(HERE, "..", "build"))
    ap.add_argument("--coremltools-python", default="")
    ap.add_argument("--only", default="", help="resnet50 or vit_b_16")
    args = ap.parse_args()
    ringo = os.path.join(args.build, "ringo")
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as work:
        cases = [("resnet50", torchvision.models.resnet50(weights=None), True),
                 ("vit_b_16", torchvision.models.vit_b_16(weights=None), False)]
        for name, model, sweep in cases:
            if args.only and name != args.only:
                continue
            model.eval()
            shape = (1, 3, 224, 224)
            onnx = os.path.join(work, name + ".onnx")
            torch.onnx.export(model, torch.rand(*shape), onnx, opset_version=14,
                              input_names=["x"], output_names=["y"])
            saved = os.path.join(work, name + ".pt")
            torch.save(model, saved)
            print("%s: %.1f MB ONNX" % (name, os.path.getsize(onnx) / 1e6), flush=True)
            if sweep:
                evalset = os.path.join(work, "eval")
                os.makedirs(evalset, exist_ok=True)
                np.save(os.path.join(evalset, "x.npy"),
                        np.random.default_rng(0).random((2, 3, 224, 224), dtype=np.float32))
                out = os.path.join(work, name + ".mlpackage")
                s, m = timed([ringo, "convert", onnx, "-o", out, "--sweep",
                              "fp16,int8,palettize6,palettize4", "--eval", evalset])
                print("  ringo sweep (fp32 + 4 variants, evaluated): %.1f s, %.0f MiB" % (s, m))
                total, peak = 0.0, 0.0
                for flags in (["--precision", "fp32"], ["--precision", "fp16"],
                              ["--compress", "int8"], ["--compress", "palettize6"],
                              ["--compress", "palettize4"]):
                    s, m = timed([ringo, "convert", onnx, "-o", out] + flags)
                    total, peak = total + s, max(peak, m)
                print("  ringo, the 5 conversions alone: %.1f s in all, peak %.0f MiB" %
                      (total, peak))
            else:
                for precision in ("fp32", "fp16"):
                    out = os.path.join(work, "%s_%s.mlpackage" % (name, precision))
                    s, m = timed([ringo, "convert", onnx, "-o", out, "--precision", precision])
                    print("  ringo %s: %.1f s, %.0f MiB, %.1f MB" % (precision, s, m,
                                                                     size_mb(out)))
            if args.coremltools_python:
                script = os.path.join(work, "ct.py")
                with open(script, "w") as f:
                    f.write(CT_SCRIPT)
                s, m = timed([args.coremltools_python, script, saved,
                              "x".join(map(str, shape)), os.path.join(work, "ct_" + name),
                              "1" if sweep else "0"])
                what = "sweep (fp32 + 4 variants)" if sweep else "fp32 + fp16"
                print("  coremltools %s: %.1f s, %.0f MiB" % (what, s, m), flush=True)
            sys.stdout.flush()


if __name__ == "__main__":
    main()
