"""Pipeline stages (``torch.distributed.pipelining.stage``): one piece of a model that runs the
forward and backward of microbatches, exchanging activations and gradients with the stages
before and after it by point-to-point messages.

NOTE [ Stage messages ]
Stage ``s`` runs on group rank ``stage_index_to_group_rank[s]``. Its forward sends each output
tensor of a microbatch to stage ``s + 1`` and its backward sends the gradient of each input
that requires grad (zeros when autograd gave none) to stage ``s - 1``. Receivers allocate the
buffers from the metadata (shape, dtype, requires_grad) the schedule inferred on its first
step (``_prepare_forward_infra``). Every message has its own tag (direction, receiving stage,
microbatch), so two ranks that hold several stages each never mistake one message for another
whatever order their schedules post them in. Stages on one rank hand tensors over directly.
"""
from __future__ import annotations

from typing import Any, Callable

import ember
import ember.distributed as dist
from ember._tensor import Tensor
from ember.distributed.pipelining._utils import (
    PipeliningMetadataError,
    TensorMeta,
    as_tensor_tuple,
)
from ember.nn.modules.module import Module

__all__ = ["PipelineStage", "build_stage"]

_FORWARD, _BACKWARD = 0, 1
_MAX_TAG = 32767  # the least upper bound MPI guarantees


