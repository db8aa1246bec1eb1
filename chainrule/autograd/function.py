"""``Function``: a node of the computational graph, with its forward and backward side by side.

The op contract. A ``Function`` subclass implements ``forward`` on arrays and ``backward`` on
Tensors, and states its local derivative once, beside them::

    class Mul(Function):
        derivative = ("{x1}", "{x0}")     # d(x0*x1)/dx0, d(x0*x1)/dx1: shown in traces, docs/ops.md
        elementwise = True

        def forward(self, x0, x1):        # ndarrays in, ndarray out
            return x0 * x1

        def backward(self, gy):           # Tensors in, one gradient per input out
            x0, x1 = self.inputs
            return unbroadcast(gy * x1, x0.shape), unbroadcast(gy * x0, x1.shape)

        def fast_backward(self, gy):      # optional: the same formula on ndarrays
            x0, x1 = self.inputs
            return (sum_to_shape(gy * x1._data, x0.shape),
                    sum_to_shape(gy * x0._data, x1.shape))

- ``backward`` is always the formula a learner reads, written with differentiable ops, so running
  it while recording (``create_graph=True``) builds the graph of the derivative itself.
- ``fast_backward`` (optional) is a first-order path on arrays, for speed. The engine chooses it
  (never the op): when the backward is not recorded and no trace is running. An op whose
  gradient exists only on arrays (the reference convolutions) defines ``fast_backward`` alone:
  it is then *first order only*, and a double backward through it raises an error naming it.

Calling an instance (``Mul()(a, b)``) runs ``forward`` and, when grad mode is on and an
input requires grad, links the node into the graph: it keeps its inputs, holds its outputs by
weak reference (so a dropped graph is freed at once by reference counting) and becomes their
``grad_fn``.

PyTorch's custom-Function form (static ``forward(ctx, ...)``/``backward(ctx, ...)``,
``ctx.save_for_backward``, ``Fn.apply``) maps onto this one class: the node is the ``ctx``, and
what ``forward`` saves on it is what ``backward`` reads. It is to be added here, as another
way to write a Function, not as a second class.
"""
from __future__ import annotations

import os
import sys
import weakref
from operator import itemgetter
from typing import Any, Callable, ClassVar, Optional, Union

from ..backend import xp
from .grad_mode import state
from .tensor import Tensor

_new_tensor = Tensor._new  # bound once: the constructor every op's outputs go through


class _FreedInput(tuple):
    """What a node keeps of an input once backward has freed its graph: metadata, no data.

    A tuple ``(grad_fn, requires_grad, shape, dtype, _out_idx, name)`` read by name: built in C
    (no ``__init__`` runs), as this happens once per input of every freed node.
    """

    __slots__ = ()
    grad_fn = property(itemgetter(0))
    requires_grad = property(itemgetter(1))
    _requires_grad = requires_grad
    shape = property(itemgetter(2))
    dtype = property(itemgetter(3))
    _out_idx = property(itemgetter(4))
    name = property(itemgetter(5))


