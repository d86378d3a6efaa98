"""Pipeline schedules (``torch.distributed.pipelining.schedules``): the order in which each
rank runs the forwards and backwards of the microbatches on its stages.

Every schedule is a list of actions per rank (``pipeline_order``: forward or backward of a
stage on a microbatch), run by one loop (``_PipelineSchedule._run_actions``): before an action
it receives what the action needs (activations or output gradients, from a stage on another
rank, or handed over by a stage on this rank); after it, it starts the sends of what it made
and waits for them only at the end of the step. A rank therefore only ever waits for a message
that an earlier action of its peer produces, so a schedule whose actions respect the data
dependencies cannot deadlock.
"""
from __future__ import annotations

from enum import Enum
from typing import Any, Callable, NamedTuple

import ember
import ember.distributed as dist
from ember.distributed.pipelining._utils import generate_stage_to_rank_mapping
from ember.distributed.pipelining.microbatch import (
    TensorChunkSpec,
    _split_tensor,
    merge_chunks,
    split_args_kwargs_into_chunks,
)
from ember.distributed.pipelining.stage import _PipelineStageBase

__all__ = ["PipelineScheduleSingle", "PipelineScheduleMulti", "Schedule1F1B", "ScheduleGPipe",
           "ScheduleInterleaved1F1B", "ScheduleLoopedBFS", "get_schedule_class"]

_TARGET_CHUNK_SPEC = TensorChunkSpec(0)


class _ComputationType(str, Enum):
    FORWARD = "F"
    FULL_BACKWARD = "B"

    def __str__(self) -> str:
        return self.value


FORWARD = _ComputationType.FORWARD
FULL_BACKWARD = _ComputationType.FULL_BACKWARD


class _Action(NamedTuple):
    stage_index: int
    computation_type: _ComputationType
    microbatch_index: int

    def __repr__(self) -> str:  # PyTorch's compact form: "2F0" is stage 2's forward of mb 0
        return f"{self.stage_index}{self.computation_type}{self.microbatch_index}"


def _start(ops: list) -> list:
    return [work for work in dist.batch_isend_irecv(ops) if work is not None] if ops else []


def _wait(works: list) -> None:
    for work in works:
        work.wait()