class _PipelineStageBase:
    """What every stage does once it knows the metadata of its inputs and outputs."""

    def __init__(self, submodule: Module, stage_index: int, num_stages: int, device: Any,
                 group: dist.ProcessGroup | None = None,
                 dw_builder: Callable[[], Callable[[], None]] | None = None) -> None:
        if stage_index >= num_stages:
            raise ValueError(f"Stage index {stage_index} is out of range of {num_stages}")
        self.submod = submodule
        self.stage_index = stage_index
        self.num_stages = num_stages
        self.device = ember.device(device)
        self.group = group
        self.dw_builder = dw_builder
        self.group_rank = dist.get_rank(group)
        self.group_size = dist.get_world_size(group)
        if self.group_size > num_stages:
            raise RuntimeError(f"Pipeline group size {self.group_size} cannot be larger than "
                               f"number of stages {num_stages}")
        self.stage_index_to_group_rank = {i: i % self.group_size for i in range(num_stages)}
        self.has_backward = False
        self.log_prefix = f"[Stage {stage_index}]"
        # Metadata of the received inputs (None on the first stage) and of the outputs.
        self.inputs_meta: tuple | None = None
        self.outputs_meta: tuple | None = None
        # Per microbatch: received inputs, forward results kept for backward, received output
        # grads, input grads to send; and the last stage's outputs for the merged result.
        self._act_buffers: dict[int, tuple] = {}
        self.fwd_cache: dict[int, tuple] = {}
        self._grad_buffers: dict[int, tuple] = {}
        self.bwd_cache: dict[int, tuple] = {}
        self.output_chunks: list = []

    @property
    def is_first(self) -> bool:
        """Whether this is the pipeline's first stage."""
        return self.stage_index == 0

    @property
    def is_last(self) -> bool:
        """Whether this is the pipeline's last stage."""
        return self.stage_index == self.num_stages - 1

    def _is_local(self, stage_index: int) -> bool:
        return self.stage_index_to_group_rank[stage_index] == self.group_rank

    def _p2p(self, op: Callable, tensor: Tensor, stage_index: int, kind: int,
             mb: int) -> dist.P2POp:
        """A message between this stage and ``stage_index``; see NOTE [ Stage messages ]."""
        receiver = stage_index if op is dist.isend else self.stage_index
        tag = 1 + (kind + 2 * receiver + 2 * self.num_stages * mb) % (_MAX_TAG - 1)
        return dist.P2POp(op, tensor, group=self.group, tag=tag,
                          group_peer=self.stage_index_to_group_rank[stage_index])

    # ----------------------------------------------------------------- metadata inference

    def _prepare_forward_infra(self, args: Any, kwargs: dict | None) -> tuple:
        """Learn this stage's input and output metadata by running its module once.

        The first stage runs on ``args`` (its first microbatch), the others on zeros shaped
        as the previous stage's outputs, which arrive as ``args`` from a stage on this rank or
        by message otherwise. Returns the output metadata, for a next stage on this rank.
        """
        if self.is_first:
            inputs = tuple(a.detach() if isinstance(a, Tensor) else a for a in args)
        else:
            self.inputs_meta = args if self._is_local(self.stage_index - 1) else \
                self._recv_meta(self.stage_index - 1)
            inputs = tuple(m.empty(self.device).zero_().requires_grad_(m.requires_grad)
                           for m in self.inputs_meta)
        # The module's grad mode decides which outputs require grad, so run it with grad on,
        # and on a copy of the RNG so that dropout draws the same masks as without this run.
        with ember.random.fork_rng(), ember.enable_grad():
            outputs = self.submod(*inputs, **(kwargs or {}))
        self.outputs_meta = tuple(TensorMeta.of(t) for t in
                                  as_tensor_tuple(outputs, f"{self.log_prefix} outputs"))
        if not self.is_last and not self._is_local(self.stage_index + 1):
            self._send_meta(self.outputs_meta, self.stage_index + 1)
        self._check_user_meta()  # after the send: the next stage can raise on its own
        return self.outputs_meta

    def _check_user_meta(self) -> None:
        """Subclasses compare the inferred metadata with what the user declared."""

    def _recv_meta(self, stage_index: int) -> tuple:
        objects = [None]
        dist.recv_object_list(objects, group=self.group,
                              group_src=self.stage_index_to_group_rank[stage_index])
        return objects[0]

    def _send_meta(self, meta: tuple, stage_index: int) -> None:
        dist.send_object_list([meta], group=self.group,
                              group_dst=self.stage_index_to_group_rank[stage_index])

    # ----------------------------------------------------------------------------- forward

    def get_fwd_recv_ops(self, fwd_chunk_id: int) -> list:
        """The receives of microbatch ``fwd_chunk_id``'s inputs (none on the first stage)."""
        if self.is_first:
            return []
        buffers = tuple(m.empty(self.device) for m in self.inputs_meta)
        self._act_buffers[fwd_chunk_id] = buffers
        return [self._p2p(dist.irecv, b, self.stage_index - 1, _FORWARD, fwd_chunk_id)
                for b in buffers]

    def set_local_fwd_input(self, prev_stage_outputs: Any, mb_index: int) -> None:
        """Take the outputs of the previous stage, on this rank, as this stage's inputs."""
        outputs = as_tensor_tuple(prev_stage_outputs, f"{self.log_prefix} inputs")
        self._act_buffers[mb_index] = tuple(t.detach() for t in outputs)

    def forward_one_chunk(self, fwd_chunk_id: int, args: tuple = (), kwargs: dict | None = None,
                          save_forward_output: bool = True) -> Any:
        """Run the module on one microbatch: ``args`` on the first stage, the received
        activations on the others; ``kwargs`` on every stage. Returns the module's output."""
        if self.is_first:
            inputs = tuple(args)
        else:
            # Fresh leaves: the backward of this microbatch stops at them and leaves their grad.
            wants_grad = self.has_backward and ember.is_grad_enabled()
            inputs = tuple(b.requires_grad_(m.requires_grad and wants_grad)
                           for b, m in zip(self._act_buffers.pop(fwd_chunk_id),
                                           self.inputs_meta))
        kwargs = kwargs or {}
        try:
            output = self.submod(*inputs, **kwargs)
        except Exception as e:
            raise RuntimeError(f"{self.log_prefix} failed to run forward") from e
        outputs = as_tensor_tuple(output, f"{self.log_prefix} outputs")
        if self.is_last and save_forward_output:
            self.output_chunks.append(output)
        self.fwd_cache[fwd_chunk_id] = (outputs, inputs)
        return output

    def get_fwd_send_ops(self, fwd_chunk_id: int) -> list:
        """The sends of microbatch ``fwd_chunk_id``'s outputs to the next stage."""
        if self.is_last:
            return []
        outputs = self.fwd_cache[fwd_chunk_id][0]
        for t, m in zip(outputs, self.outputs_meta):
            if tuple(t.shape) != m.shape or t.dtype != m.dtype:
                raise PipeliningMetadataError(
                    f"{self.log_prefix} microbatch {fwd_chunk_id} output has shape "
                    f"{tuple(t.shape)} and dtype {t.dtype}, but the first step inferred "
                    f"{m.shape} and {m.dtype}")
        return [self._p2p(dist.isend, t.detach().contiguous(), self.stage_index + 1, _FORWARD,
                          fwd_chunk_id) for t in outputs]

    def get_local_fwd_output(self, mb_index: int) -> tuple:
        """The outputs of microbatch ``mb_index``, for a next stage on this rank."""
        return self.fwd_cache[mb_index][0]

    # ---------------------------------------------------------------------------- backward

    def get_bwd_recv_ops(self, bwd_chunk_id: int) -> list:
        """The receives of the gradients of microbatch ``bwd_chunk_id``'s outputs."""
        if not self.has_backward or self.is_last:
            return []
        buffers = tuple(m.empty(self.device) if m.requires_grad else None
                        for m in self.outputs_meta)
        self._grad_buffers[bwd_chunk_id] = buffers
        return [self._p2p(dist.irecv, b, self.stage_index + 1, _BACKWARD, bwd_chunk_id)
                for b in buffers if b is not None]

    def set_local_bwd_input(self, next_stage_bwd_outputs: tuple, mb_index: int) -> None:
        """Take the input gradients of the next stage, on this rank, as this stage's output
        gradients."""
        self._grad_buffers[mb_index] = tuple(next_stage_bwd_outputs)

    def backward_one_chunk(self, bwd_chunk_id: int, loss: Tensor | None = None,
                           full_backward: bool = True, last_backward: bool = False) -> None:
        """Backpropagate microbatch ``bwd_chunk_id``: from ``loss`` on the last stage, from the
        received output gradients on the others. Parameter gradients accumulate in ``.grad``;
        the input gradients are kept for ``get_bwd_send_ops``. (``last_backward`` is where
        PyTorch lets DDP and FSDP synchronise, which ember's stages do not wrap.)"""
        if not self.has_backward:
            return
        if not full_backward:
            raise NotImplementedError("ember's stages run full backwards only (the split input "
                                      "and weight backwards of zero-bubble schedules are not "
                                      "supported)")
        outputs, inputs = self.fwd_cache.pop(bwd_chunk_id)
        if self.is_last:
            roots, grads = [loss], [None]
        else:
            pairs = [(t, g) for t, g in zip(outputs, self._grad_buffers.pop(bwd_chunk_id))
                     if t.requires_grad]
            roots, grads = [t for t, _ in pairs], [g for _, g in pairs]
        if roots:
            ember.autograd.backward(roots, grad_tensors=grads)
        if self.dw_builder is not None:
            self.dw_builder()()
        if not self.is_first:
            self.bwd_cache[bwd_chunk_id] = tuple(x.grad if isinstance(x, Tensor) else None
                                                 for x in inputs)
        if self.is_last:  # the merged output is returned without its graph, as in PyTorch
            for t in outputs:
                if t._base is None:
                    t.detach_()

    def get_bwd_send_ops(self, bwd_chunk_id: int) -> list:
        """The sends of microbatch ``bwd_chunk_id``'s input gradients to the previous stage."""
        if not self.has_backward or self.is_first:
            return []
        ops = []
        for grad, m in zip(self.bwd_cache.pop(bwd_chunk_id), self.inputs_meta):
            if m.requires_grad:
                grad = ember.zeros(m.shape, dtype=m.dtype, device=self.device) if grad is None \
                    else grad.contiguous()
                ops.append(self._p2p(dist.isend, grad, self.stage_index - 1, _BACKWARD,
                                     bwd_chunk_id))
        return ops

    def get_local_bwd_output(self, mb_index: int) -> tuple:
        """The input gradients of microbatch ``mb_index``, for a previous stage on this rank."""
        return self.bwd_cache.pop(mb_index)

    def scale_grads(self, grad_scale_factor: int) -> None:
        """Divide the module's parameter gradients by ``grad_scale_factor`` (the number of
        microbatches when the loss averages, 1 when it sums)."""
        if grad_scale_factor != 1:
            for p in self.submod.parameters():
                if p.grad is not None:
                    p.grad.div_(grad_scale_factor)

    def perform_reduce_grad(self, grad_scale_factor: int) -> None:
        """What a step does after its last backward: scale the gradients."""
        self.scale_grads(grad_scale_factor)

    def clear_runtime_states(self) -> None:
        """Forget the microbatches of the previous step."""
        self._act_buffers.clear()
        self.fwd_cache.clear()
        self._grad_buffers.clear()
        self.bwd_cache.clear()
        self.output_chunks.clear()


