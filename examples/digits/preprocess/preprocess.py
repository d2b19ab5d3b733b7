"""Splits scikit-learn's 8x8 digits into stratified train/test arrays scaled to [0, 1]."""

import argparse
import os
import sys

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import ringo

# load_digits() pixels are integers 0..16. Dividing by 16 gives [0, 1], which is what the Core ML
# model's image preprocessing (scale 1/255) produces from 0..255 pixels; keep the two in step.
PIXEL_MAX = 16.0


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--test-size", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=os.environ.get("RINGO_OUTPUT_DATA"),
                        help="output directory (default $RINGO_OUTPUT_DATA)")
    args = parser.parse_args()
    if not args.out:
        parser.error("--out is required when RINGO_OUTPUT_DATA is not set")
    if not 0.0 < args.test_size < 1.0:
        parser.error("--test-size must be between 0 and 1, got %s" % args.test_size)

    digits = load_digits()
    images = (digits.images / PIXEL_MAX).astype(np.float32)[:, None, :, :]  # N x 1 x 8 x 8
    labels = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        images, labels, test_size=args.test_size, random_state=args.seed, stratify=labels)

    os.makedirs(args.out, exist_ok=True)
    for name, array in (("x_train", x_train), ("y_train", y_train),
                        ("x_test", x_test), ("y_test", y_test)):
        np.save(os.path.join(args.out, name + ".npy"), array)

    with ringo.start_run():
        # ringo run logs the entry point's parameters on this run; logging them again could
        # spell a value differently (1e-2 vs 0.01), which immutable params reject.
        ringo.log_param("pixel_scale", "1/%g" % PIXEL_MAX)
        counts = {"n_train": len(y_train), "n_test": len(y_test)}
        for digit, count in enumerate(np.bincount(y_train, minlength=10)):
            counts["n_train_%d" % digit] = int(count)
        ringo.log_metrics(counts)
    print("preprocess: %d train, %d test samples -> %s" % (len(y_train), len(y_test), args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
