"""ember.distributed.pipelining without processes: splitting and merging microbatches (oracle:
NumPy's array_split), the schedules' action orders, and ``pipeline``'s split of a traced
model (oracle: the unsplit model)."""
from types import SimpleNamespace

import numpy as np
import pytest

import ember
from ember import nn
from ember.distributed.pipelining import (
    Schedule1F1B,
    ScheduleGPipe,
    ScheduleInterleaved1F1B,
    ScheduleLoopedBFS,
    SplitPoint,
    pipe_split,
    pipeline,
)
from ember.distributed.pipelining.microbatch import (
    TensorChunkSpec,
    merge_chunks,
    split_args_kwargs_into_chunks,
    sum_reducer,
)


# ------------------------------------------------------------------------------ microbatches
def test_split_default_dim0_replicates_non_tensors():
    a = np.arange(24.0).reshape(8, 3)
    args, kwargs = split_args_kwargs_into_chunks((ember.tensor(a), 5), {"m": "x"}, 3)
    assert len(args) == len(kwargs) == 3
    for (chunk, five), kw, want in zip(args, kwargs, np.array_split(a, 3)):
        np.testing.assert_array_equal(chunk.numpy(), want)
        assert five == 5 and kw == {"m": "x"}


def test_split_with_specs_and_nesting():
    a, b = np.arange(12.0).reshape(2, 6), np.arange(8.0).reshape(4, 2)
    args, kwargs = split_args_kwargs_into_chunks(
        ([ember.tensor(a)],), {"b": ember.tensor(b)}, 2,
        args_chunk_spec=([TensorChunkSpec(1)],), kwargs_chunk_spec={"b": TensorChunkSpec(0)})
    for i in range(2):
        np.testing.assert_array_equal(args[i][0][0].numpy(), np.array_split(a, 2, 1)[i])
        np.testing.assert_array_equal(kwargs[i]["b"].numpy(), np.array_split(b, 2)[i])


def test_split_gives_fewer_chunks_for_a_short_batch():
    args, _ = split_args_kwargs_into_chunks((ember.zeros(3, 2),), None, 5)
    assert len(args) == 3


def test_split_keeps_grads_of_a_leaf_input():
    x = ember.ones(4, 2, requires_grad=True)
    args, _ = split_args_kwargs_into_chunks((x,), None, 2)
    (args[1][0] * 3).sum().backward()
    np.testing.assert_array_equal(args[1][0].grad.numpy(), np.full((2, 2), 3.0))


def test_merge_concatenates_reduces_and_checks():
    chunks = [(ember.full((2, 2), float(i)), i, "same") for i in range(3)]
    merged = merge_chunks(chunks, (TensorChunkSpec(1), sum_reducer, None))
    np.testing.assert_array_equal(merged[0].numpy(),
                                  np.concatenate([np.full((2, 2), i) for i in range(3)], 1))
    assert merged[1] == 3 and merged[2] == "same"
    default = merge_chunks([ember.zeros(1, 2), ember.ones(2, 2)], None)
    assert tuple(default.shape) == (3, 2)
    with pytest.raises(ValueError, match="every chunk"):
        merge_chunks([(ember.zeros(1), 1), (ember.zeros(1), 2)], (TensorChunkSpec(0), None))


def test_chunk_spec_helpers():
    specs = TensorChunkSpec.from_tuple((0, 1))
    assert [s.split_dim for s in specs] == [0, 1]
    assert TensorChunkSpec.from_dict({"m": 2})["m"].split_dim == 2
    assert str(TensorChunkSpec(1)) == "TensorChunkSpec(1)"


# ---------------------------------------------------------------------------- action orders
def fake_stage(index, num_stages, group_size):
    return SimpleNamespace(stage_index=index, num_stages=num_stages, group_size=group_size,
                           group_rank=index % group_size,
                           stage_index_to_group_rank={i: i % group_size
                                                      for i in range(num_stages)})


