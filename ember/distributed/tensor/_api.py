"""``DTensor``: a tensor whose global value is spread over the ranks of a ``DeviceMesh``, each
mesh dimension placing it as a :class:`Shard`, :class:`Replicate` or :class:`Partial`.

NOTE [ ember's DTensor ]
A DTensor is a Tensor of the global shape and dtype on the meta device (no data) that holds
this rank's ``_local_tensor`` (its ``device`` is the local tensor's). ember has no sharding
propagation, so it runs no ops on DTensors: anything but metadata (shape, dtype, size, ...)
raises NotImplementedError. What it does, with PyTorch's semantics, is convert: build from
local shards (``from_local``) or a whole tensor (``distribute_tensor``), and give back the
local shard (``to_local``), the whole value (``full_tensor``) or another layout
(``redistribute``), through collectives over the mesh's groups. Gradients do not flow through
these conversions (except ``to_local``, which returns the local tensor itself): converting a
DTensor that requires grad while grad mode is on raises.
"""
from __future__ import annotations

from collections.abc import Sequence

from ember._creation import empty, zeros_like
from ember._tensor import Tensor, _init_like, _new
from ember.autograd.grad_mode import is_grad_enabled
from ember.distributed.collectives import all_gather, all_reduce, broadcast
from ember.distributed.device_mesh import DeviceMesh
from ember.distributed.tensor.placement_types import Partial, Placement, Replicate, Shard
from ember.distributed.work import ReduceOp
from ember.ops.movement import cat
from ember.overrides import DisableTorchFunctionSubclass, resolve_name

__all__ = ["DTensor", "distribute_tensor"]

# Tensor attributes that read only metadata, which a DTensor answers for its global tensor
_METADATA = frozenset({"shape", "dtype", "size", "dim", "ndim", "ndimension", "numel",
                       "nelement", "nbytes", "itemsize", "element_size", "layout",
                       "requires_grad", "is_leaf", "grad", "grad_fn", "is_floating_point",
                       "is_complex", "__len__", "__hash__", "stride", "is_contiguous"})


