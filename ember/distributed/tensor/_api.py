"""``DTensor``: a tensor whose global value is spread over the ranks of a ``DeviceMesh``, each
mesh dimension placing it as a :class:`Shard`, :class:`Replicate` or :class:`Partial`.

NOTE [ ember's DTensor ]
A DTensor is a Tensor of the global shape and dtype on the meta device (no data) that holds
this rank's ``_local_tensor`` (its ``device`` is the local tensor's). It converts, with
PyTorch's semantics: build from local shards (``from_local``) or a whole tensor
(``distribute_tensor``), and give back the local shard (``to_local``), the whole value
(``full_tensor``) or another layout (``redistribute``), through collectives over the mesh's
groups (``_StridedShard`` included). Ops run through ``__torch_function__`` with the sharding
rules of ``_dispatch.py`` (pointwise ops and their in-place forms, hence ``_foreach_*``;
``*_like`` factories; clone, detach, copy_, zero_, fill_; sum, mean, norms, amax/amin; stack,
cat; conversions to Python numbers, from the full value), ``_matrix_ops.py`` (mm, bmm, matmul,
addmm, baddbmm, linear, scaled_dot_product_attention: PyTorch's einsum strategies, chosen by
its redistribution cost model in ``_sharding.py``), ``_view_ops.py`` (views, permutations,
expand, split/chunk/narrow, basic indexing, index_select) and ``_nn_ops.py`` (softmax,
layer_norm, rms_norm, embedding, cross_entropy, type_as): they run on the local tensors,
redistributing inputs where the op needs it, and wrap the result with the placements PyTorch
gives it (a reduction over a sharded dimension, or a product over a sharded contracting
dimension, is ``Partial``). Other ops raise NotImplementedError naming the op. Nothing is
asynchronous (``async_op`` is accepted). ``nn.Parameter(dtensor)`` is a DTensor parameter
(``_DTensorParameter``), as FSDP2's and tensor parallelism's parameters are.

NOTE [ DTensor autograd ]
Autograd runs on the local tensors: a DTensor's ``requires_grad``, ``grad_fn`` and ``grad`` are
its local tensor's (``grad`` wrapped as a DTensor of the same layout), and ops record their
graph on the locals. The invariant that makes this right: the gradient of a local tensor is the
local tensor of the DTensor gradient laid out as the forward value, a Partial mesh dimension's
gradient being replicated (``_redistribute.grad_layout``). Every layout change is an autograd
Function that keeps it (``Redistribute``: backward lays the gradient out back, as PyTorch's
redistribute backward does), and a replicated operand that broadcasts against a sharded or
partial result (or that a strategy of ``_sharding.py`` uses whole for one) sums its gradient
over those mesh dimensions (``SumGrad``: a Replicate gradient where PyTorch leaves a Partial
one of the same value). So from_local's backward gives
the local gradient, to_local's passes it through, full_tensor's takes this rank's part of a
replicated gradient.
"""
from __future__ import annotations

from collections.abc import Sequence

from ember._creation import empty
from ember._tensor import Tensor, _init_like, _new
from ember.distributed.collectives import broadcast
from ember.distributed.device_mesh import DeviceMesh
from ember.distributed.tensor._redistribute import (
    GradRelayout,
    Redistribute,
    _NormPartial,
    grad_layout,
    normalized,
    scatter,
)
from ember.distributed.tensor._utils import is_sharding
from ember.distributed.tensor.placement_types import Partial, Placement, Replicate
from ember.nn.parameter import Parameter

__all__ = ["DTensor", "distribute_module", "distribute_tensor"]