class _PipelineSchedule:
    """What every schedule shares: splitting the batch, the losses, ``step`` and ``eval``.

    Subclasses set ``self._stages`` (this rank's stages, in stage order) and
    ``self.pipeline_order`` (each rank's actions).
    """

    def __init__(self, n_microbatches: int, loss_fn: Callable | None = None,
                 args_chunk_spec: tuple | None = None, kwargs_chunk_spec: dict | None = None,
                 output_merge_spec: Any = None, scale_grads: bool = True) -> None:
        self._n_microbatches = n_microbatches
        self._loss_fn = loss_fn
        self.scale_grads = scale_grads
        self._args_chunk_spec = args_chunk_spec
        self._kwargs_chunk_spec = kwargs_chunk_spec
        self._output_merge_spec = output_merge_spec
        self._has_backward = loss_fn is not None
        self._internal_losses: dict[int, Any] = {}
        self._stages: list[_PipelineStageBase] = []
        self._stages_initialized = False
        self._backward_requires_autograd = True
        self.pipeline_order: dict[int, list[_Action]] = {}

    # ------------------------------------------------------------------------------ step

    def step(self, *args, target: Any = None, losses: list | None = None,
             return_outputs: bool = True, loss_kwargs: dict | None = None, **kwargs) -> Any:
        """Run one iteration on the whole batch: split ``args`` / ``kwargs`` (given to the
        first stage) and ``target`` (given to the last) into microbatches, run them through
        the schedule, and accumulate the parameter gradients of this rank's stages (divided
        by ``n_microbatches`` when ``scale_grads``).

        Args:
            args, kwargs: the model's inputs for the whole batch (first stage only).
            target: the loss function's target for the whole batch (last stage only).
            losses: a list that receives the loss of each microbatch (last stage only).
            return_outputs: whether the last stage returns the merged output.
            loss_kwargs: extra keyword arguments of the loss function.

        Returns:
            On the rank of the last stage, the model output of the whole batch; None elsewhere.
        """
        if self._has_backward and self._backward_requires_autograd and \
                not ember.is_grad_enabled():
            raise RuntimeError("step() requires gradients to be enabled for backward "
                               "computation; it should not be used under torch.no_grad() "
                               "context. Please call eval() instead.")
        for stage in self._stages:
            stage.has_backward = self._has_backward
            stage.clear_runtime_states()
        args_split, kwargs_split = self._split_inputs(args, kwargs)
        targets_split = None if target is None else \
            _split_tensor(target, _TARGET_CHUNK_SPEC, self._n_microbatches)
        self._step_microbatches(args_split, kwargs_split, targets_split, losses,
                                return_outputs, loss_kwargs=loss_kwargs)
        for stage in self._stages:
            if stage.is_last and return_outputs:
                return self._merge_outputs(stage.output_chunks)
        return None

    def eval(self, *args, target: Any = None, losses: list | None = None, **kwargs) -> Any:
        """``step`` without backward: forwards only (losses still computed when a
        ``loss_fn`` and a ``target`` are given)."""
        has_backward = self._has_backward
        try:
            self._has_backward = False
            return self.step(*args, target=target, losses=losses, **kwargs)
        finally:
            self._has_backward = has_backward

    def _step_microbatches(self, arg_mbs: list | None = None, kwarg_mbs: list | None = None,
                           target_mbs: list | None = None, losses: list | None = None,
                           return_outputs: bool = True, loss_kwargs: dict | None = None) -> None:
        """Run one iteration on microbatches already split."""
        arg_mbs, kwarg_mbs = self._check_inputs(arg_mbs, kwarg_mbs, target_mbs, losses)
        if not self._stages_initialized:
            self._initialize_stages(arg_mbs[0], kwarg_mbs[0])
        self._run_actions(arg_mbs, kwarg_mbs, target_mbs, return_outputs, loss_kwargs)
        self._update_losses(losses)
        if self._has_backward:
            for stage in self._stages:
                stage.perform_reduce_grad(self._n_microbatches if self.scale_grads else 1)

    def _initialize_stages(self, args: tuple, kwargs: dict) -> None:
        """Infer the stages' metadata, along the pipeline from stage 0 (see NOTE [ Stage
        messages ] in stage.py)."""
        meta = None
        for stage in self._stages:
            meta = stage._prepare_forward_infra(args if stage.is_first else meta, kwargs)
        self._stages_initialized = True

    def _run_actions(self, arg_mbs: list, kwarg_mbs: list, target_mbs: list | None,
                     return_outputs: bool, loss_kwargs: dict | None) -> None:
        stages = {stage.stage_index: stage for stage in self._stages}
        rank = self._stages[0].group_rank
        sends: list = []
        for action in self.pipeline_order[rank]:
            index, kind, mb = action
            stage = stages[index]
            if kind == FORWARD:
                if not stage.is_first and index - 1 in stages:
                    stage.set_local_fwd_input(stages[index - 1].get_local_fwd_output(mb), mb)
                else:
                    _wait(_start(stage.get_fwd_recv_ops(mb)))
                output = stage.forward_one_chunk(mb, arg_mbs[mb], kwarg_mbs[mb],
                                                 save_forward_output=return_outputs)
                self._maybe_compute_loss(stage, output, target_mbs, mb, loss_kwargs)
                if index + 1 not in stages:
                    sends.extend(_start(stage.get_fwd_send_ops(mb)))
            elif self._has_backward:
                if not stage.is_last and index + 1 in stages:
                    stage.set_local_bwd_input(stages[index + 1].get_local_bwd_output(mb), mb)
                else:
                    _wait(_start(stage.get_bwd_recv_ops(mb)))
                loss = self._internal_losses.get(mb) if stage.is_last else None
                stage.backward_one_chunk(mb, loss=loss)
                if index - 1 not in stages:
                    sends.extend(_start(stage.get_bwd_send_ops(mb)))
        _wait(sends)

    # ---------------------------------------------------------------------------- helpers

    def _check_inputs(self, arg_mbs: list | None, kwarg_mbs: list | None,
                      target_mbs: list | None, losses: list | None) -> tuple[list, list]:
        def check(mbs: Any, name: str) -> None:
            if not isinstance(mbs, list):
                raise TypeError(f"{name} must be a list but got a {type(mbs)}")
            if len(mbs) != self._n_microbatches:
                raise ValueError(f"Expecting {self._n_microbatches} {name} but got {len(mbs)}")

        if arg_mbs is None:
            arg_mbs = [()] * self._n_microbatches
        check(arg_mbs, "arg_mbs")
        if kwarg_mbs is None:
            kwarg_mbs = [{}] * self._n_microbatches
        check(kwarg_mbs, "kwarg_mbs")
        if target_mbs is not None:
            check(target_mbs, "target_mbs")
        if losses is not None and not isinstance(losses, list):
            raise TypeError(f"losses must be a list but got a {type(losses)}")
        return arg_mbs, kwarg_mbs

    def _split_inputs(self, args: tuple, kwargs: dict | None) -> tuple[list, list]:
        if not args and not kwargs:  # a stage other than the first
            return [()] * self._n_microbatches, [{}] * self._n_microbatches
        return split_args_kwargs_into_chunks(args, kwargs, self._n_microbatches,
                                             self._args_chunk_spec, self._kwargs_chunk_spec)

    def _merge_outputs(self, output_chunks: list) -> Any:
        return merge_chunks(output_chunks, self._output_merge_spec)

    def _compute_loss(self, output: Any, target: Any, loss_kwargs: dict | None = None) -> Any:
        return self._loss_fn(output, target, **(loss_kwargs or {}))

    def _maybe_compute_loss(self, stage: _PipelineStageBase, output: Any,
                            target_mbs: list | None, mb: int, loss_kwargs: dict | None) -> None:
        if stage.is_last and self._loss_fn is not None:
            if target_mbs is None:
                raise RuntimeError("The last stage needs a target to compute the loss: "
                                   "call step(..., target=...) on its rank")
            self._internal_losses[mb] = self._compute_loss(output, target_mbs[mb], loss_kwargs)

    def _update_losses(self, losses: list | None) -> None:
        """Copy the microbatch losses, in microbatch order, into ``losses``."""
        if losses is not None and any(stage.is_last for stage in self._stages):
            if len(self._internal_losses) != self._n_microbatches:
                raise RuntimeError(f"Expecting {self._n_microbatches} losses but got "
                                   f"{len(self._internal_losses)}")
            losses.clear()
            losses.extend(self._internal_losses[mb] for mb in range(self._n_microbatches))
        self._internal_losses.clear()


