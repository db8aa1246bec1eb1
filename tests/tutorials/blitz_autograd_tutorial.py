# Ported from PyTorch's "Deep Learning with PyTorch: A 60 Minute Blitz", part "A Gentle
# Introduction to torch.autograd": pytorch/tutorials, beginner_source/blitz/autograd_tutorial.py
# (c) PyTorch contributors, BSD-3-Clause license. The tutorial's code in its order, prose left
# out. Changed: torchvision's pretrained ResNet-18 is out of scope, so
# `from torchvision.models import resnet18, ResNet18_Weights` is left out and
# `resnet18(weights=ResNet18_Weights.DEFAULT)` is a small ResNet-shaped model built here from
# nn layers (conv, batch norm, ReLU, max pooling, a 512 -> 1000 `fc`), randomly initialised.
# The model part prints nothing, so check prints are added (marked). Run by
# tests/test_tutorials.py under PyTorch and, with only the import lines rewritten, under
# chainrule; the printed numbers must agree.
import torch


class ResNet(torch.nn.Module):
    """A small stand-in for torchvision's ResNet-18: its stem, a residual block, `fc`."""

    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 8, kernel_size=3, stride=2, padding=1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(8)
        self.relu = torch.nn.ReLU(inplace=True)
        self.conv2 = torch.nn.Conv2d(8, 8, kernel_size=3, padding=1, bias=False)
        self.bn2 = torch.nn.BatchNorm2d(8)
        self.maxpool = torch.nn.MaxPool2d(kernel_size=4)
        self.fc = torch.nn.Linear(512, 1000)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))  # (N, 8, 32, 32)
        x = self.relu(x + self.bn2(self.conv2(x)))  # the residual connection
        x = self.maxpool(x)  # (N, 8, 8, 8)
        x = torch.flatten(x, 1)  # (N, 512)
        return self.fc(x)


def resnet18():
    return ResNet()


# one training step
model = resnet18()  # the tutorial: resnet18(weights=ResNet18_Weights.DEFAULT)
data = torch.rand(1, 3, 64, 64)
labels = torch.rand(1, 1000)

prediction = model(data)

loss = (prediction - labels).sum()
loss.backward()
print(loss.item(), model.conv1.weight.grad.sum().item())  # check (added)

optim = torch.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)

optim.step()
print(model.fc.bias[:4].tolist())  # check (added): the step's result

# gradients collected by autograd
import torch

a = torch.tensor([2., 3.], requires_grad=True)
b = torch.tensor([6., 4.], requires_grad=True)

Q = 3*a**3 - b**2

external_grad = torch.tensor([1., 1.])
Q.backward(gradient=external_grad)

print(9*a**2 == a.grad)
print(-2*b == b.grad)

# requires_grad spreads to results
x = torch.rand(5, 5)
y = torch.rand(5, 5)
z = torch.rand((5, 5), requires_grad=True)

a = x + y
print(f"Does `a` require gradients? : {a.requires_grad}")
b = x + z
print(f"Does `b` require gradients?: {b.requires_grad}")

# freezing a model but its new classifier
from torch import nn, optim

model = resnet18()  # the tutorial: resnet18(weights=ResNet18_Weights.DEFAULT)

for param in model.parameters():
    param.requires_grad = False

model.fc = nn.Linear(512, 10)

optimizer = optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)
print([name for name, p in model.named_parameters() if p.requires_grad])  # check (added)
