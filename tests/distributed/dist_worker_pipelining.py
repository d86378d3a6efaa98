"""Pipeline parallelism's checks, run on every rank by test_dist_pipelining.py through
dist_harness. The oracle is the unsplit model on the whole batch (float64, one process), which
every rank computes locally: one pipelined step must give its loss, output and parameter
gradients."""
import copy

import numpy as np
from dist_harness import raises, run

import ember
import ember.distributed as dist
import ember.nn.functional as F
from ember import nn
from ember.distributed.pipelining import (
    PipelineStage,
    Schedule1F1B,
    ScheduleGPipe,
    ScheduleInterleaved1F1B,
    ScheduleLoopedBFS,
    SplitPoint,
    pipeline,
)
from ember.distributed.pipelining.schedules import PipelineScheduleMulti

RANK = SIZE = None
WIDTH, BATCH = 5, 8
VOCAB, DIM = 11, 8


def setup():
    global RANK, SIZE
    RANK, SIZE = dist.get_rank(), dist.get_world_size()


def mlp(num_stages):
    """Two layers per stage: stage k is ``model[2k:2k+2]`` (a slice keeps the names)."""
    ember.manual_seed(0)
    layers = []
    for _ in range(num_stages):
        layers += [nn.Linear(WIDTH, WIDTH), nn.Tanh()]
    return nn.Sequential(*layers).double()


def regression_batch():
    rng = np.random.default_rng(1)
    return (ember.from_numpy(rng.standard_normal((BATCH, WIDTH))),
            ember.from_numpy(rng.standard_normal((BATCH, WIDTH))))


class Transformer(nn.Module):
    """The tutorial's model, small and batch-first (so that microbatches split the batch)."""

    def __init__(self, n_layers):
        super().__init__()
        self.tok_embeddings = nn.Embedding(VOCAB, DIM)
        self.layers = nn.ModuleDict({str(i): nn.TransformerDecoderLayer(
            DIM, 2, dim_feedforward=16, dropout=0.0, batch_first=True) for i in range(n_layers)})
        self.norm = nn.LayerNorm(DIM)
        self.output = nn.Linear(DIM, VOCAB)

    def forward(self, tokens):
        h = self.tok_embeddings(tokens) if self.tok_embeddings else tokens
        for layer in self.layers.values():
            h = layer(h, h)
        h = self.norm(h) if self.norm else h
        return self.output(h).clone() if self.output else h


def tokenwise_loss(outputs, targets):
    return F.cross_entropy(outputs.reshape(-1, VOCAB), targets.reshape(-1))


def token_batch():
    rng = np.random.default_rng(2)
    return (ember.from_numpy(rng.integers(0, VOCAB, (BATCH, 3))),
            ember.from_numpy(rng.integers(0, VOCAB, (BATCH, 3))))


def reference(model, x, y, loss_fn):
    """The unsplit model's loss, output and gradients (by parameter name)."""
    ref = copy.deepcopy(model)
    out = ref(x)
    loss = loss_fn(out, y)
    loss.backward()
    return loss, out, {name: p.grad for name, p in ref.named_parameters()}


def run_step(schedule, stages, x, y, **step_kwargs):
    """``step`` as the tutorial calls it: inputs on stage 0's rank, target on the last's."""
    first = any(s.is_first for s in stages)
    last = any(s.is_last for s in stages)
    losses = [] if y is not None else None
    args = (x,) if first else ()
    if last:
        out = schedule.step(*args, target=y, losses=losses, **step_kwargs)
    else:
        out = schedule.step(*args, **step_kwargs)
    return out, losses


def assert_close(got, want, what):
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-10,
                               atol=1e-12, err_msg=what)


def check_against_reference(stages, ref, out, losses, n_microbatches):
    ref_loss, ref_out, ref_grads = ref
    for stage in stages:
        for name, p in stage.submod.named_parameters():
            assert_close(p.grad, ref_grads[name], f"stage {stage.stage_index} {name}")
        if stage.is_last:
            assert len(losses) == n_microbatches
            assert_close(sum(losses) / n_microbatches, ref_loss, "loss")
            assert_close(out, ref_out, "output")
            assert out.grad_fn is None


