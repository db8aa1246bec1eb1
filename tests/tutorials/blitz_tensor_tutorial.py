# Ported from PyTorch's "Deep Learning with PyTorch: A 60 Minute Blitz", part "Tensors":
# pytorch/tutorials, beginner_source/blitz/tensor_tutorial.py (its current form)
# (c) PyTorch contributors, BSD-3-Clause license. The tutorial's code in its order, prose left
# out. Nothing shortened. Run by tests/test_tutorials.py under PyTorch and, with only the
# import lines rewritten, under chainrule; the printed numbers must agree.
import torch
import numpy as np

# from data
data = [[1, 2], [3, 4]]
x_data = torch.tensor(data)

# from a NumPy array
np_array = np.array(data)
x_np = torch.from_numpy(np_array)

# from another tensor
x_ones = torch.ones_like(x_data)
print(f"Ones Tensor: \n {x_ones} \n")

x_rand = torch.rand_like(x_data, dtype=torch.float)
print(f"Random Tensor: \n {x_rand} \n")

# from a shape
shape = (2, 3,)
rand_tensor = torch.rand(shape)
ones_tensor = torch.ones(shape)
zeros_tensor = torch.zeros(shape)

print(f"Random Tensor: \n {rand_tensor} \n")
print(f"Ones Tensor: \n {ones_tensor} \n")
print(f"Zeros Tensor: \n {zeros_tensor}")

# attributes
tensor = torch.rand(3, 4)

print(f"Shape of tensor: {tensor.shape}")
print(f"Datatype of tensor: {tensor.dtype}")
print(f"Device tensor is stored on: {tensor.device}")

if torch.cuda.is_available():
  tensor = tensor.to('cuda')
  print(f"Device tensor is stored on: {tensor.device}")

# indexing and slicing
tensor = torch.ones(4, 4)
tensor[:,1] = 0
print(tensor)

# joining
t1 = torch.cat([tensor, tensor, tensor], dim=1)
print(t1)

# element-wise product, two spellings
print(f"tensor.mul(tensor) \n {tensor.mul(tensor)} \n")
print(f"tensor * tensor \n {tensor * tensor}")

# matrix product, two spellings
print(f"tensor.matmul(tensor.T) \n {tensor.matmul(tensor.T)} \n")
print(f"tensor @ tensor.T \n {tensor @ tensor.T}")

# in place
print(tensor, "\n")
tensor.add_(5)
print(tensor)

# tensor -> NumPy, sharing memory
t = torch.ones(5)
print(f"t: {t}")
n = t.numpy()
print(f"n: {n}")

t.add_(1)
print(f"t: {t}")
print(f"n: {n}")

# NumPy -> tensor, sharing memory
n = np.ones(5)
t = torch.from_numpy(n)

np.add(n, 1, out=n)
print(f"t: {t}")
print(f"n: {n}")
