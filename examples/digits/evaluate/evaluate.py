"""Scores the trained model on the test split and fails when accuracy is under the threshold."""

import argparse
import importlib.util
import json
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the project or the model dir: both are hashed

import numpy as np
import torch

import ringo
import simple_png

N_CLASSES = 10


def load_model(model_dir):
    """Imports the architecture that train.py saved beside the weights and loads them."""
    spec = importlib.util.spec_from_file_location("digits_model", os.path.join(model_dir, "model.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.load(os.path.join(model_dir, "model.pt"))


def confusion_matrix(y_true, y_pred):
    matrix = np.zeros((N_CLASSES, N_CLASSES), dtype=np.int64)
    np.add.at(matrix, (y_true, y_pred), 1)
    return matrix


def plot_confusion(path, matrix):
    try:
        import matplotlib
    except ImportError:
        simple_png.confusion_png(path, matrix.tolist())
        return
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    ax.imshow(matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1), cmap="Blues", vmin=0, vmax=1)
    for i in range(N_CLASSES):
        for j in range(N_CLASSES):
            if matrix[i, j]:
                share = matrix[i, j] / max(matrix[i].sum(), 1)
                ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=8,
                        color="white" if share > 0.5 else "black")
    ax.set_xticks(range(N_CLASSES))
    ax.set_yticks(range(N_CLASSES))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("Confusion matrix (test split)")
    fig.tight_layout()
    # No Software/date metadata: the same matrix gives the same file.
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", required=True, help="preprocess step's output directory")
    parser.add_argument("--model", required=True, help="train step's output directory")
    parser.add_argument("--min-accuracy", type=float, default=0.9)
    parser.add_argument("--out", default=os.environ.get("RINGO_OUTPUT_REPORT"),
                        help="output directory (default $RINGO_OUTPUT_REPORT)")
    args = parser.parse_args()
    if not args.out:
        parser.error("--out is required when RINGO_OUTPUT_REPORT is not set")

    torch.set_num_threads(1)
    x_test = torch.from_numpy(np.load(os.path.join(args.data, "x_test.npy")))
    y_test = np.load(os.path.join(args.data, "y_test.npy"))
    model = load_model(args.model)
    with torch.no_grad():
        y_pred = model(x_test).argmax(dim=1).numpy()

    matrix = confusion_matrix(y_test, y_pred)
    correct = np.diag(matrix)
    predicted, actual = matrix.sum(axis=0), matrix.sum(axis=1)
    # A class never predicted has no defined precision; report 0 as scikit-learn does.
    precision = np.divide(correct, predicted, out=np.zeros(N_CLASSES), where=predicted > 0)
    recall = np.divide(correct, actual, out=np.zeros(N_CLASSES), where=actual > 0)
    metrics = {"accuracy": float(correct.sum() / matrix.sum())}
    for k in range(N_CLASSES):
        metrics["precision_%d" % k] = float(precision[k])
        metrics["recall_%d" % k] = float(recall[k])

    os.makedirs(args.out, exist_ok=True)
    metrics_path = os.path.join(args.out, "metrics.json")
    with open(metrics_path, "w") as f:
        json.dump({"metrics": metrics, "confusion_matrix": matrix.tolist(),
                   "n_test": int(matrix.sum())}, f, indent=2, sort_keys=True)
        f.write("\n")
    png_path = os.path.join(args.out, "confusion_matrix.png")
    plot_confusion(png_path, matrix)

    with ringo.start_run():
        ringo.log_metrics(metrics)
        ringo.log_artifact(png_path)
        ringo.log_artifact(metrics_path)
        print("evaluate: accuracy %.4f on %d test samples" % (metrics["accuracy"], matrix.sum()))
        if metrics["accuracy"] < args.min_accuracy:
            # Leaving the run block through SystemExit marks the run FAILED.
            sys.exit("evaluate: accuracy %.4f is below min_accuracy %.4f; the model is not converted"
                     % (metrics["accuracy"], args.min_accuracy))
    return 0


if __name__ == "__main__":
    sys.exit(main())
