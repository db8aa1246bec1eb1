"""The backward engine: order the graph without recursion, then apply the chain rule.

1. Walk the graph from the roots with an explicit stack and record the nodes in post-order;
   reversed, that is a topological order (every node comes after all nodes that consume its
   outputs), so a 100,000-op chain needs no recursion.
2. Visit the nodes in that order. A node's output gradients are complete when it is reached;
   its ``backward`` turns them into input gradients, which are summed per input tensor (a tensor
   used twice receives two contributions) or accumulated into a leaf's ``.grad``.
"""
from __future__ import annotations

import sys

from typing import Any, Optional, Sequence, Union

from ..backend import xp
from .errors import freed_graph_message
from .function import Function
from .grad_mode import state
from .tensor import Tensor


def _topological_order(roots: Sequence[Function]) -> list[Function]:
    """Nodes reachable from ``roots``, consumers before producers (iterative DFS)."""
    post: list[Function] = []
    visited: set[Function] = set()
    stack: list[tuple[Function, bool]] = [(fn, False) for fn in roots]
    push, pop = stack.append, stack.pop
    while stack:
        fn, expanded = pop()
        if expanded:
            post.append(fn)
            continue
        if fn in visited:
            continue
        visited.add(fn)
        push((fn, True))
        for t in fn.inputs:
            if t is not None:
                producer = t.grad_fn
                if producer is not None and producer not in visited:
                    push((producer, False))
    post.reverse()
    return post


def _needed(order: list[Function], targets: set[int]) -> set[int]:
    """ids of the nodes that lead to one of ``targets`` (ids of tensors or nodes)."""
    needed: set[int] = set()
    for fn in reversed(order):  # producers first
        for t in fn.inputs:
            if t is None:
                continue
            if id(t) in targets or (t.grad_fn is not None and id(t.grad_fn) in needed):
                needed.add(id(fn))
                break
    return needed


def _key(fn: Function, index: int) -> Any:
    """The key of a node's output ``index`` in the pending-gradient table.

    Output 0 (the only one of almost every node) is keyed by the node itself; other outputs by
    ``(node, index)``. Keys hold the nodes, which stay alive in the order list anyway.
    """
    return fn if index == 0 else (fn, index)


def _capture_outputs(fn: Function, grads: dict, captured: dict,
                     capture_ids: Optional[set[int]]) -> None:
    """Read the gradients of a node's captured outputs without running its backward."""
    for i, ref in enumerate(fn.outputs):
        g = grads.pop(_key(fn, i), None)
        out = ref()
        if g is not None and out is not None and capture_ids and id(out) in capture_ids:
            if fn._hooks is not None and i in fn._hooks:
                g = _run_hooks(fn._hooks[i], g)
            captured[id(out)] = g


def _run_hooks(hooks: Optional[list], grad: Tensor) -> Tensor:
    """Call each hook on the gradient; a returned Tensor replaces it, and must keep its shape
    and dtype (as PyTorch checks)."""
    if hooks:
        for hook in list(hooks):
            out = hook(grad)
            if out is not None:
                grad = _hook_result(hook, grad, out)
    return grad


def _hook_result(hook: Any, grad: Tensor, out: Any) -> Tensor:
    """``out``, the gradient a hook returned in place of ``grad``, once checked."""
    name = getattr(hook, "__name__", type(hook).__name__)
    if not isinstance(out, Tensor):
        raise TypeError(f"expected Tensor, but hook returned '{type(out).__name__}'")
    if out.shape != grad.shape:
        raise RuntimeError(f"hook '{name}' has changed the size of value (was {grad.shape}, "
                           f"got {out.shape})")
    if out.dtype != grad.dtype:
        raise RuntimeError(f"hook '{name}' has changed the type of value (was {grad.dtype} "
                           f"got {out.dtype})")
    return out


def _accumulate(old: Optional[Tensor], new: Tensor) -> Tensor:
    return new if old is None else old + new


def run_backward(roots: Sequence[Tensor], grad_roots: Sequence[Optional[Tensor]],
                 retain_graph: bool, create_graph: bool,
                 capture: Optional[Sequence[Tensor]] = None,
                 accumulate_into: Optional[set[int]] = None) -> dict[int, Tensor]:
    """Backpropagate from ``roots``; return the gradients of the tensors in ``capture``.

    Leaves accumulate into ``.grad`` unless ``capture`` is given (autograd.grad). With
    ``accumulate_into`` only the leaves whose ids are in it accumulate. A recording trace is
    told when the pass begins and ends, so it can file the ops that backward runs.
    """
    tracer = state.tracer
    if tracer is None:
        return _run_backward(roots, grad_roots, retain_graph, create_graph, capture,
                             accumulate_into)
    tracer.on_backward_begin()
    try:
        return _run_backward(roots, grad_roots, retain_graph, create_graph, capture,
                             accumulate_into)
    finally:
        tracer.on_backward_end()


