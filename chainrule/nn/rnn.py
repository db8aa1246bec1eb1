"""Recurrent layers, as ``torch.nn``: ``RNN``, ``LSTM``, ``GRU`` and their one-step cells.

Each time step is composed from existing ops (``linear``, ``sigmoid``, ``tanh``, ``mul``,
``add``, ``cat``), so autograd gives backpropagation through time, and second order, with no
hand-written backward. As PyTorch on the CPU, a layer first projects the whole input sequence
at once (``x @ W_ih.T + b_ih``, one matrix product for all steps), then runs the recurrence
step by step on the hidden state. The gate formulas (PyTorch's, gate order and all):

- RNN: ``h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh)``, act ``tanh`` or ``relu``.
- LSTM: ``i, f, g, o`` = the four quarters of ``x W_ih^T + b_ih + h W_hh^T + b_hh``;
  ``c' = sigmoid(f) * c + sigmoid(i) * tanh(g)``, ``h' = sigmoid(o) * tanh(c')``, then
  ``h' = h' W_hr^T`` with ``proj_size``.
- GRU: ``r, z, n`` thirds of ``x W_ih^T + b_ih`` and of ``h W_hh^T + b_hh`` (``gi``, ``gh``):
  ``r = sigmoid(gi_r + gh_r)``, ``z = sigmoid(gi_z + gh_z)``, ``n = tanh(gi_n + r * gh_n)``,
  ``h' = (h - n) * z + n``.

Parameters are named, shaped, ordered and initialised as PyTorch's (``weight_ih_l0``,
``weight_hh_l0``, ``bias_ih_l0``, ``bias_hh_l0``, ``weight_hr_l0``, ``_reverse`` for the
backward direction; every one U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))), so state dicts
load both ways.
"""
from __future__ import annotations

import functools
import math
import numbers
import warnings
from typing import Any, Callable, Optional, Sequence

import numpy

from ..autograd.errors import OpError
from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ..backend import xp
from ..ops.activation import relu, sigmoid, tanh
from ..ops.arithmetic import clone
from ..ops.contraction import addmm
from ..ops.linalg import matmul
from ..ops.recurrent import LSTMLayer, SplitWithSizes, split_with_sizes
from ..ops.shape import cat, index_select, reshape, stack, transpose
from . import functional as F
from . import init
from .module import Module, factory_dtype
from .parameter import Parameter
from .utils.rnn import PackedSequence

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

State = tuple  # (h,) for RNN and GRU, (h, c) for LSTM: each (B, H)


# ============================================================================ one time step
# Each step takes ``gi`` = x W_ih^T + b_ih (precomputed for every step), the state, and
# ``hh(h)`` = h W_hh^T + b_hh (the layers hoist W_hh^T out of the time loop).
HiddenMap = Callable[[Tensor], Tensor]


def rnn_tanh_step(gi: Tensor, state: State, hh: HiddenMap) -> State:
    """One Elman step: ``h' = tanh(h W_hh^T + b_hh + gi)``."""
    return (tanh(hh(state[0]) + gi),)


def rnn_relu_step(gi: Tensor, state: State, hh: HiddenMap) -> State:
    """One Elman step with ReLU: ``h' = relu(h W_hh^T + b_hh + gi)``."""
    return (relu(hh(state[0]) + gi),)


def lstm_step_composed(gi: Tensor, state: State, hh: HiddenMap,
                       w_hr: Optional[Tensor] = None) -> State:
    """One LSTM step from primitives (gates i, f, g, o): the tested twin of
    :func:`lstm_step`. ``gi`` is (B, 4H)."""
    h, c = state
    gates = hh(h) + gi                                         # (B, 4H)
    hidden = c.shape[1]
    i, f, g, o = split_with_sizes(gates, [hidden] * 4, 1)      # each (B, H)
    c = sigmoid(f) * c + sigmoid(i) * tanh(g)
    h = sigmoid(o) * tanh(c)
    if w_hr is not None:
        h = F.linear(h, w_hr)                                  # (B, P)
    return h, c


