"""DistributedDataParallel: one model replica per process, gradients averaged in backward.

NOTE [ DDP gradient buckets ]
Parameters are grouped, in reverse registration order (about the order backward produces
their gradients), into flat buckets of one dtype and device, at most ``bucket_cap_mb`` each
(the first 1 MiB, so communication starts early). Each parameter's post-accumulate-grad hook
copies its gradient into its bucket; when a bucket is full it is all-reduced (averaged)
asynchronously, buckets always in the same order on every rank so that the collectives match.
When the last bucket is started, the hook waits for them all and copies the averages back
into ``.grad``, before ``backward()`` returns. ``forward`` arms this once per iteration;
inside ``no_sync()`` it does not, and gradients accumulate locally until the next synced
backward averages the sums. Inside a distributed-autograd context, ``dist_autograd.backward``
runs the same hooks, and the gradients read and averaged are the context's, as PyTorch's
reducer does. A communication hook (``register_comm_hook``) replaces the averaging all-reduce
of each bucket; its Future's value is copied back into the bucket.

Inside ``join()`` (NOTE [ Join: shadowing the collectives of the ranks still training ]) each
forward first notifies the join context, then all-reduces whether the backward will sync, so
that the joined ranks know whether to shadow the buffer broadcast and the bucket all-reduces
(with zero gradients, whose results they discard, as PyTorch does).
"""
from __future__ import annotations

import contextlib
import weakref
from typing import Any, Iterator

from ember._tensor import Tensor, _make
from ember.autograd.function import AccumulateGrad
from ember.autograd.grad_mode import is_grad_enabled, no_grad
from ember.distributed import autograd as dist_autograd
from ember.distributed import collectives
from ember.distributed.algorithms.join import Join, Joinable, JoinHook
from ember.distributed.grad_bucket import GradBucket
from ember.distributed.messages import all_gather_object
from ember.distributed.process_group import ProcessGroup, resolve
from ember.distributed.work import Future, ReduceOp
from ember.nn.modules.module import Module

__all__ = ["DistributedDataParallel"]

_MB = 1024 * 1024
_FIRST_BUCKET_BYTES = 1 * _MB
_DEFAULT_BUCKET_MB = 25


class _Bucket:
    """A flat gradient buffer for ``indices`` (positions in the DDP's parameter list)."""

    def __init__(self, indices: list, params: list) -> None:
        self.indices = indices
        self.offsets = []
        total = 0
        for i in indices:
            self.offsets.append(total)
            total += params[i].numel()
        first = params[indices[0]]
        self.flat = _make(first._xp.zeros(total, first._data.dtype))
        self.pending = len(indices)
        self.work = None

    def slot(self, position: int, param: Tensor):
        start = self.offsets[position]
        return self.flat._data[start:start + param.numel()]


def _assign_buckets(params: list, cap_bytes: int, first_cap: int) -> list:
    """Lists of parameter indices, reverse order, split by size and by (dtype, device)."""
    done, open_ = [], {}
    for i in reversed(range(len(params))):
        p = params[i]
        key = (str(p._data.dtype), str(p.device))
        indices, size = open_.get(key, ([], 0))
        indices.append(i)
        size += p._data.nbytes
        if size >= (first_cap if not done else cap_bytes):
            done.append(indices)
            open_.pop(key, None)
        else:
            open_[key] = (indices, size)
    return done + [indices for indices, _ in open_.values()]


def _tensors(obj) -> Iterator[Tensor]:
    if isinstance(obj, Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            yield from _tensors(item)
    elif isinstance(obj, dict):
        for item in obj.values():
            yield from _tensors(item)


def _reachable_leaves(outputs) -> set:
    """ids of the leaf tensors whose gradients the graph of ``outputs`` can produce."""
    seen, found, stack = set(), set(), []
    for t in _tensors(outputs):
        if t.grad_fn is not None:
            stack.append(t.grad_fn)
        elif t.requires_grad:
            found.add(id(t))
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, AccumulateGrad):
            found.add(id(node.variable))
        stack.extend(nxt for nxt, _ in node.next_functions if nxt is not None)
    return found