def orders(schedule):
    return {rank: " ".join(map(repr, actions))
            for rank, actions in schedule.pipeline_order.items()}


def test_gpipe_and_1f1b_orders():
    assert orders(ScheduleGPipe(fake_stage(0, 2, 2), 3)) == {
        0: "0F0 0F1 0F2 0B0 0B1 0B2", 1: "1F0 1F1 1F2 1B0 1B1 1B2"}
    assert orders(Schedule1F1B(fake_stage(0, 2, 2), 4)) == {
        0: "0F0 0F1 0B0 0F2 0B1 0F3 0B2 0B3", 1: "1F0 1B0 1F1 1B1 1F2 1B2 1F3 1B3"}


def test_multi_stage_orders():
    stages = [fake_stage(0, 4, 2), fake_stage(2, 4, 2)]
    assert orders(ScheduleInterleaved1F1B(stages, 4)) == {
        0: "0F0 0F1 2F0 2F1 0F2 2B0 0F3 2B1 2F2 0B0 2F3 0B1 2B2 2B3 0B2 0B3",
        1: "1F0 1F1 3F0 3B0 3F1 3B1 1F2 1B0 1F3 1B1 3F2 3B2 3F3 3B3 1B2 1B3"}
    assert orders(ScheduleLoopedBFS(stages, 2)) == {
        0: "0F0 0F1 2F0 2F1 2B1 2B0 0B1 0B0", 1: "1F0 1F1 3F0 3F1 3B1 3B0 1B1 1B0"}


def test_schedule_arguments_are_checked():
    with pytest.raises(ValueError, match="greater than or equal"):
        Schedule1F1B(fake_stage(0, 4, 4), 3)
    with pytest.raises(ValueError, match="multiple of the number of rounds"):
        ScheduleInterleaved1F1B([fake_stage(0, 4, 2), fake_stage(2, 4, 2)], 5)
    with pytest.raises(ValueError, match="does not belong"):
        ScheduleLoopedBFS([fake_stage(0, 4, 2), fake_stage(1, 4, 2)], 2)


# -------------------------------------------------------------------------------- pipeline
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 5)
        self.b = nn.Linear(5, 5)
        self.c = nn.Linear(5, 3)

    def forward(self, x):
        h = ember.relu(self.a(x))
        pipe_split()
        g = self.b(h)
        return self.c(g + h)  # h skips stage 1's boundary into stage 2


def test_pipeline_splits_at_markers_and_spec():
    ember.manual_seed(0)
    net = Net().double()
    x = ember.randn(6, 4, dtype=ember.float64)
    pipe = pipeline(net, (x[:2],), split_spec={"b": SplitPoint.END})
    assert pipe.num_stages == 3
    np.testing.assert_allclose(pipe(x).detach().numpy(), net(x).detach().numpy(), rtol=1e-12)
    names = [[n for n, _ in pipe.get_stage_module(k).named_parameters()] for k in range(3)]
    assert names == [["a.weight", "a.bias"], ["b.weight", "b.bias"], ["c.weight", "c.bias"]]
    # Stage 1 passes h on to stage 2 along with its own output.
    h = pipe.get_stage_module(0)(x)
    g_and_h = pipe.get_stage_module(1)(h)
    assert isinstance(g_and_h, tuple) and len(g_and_h) == 2
    out = pipe.get_stage_module(2)(*g_and_h)
    np.testing.assert_allclose(out.detach().numpy(), net(x).detach().numpy(), rtol=1e-12)
    with pytest.raises(ValueError, match="Invalid stage index"):
        pipe.get_stage_module(3)


def test_pipe_split_is_a_no_op_when_not_tracing():
    ember.manual_seed(0)
    net = Net()
    x = ember.randn(2, 4)
    assert pipe_split() is None
    assert tuple(net(x).shape) == (2, 3)
    with pytest.raises(NotImplementedError, match="split_policy"):
        pipeline(net, (x,), split_policy=object())