def _run_backward(roots: Sequence[Tensor], grad_roots: Sequence[Optional[Tensor]],
                  retain_graph: bool, create_graph: bool, capture: Optional[Sequence[Tensor]],
                  accumulate_into: Optional[set[int]]) -> dict[int, Tensor]:
    # gradients of non-leaf tensors, keyed by producing node and output index (``_key``): the
    # tensors themselves may be freed as nodes release their inputs during this backward
    grads: dict[Any, Tensor] = {}
    captured: dict[int, Tensor] = {}
    # ids of arrays that must not become a leaf's .grad uncopied: the root gradients, then
    # every array already given to a leaf
    owned: set[int] = {id(g._data) for g in grad_roots}
    capture_ids = {id(t) for t in capture} if capture is not None else None
    root_fns = []
    for root, g in zip(roots, grad_roots):
        if root.grad_fn is None:
            if capture_ids is not None and id(root) in capture_ids:
                captured[id(root)] = _accumulate(captured.get(id(root)), g)
            elif capture_ids is None:
                _accumulate_leaf(root, g, accumulate_into, owned)
            continue
        key = _key(root.grad_fn, root._out_idx)
        grads[key] = _accumulate(grads.get(key), g)
        root_fns.append(root.grad_fn)
    order = _topological_order(root_fns)
    needed: Optional[set[int]] = None
    if capture_ids is not None or accumulate_into is not None:
        targets = capture_ids if capture_ids is not None else accumulate_into
        needed = _needed(order, targets)  # type: ignore[arg-type]
        # producers of captured non-leaf tensors are visited too, to read their gradient
        producers = {id(t.grad_fn) for t in capture or () if t.grad_fn is not None}
        order = [fn for fn in order if id(fn) in needed or id(fn) in producers]
    tracer, anomaly = state.tracer, state.anomaly
    check_nan = anomaly and state.anomaly_check_nan
    # the formula (``backward``, on Tensors) runs when the backward is recorded or traced; else a
    # declared first-order path (``fast_backward``, on arrays) runs where an op has one
    composing = create_graph or tracer is not None
    pop = grads.pop
    prev_mode = state.grad_enabled
    state.grad_enabled = create_graph
    try:
        for fn in order:
            if needed is not None and id(fn) not in needed:
                _capture_outputs(fn, grads, captured, capture_ids)
                continue
            if len(fn.outputs) == 1:  # almost every node: one output, keyed by the node
                g = pop(fn, None)
                if g is None:
                    continue
                out = fn.outputs[0]()
                if fn._hooks is not None or (out is not None and (
                        out._retains_grad or capture_ids is not None)):
                    g = _output_grad(fn, 0, g, out, create_graph, capture_ids, captured)
                gys: Any = (g,)
            else:
                gys = _multi_output_grads(fn, grads, create_graph, capture_ids, captured)
                if gys is None:
                    continue
            if fn._freed:
                raise RuntimeError(freed_graph_message(fn.name()))
            if state.clock != fn._clock:
                fn._check_versions()
            try:
                fast = fn.fast_backward
                if fast is None or (composing and not fn.first_order_only):
                    gxs = fn.backward(*gys)
                    if type(gxs) is not tuple:
                        gxs = (gxs,)
                else:
                    if create_graph:
                        raise RuntimeError(
                            f"{fn.name()}: {type(fn).__name__} has a first-order backward only; "
                            f"it cannot be differentiated twice (create_graph=True)"
                            f"{fn.double_backward_hint}")
                    gxs = fast(gys[0]._data) if len(gys) == 1 else fast(*[g._data for g in gys])
                    # its arrays as constant Tensors (inlined: this runs once per node)
                    if type(gxs) is tuple:
                        gxs = tuple([None if a is None else _new(a, None, 0, False)
                                     for a in gxs])
                    else:
                        gxs = (None if gxs is None else _new(gxs, None, 0, False),)
            except Exception as err:
                if anomaly and hasattr(err, "add_note"):  # Python >= 3.11
                    # as torch's anomaly mode: say which forward call made the failing node
                    err.add_note(f"Error detected in {fn.name()}. The forward call that "
                                 f"created it: {fn._site}")
                raise
            inputs = fn.inputs
            if len(gxs) != len(inputs):
                raise RuntimeError(f"function {fn.name()} returned an incorrect number of "
                                   f"gradients (expected {len(inputs)}, got {len(gxs)})")
            if check_nan:
                _check_finite(fn, gxs)
            if tracer is not None:
                tracer.on_backward(fn, tuple(gys), gxs)
            # drop the incoming gradient: a leaf may then take a view of it uncopied (the
            # weight gradient of nn.Linear's addmm comes through weight.t()'s node)
            g = gys = None
            for t, gx in zip(inputs, gxs):
                if gx is None or t is None or not t._requires_grad:
                    continue
                if gx._data.shape != t._data.shape:
                    raise RuntimeError(
                        f"Function {fn.name()} returned an invalid gradient at index "
                        f"{next(i for i, u in enumerate(inputs) if u is t)} - got {list(gx.shape)} but expected shape "
                        f"compatible with {list(t.shape)}")
                producer = t.grad_fn
                if producer is not None:
                    # _key(producer, t._out_idx), inlined: this runs once per edge
                    key = producer if t._out_idx == 0 else (producer, t._out_idx)
                    prev = grads.get(key)
                    grads[key] = gx if prev is None else prev + gx
                elif capture_ids is not None:
                    if id(t) in capture_ids:
                        captured[id(t)] = _accumulate(captured.get(id(t)),
                                                      _run_hooks(t._hooks, gx))
                else:
                    _accumulate_leaf(t, gx, accumulate_into, owned)
            if not retain_graph:
                fn._release()
    finally:
        state.grad_enabled = prev_mode
    return captured