def _to_device(obj, device):
    if isinstance(obj, Tensor):
        return obj.to(device)
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_device(item, device) for item in obj)
    if isinstance(obj, dict):
        return {k: _to_device(v, device) for k, v in obj.items()}
    return obj


def _current_grad(param: Tensor) -> Tensor | None:
    """The gradient backward has just produced: in a distributed backward pass the context's
    (PyTorch's reducer reads and writes those there), else ``.grad``."""
    context = dist_autograd._current_context()
    return param.grad if context is None else context.gradient(param)


def _grad_hook(ref: weakref.ref, i: int):
    def hook(param: Tensor) -> None:
        ddp = ref()
        if ddp is not None:
            ddp._grad_ready(i)
    hook._in_dist_autograd = True  # dist_autograd.backward runs it too (as PyTorch's reducer's)
    return hook


class _DDPJoinHook(JoinHook):
    """DDP's part of ``Join``: a joined rank shadows the buffer broadcast and the bucket
    all-reduces of each training iteration, and finally takes the last joiner's model."""

    def __init__(self, ddp: "DistributedDataParallel", divide_by_initial_world_size: bool):
        self.ddp = ddp
        ddp._divide_by_initial_world_size = divide_by_initial_world_size

    def main_hook(self) -> None:
        ddp = self.ddp
        if not ddp._agree_to_sync(False):
            return  # the ranks still training ran a forward that will not sync
        if ddp.broadcast_buffers:
            ddp._sync_buffers(joined=True)
        for index, bucket in enumerate(ddp._buckets):
            bucket.flat._data[...] = 0
            ddp._reduce_bucket(index)
        for bucket in ddp._buckets:
            ddp._wait_bucket(bucket)
        if ddp.find_unused_parameters:
            ddp._all_used(set(range(len(ddp._params))))

    def post_hook(self, is_last_joiner: bool) -> None:
        ddp = self.ddp
        src = ddp._common_rank(is_last_joiner)
        ddp._broadcast([*ddp.module.parameters(), *ddp.module.buffers()], src)