class DTensor(Tensor):
    """``torch.distributed.tensor.DTensor``: a global tensor laid out over ``device_mesh`` by
    ``placements`` (one per mesh dimension). Build one with :meth:`from_local` or
    :func:`distribute_tensor`; see NOTE [ ember's DTensor ] for what ember supports.

    Example::

        >>> mesh = init_device_mesh("cpu", (2,))
        >>> dt = distribute_tensor(ember.arange(4.), mesh, [Shard(0)])
        >>> dt.to_local()             # rank 1: tensor([2., 3.])
        >>> dt.full_tensor()          # every rank: tensor([0., 1., 2., 3.])
    """

    def __new__(cls, *args, **kwargs):
        raise TypeError("DTensor is built with DTensor.from_local or distribute_tensor")

    @property
    def device(self):
        return self._local_tensor.device

    @property
    def device_mesh(self) -> DeviceMesh:
        """The mesh the tensor is laid out over."""
        return self._device_mesh

    @property
    def placements(self) -> tuple:
        """How each mesh dimension places the tensor."""
        return self._placements

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        name = resolve_name(func) or getattr(func, "__name__", repr(func))
        parts = name.split(".")
        if parts[:2] == ["torch", "Tensor"] and len(parts) > 2 and parts[2] in _METADATA:
            with DisableTorchFunctionSubclass():
                return func(*args, **(kwargs or {}))
        raise NotImplementedError(f"{name} on a DTensor: ember runs no ops on DTensors (see "
                                  "NOTE [ ember's DTensor ]); use to_local() or full_tensor()")

    def __repr__(self) -> str:
        return (f"DTensor(local_tensor={self._local_tensor!r}, device_mesh={self._device_mesh}"
                f", placements={self._placements})")

    @staticmethod
    def from_local(local_tensor: Tensor, device_mesh: DeviceMesh | None = None,
                   placements: Sequence[Placement] | None = None, *, run_check: bool = False,
                   shape: Sequence[int] | None = None, stride: Sequence[int] | None = None,
                   grad_placements: Sequence[Placement] | None = None) -> DTensor:
        """The DTensor whose shard on this rank is ``local_tensor`` (no communication).
        Without ``shape`` and ``stride`` (given together or not at all) the global shape
        assumes even shards: a ``Shard(d)`` mesh dimension of ``n`` ranks multiplies size
        ``d`` by ``n``. ``run_check`` broadcasts ``local_tensor`` (in place when contiguous)
        from the first rank of each replicated mesh dimension. ``placements`` default to all
        ``Replicate()``."""
        mesh = _mesh(device_mesh)
        placements = _normalized(placements, mesh, local_tensor.dim())
        if (shape is None) != (stride is None):
            raise RuntimeError(f"Found shape:{shape}, stride:{stride}. Please pass both shape "
                               "and stride at the same time.")
        if shape is None:
            global_shape = list(local_tensor.shape)
            for i, p in enumerate(placements):
                if p.is_shard():
                    global_shape[p.dim] *= mesh.size(i)
        else:
            global_shape = list(shape)
        if run_check:
            for i, p in enumerate(placements):
                if p.is_replicate():
                    local_tensor = local_tensor.contiguous()
                    broadcast(local_tensor, group=mesh.get_group(i), group_src=0)
        return _dtensor(local_tensor, mesh, placements, global_shape,
                        local_tensor.requires_grad)

    def to_local(self, *, grad_placements: Sequence[Placement] | None = None) -> Tensor:
        """This rank's shard (the tensor itself, not a copy)."""
        return self._local_tensor

    def full_tensor(self, *, grad_placements: Sequence[Placement] | None = None) -> Tensor:
        """The global value, on every rank (gathering shards, reducing partials)."""
        return self.redistribute(placements=[Replicate()] * self._device_mesh.ndim).to_local()

    def redistribute(self, device_mesh: DeviceMesh | None = None,
                     placements: Sequence[Placement] | None = None, *, async_op: bool = False,
                     forward_dtype=None, backward_dtype=None) -> DTensor:
        """The same global value laid out by ``placements`` (a new DTensor). Partial
        placements can only be kept or removed, as in PyTorch."""
        mesh = device_mesh or self._device_mesh
        if mesh != self._device_mesh:
            raise NotImplementedError("Cross device mesh comm not supported yet!")
        if placements is None:
            raise RuntimeError("placements is needed for redistribute!")
        placements = _normalized(placements, mesh, self.dim())
        for old, new in zip(self._placements, placements):
            if new.is_partial() and old != new:
                raise RuntimeError(f"Can not redistribute from {old} to {new}, redistributing "
                                   "to Partial is for internal use only!")
        _check_no_grad(self, "redistribute")
        local = self._local_tensor.detach()
        if forward_dtype is not None:
            local = local.to(forward_dtype)
        if placements != self._placements:
            full = _gather(local, mesh, self._placements, list(self.shape))
            local = _scatter(full, mesh, placements)
        return _dtensor(local, mesh, placements, list(self.shape), False)


def distribute_tensor(tensor: Tensor, device_mesh: DeviceMesh | None = None,
                      placements: Sequence[Placement] | None = None, *,
                      src_data_rank: int | None = 0) -> DTensor:
    """``tensor`` laid out over ``device_mesh`` by ``placements`` (default all
    ``Replicate()``): every rank takes the value of the rank ``src_data_rank`` of each mesh
    dimension's group (or its own ``tensor`` when ``src_data_rank`` is None) and keeps its
    shard. ``Partial("sum")`` divides the value among the ranks; ``"avg"``, ``"min"`` and
    ``"max"`` give each rank the whole value."""
    mesh = _mesh(device_mesh)
    if not tensor.is_leaf:
        raise RuntimeError("`distribute_tensor` should be used to distribute leaf tensors! but "
                           "found non-leaf tensor!")
    placements = _normalized(placements, mesh, tensor.dim())
    if isinstance(tensor, DTensor):
        if tensor.device_mesh != mesh:
            raise ValueError(f"Cannot distribute a DTensor with device mesh {tensor.device_mesh}"
                             f" to a different device mesh {mesh}.")
        if tensor.placements != placements:
            raise ValueError(f"Cannot distribute a DTensor with placements {tensor.placements} "
                             f"to a different placements {placements}. do you want to call "
                             "`redistribute` instead?")
        return tensor
    full = tensor.detach()
    if mesh.device_type != full.device.type and not full.is_meta:
        full = full.to(mesh.device_type)
    if src_data_rank is not None:
        full = full.clone()
        for i in range(mesh.ndim):
            broadcast(full, group=mesh.get_group(i), group_src=src_data_rank)
    local = _scatter(full, mesh, placements)
    return _dtensor(local, mesh, placements, list(tensor.shape), tensor.requires_grad)


# ------------------------------------------------------------------------------------------------
# Layout arithmetic and the collectives that change layouts

def _mesh(device_mesh: DeviceMesh | None) -> DeviceMesh:
    if device_mesh is None:
        raise RuntimeError("No device mesh is currently active! Pass device_mesh.")
    return device_mesh


