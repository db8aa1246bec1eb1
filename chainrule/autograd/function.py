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

PyTorch's custom-Function form is the same contract in PyTorch's spelling, on this same class:
static ``forward(ctx, *args)`` on Tensors (run with grad disabled) and static
``backward(ctx, *grads)``, called through ``Fn.apply(*args)``. The node is the ``ctx``: an
instance of ``FnBackward``, a :class:`FunctionCtx` made for the class, which becomes the
outputs' ``grad_fn``; what ``forward`` saves on it (``ctx.save_for_backward``, attributes) is
what ``backward`` reads, and the engine runs it like any other node::

    class Cube(Function):
        @staticmethod
        def forward(ctx, x):              # Tensors in, Tensors out (grad mode off)
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, gy):            # one gradient per forward argument (None for numbers)
            (x,) = ctx.saved_tensors
            return gy * 3 * x ** 2

    y = Cube.apply(x)

Nodes are named as PyTorch names them (``grad_fn.name()``): ``MulBackward0`` for ``Mul`` (the
class name, ``Backward0``), unless the class states PyTorch's name as ``node_name``; a
custom Function in the ctx form gives ``CubeBackward``, as PyTorch.
"""
from __future__ import annotations

import functools
import inspect
import os
import sys
import weakref
from operator import itemgetter
from typing import Any, Callable, ClassVar, Optional, Union

from ..backend import xp
from .errors import freed_graph_message
from .grad_mode import no_grad, state
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

    node_name: ClassVar[str] = ""
    """PyTorch's name for this op's node (``grad_fn.name()``), stated where it is not the class
    name followed by ``Backward0`` (e.g. ``ReluBackward0`` for ``ReLU``). Not inherited."""

    _name: ClassVar[str] = "FunctionBackward0"  # what name() returns, set per class below
    _name_from_args: ClassVar[bool] = False  # the class overrides name(): kept on release
    _ctx_node: ClassVar[Optional[type]] = None  # the ctx form's node class (``FnBackward``)
    _materialize_grads: ClassVar[bool] = True  # missing output gradients become zeros

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.first_order_only = (cls.fast_backward is not None
                                and cls.backward is Function.backward)
        cls._name = cls.__dict__.get("node_name") or cls.__name__ + "Backward0"
        cls._name_from_args = cls.name is not Function.name
        if isinstance(inspect.getattr_static(cls, "forward"), staticmethod):
            # PyTorch's form: the nodes are instances of a class made for it, as torch's
            # ``FnBackward``; its backward calls the static backward with the node as ctx
            cls._ctx_node = type(cls.__name__ + "Backward", (FunctionCtx,), {
                "__slots__": (), "node_name": cls.__name__ + "Backward", "function": cls,
                "__module__": cls.__module__, "__qualname__": cls.__qualname__ + "Backward"})

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

    @staticmethod
    def setup_context(ctx: "FunctionCtx", inputs: tuple, output: Any) -> None:
        """PyTorch's split form: when a ctx-form Function defines it, ``forward(*args)`` takes
        no ctx and ``setup_context(ctx, inputs, output)`` saves what backward needs."""
        raise NotImplementedError("setup_context is not implemented")

    # ------------------------------------------------------------------ PyTorch's view
    def name(self) -> str:
        """The node's name as PyTorch prints it: shown in reprs, traces and graph pictures.

        Example:
            >>> import chainrule as cr
            >>> x = cr.ones(2, requires_grad=True)
            >>> (x * x).grad_fn.name(), (x * x).sum().grad_fn.name()
            ('MulBackward0', 'SumBackward0')
        """
        return self._name

    def __repr__(self) -> str:
        return f"<{self.name()} object at {id(self):#x}>"

    @property
    def next_functions(self) -> tuple:
        """The edges to the nodes that made this node's inputs, as PyTorch's: one ``(node,
        output_index)`` pair per input; a leaf that requires grad appears as its
        :class:`AccumulateGrad`, an input that needs no gradient as ``(None, 0)``.

        Example:
            >>> import chainrule as cr
            >>> w = cr.ones(2, requires_grad=True)
            >>> y = (w * 2).exp()
            >>> (mul, _), = y.grad_fn.next_functions
            >>> mul.name(), mul.next_functions[0][0].variable is w, mul.next_functions[1]
            ('MulBackward0', True, (None, 0))
        """
        inputs = getattr(self, "inputs", None)
        if inputs is None:  # not linked into a graph
            return ()
        return tuple([_edge(t) for t in inputs if t is not None or not self._tensor_args_only])

    _tensor_args_only: ClassVar[bool] = False  # next_functions skips non-tensor arguments

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        """Run the op on ``args`` and link it into the graph: PyTorch's ``Fn.apply``.

        For a ctx-form Function (static ``forward(ctx, ...)``) it builds the node (the ctx),
        runs ``forward`` with grad disabled and makes the node the outputs' ``grad_fn``. For an
        op written in chainrule's form it is ``cls()(*args)``.

        Example:
            >>> import chainrule as cr
            >>> from chainrule.autograd import Function
            >>> class Cube(Function):
            ...     @staticmethod
            ...     def forward(ctx, x):
            ...         ctx.save_for_backward(x)
            ...         return x ** 3
            ...     @staticmethod
            ...     def backward(ctx, gy):
            ...         (x,) = ctx.saved_tensors
            ...         return gy * 3 * x ** 2
            >>> x = cr.tensor(2.0, requires_grad=True)
            >>> y = Cube.apply(x)
            >>> y.backward()
            >>> y.item(), x.grad.item(), y.grad_fn.name()
            (8.0, 12.0, 'CubeBackward')
        """
        if cls._ctx_node is None:
            if kwargs:
                raise TypeError(f"{cls.__name__}.apply takes positional inputs only (the op's "
                                f"parameters go to {cls.__name__}(...))")
            return cls()(*args)
        return _apply_ctx(cls, args, kwargs)

    # ------------------------------------------------------------------ machinery

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
                raise RuntimeError(freed_graph_message(self.name()))
            return Tensor._from_op(self.saved_outputs[i], self, i)
        if out._mtime > self._clock:
            raise RuntimeError(
                f"one of the variables needed for gradient computation has been modified by "
                f"an inplace operation: output {i} of {self._name} (shape {out.shape}) is at "
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
                    f"by an inplace operation: input {i} of {self._name} (shape {t.shape}) was "
                    f"changed after the forward pass (now at version {t._version}). Do the "
                    f"in-place update after backward, or use an out-of-place op.")

    def _release(self) -> None:
        """Free what backward needed (saved state, intermediate inputs); keep the graph's shape.

        Leaves that require grad stay (parameters are alive anyway and graph pictures name
        them); every other input is replaced by its metadata, so its array can be freed.
        """
        self._freed = True
        # a name computed from the op's arguments (GetItem, Sum, ...) outlives them
        name = self.name() if self._name_from_args else None
        self.__dict__.clear()
        if name is not None:
            self.name = _constant(name)  # type: ignore[method-assign]
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


# ---------------------------------------------------------------------- PyTorch's ctx form
class FunctionCtx(Function):
    """The node of a ctx-form Function (``FnBackward``), and the ``ctx`` its static ``forward``
    and ``backward`` receive; any attribute may be set on it to pass state to backward.

    Example:
        >>> import chainrule as cr
        >>> from chainrule.autograd import Function
        >>> class Scale(Function):
        ...     @staticmethod
        ...     def forward(ctx, x, k):
        ...         ctx.k = k                      # a number: its gradient is None
        ...         return x * k
        ...     @staticmethod
        ...     def backward(ctx, gy):
        ...         return gy * ctx.k, None
        >>> x = cr.ones(2, requires_grad=True)
        >>> y = Scale.apply(x, 3.0)
        >>> y.sum().backward()
        >>> x.grad.tolist(), type(y.grad_fn).__name__, y.grad_fn.needs_input_grad
        ([3.0, 3.0], 'ScaleBackward', (True, False))
    """

    __slots__ = ()
    function: ClassVar[type]  # the ctx-form Function this node belongs to
    _tensor_args_only = True

    def save_for_backward(self, *tensors: Optional[Tensor]) -> None:
        """Keep ``tensors`` (inputs, outputs or others; None allowed) for ``saved_tensors``."""
        for i, t in enumerate(tensors):
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(f"save_for_backward can only save variables, but argument {i} "
                                f"is of type {type(t).__name__}")
        self._to_save = tensors

    @property
    def saved_tensors(self) -> tuple:
        """What ``save_for_backward`` kept; a RuntimeError once backward freed the graph, or if
        one of them was modified in place since."""
        if self._freed:
            raise RuntimeError(freed_graph_message(self._name))
        return tuple([self.output(e) if type(e) is int else _unpack(self, e)
                      for e in self.__dict__.get("_saved", ())])

    def mark_non_differentiable(self, *tensors: Tensor) -> None:
        """Mark outputs that get no gradient (e.g. indices): they do not require grad, and
        backward receives zeros for them."""
        self._non_differentiable = {id(t) for t in tensors}  # ids: no reference cycle

    def mark_dirty(self, *tensors: Tensor) -> None:
        """Declare the inputs ``forward`` modified in place (and returns): they become outputs
        of this node, and the graph before them stays reachable."""
        self._dirty = {id(t) for t in tensors}

    def set_materialize_grads(self, value: bool) -> None:
        """With False, backward receives None (not zeros) for outputs that got no gradient."""
        self._materialize_grads = bool(value)

    def backward(self, *gys: Tensor) -> tuple:  # type: ignore[override]
        return _check_grads(self, self.function.backward(self, *gys))

    def _release(self) -> None:
        """Free the saved tensors; keep the attributes set on ctx, as PyTorch does."""
        kept = {k: v for k, v in self.__dict__.items()
                if k not in ("_saved", "saved_outputs", "_to_save")}
        super()._release()
        self.__dict__.update(kept)


def _constant(value: Any) -> Callable[[], Any]:
    """A function of no arguments that returns ``value``."""
    return lambda: value


def _no_output() -> None:
    """The stand-in for a weak reference to an output that is not a Tensor."""
    return None


def _arguments(fn_cls: type, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """The arguments forward gets, as PyTorch passes them: as given, or with the defaults
    bound in the ``setup_context`` form. Each (positional, then keyword) is an input that
    backward returns one gradient for."""
    if _splits_context(fn_cls):
        bound = inspect.signature(fn_cls.forward).bind(*args, **kwargs)
        bound.apply_defaults()
        args, kwargs = bound.args, bound.kwargs
    return args, kwargs


def _splits_context(fn_cls: type) -> bool:
    return fn_cls.setup_context is not Function.setup_context


def _apply_ctx(fn_cls: type, args: tuple, kwargs: dict) -> Any:
    """``Fn.apply`` for the ctx form: build the node, run forward without grad, link outputs."""
    args, kwargs = _arguments(fn_cls, args, kwargs)
    ctx = fn_cls._ctx_node()
    tensors = tuple([a if isinstance(a, Tensor) else None for a in (*args, *kwargs.values())])
    needs = tuple([t is not None and t._requires_grad for t in tensors])
    record = state.grad_enabled and any(needs)
    ctx.needs_input_grad = needs if record else (False,) * len(tensors)
    ctx._freed = False
    prev_grad, tracer = state.grad_enabled, state.tracer
    state.grad_enabled, state.tracer = False, None  # forward's own ops are not recorded
    try:
        if _splits_context(fn_cls):
            out = fn_cls.forward(*args, **kwargs)
            fn_cls.setup_context(ctx, args, out)
        else:
            out = fn_cls.forward(ctx, *args, **kwargs)
    finally:
        state.grad_enabled, state.tracer = prev_grad, tracer
    single = not isinstance(out, tuple)
    outs = (out,) if single else out
    if record:
        outs = _link(ctx, tensors, outs)
        if tracer is not None:
            tracer.on_forward(ctx, ctx.inputs, tuple([o for o in outs if isinstance(o, Tensor)]))
    _pack_saved(ctx, outs if record else ())
    return outs[0] if single else outs


def _link(ctx: FunctionCtx, tensors: tuple, outs: tuple) -> tuple:
    """Make ``ctx`` the ``grad_fn`` of forward's differentiable outputs; return the outputs.

    A fresh output is linked in place (``save_for_backward`` may hold it); an input returned
    as is gets an alias, so the input keeps its own place in the graph; a dirty input (see
    ``mark_dirty``) is rebased onto ``ctx`` and ``ctx`` keeps an alias of it as it was.
    """
    non_diff = ctx.__dict__.get("_non_differentiable", ())
    dirty = ctx.__dict__.get("_dirty", ())
    inputs = list(tensors)
    for j, t in enumerate(inputs):
        if t is not None and id(t) in dirty:
            if t.grad_fn is None and t._requires_grad:
                raise RuntimeError("a leaf Variable that requires grad is being used in an "
                                   "in-place operation.")
            inputs[j] = _new_tensor(t._data, t.grad_fn, t._out_idx, t._requires_grad)
    input_ids = {id(t) for t in tensors if t is not None}
    linked, refs, meta = [], [], []
    for i, o in enumerate(outs):
        if not isinstance(o, Tensor):
            linked.append(o), refs.append(_no_output), meta.append(None)
            continue
        meta.append((o.shape, o.dtype))
        if id(o) in non_diff or o._data.dtype.kind != "f":
            if o._requires_grad:  # an input returned as a non-differentiable output
                o = _new_tensor(o._data, None, 0, False)
        elif id(o) in dirty or (id(o) not in input_ids and not o._requires_grad):
            o.grad_fn, o._out_idx, o._requires_grad = ctx, i, True
        else:
            o = _new_tensor(o._data, ctx, i, True)
        linked.append(o), refs.append(weakref.ref(o))
    ctx.inputs = tuple(inputs)
    ctx.outputs = tuple(refs)
    ctx.output_meta = tuple(meta)
    ctx._clock = state.clock
    ctx._hooks = None
    ctx._site = _user_site() if state.anomaly else None
    return tuple(linked)


def _pack_saved(ctx: FunctionCtx, linked: tuple) -> None:
    """Store what ``save_for_backward`` named: an output of ``ctx`` by its index (it is rebuilt
    from its array if dropped, and the node holds no reference to it, so no cycle), anything
    else with its version, which ``saved_tensors`` checks."""
    outputs = {id(o): i for i, o in enumerate(linked)
               if isinstance(o, Tensor) and o.grad_fn is ctx}
    saved: list[Any] = []
    for t in ctx.__dict__.pop("_to_save", ()):
        if t is not None and id(t) in outputs:
            saved.append(outputs[id(t)])
            ctx.saved_outputs = tuple([o._data if isinstance(o, Tensor) else None
                                       for o in linked])
        else:
            saved.append(None if t is None else (t, t._ver))
    ctx._saved = tuple(saved)


def _unpack(ctx: FunctionCtx, entry: Optional[tuple]) -> Optional[Tensor]:
    if entry is None:
        return None
    t, version = entry
    if t._ver != version:
        raise RuntimeError(
            f"one of the variables needed for gradient computation has been modified by an "
            f"inplace operation: a tensor of shape {list(t.shape)} saved by {ctx._name} is at "
            f"version {t._ver}; expected version {version} instead.")
    return t


def _check_grads(ctx: FunctionCtx, gxs: Any) -> tuple:
    """A ctx-form backward's result as the engine takes it, checked as PyTorch checks it: one
    gradient per forward argument (extra trailing Nones dropped), None for non-tensors, cast
    to each input's dtype."""
    if not isinstance(gxs, (tuple, list)):
        gxs = (gxs,)
    name, n = ctx._name, len(ctx.inputs)
    if len(gxs) > n and all(g is None for g in gxs[n:]):
        gxs = gxs[:n]
    if len(gxs) != n:
        raise RuntimeError(f"function {name} returned an incorrect number of gradients "
                           f"(expected {n}, got {len(gxs)})")
    out = []
    for i, (t, g) in enumerate(zip(ctx.inputs, gxs)):
        if g is not None:
            if t is None:
                raise RuntimeError(f"function {name} returned a gradient different than None "
                                   f"at position {i + 1}, but the corresponding forward input "
                                   f"was not a Variable")
            if not isinstance(g, Tensor):
                raise TypeError(f"function {name} returned a {type(g).__name__} as the gradient "
                                f"at position {i + 1}; expected a Tensor or None")
            if g.dtype != t.dtype and t.dtype.kind == "f":
                g = g.to(t.dtype)
        out.append(g)
    return tuple(out)