class PipelineScheduleSingle(_PipelineSchedule):
    """A schedule of one stage per rank. Gradients are divided by ``n_microbatches`` when
    ``scale_grads`` (for a loss that averages; pass False for a loss that sums)."""

    def __init__(self, stage: _PipelineStageBase, n_microbatches: int,
                 loss_fn: Callable | None = None, args_chunk_spec: tuple | None = None,
                 kwargs_chunk_spec: dict | None = None, output_merge_spec: Any = None,
                 scale_grads: bool = True) -> None:
        super().__init__(n_microbatches, loss_fn, args_chunk_spec, kwargs_chunk_spec,
                         output_merge_spec, scale_grads)
        self._stage = stage
        self._stages = [stage]
        self._num_stages = stage.num_stages
        self.pipeline_order = {stage.stage_index_to_group_rank[s]: self._stage_actions(s)
                               for s in range(self._num_stages)}

    def _stage_actions(self, stage_index: int) -> list[_Action]:
        raise NotImplementedError


class ScheduleGPipe(PipelineScheduleSingle):
    """GPipe: every microbatch's forward, then every microbatch's backward (fill-drain).

    Example::

        >>> schedule = ScheduleGPipe(stage, n_microbatches=4, loss_fn=loss_fn)
        >>> schedule.step(x)                                   # on the first stage's rank
        >>> out = schedule.step(target=y, losses=losses)       # on the last stage's rank
    """

    def _stage_actions(self, stage_index: int) -> list[_Action]:
        n = self._n_microbatches
        return [_Action(stage_index, FORWARD, mb) for mb in range(n)] + \
            [_Action(stage_index, FULL_BACKWARD, mb) for mb in range(n)]


