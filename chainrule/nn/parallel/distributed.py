"""``DistributedDataParallel``: one model replica per rank, gradients averaged after backward.

At wrap time rank 0's parameters and buffers are broadcast, so every rank starts alike. Each
forward runs the wrapped module on this rank's shard and *arms* the reducer: it walks the new
graph once from the outputs and counts, per parameter, the edges that will bring it a gradient.
Each parameter holds a hook (``Tensor.register_hook``) that counts its gradient contributions
down; when a parameter's last one arrives, its total (``.grad`` so far plus this one) goes to
its bucket. A bucket (parameters in reverse registration order, at most ``bucket_cap_mb``, one
dtype) is all-reduced as one flat array, started with MPI's non-blocking Iallreduce as soon as
it and the buckets before it are complete, so communication overlaps the rest of backward when
the model has several buckets. The last parameter's hook waits for every bucket, divides by the
world size and sets each ``.grad`` to its averaged slice (the hook returns its own: the engine
then stores it). So after ``loss.backward()`` every rank holds the same averaged gradients, as
PyTorch's DDP gives them, and ``optimizer.step()`` keeps the replicas identical.

Why hooks and a count: chainrule's engine has no post-accumulate-grad hook and no end-of-backward
callback; a leaf's hook sees each contribution before it is added. Counting the graph's edges
makes the last contribution known without either. What follows from it:

- a parameter the forward did not use (on this rank) joins its bucket with its current
  ``.grad`` (or zeros): the ranks always agree; a parameter no rank used gets a zero gradient
  (PyTorch leaves it None). ``find_unused_parameters`` is accepted and never needed;
- every gradient must reach the parameters through the DDP module's outputs in one backward
  (a loss term using ``model.module``'s parameters directly is an error, not a silent miss);
- a forward whose output never gets a backward is forgotten at the next forward; a backward
  that left some parameters without their gradient (an output left out of the loss) makes the
  next forward raise, as PyTorch's "Expected to have finished reduction";
- ``autograd.grad`` through a DDP forward is not reduced (use ``no_sync`` for it).

``no_sync()`` skips the arming (gradient accumulation: the next synchronised backward averages
the accumulated sum). Dropout layers inside get ``batch_shard = (rank, world_size)``
(``global_batch_dropout``): each draws the global batch's mask and keeps its rows, so the ranks
drop what one process would (see :mod:`chainrule.nn.dropout`). In a world of one nothing of
this happens: the wrapper only calls the module.
"""
from __future__ import annotations

import contextlib
from typing import Any, Iterator, Optional

from ... import distributed as dist
from ...autograd.grad_mode import is_grad_enabled
from ...autograd.tensor import Tensor, tensors_in
from ...backend import xp
from ..dropout import Dropout, Dropout1d, Dropout2d
from ..module import Module


class _Bucket:
    """Parameters reduced together: their indices, offsets in the flat array, dtype, size."""

    def __init__(self, dtype: Any) -> None:
        self.dtype = dtype
        self.indices: list[int] = []
        self.offsets: list[int] = []
        self.numel = 0


class _Pass:
    """One armed backward pass: contributions still expected per parameter, parameters still
    expected per bucket, the totals waiting for their bucket, the flat arrays in flight."""

    def __init__(self, left: list[int], buckets: list[_Bucket]) -> None:
        self.left = left
        self.pending = [sum(1 for i in b.indices if left[i] > 0) for b in buckets]
        self.totals: dict[int, Any] = {}
        self.flats: list[Any] = []
        self.works: list[Any] = []
        self.launched = 0
        self.fired = False