def mlp_schedule(schedule_cls, per_rank, n_microbatches):
    num_stages = SIZE * per_rank
    model = mlp(num_stages)
    x, y = regression_batch()
    ref = reference(model, x, y, F.mse_loss)
    stages = [PipelineStage(model[2 * k:2 * k + 2], k, num_stages, "cpu")
              for k in range(RANK, num_stages, SIZE)]
    if issubclass(schedule_cls, PipelineScheduleMulti):
        schedule = schedule_cls(stages, n_microbatches, loss_fn=F.mse_loss)
    else:
        schedule = schedule_cls(stages[0], n_microbatches, loss_fn=F.mse_loss)
    out, losses = run_step(schedule, stages, x, y)
    check_against_reference(stages, ref, out, losses, n_microbatches)
    return schedule, stages, model


def check_gpipe_mlp():
    mlp_schedule(ScheduleGPipe, 1, 4)


def check_1f1b_mlp():
    mlp_schedule(Schedule1F1B, 1, 4)
    mlp_schedule(Schedule1F1B, 1, 8)


def check_interleaved_1f1b_mlp():
    mlp_schedule(ScheduleInterleaved1F1B, 2, 4)


def check_looped_bfs_mlp():
    mlp_schedule(ScheduleLoopedBFS, 2, 4)


def check_stages_on_one_rank_hand_over_locally():
    """Three stages in a one-rank group: the stages pass tensors without messages."""
    alone, _ = dist.new_subgroups(group_size=1)
    model = mlp(3)
    x, y = regression_batch()
    ref = reference(model, x, y, F.mse_loss)
    for schedule_cls in (ScheduleInterleaved1F1B, ScheduleLoopedBFS):
        model.zero_grad()
        stages = [PipelineStage(model[2 * k:2 * k + 2], k, 3, "cpu", group=alone)
                  for k in range(3)]
        schedule = schedule_cls(stages, 4, loss_fn=F.mse_loss)
        out, losses = run_step(schedule, stages, x, y)
        check_against_reference(stages, ref, out, losses, 4)


def check_pipelines_in_subgroups():
    """Pipelines of two stages in groups of two ranks (pipeline x data parallel's layout)."""
    pair, _ = dist.new_subgroups(group_size=2)
    me = dist.get_rank(pair)
    model = mlp(2)
    x, y = regression_batch()
    ref = reference(model, x, y, F.mse_loss)
    stage = PipelineStage(model[2 * me:2 * me + 2], me, 2, "cpu", group=pair)
    schedule = Schedule1F1B(stage, 4, loss_fn=F.mse_loss)
    out, losses = run_step(schedule, [stage], x, y)
    check_against_reference([stage], ref, out, losses, 4)


def check_transformer_gpipe_and_1f1b():
    """The tutorial's manual split: stage k keeps its slice of the layers; the first keeps the
    embedding, the last the norm and output layer."""
    per_stage = 2
    x, y = token_batch()
    for schedule_cls in (ScheduleGPipe, Schedule1F1B):
        ember.manual_seed(0)
        model = Transformer(per_stage * SIZE).double()
        ref = reference(model, x, y, tokenwise_loss)
        for i in range(per_stage * SIZE):
            if not RANK * per_stage <= i < (RANK + 1) * per_stage:
                del model.layers[str(i)]
        if RANK != 0:
            model.tok_embeddings = None
        if RANK != SIZE - 1:
            model.norm = None
            model.output = None
        stage = PipelineStage(model, RANK, SIZE, ember.device("cpu"))
        schedule = schedule_cls(stage, n_microbatches=4, loss_fn=tokenwise_loss)
        out, losses = run_step(schedule, [stage], x, y)
        check_against_reference([stage], ref, out, losses, 4)


def check_optimizer_step_then_next_step():
    """An optimizer steps each stage's part; the next step's loss is the unsplit model's
    after the same update."""
    schedule, stages, model = mlp_schedule(ScheduleGPipe, 1, 4)
    x, y = regression_batch()
    ref_model = mlp(SIZE)
    ref_opt = ember.optim.SGD(ref_model.parameters(), lr=0.5)
    F.mse_loss(ref_model(x), y).backward()
    ref_opt.step()
    ref_opt.zero_grad()
    opt = ember.optim.SGD(stages[0].submod.parameters(), lr=0.5)
    opt.step()
    opt.zero_grad()
    out, losses = run_step(schedule, stages, x, y)
    ref_loss = F.mse_loss(ref_model(x), y)
    if stages[0].is_last:
        assert_close(sum(losses) / 4, ref_loss, "loss after a step")


