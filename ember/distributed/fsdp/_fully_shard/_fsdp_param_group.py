"""The parameters of one ``fully_shard`` call: sharded as DTensors, gathered for compute,
their gradients reduce-scattered into the shards.

NOTE [ FSDP2 parameter group ]
Each managed parameter becomes a ``DTensor`` parameter of placement ``Shard(d)`` (``d = 0``
unless ``shard_placement_fn`` says otherwise) whose local tensor is this rank's
``torch.chunk`` piece, unpadded, as in PyTorch; it stays registered in the module's
``_parameters`` and is what the optimizer steps and ``state_dict`` returns. The mesh's last
dimension shards; on a 2-d mesh (HSDP) the first replicates: placements
``(Replicate(), Shard(d))``. A tensor-parallel parameter (a DTensor over a 1-d ``tp`` mesh
sliced from the same root mesh as FSDP's) has its TP-local tensor sharded the same way: the
result lives on the ``(dp, tp)`` mesh with placements ``(Shard(d), *tp_placements)``, or
``(_StridedShard(d, split_factor=tp), Shard(d))`` when TP cuts dimension ``d`` too (FSDP's
pieces are pieces of TP's, right to left), as PyTorch 2.13 lays them out.

* ``unshard`` all-gathers, in one collective, every parameter's piece padded to
  ``ceil(size_d / world)`` rows (dimension ``d`` moved first) and cast to ``param_dtype``; the
  result, rank-major, is rearranged parameter-major into ``full``: one leaf per group that
  lives as long as the group (autograd holds leaves weakly), as FSDP1's flat parameter
  (NOTE [ FSDP flat parameter ]). The unsharded parameters are views of ``full`` set as
  instance attributes that shadow the sharded ones (``module.weight`` is the unsharded tensor
  while gathered; for a tensor-parallel parameter, the TP DTensor whose local tensor is the
  view); frozen parameters' views are detached.
* ``reshard`` rebinds ``full`` to a one-element placeholder and drops the attributes. Views
  that forward saved for backward keep their arrays alive (memory, not correctness: gathered
  values are never written), unlike PyTorch, which frees the storage and gathers again; ember
  gathers again before the group's backward (a hook on the outputs) so that the module holds
  unsharded parameters in backward as in PyTorch.
* When ``full``'s gradient is complete (its post-accumulate-grad hook) it is cast to
  ``reduce_dtype``, rearranged rank-major and reduce-scattered over the shard dimension,
  then (HSDP) all-reduced over the replicate dimension, averaged over both (or summed and
  divided by ``set_gradient_divide_factor``'s factor); each parameter's block, unpadded and
  cast to the parameter's dtype, is added to its DTensor ``.grad``. Without gradient sync the
  unsharded gradient is summed locally in ``reduce_dtype`` and reduced with the next synced
  one; without all-reduce (``set_requires_all_reduce(False)``) the reduce-scattered block is
  summed and all-reduced with the next one.
Every rank runs the same modules in the same order, so the collectives match across ranks.
"""
from __future__ import annotations

import math
import weakref
from typing import NamedTuple

import ember
from ember._tensor import Tensor, _make
from ember.autograd.grad_mode import no_grad
from ember.distributed import collectives
from ember.distributed.device_mesh import DeviceMesh
from ember.distributed.fsdp._flat_param import _placeholder
from ember.distributed.tensor._api import DTensor, _dtensor, as_parameter
from ember.distributed.tensor._utils import _chunk, is_sharding
from ember.distributed.tensor.placement_types import Replicate, Shard, _StridedShard
from ember.distributed.work import ReduceOp
from ember.nn.modules.module import Module


class ParamSlot(NamedTuple):
    """A managed parameter: where it is registered and its place in the gathered copy."""

    owners: list  # (module, name) of each registration (a shared parameter has several)
    dim: int  # the sharded dimension
    shape: tuple  # the unsharded shape (the TP-local shape of a tensor-parallel parameter)
    padded_rows: int  # the rows of each rank's padded piece along ``dim``
    offset: int  # its start in a rank's all-gather input
    numel: int  # its numel in a rank's all-gather input (padded)
    tp_layout: tuple | None  # (mesh, placements, global shape) of a tensor-parallel parameter


