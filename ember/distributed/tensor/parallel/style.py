"""The ``ParallelStyle``s of ``torch.distributed.tensor.parallel``: how one module is
parallelized. Each makes the module's parameters DTensors and registers hooks that turn its
inputs into DTensors of the layout it computes with, and its outputs into the layout (and,
with ``use_local_output``, the plain local tensors) the next module expects."""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from ember._tensor import Tensor
from ember.distributed.device_mesh import DeviceMesh
from ember.distributed.tensor._api import DTensor, distribute_module, distribute_tensor
from ember.distributed.tensor.placement_types import Placement, Replicate, Shard
from ember.nn.modules.module import Module
from ember.nn.modules.sparse import Embedding
from ember.nn.parameter import Parameter

__all__ = ["ColwiseParallel", "ParallelStyle", "PrepareModuleInput", "PrepareModuleInputOutput",
           "PrepareModuleOutput", "RowwiseParallel", "SequenceParallel"]


class ParallelStyle(ABC):
    """How ``parallelize_module`` parallelizes one module (``_apply``)."""

    src_data_rank: int | None = 0

    @abstractmethod
    def _apply(self, module: Module, device_mesh: DeviceMesh) -> Module: ...


def _as_dtensor(tensor: Tensor, mesh: DeviceMesh, layouts: tuple) -> DTensor:
    """``tensor`` as a DTensor: a plain one is taken as this rank's part laid out by
    ``layouts``."""
    if isinstance(tensor, DTensor):
        return tensor
    return DTensor.from_local(tensor, mesh, layouts, run_check=False)


def _laid_out(dt: DTensor, layouts: tuple, use_local: bool):
    if dt.placements != tuple(layouts):
        dt = dt.redistribute(placements=layouts)
    return dt.to_local() if use_local else dt


def _shard_params(module: Module, mesh: DeviceMesh, placements: dict, src_data_rank) -> None:
    """``module``'s own parameters made DTensor parameters laid out by ``placements[name]``."""
    for name, param in list(module.named_parameters(recurse=False)):
        dt = distribute_tensor(param.detach(), mesh, [placements[name]],
                               src_data_rank=src_data_rank)
        module.register_parameter(name, Parameter(dt, param.requires_grad))


class _LinearOrEmbeddingParallel(ParallelStyle):
    """What ``ColwiseParallel`` and ``RowwiseParallel`` share: an ``nn.Linear`` or
    ``nn.Embedding`` (or a module with ``weight``/``bias`` laid out as one) whose input is
    taken as laid out by ``input_layouts`` and redistributed to what the style computes with,
    and whose output is redistributed to ``output_layouts``."""

    def __init__(self, *, input_layouts: Placement | None, output_layouts: Placement | None,
                 use_local_output: bool, default_input: Placement,
                 default_output: Placement) -> None:
        super().__init__()
        self.input_layouts = (input_layouts or default_input,)
        self.output_layouts = (output_layouts or default_output,)
        self.use_local_output = use_local_output
        self.desired_input_layouts: tuple = (Replicate(),)

    def _prepare_input(self, module: Module, inputs: tuple, mesh: DeviceMesh) -> tuple:
        first = _as_dtensor(inputs[0], mesh, self.input_layouts)
        if first.placements != self.desired_input_layouts:
            first = first.redistribute(placements=self.desired_input_layouts)
        return (first, *inputs[1:])

    def _prepare_output(self, module: Module, outputs: DTensor, mesh: DeviceMesh):
        return _laid_out(outputs, self.output_layouts, self.use_local_output)

    def _weight_placements(self, module: Module) -> dict:
        raise NotImplementedError

    def _apply(self, module: Module, device_mesh: DeviceMesh) -> Module:
        placements = self._weight_placements(module)

        def partition(name: str, submodule: Module, mesh: DeviceMesh) -> None:
            if submodule is module:
                _shard_params(module, mesh, placements, self.src_data_rank)
        return distribute_module(module, device_mesh, partition, self._prepare_input,
                                 self._prepare_output)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(input_layouts={self.input_layouts}, output_layouts="
                f"{self.output_layouts}, use_local_output={self.use_local_output})")