_new = Tensor._new  # bound once: a fast backward's arrays become Tensors through it


def _output_grad(fn: Function, i: int, g: Tensor, out: Optional[Tensor], create_graph: bool,
                 capture_ids: Optional[set[int]], captured: dict) -> Tensor:
    """The complete gradient of ``fn``'s output ``i``: run its hooks, fill ``retain_grad``'s
    ``.grad`` and a captured output's slot (``autograd.grad`` on a non-leaf)."""
    if fn._hooks is not None and i in fn._hooks:
        g = _run_hooks(fn._hooks[i], g)
    if out is not None:
        if out._retains_grad:  # a copy: .grad must not alias other arrays
            out._grad = _accumulate(
                out._grad, g if create_graph else Tensor._const(g._data.copy()))
        if capture_ids is not None and id(out) in capture_ids:
            captured[id(out)] = g
    return g


def _multi_output_grads(fn: Function, grads: dict, create_graph: bool,
                        capture_ids: Optional[set[int]], captured: dict) -> Optional[list]:
    """The output gradients of a node with several outputs (None: no output got one).

    An output nobody used gets a zero gradient of its shape (None for an output that is not
    a Tensor, or when the node asks not to materialize gradients: ``set_materialize_grads``).
    """
    gys: list[Any] = []
    found = False
    for i, ref in enumerate(fn.outputs):
        g = grads.pop(_key(fn, i), None)
        if g is not None:
            found = True
            g = _output_grad(fn, i, g, ref(), create_graph, capture_ids, captured)
        gys.append(g)
    if not found or not fn._materialize_grads:
        return gys if found else None
    for i, g in enumerate(gys):
        if g is None:  # an output nobody used: its gradient is zero
            meta = _output_meta(fn, i, fn.outputs[i]())
            if meta is not None:
                gys[i] = Tensor(xp.zeros(meta[0], meta[1]))
    return gys


def _output_meta(fn: Function, i: int, out: Optional[Tensor]) -> tuple[Any, Any]:
    if out is not None:
        return out.shape, out.dtype
    meta = getattr(fn, "output_meta", None)
    if meta is None:
        raise RuntimeError(f"{fn.name()}: output {i} was freed and has no recorded shape")
    return meta[i]


def _exclusive(data: Any, owned: set[int]) -> bool:
    """Whether nothing but this gradient can see ``data``, so a leaf may take it uncopied.

    An array qualifies when it is writeable, not already given away (``owned``), and either
    owns its memory or is a whole-buffer view (e.g. a reshape) of a temporary that nothing
    else refers to: the only references to that base are ``data.base``, the local name and
    getrefcount's argument.
    """
    if id(data) in owned or not data.flags.writeable:
        return False
    base = data.base
    if base is None:
        return True
    return (type(base) is xp.ndarray and base.base is None and data.flags.c_contiguous
            and data.nbytes == base.nbytes and sys.getrefcount(base) <= 3)


def _accumulate_leaf(t: Tensor, g: Tensor, only: Optional[set[int]],
                     owned: set[int]) -> None:
    """Add ``g`` to ``t.grad`` (a leaf), taking ``g``'s array without a copy when it is safe.

    Like PyTorch's AccumulateGrad, a gradient array is stolen when nothing else can see it: it
    is not a view, not the root gradient, and not already handed to another leaf (``owned``
    holds the ids of arrays given away in this pass). Otherwise it is copied, so a leaf's
    ``.grad`` never aliases memory that other code may still use or modify.
    """
    if only is not None and id(t) not in only:
        return
    g = _run_hooks(t._hooks, g)
    if t._grad is None:
        if g.grad_fn is not None:  # create_graph: keep the graph in .grad, as PyTorch does
            t._grad = g
            return
        data = g._data
        if not _exclusive(data, owned):
            data = data.copy()
        owned.add(id(data))
        t._grad = Tensor._const(data)
    else:
        # out of place, unlike PyTorch's in-place ``grad += new``: an in-place write would
        # stamp the version clock mid-backward, so every node still to run (and every graph
        # built before) would re-check its inputs' versions (+8% backward instructions on
        # the chain benchmark when .grad is kept between passes)
        t._grad = t._grad + g


