"""Recurrent ops: a sequence cut into steps in one node, and a whole LSTM layer in one node.

Used by :mod:`chainrule.nn.rnn` (the layers), where the step-by-step composition of the same
recurrences lives as the tested twin.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy

from ..autograd.errors import OpError
from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ..backend import xp
from ..kernels import compiled_alike
from .activation import sigmoid, tanh
from .linalg import matmul
from .shape import cat, reshape, stack, transpose


class SplitWithSizes(Function):
    """``x`` cut along ``axis`` into pieces of ``sizes``: one node with one output per piece.

    ``ops.split`` makes one slice node per piece, and each slice's backward scatters into a
    zeros array of the whole input: cutting a sequence of T steps that way costs T full-size
    arrays in backward. Here backward is one ``cat`` of the pieces' gradients (a missing one
    counts as zeros).
    """

    node_name = "SplitWithSizesBackward0"
    derivative = "1: each piece's upstream goes back to its place (a cat)"

    def __init__(self, sizes: Sequence[int], axis: int) -> None:
        self.sizes = list(sizes)
        self.axis = axis

    def forward(self, x: Any) -> Any:
        return tuple(xp.split(x, numpy.cumsum(self.sizes)[:-1], axis=self.axis))

    def backward(self, *gys: Tensor) -> Tensor:
        return cat(list(gys), self.axis)


def split_with_sizes(x: Tensor, sizes: Sequence[int], dim: int = 0) -> tuple:
    """``x`` split along ``dim`` into pieces of ``sizes`` (summing to ``x.shape[dim]``), as
    ``torch.split_with_sizes``, in one graph node.

    Example:
        >>> import chainrule as cr
        >>> [p.shape for p in split_with_sizes(cr.zeros(5, 2), [3, 2])]
        [(3, 2), (2, 2)]
    """
    axis = dim % x.ndim
    if sum(sizes) != x.shape[axis]:
        raise OpError(f"split_with_sizes: sizes {list(sizes)} do not sum to {x.shape[axis]}, "
                      f"the size of dim {dim} of shape {x.shape}")
    if len(sizes) == 1:
        return (x,)
    return SplitWithSizes(sizes, axis)(x)


class LSTMLayer(Function):
    """A whole LSTM layer over T steps in one node (one direction, no projection, every
    sequence of the batch as long): ``(gi, W_hh, b_hh, h0, c0) -> (hs, h_T, c_T)``, ``gi``
    the projected inputs (T*B, 4H), ``hs`` every step's h (T*B, H).

    Backpropagation through time runs inside the node: per step only the (B, 4H) gate
    gradients and one product by W_hh; then W_hh's gradient is one GEMM over all steps
    (``dG^T @ H_prev``) where step-by-step nodes add T products. ``backward`` is the same
    formula on Tensors (it recomputes the steps from the inputs), so second order works;
    :func:`lstm_layer_composed` is its tested twin.
    """

    derivative = ("per step t, backwards: dc = dc_(t+1) f_(t+1) + dh o (1 - tanh(c)^2), "
                  "dgates = [dc g i(1-i), dc c_(t-1) f(1-f), dc i (1-g^2), dh tanh(c) o(1-o)], "
                  "dh_(t-1) = dgates @ W_hh + upstream", "dgates^T @ h_(t-1) summed over t",
                  "dgates summed", "dh_0", "dc_0")

    def __init__(self, steps: int) -> None:
        self.steps = steps

    def forward(self, gi: Any, w_hh: Any, b_hh: Any, h0: Any, c0: Any) -> Any:
        T, (B, H) = self.steps, h0.shape
        hs, cs, tcs = (xp.empty((T, B, H), gi.dtype) for _ in range(3))  # h, c, tanh(c)
        acts = xp.empty((T, B, 4 * H), gi.dtype)  # activated gates i, f, g, o
        # the compiled gates' tanh is a float32 approximation: float64 keeps NumPy's passes
        jit = compiled_alike(gi, w_hh, h0, c0) if gi.dtype == xp.float32 else None
        if jit is not None:  # float32: per step one GEMM, then one compiled pass adds the
            # inputs and b_hh and activates the gates
            w_t = xp.ascontiguousarray(w_hh.T)  # (H, 4H): BLAS is faster on it than on w_hh.T
            gi3 = gi.reshape(T, B, 4 * H)  # (T*B, 4H) -> (T, B, 4H)
            b = xp.zeros(4 * H, gi.dtype) if b_hh is None else b_hh
            h = h0
            for t in range(T):
                xp.matmul(h, w_t, out=acts[t])  # (B, H) @ (H, 4H)
                jit.lstm_gates_f32(acts[t], gi3[t], b, c0 if t == 0 else cs[t - 1], cs[t],
                                   hs[t], tcs[t])
                h = hs[t]
            self.acts, self.cs, self.tcs, self.hs = acts, cs, tcs, hs
            return hs.reshape(T * B, H), hs[-1].copy(), cs[-1].copy()
        # sigmoid(x) = (1 + tanh(x / 2)) / 2 for i, f, o and tanh(x) for g: the halving is
        # folded into W_hh^T and gi once, so each step is one tanh, then a * s + (1 - s)
        s = xp.full(4 * H, 0.5, gi.dtype)
        s[2 * H:3 * H] = 1
        w_t = xp.multiply(w_hh.T, s, order="C")  # (H, 4H), a new C-order array (BLAS is
        # faster on it than on the transposed view; w_hh itself is never written)
        gi3 = (gi if b_hh is None else gi + b_hh).reshape(T, B, 4 * H) * s  # (T, B, 4H)
        shift = 1 - s  # 0.5 for the sigmoid gates, 0 for g
        h = h0
        for t in range(T):
            a, c = acts[t], cs[t]
            xp.matmul(h, w_t, out=a)  # (B, H) @ (H, 4H)
            a += gi3[t]
            xp.tanh(a, out=a)
            a *= s
            a += shift
            i, f, g, o = (a[:, k * H:(k + 1) * H] for k in range(4))
            xp.multiply(f, c0 if t == 0 else cs[t - 1], out=c)
            c += i * g
            xp.tanh(c, out=tcs[t])
            h = xp.multiply(o, tcs[t], out=hs[t])
        self.acts, self.cs, self.tcs, self.hs = acts, cs, tcs, hs
        return hs.reshape(T * B, H), hs[-1].copy(), cs[-1].copy()

    def backward(self, g_hs: Tensor, g_hT: Tensor, g_cT: Tensor) -> tuple:
        gi, w_hh, b_hh, h0, c0 = self.inputs
        T, (B, H) = self.steps, h0.shape
        gis, g_hs3 = reshape(gi, (T, B, 4 * H)), reshape(g_hs, (T, B, H))
        w_t = transpose(w_hh, 0, 1)                             # (H, 4H)
        h, c, h_prev, c_prev, acts = h0, c0, [], [], []
        for t in range(T):  # the steps again, as ops on the inputs
            a = gis[t] + matmul(h, w_t)                        # (B, 4H)
            if b_hh is not None:
                a = a + b_hh
            i, f, g, o = split_with_sizes(a, [H] * 4, 1)
            i, f, g, o = sigmoid(i), sigmoid(f), tanh(g), sigmoid(o)
            h_prev.append(h)
            c_prev.append(c)
            c = f * c + i * g
            tc = tanh(c)
            h = o * tc
            acts.append((i, f, g, o, tc))
        dh, dc, dgates = g_hT, g_cT, [None] * T
        for t in reversed(range(T)):  # through time, backwards
            i, f, g, o, tc = acts[t]
            dh = dh + g_hs3[t]
            dc = dc + dh * o * (1 - tc * tc)
            dgates[t] = cat([dc * g * i * (1 - i), dc * c_prev[t] * f * (1 - f),
                             dc * i * (1 - g * g), dh * tc * o * (1 - o)], 1)  # (B, 4H)
            dh = matmul(dgates[t], w_hh)                       # (B, 4H) @ (4H, H)
            dc = dc * f
        dg = reshape(stack(dgates, 0), (T * B, 4 * H))        # (T, B, 4H) -> (T*B, 4H)
        hp = reshape(stack(h_prev, 0), (T * B, H))            # (T, B, H) -> (T*B, H)
        n_gi, n_w, n_b, n_h0, n_c0 = self.needs_input_grad
        return (dg if n_gi else None, matmul(transpose(dg, 0, 1), hp) if n_w else None,
                dg.sum(0) if n_b else None, dh if n_h0 else None, dc if n_c0 else None)

    def fast_backward(self, g_hs: Any, g_hT: Any, g_cT: Any) -> tuple:
        gi, w_hh, b_hh, h0, c0 = self.inputs
        T, (B, H) = self.steps, h0.shape
        w = w_hh._data
        acts = self.acts
        jit = compiled_alike(acts, w)
        if jit is None:
            # each gate's local derivative for all steps at once: s(1-s) for i, f, o; 1-g^2
            local = acts * (1 - acts)  # (T, B, 4H)
            g_all = acts[:, :, 2 * H:3 * H]
            xp.multiply(g_all, g_all, out=local[:, :, 2 * H:3 * H])
            xp.subtract(1, local[:, :, 2 * H:3 * H], out=local[:, :, 2 * H:3 * H])
        g_hs3 = g_hs.reshape(T, B, H)
        dgates = xp.empty((T, B, 4 * H), acts.dtype)  # filled with the upstream of each gate
        dh = g_hT.astype(acts.dtype, copy=True)
        dc = g_cT.astype(acts.dtype, copy=True)
        for t in reversed(range(T)):
            a, tc, d = acts[t], self.tcs[t], dgates[t]
            dh += g_hs3[t]
            if jit is not None:  # the gate gradients in one compiled pass; dc becomes dc * f
                jit.lstm_gates_grad(a, tc, c0._data if t == 0 else self.cs[t - 1], dh, dc, d)
                dh = d @ w  # (B, 4H) @ (4H, H)
                continue
            dc += dh * a[:, 3 * H:] * (1 - tc * tc)  # o (1 - tanh(c)^2)
            xp.multiply(dc, a[:, 2 * H:3 * H], out=d[:, :H])  # dc g, for i
            xp.multiply(dc, c0._data if t == 0 else self.cs[t - 1], out=d[:, H:2 * H])
            xp.multiply(dc, a[:, :H], out=d[:, 2 * H:3 * H])  # dc i, for g
            xp.multiply(dh, tc, out=d[:, 3 * H:])  # dh tanh(c), for o
            d *= local[t]
            dc *= a[:, H:2 * H]  # through the forget gate to c_(t-1)
            dh = d @ w  # (B, 4H) @ (4H, H)
        dg = dgates.reshape(T * B, 4 * H)
        n_gi, n_w, n_b, n_h0, n_c0 = self.needs_input_grad
        hp = None
        if n_w:  # every step's h_(t-1): h0, then hs[:-1]
            hp = xp.concatenate([h0._data[None], self.hs[:-1]]).reshape(T * B, H)
        return (dg if n_gi else None, dg.T @ hp if n_w else None,
                dg.sum(0) if n_b else None, dh if n_h0 else None, dc if n_c0 else None)
