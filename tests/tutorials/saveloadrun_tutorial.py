# Ported from PyTorch's tutorial "Save and Load the Model" (Learn the Basics):
# pytorch/tutorials, beginner_source/basics/saveloadrun_tutorial.py
# (c) PyTorch contributors, BSD-3-Clause license. The tutorial's code in its order (its current
# form: torch.load with weights_only=True for the state dict, weights_only=False for the whole
# model), prose left out. Changed: torchvision's pretrained VGG-16 is out of scope, so
# `import torchvision.models as models` is left out and `models.vgg16(...)` is a small VGG-shaped
# model built here from nn layers, randomly initialised (no pretrained weights). The tutorial
# prints nothing, so check prints are added (marked). Run by tests/test_tutorials.py under
# PyTorch and, with only the import lines rewritten, under chainrule; the numbers must agree.
# chainrule stops at `torch.save(model, ...)`: a whole module can only be saved by pickling
# it, which chainrule refuses, naming the state_dict way (the test checks that error).
import torch


class VGG(torch.nn.Module):
    """A small stand-in for torchvision's VGG-16: the same kinds of layers, far fewer."""

    def __init__(self):
        super().__init__()
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(3, 8, kernel_size=3, padding=1),
            torch.nn.ReLU(inplace=True),
            torch.nn.MaxPool2d(kernel_size=2, stride=2),
            torch.nn.Conv2d(8, 16, kernel_size=3, padding=1),
            torch.nn.ReLU(inplace=True),
            torch.nn.MaxPool2d(kernel_size=2, stride=2),
        )
        self.classifier = torch.nn.Sequential(
            torch.nn.Linear(16 * 8 * 8, 32),
            torch.nn.ReLU(True),
            torch.nn.Dropout(p=0.5),
            torch.nn.Linear(32, 10),
        )

    def forward(self, x):
        x = self.features(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


def vgg16():
    return VGG()


# saving and loading the weights
model = vgg16()  # the tutorial: models.vgg16(weights='IMAGENET1K_V1')
torch.save(model.state_dict(), 'model_weights.pth')

model = vgg16()  # the tutorial: models.vgg16(), untrained
model.load_state_dict(torch.load('model_weights.pth', weights_only=True))
model.eval()
print(model.classifier[3].bias.tolist())  # check (added): the loaded weights are the saved ones

# saving and loading the whole model
torch.save(model, 'model.pth')

model = torch.load('model.pth', weights_only=False)
print(model.training, model.classifier[3].bias.tolist())  # check (added)
print(model(torch.ones(2, 3, 32, 32)).tolist())  # check (added): the loaded model runs
