# Ported from PyTorch's tutorial "Learning PyTorch with Examples", section "PyTorch: nn":
# pytorch/tutorials, beginner_source/examples_nn/polynomial_nn.py
# (c) PyTorch contributors, BSD-3-Clause license. The tutorial's code in its order, prose left
# out. Nothing shortened (2000 steps). Run by tests/test_tutorials.py under PyTorch and, with
# only the import lines rewritten, under chainrule; the printed numbers must agree.
import torch
import math


x = torch.linspace(-math.pi, math.pi, 2000)
y = torch.sin(x)

# the features (x, x^2, x^3), by broadcasting (2000, 1) against (3,)
p = torch.tensor([1, 2, 3])
xx = x.unsqueeze(-1).pow(p)

# a linear layer over the features, flattened to match y
model = torch.nn.Sequential(
    torch.nn.Linear(3, 1),
    torch.nn.Flatten(0, 1)
)

loss_fn = torch.nn.MSELoss(reduction='sum')

learning_rate = 1e-6
for t in range(2000):

    y_pred = model(xx)

    loss = loss_fn(y_pred, y)
    if t % 100 == 99:
        print(t, loss.item())

    model.zero_grad()

    loss.backward()

    # gradient descent over the parameters
    with torch.no_grad():
        for param in model.parameters():
            param -= learning_rate * param.grad

linear_layer = model[0]

print(f'Result: y = {linear_layer.bias.item()} + {linear_layer.weight[:, 0].item()} x + {linear_layer.weight[:, 1].item()} x^2 + {linear_layer.weight[:, 2].item()} x^3')
