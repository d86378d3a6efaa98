"""One FSDP unit's parameters as one flat parameter, sharded over the ranks of a group.

NOTE [ FSDP flat parameter ]
A unit flattens the parameters of the modules it manages, in registration order, into one 1-d
tensor padded with zeros to a multiple of the group size; rank ``r`` keeps block ``r`` as the
unit's ``_flat_param`` (a Parameter: what the optimizer sees and steps). The original
parameters leave the modules' ``_parameters`` and come back as plain attributes that are views
of a gathered copy:

* ``unshard`` all-gathers the shards (in ``param_dtype``) into ``full``, one leaf tensor per
  unit that lives as long as the unit (autograd keeps only a weak reference to a leaf, so a new
  leaf per forward would drop gradients still on their way); ``use_views`` splits ``full`` and
  sets the views as the module attributes, so that backward sums their gradients into
  ``full.grad``.
* ``reshard`` frees the gathered copy: ``full`` and the attributes are rebound to zero-strided
  placeholders of the right shape and dtype (PyTorch resizes the storage to 0 instead).
* Under FULL_SHARD the unit reshards after forward. The views that forward saved for backward
  are packed (``saved_tensors_hooks``) as their place in ``full`` rather than as arrays, and
  unpacking gathers again: memory between forward and backward is one shard per unit. A view
  saved some other way keeps its copy alive, which costs memory, never correctness, since a
  gathered copy is never written after it is freed. A hook on the unit's outputs gathers
  when their gradient arrives and sets differentiable views again (``prepare_backward``), so
  that a forward that checkpointing recomputes in backward reads the parameters and carries
  gradients to ``full``.
* When ``full``'s gradient is complete (its post-accumulate-grad hook) it is reduce-scattered,
  averaged, into a block that is added to ``_flat_param.grad`` (all-reduced under NO_SHARD,
  where the shard is the whole flat parameter). Inside ``no_sync`` the full gradient is
  summed locally instead, and the next synced backward reduces the sum.
* With ``use_orig_params=True`` the original names stay in ``_parameters``, each holding its
  part of this rank's shard (a 1-d view of ``_flat_param``, maybe empty; the whole parameter
  under NO_SHARD), which the optimizer steps; the gathered views shadow them as instance
  attributes while gathered, and the gradient block is split into their ``.grad``.
Every rank builds the same graph, so the collectives of forward and backward come in the same
order on every rank.
"""
from __future__ import annotations

import math
import weakref
from typing import NamedTuple

import ember
from ember._tensor import Tensor, _make
from ember.autograd.grad_mode import enable_grad, no_grad
from ember.distributed import collectives
from ember.distributed.process_group import ProcessGroup
from ember.distributed.tensor._api import DTensor, _dtensor
from ember.distributed.work import ReduceOp
from ember.nn.modules.module import Module
from ember.nn.parameter import Parameter


class ParamSlot(NamedTuple):
    """Where an original parameter lived, and its place in the flat parameter."""

    module: Module
    name: str
    shape: tuple  # the TP-local shape of a tensor-parallel parameter
    offset: int
    numel: int
    tp_layout: tuple | None  # (mesh, placements, global shape) of a tensor-parallel parameter


class _SavedView(NamedTuple):
    """A view of ``full`` saved for backward, kept as its place rather than its values."""

    offset: int
    shape: tuple
    stride: tuple


def _placeholder(shape: tuple, dtype, device) -> Tensor:
    """A tensor of ``shape`` and ``dtype`` that holds one element (NOTE [ FSDP flat parameter ])."""
    return ember.zeros((), dtype=dtype, device=device).expand(shape)


def _tp_layout(param: Tensor) -> tuple | None:
    """(mesh, placements, global shape) of a tensor-parallel DTensor parameter, else None."""
    if not isinstance(param, DTensor):
        return None
    return param.device_mesh, param.placements, tuple(param.shape)


def _reduce_grad_hook(ref: weakref.ref):
    def hook(full: Tensor) -> None:
        handle = ref()
        if handle is not None:
            handle._reduce_grad()
    return hook


