"""LeNet-5: the convolutional network of the introduction, for 1x32x32 (or padded 28x28) input."""
from __future__ import annotations

from ember import nn
from ember._tensor import Tensor
from ember.nn import functional as F


class LeNet5(nn.Module):
    """conv1 (1->6, 5x5) -> max-pool -> conv2 (6->16, 5x5) -> max-pool -> fc1 (400->120)
    -> fc2 (120->84) -> fc3 (84->classes), ReLU between.

    Args:
        num_classes: outputs of ``fc3``.
        in_channels: input channels.
        padding: ``conv1`` padding; 2 lets 28x28 MNIST digits in as classic LeNet did.

    Shape:
        - Input: (N, in_channels, 32, 32), or (N, in_channels, 28, 28) with ``padding=2``.
        - Output: (N, num_classes).

    Example::

        >>> LeNet5(padding=2)(ember.randn(4, 1, 28, 28)).shape
        torch.Size([4, 10])
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1, padding: int = 0) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 6, 5, padding=padding)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = F.max_pool2d(F.relu(self.conv1(x)), (2, 2))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.flatten(1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


def lenet5(**kwargs) -> LeNet5:
    """A freshly initialised ``LeNet5`` (no pretrained weights exist)."""
    return LeNet5(**kwargs)