class ColwiseParallel(_LinearOrEmbeddingParallel):
    """Shard an ``nn.Linear`` by output features (weight and bias ``Shard(0)``) or an
    ``nn.Embedding`` by embedding dimension (weight ``Shard(1)``). The input, laid out as
    ``input_layouts`` (default ``Replicate()``), is replicated; the output, sharded on its last
    dimension, is laid out as ``output_layouts`` (default ``Shard(-1)``) and, with
    ``use_local_output`` (default), given as the local tensor.

    Example::

        >>> parallelize_module(mlp, mesh, {"up": ColwiseParallel(), "down": RowwiseParallel()})
    """

    def __init__(self, *, input_layouts: Placement | None = None,
                 output_layouts: Placement | None = None, use_local_output: bool = True) -> None:
        super().__init__(input_layouts=input_layouts, output_layouts=output_layouts,
                         use_local_output=use_local_output, default_input=Replicate(),
                         default_output=Shard(-1))

    def _weight_placements(self, module: Module) -> dict:
        if isinstance(module, Embedding):
            return {"weight": Shard(1)}
        if not hasattr(module, "in_features"):
            raise NotImplementedError("ColwiseParallel currently only support nn.Linear and "
                                      "nn.Embedding!")
        return {"weight": Shard(0), "bias": Shard(0)}


class RowwiseParallel(_LinearOrEmbeddingParallel):
    """Shard an ``nn.Linear`` by input features (weight ``Shard(1)``, bias replicated) or an
    ``nn.Embedding`` by rows (weight ``Shard(0)``). A linear's input, laid out as
    ``input_layouts`` (default ``Shard(-1)``), is sharded on its last dimension (an
    embedding's is replicated); the output, a partial sum, is reduced to ``output_layouts``
    (default ``Replicate()``: an all-reduce; ``Shard(1)``: a reduce-scatter for sequence
    parallelism) and, with ``use_local_output`` (default), given as the local tensor."""

    def __init__(self, *, input_layouts: Placement | None = None,
                 output_layouts: Placement | None = None, use_local_output: bool = True) -> None:
        super().__init__(input_layouts=input_layouts, output_layouts=output_layouts,
                         use_local_output=use_local_output, default_input=Shard(-1),
                         default_output=Replicate())

    def _weight_placements(self, module: Module) -> dict:
        if isinstance(module, Embedding):
            self.desired_input_layouts = (Replicate(),)
            return {"weight": Shard(0)}
        if not hasattr(module, "in_features"):
            raise NotImplementedError("RowwiseParallel currently only support nn.Linear and "
                                      "nn.Embedding!")
        self.desired_input_layouts = (Shard(-1),)
        return {"weight": Shard(1), "bias": Replicate()}


class SequenceParallel(ParallelStyle):
    """Run a module that works position by position (``LayerNorm``, ``RMSNorm``, dropout) on
    the sequence shard: parameters are replicated, the input (a plain tensor taken as this
    rank's shard) is laid out as ``Shard(sequence_dim)``, and the output stays a DTensor unless
    ``use_local_output``."""

    def __init__(self, *, sequence_dim: int = 1, use_local_output: bool = False) -> None:
        super().__init__()
        self.sequence_sharding = (Shard(sequence_dim),)
        self.use_local_output = use_local_output

    def _replicate_params(self, name: str, module: Module, mesh: DeviceMesh) -> None:
        for param_name, param in list(module.named_parameters(recurse=False)):
            replicated = DTensor.from_local(param.detach(), mesh, [Replicate()], run_check=False)
            module.register_parameter(param_name, Parameter(replicated, param.requires_grad))

    def _prepare_input(self, module: Module, inputs: tuple, mesh: DeviceMesh) -> tuple:
        first = inputs[0]
        if isinstance(first, DTensor):
            if first.placements != self.sequence_sharding:
                first = first.redistribute(placements=self.sequence_sharding)
        elif isinstance(first, Tensor):
            first = DTensor.from_local(first, mesh, self.sequence_sharding, run_check=False)
        else:
            raise ValueError(f"expecting input of {module} to be a torch.Tensor or DTensor, "
                             f"but got {first}")
        return (first, *inputs[1:])

    def _prepare_output(self, module: Module, outputs, mesh: DeviceMesh):
        return outputs.to_local() if self.use_local_output else outputs

    def _apply(self, module: Module, device_mesh: DeviceMesh) -> Module:
        return distribute_module(module, device_mesh, self._replicate_params,
                                 self._prepare_input, self._prepare_output)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(sequence_dim={self.sequence_sharding[0].dim}, "
                f"use_local_output={self.use_local_output})")