class Schedule1F1B(PipelineScheduleSingle):
    """1F1B: after a warm-up of forwards (one per later stage), alternate one backward and one
    forward, then finish the backwards; at most ``num_stages`` microbatches are in flight."""

    def __init__(self, stage: _PipelineStageBase, n_microbatches: int,
                 loss_fn: Callable | None = None, args_chunk_spec: tuple | None = None,
                 kwargs_chunk_spec: dict | None = None, output_merge_spec: Any = None,
                 scale_grads: bool = True) -> None:
        if n_microbatches < stage.num_stages:
            raise ValueError(f"Number of microbatches ({n_microbatches}) must be greater than "
                             f"or equal to the number of stages ({stage.num_stages}).")
        super().__init__(stage, n_microbatches, loss_fn, args_chunk_spec, kwargs_chunk_spec,
                         output_merge_spec, scale_grads)

    def _stage_actions(self, stage_index: int) -> list[_Action]:
        n = self._n_microbatches
        warmup = min(n, self._num_stages - stage_index)
        actions = [_Action(stage_index, FORWARD, mb) for mb in range(warmup)]
        for mb in range(n - warmup):
            actions.append(_Action(stage_index, FULL_BACKWARD, mb))
            actions.append(_Action(stage_index, FORWARD, mb + warmup))
        actions.extend(_Action(stage_index, FULL_BACKWARD, mb) for mb in range(n - warmup, n))
        return actions


class PipelineScheduleMulti(_PipelineSchedule):
    """A schedule of several stages per rank: stage ``i`` on group rank ``i % group size``."""

    def __init__(self, stages: list, n_microbatches: int, loss_fn: Callable | None = None,
                 args_chunk_spec: tuple | None = None, kwargs_chunk_spec: dict | None = None,
                 output_merge_spec: Any = None, use_full_backward: bool | None = None,
                 scale_grads: bool = True, backward_requires_autograd: bool = True) -> None:
        super().__init__(n_microbatches, loss_fn, args_chunk_spec, kwargs_chunk_spec,
                         output_merge_spec, scale_grads)
        self._stages = sorted(stages, key=lambda s: s.stage_index)
        self._num_stages = stages[0].num_stages
        self.pp_group_size = stages[0].group_size
        self.rank = stages[0].group_rank
        self._backward_requires_autograd = backward_requires_autograd
        self.stage_index_to_group_rank = generate_stage_to_rank_mapping(self.pp_group_size,
                                                                        self._num_stages)
        for stage in self._stages:
            if self.stage_index_to_group_rank[stage.stage_index] != self.rank:
                raise ValueError(f"Stage {stage.stage_index} does not belong on group rank "
                                 f"{self.rank}: stage i runs on rank i % {self.pp_group_size}")
            stage.stage_index_to_group_rank = self.stage_index_to_group_rank
        self.n_local_stages = len(stages)
        if self.n_local_stages * self.pp_group_size != self._num_stages:
            raise ValueError(f"{self.n_local_stages} stages per rank on {self.pp_group_size} "
                             f"ranks do not make the {self._num_stages} stages")

    def _local_stage_indices(self, rank: int) -> range:
        return range(rank, self._num_stages, self.pp_group_size)


