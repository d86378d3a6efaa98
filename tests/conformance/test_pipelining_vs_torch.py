"""ember.distributed.pipelining against PyTorch 2.13's: the multi-stage schedules' action
orders (PyTorch's ``_calculate_single_rank_operations``, its bubbles dropped), GPipe's order,
microbatch splitting and merging, and the stage parameters ``pipeline`` gives each stage."""
from types import SimpleNamespace

import numpy as np
import pytest

torch = pytest.importorskip("torch")
torch_schedules = pytest.importorskip("torch.distributed.pipelining.schedules")
torch_pipelining = pytest.importorskip("torch.distributed.pipelining")
torch_microbatch = pytest.importorskip("torch.distributed.pipelining.microbatch")

import ember  # noqa: E402
from ember.distributed import pipelining  # noqa: E402
from ember.distributed.pipelining import microbatch, schedules  # noqa: E402


def fake_stage(index, num_stages, group_size):
    return SimpleNamespace(stage_index=index, num_stages=num_stages, group_size=group_size,
                           group_rank=index % group_size,
                           stage_index_to_group_rank={i: i % group_size
                                                      for i in range(num_stages)})


def torch_rank_orders(cls, group_size, n_local, n_microbatches):
    # PyTorch's constructors need process groups; its order functions need only these fields.
    schedule = object.__new__(cls)
    schedule.pp_group_size, schedule.n_local_stages = group_size, n_local
    schedule._n_microbatches, schedule._stages = n_microbatches, [None] * n_local
    schedule.number_of_rounds = max(1, n_microbatches // group_size)
    schedule.microbatches_per_round = n_microbatches // schedule.number_of_rounds
    return {rank: [str(a) for a in schedule._calculate_single_rank_operations(rank)
                   if a is not None] for rank in range(group_size)}


CASES = [(g, n_local, n) for g in (2, 3, 4) for n_local in (1, 2, 3) for n in (g, 2 * g, 4, 6)
         if n % max(1, n // g) == 0]


@pytest.mark.parametrize("name", ["ScheduleInterleaved1F1B", "ScheduleLoopedBFS"])
@pytest.mark.parametrize("group_size,n_local,n_microbatches", CASES)
def test_multi_stage_orders(name, group_size, n_local, n_microbatches):
    want = torch_rank_orders(getattr(torch_schedules, name), group_size, n_local, n_microbatches)
    for rank in range(group_size):
        stages = [fake_stage(s, group_size * n_local, group_size)
                  for s in range(rank, group_size * n_local, group_size)]
        mine = getattr(schedules, name)(stages, n_microbatches)
        assert [repr(a) for a in mine.pipeline_order[rank]] == want[rank]


@pytest.mark.parametrize("num_stages,n_microbatches", [(2, 2), (3, 5), (4, 8)])
def test_gpipe_order(num_stages, n_microbatches):
    schedule = object.__new__(torch_schedules.ScheduleGPipe)
    schedule._num_stages, schedule._n_microbatches = num_stages, n_microbatches
    want = schedule._get_pipeline_order()
    mine = schedules.ScheduleGPipe(fake_stage(0, num_stages, num_stages), n_microbatches)
    for rank in range(num_stages):
        compute = [str(a) for a in want[rank] if a is not None and "REDUCE" not in str(a)]
        assert [repr(a) for a in mine.pipeline_order[rank]] == compute


def test_split_and_merge():
    a = np.arange(30.0).reshape(5, 6)
    b = np.arange(14.0).reshape(7, 2)
    want_args, want_kwargs = torch_microbatch.split_args_kwargs_into_chunks(
        (torch.tensor(a), 3), {"b": torch.tensor(b)}, 3,
        (torch_microbatch.TensorChunkSpec(1), torch_microbatch._Replicate()))
    args, kwargs = microbatch.split_args_kwargs_into_chunks(
        (ember.tensor(a), 3), {"b": ember.tensor(b)}, 3,
        (microbatch.TensorChunkSpec(1), microbatch._Replicate()))
    assert len(args) == len(want_args)
    for (t, three), kw, (wt, wthree), wkw in zip(args, kwargs, want_args, want_kwargs):
        np.testing.assert_array_equal(t.numpy(), wt.numpy())
        np.testing.assert_array_equal(kw["b"].numpy(), wkw["b"].numpy())
        assert three == wthree
    want = torch_microbatch.merge_chunks([wt for wt, _ in want_args],
                                         torch_microbatch.TensorChunkSpec(1))
    mine = microbatch.merge_chunks([t for t, _ in args], microbatch.TensorChunkSpec(1))
    np.testing.assert_array_equal(mine.numpy(), want.numpy())


def test_pipeline_stage_parameters():
    def net(nn):
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.layers = nn.ModuleList(nn.Linear(4, 4) for _ in range(4))

            def forward(self, x):
                for layer in self.layers:
                    x = layer(x)
                return x
        return Net()

    spec = {"layers.1": "BEGINNING", "layers.2": "END"}
    want = torch_pipelining.pipeline(
        net(torch.nn), (torch.zeros(2, 4),),
        split_spec={k: getattr(torch_pipelining.SplitPoint, v) for k, v in spec.items()})
    mine = pipelining.pipeline(
        net(ember.nn), (ember.zeros(2, 4),),
        split_spec={k: getattr(pipelining.SplitPoint, v) for k, v in spec.items()})
    assert mine.num_stages == want.num_stages == 3
    for k in range(3):
        assert [n for n, _ in mine.get_stage_module(k).named_parameters()] == \
            [n for n, _ in want.get_stage_module(k).named_parameters()]
