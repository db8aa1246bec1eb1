# Ported from PyTorch's tutorial "Learning PyTorch with Examples", section "PyTorch: optim":
# pytorch/tutorials, beginner_source/examples_nn/polynomial_optim.py
# (c) PyTorch contributors, BSD-3-Clause license. The tutorial's code in its order, prose left
# out. Nothing shortened (2000 steps). Run by tests/test_tutorials.py under PyTorch and, with
# only the import lines rewritten, under chainrule; the printed numbers must agree.
import torch
import math


x = torch.linspace(-math.pi, math.pi, 2000)
y = torch.sin(x)

p = torch.tensor([1, 2, 3])
xx = x.unsqueeze(-1).pow(p)

model = torch.nn.Sequential(
    torch.nn.Linear(3, 1),
    torch.nn.Flatten(0, 1)
)
loss_fn = torch.nn.MSELoss(reduction='sum')

# RMSprop updates the weights
learning_rate = 1e-3
optimizer = torch.optim.RMSprop(model.parameters(), lr=learning_rate)
for t in range(2000):
    y_pred = model(xx)

    loss = loss_fn(y_pred, y)
    if t % 100 == 99:
        print(t, loss.item())

    optimizer.zero_grad()

    loss.backward()

    optimizer.step()


linear_layer = model[0]
print(f'Result: y = {linear_layer.bias.item()} + {linear_layer.weight[:, 0].item()} x + {linear_layer.weight[:, 1].item()} x^2 + {linear_layer.weight[:, 2].item()} x^3')