def check_sum_loss_without_scaling():
    """``scale_grads=False`` with a summing loss: the gradients are the whole batch's sum."""
    model = mlp(SIZE)
    x, y = regression_batch()

    def sum_loss(out, target):
        return F.mse_loss(out, target, reduction="sum")

    ref = reference(model, x, y, sum_loss)
    stage = PipelineStage(model[2 * RANK:2 * RANK + 2], RANK, SIZE, "cpu")
    schedule = Schedule1F1B(stage, SIZE, loss_fn=sum_loss, scale_grads=False)
    out, losses = run_step(schedule, [stage], x, y)
    for name, p in stage.submod.named_parameters():
        assert_close(p.grad, ref[2][name], name)
    if stage.is_last:
        assert_close(sum(losses), ref[0], "summed loss")


def check_eval_runs_forward_only():
    model = mlp(SIZE)
    x, y = regression_batch()
    want = model(x)
    stage = PipelineStage(model[2 * RANK:2 * RANK + 2], RANK, SIZE, "cpu")
    schedule = ScheduleGPipe(stage, 2, loss_fn=F.mse_loss)
    with ember.no_grad():
        if stage.is_last:
            losses = []
            out = schedule.eval(target=y, losses=losses)
            assert_close(out, want, "eval output")
            assert_close(sum(losses) / 2, F.mse_loss(want, y), "eval loss")
        else:
            out = schedule.eval(x) if stage.is_first else schedule.eval()
            assert out is None
        raises(lambda: run_step(schedule, [stage], x, y), RuntimeError, "eval()")
    assert all(p.grad is None for p in model.parameters())
    # No loss function: step runs forwards only and returns the output on the last stage.
    forward_only = ScheduleGPipe(PipelineStage(model[2 * RANK:2 * RANK + 2], RANK, SIZE,
                                               "cpu"), 4)
    out, _ = run_step(forward_only, [stage], x, None)
    if stage.is_last:
        assert_close(out, want, "forward-only output")


def check_tracer_split_matches():
    """``pipeline`` with a split_spec, then ``build_stage``: the tutorial's tracer mode."""
    ember.manual_seed(0)
    model = Transformer(2 * SIZE).double()
    x, y = token_batch()
    ref = reference(model, x, y, tokenwise_loss)
    split_spec = {f"layers.{2 * k}": SplitPoint.BEGINNING for k in range(1, SIZE)}
    pipe = pipeline(model, (x[:2],), split_spec=split_spec)
    assert pipe.num_stages == SIZE
    assert_close(pipe(x), ref[1], "Pipe forward")
    stage = pipe.build_stage(RANK, ember.device("cpu"))
    schedule = Schedule1F1B(stage, n_microbatches=4, loss_fn=tokenwise_loss)
    out, losses = run_step(schedule, [stage], x, y)
    # the stage's module keeps the model's qualified names
    check_against_reference([stage], ref, out, losses, 4)


def check_declared_shapes_are_checked():
    model = mlp(SIZE)
    x, y = regression_batch()
    wrong = ember.zeros(2, WIDTH + 1, dtype=ember.float64)  # declared between stages 0 and 1
    declared = {"output_args": wrong} if RANK == 0 else {"input_args": wrong} if RANK == 1 \
        else {}
    stage = PipelineStage(model[2 * RANK:2 * RANK + 2], RANK, SIZE, "cpu", **declared)
    schedule = ScheduleGPipe(stage, 4, loss_fn=F.mse_loss)
    if declared:
        raises(lambda: run_step(schedule, [stage], x, y), RuntimeError, *declared)


def check_errors():
    model = mlp(SIZE)
    stage = PipelineStage(model[2 * RANK:2 * RANK + 2], RANK, SIZE, "cpu")
    raises(lambda: Schedule1F1B(stage, SIZE - 1), ValueError, "greater than or equal")
    raises(lambda: PipelineStage(model, SIZE, SIZE, "cpu"), ValueError, "out of range")
    raises(lambda: PipelineStage(model, 0, SIZE - 1, "cpu"), RuntimeError, "cannot be larger")


CHECKS = {name: fn for name, fn in globals().items() if name.startswith("check_")}

if __name__ == "__main__":
    run(CHECKS, setup)