class _DelayedError(Function):
    """Stands for the results of a ``once_differentiable`` backward in a recorded graph:
    differentiating through it raises."""

    node_name = "DelayedError"

    def forward(self, x: Any) -> Any:
        return x

    def backward(self, gy: Tensor) -> Any:
        raise RuntimeError("trying to differentiate twice a function that was marked with "
                           "@once_differentiable")


def once_differentiable(backward: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a ctx-form ``backward`` as first order: it runs with grad disabled, and a double
    backward through its results raises (as PyTorch's decorator).

    Example:
        >>> import chainrule as cr
        >>> from chainrule.autograd.function import Function, once_differentiable
        >>> class Double(Function):
        ...     @staticmethod
        ...     def forward(ctx, x):
        ...         return x * 2
        ...     @staticmethod
        ...     @once_differentiable
        ...     def backward(ctx, gy):
        ...         return gy * 2
        >>> x = cr.ones(2, requires_grad=True)
        >>> Double.apply(x).sum().backward()
        >>> x.grad.tolist()
        [2.0, 2.0]
    """
    @functools.wraps(backward)
    def wrapper(ctx: FunctionCtx, *grads: Any) -> Any:
        with no_grad():
            outputs = backward(ctx, *grads)
        if not state.grad_enabled or not any(isinstance(g, Tensor) and g._requires_grad
                                             for g in grads):
            return outputs
        single = not isinstance(outputs, tuple)
        wrapped = tuple([_DelayedError()(_new_tensor(o._data, None, 0, True))
                         if isinstance(o, Tensor) and o._data.dtype.kind == "f" else o
                         for o in ((outputs,) if single else outputs)])
        return wrapped[0] if single else wrapped

    return wrapper


# ---------------------------------------------------------------------- PyTorch's graph view
class AccumulateGrad:
    """The node PyTorch shows for a leaf that requires grad (in ``next_functions``): backward
    adds into ``variable.grad``. The same object while one is held, as PyTorch's.

    Example:
        >>> import chainrule as cr
        >>> w = cr.ones(2, requires_grad=True)
        >>> acc, index = (w * 2).grad_fn.next_functions[0]
        >>> acc.variable is w, acc.name(), acc.next_functions
        (True, 'torch::autograd::AccumulateGrad', ())
    """

    __slots__ = ("variable", "__weakref__")
    _cache: ClassVar["weakref.WeakValueDictionary[int, AccumulateGrad]"] = \
        weakref.WeakValueDictionary()
    next_functions: ClassVar[tuple] = ()

    def __init__(self, variable: Tensor) -> None:
        self.variable = variable

    @classmethod
    def of(cls, t: Tensor) -> "AccumulateGrad":
        """The leaf's node (keyed by id: the node holds the leaf, so the id is not reused)."""
        node = cls._cache.get(id(t))
        if node is None:
            node = cls._cache[id(t)] = cls(t)
        return node

    def name(self) -> str:
        return "torch::autograd::AccumulateGrad"

    def __repr__(self) -> str:
        return f"<AccumulateGrad object at {id(self):#x}>"


def _edge(t: Any) -> tuple:
    """One ``next_functions`` pair for input ``t`` (a Tensor, a freed input's metadata, None)."""
    if t is None or not t._requires_grad:
        return (None, 0)
    if t.grad_fn is not None:
        return (t.grad_fn, t._out_idx)
    return (AccumulateGrad.of(t), 0)


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
