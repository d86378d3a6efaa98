"""Distributed checkpoint (DCP) checks, run on every rank by test_dist_checkpoint.py through
dist_harness (2 ranks). Oracles: NumPy arrays every rank builds alike (torch.chunk's pieces
spelled out), and for resumed training the same training run without interruption."""
import functools
import os
import sys
import warnings

import numpy as np
from dist_harness import raises, run

import ember
import ember.distributed as dist
import ember.distributed.checkpoint as dcp
from ember import nn
from ember.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_state_dict,
    set_model_state_dict,
    set_state_dict,
)
from ember.distributed.fsdp import FullyShardedDataParallel as FSDP
from ember.distributed.tensor import (
    DTensor,
    Partial,
    Replicate,
    Shard,
    distribute_tensor,
    init_device_mesh,
)
from ember.nn.parallel import DistributedDataParallel as DDP

RANK = SIZE = None
FULL = np.arange(7 * 3, dtype=np.float32).reshape(7, 3)  # 7 rows: uneven pieces on 2 ranks


def chunk(array, parts, index, axis):
    """torch.chunk's piece ``index`` (empty past the last piece)."""
    step = -(-array.shape[axis] // parts)
    return np.take(array, range(min(index * step, array.shape[axis]),
                                min((index + 1) * step, array.shape[axis])), axis=axis)


def directory(name):
    """A checkpoint directory every rank names alike."""
    return os.path.join(sys.argv[1], name)


def empty_dtensor(mesh, placements):
    return distribute_tensor(ember.zeros(7, 3), mesh, placements)


def check_dtensor_shards_load_on_other_layouts():
    mesh = init_device_mesh("cpu", (SIZE,))
    path = directory("sharded")
    state = {"w": distribute_tensor(ember.tensor(FULL), mesh, [Shard(0)]),
             "replicated": ember.ones(2), "step": 5, "nested": {"lr": [0.1, 0.2]}}
    metadata = dcp.save(state, checkpoint_id=path)
    assert [list(c.offsets) for c in metadata.state_dict_metadata["w"].chunks] == [[0, 0], [4, 0]]
    assert sorted(os.listdir(path)) == [".metadata", "__0_0.distcp", "__1_0.distcp"]
    for placements, axis in [([Shard(1)], 1), ([Shard(0)], 0), ([Replicate()], None)]:
        target = {"w": empty_dtensor(mesh, placements), "replicated": ember.zeros(2),
                  "step": 0, "nested": {"lr": [0.0, 0.0]}}
        local = target["w"].to_local()
        dcp.load(target, checkpoint_id=path)
        assert target["w"].to_local() is local  # loaded in place
        expected = FULL if axis is None else chunk(FULL, SIZE, RANK, axis)
        np.testing.assert_array_equal(local.numpy(), expected)
        assert target["step"] == 5 and target["nested"] == {"lr": [0.1, 0.2]}
        np.testing.assert_array_equal(target["replicated"].numpy(), np.ones(2))
    full = {"w": ember.zeros(7, 3)}  # a plain tensor: every rank reads every shard
    dcp.load(full, checkpoint_id=path, planner=dcp.DefaultLoadPlanner(allow_partial_load=True))
    np.testing.assert_array_equal(full["w"].numpy(), FULL)
    if RANK == 0:  # one process alone, as after training on 2 ranks
        alone = {"w": ember.zeros(7, 3)}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dcp.load(alone, checkpoint_id=path, no_dist=True,
                     planner=dcp.DefaultLoadPlanner(allow_partial_load=True))
        np.testing.assert_array_equal(alone["w"].numpy(), FULL)
    dist.barrier()


def check_single_process_checkpoint_loads_sharded():
    path = directory("single")
    if RANK == 0:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dcp.save({"w": ember.tensor(FULL)}, checkpoint_id=path, no_dist=True)
    dist.barrier()
    mesh = init_device_mesh("cpu", (SIZE,))
    target = {"w": empty_dtensor(mesh, [Shard(0)])}
    dcp.load(target, checkpoint_id=path)
    assert isinstance(target["w"], DTensor)
    np.testing.assert_array_equal(target["w"].to_local().numpy(), chunk(FULL, SIZE, RANK, 0))


def check_failure_on_one_rank_raises_on_every_rank():
    path = directory("failure")
    dcp.save({"a": ember.ones(2)}, checkpoint_id=path)
    target = {"a": ember.zeros(2)}
    if RANK == 1:
        target["missing"] = ember.zeros(2)
    error = raises(lambda: dcp.load(target, checkpoint_id=path), dcp.CheckpointException,
                   "Missing key in checkpoint state_dict: missing.")
    assert list(error.failures) == [1]
    mesh = init_device_mesh("cpu", (SIZE,))
    pending = DTensor.from_local(ember.ones(2), mesh, [Partial()])  # not one block per rank
    raises(lambda: dcp.save({"p": pending}, checkpoint_id=directory("partial")),
           dcp.CheckpointException, "redistribute it to Shard or Replicate")


def make_net():
    return nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3))


def batches():
    rng = np.random.default_rng(0)
    return [(ember.tensor(rng.standard_normal((8, 5)).astype(np.float32)),
             ember.tensor(rng.standard_normal((8, 3)).astype(np.float32))) for _ in range(4)]


def train(model, optim, data):
    for x, y in data:
        mine = slice(RANK * 4, RANK * 4 + 4)
        optim.zero_grad()
        ((model(x[mine]) - y[mine]) ** 2).mean().backward()
        optim.step()