class DistributedDataParallel(Module, Joinable):
    """Data parallelism over the processes of a group, as ``torch.nn.parallel``'s.

    At construction rank 0's parameters and buffers are broadcast to every rank; during
    ``backward`` the gradients are averaged over the ranks in buckets (NOTE [ DDP gradient
    buckets ]), so that every replica takes the same optimizer step. ``state_dict`` keys carry
    the ``module.`` prefix, as in PyTorch.

    Args:
        module: the replica to train.
        device_ids: None for CPU modules; for a CUDA module, its one device.
        output_device, dim: accepted for PyTorch compatibility (one device per process).
        broadcast_buffers: broadcast rank 0's buffers at the start of each synced forward.
        init_sync: broadcast rank 0's parameters and buffers at construction.
        process_group: the group to average over (default: the world).
        bucket_cap_mb: the bucket size (default 25 MiB).
        find_unused_parameters: find, after each forward, the parameters its output does not
            depend on and treat their gradients as ready, so that backward can finish.
        check_reduction, gradient_as_bucket_view, static_graph: accepted; no effect.

    Uneven inputs: inside ``with model.join():`` a rank that ran out of batches keeps answering
    the others' collectives (see ``join``).

    Example::

        >>> # mpiexec -n 2 python train.py
        >>> dist.init_process_group("mpi")
        >>> model = DistributedDataParallel(nn.Linear(10, 1))
        >>> model(x).sum().backward()     # .grad now holds the average over both ranks
    """

    def __init__(self, module: Module, device_ids: list | None = None,
                 output_device: Any = None, dim: int = 0, broadcast_buffers: bool = True,
                 init_sync: bool = True, process_group: ProcessGroup | None = None,
                 bucket_cap_mb: float | None = None, find_unused_parameters: bool = False,
                 check_reduction: bool = False, gradient_as_bucket_view: bool = False,
                 static_graph: bool = False) -> None:
        super().__init__()
        Joinable.__init__(self)
        pg = resolve(process_group, "DistributedDataParallel")
        if pg is None:
            raise ValueError("DistributedDataParallel: this process is not in process_group")
        self.module = module
        self.process_group = pg
        self.device_ids = self._check_devices(module, device_ids)
        self.output_device = output_device
        self.dim = dim
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.gradient_as_bucket_view = gradient_as_bucket_view
        self.static_graph = static_graph
        self.require_backward_grad_sync = True
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        self._names = [n for n, _ in named]
        self._params = [p for _, p in named]
        self._check_same_model()
        if init_sync:
            self._broadcast([*module.parameters(), *module.buffers()])
        cap = int((_DEFAULT_BUCKET_MB if bucket_cap_mb is None else bucket_cap_mb) * _MB)
        first = min(cap, _FIRST_BUCKET_BYTES) if bucket_cap_mb is None else cap
        self._buckets = [_Bucket(ix, self._params)
                         for ix in _assign_buckets(self._params, cap, first)]
        self._where = {}  # parameter index -> (bucket, position in it)
        for bucket in self._buckets:
            for position, i in enumerate(bucket.indices):
                self._where[i] = (bucket, position)
        self._armed = False
        self._ready: list = []
        self._unused: list = []
        self._next_bucket = 0
        self._comm_hook = None
        self._comm_hook_state = None
        self._divide_by_initial_world_size = True
        self._active_ranks = None  # inside join(): the ranks still training this iteration
        ref = weakref.ref(self)  # the hooks must not keep a discarded DDP (and its buckets) alive
        for i, p in enumerate(self._params):
            p.register_post_accumulate_grad_hook(_grad_hook(ref, i))

    @staticmethod
    def _check_devices(module: Module, device_ids: list | None) -> list | None:
        kinds = {p.device.type for p in module.parameters()}
        if device_ids is not None and len(list(device_ids)) > 0:
            if kinds != {"cuda"} or len(list(device_ids)) > 1:
                raise ValueError(
                    "DistributedDataParallel device_ids must be None for CPU modules and hold "
                    f"one device for a CUDA module, got {list(device_ids)} for parameters on "
                    f"{sorted(kinds)}")
            return list(device_ids)
        return None

    def _check_same_model(self) -> None:
        mine = [(n, tuple(p.shape), str(p.dtype)) for n, p in zip(self._names, self._params)]
        everyone = [None] * self.process_group.size()
        all_gather_object(everyone, mine, group=self.process_group)
        for rank, theirs in enumerate(everyone):
            if theirs != mine:
                diff = next((f"{a} vs {b}" for a, b in zip(mine, theirs) if a != b),
                            f"{len(mine)} vs {len(theirs)} parameters")
                raise RuntimeError(
                    "DistributedDataParallel expects the same model on every rank, but group "
                    f"rank {self.process_group.rank()} and group rank {rank} differ: {diff}")

    def _broadcast(self, tensors: list, src: int = 0) -> None:
        """Copy group rank ``src``'s values of ``tensors`` to every rank."""
        with no_grad():
            for t in tensors:
                if t.is_contiguous():
                    collectives.broadcast(t, group=self.process_group, group_src=src)
                else:
                    tmp = t.contiguous()
                    collectives.broadcast(tmp, group=self.process_group, group_src=src)
                    t.copy_(tmp)

    def _sync_buffers(self, joined: bool = False) -> None:
        """Broadcast the buffers from group rank 0, or inside ``join()`` from the highest
        rank still training."""
        buffers = list(self.module.buffers())
        if not buffers:
            return
        src = self._common_rank(not joined) if self._join_config.enable else 0
        self._broadcast(buffers, src)

    def _reduced(self, values: list, op: ReduceOp) -> list:
        """``values`` (ints) all-reduced over the group with ``op`` (blocking)."""
        t = _make(self._buckets[0].flat._xp.asarray(values, dtype="int64"))
        collectives.all_reduce(t, op, self.process_group)
        return t._data.tolist()

    def _common_rank(self, candidate: bool) -> int:
        """The highest group rank among the ranks that are ``candidate``s."""
        return self._reduced([self.process_group.rank() if candidate else -1], ReduceOp.MAX)[0]

    def _agree_to_sync(self, sync: bool) -> bool:
        """Inside ``join()``: whether any rank's backward will sync this iteration."""
        return self._reduced([int(sync)], ReduceOp.SUM)[0] > 0

    def join(self, divide_by_initial_world_size: bool = True, enable: bool = True,
             throw_on_early_termination: bool = False) -> Join:
        """The context manager for training with uneven inputs across ranks.

        Inside it, a rank that ran out of batches shadows the collectives of the ranks still
        training, contributing zero gradients, until all ranks ran out; then every rank takes
        the model of the last rank to finish.

        Args:
            divide_by_initial_world_size: average the gradients over the whole group (True,
                as if the joined ranks' gradients were zero) or over the ranks still training.
            enable: False makes the context do nothing.
            throw_on_early_termination: raise on every rank as soon as one rank runs out.

        Example::

            >>> with model.join():
            ...     for x, y in my_uneven_shard:
            ...         loss_fn(model(x), y).backward(); opt.step(); opt.zero_grad()
        """
        return Join([self], enable, throw_on_early_termination,
                    divide_by_initial_world_size=divide_by_initial_world_size)

    def join_hook(self, **kwargs) -> JoinHook:
        """DDP's JoinHook; ``divide_by_initial_world_size`` (default True) as in ``join``."""
        return _DDPJoinHook(self, kwargs.get("divide_by_initial_world_size", True))

    @property
    def join_device(self):
        return self._params[0].device if self._params else self._buckets[0].flat.device

    @property
    def join_process_group(self) -> ProcessGroup:
        return self.process_group

    def register_comm_hook(self, state: object, hook) -> None:
        """Reduce each gradient bucket with ``hook(state, bucket)`` instead of the averaging
        all-reduce; the hook returns a Future of the reduced flat tensor (see
        ``ember.distributed.algorithms.ddp_comm_hooks``). It can be registered once, before
        the first backward.

        Example::

            >>> from ember.distributed.algorithms.ddp_comm_hooks import default_hooks
            >>> model.register_comm_hook(None, default_hooks.fp16_compress_hook)
        """
        if not callable(hook):
            raise TypeError("Communication hook must be callable.")
        if self._comm_hook is not None:
            raise RuntimeError("register_comm_hook or register_builtin_comm_hook can only be "
                               "called once.")
        self._comm_hook, self._comm_hook_state = hook, state

    @contextlib.contextmanager
    def no_sync(self):
        """Inside, backward only accumulates local gradients; the first synced backward after
        it averages the accumulated sums."""
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        if self._armed and any(self._ready):
            missing = [n for n, r in zip(self._names, self._ready) if not r]
            raise RuntimeError(
                "Expected to have finished reduction in the prior iteration before starting a "
                "new one. This error indicates that your module has parameters that were not "
                "used in producing loss. You can enable unused parameter detection by passing "
                "the keyword argument `find_unused_parameters=True` to "
                "`ember.nn.parallel.DistributedDataParallel`. Parameters which did not receive "
                f"grad on group rank {self.process_group.rank()}: {', '.join(missing)}")
        sync = is_grad_enabled() and self.require_backward_grad_sync
        count = Join.notify_join_context(self)
        if count is not None:  # inside join(): the next all-reduce blocks anyway, so wait now
            self._active_ranks = int(count.result()[0].item())
        if self._join_config.enable:
            self._agree_to_sync(sync)
        if sync and self.broadcast_buffers:
            self._sync_buffers()
        if self.device_ids:
            inputs, kwargs = _to_device(inputs, self.device_ids[0]), \
                _to_device(kwargs, self.device_ids[0])
        output = self.module(*inputs, **kwargs)
        self._prepare(output if sync else None)
        return output

    def _prepare(self, output) -> None:
        """Arm the gradient hooks for the backward of ``output`` (disarm when None)."""
        self._armed = output is not None
        self._ready = [False] * len(self._params)
        self._next_bucket = 0
        for bucket in self._buckets:
            bucket.pending, bucket.work = len(bucket.indices), None
        self._unused = []
        if self._armed and self.find_unused_parameters:
            used = _reachable_leaves(output)
            self._unused = [i for i, p in enumerate(self._params) if id(p) not in used]

    def _grad_ready(self, i: int) -> None:
        if not self._armed:
            return
        if self._ready[i]:
            raise RuntimeError(
                f"Expected to mark a variable ready only once; parameter {self._names[i]} got "
                "a gradient twice in one iteration (two backward passes through one forward "
                "need no_sync() or a new forward)")
        if not any(self._ready):
            for j in self._unused:  # their gradients are ready now: local contribution 0
                self._mark(j)
        self._mark(i)

    def _mark(self, i: int) -> None:
        self._ready[i] = True
        bucket, position = self._where[i]
        param = self._params[i]
        slot = bucket.slot(position, param)
        grad = _current_grad(param)
        if grad is None:
            slot[...] = 0
        else:
            slot[...] = grad._data.reshape(-1)
        bucket.pending -= 1
        while (self._next_bucket < len(self._buckets)
               and self._buckets[self._next_bucket].pending == 0):
            self._reduce_bucket(self._next_bucket)
            self._next_bucket += 1
        if self._next_bucket == len(self._buckets):
            self._finish()

    def _reduce_bucket(self, index: int) -> None:
        """Start the reduction of bucket ``index``: the comm hook, or an all-reduce that
        averages (over the group, or inside ``join(divide_by_initial_world_size=False)`` over
        the ranks still training: a sum, divided in ``_finish``)."""
        bucket = self._buckets[index]
        if self._comm_hook is not None:
            grad_bucket = GradBucket(index, bucket.flat,
                                     [self._params[i] for i in bucket.indices], bucket.offsets,
                                     index == len(self._buckets) - 1)
            bucket.work = self._comm_hook(self._comm_hook_state, grad_bucket)
            if not isinstance(bucket.work, Future):
                raise TypeError("A DDP communication hook must return an "
                                f"ember.distributed.Future, got {type(bucket.work).__name__}")
            return
        average = not self._join_config.enable or self._divide_by_initial_world_size
        bucket.work = collectives.all_reduce(bucket.flat, ReduceOp.AVG if average else
                                             ReduceOp.SUM, self.process_group, async_op=True)

    def _wait_bucket(self, bucket: _Bucket) -> None:
        """Wait for the bucket's reduction; its flat buffer then holds the result."""
        work, bucket.work = bucket.work, None
        if isinstance(work, Future):
            result = work.wait()
            if result is not bucket.flat:
                bucket.flat._data[...] = result._data.reshape(-1)
            return
        work.wait()

    def _all_used(self, unused) -> list:
        """Which parameters some rank used (1) this iteration, from each rank's ``unused``."""
        return self._reduced([0 if i in unused else 1 for i in range(len(self._params))],
                             ReduceOp.MAX)

    def _finish(self) -> None:
        """Wait for every bucket and write the averages into ``.grad``."""
        by_active = (self._comm_hook is None and self._join_config.enable
                     and not self._divide_by_initial_world_size)
        for bucket in self._buckets:
            self._wait_bucket(bucket)
            if by_active:
                bucket.flat._data /= self._active_ranks
        used = self._all_used(self._unused) if self.find_unused_parameters else None
        for bucket in self._buckets:
            for position, i in enumerate(bucket.indices):
                if used is not None and not used[i]:
                    continue  # unused on every rank: .grad stays as it was, as in PyTorch
                param = self._params[i]
                value = bucket.slot(position, param).reshape(param.shape)
                context = dist_autograd._current_context()
                if context is not None:
                    context.set_gradient(param, _make(value.copy()))
                elif param.grad is None:
                    param.grad = _make(value.copy())
                else:
                    param.grad._data[...] = value
                    param.grad._bump_version()
        self._armed = False