class PipelineStage(_PipelineStageBase):
    """A stage of a model split by hand: ``submodule`` is the part of the model this stage
    runs; its inputs are the outputs of stage ``stage_index - 1`` (the batch itself on the
    first stage) and its outputs feed stage ``stage_index + 1`` (the loss on the last stage).

    The shapes, dtypes and requires_grad of the tensors that pass between stages are learned
    on the schedule's first step by running each stage once on the first microbatch (see NOTE
    [ Stage messages ]); the example tensors, when given, must agree with them.

    Args:
        submodule: the module this stage runs.
        stage_index: its position in the pipeline, from 0.
        num_stages: the number of stages of the pipeline.
        device: the device of this stage's tensors.
        input_args: example inputs of one microbatch (a tensor or a tuple), optional.
        output_args: example outputs of one microbatch, optional.
        output_grads: example gradients of the outputs (None where an output has none).
        input_grads: example gradients of the inputs (None where an input has none).
        group: the process group of the pipeline (the world by default).
        dw_builder: returns a function that is called after each microbatch's backward.
        get_mesh: PyTorch's DeviceMesh lookup for DTensor activations, which ember's stages
            do not carry (must be None).

    Example::

        >>> stage = PipelineStage(model_part, dist.get_rank(), dist.get_world_size(), "cpu")
        >>> schedule = ScheduleGPipe(stage, n_microbatches=4, loss_fn=loss_fn)
    """

    def __init__(self, submodule: Module, stage_index: int, num_stages: int, device: Any,
                 input_args: Tensor | tuple | None = None,
                 output_args: Tensor | tuple | None = None,
                 output_grads: Tensor | tuple | None = None,
                 input_grads: Tensor | tuple | None = None,
                 group: dist.ProcessGroup | None = None,
                 dw_builder: Callable[[], Callable[[], None]] | None = None,
                 get_mesh: Callable | None = None) -> None:
        if get_mesh is not None:
            raise NotImplementedError("PipelineStage: DTensor activations (get_mesh) are not "
                                      "supported by ember")
        super().__init__(submodule, stage_index, num_stages, device, group, dw_builder)
        self._declared = {"input_args": input_args, "output_args": output_args,
                          "output_grads": output_grads, "input_grads": input_grads}

    def _check_user_meta(self) -> None:
        inferred = {"input_args": self.inputs_meta, "output_args": self.outputs_meta,
                    "output_grads": self.outputs_meta, "input_grads": self.inputs_meta}
        for name, given in self._declared.items():
            if given is None or inferred[name] is None:
                continue
            given = given if isinstance(given, (tuple, list)) else (given,)
            got = [None if t is None else (tuple(t.shape), t.dtype) for t in given]
            want = [(m.shape, m.dtype) for m in inferred[name]]
            if len(got) != len(want) or any(g is not None and g != w
                                            for g, w in zip(got, want)):
                raise PipeliningMetadataError(
                    f"{self.log_prefix} {name} has shapes and dtypes {got}, but the stage "
                    f"computes {want}")


def build_stage(stage_module: Module, stage_index: int, pipe_info: Any, device: Any,
                group: dist.ProcessGroup | None = None) -> PipelineStage:
    """The stage ``stage_index`` of a traced pipeline (``pipe_info`` is its ``Pipe``)."""
    return PipelineStage(stage_module, stage_index, pipe_info.num_stages, device, group=group)