def _normalized(placements, mesh: DeviceMesh, ndim: int) -> tuple:
    """``placements`` as a tuple with non-negative shard dims (all Replicate if None)."""
    if placements is None:
        return (Replicate(),) * mesh.ndim
    placements = tuple(Shard(p.dim + ndim) if p.is_shard() and p.dim < 0 else p
                       for p in placements)
    if len(placements) != mesh.ndim:
        raise ValueError(f"`placements` must have the same length as `device_mesh.ndim`! Found "
                         f"placements length: {len(placements)}, and device_mesh.ndim: "
                         f"{mesh.ndim}.")
    partial_ops = {p.reduce_op for p in placements if p.is_partial()}
    if len(partial_ops) > 1:
        raise ValueError(f"Cannot mix Partial reduce types: {sorted(partial_ops)}")
    return placements


def _dtensor(local: Tensor, mesh: DeviceMesh, placements: tuple, global_shape: list,
             requires_grad: bool) -> DTensor:
    dt = _new(DTensor)
    _init_like(dt, empty(global_shape, dtype=local.dtype, device="meta")._data, requires_grad)
    dt._local_tensor = local
    dt._device_mesh = mesh
    dt._placements = tuple(placements)
    return dt


def _check_no_grad(dt: DTensor, what: str) -> None:
    if dt.requires_grad and is_grad_enabled():
        raise NotImplementedError(f"DTensor.{what}: ember's DTensor conversions do not "
                                  "record gradients; call it under no_grad or on a detached "
                                  "DTensor")


def _chunk(size: int, parts: int, index: int) -> tuple:
    """(start, stop) of chunk ``index`` when ``torch.chunk`` cuts ``size`` into ``parts``."""
    step = -(-size // parts) if parts else 0
    start = min(index * step, size)
    return start, min(start + step, size)


def _scatter(full: Tensor, mesh: DeviceMesh, placements: tuple) -> Tensor:
    """This rank's shard of the global value ``full`` (mesh dimensions applied in order)."""
    coordinate = mesh.get_coordinate()
    local = full
    for i, p in enumerate(placements):
        if p.is_shard():
            start, stop = _chunk(local.shape[p.dim], mesh.size(i), coordinate[i])
            local = local.narrow(p.dim, start, stop - start)
        elif p.is_partial():
            local = _partition(local, p, mesh.size(i))
    return local.clone()


def _partition(value: Tensor, placement: Partial, ranks: int) -> Tensor:
    """A rank's addend of ``value`` such that reducing the ranks' addends gives ``value``."""
    if placement.reduce_op == "sum":
        return value / ranks
    if placement.reduce_op in ("avg", "min", "max"):
        return value
    raise NotImplementedError(f"Replicate -> Partial({placement.reduce_op}) is not supported")


def _gather(local: Tensor, mesh: DeviceMesh, placements: tuple, global_shape: list) -> Tensor:
    """The global value from every rank's ``local`` (mesh dimensions undone last first)."""
    shapes = [list(global_shape)]  # the shape before each mesh dimension's placement
    coordinate = mesh.get_coordinate()
    for i, p in enumerate(placements):
        shape = list(shapes[-1])
        if p.is_shard():
            start, stop = _chunk(shape[p.dim], mesh.size(i), coordinate[i])
            shape[p.dim] = stop - start
        shapes.append(shape)
    value = local
    for i in reversed(range(mesh.ndim)):
        p, group = placements[i], mesh.get_group(i)
        if p.is_shard():
            value = _all_gather_chunks(value, p.dim, shapes[i][p.dim], mesh.size(i), group)
        elif p.is_partial():
            value = value.clone()
            all_reduce(value, ReduceOp(p.reduce_op), group=group)
    return value


def _all_gather_chunks(chunk: Tensor, dim: int, size: int, ranks: int, group) -> Tensor:
    """The ``size``-long concatenation along ``dim`` of the ranks' ``torch.chunk`` pieces:
    each is padded to the longest piece for the gather and the padding cut off after (only
    the last pieces are short, so the padding all lies past ``size``)."""
    longest = -(-size // ranks) if ranks else 0
    padding = list(chunk.shape)
    padding[dim] = longest - chunk.shape[dim]
    padded = cat([chunk, chunk.new_zeros(padding)], dim).contiguous()
    pieces = [zeros_like(padded) for _ in range(ranks)]
    all_gather(pieces, padded, group=group)
    return cat(pieces, dim).narrow(dim, 0, size)

