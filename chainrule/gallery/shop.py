"""The shop graph: 2 apples at 100 and 3 oranges at 150, with 10% tax.

    apple_price  = apple * apple_num           = 200
    orange_price = orange * orange_num         = 450
    all_price    = apple_price + orange_price  = 650
    price        = all_price * tax             = 715

Backward from d price = 1: d tax = 650, d all_price = 1.1, d apple = 2.2, d apple_num = 110,
d orange = 3.3, d orange_num = 165. Computed twice: with hand-made layers that each have a
``forward`` and a ``backward`` (the way the chain rule is first taught), and with autograd.
"""
from __future__ import annotations

from typing import Any

import chainrule as cr

APPLE, APPLE_NUM, ORANGE, ORANGE_NUM, TAX = 100.0, 2.0, 150.0, 3.0, 1.1


class MulLayer:
    """z = x * y; backward: dx = dz * y, dy = dz * x (each input gets the other one)."""

    def forward(self, x: float, y: float) -> float:
        self.x, self.y = x, y
        return x * y

    def backward(self, dout: float) -> tuple[float, float]:
        return dout * self.y, dout * self.x


class AddLayer:
    """z = x + y; backward: dx = dy = dz (addition passes the gradient through)."""

    def forward(self, x: float, y: float) -> float:
        return x + y

    def backward(self, dout: float) -> tuple[float, float]:
        return dout, dout


def by_hand() -> dict[str, float]:
    """Forward and backward through explicit layers, in reverse order by hand."""
    mul_apple, mul_orange, add_fruit, mul_tax = MulLayer(), MulLayer(), AddLayer(), MulLayer()
    apple_price = mul_apple.forward(APPLE, APPLE_NUM)
    orange_price = mul_orange.forward(ORANGE, ORANGE_NUM)
    all_price = add_fruit.forward(apple_price, orange_price)
    price = mul_tax.forward(all_price, TAX)

    d_all_price, d_tax = mul_tax.backward(1.0)
    d_apple_price, d_orange_price = add_fruit.backward(d_all_price)
    d_orange, d_orange_num = mul_orange.backward(d_orange_price)
    d_apple, d_apple_num = mul_apple.backward(d_apple_price)
    return {"price": price, "apple_price": apple_price, "orange_price": orange_price,
            "all_price": all_price, "d_all_price": d_all_price, "d_tax": d_tax,
            "d_apple": d_apple, "d_apple_num": d_apple_num, "d_orange": d_orange,
            "d_orange_num": d_orange_num}


def run(verbose: bool = False) -> dict[str, Any]:
    """Run the shop graph with autograd; return its numbers and the graph's output tensor."""
    leaves = {name: cr.tensor(value, dtype=cr.float64, requires_grad=True)
              for name, value in [("apple", APPLE), ("apple_num", APPLE_NUM),
                                  ("orange", ORANGE), ("orange_num", ORANGE_NUM),
                                  ("tax", TAX)]}
    for name, t in leaves.items():
        t.name = name
    apple_price = leaves["apple"] * leaves["apple_num"]
    orange_price = leaves["orange"] * leaves["orange_num"]
    all_price = apple_price + orange_price
    all_price.retain_grad()
    price = all_price * leaves["tax"]
    apple_price.name, orange_price.name, all_price.name, price.name = \
        "apple_price", "orange_price", "all_price", "price"
    price.backward(retain_graph=True)
    result: dict[str, Any] = {
        "price": price.item(), "apple_price": apple_price.item(),
        "orange_price": orange_price.item(), "all_price": all_price.item(),
        "d_all_price": all_price.grad.item(),  # type: ignore[union-attr]
        **{f"d_{name}": t.grad.item() for name, t in leaves.items()},  # type: ignore[union-attr]
    }
    result["by_hand"] = by_hand()
    if verbose:
        print(f"forward:  apple_price = {APPLE:g} x {APPLE_NUM:g} = {result['apple_price']:g}")
        print(f"          orange_price = {ORANGE:g} x {ORANGE_NUM:g} = "
              f"{result['orange_price']:g}")
        print(f"          all_price = {result['all_price']:g}; price = all_price x {TAX:g} = "
              f"{result['price']:.4g}")
        print("backward (autograd | by hand):")
        for key in ["d_tax", "d_all_price", "d_apple", "d_apple_num", "d_orange",
                    "d_orange_num"]:
            print(f"  {key:<13} {result[key]:8.4g} | {result['by_hand'][key]:8.4g}")
    result["graph"] = price
    result["params"] = leaves
    return result


def main() -> None:
    run(verbose=True)


if __name__ == "__main__":
    main()