class DTensor(Tensor):
    """``torch.distributed.tensor.DTensor``: a global tensor laid out over ``device_mesh`` by
    ``placements`` (one per mesh dimension). Build one with :meth:`from_local` or
    :func:`distribute_tensor`; see NOTE [ ember's DTensor ] for the ops it runs.

    Example::

        >>> mesh = init_device_mesh("cpu", (2,))
        >>> dt = distribute_tensor(ember.arange(4.), mesh, [Shard(0)])
        >>> dt.to_local()             # rank 1: tensor([2., 3.])
        >>> (dt * 2).sum().full_tensor()   # every rank: tensor(12.)
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

    # Autograd state is the local tensor's (NOTE [ DTensor autograd ])

    @property
    def requires_grad(self) -> bool:
        return self._local_tensor.requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        self._local_tensor.requires_grad = value

    @property
    def grad_fn(self):
        return self._local_tensor.grad_fn

    @grad_fn.setter
    def grad_fn(self, value) -> None:
        if value is not None:  # Tensor's initialisation clears it; the history is the local's
            raise RuntimeError("a DTensor's autograd history is its local tensor's")

    @property
    def grad(self) -> DTensor | None:
        """The local tensor's gradient as a DTensor laid out as this one's gradient."""
        local = self._local_tensor.grad
        if local is None:
            return None
        cached = self._grad
        if cached is None or cached._local_tensor is not local:
            cached = self._grad = _dtensor(local, self._device_mesh,
                                           grad_layout(self._placements), self.shape)
        return cached

    @grad.setter
    def grad(self, value: DTensor | None) -> None:
        if value is None:
            self._local_tensor.grad = None
        else:
            if not isinstance(value, DTensor):
                raise RuntimeError("assigned grad of a DTensor must be a DTensor")
            layout = grad_layout(self._placements)
            if value.placements != layout:
                value = value.redistribute(self._device_mesh, layout)
            self._local_tensor.grad = value._local_tensor
        self._grad = value

    @property
    def data(self) -> DTensor:
        """The same local storage without autograd history."""
        return _dtensor(self._local_tensor.detach(), self._device_mesh, self._placements,
                        self.shape)

    @data.setter
    def data(self, value: DTensor) -> None:
        if not isinstance(value, DTensor):
            raise RuntimeError("the data assigned to a DTensor must be a DTensor")
        if value.placements != self._placements:
            value = value.redistribute(self._device_mesh, self._placements)
        self._local_tensor.data = value._local_tensor
        self._data = value._data  # the global meta tensor: its shape and dtype

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        from ember.distributed.tensor._dispatch import dispatch
        from ember.distributed.tensor.experimental import replicate_plain_operands
        return dispatch(func, *replicate_plain_operands(args, kwargs or {}))

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
        ``Replicate()``. Backward gives ``local_tensor`` the local part of the gradient, laid
        out by ``grad_placements`` if given."""
        mesh = _mesh(device_mesh)
        placements = normalized(placements, mesh, local_tensor.dim())
        if (shape is None) != (stride is None):
            raise RuntimeError(f"Found shape:{shape}, stride:{stride}. Please pass both shape "
                               "and stride at the same time.")
        if shape is None:
            global_shape = list(local_tensor.shape)
            for i, p in enumerate(placements):
                if is_sharding(p):
                    global_shape[p.dim] *= mesh.size(i)
        else:
            global_shape = list(shape)
        if run_check:
            for i, p in enumerate(placements):
                if p.is_replicate():
                    local_tensor = local_tensor.contiguous()
                    broadcast(local_tensor, group=mesh.get_group(i), group_src=0)
        if grad_placements is not None and local_tensor.requires_grad:
            grad_placements = normalized(grad_placements, mesh, local_tensor.dim())
            local_tensor = GradRelayout.apply(local_tensor, mesh, grad_layout(placements),
                                              grad_placements, tuple(global_shape))
        return _dtensor(local_tensor, mesh, placements, global_shape)

    def to_local(self, *, grad_placements: Sequence[Placement] | None = None) -> Tensor:
        """This rank's shard (the local tensor itself, not a copy). Its gradient is taken as
        laid out by ``grad_placements`` (default: as this tensor)."""
        local = self._local_tensor
        if grad_placements is None or not local.requires_grad:
            return local
        grad_placements = normalized(grad_placements, self._device_mesh, self.dim())
        return GradRelayout.apply(local, self._device_mesh, grad_placements,
                                  grad_layout(self._placements), tuple(self.shape))

    def full_tensor(self, *, grad_placements: Sequence[Placement] | None = None) -> Tensor:
        """The global value, on every rank (gathering shards, reducing partials)."""
        replicated = self.redistribute(placements=[Replicate()] * self._device_mesh.ndim)
        return replicated.to_local(grad_placements=grad_placements)

    def redistribute(self, device_mesh: DeviceMesh | None = None,
                     placements: Sequence[Placement] | None = None, *, async_op: bool = False,
                     forward_dtype=None, backward_dtype=None) -> DTensor:
        """The same global value laid out by ``placements`` (a new DTensor; differentiable).
        Partial placements can only be kept or removed, as in PyTorch."""
        mesh = device_mesh or self._device_mesh
        if mesh != self._device_mesh:
            raise NotImplementedError("Cross device mesh comm not supported yet!")
        if placements is None:
            raise RuntimeError("placements is needed for redistribute!")
        placements = normalized(placements, mesh, self.dim())
        for old, new in zip(self._placements, placements):
            if new.is_partial() and old != new:
                raise RuntimeError(f"Can not redistribute from {old} to {new}, redistributing "
                                   "to Partial is for internal use only!")
        local, src = self._local_tensor, self._placements
        if forward_dtype is not None:
            local = local.to(forward_dtype)
        if placements == src:
            return _dtensor(local, mesh, placements, self.shape)
        # a norm's partial resolves as the root of summed powers: differentiable ember ops
        norms = {p.norm_type for p, q in zip(src, placements)
                 if isinstance(p, _NormPartial) and p != q and p.reduce_op == "sum"}
        for norm_type in norms:
            local = local.abs().pow(norm_type)
            src = tuple(Partial("sum") if p == _NormPartial(norm_type) else p for p in src)
        local = Redistribute.apply(local, mesh, src, placements, tuple(self.shape))
        for norm_type in norms:
            local = local.pow(1.0 / norm_type)
        return _dtensor(local, mesh, placements, self.shape)