class FusedLSTMCell(Function):
    """The pointwise part of an LSTM step in one node: ``(gi, gh, c) -> (h', c')`` with
    ``i, f, g, o`` the quarters of ``gi + gh`` (PyTorch's ``_thnn_fused_lstm_cell``).

    The composed step builds 10 nodes (split, 3 sigmoids, 2 tanhs, 3 muls, 1 add) per time
    step; this is one, with its backward in a few array passes over the saved activations.
    ``backward`` is the same formula on Tensors (recomputing the gates from the inputs), so
    second order works; :func:`lstm_step_composed` is its tested twin. Saturated gates stay
    finite: the activations are bounded and the formula has no division.
    """

    node_name = "ThnnFusedLstmCellBackward0"
    derivative = ("dc' = upstream_c' + upstream_h' * o * (1 - tanh(c')^2); [dc' g i(1-i), "
                  "dc' c f(1-f), dc' i (1-g^2), upstream_h' tanh(c') o(1-o)]",
                  "as {x0}", "dc' * f")

    def forward(self, gi: Any, gh: Any, c: Any) -> Any:
        hidden = c.shape[1]
        # sigmoid(x) = (1 + tanh(x / 2)) / 2: one tanh pass over all four gates (g unhalved),
        # bounded for any x (no exp to overflow)
        act = gi + gh                                          # (B, 4H): i, f, g, o
        act[:, :2 * hidden] *= 0.5
        act[:, 3 * hidden:] *= 0.5
        xp.tanh(act, out=act)
        for part in (act[:, :2 * hidden], act[:, 3 * hidden:]):
            part *= 0.5
            part += 0.5
        i, f, g, o = (act[:, k * hidden:(k + 1) * hidden] for k in range(4))
        c2 = f * c
        c2 += i * g
        tc = xp.tanh(c2)
        self.act, self.tc = act, tc
        return o * tc, c2

    def backward(self, g_h: Tensor, g_c: Tensor) -> tuple:
        gi, gh, c = self.inputs
        hidden = c.shape[1]
        i, f, g, o = split_with_sizes(gi + gh, [hidden] * 4, 1)
        i, f, g, o = sigmoid(i), sigmoid(f), tanh(g), sigmoid(o)
        tc = tanh(f * c + i * g)
        dc = g_c + g_h * o * (1 - tc * tc)
        dgates = cat([dc * g * i * (1 - i), dc * c * f * (1 - f), dc * i * (1 - g * g),
                      g_h * tc * o * (1 - o)], 1)
        n_gi, n_gh, n_c = self.needs_input_grad
        return (dgates if n_gi else None, dgates if n_gh else None, dc * f if n_c else None)

    def fast_backward(self, g_h: Any, g_c: Any) -> tuple:
        gi, gh, c = self.inputs
        hidden = c.shape[1]
        act, tc = self.act, self.tc
        i, f, g, o = (act[:, k * hidden:(k + 1) * hidden] for k in range(4))
        dc = 1 - tc * tc
        dc *= o
        dc *= g_h
        dc += g_c
        dgates = xp.empty(act.shape, dtype=act.dtype)
        dgates[:, :hidden] = dc * g * i * (1 - i)
        dgates[:, hidden:2 * hidden] = dc * c._data * f * (1 - f)
        dgates[:, 2 * hidden:3 * hidden] = dc * i * (1 - g * g)
        dgates[:, 3 * hidden:] = g_h * tc * o * (1 - o)
        n_gi, n_gh, n_c = self.needs_input_grad
        return (dgates if n_gi else None,
                (dgates.copy() if n_gi else dgates) if n_gh else None,
                dc * f if n_c else None)


def lstm_step(gi: Tensor, state: State, hh: HiddenMap, w_hr: Optional[Tensor] = None
              ) -> State:
    """One LSTM step (gates i, f, g, o): ``gi`` is ``x W_ih^T + b_ih`` of shape (B, 4H);
    the pointwise part is one :class:`FusedLSTMCell` node."""
    h, c = state
    h, c = FusedLSTMCell()(gi, hh(h), c)
    if w_hr is not None:
        h = F.linear(h, w_hr)                                  # (B, P)
    return h, c


