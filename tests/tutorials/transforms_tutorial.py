# Ported from PyTorch's tutorial "Transforms" (Learn the Basics):
# pytorch/tutorials, beginner_source/basics/transforms_tutorial.py
# (c) PyTorch contributors, BSD-3-Clause license. The tutorial's code in its order, prose left
# out. Nothing shortened; the tutorial prints nothing, so check prints are added at the end
# (marked). Run by tests/test_tutorials.py under PyTorch and, with only the import lines
# rewritten, under chainrule; the printed numbers must agree.
import torch
from torchvision import datasets
from torchvision.transforms import ToTensor, Lambda

# images as tensors, labels one-hot
ds = datasets.FashionMNIST(
    root="data",
    train=True,
    download=True,
    transform=ToTensor(),
    target_transform=Lambda(lambda y: torch.zeros(10, dtype=torch.float).scatter_(0, torch.tensor(y), value=1))
)

target_transform = Lambda(lambda y: torch.zeros(
    10, dtype=torch.float).scatter_(dim=0, index=torch.tensor(y), value=1))

# check (added): one transformed sample and the one-hot transform
image, target = ds[0]
print(image.shape, image.dtype, image.sum().item(), image.max().item())
print(target)
print(target_transform(3))