class DistributedDataParallel(Module):
    """Data-parallel training over MPI: each rank runs ``module`` on its shard of the global
    batch and, during backward, the gradients are averaged over the ranks (as
    ``torch.nn.parallel.DistributedDataParallel``).

    Args:
        module: the model; the same architecture on every rank (checked at wrap time).
        device_ids, output_device, dim, check_reduction, gradient_as_bucket_view,
            static_graph: accepted for PyTorch compatibility (CPU only; no effect).
        broadcast_buffers: broadcast rank 0's buffers (BatchNorm's running statistics) before
            each forward, as PyTorch.
        process_group: only None (every rank).
        bucket_cap_mb: the most megabytes (MiB) of gradients per Allreduce (default 25).
        find_unused_parameters: accepted; unused parameters are always found (see above).
        global_batch_dropout: set ``batch_shard`` on the Dropout layers inside, so the ranks
            draw the global batch's masks (each rank must hold an equal shard, rows
            ``rank::world_size`` of the global batch, as ``DistributedSampler`` deals them).

    Attributes:
        module: the wrapped model; ``module.state_dict()`` has the unwrapped keys (this
            wrapper's keys start with ``module.``, as PyTorch's).

    Shape:
        Those of ``module``.

    Example:
        >>> import chainrule as cr
        >>> model = cr.nn.parallel.DistributedDataParallel(cr.nn.Linear(3, 2))  # a world of one
        >>> model(cr.ones(4, 3)).shape
        (4, 2)
        >>> list(model.state_dict())
        ['module.weight', 'module.bias']
    """

    def __init__(self, module: Module, device_ids: Any = None, output_device: Any = None,
                 dim: int = 0, broadcast_buffers: bool = True, process_group: Any = None,
                 bucket_cap_mb: Optional[float] = None, find_unused_parameters: bool = False,
                 check_reduction: bool = False, gradient_as_bucket_view: bool = False,
                 static_graph: bool = False, *, global_batch_dropout: bool = True) -> None:
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: expected an nn.Module, got "
                            f"{type(module).__name__}")
        if process_group is not None:
            raise ValueError("DistributedDataParallel: process_group must be None (the "
                             "default group: every rank)")
        if bucket_cap_mb is not None and not bucket_cap_mb > 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be positive, got "
                             f"{bucket_cap_mb!r}")
        self.module = module
        self.world_size = dist.get_world_size()
        self.rank = dist.get_rank()
        self.broadcast_buffers = broadcast_buffers
        self.bucket_cap_mb = 25.0 if bucket_cap_mb is None else float(bucket_cap_mb)
        self.find_unused_parameters = find_unused_parameters
        self.require_backward_grad_sync = True
        self.global_batch_dropout = global_batch_dropout
        seen: set[int] = set()
        self._params: list[Tensor] = []
        self._names: list[str] = []
        for name, p in module.named_parameters():
            if p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                self._params.append(p)
                self._names.append(name)
        self._index = {id(p): i for i, p in enumerate(self._params)}
        self._buckets: list[_Bucket] = []
        self._bucket_index: dict[int, int] = {}
        self._hooks: list[Any] = []
        self._pass: Optional[_Pass] = None
        self._reduced = False  # this iteration's gradients are reduced: no more may come
        if self.world_size == 1:
            return  # a world of one: the wrapper only calls the module
        self._check_same_model()
        self._broadcast_states(include_parameters=True)
        self._buckets = self._make_buckets()
        self._bucket_index = {j: b for b, bucket in enumerate(self._buckets)
                              for j in bucket.indices}
        self._hooks = [p.register_hook(self._make_hook(i)) for i, p in enumerate(self._params)]
        if global_batch_dropout:
            for m in module.modules():
                if isinstance(m, (Dropout, Dropout1d, Dropout2d)):
                    m.batch_shard = (self.rank, self.world_size)

    # ------------------------------------------------------------------ wrap time
    def _check_same_model(self) -> None:
        """Every rank's parameters and buffers have the same names, shapes and dtypes."""
        mine = [(n, tuple(t.shape), str(t.dtype)) for n, t in self.module.state_dict().items()]
        everyone: list[Any] = [None] * self.world_size
        dist.all_gather_object(everyone, mine)
        for r, theirs in enumerate(everyone):
            if theirs != mine:
                diff = next((a, b) for a, b in zip(mine + [None], theirs + [None]) if a != b)
                raise dist.DistributedError(
                    f"DistributedDataParallel: rank {r}'s model differs from rank "
                    f"{self.rank}'s (here {diff[0]}, there {diff[1]}): every rank must wrap "
                    f"the same architecture")

    def _broadcast_states(self, include_parameters: bool) -> None:
        """Rank 0's buffers (and parameters) to every rank: one Bcast per dtype."""
        tensors = [b for b in self.module.buffers() if b is not None]
        if include_parameters:
            tensors = list(self.module.parameters()) + tensors
        by_dtype: dict[Any, list[Tensor]] = {}
        for t in tensors:
            by_dtype.setdefault(t.dtype, []).append(t)
        for dtype, group in by_dtype.items():
            flat = Tensor(xp.concatenate([t._data.reshape(-1) for t in group]))
            dist.broadcast(flat, src=0)
            offset = 0
            for t in group:
                n = t._data.size
                t._data[...] = flat._data[offset:offset + n].reshape(t.shape)
                t._version += 1
                offset += n

    def _make_buckets(self) -> list[_Bucket]:
        """Parameters in reverse registration order (about the order backward finishes
        them), cut at ``bucket_cap_mb`` and at a change of dtype."""
        cap = self.bucket_cap_mb * 2 ** 20
        buckets: list[_Bucket] = []
        for i in reversed(range(len(self._params))):
            p = self._params[i]
            b = buckets[-1] if buckets else None
            nbytes = p._data.nbytes
            if b is None or b.dtype != p.dtype or (
                    b.numel and (b.numel * p._data.itemsize + nbytes) > cap):
                b = _Bucket(p.dtype)
                buckets.append(b)
            b.indices.append(i)
            b.offsets.append(b.numel)
            b.numel += p._data.size
        return buckets

    # ------------------------------------------------------------------ forward
    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        if self.world_size == 1:
            return self.module(*inputs, **kwargs)
        self._check_previous_pass()
        self._reduced = False
        if self.broadcast_buffers:
            self._broadcast_states(include_parameters=False)
        out = self.module(*inputs, **kwargs)
        if self.require_backward_grad_sync and is_grad_enabled():
            self._arm(out)
        return out

    def _check_previous_pass(self) -> None:
        st = self._pass
        if st is None:
            return
        self._pass = None
        if st.fired:  # a backward began and left parameters without their gradient
            missing = [self._names[i] for i, n in enumerate(st.left) if n > 0]
            raise dist.DistributedError(
                f"DistributedDataParallel: expected to have finished reduction in the prior "
                f"iteration before starting a new one: parameters {missing[:8]} got no "
                f"gradient in that backward (an output of the module left out of the loss?). "
                f"Every output that depends on them must be part of the loss")

    def _arm(self, out: Any) -> None:
        """Count, per parameter, the graph edges that will bring it a gradient."""
        index = self._index
        left = [0] * len(self._params)
        stack = []
        for t in tensors_in(out):
            if t.grad_fn is not None:
                stack.append(t.grad_fn)
            elif id(t) in index and t.requires_grad:
                left[index[id(t)]] += 1  # a parameter returned as it is
        seen: set[int] = set()
        while stack:
            fn = stack.pop()
            if id(fn) in seen:
                continue
            seen.add(id(fn))
            inputs = getattr(fn, "inputs", None) or ()
            needs = getattr(fn, "needs_input_grad", None) or (True,) * len(inputs)
            for t, need in zip(inputs, needs):
                if t is None or not need or not t.requires_grad:
                    continue
                producer = t.grad_fn
                if producer is None:
                    i = index.get(id(t))
                    if i is not None:
                        left[i] += 1
                elif id(producer) not in seen:
                    stack.append(producer)
        if any(left):
            self._pass = _Pass(left, self._buckets)

    # ------------------------------------------------------------------ backward
    def _make_hook(self, i: int) -> Any:
        def ddp_reduce_hook(grad: Tensor) -> Optional[Tensor]:
            return self._on_grad(i, grad)
        return ddp_reduce_hook

    def _on_grad(self, i: int, grad: Tensor) -> Optional[Tensor]:
        st = self._pass
        if st is None and not self._reduced:  # not armed: no_sync, or no forward yet
            return None
        if st is None or st.left[i] <= 0:
            self._pass, self._reduced = None, False
            raise dist.DistributedError(
                f"DistributedDataParallel: parameter '{self._names[i]}' got a gradient after "
                f"its reduction: every gradient must reach the parameters through the DDP "
                f"module's outputs, in one backward per forward (a loss term on .module's "
                f"parameters, or a second backward through the same forward?)")
        st.fired = True
        st.left[i] -= 1
        if st.left[i] > 0:
            return None  # more contributions to come: the engine adds this one
        p = self._params[i]
        prev = p.grad
        st.totals[i] = grad._data if prev is None else prev._data + grad._data
        b = self._bucket_index[i]
        st.pending[b] -= 1
        while st.launched < len(self._buckets) and st.pending[st.launched] == 0:
            self._launch(st, st.launched)
            st.launched += 1
        if st.launched < len(self._buckets):
            if st.works:
                st.works[0].is_completed()  # let MPI progress the buckets in flight
            return None  # the engine stores the local total; the last hook replaces it
        return self._finish(st, i)

    def _launch(self, st: _Pass, b: int) -> None:
        """Copy bucket b's totals into a fresh flat array and start its Allreduce."""
        bucket = self._buckets[b]
        flat = xp.empty(bucket.numel, bucket.dtype)
        for j, off in zip(bucket.indices, bucket.offsets):
            p = self._params[j]
            n = p._data.size
            total = st.totals.pop(j, None)
            if total is None and p.grad is None:  # not used by this rank's forward
                flat[off:off + n] = 0
            else:  # its total, or (not used by this rank's forward) its .grad so far
                flat[off:off + n] = (p.grad._data if total is None else total).reshape(-1)
        st.flats.append(flat)
        st.works.append(dist.all_reduce_array(flat, dist.ReduceOp.SUM, async_op=True))

    def _finish(self, st: _Pass, current: int) -> Tensor:
        """Wait for every bucket, average, and set each ``.grad`` to its slice; the current
        parameter's slice is returned to the engine, which stores it."""
        self._pass, self._reduced = None, True
        world = xp.asarray(self.world_size)
        mine = None
        for bucket, flat, work in zip(self._buckets, st.flats, st.works):
            work.wait()
            flat /= world.astype(flat.dtype)
            for j, off in zip(bucket.indices, bucket.offsets):
                p = self._params[j]
                g = Tensor(flat[off:off + p._data.size].reshape(p.shape))
                if j == current:
                    mine = g
                    p.grad = None  # the engine stores the returned gradient as .grad
                else:
                    p.grad = g
        return mine  # type: ignore[return-value]

    # ------------------------------------------------------------------ the rest
    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Forwards inside do not reduce their backward: gradients accumulate locally, and
        the first synchronised backward after averages the accumulated sum.

        Example:
            >>> import chainrule as cr
            >>> model = cr.nn.parallel.DistributedDataParallel(cr.nn.Linear(2, 1))
            >>> with model.no_sync():
            ...     model(cr.ones(1, 2)).sum().backward()
            >>> model(cr.ones(1, 2)).sum().backward()
            >>> model.module.bias.grad.tolist()
            [2.0]
        """
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old

    def remove_hooks(self) -> None:
        """Unregister the gradient hooks and the dropout sharding (the module is then an
        ordinary model again)."""
        for h in self._hooks:
            h.remove()
        self._hooks = []
        self._pass, self._reduced = None, False
        for m in self.module.modules():
            if isinstance(m, (Dropout, Dropout1d, Dropout2d)):
                m.batch_shard = None

    def extra_repr(self) -> str:
        return f"world_size={self.world_size}, rank={self.rank}"