def _check_finite(fn: Function, gxs: Sequence[Optional[Tensor]]) -> None:
    for i, g in enumerate(gxs):
        if g is not None and g._data.dtype.kind == "f" and not xp.isfinite(g._data).all():
            kind = "nan" if xp.isnan(g._data).any() else "inf"
            raise RuntimeError(
                f"Function '{fn.name()}' returned {kind} values in its {i}th output. "
                f"The forward call that created it: {fn._site}")


def _as_grad(root: Tensor, g: Any) -> Tensor:
    if g is None:
        if root._data.size != 1:
            raise RuntimeError(
                f"grad can be implicitly created only for scalar outputs (got a tensor of "
                f"shape {root.shape}); pass `gradient=` to backward")
        return Tensor(xp.ones_like(root._data))
    if not isinstance(g, Tensor):
        g = Tensor(xp.asarray(g, dtype=root.dtype))
    if g.shape != root.shape:
        raise RuntimeError(f"Mismatch in shape: grad_output has a shape of {g.shape} and "
                           f"output has a shape of {root.shape}")
    if g.dtype != root.dtype:  # as PyTorch: the gradient takes the output's dtype
        g = g.to(root.dtype)
    return g


def _check_roots(roots: Sequence[Tensor]) -> None:
    for r in roots:
        if not isinstance(r, Tensor):
            raise TypeError(f"backward expects Tensors, got {type(r).__name__}")
        if not r.requires_grad:
            raise RuntimeError(
                "element 0 of tensors does not require grad and does not have a grad_fn")


def backward(tensors: Union[Tensor, Sequence[Tensor]], grad_tensors: Any = None,
             retain_graph: Optional[bool] = None, create_graph: bool = False,
             inputs: Union[Tensor, Sequence[Tensor], None] = None) -> None:
    """Accumulate into the leaves' ``.grad`` the gradient of ``tensors`` (like torch).

    ``tensors`` and ``grad_tensors`` may each be one Tensor or a sequence of them.
    """
    tensors = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    if isinstance(grad_tensors, Tensor):
        grad_tensors = [grad_tensors]
    if isinstance(inputs, Tensor):
        inputs = [inputs]
    _check_roots(tensors)
    if grad_tensors is None:
        grad_tensors = [None] * len(tensors)
    grads = [_as_grad(t, g) for t, g in zip(tensors, grad_tensors)]
    if retain_graph is None:
        retain_graph = create_graph
    only = {id(t) for t in inputs} if inputs is not None else None
    run_backward(tensors, grads, retain_graph, create_graph, accumulate_into=only)


def grad(outputs: Any, inputs: Any, grad_outputs: Any = None,
         retain_graph: Optional[bool] = None, create_graph: bool = False,
         allow_unused: bool = False) -> tuple[Optional[Tensor], ...]:
    """Return the gradients of ``outputs`` with respect to ``inputs`` (no ``.grad`` is touched).

    Args:
        outputs: a Tensor or a sequence of Tensors to differentiate.
        inputs: a Tensor or a sequence of Tensors to differentiate with respect to.
        grad_outputs: the vector in the vector-Jacobian product (default ones for scalars).
        retain_graph: keep the graph (default: ``create_graph``).
        create_graph: record the backward pass, for higher derivatives.
        allow_unused: return None for an input the outputs do not depend on, instead of
            raising.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor(3.0, requires_grad=True)
        >>> (dx,) = cr.autograd.grad(x ** 3, x, create_graph=True)
        >>> (ddx,) = cr.autograd.grad(dx, x)
        >>> dx.item(), ddx.item()
        (27.0, 18.0)
    """
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    _check_roots(outputs)
    for t in inputs:
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs]
    grads = [_as_grad(t, g) for t, g in zip(outputs, grad_outputs)]
    if retain_graph is None:
        retain_graph = create_graph
    captured = run_backward(outputs, grads, retain_graph, create_graph, capture=inputs)
    result = []
    for t in inputs:
        g = captured.get(id(t))
        if g is None and not allow_unused:
            raise RuntimeError("One of the differentiated Tensors appears to not have been "
                               "used in the graph. Set allow_unused=True if this is the "
                               "desired behavior.")
        if g is not None and not create_graph:
            g = g.detach()
        result.append(g)
    return tuple(result)
