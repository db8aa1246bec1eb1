"""A shallow CNN (conv 3x3, sigmoid, max pool, linear, sigmoid) fit to two random 6x6 images.

Trained with plain full-batch gradient descent (learning rate 3) on the squared error
``E = 0.5 * sum((Y - out)^2)`` with targets 1 and 0 for 100 epochs, the loss falls at every
epoch, from about 0.25 to about 0.01.
"""
from __future__ import annotations

from typing import Any

import chainrule as cr
from chainrule import nn, optim

EPOCHS = 100
LR = 3.0


class ShallowCNN(nn.Module):
    """conv (1 -> 1, 3x3) - sigmoid - max pool 2 - flatten - linear (4 -> 1) - sigmoid.

    Shape:
        Input ``(N, 1, 6, 6)``; output ``(N, 1)`` in (0, 1).
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 3)
        self.act1 = nn.Sigmoid()
        self.pool = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(4, 1)
        self.act2 = nn.Sigmoid()

    def forward(self, x: cr.Tensor) -> cr.Tensor:
        x = self.pool(self.act1(self.conv(x)))  # (N, 1, 4, 4) -> (N, 1, 2, 2)
        return self.act2(self.fc(self.flatten(x)))  # (N, 4) -> (N, 1)


def squared_error(out: cr.Tensor, target: cr.Tensor) -> cr.Tensor:
    """``0.5 * sum((target - out)^2)``."""
    return 0.5 * ((target - out) ** 2).sum()


def run(verbose: bool = False, epochs: int = EPOCHS, seed: int = 0) -> dict[str, Any]:
    """Train for ``epochs`` full-batch steps; return the loss of every epoch."""
    cr.manual_seed(seed)
    x = cr.rand(2, 1, 6, 6)
    target = cr.tensor([[1.0], [0.0]])
    model = ShallowCNN()
    opt = optim.SGD(model.parameters(), lr=LR)
    losses = []
    for epoch in range(epochs):
        opt.zero_grad()
        loss = squared_error(model(x), target)
        last = epoch == epochs - 1
        loss.backward(retain_graph=last)  # keep the last graph so it can be drawn
        opt.step()
        losses.append(loss.item())
        if verbose and (epoch % 10 == 0 or last):
            print(f"epoch {epoch + 1:3d}  loss {losses[-1]:.6f}")
    with cr.no_grad():
        out = model(x)
    if verbose:
        print(f"outputs after training: {[round(v, 4) for v in out.detach().numpy().ravel().tolist()]} "
              f"(targets 1 and 0)")
    return {"losses": losses, "outputs": out.detach().numpy().ravel().tolist(), "graph": loss,
            "params": dict(model.named_parameters())}


def main() -> None:
    run(verbose=True)


if __name__ == "__main__":
    main()