class Function:
    """Base class of every differentiable op: subclass it and write ``forward``/``backward``.

    Attributes set when the node joins a graph:
        inputs: the input Tensors (``None`` for an absent optional input).
        outputs: weak references to the output Tensors.
        needs_input_grad: one bool per input, True where a gradient is wanted.
    """

    __slots__ = ("inputs", "outputs", "needs_input_grad", "_clock", "_freed", "_hooks",
                 "_site", "__dict__", "__weakref__")

    saves_output = False
    """Set True in ops whose backward calls ``self.output(i)``: the node then keeps the output
    arrays alive, as PyTorch's saved outputs, even if the output tensors are dropped."""

    derivative: ClassVar[Union[str, tuple[str, ...]]] = ""
    """The local derivative, stated once: one template per input (a single string serves every
    input), with ``{x0}``, ``{x1}`` for the input labels and ``{y}`` for the output's. Traces
    show it; ``docs/ops.md`` lists every primitive's."""

    elementwise: ClassVar[bool] = False
    """True when output element i depends only on input element i (after broadcasting): a
    trace then shows the local derivative's value as grad_input / upstream."""

    fast_backward: ClassVar[Optional[Callable[..., Any]]] = None
    """Optional first-order path: ``fast_backward(self, *gys)`` takes the upstream gradients as
    ndarrays and returns one ndarray (or None) per input, computing what ``backward`` computes
    without building graph nodes. The engine runs it instead of ``backward`` when the backward
    is not recorded (``create_graph=False``) and no trace is running."""

    first_order_only: ClassVar[bool] = False
    """Set by the class itself: True for a Function with a ``fast_backward`` and no
    ``backward`` (its gradient exists only on arrays), which cannot be differentiated twice."""

    double_backward_hint: ClassVar[str] = ""
    """Appended to the error a double backward through a first-order-only Function raises."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.first_order_only = (cls.fast_backward is not None
                                and cls.backward is Function.backward)

    # ------------------------------------------------------------------ to override
    def forward(self, *xs: Any) -> Any:
        """Compute the outputs from the input arrays (ndarrays, or None)."""
        raise NotImplementedError(f"{type(self).__name__}.forward is not implemented")

    def backward(self, *gys: "Tensor") -> Any:
        """Return one gradient (Tensor or None) per input, given one gradient per output."""
        raise NotImplementedError(
            f"{type(self).__name__} is not differentiable (it has no backward)")

    def local_derivative(self, i: int, number: Callable[[Any], str] = str) -> Optional[str]:
        """The template of the local derivative for input ``i`` (see ``derivative``), or None.

        Ops holding a constant (a power's exponent, a slope) override it to write the constant
        in, formatted by ``number`` (traces pass their number format).
        """
        d = type(self).derivative
        if isinstance(d, str):
            return d or None
        return d[min(i, len(d) - 1)] if d else None

    # ------------------------------------------------------------------ machinery
    @property
    def name(self) -> str:
        """The name shown in reprs, traces and graph pictures, e.g. ``MulBackward``."""
        return type(self).__name__ + "Backward"

    def __repr__(self) -> str:
        return f"<{self.name}>"

    def __call__(self, *inputs: Any) -> Any:
        # the hot path of every op: kept lean (one pass over the inputs, no generators)
        arrays = []
        needs = []
        any_grad = False
        for t in inputs:
            if type(t) is Tensor or isinstance(t, Tensor):
                arrays.append(t._data)
                needs.append(t._requires_grad)
                any_grad = any_grad or t._requires_grad
            elif t is None:
                arrays.append(None)
                needs.append(False)
            else:  # a number or an array among the inputs: wrap it as a constant tensor
                return self(*[t if t is None or isinstance(t, Tensor) else
                              Tensor(xp.asarray(t)) for t in inputs])
        ys = self.forward(*arrays)
        single = type(ys) is not tuple
        if any_grad and state.grad_enabled:
            if single:
                out = _new_tensor(ys, self, 0, True)
                outputs: tuple = (out,)
                self.outputs = (weakref.ref(out),)
            else:
                outputs = tuple([_new_tensor(y, self, i, True) for i, y in enumerate(ys)])
                self.outputs = tuple([weakref.ref(o) for o in outputs])
                self.output_meta = tuple([(y.shape, y.dtype) for y in ys])
            self.inputs = inputs
            self.needs_input_grad = tuple(needs)
            self._clock = state.clock
            self._freed = False
            self._hooks = None
            self._site = _user_site() if state.anomaly else None
            if self.saves_output:
                self.saved_outputs = (ys,) if single else ys
        elif single:
            outputs = (_new_tensor(ys, None, 0, False),)
        else:
            outputs = tuple([_new_tensor(y, None, 0, False) for y in ys])
        if state.tracer is not None:
            state.tracer.on_forward(self, inputs, outputs)
        return outputs[0] if single else outputs

    def output(self, i: int = 0) -> "Tensor":
        """Return output ``i`` as a Tensor linked to this node (for ops that reuse their result)."""
        out = self.outputs[i]()
        if out is None:  # dropped by its users: rebuild it from the saved array, still linked
            if self._freed:
                raise RuntimeError(f"{self.name}: its saved output was freed by an earlier "
                                   f"backward; specify retain_graph=True")
            return Tensor._from_op(self.saved_outputs[i], self, i)
        if out._mtime > self._clock:
            raise RuntimeError(
                f"one of the variables needed for gradient computation has been modified by "
                f"an inplace operation: output {i} of {self.name} (shape {out.shape}) is at "
                f"version {out._version}; expected version 0 instead.")
        return out

    def _check_versions(self) -> None:
        """Raise if an input was modified in place after this node's forward."""
        if state.clock == self._clock:
            return  # no in-place op anywhere since the forward: nothing to check
        for i, t in enumerate(self.inputs):
            if t is not None and getattr(t, "_mtime", 0) > self._clock:
                raise RuntimeError(
                    f"one of the variables needed for gradient computation has been modified "
                    f"by an inplace operation: input {i} of {self.name} (shape {t.shape}) was "
                    f"changed after the forward pass (now at version {t._version}). Do the "
                    f"in-place update after backward, or use an out-of-place op.")

    def _release(self) -> None:
        """Free what backward needed (saved state, intermediate inputs); keep the graph's shape.

        Leaves that require grad stay (parameters are alive anyway and graph pictures name
        them); every other input is replaced by its metadata, so its array can be freed.
        """
        self._freed = True
        self.__dict__.clear()
        kept = []
        for t in self.inputs:  # a loop, not a comprehension: no function object per node
            if t is not None and (t.grad_fn is not None or not t._requires_grad):
                data = t._data
                t = _FreedInput((t.grad_fn, t._requires_grad, data.shape, data.dtype,
                                 t._out_idx, t.name))
            kept.append(t)
        self.inputs = tuple(kept)

    def register_hook(self, index: int, hook: Callable[["Tensor"], Optional["Tensor"]]) -> None:
        """Run ``hook(grad)`` on the gradient of output ``index`` once it is complete."""
        if self._hooks is None:
            self._hooks = {}
        self._hooks.setdefault(index, []).append(hook)


def _user_site() -> str:
    """The file:line of the innermost stack frame outside the chainrule package."""
    pkg = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    frame = sys._getframe(2)
    while frame is not None:
        fname = os.path.abspath(frame.f_code.co_filename)
        if not fname.startswith(pkg + os.sep):
            return f"{frame.f_code.co_filename}:{frame.f_lineno}"
        frame = frame.f_back
    return "<unknown>"