class _DTensorParameter(DTensor, Parameter):
    """A DTensor that modules register as a parameter: what ``nn.Parameter(dtensor)`` is in
    PyTorch (a DTensor for which ``isinstance(p, nn.Parameter)`` holds)."""


def as_parameter(dt: DTensor, requires_grad: bool = True) -> DTensor:
    """``dt`` made a parameter (in place) whose local tensor is a leaf requiring grad as
    asked."""
    dt._local_tensor.requires_grad_(requires_grad)
    dt.__class__ = _DTensorParameter
    return dt


def parameter_of(dt: DTensor, requires_grad: bool = True) -> DTensor:
    """``nn.Parameter(dt)``: a DTensor parameter over ``dt``'s local storage (detached)."""
    return as_parameter(_dtensor(dt._local_tensor.detach(), dt.device_mesh, dt.placements,
                                 dt.shape), requires_grad)


def distribute_tensor(tensor: Tensor, device_mesh: DeviceMesh | None = None,
                      placements: Sequence[Placement] | None = None, *,
                      src_data_rank: int | None = 0) -> DTensor:
    """``tensor`` laid out over ``device_mesh`` by ``placements`` (default all
    ``Replicate()``): every rank takes the value of the rank ``src_data_rank`` of each mesh
    dimension's group (or its own ``tensor`` when ``src_data_rank`` is None) and keeps its
    shard. ``Partial("sum")`` divides the value among the ranks; ``"avg"``, ``"min"`` and
    ``"max"`` give each rank the whole value. The result is a leaf that requires grad as
    ``tensor`` does."""
    mesh = _mesh(device_mesh)
    if not tensor.is_leaf:
        raise RuntimeError("`distribute_tensor` should be used to distribute leaf tensors! but "
                           "found non-leaf tensor!")
    placements = normalized(placements, mesh, tensor.dim())
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
    local = scatter(full, mesh, placements).requires_grad_(tensor.requires_grad)
    return _dtensor(local, mesh, placements, list(tensor.shape))


def _mesh(device_mesh: DeviceMesh | None) -> DeviceMesh:
    if device_mesh is None:
        raise RuntimeError("No device mesh is currently active! Pass device_mesh.")
    return device_mesh


def _dtensor(local: Tensor, mesh: DeviceMesh, placements: tuple, global_shape) -> DTensor:
    """The DTensor of ``local`` laid out by ``placements``; autograd state is ``local``'s."""
    dt = _new(DTensor)
    dt._local_tensor = local
    _init_like(dt, empty(list(global_shape), dtype=local.dtype, device="meta")._data,
               local.requires_grad)
    dt._device_mesh = mesh
    dt._placements = tuple(placements)
    return dt


def distribute_module(module, device_mesh: DeviceMesh | None = None, partition_fn=None,
                      input_fn=None, output_fn=None):
    """``torch.distributed.tensor.distribute_module``: ``partition_fn(name, submodule, mesh)``
    runs on every submodule (to make its parameters DTensors), then the parameters and buffers
    it left plain are replicated over ``device_mesh`` (``Replicate()`` DTensors, as
    parameters where they were); ``input_fn(module, inputs, mesh)`` becomes a forward pre-hook
    and ``output_fn(module, outputs, mesh)`` a forward hook. Returns ``module``."""
    mesh = _mesh(device_mesh)
    if getattr(module, "_distribute_module_applied", False):
        raise RuntimeError("distribute_module should only be called once on a module, but it "
                           "has already been called on this module!")
    for name, submodule in module.named_modules():
        if partition_fn is not None:
            partition_fn(name, submodule, mesh)
        _replicate_params_and_buffers(submodule, mesh)
    if input_fn is not None:
        module.register_forward_pre_hook(lambda mod, inputs: input_fn(mod, inputs, mesh))
    if output_fn is not None:
        module.register_forward_hook(
            lambda mod, inputs, outputs: output_fn(mod, outputs, mesh))
    module._distribute_module_applied = True
    return module


def _replicate_params_and_buffers(module, mesh: DeviceMesh) -> None:
    """``module``'s own plain parameters and buffers made replicated DTensors."""
    for name, param in list(module._parameters.items()):
        if param is not None and not isinstance(param, DTensor):
            module.register_parameter(name, Parameter(
                distribute_tensor(param.data, mesh, [Replicate()] * mesh.ndim),
                param.requires_grad))
    for name, buffer in list(module._buffers.items()):
        if buffer is not None and not isinstance(buffer, DTensor):
            module._buffers[name] = distribute_tensor(buffer, mesh, [Replicate()] * mesh.ndim)
