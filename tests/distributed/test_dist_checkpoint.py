"""torch.distributed.checkpoint (DCP) in ember: single-process round trips of nested state
dicts and optimizer state, load semantics (in place, missing keys, partial loads), the safety
of the files (corrupt, truncated and hostile checkpoints raise and run nothing; saves are
atomic), Hugging Face safetensors storage and consolidation, the state_dict helpers; then on 2
MPI ranks (dist_worker_checkpoint.py): DTensor shards loaded on other layouts, resumed DDP
training equal to uninterrupted training (DDP, FSDP and FSDP2 (fully_shard); model and
optimizer state), FSDP state dicts, errors raised on every rank."""
import importlib.util
import io
import json
import os
import pickle
import zipfile

import numpy as np
import pytest

import ember
import ember.distributed.checkpoint as dcp
from ember import nn
from ember.distributed.checkpoint._consolidate_hf_safetensors import (
    consolidate_safetensors_files,
)
from ember.distributed.checkpoint.format_utils import dcp_to_torch_save, torch_save_to_dcp
from ember.distributed.checkpoint.metadata import BytesStorageMetadata, TensorStorageMetadata
from ember.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_optimizer_state_dict,
    get_state_dict,
    set_optimizer_state_dict,
    set_state_dict,
)
from ember.distributed.checkpoint.state_dict_loader import _load_state_dict_from_keys
from ember.serialization._formats import save_safetensors

pytestmark = pytest.mark.filterwarnings("ignore:torch.distributed is disabled")


def trained():
    ember.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    optim = ember.optim.Adam(model.parameters(), lr=0.1)
    for _ in range(2):
        optim.zero_grad()
        model(ember.randn(5, 3)).sum().backward()
        optim.step()
    return model, optim


def save_simple(path):
    state = {"w": ember.arange(6.0).view(2, 3), "step": 3, "meta": {"name": "run", "ids": (1, 2)}}
    dcp.save(state, checkpoint_id=path)
    return state


# ------------------------------------------------------------------------------------------------
# Round trips and load semantics

def test_round_trip_of_nested_state_and_optimizer(tmp_path):
    model, optim = trained()
    state = {"model": model.state_dict(), "optim": optim.state_dict(), "epoch": 4,
             "extra": {"list": [ember.ones(2), 7], "tuple": (1, "a"), "none": None}}
    metadata = dcp.save(state, checkpoint_id=tmp_path)
    assert isinstance(metadata.state_dict_metadata["model.0.weight"], TensorStorageMetadata)
    assert isinstance(metadata.state_dict_metadata["epoch"], BytesStorageMetadata)
    assert "optim.state.0.exp_avg" in metadata.state_dict_metadata
    fresh_model, fresh_optim = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)), None
    fresh_optim = ember.optim.Adam(fresh_model.parameters(), lr=0.5)
    get_optimizer_state_dict(fresh_model, fresh_optim)  # gives the optimizer its state
    target = {"model": fresh_model.state_dict(), "optim": fresh_optim.state_dict(), "epoch": 0,
              "extra": {"list": [ember.zeros(2), 0], "tuple": None, "none": 1}}
    weight = target["model"]["0.weight"]
    dcp.load(target, checkpoint_id=tmp_path)
    assert target["model"]["0.weight"] is weight  # filled in place
    np.testing.assert_array_equal(fresh_model[0].weight.detach().numpy(),
                                  model[0].weight.detach().numpy())
    fresh_optim.load_state_dict(target["optim"])
    for key in ("exp_avg", "exp_avg_sq", "step"):
        np.testing.assert_array_equal(fresh_optim.state_dict()["state"][2][key].numpy(),
                                      optim.state_dict()["state"][2][key].numpy())
    assert fresh_optim.param_groups[0]["lr"] == 0.1
    assert target["epoch"] == 4 and target["extra"]["tuple"] == (1, "a")
    assert target["extra"]["none"] is None and target["extra"]["list"][1] == 7
    np.testing.assert_array_equal(target["extra"]["list"][0].numpy(), np.ones(2))


def test_stateful_values_and_load_into_other_dtype(tmp_path):
    model, _ = trained()
    dcp.save({"model": model}, checkpoint_id=tmp_path)  # a Module is Stateful
    other = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)).double()
    dcp.load({"model": other}, checkpoint_id=tmp_path)
    assert other[2].bias.dtype == ember.float64
    np.testing.assert_allclose(other[2].bias.detach().numpy(), model[2].bias.detach().numpy())


