"""ember.distributed.checkpoint against torch.distributed.checkpoint, single process: the
metadata both write for one state dict (keys, item kinds, sizes, chunks, dtypes), load
semantics and their errors, FQN-keyed optimizer state dicts, PyTorch's checkpoints read by
ember (NOTE [ Reading PyTorch's DCP metadata ]), and Hugging Face safetensors files read across
the two."""
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.distributed.checkpoint as tdcp  # noqa: E402
from torch.distributed.checkpoint import state_dict as tsd  # noqa: E402

import ember  # noqa: E402
import ember.distributed.checkpoint as dcp  # noqa: E402
from ember.distributed.checkpoint import state_dict as esd  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:torch.distributed is disabled")


def pair():
    """The same Adam-trained MLP in ember and torch."""
    ember.manual_seed(0)
    ours = ember.nn.Sequential(ember.nn.Linear(3, 4), ember.nn.Tanh(), ember.nn.Linear(4, 2))
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    with torch.no_grad():
        for p, q in zip(ours.parameters(), theirs.parameters()):
            q.copy_(torch.from_numpy(p.detach().numpy().copy()))
    optims = ember.optim.Adam(ours.parameters(), lr=0.1), torch.optim.Adam(theirs.parameters(),
                                                                           lr=0.1)
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    for model, optim, lib in ((ours, optims[0], ember), (theirs, optims[1], torch)):
        model(lib.tensor(x)).sum().backward()
        optim.step()
    return (ours, optims[0]), (theirs, optims[1])


def state(lib, model, optim):
    return {"model": model.state_dict(), "optim": optim.state_dict(), "epoch": 3,
            "extra": {"list": [lib.ones(2), 5], "tuple": (1, 2), "empty": {}},
            "ints": lib.arange(4), "half": lib.zeros(2, 2, dtype=lib.float16)}


def summary(metadata):
    out = {}
    for key, md in metadata.state_dict_metadata.items():
        if type(md).__name__ == "BytesStorageMetadata":
            out[key] = "bytes"
        else:
            out[key] = (str(md.properties.dtype).split(".")[-1], list(md.size),
                        sorted((list(c.offsets), list(c.sizes)) for c in md.chunks))
    return out


def test_metadata_matches_torch(tmp_path):
    (ours, our_optim), (theirs, their_optim) = pair()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tdcp.save(state(torch, theirs, their_optim), checkpoint_id=tmp_path / "torch")
    dcp.save(state(ember, ours, our_optim), checkpoint_id=tmp_path / "ember")
    want = summary(tdcp.FileSystemReader(tmp_path / "torch").read_metadata())
    got = summary(dcp.FileSystemReader(tmp_path / "ember").read_metadata())
    assert got == want


def test_load_semantics_match_torch(tmp_path):
    saved = {"w": np.arange(6.0, dtype=np.float32).reshape(2, 3), "step": 7}
    for lib, module in ((torch, tdcp), (ember, dcp)):
        path = tmp_path / lib.__name__
        module.save({"w": lib.tensor(saved["w"]), "step": 7}, checkpoint_id=path)
        target = {"w": lib.zeros(2, 3), "step": 0}
        weight = target["w"]
        module.load(target, checkpoint_id=path)
        assert target["w"] is weight and target["step"] == 7
        np.testing.assert_array_equal(target["w"].numpy(), saved["w"])
        with pytest.raises(module.CheckpointException) as error:
            module.load({"w": lib.zeros(2, 3), "other": lib.zeros(1)}, checkpoint_id=path)
        assert "Missing key in checkpoint state_dict: other." in str(error.value)
        with pytest.raises(module.CheckpointException) as error:
            module.load({"w": lib.zeros(3, 3)}, checkpoint_id=path)
        assert "Size mismatch between saved" in str(error.value)
        partial = {"w": lib.zeros(2, 3), "other": lib.ones(1)}
        module.load(partial, checkpoint_id=path,
                    planner=module.DefaultLoadPlanner(allow_partial_load=True))
        assert partial["other"].tolist() == [1.0]