def lstm_layer_composed(gi: Tensor, w_hh: Tensor, b_hh: Optional[Tensor], h0: Tensor,
                        c0: Tensor) -> tuple:
    """The twin of :class:`LSTMLayer`: the steps of :func:`lstm_step_composed`, one node
    each, over the (T*B, 4H) projected inputs; returns ``(hs, h_T, c_T)``."""
    B = h0.shape[0]
    hh = hidden_map(w_hh, b_hh)
    state, outs = (h0, c0), []
    for t in range(gi.shape[0] // B):
        state = lstm_step_composed(gi[t * B:(t + 1) * B], state, hh)
        outs.append(state[0])
    return cat(outs, 0), state[0], state[1]


def gru_step(gi: Tensor, state: State, hh: HiddenMap) -> State:
    """One GRU step (gates r, z, n): ``gi`` is ``x W_ih^T + b_ih`` of shape (B, 3H)."""
    (h,) = state
    gh = hh(h)                                                 # (B, 3H)
    hidden = h.shape[1]
    i_r, i_z, i_n = split_with_sizes(gi, [hidden] * 3, 1)
    h_r, h_z, h_n = split_with_sizes(gh, [hidden] * 3, 1)
    r = sigmoid(i_r + h_r)
    z = sigmoid(i_z + h_z)
    n = tanh(i_n + r * h_n)
    return ((h - n) * z + n,)


def hidden_map(w_hh: Tensor, b_hh: Optional[Tensor]) -> HiddenMap:
    """``h -> h W_hh^T + b_hh`` with ``W_hh^T`` made once for all the time steps, as a
    contiguous copy (BLAS multiplies by it ~1.6x faster than by the transposed view); each
    step is then one addmm, PyTorch's node for ``linear``."""
    w_t = clone(transpose(w_hh, 0, 1))                         # (H_out, G), C-contiguous
    if b_hh is None:
        return lambda h: matmul(h, w_t)
    return lambda h: addmm(b_hh, h, w_t)


_STEPS: dict[str, Callable[..., State]] = {"RNN_TANH": rnn_tanh_step,
                                            "RNN_RELU": rnn_relu_step,
                                            "LSTM": lstm_step, "GRU": gru_step}


def _run_direction(step: Callable[[Tensor, State], State], gis: Sequence[Tensor],
                   state: State, sizes: Sequence[int], reverse: bool) -> tuple[list, State]:
    """Run ``step`` over the projected inputs ``gis`` (step t: ``(sizes[t], G)``) from the
    full-batch ``state``; returns each step's output ``h`` and the final state per sequence.

    ``sizes`` is non-increasing (a packed batch: the sequences still running at step t are
    rows ``:sizes[t]``). Forward in time, rows that stop are set aside with the state they
    reached; backward in time, a sequence joins with its initial state at its last step.
    """
    outs: list = [None] * len(gis)
    if not reverse:
        done: list[State] = []  # the final states of finished rows, later rows first
        for t, gi in enumerate(gis):
            if sizes[t] < state[0].shape[0]:
                done.append(tuple(s[sizes[t]:] for s in state))
                state = tuple(s[:sizes[t]] for s in state)
            state = step(gi, state)
            outs[t] = state[0]
        if done:
            state = tuple(cat([state[k]] + [d[k] for d in reversed(done)], 0)
                          for k in range(len(state)))
        return outs, state
    full = state
    if sizes[-1] < full[0].shape[0]:
        state = tuple(s[:sizes[-1]] for s in full)
    for t in reversed(range(len(gis))):
        n = state[0].shape[0]
        if sizes[t] > n:  # sequences whose last step is t start here from their h0
            state = tuple(cat([s, f[n:sizes[t]]], 0) for s, f in zip(state, full))
        state = step(gis[t], state)
        outs[t] = state[0]
    return outs, state


def _check_int(value: Any, name: str, layer: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{layer}: {name} should be of type int, got: {type(value).__name__}")
    if value <= 0:
        raise OpError(f"{layer}: {name} must be greater than zero, got {value}")


def _refuse_kwargs(kwargs: dict, layer: str) -> None:
    """RNN's and GRU's ``**kwargs`` must be empty; ``proj_size`` is LSTM's only."""
    if "proj_size" in kwargs:
        raise OpError("proj_size argument is only supported for LSTM, not RNN or GRU")
    if kwargs:
        raise TypeError(f"{layer}: unexpected keyword arguments {sorted(kwargs)}")


def _init_uniform(module: Module, hidden_size: int) -> None:
    """Draw every parameter of ``module`` from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
    stdv = 1.0 / math.sqrt(hidden_size)
    for weight in module.parameters():
        init.uniform_(weight, -stdv, stdv)


# ============================================================================ the layers
class RNNBase(Module):
    """What ``RNN``, ``LSTM`` and ``GRU`` share: the parameters and the layer loop.

    Args:
        mode: ``'RNN_TANH'``, ``'RNN_RELU'``, ``'LSTM'`` or ``'GRU'``.
        input_size: features of the input ``x``.
        hidden_size: features of the hidden state ``h``.
        num_layers: stacked recurrent layers (layer k reads layer k-1's output sequence).
        bias: learn ``b_ih`` and ``b_hh``.
        batch_first: input and output are ``(B, T, *)`` (the states stay ``(L*D, B, H)``).
        dropout: dropout probability on the output of every layer but the last (training).
        bidirectional: run each layer forward and backward in time, outputs concatenated.
        proj_size: LSTM only: project ``h`` to this size with ``weight_hr``.
        device: only ``None`` or ``'cpu'``.
        dtype: parameter dtype (float32 by default).
    """

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        layer = {"RNN_TANH": "RNN", "RNN_RELU": "RNN"}.get(mode, mode)
        if mode not in _STEPS:
            raise OpError(f"Unrecognized RNN mode: {mode}")
        if not isinstance(dropout, numbers.Number) or isinstance(dropout, bool) \
                or not 0 <= dropout <= 1:  # type: ignore[operator]
            raise OpError(f"{layer}: dropout should be a number in range [0, 1] representing "
                          f"the probability of an element being zeroed, got {dropout!r}")
        if dropout > 0 and num_layers == 1:  # type: ignore[operator]
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so "
                          "non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}", stacklevel=3)
        for name, flag in (("bias", bias), ("batch_first", batch_first),
                           ("bidirectional", bidirectional)):
            if not isinstance(flag, bool):
                raise TypeError(f"{layer}: {name} should be of type bool, got: "
                                f"{type(flag).__name__}")
        _check_int(input_size, "input_size", layer)
        _check_int(hidden_size, "hidden_size", layer)
        _check_int(num_layers, "num_layers", layer)
        if isinstance(proj_size, bool) or not isinstance(proj_size, int) or proj_size < 0:
            raise OpError(f"{layer}: proj_size should be a positive integer or zero to disable "
                          f"projections, got {proj_size!r}")
        if proj_size >= hidden_size:
            raise OpError(f"{layer}: proj_size has to be smaller than hidden_size, got "
                          f"proj_size={proj_size} and hidden_size={hidden_size}")
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)  # type: ignore[arg-type]
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        dt = factory_dtype(device, dtype, layer)
        gate_size = {"LSTM": 4, "GRU": 3}.get(mode, 1) * hidden_size
        real_hidden = proj_size if proj_size > 0 else hidden_size
        directions = 2 if bidirectional else 1
        self._flat_weights_names: list[str] = []
        self._all_weights: list[list[str]] = []
        for k in range(num_layers):
            for d in range(directions):
                layer_input = input_size if k == 0 else real_hidden * directions
                shapes = [("weight_ih", (gate_size, layer_input)),
                          ("weight_hh", (gate_size, real_hidden))]
                if bias:
                    shapes += [("bias_ih", (gate_size,)), ("bias_hh", (gate_size,))]
                if proj_size > 0:
                    shapes += [("weight_hr", (proj_size, hidden_size))]
                names = []
                for base, shape in shapes:
                    name = f"{base}_l{k}{'_reverse' if d == 1 else ''}"
                    setattr(self, name, Parameter(xp.empty(shape, dtype=dt)))
                    names.append(name)
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw every parameter from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), in
        registration order (PyTorch's)."""
        _init_uniform(self, self.hidden_size)

    def flatten_parameters(self) -> None:
        """Does nothing: there is no cuDNN weight buffer to compact (kept for PyTorch code)."""

    @property
    def _flat_weights(self) -> list[Tensor]:
        return [getattr(self, n) for n in self._flat_weights_names]

    @property
    def all_weights(self) -> list[list[Parameter]]:
        """The parameters per layer and direction: ``[[w_ih, w_hh, b_ih, b_hh(, w_hr)], ...]``."""
        return [[getattr(self, n) for n in names] for names in self._all_weights]

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    # ------------------------------------------------------------------ forward
    @property
    def _layer_name(self) -> str:
        return type(self).__name__

    def _state_shapes(self, batch: int) -> list[tuple[int, int, int]]:
        """The expected shapes of the initial states: ``[(L*D, B, H_out)]``, and the cell
        state ``(L*D, B, H)`` for an LSTM."""
        ld = self.num_layers * (2 if self.bidirectional else 1)
        shapes = [(ld, batch, self.proj_size if self.proj_size > 0 else self.hidden_size)]
        if self.mode == "LSTM":
            shapes.append((ld, batch, self.hidden_size))
        return shapes

    def _states(self, hx: Any) -> list[Tensor]:
        """``hx`` as a list of state tensors (h, or h and c)."""
        if self.mode != "LSTM":
            if not isinstance(hx, Tensor):
                raise TypeError(f"{self._layer_name}: hx must be a Tensor, got "
                                f"{type(hx).__name__}")
            return [hx]
        if not (isinstance(hx, (tuple, list)) and len(hx) == 2
                and all(isinstance(t, Tensor) for t in hx)):
            raise TypeError(f"LSTM: hx must be a tuple (h_0, c_0) of two Tensors, got "
                            f"{type(hx).__name__}")
        return list(hx)

    def _check_dims(self, states: list[Tensor], batched: bool) -> None:
        want = 3 if batched else 2
        if any(s.ndim != want for s in states):
            kind = "batched 3-D" if batched else "unbatched 2-D"
            if self.mode == "LSTM":
                raise OpError(f"For {kind} input, hx and cx should also be {want}-D but got "
                              f"({states[0].ndim}-D, {states[1].ndim}-D) tensors")
            raise OpError(f"For {kind} input, hx should also be {want}-D but got "
                          f"{states[0].ndim}-D tensor")

    def _check_forward(self, input: Tensor, states: list[Tensor], packed: bool,
                       batch: int) -> None:
        w = self._flat_weights[0]
        if input.dtype != w.dtype:
            raise OpError(f"{self._layer_name}: RNN input dtype ({input.dtype}) does not match "
                          f"weight dtype ({w.dtype}). Convert input: input.to({w.dtype}), or "
                          f"convert model: model.to({input.dtype})")
        want = 2 if packed else 3
        if input.ndim != want:
            raise OpError(f"{self._layer_name}: input must have {want} dimensions, got "
                          f"{input.ndim}")
        if input.shape[-1] != self.input_size:
            raise OpError(f"{self._layer_name}: input.size(-1) must be equal to input_size. "
                          f"Expected {self.input_size}, got {input.shape[-1]} (input shape "
                          f"{input.shape})")
        for k, (s, shape) in enumerate(zip(states, self._state_shapes(batch))):
            if s.shape != shape:
                which = f"hidden[{k}] size" if self.mode == "LSTM" else "hidden size"
                raise OpError(f"{self._layer_name}: Expected {which} {shape}, got "
                              f"{list(s.shape)}")
            if s.dtype != w.dtype:
                raise OpError(f"{self._layer_name}: hx dtype ({s.dtype}) does not match "
                              f"weight dtype ({w.dtype})")

    def forward(self, input: Any, hx: Any = None) -> tuple[Any, Any]:
        """Run the layers over a sequence (a tensor or a PackedSequence).

        Returns ``(output, h_n)``, or ``(output, (h_n, c_n))`` for an LSTM; see the class
        docstrings for the shapes.
        """
        name = self._layer_name
        packed = isinstance(input, PackedSequence)
        batched = True
        sorted_indices = unsorted_indices = None
        if packed:
            data, batch_sizes, sorted_indices, unsorted_indices = input
            sizes = [int(b) for b in xp.asarray(batch_sizes._data if isinstance(
                batch_sizes, Tensor) else batch_sizes).tolist()]
            batch = sizes[0] if sizes else 0
            x2d = data
        else:
            if not isinstance(input, Tensor):
                raise TypeError(f"{name}: input must be a Tensor or a PackedSequence, got "
                                f"{type(input).__name__}")
            if input.ndim not in (2, 3):
                raise OpError(f"{name}: Expected input to be 2D or 3D, got {input.ndim}D "
                              f"tensor instead")
            batched = input.ndim == 3
            if not batched:
                input = input.unsqueeze(0 if self.batch_first else 1)
            x = transpose(input, 0, 1) if self.batch_first else input  # (T, B, C)
            batch = x.shape[1]
            sizes = [batch] * x.shape[0]
            x2d = x
        states = None if hx is None else self._states(hx)
        if states is not None:
            self._check_dims(states, batched or packed)
            if not batched:
                states = [s.unsqueeze(1) for s in states]
        if states is None:
            states = [Tensor(xp.zeros(shape, dtype=x2d.dtype))
                      for shape in self._state_shapes(batch)]
        self._check_forward(x2d, states, packed, batch)
        if not packed:
            if not sizes:
                raise OpError(f"{name}: Expected sequence length to be larger than 0 in RNN "
                              f"(input shape {input.shape})")
            x2d = reshape(x2d, (len(sizes) * batch, self.input_size))  # (T*B, C)
        if sorted_indices is not None:
            states = [index_select(s, 1, sorted_indices) for s in states]
        output, finals = self._layers(x2d, sizes, states)
        if sorted_indices is not None and unsorted_indices is not None:
            finals = [index_select(s, 1, unsorted_indices) for s in finals]
        if packed:
            out: Any = PackedSequence(output, batch_sizes, sorted_indices, unsorted_indices)
        else:
            out = reshape(output, (len(sizes), batch, output.shape[-1]))  # (T, B, D*H_out)
            if self.batch_first:
                out = transpose(out, 0, 1)
            if not batched:
                out = out.squeeze(0 if self.batch_first else 1)
                finals = [s.squeeze(1) for s in finals]
        return out, (tuple(finals) if self.mode == "LSTM" else finals[0])

    def _layers(self, x2d: Tensor, sizes: list[int], states: list[Tensor]
                ) -> tuple[Tensor, list[Tensor]]:
        """The stacked layers on the time-major rows ``x2d`` (N, C) (step t: ``sizes[t]``
        rows); returns the last layer's output rows (N, D*H_out) and the final states, each
        stacked to (L*D, B, *)."""
        directions = 2 if self.bidirectional else 1
        step = _STEPS[self.mode]
        finals: list[list[Tensor]] = [[] for _ in states]
        layer_in = x2d
        for k in range(self.num_layers):
            outs = []
            for d in range(directions):
                p = {n.split("_l")[0]: getattr(self, n)
                     for n in self._all_weights[k * directions + d]}
                extra = {"w_hr": p.get("weight_hr")} if self.mode == "LSTM" else {}
                run = functools.partial(step, hh=hidden_map(p["weight_hh"], p.get("bias_hh")),
                                        **extra)
                gi_all = F.linear(layer_in, p["weight_ih"], p.get("bias_ih"))  # (N, G)
                h0 = tuple(s[k * directions + d] for s in states)
                if self.mode == "LSTM" and d == 0 and "weight_hr" not in p \
                        and sizes and min(sizes) == max(sizes):  # the whole layer, one node
                    hs, *final = LSTMLayer(len(sizes))(gi_all, p["weight_hh"],
                                                       p.get("bias_hh"), *h0)
                    outs.append(hs)                                      # (N, H)
                else:
                    gis = split_with_sizes(gi_all, sizes, 0)
                    step_outs, final = _run_direction(run, gis, h0, sizes, reverse=d == 1)
                    outs.append(cat(step_outs, 0))                       # (N, H_out)
                for store, s in zip(finals, final):
                    store.append(s)
            layer_in = outs[0] if directions == 1 else cat(outs, 1)      # (N, D*H_out)
            if self.dropout > 0 and self.training and k < self.num_layers - 1:
                layer_in = F.dropout(layer_in, self.dropout, True)
        return layer_in, [stack(f, 0) for f in finals]


class RNN(RNNBase):
    """Elman RNN: ``h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)``, act tanh or relu.

    Args:
        input_size: features of the input.
        hidden_size: features of the hidden state.
        num_layers: stacked layers.
        nonlinearity: ``'tanh'`` or ``'relu'``.
        bias: learn ``bias_ih_l{k}`` and ``bias_hh_l{k}``.
        batch_first: input and output are ``(B, T, *)``.
        dropout: dropout on every layer's output but the last's, in training.
        bidirectional: add a backward-in-time pass (``_reverse`` parameters).
        device: only ``None`` or ``'cpu'``.
        dtype: parameter dtype (float32 by default).

    Shape:
        Input ``(T, B, C)`` (``(B, T, C)`` with ``batch_first``), ``(T, C)`` unbatched, or a
        PackedSequence; ``h_0`` ``(L*D, B, H)`` (``(L*D, H)`` unbatched), zeros if omitted.
        Output ``(T, B, D*H)`` (the last layer's ``h_t``, both directions concatenated) and
        ``h_n`` ``(L*D, B, H)``, with ``D = 2`` if bidirectional else 1.

    Attributes:
        weight_ih_l{k}: ``(H, C)`` for k = 0, else ``(H, D*H)``.
        weight_hh_l{k}: ``(H, H)``.
        bias_ih_l{k}, bias_hh_l{k}: ``(H,)``.

    Example:
        >>> import chainrule as cr
        >>> rnn = cr.nn.RNN(10, 20, 2)
        >>> out, h_n = rnn(cr.randn(5, 3, 10), cr.randn(2, 3, 20))
        >>> out.shape, h_n.shape
        ((5, 3, 20), (2, 3, 20))
        >>> rnn
        RNN(10, 20, num_layers=2)
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, device: Any = None,
                 dtype: Any = None, **kwargs: Any) -> None:
        _refuse_kwargs(kwargs, "RNN")
        if nonlinearity not in ("tanh", "relu"):
            raise OpError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or "
                          f"'relu'.")
        self.nonlinearity = nonlinearity
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size,
                         hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         0, device, dtype)

    def extra_repr(self) -> str:
        s = super().extra_repr()
        return s + (f", nonlinearity={self.nonlinearity}" if self.nonlinearity != "tanh"
                    else "")


class LSTM(RNNBase):
    """Long short-term memory: gates i, f, g, o (PyTorch's order) over the hidden and cell
    states; with ``proj_size`` the hidden state is projected (``h_t = h_t W_hr^T``).

    Saturated gates stay finite: sigmoid and tanh are computed stably, so inputs of any size
    give gates in [0, 1] and [-1, 1] and finite gradients.

    Args:
        input_size: features of the input.
        hidden_size: features of the cell state (and of ``h`` without projection).
        num_layers: stacked layers.
        bias: learn ``bias_ih_l{k}`` and ``bias_hh_l{k}``.
        batch_first: input and output are ``(B, T, *)``.
        dropout: dropout on every layer's output but the last's, in training.
        bidirectional: add a backward-in-time pass (``_reverse`` parameters).
        proj_size: if > 0, ``h`` has this size (``weight_hr_l{k}``: ``(P, H)``).
        device: only ``None`` or ``'cpu'``.
        dtype: parameter dtype (float32 by default).

    Shape:
        Input ``(T, B, C)`` (``(B, T, C)`` with ``batch_first``), ``(T, C)`` unbatched, or a
        PackedSequence; ``(h_0, c_0)``: ``(L*D, B, H_out)`` and ``(L*D, B, H)``, zeros if
        omitted, with ``H_out = proj_size or hidden_size``. Output ``(T, B, D*H_out)`` and
        ``(h_n, c_n)`` of the shapes of ``(h_0, c_0)``.

    Attributes:
        weight_ih_l{k}: ``(4H, C)`` for k = 0, else ``(4H, D*H_out)``, rows i, f, g, o.
        weight_hh_l{k}: ``(4H, H_out)``.
        bias_ih_l{k}, bias_hh_l{k}: ``(4H,)``.

    Example:
        >>> import chainrule as cr
        >>> lstm = cr.nn.LSTM(10, 20, batch_first=True, proj_size=5)
        >>> out, (h_n, c_n) = lstm(cr.randn(3, 7, 10))
        >>> out.shape, h_n.shape, c_n.shape
        ((3, 7, 5), (1, 3, 5), (1, 3, 20))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, proj_size, device, dtype)


class GRU(RNNBase):
    """Gated recurrent unit: reset and update gates r, z and the candidate n (PyTorch's
    order and formula, ``n = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn))``).

    Args:
        input_size: features of the input.
        hidden_size: features of the hidden state.
        num_layers: stacked layers.
        bias: learn ``bias_ih_l{k}`` and ``bias_hh_l{k}``.
        batch_first: input and output are ``(B, T, *)``.
        dropout: dropout on every layer's output but the last's, in training.
        bidirectional: add a backward-in-time pass (``_reverse`` parameters).
        device: only ``None`` or ``'cpu'``.
        dtype: parameter dtype (float32 by default).

    Shape:
        As :class:`RNN`: input ``(T, B, C)``, ``h_0`` ``(L*D, B, H)``; output
        ``(T, B, D*H)`` and ``h_n`` ``(L*D, B, H)``.

    Attributes:
        weight_ih_l{k}: ``(3H, C)`` for k = 0, else ``(3H, D*H)``, rows r, z, n.
        weight_hh_l{k}: ``(3H, H)``.
        bias_ih_l{k}, bias_hh_l{k}: ``(3H,)``.

    Example:
        >>> import chainrule as cr
        >>> gru = cr.nn.GRU(4, 6, bidirectional=True)
        >>> out, h_n = gru(cr.randn(5, 4))          # unbatched (T, C)
        >>> out.shape, h_n.shape
        ((5, 12), (2, 6))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, device: Any = None, dtype: Any = None,
                 **kwargs: Any) -> None:
        _refuse_kwargs(kwargs, "GRU")
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, 0, device, dtype)


# ============================================================================ the cells
class RNNCellBase(Module):
    """What the one-step cells share: ``weight_ih`` ``(G, C)``, ``weight_hh`` ``(G, H)``,
    ``bias_ih`` and ``bias_hh`` ``(G,)`` with ``G`` = gates * hidden_size, all drawn from
    U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        layer = type(self).__name__
        _check_int(input_size, "input_size", layer)
        _check_int(hidden_size, "hidden_size", layer)
        if not isinstance(bias, bool):
            raise TypeError(f"{layer}: bias should be of type bool, got: {type(bias).__name__}")
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        dt = factory_dtype(device, dtype, layer)
        g = num_chunks * hidden_size
        self.weight_ih = Parameter(xp.empty((g, input_size), dtype=dt))
        self.weight_hh = Parameter(xp.empty((g, hidden_size), dtype=dt))
        if bias:
            self.bias_ih = Parameter(xp.empty((g,), dtype=dt))
            self.bias_hh = Parameter(xp.empty((g,), dtype=dt))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw every parameter from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        _init_uniform(self, self.hidden_size)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s

    def _hh(self, h: Tensor) -> Tensor:
        """``h W_hh^T + b_hh``."""
        return F.linear(h, self.weight_hh, self.bias_hh)

    def _prepare(self, input: Tensor, states: Optional[list], hidden_names: Sequence[str]
                 ) -> tuple[Tensor, list[Tensor], bool]:
        """Check the input and states, add the batch dimension to unbatched ones and make
        zero states; returns ``(input (B, C), states (B, H) each, batched)``."""
        name = type(self).__name__
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: input must be a Tensor, got {type(input).__name__}")
        if input.ndim not in (1, 2):
            raise OpError(f"{name}: Expected input to be 1D or 2D, got {input.ndim}D instead")
        if states is not None:
            for label, s in zip(hidden_names, states):
                if not isinstance(s, Tensor):
                    raise TypeError(f"{name}: {label} must be a Tensor, got "
                                    f"{type(s).__name__}")
                if s.ndim not in (1, 2):
                    raise OpError(f"{name}: Expected {label} to be 1D or 2D, got {s.ndim}D "
                                  f"instead")
        batched = input.ndim == 2
        if not batched:
            input = input.unsqueeze(0)
            if states is not None:
                states = [s.unsqueeze(0) for s in states]
        if states is None:
            zeros = Tensor(xp.zeros((input.shape[0], self.hidden_size), dtype=input.dtype))
            states = [zeros] * len(hidden_names)
        if input.shape[1] != self.input_size:
            raise OpError(f"{name}: input has inconsistent input_size: got {input.shape[1]} "
                          f"expected {self.input_size} (input shape {input.shape})")
        for k, s in enumerate(states):
            if s.shape[0] != input.shape[0]:
                raise OpError(f"{name}: Input batch size {input.shape[0]} doesn't match "
                              f"hidden{k} batch size {s.shape[0]} (input shape {input.shape}, "
                              f"hidden{k} shape {s.shape})")
            if s.shape[1] != self.hidden_size:
                raise OpError(f"{name}: hidden{k} has inconsistent hidden_size: got "
                              f"{s.shape[1]}, expected {self.hidden_size}")
        w = self.weight_ih
        for t in [input] + list(states):
            if t.dtype != w.dtype:
                raise OpError(f"{name}: expected the input and hidden states to have the "
                              f"weights' dtype {w.dtype}, got {t.dtype}")
        return input, states, batched

    def _cell_step(self, step: Callable[..., State], input: Tensor, states: Optional[list],
                   hidden_names: Sequence[str]) -> State:
        """``step`` on ``input`` from ``states`` (checked and batched by :meth:`_prepare`);
        the new states, unbatched again for an unbatched input."""
        x, states, batched = self._prepare(input, states, hidden_names)
        new = step(F.linear(x, self.weight_ih, self.bias_ih), tuple(states), self._hh)
        return new if batched else tuple(s.squeeze(0) for s in new)


class RNNCell(RNNCellBase):
    """One Elman step: ``h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh)``, act tanh or relu.

    Args:
        input_size: features of the input.
        hidden_size: features of the hidden state.
        bias: learn ``bias_ih`` and ``bias_hh``.
        nonlinearity: ``'tanh'`` or ``'relu'``.
        device: only ``None`` or ``'cpu'``.
        dtype: parameter dtype (float32 by default).

    Shape:
        Input ``(B, C)`` or ``(C,)``; ``hx`` ``(B, H)`` or ``(H,)`` (zeros if omitted);
        output as ``hx``.

    Example:
        >>> import chainrule as cr
        >>> cell = cr.nn.RNNCell(10, 20, nonlinearity='relu')
        >>> cell(cr.randn(3, 10)).shape, cell
        ((3, 20), RNNCell(10, 20, nonlinearity=relu))
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device: Any = None, dtype: Any = None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise OpError(f"RNNCell: Unknown nonlinearity: {nonlinearity} (select from 'tanh' "
                          f"or 'relu')")
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Optional[Tensor] = None) -> Tensor:
        step = rnn_tanh_step if self.nonlinearity == "tanh" else rnn_relu_step
        return self._cell_step(step, input, None if hx is None else [hx], ["hidden"])[0]


class LSTMCell(RNNCellBase):
    """One LSTM step: gates i, f, g, o of ``x W_ih^T + b_ih + h W_hh^T + b_hh``;
    ``c' = sigmoid(f) c + sigmoid(i) tanh(g)``, ``h' = sigmoid(o) tanh(c')``.

    Args:
        input_size: features of the input.
        hidden_size: features of the hidden and cell states.
        bias: learn ``bias_ih`` and ``bias_hh``.
        device: only ``None`` or ``'cpu'``.
        dtype: parameter dtype (float32 by default).

    Shape:
        Input ``(B, C)`` or ``(C,)``; ``hx`` a tuple ``(h, c)``, each ``(B, H)`` or ``(H,)``
        (zeros if omitted); returns ``(h', c')`` of the same shapes.

    Example:
        >>> import chainrule as cr
        >>> cell = cr.nn.LSTMCell(10, 20)
        >>> h, c = cell(cr.randn(3, 10))
        >>> h.shape, c.shape
        ((3, 20), (3, 20))
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input: Tensor, hx: Optional[tuple] = None) -> tuple[Tensor, Tensor]:
        if hx is not None and not (isinstance(hx, (tuple, list)) and len(hx) == 2):
            raise TypeError(f"LSTMCell: hx must be a tuple (h, c), got {type(hx).__name__}")
        h, c = self._cell_step(lstm_step, input, None if hx is None else list(hx),
                               ["hx[0]", "hx[1]"])
        return h, c


class GRUCell(RNNCellBase):
    """One GRU step: ``r = sigmoid(gi_r + gh_r)``, ``z = sigmoid(gi_z + gh_z)``,
    ``n = tanh(gi_n + r * gh_n)``, ``h' = (1 - z) n + z h`` with ``gi = x W_ih^T + b_ih``,
    ``gh = h W_hh^T + b_hh``.

    Args:
        input_size: features of the input.
        hidden_size: features of the hidden state.
        bias: learn ``bias_ih`` and ``bias_hh``.
        device: only ``None`` or ``'cpu'``.
        dtype: parameter dtype (float32 by default).

    Shape:
        Input ``(B, C)`` or ``(C,)``; ``hx`` ``(B, H)`` or ``(H,)`` (zeros if omitted);
        output as ``hx``.

    Example:
        >>> import chainrule as cr
        >>> cell = cr.nn.GRUCell(10, 20)
        >>> cell(cr.randn(10), cr.randn(20)).shape
        (20,)
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input: Tensor, hx: Optional[Tensor] = None) -> Tensor:
        return self._cell_step(gru_step, input, None if hx is None else [hx], ["hidden"])[0]
