"""Sigmoid built from four primitive Functions: negate, exp, add 1, reciprocal.

Each primitive has a forward and a hand-written backward; chained, autograd multiplies their
local derivatives: at z = 0 the sigmoid is 0.5 and its derivative 0.25 (= s * (1 - s)). The
composition matches the fused, overflow-free ``chainrule.sigmoid`` wherever exp(-z) does not
overflow; the fused one gives 1 and 0 at z = +-1000 with finite gradients.
"""
from __future__ import annotations

from typing import Any

import numpy as np

import chainrule as cr
from chainrule.autograd import Function


class Negate(Function):
    """y = -x; dy/dx = -1."""

    def forward(self, x: Any) -> Any:
        return -x

    def backward(self, gy: cr.Tensor) -> cr.Tensor:
        return -gy


class Exp(Function):
    """y = e^x; dy/dx = e^x = y."""

    saves_output = True

    def forward(self, x: Any) -> Any:
        return np.exp(x)

    def backward(self, gy: cr.Tensor) -> cr.Tensor:
        return gy * self.output(0)


class AddOne(Function):
    """y = x + 1; dy/dx = 1."""

    def forward(self, x: Any) -> Any:
        return x + 1

    def backward(self, gy: cr.Tensor) -> cr.Tensor:
        return gy


class Reciprocal(Function):
    """y = 1 / x; dy/dx = -1 / x^2 = -y^2."""

    saves_output = True

    def forward(self, x: Any) -> Any:
        return 1 / x

    def backward(self, gy: cr.Tensor) -> cr.Tensor:
        y = self.output(0)
        return -gy * y * y


def sigmoid_from_primitives(z: cr.Tensor) -> cr.Tensor:
    """1 / (1 + exp(-z)) as a chain of four primitive nodes."""
    return Reciprocal()(AddOne()(Exp()(Negate()(z))))


def run(verbose: bool = False) -> dict[str, Any]:
    """Value and derivative at z = 0, agreement with the fused sigmoid, and its stability."""
    z = cr.tensor(0.0, requires_grad=True)
    z.name = "z"
    s = sigmoid_from_primitives(z)
    s.backward(retain_graph=True)
    grid = cr.linspace(-20, 20, 41, dtype=cr.float64)
    with cr.no_grad():
        gap = float(np.abs((sigmoid_from_primitives(grid) - cr.sigmoid(grid)).detach().numpy()).max())
    extreme = cr.tensor([-1000.0, 1000.0], requires_grad=True)
    fused = cr.sigmoid(extreme)
    fused.sum().backward()
    result = {"value": s.item(), "derivative": z.grad.item(),  # type: ignore[union-attr]
              "max_gap": gap, "fused_extremes": fused.tolist(),
              "fused_extreme_grads": extreme.grad.tolist(),  # type: ignore[union-attr]
              "graph": s, "params": {"z": z}}
    if verbose:
        print("sigmoid(z) = reciprocal(add_one(exp(negate(z))))")
        print(f"at z = 0: value {result['value']:g}, derivative {result['derivative']:g}")
        print(f"largest gap to the fused sigmoid on [-20, 20]: {gap:.2e}")
        print(f"fused sigmoid at -1000 and 1000: {result['fused_extremes']}, gradients "
              f"{result['fused_extreme_grads']}")
    return result


def main() -> None:
    run(verbose=True)


if __name__ == "__main__":
    main()