def test_torch_written_checkpoint_loads_into_ember(tmp_path):
    (ours, our_optim), (theirs, their_optim) = pair()
    tdcp.save(state(torch, theirs, their_optim), checkpoint_id=tmp_path)
    fresh = ember.nn.Sequential(ember.nn.Linear(3, 4), ember.nn.Tanh(), ember.nn.Linear(4, 2))
    fresh_optim = ember.optim.Adam(fresh.parameters(), lr=0.5)
    esd.get_optimizer_state_dict(fresh, fresh_optim)  # gives the optimizer its state
    target = state(ember, fresh, fresh_optim)
    target["epoch"], target["extra"]["tuple"] = 0, None
    dcp.load(target, checkpoint_id=tmp_path)
    fresh_optim.load_state_dict(target["optim"])
    for p, q in zip(fresh.parameters(), theirs.parameters()):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())
    want = their_optim.state_dict()["state"][0]["exp_avg_sq"].numpy()
    np.testing.assert_array_equal(fresh_optim.state_dict()["state"][0]["exp_avg_sq"].numpy(),
                                  want)
    assert target["epoch"] == 3 and target["extra"]["tuple"] == (1, 2)
    assert fresh_optim.param_groups[0]["lr"] == 0.1
    assert summary(dcp.FileSystemReader(tmp_path).read_metadata()) == summary(
        tdcp.FileSystemReader(tmp_path).read_metadata())


@pytest.mark.parametrize("flatten", [False, True])
def test_optimizer_state_dict_matches_torch(flatten):
    (ours, our_optim), (theirs, their_optim) = pair()
    got = esd.get_optimizer_state_dict(ours, our_optim, options=esd.StateDictOptions(
        flatten_optimizer_state_dict=flatten))
    want = tsd.get_optimizer_state_dict(theirs, their_optim, options=tsd.StateDictOptions(
        flatten_optimizer_state_dict=flatten))
    flat_got = got if flatten else got["state"]
    flat_want = want if flatten else want["state"]
    assert list(flat_got) == list(flat_want)
    if not flatten:
        assert got["param_groups"][0]["params"] == want["param_groups"][0]["params"]
        assert set(got["param_groups"][0]) == set(want["param_groups"][0])
        for fqn in want["state"]:
            for key, value in want["state"][fqn].items():
                np.testing.assert_allclose(got["state"][fqn][key].numpy(), value.numpy(),
                                           rtol=1e-5, atol=1e-6)
    assert list(esd.get_model_state_dict(ours)) == list(tsd.get_model_state_dict(theirs))


def test_hf_files_cross_read(tmp_path):
    pytest.importorskip("safetensors")
    weights = {"a.weight": np.arange(6, dtype=np.float32).reshape(2, 3),
               "a.bias": np.ones(2, dtype=np.float32)}
    tdcp.save({k: torch.tensor(v) for k, v in weights.items()},
              storage_writer=tdcp.HuggingFaceStorageWriter(str(tmp_path / "torch")))
    dcp.save({k: ember.tensor(v) for k, v in weights.items()},
             storage_writer=dcp.HuggingFaceStorageWriter(str(tmp_path / "ember")))
    ours = {k: ember.zeros(v.shape) for k, v in weights.items()}
    dcp.load(ours, storage_reader=dcp.HuggingFaceStorageReader(str(tmp_path / "torch")))
    theirs = {k: torch.zeros(v.shape) for k, v in weights.items()}
    tdcp.load(theirs, storage_reader=tdcp.HuggingFaceStorageReader(str(tmp_path / "ember")))
    for key, value in weights.items():
        np.testing.assert_array_equal(ours[key].numpy(), value)
        np.testing.assert_array_equal(theirs[key].numpy(), value)
    assert sorted(p.name for p in (tmp_path / "ember").iterdir()) == sorted(
        p.name for p in (tmp_path / "torch").iterdir())