def _as_tuple(layouts) -> tuple | None:
    return (layouts,) if isinstance(layouts, Placement) else layouts


class PrepareModuleInput(ParallelStyle):
    """Lay a module's inputs out before its forward: positional input ``i`` (and keyword
    input ``k``), taken as laid out by ``input_layouts[i]`` (``input_kwarg_layouts[k]``),
    becomes a DTensor redistributed to ``desired_input_layouts[i]``; a None layout leaves the
    input as it is. ``use_local_output`` gives local tensors instead."""

    def __init__(self, *, input_layouts: Placement | tuple[Placement | None, ...] | None = None,
                 desired_input_layouts: Placement | tuple[Placement | None, ...] | None = None,
                 input_kwarg_layouts: dict[str, Placement] | None = None,
                 desired_input_kwarg_layouts: dict[str, Placement] | None = None,
                 use_local_output: bool = False) -> None:
        self.input_layouts = _as_tuple(input_layouts)
        self.desired_input_layouts = _as_tuple(desired_input_layouts)
        self.use_local_output = use_local_output
        if self.input_layouts is not None:
            if self.desired_input_layouts is None:
                raise AssertionError("desired module inputs should not be None!")
            if len(self.input_layouts) != len(self.desired_input_layouts):
                raise AssertionError("input_layouts and desired_input_layouts should have same "
                                     "length!")
        self.with_kwargs = input_kwarg_layouts is not None
        self.input_kwarg_layouts = input_kwarg_layouts or {}
        self.desired_input_kwarg_layouts = desired_input_kwarg_layouts or {}
        if self.with_kwargs and \
                len(self.input_kwarg_layouts) != len(self.desired_input_kwarg_layouts):
            raise AssertionError("input_kwarg_layouts and desired_input_kwarg_layouts should "
                                 "have same length!")

    def _prepare_arg(self, value: Any, mesh: DeviceMesh, layout, desired):
        if layout is None:
            return value
        if not isinstance(value, Tensor):
            raise AssertionError("expecting input to be a torch.Tensor!")
        dt = _as_dtensor(value, mesh, (layout,))
        if desired is not None and layout != desired:
            dt = dt.redistribute(placements=(desired,))
        return dt.to_local() if self.use_local_output else dt

    def _prepare_inputs(self, inputs, mesh: DeviceMesh):
        if self.input_layouts is None:
            return inputs
        inputs = inputs if isinstance(inputs, tuple) else (inputs,)
        if len(inputs) != len(self.input_layouts):
            raise ValueError("module inputs and input_layouts should have same length!")
        return tuple(self._prepare_arg(value, mesh, layout, desired) for value, layout, desired
                     in zip(inputs, self.input_layouts, self.desired_input_layouts))

    def _prepare_kwargs(self, inputs, kwargs: dict, mesh: DeviceMesh):
        prepared = {key: self._prepare_arg(value, mesh, self.input_kwarg_layouts.get(key),
                                           self.desired_input_kwarg_layouts.get(key))
                    for key, value in kwargs.items()}
        return self._prepare_inputs(inputs, mesh), prepared

    def _apply(self, module: Module, device_mesh: DeviceMesh) -> Module:
        if self.with_kwargs:
            module.register_forward_pre_hook(
                lambda _, inputs, kwargs: self._prepare_kwargs(inputs, kwargs, device_mesh),
                with_kwargs=True)
        else:
            module.register_forward_pre_hook(
                lambda _, inputs: self._prepare_inputs(inputs, device_mesh))
        return module

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(input_layouts={self.input_layouts}, "
                f"desired_input_layouts={self.desired_input_layouts}, input_kwarg_layouts="
                f"{self.input_kwarg_layouts}, desired_input_kwarg_layouts="
                f"{self.desired_input_kwarg_layouts}, use_local_output={self.use_local_output})")


