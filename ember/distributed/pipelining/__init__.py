"""``torch.distributed.pipelining``: pipeline parallelism.

A model is split into stages, by hand (``PipelineStage`` around each piece) or by tracing
(``pipeline`` with ``SplitPoint`` / ``pipe_split`` markers, then ``Pipe.build_stage``); each
rank runs its stages and a schedule (``ScheduleGPipe``, ``Schedule1F1B``,
``ScheduleInterleaved1F1B``, ``ScheduleLoopedBFS``) streams microbatches through them, moving
activations and gradients between ranks by point-to-point messages.

Example (``mpiexec -n 2 python -m ember.compat train.py``)::

    stage = PipelineStage(part_of_model, dist.get_rank(), 2, torch.device("cpu"))
    schedule = ScheduleGPipe(stage, n_microbatches=4, loss_fn=nn.functional.cross_entropy)
    if dist.get_rank() == 0:
        schedule.step(x)
    else:
        losses = []
        output = schedule.step(target=y, losses=losses)
"""
from ember.distributed.pipelining._IR import Pipe, SplitPoint, pipe_split, pipeline
from ember.distributed.pipelining.schedules import (
    Schedule1F1B,
    ScheduleGPipe,
    ScheduleInterleaved1F1B,
    ScheduleLoopedBFS,
)
from ember.distributed.pipelining.stage import PipelineStage, build_stage

__all__ = ["Pipe", "pipe_split", "SplitPoint", "pipeline", "PipelineStage", "build_stage",
           "Schedule1F1B", "ScheduleGPipe", "ScheduleInterleaved1F1B", "ScheduleLoopedBFS"]