def test_missing_keys_partial_loads_and_size_mismatch(tmp_path):
    save_simple(tmp_path)
    target = {"w": ember.zeros(2, 3), "absent": ember.zeros(1)}
    with pytest.raises(dcp.CheckpointException, match="Missing key in checkpoint state_dict: "
                       "absent."):
        dcp.load(target, checkpoint_id=tmp_path)
    dcp.load(target, checkpoint_id=tmp_path, planner=dcp.DefaultLoadPlanner(
        allow_partial_load=True))  # keys only the checkpoint has ("step", "meta") are ignored
    np.testing.assert_array_equal(target["w"].numpy(), np.arange(6.0).reshape(2, 3))
    with pytest.raises(dcp.CheckpointException, match="Size mismatch"):
        dcp.load({"w": ember.zeros(3, 2)}, checkpoint_id=tmp_path)
    with pytest.raises(dcp.CheckpointException, match="expected BytesStorageMetadata"):
        dcp.load({"w": 1}, checkpoint_id=tmp_path)


def test_load_without_a_template_and_storage_objects(tmp_path):
    save_simple(tmp_path)
    state = _load_state_dict_from_keys(checkpoint_id=tmp_path)
    np.testing.assert_array_equal(state["w"].numpy(), np.arange(6.0).reshape(2, 3))
    assert state["meta"] == {"name": "run", "ids": (1, 2)} and state["step"] == 3
    assert list(_load_state_dict_from_keys("step", checkpoint_id=tmp_path)) == ["step"]
    state = {}
    dcp.load(state, storage_reader=dcp.FileSystemReader(tmp_path))  # nothing asked, nothing read
    assert state == {}
    with pytest.raises(RuntimeError, match="checkpoint_id"):
        dcp.save({}, checkpoint_id=None)
    assert dcp.async_save({"x": ember.ones(1)}, checkpoint_id=tmp_path / "a").wait() is not None


def test_conversion_to_and_from_torch_save_files(tmp_path):
    save_simple(tmp_path / "dcp")
    dcp_to_torch_save(tmp_path / "dcp", tmp_path / "all.pt")
    whole = ember.load(tmp_path / "all.pt")
    assert whole["step"] == 3 and whole["meta"] == {"name": "run", "ids": (1, 2)}
    torch_save_to_dcp(tmp_path / "all.pt", tmp_path / "again")
    target = {"w": ember.zeros(2, 3)}
    dcp.load(target, checkpoint_id=tmp_path / "again")
    np.testing.assert_array_equal(target["w"].numpy(), np.arange(6.0).reshape(2, 3))
    with pytest.raises(dcp.CheckpointException, match="No such file"):
        dcp.load(target, checkpoint_id=tmp_path / "missing")


# ------------------------------------------------------------------------------------------------
# Safety: corrupt, truncated and hostile files; atomic saves

