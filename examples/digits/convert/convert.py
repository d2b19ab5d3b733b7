"""Exports the trained model to ONNX and converts it to a validated Core ML classifier."""

import argparse
import importlib.util
import os
import subprocess
import sys

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


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True, help="train step's output directory")
    parser.add_argument("--out", default=os.environ.get("RINGO_OUTPUT_COREML"),
                        help="output directory (default $RINGO_OUTPUT_COREML)")
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
        ringo.log_artifact(mlmodel_path)
    print("convert: %s" % mlmodel_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
