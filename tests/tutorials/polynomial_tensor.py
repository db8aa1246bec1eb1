# Ported from PyTorch's tutorial "Learning PyTorch with Examples", section "PyTorch: Tensors":
# pytorch/tutorials, beginner_source/examples_tensor/polynomial_tensor.py
# (c) PyTorch contributors, BSD-3-Clause license. The tutorial's code in its order, prose left
# out. Nothing shortened (2000 steps). Run by tests/test_tutorials.py under PyTorch and, with
# only the import lines rewritten, under chainrule; the printed numbers must agree.
import torch
import math


dtype = torch.float
device = torch.device("cpu")

# y = sin(x) on [-pi, pi]
x = torch.linspace(-math.pi, math.pi, 2000, device=device, dtype=dtype)
y = torch.sin(x)

# random coefficients of a cubic
a = torch.randn((), device=device, dtype=dtype)
b = torch.randn((), device=device, dtype=dtype)
c = torch.randn((), device=device, dtype=dtype)
d = torch.randn((), device=device, dtype=dtype)

learning_rate = 1e-6
for t in range(2000):
    # forward
    y_pred = a + b * x + c * x ** 2 + d * x ** 3

    # squared error
    loss = (y_pred - y).pow(2).sum().item()
    if t % 100 == 99:
        print(t, loss)

    # gradients by hand
    grad_y_pred = 2.0 * (y_pred - y)
    grad_a = grad_y_pred.sum()
    grad_b = (grad_y_pred * x).sum()
    grad_c = (grad_y_pred * x ** 2).sum()
    grad_d = (grad_y_pred * x ** 3).sum()

    # gradient descent, in place
    a -= learning_rate * grad_a
    b -= learning_rate * grad_b
    c -= learning_rate * grad_c
    d -= learning_rate * grad_d


print(f'Result: y = {a.item()} + {b.item()} x + {c.item()} x^2 + {d.item()} x^3')