class PrepareModuleOutput(ParallelStyle):
    """Lay a module's outputs out after its forward: output ``i``, taken as laid out by
    ``output_layouts[i]``, becomes a DTensor redistributed to ``desired_output_layouts[i]``
    (None leaves it), given as the local tensor with ``use_local_output`` (default)."""

    def __init__(self, *, output_layouts: Placement | tuple[Placement | None, ...],
                 desired_output_layouts: Placement | tuple[Placement, ...],
                 use_local_output: bool = True) -> None:
        self.output_layouts = _as_tuple(output_layouts)
        self.desired_output_layouts = _as_tuple(desired_output_layouts)
        self.use_local_output = use_local_output
        if len(self.output_layouts) != len(self.desired_output_layouts):
            raise AssertionError("output_layouts and desired_output_layouts should have same "
                                 "length!")

    def _prepare_outputs(self, outputs, mesh: DeviceMesh):
        single = not isinstance(outputs, tuple)
        outputs = (outputs,) if single else outputs
        if len(outputs) != len(self.output_layouts):
            raise ValueError("module outputs and output_layouts should have same length!")
        prepared = []
        for value, layout, desired in zip(outputs, self.output_layouts,
                                          self.desired_output_layouts):
            if layout is not None:
                dt = _as_dtensor(value, mesh, (layout,))
                if layout != desired:
                    dt = dt.redistribute(placements=(desired,))
                value = dt.to_local() if self.use_local_output else dt
            prepared.append(value)
        return prepared[0] if single else tuple(prepared)

    def _apply(self, module: Module, device_mesh: DeviceMesh) -> Module:
        module.register_forward_hook(
            lambda _, inputs, outputs: self._prepare_outputs(outputs, device_mesh))
        return module

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(output_layouts={self.output_layouts}, "
                f"desired_output_layouts={self.desired_output_layouts}, use_local_output="
                f"{self.use_local_output})")


class PrepareModuleInputOutput(ParallelStyle):
    """``PrepareModuleInput`` (with ``use_local_input`` as its ``use_local_output``) and
    ``PrepareModuleOutput`` on one module."""

    def __init__(self, *, input_layouts: Placement | tuple[Placement | None, ...] | None = None,
                 desired_input_layouts: Placement | tuple[Placement | None, ...] | None = None,
                 input_kwarg_layouts: dict[str, Placement] | None = None,
                 desired_input_kwarg_layouts: dict[str, Placement] | None = None,
                 use_local_input: bool = False,
                 output_layouts: Placement | tuple[Placement | None, ...],
                 desired_output_layouts: Placement | tuple[Placement, ...],
                 use_local_output: bool = True) -> None:
        self.prepare_module_input = PrepareModuleInput(
            input_layouts=input_layouts, desired_input_layouts=desired_input_layouts,
            input_kwarg_layouts=input_kwarg_layouts,
            desired_input_kwarg_layouts=desired_input_kwarg_layouts,
            use_local_output=use_local_input)
        self.prepare_module_output = PrepareModuleOutput(
            output_layouts=output_layouts, desired_output_layouts=desired_output_layouts,
            use_local_output=use_local_output)

    def _apply(self, module: Module, device_mesh: DeviceMesh) -> Module:
        self.prepare_module_input._apply(module, device_mesh)
        self.prepare_module_output._apply(module, device_mesh)
        return module

    def __repr__(self) -> str:
        inputs, outputs = self.prepare_module_input, self.prepare_module_output
        return (f"{type(self).__name__}(input_layouts={inputs.input_layouts}, "
                f"desired_input_layouts={inputs.desired_input_layouts}, input_kwarg_layouts="
                f"{inputs.input_kwarg_layouts}, desired_input_kwarg_layouts="
                f"{inputs.desired_input_kwarg_layouts}, use_local_input="
                f"{inputs.use_local_output}, output_layouts={outputs.output_layouts}, "
                f"desired_output_layouts={outputs.desired_output_layouts}, use_local_output="
                f"{outputs.use_local_output})")