class ScheduleLoopedBFS(PipelineScheduleMulti):
    """Breadth-first: each rank runs all microbatches' forwards of its earlier stage before
    those of its later stages, then the backwards from the last stage back, microbatches in
    reverse order (https://arxiv.org/abs/2211.05953)."""

    def __init__(self, stages: list, n_microbatches: int, loss_fn: Callable | None = None,
                 output_merge_spec: Any = None, scale_grads: bool = True,
                 backward_requires_autograd: bool = True, defer_pp_recv: bool = False) -> None:
        super().__init__(stages, n_microbatches, loss_fn, output_merge_spec=output_merge_spec,
                         scale_grads=scale_grads,
                         backward_requires_autograd=backward_requires_autograd)
        self.pipeline_order = {rank: self._rank_actions(rank)
                               for rank in range(self.pp_group_size)}

    def _rank_actions(self, rank: int) -> list[_Action]:
        n, local = self._n_microbatches, self._local_stage_indices(rank)
        forwards = [_Action(s, FORWARD, mb) for s in local for mb in range(n)]
        backwards = [_Action(s, FULL_BACKWARD, mb) for s in reversed(local)
                     for mb in reversed(range(n))]
        return forwards + backwards


class ScheduleInterleaved1F1B(PipelineScheduleMulti):
    """Interleaved 1F1B (https://arxiv.org/pdf/2104.04473): 1F1B over several stages per rank,
    taking microbatches in rounds of ``n_microbatches // rounds`` (rounds = max(1,
    n_microbatches // group size)), each round through the rank's stages in turn (depth
    first). ``n_microbatches`` must be a multiple of the number of rounds."""

    def __init__(self, stages: list, n_microbatches: int, loss_fn: Callable | None = None,
                 args_chunk_spec: tuple | None = None, kwargs_chunk_spec: dict | None = None,
                 output_merge_spec: Any = None, scale_grads: bool = True,
                 backward_requires_autograd: bool = True, defer_pp_recv: bool = False) -> None:
        super().__init__(stages, n_microbatches, loss_fn, args_chunk_spec, kwargs_chunk_spec,
                         output_merge_spec, scale_grads=scale_grads,
                         backward_requires_autograd=backward_requires_autograd)
        self.number_of_rounds = max(1, n_microbatches // self.pp_group_size)
        self.microbatches_per_round = n_microbatches // self.number_of_rounds
        if n_microbatches % self.number_of_rounds != 0:
            raise ValueError("Interleaved 1F1B requires the number of microbatches to be a "
                             f"multiple of the number of rounds ({self.number_of_rounds}), "
                             f"but got {n_microbatches}.")
        self.pipeline_order = {rank: self._rank_actions(rank)
                               for rank in range(self.pp_group_size)}

    def _rank_actions(self, rank: int) -> list[_Action]:
        n_local, per_round = self.n_local_stages, self.microbatches_per_round
        total = n_local * self._n_microbatches
        # The last rank warms up one round per extra local stage; each hop back two more.
        warmup = min((n_local - 1) * per_round + 2 * (self.pp_group_size - 1 - rank), total)

        def forward_stage(step: int) -> int:
            return (step // per_round) % n_local * self.pp_group_size + rank

        def backward_stage(step: int) -> int:
            local = n_local - 1 - ((step - warmup) // per_round) % n_local
            return local * self.pp_group_size + rank

        next_forward = dict.fromkeys(self._local_stage_indices(rank), 0)
        next_backward = dict(next_forward)
        actions = []

        def add(kind: _ComputationType, stage_index: int) -> None:
            counter = next_forward if kind == FORWARD else next_backward
            actions.append(_Action(stage_index, kind, counter[stage_index]))
            counter[stage_index] += 1

        for step in range(total + warmup):
            if step < total:
                add(FORWARD, forward_stage(step))
            if step >= warmup:
                add(FULL_BACKWARD, backward_stage(step))
        return actions


def get_schedule_class(schedule_name: str) -> type:
    """The schedule class named ``schedule_name`` (case-insensitive, e.g. "1F1B", "GPipe")."""
    classes = {"1f1b": Schedule1F1B, "gpipe": ScheduleGPipe,
               "interleaved1f1b": ScheduleInterleaved1F1B, "loopedbfs": ScheduleLoopedBFS}
    try:
        return classes[schedule_name.lower()]
    except KeyError:
        raise ValueError(f"Unknown schedule name '{schedule_name}'. The valid options are "
                         f"{list(classes)}") from None
