"""Trains a small CNN on the preprocessed digits and saves its weights and architecture."""

import argparse
import os
import shutil
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the project dir: its files are in the cache key

import numpy as np
import torch
from torch import nn

import ringo
from model import DigitCNN

HERE = os.path.dirname(os.path.abspath(__file__))


def accuracy(model, x, y):
    with torch.no_grad():
        return (model(x).argmax(dim=1) == y).float().mean().item()


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", required=True, help="preprocess step's output directory")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=os.environ.get("RINGO_OUTPUT_MODEL"),
                        help="output directory (default $RINGO_OUTPUT_MODEL)")
    args = parser.parse_args()
    if not args.out:
        parser.error("--out is required when RINGO_OUTPUT_MODEL is not set")

    # One thread and deterministic kernels: the same parameters give the same weights, which
    # is what lets a cached run stand in for a fresh one.
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True)

    x_train = torch.from_numpy(np.load(os.path.join(args.data, "x_train.npy")))
    y_train = torch.from_numpy(np.load(os.path.join(args.data, "y_train.npy")))

    model = DigitCNN()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = nn.CrossEntropyLoss()
    shuffle = torch.Generator().manual_seed(args.seed)

    with ringo.start_run():
        # ringo run logs the entry point's parameters on this run; logging them again could
        # spell a value differently (1e-2 vs 0.01), which immutable params reject.
        ringo.log_params({"optimizer": "Adam",
                          "n_parameters": sum(p.numel() for p in model.parameters())})
        for epoch in range(1, args.epochs + 1):
            model.train()
            order = torch.randperm(len(y_train), generator=shuffle)
            total = 0.0
            for i in range(0, len(order), args.batch_size):
                batch = order[i:i + args.batch_size]
                optimizer.zero_grad()
                loss = loss_fn(model(x_train[batch]), y_train[batch])
                loss.backward()
                optimizer.step()
                total += loss.item() * len(batch)
            model.eval()
            # The test set belongs to the evaluate step; training reports on its own data only.
            metrics = {"loss": total / len(y_train), "accuracy": accuracy(model, x_train, y_train)}
            ringo.log_metrics(metrics, step=epoch)
            print("epoch %2d  loss %.4f  accuracy %.4f" % (epoch, metrics["loss"], metrics["accuracy"]))

        os.makedirs(args.out, exist_ok=True)
        torch.save(model.state_dict(), os.path.join(args.out, "model.pt"))
        shutil.copyfile(os.path.join(HERE, "model.py"), os.path.join(args.out, "model.py"))
    print("train: weights and architecture -> %s" % args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
