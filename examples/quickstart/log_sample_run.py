#!/usr/bin/env python3
"""Logs a small sample run to the tracking server at $MLFLOW_TRACKING_URI and prints its id.

Usage (from the repository root, with `ringo server` running):
  PYTHONPATH=clients/python MLFLOW_TRACKING_URI=http://127.0.0.1:5000 \
      python3 examples/quickstart/log_sample_run.py
"""

import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "clients", "python"))

import ringo  # noqa: E402


def main():
    if not (os.environ.get("MLFLOW_TRACKING_URI") or os.environ.get("RINGO_TRACKING_URI")):
        print("set MLFLOW_TRACKING_URI to the tracking server, e.g. http://127.0.0.1:5000", file=sys.stderr)
        return 2
    ringo.set_experiment("quickstart")
    with ringo.start_run(run_name="sample", description="A sample run logged by the quickstart.") as run:
        ringo.log_params({"learning_rate": 0.05, "epochs": 20, "model": "tiny-mlp"})
        for step in range(20):
            loss = 2.0 * math.exp(-0.2 * step) + 0.05
            ringo.log_metrics({"loss": loss, "accuracy": 1.0 - loss / 2.5}, step=step)
        ringo.set_tag("purpose", "quickstart")
        ringo.log_text("This run was logged by examples/quickstart/log_sample_run.py.\n", "README.txt")
        ringo.log_dict({"layers": [64, 32, 10], "activation": "relu", "dropout": 0.1}, "model_config.yaml")
    print(run.run_id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
