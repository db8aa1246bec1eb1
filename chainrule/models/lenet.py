"""LeNet-5 in the form students train on Fashion-MNIST (batch norm, tanh, max pooling, dropout)."""
from __future__ import annotations

from .. import nn
from ..autograd.tensor import Tensor


class LeNet5(nn.Module):
    """LeNet-5 for 28x28 grayscale images, with batch normalisation and dropout.

    Layers (output shapes for an input of shape (N, 1, 28, 28))::

        conv1 (1->6, 5x5, pad 2) - bn1 - act1 (tanh) - pool1 (max 2)   # (N, 6, 14, 14)
        conv2 (6->16, 5x5)       - bn2 - act2 (tanh) - pool2 (max 2)   # (N, 16, 5, 5)
        conv3 (16->120, 5x5)     - bn3 - act3 (tanh)                   # (N, 120, 1, 1)
        flatten                                                        # (N, 120)
        fc1 (120->84) - dropout (p) - act4 (tanh)                      # (N, 84)
        fc2 (84->num_classes)                                          # (N, num_classes)

    Convolution and linear weights are Xavier-uniform initialised, their biases zero, so the
    same ``chainrule.manual_seed`` gives the same network. Parameter names are stable:
    ``conv1.weight``, ``bn1.running_mean``, ``fc2.bias``...

    Args:
        num_classes: number of output logits.
        dropout: drop probability after ``fc1``.
        in_channels: channels of the input images.

    Shape:
        Input ``(N, in_channels, 28, 28)``; output ``(N, num_classes)`` logits.

    Example:
        >>> import chainrule as cr
        >>> _ = cr.manual_seed(0)
        >>> model = LeNet5()
        >>> model(cr.zeros(2, 1, 28, 28)).shape
        (2, 10)
        >>> sum(p.numel() for p in model.parameters())
        61990
    """

    def __init__(self, num_classes: int = 10, dropout: float = 0.3, in_channels: int = 1) -> None:
        super().__init__()
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"LeNet5: num_classes must be a positive int, got {num_classes!r}")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"LeNet5: dropout must be in [0, 1), got {dropout!r}")
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.conv1 = nn.Conv2d(in_channels, 6, kernel_size=5, padding=2)
        self.bn1 = nn.BatchNorm2d(6)
        self.act1 = nn.Tanh()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5)
        self.bn2 = nn.BatchNorm2d(16)
        self.act2 = nn.Tanh()
        self.pool2 = nn.MaxPool2d(2)
        self.conv3 = nn.Conv2d(16, 120, kernel_size=5)
        self.bn3 = nn.BatchNorm2d(120)
        self.act3 = nn.Tanh()
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(120, 84)
        self.dropout = nn.Dropout(dropout)
        self.act4 = nn.Tanh()
        self.fc2 = nn.Linear(84, num_classes)
        for layer in (self.conv1, self.conv2, self.conv3, self.fc1, self.fc2):
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or tuple(x.shape[1:]) != (self.in_channels, 28, 28):
            raise ValueError(
                f"LeNet5: expected input of shape (N, {self.in_channels}, 28, 28), got "
                f"{tuple(x.shape)}" + (" (add the channel dimension: x.unsqueeze(1))"
                                       if x.ndim == 3 else ""))
        x = self.pool1(self.act1(self.bn1(self.conv1(x))))  # (N, 6, 14, 14)
        x = self.pool2(self.act2(self.bn2(self.conv2(x))))  # (N, 16, 5, 5)
        x = self.act3(self.bn3(self.conv3(x)))  # (N, 120, 1, 1)
        x = self.flatten(x)  # (N, 120)
        x = self.act4(self.dropout(self.fc1(x)))  # (N, 84)
        return self.fc2(x)  # (N, num_classes)

    def extra_repr(self) -> str:
        return f"num_classes={self.num_classes}"