def resume_matches_uninterrupted(wrap, name):
    """Train 2 steps, checkpoint model and optimizer with DCP, load them into a model built
    from another seed, train 2 more: the result must equal 4 steps in one go. Returns the
    saved optimizer state dict."""
    data = batches()
    full = StateDictOptions(full_state_dict=True)

    def build(seed):
        ember.manual_seed(seed)
        model = wrap(make_net())
        return model, ember.optim.Adam(model.parameters(), lr=0.05)

    model, optim = build(0)
    train(model, optim, data)  # the oracle
    first, first_optim = build(0)
    train(first, first_optim, data[:2])
    model_sd, optim_sd = get_state_dict(first, first_optim)
    assert list(model_sd) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert optim_sd["param_groups"][0]["params"] == list(model_sd)
    dcp.save({"model": model_sd, "optim": optim_sd}, checkpoint_id=directory(name))
    resumed, resumed_optim = build(1)  # a different start, overwritten by the checkpoint
    state = dict(zip(("model", "optim"), get_state_dict(resumed, resumed_optim)))
    dcp.load(state, checkpoint_id=directory(name))
    set_state_dict(resumed, resumed_optim, model_state_dict=state["model"],
                   optim_state_dict=state["optim"])
    want_optim = get_state_dict(first, first_optim, options=full)[1]
    got_optim = get_state_dict(resumed, resumed_optim, options=full)[1]
    for fqn, values in want_optim["state"].items():
        for key, value in values.items():
            np.testing.assert_array_equal(got_optim["state"][fqn][key].numpy(), value.numpy())
    train(resumed, resumed_optim, data[2:])
    want = get_model_state_dict(model, options=full)
    got = get_model_state_dict(resumed, options=full)
    for key, value in want.items():
        np.testing.assert_allclose(got[key].numpy(), value.numpy(), rtol=1e-6, atol=1e-7,
                                   err_msg=f"{name}: {key}")
    return optim_sd


def check_resumed_training_equals_uninterrupted():
    optim_sd = resume_matches_uninterrupted(DDP, "ddp")
    assert optim_sd["state"]["0.weight"]["step"].item() == 2


def check_fsdp_resumed_training_equals_uninterrupted():
    for use_orig_params in (False, True):
        optim_sd = resume_matches_uninterrupted(
            functools.partial(FSDP, use_orig_params=use_orig_params), f"fsdp_{use_orig_params}")
        assert isinstance(optim_sd["state"]["2.weight"]["exp_avg"], DTensor)  # sharded


def check_fsdp2_resumed_training_equals_uninterrupted():
    from ember.distributed.fsdp import fully_shard

    def wrap(net):
        fully_shard(net)
        return net

    optim_sd = resume_matches_uninterrupted(wrap, "fsdp2")
    assert isinstance(optim_sd["state"]["2.weight"]["exp_avg"], DTensor)


def check_fsdp_sharded_and_full_state_dicts():
    ember.manual_seed(0)
    reference = make_net()
    model = FSDP(make_net_copy(reference))
    full = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True))
    assert list(full) == list(reference.state_dict())
    for key, value in reference.state_dict().items():
        np.testing.assert_array_equal(full[key].numpy(), value.numpy())
    sharded = get_model_state_dict(model)
    assert all(isinstance(v, DTensor) and v.placements == (Shard(0),) for v in sharded.values())
    dcp.save({"model": sharded}, checkpoint_id=directory("fsdp"))
    ember.manual_seed(3)
    fresh = FSDP(make_net())
    target = {"model": get_model_state_dict(fresh)}
    dcp.load(target, checkpoint_id=directory("fsdp"))
    set_model_state_dict(fresh, target["model"])
    loaded = get_model_state_dict(fresh, options=StateDictOptions(full_state_dict=True))
    for key, value in reference.state_dict().items():
        np.testing.assert_array_equal(loaded[key].numpy(), value.numpy())
    offloaded = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True,
                                                                     cpu_offload=True))
    assert (len(offloaded) > 0) == (RANK == 0)  # only rank 0 keeps an offloaded full dict
    if RANK == 0:
        broadcast = {k: v.clone() for k, v in reference.state_dict().items()}
    else:
        broadcast = {}
    set_model_state_dict(fresh, broadcast, options=StateDictOptions(
        full_state_dict=True, broadcast_from_rank0=True))


def make_net_copy(reference):
    net = make_net()
    net.load_state_dict(reference.state_dict())
    return net


def check_hf_distributed_save_consolidates():
    import safetensors.numpy
    mesh = init_device_mesh("cpu", (SIZE,))
    path = directory("hf")
    state = {"w": distribute_tensor(ember.tensor(FULL), mesh, [Shard(0)]),
             "b": distribute_tensor(ember.arange(5.0), mesh, [Shard(0)])}
    writer = dcp.HuggingFaceStorageWriter(path, save_distributed=True, enable_consolidation=True,
                                          fqn_to_index_mapping={"w": 1, "b": 2})
    dcp.save(state, storage_writer=writer)
    dist.barrier()
    first = safetensors.numpy.load_file(os.path.join(path, "model-00001-of-00002.safetensors"))
    np.testing.assert_array_equal(first["w"], FULL)
    second = safetensors.numpy.load_file(os.path.join(path, "model-00002-of-00002.safetensors"))
    np.testing.assert_array_equal(second["b"], np.arange(5.0, dtype=np.float32))
    target = {"w": empty_dtensor(mesh, [Shard(1)])}  # the shards, read on another layout
    dcp.load(target, storage_reader=dcp.HuggingFaceStorageReader(os.path.join(path, "sharded")),
             planner=dcp.DefaultLoadPlanner(allow_partial_load=True))
    np.testing.assert_array_equal(target["w"].to_local().numpy(), chunk(FULL, SIZE, RANK, 1))


def _setup():
    global RANK, SIZE
    RANK, SIZE = dist.get_rank(), dist.get_world_size()


if __name__ == "__main__":
    run(globals(), _setup)
