"""The multiply gate: z = x * y with x = 2, y = 3 and an upstream gradient of 5.

The local gradients are dz/dx = y = 3 and dz/dy = x = 2; the chain rule multiplies each by
the upstream 5: dx = 15, dy = 10.
"""
from __future__ import annotations

from typing import Any

import chainrule as cr


def run(verbose: bool = False) -> dict[str, Any]:
    """Forward z = x * y, backward with upstream gradient 5."""
    x = cr.tensor(2.0, requires_grad=True)
    y = cr.tensor(3.0, requires_grad=True)
    x.name, y.name = "x", "y"
    z = x * y
    z.name = "z"
    z.backward(cr.tensor(5.0), retain_graph=True)
    result = {"z": z.item(), "dx": x.grad.item(), "dy": y.grad.item(),  # type: ignore[union-attr]
              "graph": z, "params": {"x": x, "y": y}}
    if verbose:
        print(f"z = x * y = {x.item():g} * {y.item():g} = {result['z']:g}")
        print(f"upstream dL/dz = 5; local dz/dx = y = {y.item():g}, dz/dy = x = {x.item():g}")
        print(f"dL/dx = 5 * {y.item():g} = {result['dx']:g};  dL/dy = 5 * {x.item():g} = "
              f"{result['dy']:g}")
    return result


def main() -> None:
    run(verbose=True)


if __name__ == "__main__":
    main()
