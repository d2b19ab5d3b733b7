"""The digit classifier's architecture. train.py copies this file next to the weights it saves,
so evaluate and convert rebuild exactly the network that was trained."""

import torch
from torch import nn


class DigitCNN(nn.Module):
    """1x8x8 image in [0, 1] -> 10 logits."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, kernel_size=3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2),                                        # 8 x 4 x 4
            nn.Conv2d(8, 16, kernel_size=3, padding=1), nn.ReLU())  # 16 x 4 x 4
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(16 * 4 * 4, 10))

    def forward(self, x):
        return self.classifier(self.features(x))


def with_softmax(model):
    """The deployable model: `model` followed by a softmax, so it outputs class probabilities."""
    return nn.Sequential(model, nn.Softmax(dim=1))


def load(weights_path):
    """Rebuilds a DigitCNN from a state_dict saved by train.py, in eval mode."""
    model = DigitCNN()
    model.load_state_dict(torch.load(weights_path, map_location="cpu"))
    return model.eval()