class FSDPParamGroup:
    """The sharded parameters of one ``fully_shard`` call (NOTE [ FSDP2 parameter group ])."""

    def __init__(self, owners: list, mesh: DeviceMesh, mp_policy, offload_policy,
                 shard_placement_fn) -> None:
        from ember.distributed.fsdp._fully_shard._fsdp_api import CPUOffloadPolicy
        self.mesh = mesh
        shard_dim = mesh.ndim - 1  # HSDP: (replicate, shard)
        self.group = mesh.get_group(shard_dim)
        self.replicate_group = mesh.get_group(0) if mesh.ndim == 2 else None
        self.world = mesh.size(shard_dim)
        self.rank = mesh.get_local_rank(shard_dim)
        self.offload = isinstance(offload_policy, CPUOffloadPolicy)
        self.device = ember.device(mesh.device_type)
        self.slots: list = []
        self.params: list = []  # the sharded DTensor parameters, one per slot
        seen: dict = {}
        offset = 0
        for module, name in owners:
            param = module._parameters[name]
            if id(param) in seen:
                self.slots[seen[id(param)]].owners.append((module, name))
                continue
            if param.dim() == 0:
                raise NotImplementedError(f"fully_shard: 0-d parameter {name!r} cannot be "
                                          "sharded along a dimension")
            placement = shard_placement_fn(param) if shard_placement_fn is not None else None
            dim = (placement or Shard(0)).dim % param.dim()
            tp_layout = _tp_layout(param, name)
            local = param._local_tensor if tp_layout else param
            rows = local.shape[dim]
            padded_rows = -(-rows // self.world)
            numel = padded_rows * local.numel() // max(rows, 1)
            seen[id(param)] = len(self.slots)
            self.slots.append(ParamSlot([(module, name)], dim, tuple(local.shape), padded_rows,
                                        offset, numel, tp_layout))
            self.params.append(self._shard(param, local, dim))
            offset += numel
        self.shard_numel = offset
        for slot, param in zip(self.slots, self.params):
            for module, name in slot.owners:
                module._parameters[name] = param
        self.mp_policy = mp_policy
        self.requires_grad = any(p.requires_grad for p in self.params)
        self.full = _make(self._freed(), requires_grad=self.requires_grad)
        self.unsharded = False
        self.reduce_grads = True
        self.reshard_after_backward = True
        self.divide_factor = None
        self._pending_grad = None  # the unsharded gradient summed without sync
        self.all_reduce_grads = True
        self._pending_block = None  # HSDP: the reduce-scattered gradient summed without all-reduce
        if self.requires_grad:
            self.full.register_post_accumulate_grad_hook(_reduce_hook(weakref.ref(self)))

    # The dtypes follow the sharded parameters, which ``module.to(dtype)`` may change
    @property
    def param_dtype(self):
        own = self.params[0].dtype if self.params else ember.get_default_dtype()
        return self.mp_policy.param_dtype or own

    @property
    def reduce_dtype(self):
        return self.mp_policy.reduce_dtype or self.param_dtype

    def _freed(self):
        return _placeholder((self.world * self.shard_numel,), self.param_dtype, self.device)._data

    def _shard(self, param: Tensor, local: Tensor, dim: int):
        """This rank's piece of ``local`` (``param`` or its TP-local tensor) along ``dim`` as a
        DTensor parameter laid out as NOTE [ FSDP2 parameter group ] says."""
        start, stop = _chunk(local.shape[dim], self.world, self.rank)
        with no_grad():
            piece = local.detach().narrow(dim, start, stop - start).clone()
            # a meta parameter stays meta until ``to_empty`` (as PyTorch's fully_shard)
            if not self.offload and piece.device.type not in (self.device.type, "meta"):
                piece = piece.to(self.device)
        mesh, placements = self._sharded_layout(param, dim)
        sharded = as_parameter(_dtensor(piece, mesh, placements, tuple(param.shape)),
                               param.requires_grad)
        sharded._fsdp_sharded = True
        return sharded

    def refresh_params(self) -> None:
        """Take the sharded parameters from the modules again: ``Module._apply`` may have
        replaced them (``to_empty`` off the meta device makes new ones)."""
        for i, slot in enumerate(self.slots):
            module, name = slot.owners[0]
            param = module._parameters[name]
            param._fsdp_sharded = True
            self.params[i] = param
            for other, other_name in slot.owners[1:]:
                other._parameters[other_name] = param

    def _sharded_layout(self, param: Tensor, dim: int) -> tuple:
        """The mesh and placements of ``param`` sharded along ``dim``."""
        replicated = (Replicate(),) * (self.mesh.ndim - 1)
        if not isinstance(param, DTensor):
            return self.mesh, replicated + (Shard(dim),)
        tp_mesh, tp_placements = param.device_mesh, param.placements
        split = math.prod(tp_mesh.size(i) for i, p in enumerate(tp_placements)
                          if is_sharding(p) and p.dim == dim)
        fsdp = _StridedShard(dim, split_factor=split) if split > 1 else Shard(dim)
        return DeviceMesh._concatenate([self.mesh, tp_mesh]), replicated + (fsdp,) + tp_placements

    # ------------------------------------------------------------------------------------------
    # Gathering

    def unshard(self) -> None:
        """All-gather the parameters (in ``param_dtype``) into ``full`` and set the unsharded
        parameters on the modules, if not already gathered (a group without parameters, such
        as a root whose layers hold them all, gathers nothing)."""
        if self.unsharded or not self.slots:
            return
        with no_grad():
            local = ember.cat([self._padded_piece(param, slot) for slot, param in
                               zip(self.slots, self.params)])
            gathered = ember.empty(self.world * self.shard_numel, dtype=self.param_dtype,
                                   device=self.device)
            collectives.all_gather_into_tensor(gathered, local.contiguous(), group=self.group)
            by_rank = gathered.view(self.world, self.shard_numel)
            by_param = [by_rank[:, s.offset:s.offset + s.numel].reshape(-1) for s in self.slots]
            self.full._data = ember.cat(by_param)._data
        self.unsharded = True
        self.set_unsharded_params()

    def _padded_piece(self, param, slot: ParamSlot) -> Tensor:
        piece = param._local_tensor.detach().movedim(slot.dim, 0)
        if piece.shape[0] < slot.padded_rows:
            padding = piece.new_zeros((slot.padded_rows - piece.shape[0], *piece.shape[1:]))
            piece = ember.cat([piece, padding])
        return piece.reshape(-1).to(device=self.device, dtype=self.param_dtype)

    def set_unsharded_params(self) -> None:
        """Set views of ``full`` as the modules' parameters (carrying gradients into ``full``
        in grad mode, except for frozen parameters)."""
        for slot, param, view in zip(self.slots, self.params, self._views(self.full)):
            view = view if param.requires_grad else view.detach()
            if slot.tp_layout is not None:
                view = _dtensor(view, *slot.tp_layout)
            for module, name in slot.owners:
                module.__dict__[name] = view

    def _views(self, flat: Tensor) -> list:
        """Each parameter's unsharded value within a parameter-major ``flat``."""
        views = []
        for slot in self.slots:
            start = self.world * slot.offset
            moved = (self.world * slot.padded_rows,) + _moved_rest(slot)
            view = flat[start:start + self.world * slot.numel].view(moved)
            views.append(view.narrow(0, 0, slot.shape[slot.dim]).movedim(0, slot.dim))
        return views

    def reshard(self) -> None:
        """Free the gathered copy; the modules' parameters are the sharded ones again."""
        self.unsharded = False
        self.full._data = self._freed()
        for slot in self.slots:
            for module, name in slot.owners:
                module.__dict__.pop(name, None)

    # ------------------------------------------------------------------------------------------
    # Gradients

    def reduce_grad(self) -> None:
        """Reduce-scatter ``full``'s gradient into the sharded parameters' ``.grad``."""
        grad, self.full.grad = self.full.grad, None
        with no_grad():
            grad = grad.to(self.reduce_dtype)
            if self._pending_grad is not None:
                grad = grad + self._pending_grad
            if not self.reduce_grads:
                self._pending_grad = grad
            else:
                self._pending_grad = None
                self._scatter_into_grads(grad)
        if self.reshard_after_backward:
            self.reshard()

    def _scatter_into_grads(self, grad: Tensor) -> None:
        by_rank = ember.cat([grad[self.world * s.offset:self.world * (s.offset + s.numel)]
                             .view(self.world, s.numel) for s in self.slots], 1)
        block = ember.empty(self.shard_numel, dtype=self.reduce_dtype, device=self.device)
        op = ReduceOp.AVG if self.divide_factor is None else ReduceOp.SUM
        collectives.reduce_scatter_tensor(block, by_rank.reshape(-1).contiguous(), op,
                                          group=self.group)
        if self.replicate_group is not None:
            if self._pending_block is not None:
                block = block + self._pending_block
            if not self.all_reduce_grads:
                self._pending_block = block
                return
            self._pending_block = None
            collectives.all_reduce(block, op, group=self.replicate_group)
        if self.divide_factor is not None:
            block = block / self.divide_factor
        for slot, param in zip(self.slots, self.params):
            if not param.requires_grad:
                continue
            local = param._local_tensor
            piece = block[slot.offset:slot.offset + slot.numel].view(
                (slot.padded_rows,) + _moved_rest(slot))
            piece = piece.narrow(0, 0, local.shape[slot.dim]).movedim(0, slot.dim)
            piece = piece.to(device=local.device, dtype=local.dtype).contiguous()
            if local.grad is None:
                local.grad = piece
            else:
                local.grad.add_(piece)


def _tp_layout(param: Tensor, name: str) -> tuple | None:
    """(mesh, placements, global shape) of a tensor-parallel DTensor parameter, else None."""
    if not isinstance(param, DTensor):
        return None
    if param.device_mesh.ndim != 1 or any(p.is_partial() for p in param.placements):
        raise NotImplementedError(
            f"fully_shard: DTensor parameter {name!r} laid out as {param.placements} over "
            f"{param.device_mesh}: ember supports tensor-parallel parameters on a 1-d mesh")
    return param.device_mesh, param.placements, tuple(param.shape)


def _moved_rest(slot: ParamSlot) -> tuple:
    return tuple(n for d, n in enumerate(slot.shape) if d != slot.dim)


def _reduce_hook(ref: weakref.ref):
    def hook(full: Tensor) -> None:
        group = ref()
        if group is not None:
            group.reduce_grad()
    return hook


def managed_owners(modules: list, ignored: set) -> list:
    """(module, name) of each parameter of ``modules`` that no earlier ``fully_shard`` call
    on a submodule manages and whose id is not in ``ignored``, in registration order."""
    from ember.distributed.fsdp._fully_shard._fully_shard import FSDPModule
    owners = []
    seen_modules: set = set()

    def visit(module: Module, top: bool) -> None:
        if id(module) in seen_modules or (not top and isinstance(module, FSDPModule)):
            return
        seen_modules.add(id(module))
        for name, param in module._parameters.items():
            if param is None or id(param) in ignored:
                continue
            if getattr(param, "_fsdp_sharded", False):
                raise NotImplementedError(
                    f"fully_shard: parameter {name!r} of {type(module).__name__} is shared with "
                    "a submodule that fully_shard sharded: ember does not support it; shard "
                    "the common parent")
            owners.append((module, name))
        for child in module._modules.values():
            if child is not None:
                visit(child, False)
    for module in modules:
        visit(module, True)
    return owners