class FlatParamHandle:
    """The flat parameter of one unit: its shard, its gathered copy and its gradient's
    reduction (NOTE [ FSDP flat parameter ]).

    Args:
        owners: ``(module, name)`` of each parameter to flatten, in order; a parameter shared
            by several modules is flattened once.
        process_group: the group to shard over.
        sharded: False for NO_SHARD (every rank keeps the whole flat parameter).
        param_dtype, reduce_dtype: mixed precision (None: the parameters' dtype).
        use_orig_params: keep the original parameters, as views of the shard.
    """

    def __init__(self, owners: list, process_group: ProcessGroup, sharded: bool,
                 param_dtype=None, reduce_dtype=None, use_orig_params: bool = False) -> None:
        self.process_group = process_group
        self.sharded = sharded
        self.use_orig_params = use_orig_params
        self.slots: list = []
        self.aliases: list = []  # (module, name, index into slots) of shared parameters
        params: list = []
        seen: dict = {}
        offset = 0
        for module, name in owners:
            param = module._parameters[name]
            if id(param) in seen:
                self.aliases.append((module, name, seen[id(param)]))
                continue
            seen[id(param)] = len(self.slots)
            # a tensor-parallel DTensor flattens its local tensor, as PyTorch's 2-D FSDP
            tp_layout = _tp_layout(param)
            if tp_layout is not None:
                param = param._local_tensor
            self.slots.append(ParamSlot(module, name, tuple(param.shape), offset, param.numel(),
                                        tp_layout))
            params.append(param)
            offset += param.numel()
        self._check_uniform(params, owners)
        first = params[0]
        self.dtype, self.device = first.dtype, first.device
        self.param_dtype = param_dtype or self.dtype
        self.reduce_dtype = reduce_dtype or param_dtype or self.dtype
        self.requires_grad = first.requires_grad
        world = process_group.size() if sharded else 1
        self.numel = offset
        self.padded = math.ceil(offset / world) * world
        self.shard_size = self.padded // world
        with no_grad():
            pieces = [p.detach().reshape(-1) for p in params]
            if self.padded > offset:
                pieces.append(ember.zeros(self.padded - offset, dtype=self.dtype,
                                          device=self.device))
            flat = ember.cat(pieces)
            if sharded:
                start = process_group.rank() * self.shard_size
                flat = flat[start:start + self.shard_size].clone()
        self.flat_param = Parameter(flat, requires_grad=self.requires_grad)
        self.orig_params = self._shard_views() if use_orig_params else []
        for module, name in owners:
            module._parameters.pop(name, None)
        for slot, param in zip(self.slots, self.orig_params):
            slot.module._parameters[slot.name] = param
        for module, name, index in self.aliases:
            if use_orig_params:
                module._parameters[name] = self.orig_params[index]
        self._freed_full = _placeholder((self.padded,), self.param_dtype, self.device)._data
        self._freed_views = [_placeholder(s.shape, self.param_dtype, self.device)
                             for s in self.slots]
        self.full = _make(self._freed_full, requires_grad=self.requires_grad)
        self.unsharded = False
        self.sync_gradients = True
        self._pending_grad = None  # the full gradient summed inside no_sync
        if self.requires_grad:
            self.full.register_post_accumulate_grad_hook(_reduce_grad_hook(weakref.ref(self)))
        self._set_rest_views()

    def _shard_ranges(self) -> list:
        """Per slot, the (start, stop) of its part within this rank's shard (maybe empty)."""
        start = self.process_group.rank() * self.shard_size if self.sharded else 0
        ranges = []
        for slot in self.slots:
            lo = min(max(slot.offset - start, 0), self.shard_size)
            hi = min(max(slot.offset + slot.numel - start, 0), self.shard_size)
            ranges.append((lo, hi))
        return ranges

    def _shard_views(self) -> list:
        """use_orig_params: each original parameter's part of the shard, as a Parameter that
        shares the shard's memory (the whole parameter, shaped, under NO_SHARD)."""
        shard = self.flat_param.detach()
        views = []
        for slot, (lo, hi) in zip(self.slots, self._shard_ranges()):
            piece = shard[lo:hi]
            views.append(Parameter(piece if self.sharded else piece.view(slot.shape),
                                   requires_grad=self.requires_grad))
        return views

    def parameters(self) -> list:
        """What the optimizer steps: the flat shard, or the original parameters' parts."""
        return self.orig_params if self.use_orig_params else [self.flat_param]

    @staticmethod
    def _check_uniform(params: list, owners: list) -> None:
        kinds = {(str(p.dtype), str(p.device), p.requires_grad) for p in params}
        if len(kinds) > 1:
            names = [f"{type(m).__name__}.{n}" for m, n in owners]
            raise ValueError(
                "FSDP flattens a unit's parameters into one, so they need one dtype, device "
                f"and requires_grad, but {names} have {sorted(kinds)}; wrap the differing "
                "modules as their own units (auto_wrap_policy) or freeze whole units")

    # ------------------------------------------------------------------------------------------
    # The gathered copy

    def gather(self, dtype) -> Tensor:
        """The whole padded flat parameter in ``dtype`` (not differentiable). Under NO_SHARD in
        the shard's own dtype it is the flat parameter's own memory."""
        with no_grad():
            local = self.flat_param.detach().to(dtype)
            if not self.sharded:
                return local
            full = ember.empty(self.padded, dtype=dtype, device=self.device)
            collectives.all_gather_into_tensor(full, local, group=self.process_group)
            return full

    def unshard(self) -> None:
        """Gather the parameters (in ``param_dtype``) into ``full``, if not already there."""
        if not self.unsharded:
            self.full._data = self.gather(self.param_dtype)._data
            self.unsharded = True

    def prepare_backward(self) -> None:
        """Before the unit's backward: gather, with views that carry gradients."""
        if not self.unsharded:
            self.unshard()
            with enable_grad():
                self.use_views()

    def reshard(self) -> None:
        """Free the gathered copy (NOTE [ FSDP flat parameter ]). Under NO_SHARD in the
        parameters' dtype, the attributes stay views of the flat parameter, as in PyTorch."""
        self.unsharded = False
        self.full._data = self._freed_full
        self._set_rest_views()

    def _set_rest_views(self) -> None:
        """The attributes while no copy is gathered: the shards' parameters (use_orig_params),
        views of the flat parameter (NO_SHARD), else placeholders."""
        if self.use_orig_params:
            for module, name in self._owners():
                module.__dict__.pop(name, None)
        elif not self.sharded and self.param_dtype == self.dtype:
            with no_grad():
                self.use_views(self.flat_param.detach())
        else:
            self._set(self._freed_views)

    def _owners(self) -> list:
        return [(s.module, s.name) for s in self.slots] + [(m, n) for m, n, _ in self.aliases]

    def use_views(self, full: Tensor | None = None) -> None:
        """Make the original parameters views of ``full`` (default: the training copy; in grad
        mode the views carry gradients into it)."""
        full = self.full if full is None else full
        sizes = [s.numel for s in self.slots]
        if self.padded > self.numel:
            sizes.append(self.padded - self.numel)
        pieces = full.split(sizes)
        views = [piece.view(slot.shape) for piece, slot in zip(pieces, self.slots)]
        self._set(views)

    def _set(self, tensors: list) -> None:
        # instance attributes: with use_orig_params they shadow the shards in _parameters
        tensors = [tensor if slot.tp_layout is None else _dtensor(tensor, *slot.tp_layout)
                   for slot, tensor in zip(self.slots, tensors)]
        for slot, tensor in zip(self.slots, tensors):
            slot.module.__dict__[slot.name] = tensor
        for module, name, index in self.aliases:
            module.__dict__[name] = tensors[index]

    def write_back(self, full: Tensor) -> None:
        """Copy this rank's block of ``full`` (a whole flat parameter) into the shard."""
        with no_grad():
            start = self.process_group.rank() * self.shard_size if self.sharded else 0
            block = full[start:start + self.shard_size]
            if block.data_ptr() != self.flat_param.data_ptr():
                self.flat_param.copy_(block)

    # ------------------------------------------------------------------------------------------
    # FULL_SHARD: what forward saves of ``full`` is gathered again in backward

    def pack(self, tensor: Tensor):
        if not self.unsharded or tensor.dtype != self.full.dtype or tensor.numel() == 0:
            return tensor
        start = self.full.data_ptr()
        offset = tensor.data_ptr() - start
        if not 0 <= offset < self.full._data.nbytes:
            return tensor
        return _SavedView(offset // self.full.element_size(), tuple(tensor.shape),
                          tuple(tensor.stride()))

    def unpack(self, packed) -> Tensor:
        if not isinstance(packed, _SavedView):
            return packed
        self.unshard()
        return self.full.detach().as_strided(packed.shape, packed.stride, packed.offset)

    # ------------------------------------------------------------------------------------------
    # Gradients

    def _reduce_grad(self) -> None:
        grad, self.full.grad = self.full.grad, None
        with no_grad():
            if not self.sync_gradients:
                grad = grad.to(self.dtype)
                self._pending_grad = grad if self._pending_grad is None else \
                    self._pending_grad + grad
                self.reshard()
                return
            if self._pending_grad is not None:
                grad = grad.to(self.dtype) + self._pending_grad
                self._pending_grad = None
            grad = grad.to(self.reduce_dtype).contiguous()
            if self.sharded:
                block = ember.empty(self.shard_size, dtype=self.reduce_dtype, device=self.device)
                collectives.reduce_scatter_tensor(block, grad, ReduceOp.AVG,
                                                  group=self.process_group)
            else:
                collectives.all_reduce(grad, ReduceOp.AVG, group=self.process_group)
                block = grad
            block = block.to(self.dtype)
            if self.use_orig_params:
                for param, (lo, hi) in zip(self.orig_params, self._shard_ranges()):
                    _accumulate(param, block[lo:hi].reshape(param.shape))
            else:
                _accumulate(self.flat_param, block)
        self.reshard()

    def shard_grads(self) -> list:
        """The gradients of ``parameters()`` that backward produced."""
        return [p.grad for p in self.parameters() if p.grad is not None]


def _accumulate(param: Tensor, grad: Tensor) -> None:
    if param.grad is None:
        param.grad = grad  # a fresh block (or a view of one): no copy
    else:
        param.grad.add_(grad)
