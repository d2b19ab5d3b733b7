"""Exports the trained model to ONNX and converts it to a validated Core ML classifier."""

import argparse
import importlib.util
import json
import os
import struct
import subprocess
import sys
import tempfile
import zlib

sys.dont_write_bytecode = True  # no __pycache__ in the model dir: it is another step's output

import torch

import ringo

MODEL_NAME = "DigitClassifier"
INPUT_NAME = "image"
OPSET = 13
# Core ML hands the model 0..255 pixels; the network was trained on [0, 1] (preprocess divides
# sklearn's 0..16 values by 16), so the image input scales by 1/255 with no bias.
IMAGE_SCALE = 1.0 / 255.0
IMAGE_BIAS = 0.0


def load_model(model_dir):
    """Imports the architecture that train.py saved beside the weights and loads them."""
    spec = importlib.util.spec_from_file_location("digits_model", os.path.join(model_dir, "model.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.with_softmax(module.load(os.path.join(model_dir, "model.pt"))).eval()


def ringo_bin():
    path = os.environ.get("RINGO_BIN")
    if not path:
        sys.exit("convert: RINGO_BIN is not set (ringo run sets it to the ringo binary)")
    return path


def run(cmd):
    print("+ " + " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def write_gray_png(path, rows):
    """An 8-bit grayscale PNG of `rows` (lists of 0..255)."""
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + bytes(r) for r in rows)
    header = struct.pack(">IIBBBBB", len(rows[0]), len(rows), 8, 0, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
                + chunk(b"IEND", b""))


def probabilities(outputs):
    """The class probabilities of a `ringo predict --json` answer, in label order 0..9."""
    for value in outputs.values():
        if isinstance(value, dict) and len(value) == 10:
            return [float(value[str(k)]) for k in range(10)]
        if isinstance(value, dict) and isinstance(value.get("data"), list) and len(value["data"]) == 10:
            return [float(v) for v in value["data"]]
        if isinstance(value, list) and len(value) == 10:
            return [float(v) for v in value]
    raise SystemExit("convert: no class probabilities in ringo predict's answer: %s" % outputs)


def parity(ringo_exe, mlmodel_path, model, samples=8):
    """The largest absolute difference between the Core ML model (run by ringo's reference
    evaluator, as a device would run it) and PyTorch, over random 8x8 images."""
    generator = torch.Generator().manual_seed(0)
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(samples):
            pixels = torch.randint(0, 256, (8, 8), generator=generator)
            png = os.path.join(tmp, "sample-%d.png" % k)
            write_gray_png(png, pixels.tolist())
            answer = subprocess.run([ringo_exe, "predict", mlmodel_path, "-i", INPUT_NAME + "=" + png, "--json"],
                                    check=True, capture_output=True, text=True).stdout
            decoded = json.loads(answer)
            got = probabilities(decoded.get("outputs", decoded))
            with torch.no_grad():
                want = model((pixels.float() * IMAGE_SCALE + IMAGE_BIAS).reshape(1, 1, 8, 8))[0].tolist()
            worst = max(worst, max(abs(a - b) for a, b in zip(got, want)))
    return worst


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True, help="train step's output directory")
    parser.add_argument("--out", default=os.environ.get("RINGO_OUTPUT_COREML"),
                        help="output directory (default $RINGO_OUTPUT_COREML)")
    parser.add_argument("--report", default="",
                        help="evaluate step's output: its accuracy is logged beside the model")
    parser.add_argument("--register-as", default="",
                        help="register the Core ML model as a new version of this model")
    args = parser.parse_args()
    if not args.out:
        parser.error("--out is required when RINGO_OUTPUT_COREML is not set")
    ringo_exe = ringo_bin()

    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)
    onnx_path = os.path.join(args.out, "model.onnx")
    labels_path = os.path.join(args.out, "labels.txt")
    mlmodel_path = os.path.join(args.out, MODEL_NAME + ".mlmodel")

    model = load_model(args.model)
    example = torch.zeros(1, 1, 8, 8)
    torch.onnx.export(model, example, onnx_path, input_names=[INPUT_NAME],
                      output_names=["probabilities"], opset_version=OPSET)
    with open(labels_path, "w") as f:
        f.write("".join("%d\n" % k for k in range(10)))

    run([ringo_exe, "convert", onnx_path, "-o", mlmodel_path,
         "--classifier-labels", labels_path,
         "--image-input", INPUT_NAME, "--color-layout", "GRAYSCALE",
         "--image-scale", repr(IMAGE_SCALE), "--image-bias", repr(IMAGE_BIAS)])
    inspect = subprocess.run([ringo_exe, "inspect", mlmodel_path, "--validate"],
                             capture_output=True, text=True)
    sys.stdout.write(inspect.stdout)
    sys.stderr.write(inspect.stderr)

    with ringo.start_run():
        ringo.log_params({"opset": OPSET, "image_scale": IMAGE_SCALE, "image_bias": IMAGE_BIAS,
                          "color_layout": "GRAYSCALE"})
        ringo.log_text(inspect.stdout, "inspect.txt")
        if inspect.returncode != 0:
            sys.exit("convert: %s does not validate (ringo inspect exited %d)"
                     % (mlmodel_path, inspect.returncode))
        ringo.log_metric("mlmodel_bytes", os.path.getsize(mlmodel_path))
        # Parity: the Core ML model against the framework's own outputs, for a release gate.
        ringo.log_metric("parity_max_abs_diff", parity(ringo_exe, mlmodel_path, model))
        if args.report:
            with open(os.path.join(args.report, "metrics.json")) as f:
                ringo.log_metric("accuracy", json.load(f)["metrics"]["accuracy"])
        ringo.log_artifact(mlmodel_path)
        if args.register_as:
            # A new version whose run carries accuracy and parity: what a release policy gates.
            run([ringo_exe, "models", "register", mlmodel_path, "--name", args.register_as,
                 "--run-id", ringo.active_run().info["run_id"]])
    print("convert: %s" % mlmodel_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
