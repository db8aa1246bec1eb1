"""Two Gaussian clusters in 2-D separated by a linear classifier (softmax regression).

``blobs(n_per_class=100, centers=((-2, -2), (2, 2)), std=0.7)`` gives 200 points; a
``Linear(2, 2)`` trained with cross-entropy and full-batch SGD reaches >= 99% accuracy.
"""
from __future__ import annotations

from typing import Any

import chainrule as cr
from chainrule import nn, optim
from chainrule.data.toy import blobs

EPOCHS = 100
LR = 0.5


def run(verbose: bool = False, epochs: int = EPOCHS, seed: int = 0) -> dict[str, Any]:
    """Train on the blobs; return the loss curve and the final accuracy."""
    cr.manual_seed(seed)
    X, y = blobs(n_per_class=100, centers=((-2, -2), (2, 2)), std=0.7, seed=seed)
    x, labels = cr.tensor(X), cr.tensor(y)  # (200, 2) float32, (200,) int64
    model = nn.Linear(2, 2)
    loss_fn = nn.CrossEntropyLoss()
    opt = optim.SGD(model.parameters(), lr=LR)
    losses = []
    for epoch in range(epochs):
        opt.zero_grad()
        loss = loss_fn(model(x), labels)
        loss.backward(retain_graph=epoch == epochs - 1)  # the last graph stays drawable
        opt.step()
        losses.append(loss.item())
        if verbose and epoch % 20 == 0:
            print(f"epoch {epoch:3d}  cross-entropy {losses[-1]:.4f}")
    with cr.no_grad():
        accuracy = float((model(x).argmax(dim=1) == labels).detach().numpy().mean())
    if verbose:
        print(f"accuracy on the {len(y)} points: {accuracy:.1%}")
    return {"losses": losses, "accuracy": accuracy, "graph": loss,
            "params": dict(model.named_parameters())}


def main() -> None:
    run(verbose=True)


if __name__ == "__main__":
    main()