class Bomb:
    """Unpickling it would create the file ``marker``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def data_file(path):
    return os.path.join(path, "__0_0.distcp")


def test_corrupt_and_truncated_data_files_raise(tmp_path):
    save_simple(tmp_path)
    raw = bytearray(open(data_file(tmp_path), "rb").read())
    raw[3] ^= 0xFF
    open(data_file(tmp_path), "wb").write(raw)
    with pytest.raises(dcp.CheckpointException, match="CRC-32"):
        dcp.load({"w": ember.zeros(2, 3)}, checkpoint_id=tmp_path)
    open(data_file(tmp_path), "wb").write(raw[:10])
    with pytest.raises(dcp.CheckpointException, match="truncated"):
        dcp.load({"w": ember.zeros(2, 3)}, checkpoint_id=tmp_path)


@pytest.mark.parametrize("content", [b"", b"{not json", b'{"format": "other"}',
                                     b'{"format": "ember-dcp", "version": 1, '
                                     b'"state_dict_metadata": {"w": {"type": "tensor", '
                                     b'"dtype": "object", "size": [2], "chunks": []}}}'])
def test_corrupt_metadata_raises(tmp_path, content):
    save_simple(tmp_path)
    open(os.path.join(tmp_path, ".metadata"), "wb").write(content)
    with pytest.raises(dcp.CheckpointException, match="corrupt distributed checkpoint metadata"):
        dcp.load({"w": ember.zeros(2, 3)}, checkpoint_id=tmp_path)


def test_hostile_metadata_pickles_are_refused_without_running(tmp_path):
    save_simple(tmp_path)
    marker = tmp_path / "pwned"
    build_on_dtype = (b"\x80\x02ctorch\nfloat32\n}X\x04\x00\x00\x00nameX\x04\x00\x00\x00"
                      b"evilsb.")  # BUILD that would rename ember.float32
    for content, why in [(pickle.dumps(Bomb(marker)), "refused the global 'io.open'"),
                         (build_on_dtype, "BUILD of something other than a DCP record"),
                         (pickle.dumps({"a": 1}), "expected Metadata")]:
        open(os.path.join(tmp_path, ".metadata"), "wb").write(content)
        with pytest.raises(dcp.CheckpointException, match=why):
            dcp.load({"w": ember.zeros(2, 3)}, checkpoint_id=tmp_path)
    assert not marker.exists() and ember.float32.name == "float32"


def rewrite_item(path, fqn, payload):
    """Put ``payload`` in place of item ``fqn`` (appended to its file), with a matching
    CRC-32, as a forger would."""
    import zlib
    meta = json.load(open(os.path.join(path, ".metadata")))
    for entry in meta["storage_data"]:
        if entry["fqn"] == fqn:
            entry["start"] = os.path.getsize(os.path.join(path, entry["file"]))
            entry["length"], entry["crc32"] = len(payload), zlib.crc32(payload)
            with open(os.path.join(path, entry["file"]), "ab") as fp:
                fp.write(payload)
    json.dump(meta, open(os.path.join(path, ".metadata"), "w"))


def test_pickle_bomb_in_a_value_does_not_run(tmp_path):
    save_simple(tmp_path)
    marker = tmp_path / "pwned"
    buffer = io.BytesIO()  # a torch.save zip whose data.pkl is the bomb
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps(Bomb(marker), protocol=2))
        archive.writestr("archive/version", "3\n")
    for payload in (pickle.dumps(Bomb(marker)), buffer.getvalue()):
        rewrite_item(tmp_path, "step", payload)
        with pytest.raises(dcp.CheckpointException):
            dcp.load({"step": 0}, checkpoint_id=tmp_path)
        assert not marker.exists()


def test_item_outside_the_checkpoint_directory_is_refused(tmp_path):
    save_simple(tmp_path / "ckpt")
    meta = json.load(open(tmp_path / "ckpt" / ".metadata"))
    for entry in meta["storage_data"]:
        entry["file"] = "../secret"
    json.dump(meta, open(tmp_path / "ckpt" / ".metadata", "w"))
    with pytest.raises(dcp.CheckpointException, match="bad item entry"):
        dcp.load({"w": ember.zeros(2, 3)}, checkpoint_id=tmp_path / "ckpt")


def test_interrupted_save_keeps_the_previous_checkpoint(tmp_path):
    save_simple(tmp_path)

    class Failing(dcp.DefaultSavePlanner):
        def resolve_data(self, write_item):
            if write_item.index.fqn == "step":
                raise OSError("disk full")
            return super().resolve_data(write_item)

    with pytest.raises(dcp.CheckpointException, match="disk full"):
        dcp.save({"w": ember.full((2, 3), 9.0), "step": 4}, checkpoint_id=tmp_path,
                 planner=Failing())
    assert sorted(os.listdir(tmp_path)) == [".metadata", "__0_0.distcp"]  # no temporaries
    target = {"w": ember.zeros(2, 3), "step": 0}
    dcp.load(target, checkpoint_id=tmp_path)
    np.testing.assert_array_equal(target["w"].numpy(), np.arange(6.0).reshape(2, 3))
    assert target["step"] == 3
    with pytest.raises(dcp.CheckpointException, match="overwrite=False"):
        dcp.save({"w": ember.ones(1)}, storage_writer=dcp.FileSystemWriter(tmp_path,
                                                                            overwrite=False))


# ------------------------------------------------------------------------------------------------
# Hugging Face safetensors storage

def test_hf_storage_files_read_by_safetensors(tmp_path):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    model, _ = trained()
    state = get_model_state_dict(model)
    writer = dcp.HuggingFaceStorageWriter(str(tmp_path), fqn_to_index_mapping={
        "0.weight": 1, "0.bias": 1, "2.weight": 2, "2.bias": 2})
    dcp.save(state, storage_writer=writer)
    index = json.load(open(tmp_path / "model.safetensors.index.json"))
    assert index["weight_map"]["2.bias"] == "model-00002-of-00002.safetensors"
    arrays = safetensors_numpy.load_file(tmp_path / "model-00001-of-00002.safetensors")
    np.testing.assert_array_equal(arrays["0.weight"], state["0.weight"].numpy())
    target = {key: ember.zeros_like(value) for key, value in state.items()}
    dcp.load(target, storage_reader=dcp.HuggingFaceStorageReader(str(tmp_path)))
    for key, value in state.items():
        np.testing.assert_array_equal(target[key].numpy(), value.numpy())
    with pytest.raises(dcp.CheckpointException, match="tensors only"):
        dcp.save({"step": 1}, storage_writer=dcp.HuggingFaceStorageWriter(str(tmp_path / "b")))


def test_hf_reader_refuses_a_hostile_header(tmp_path):
    (tmp_path / "model-00001-of-00001.safetensors").write_bytes(
        (10 ** 12).to_bytes(8, "little") + b"{}")
    with pytest.raises(dcp.CheckpointException, match="does not fit"):
        dcp.load({"w": ember.zeros(1)}, storage_reader=dcp.HuggingFaceStorageReader(
            str(tmp_path)))


def test_consolidate_shards(tmp_path):
    full = np.arange(20, dtype=np.float32).reshape(5, 4)
    for shard, (start, stop) in enumerate([(0, 3), (3, 5)], start=1):
        info = json.dumps({"w": {"saved_offsets": [start, 0]}, "b": {"saved_offsets": [0]}})
        save_safetensors({"w": ember.tensor(full[start:stop]), "b": ember.ones(2)},
                         tmp_path / f"shard-{shard:05d}-model-00001-of-00001.safetensors",
                         metadata={"DCP_SHARDING_INFO": info})
    out = tmp_path / "out"
    consolidate_safetensors_files(str(tmp_path), str(out), fqn_to_index_mapping={"w": 1, "b": 2})
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    np.testing.assert_array_equal(
        safetensors_numpy.load_file(out / "model-00001-of-00002.safetensors")["w"], full)
    weight_map = json.load(open(out / "model.safetensors.index.json"))["weight_map"]
    assert weight_map == {"w": "model-00001-of-00002.safetensors",
                          "b": "model-00002-of-00002.safetensors"}


# ------------------------------------------------------------------------------------------------
# state_dict helpers

def test_optimizer_state_dict_keyed_by_fqns_and_flattened():
    model, optim = trained()
    osd = get_optimizer_state_dict(model, optim)
    assert list(osd["state"]) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert osd["param_groups"][0]["params"] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    flat = get_optimizer_state_dict(model, optim, options=StateDictOptions(
        flatten_optimizer_state_dict=True))
    assert "state.2.bias.exp_avg" in flat and flat["param_groups.0.bias.lr"] == 0.1
    fresh = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    fresh_optim = ember.optim.Adam(fresh.parameters(), lr=0.7)
    before = fresh[0].bias.detach().clone()
    # a stateless optimizer gets its state by a step with zero lr, as in PyTorch
    assert get_optimizer_state_dict(fresh, fresh_optim)["state"]["0.bias"]["step"].item() == 1
    np.testing.assert_array_equal(fresh[0].bias.detach().numpy(), before.numpy())
    assert fresh_optim.param_groups[0]["lr"] == 0.7 and fresh[0].bias.grad is None
    set_optimizer_state_dict(fresh, fresh_optim, flat)
    np.testing.assert_array_equal(fresh_optim.state[fresh[2].bias]["exp_avg"].numpy(),
                                  optim.state[model[2].bias]["exp_avg"].numpy())
    assert fresh_optim.param_groups[0]["lr"] == 0.1


def test_model_state_dict_options():
    model, optim = trained()
    model[0].weight.requires_grad_(False)
    keys = list(get_model_state_dict(model, options=StateDictOptions(ignore_frozen_params=True)))
    assert keys == ["0.bias", "2.weight", "2.bias"]
    assert list(get_model_state_dict(model, submodules={model[2]})) == ["2.weight", "2.bias"]
    assert list(get_model_state_dict(model, submodules={model[2]}, options=StateDictOptions(
        keep_submodule_prefixes=False))) == ["weight", "bias"]
    model_sd, optim_sd = get_state_dict(model, optim, options=StateDictOptions(cpu_offload=True))
    fresh = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    fresh_optim = ember.optim.Adam(fresh.parameters())
    incompatible = set_state_dict(fresh, fresh_optim, model_state_dict={"2.bias": ember.ones(2)},
                                  optim_state_dict={}, options=StateDictOptions(strict=False))
    assert "0.weight" in incompatible.missing_keys
    np.testing.assert_array_equal(fresh[2].bias.detach().numpy(), np.ones(2))
    with pytest.raises(ValueError, match="broadcast_from_rank0"):
        get_model_state_dict(model, options=StateDictOptions(broadcast_from_rank0=True))


# ------------------------------------------------------------------------------------------------
# On 2 MPI ranks

CHECKS = ["dtensor_shards_load_on_other_layouts", "single_process_checkpoint_loads_sharded",
          "failure_on_one_rank_raises_on_every_rank", "resumed_training_equals_uninterrupted",
          "fsdp_sharded_and_full_state_dicts", "fsdp_resumed_training_equals_uninterrupted",
          "hf_distributed_save_consolidates"]
if importlib.util.find_spec("ember.distributed.fsdp._fully_shard") is not None:
    CHECKS.append("fsdp2_resumed_training_equals_uninterrupted")


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    pytest.importorskip("mpi4py")
    from dist_harness import launch_and_read, mpiexec
    if mpiexec() is None:
        pytest.skip("mpiexec is not installed (pip install mpich)")
    return launch_and_read("dist_worker_checkpoint.py", 2, CHECKS, tmp_path_factory.mktemp("dcp"))


@pytest.mark.parametrize("name", CHECKS)
def test_on_two_ranks(two_ranks, name):
    from dist_harness import assert_passed
    assert_passed(two_ranks, name)
