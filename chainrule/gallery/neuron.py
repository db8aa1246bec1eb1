"""A single neuron (affine + sigmoid) learns the AND gate with binary cross-entropy.

``p = sigmoid(x @ w.T + b)`` from random weights, full-batch gradient descent on
``BCE(p, y)`` over the four rows of the truth table, until every prediction ``p > 0.5`` is
right.
"""
from __future__ import annotations

from typing import Any

import chainrule as cr
from chainrule import nn, optim
from chainrule.data.toy import logic_gate

EPOCHS = 500
LR = 1.0


def run(verbose: bool = False, gate: str = "AND", epochs: int = EPOCHS,
        seed: int = 0) -> dict[str, Any]:
    """Train the neuron on ``gate``; return the final probabilities and predictions."""
    cr.manual_seed(seed)
    X, y = logic_gate(gate)  # (4, 2) and (4, 1) float32
    x, target = cr.tensor(X), cr.tensor(y)
    neuron = nn.Sequential(nn.Linear(2, 1), nn.Sigmoid())
    loss_fn = nn.BCELoss()
    opt = optim.SGD(neuron.parameters(), lr=LR)
    initial = {k: v.detach().numpy().copy() for k, v in neuron.state_dict().items()}
    losses = []
    for epoch in range(epochs):
        opt.zero_grad()
        loss = loss_fn(neuron(x), target)
        loss.backward(retain_graph=epoch == epochs - 1)  # the last graph stays drawable
        opt.step()
        losses.append(loss.item())
        if verbose and epoch % 100 == 0:
            print(f"epoch {epoch:3d}  BCE {losses[-1]:.4f}")
    with cr.no_grad():
        probs = neuron(x).detach().numpy().ravel()
    preds = (probs > 0.5).astype(int).tolist()
    result = {"gate": gate, "initial": initial, "losses": losses,
              "probabilities": probs.tolist(), "predictions": preds,
              "targets": y.ravel().astype(int).tolist(),
              "weight": neuron[0].weight.detach().numpy().ravel().tolist(),
              "bias": float(neuron[0].bias.item()), "graph": loss,
              "params": dict(neuron.named_parameters())}
    if verbose:
        for row, p, t in zip(X.tolist(), probs.tolist(), result["targets"]):
            print(f"{gate}{tuple(int(v) for v in row)} = {t}: p = {p:.3f}")
        print(f"weights {[round(w, 3) for w in result['weight']]}, bias "
              f"{result['bias']:.3f}; all right: {preds == result['targets']}")
    return result


def main() -> None:
    run(verbose=True)


if __name__ == "__main__":
    main()
