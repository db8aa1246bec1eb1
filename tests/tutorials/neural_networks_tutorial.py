# Ported from PyTorch's "Deep Learning with PyTorch: A 60 Minute Blitz", part "Neural
# Networks": pytorch/tutorials, beginner_source/blitz/neural_networks_tutorial.py
# (c) PyTorch contributors, BSD-3-Clause license. The tutorial's code in its order, prose left
# out. Nothing shortened. Added: the two code blocks the tutorial shows in its prose (the
# hand-written SGD update and the torch.optim loop) run at the end, with a check print (marked).
# Run by tests/test_tutorials.py under PyTorch and, with only the import lines rewritten,
# under chainrule; the printed numbers must agree.
import torch
import torch.nn as nn
import torch.nn.functional as F


# LeNet: two convolutions with max pooling, three fully connected layers
class Net(nn.Module):

    def __init__(self):
        super(Net, self).__init__()
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, input):
        c1 = F.relu(self.conv1(input))  # (N, 6, 28, 28)
        s2 = F.max_pool2d(c1, (2, 2))  # (N, 6, 14, 14)
        c3 = F.relu(self.conv2(s2))  # (N, 16, 10, 10)
        s4 = F.max_pool2d(c3, 2)  # (N, 16, 5, 5)
        s4 = torch.flatten(s4, 1)  # (N, 400)
        f5 = F.relu(self.fc1(s4))  # (N, 120)
        f6 = F.relu(self.fc2(f5))  # (N, 84)
        output = self.fc3(f6)  # (N, 10)
        return output


net = Net()
print(net)

params = list(net.parameters())
print(len(params))
print(params[0].size())

# a random 32x32 input
input = torch.randn(1, 1, 32, 32)
out = net(input)
print(out)

net.zero_grad()
out.backward(torch.randn(1, 10))

# a loss
output = net(input)
target = torch.randn(10)
target = target.view(1, -1)
criterion = nn.MSELoss()

loss = criterion(output, target)
print(loss)

# a few steps back along grad_fn
print(loss.grad_fn)
print(loss.grad_fn.next_functions[0][0])
print(loss.grad_fn.next_functions[0][0].next_functions[0][0])

# backprop
net.zero_grad()

print('conv1.bias.grad before backward')
print(net.conv1.bias.grad)

loss.backward()

print('conv1.bias.grad after backward')
print(net.conv1.bias.grad)

# the tutorial's prose: SGD by hand
learning_rate = 0.01
for f in net.parameters():
    f.data.sub_(f.grad.data * learning_rate)

# the tutorial's prose: the same with torch.optim
import torch.optim as optim

optimizer = optim.SGD(net.parameters(), lr=0.01)

optimizer.zero_grad()
output = net(input)
loss = criterion(output, target)
loss.backward()
optimizer.step()
print(loss.item(), net.conv1.bias.tolist())  # check (added)
