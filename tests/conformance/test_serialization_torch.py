"""Checkpoints cross between ember and real PyTorch in both directions."""
import collections
import io
import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import ember  # noqa: E402
from ember import dtypes as _dt  # noqa: E402

pytestmark = pytest.mark.conformance


def _sample(dtype):
    rng = np.random.default_rng(0)
    if dtype is _dt.bool:
        return rng.random((3, 4)) > 0.5
    if dtype.is_complex or dtype.is_floating_point:
        values = rng.standard_normal((3, 4)) * 10
        return (values + 1j * values if dtype.is_complex else values).astype(dtype.np_dtype)
    return rng.integers(0, 100, (3, 4)).astype(dtype.np_dtype)


def _torch_dtype(dtype):
    return getattr(torch, dtype.name)


def _bits(array):
    return np.ascontiguousarray(array).view(np.uint8)


def _torch_numpy(t):
    """A torch tensor's values as a NumPy array of ember's dtype (NumPy lacks bfloat16)."""
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().view(_dt.bfloat16.np_dtype)
    return t.numpy()


@pytest.mark.parametrize("dtype", _dt.ALL, ids=lambda d: d.name)
def test_ember_to_torch_every_dtype(dtype):
    array = _sample(dtype)
    buf = io.BytesIO()
    ember.save({"x": ember.from_numpy(array), "t": ember.from_numpy(array).t()}, buf)
    buf.seek(0)
    out = torch.load(buf, weights_only=True)
    assert out["x"].dtype == _torch_dtype(dtype)
    np.testing.assert_array_equal(_bits(_torch_numpy(out["x"])), _bits(array))
    assert out["t"].stride() == (1, 4)
    assert out["t"].untyped_storage().data_ptr() == out["x"].untyped_storage().data_ptr()


@pytest.mark.parametrize("dtype", _dt.ALL, ids=lambda d: d.name)
@pytest.mark.parametrize("legacy", [False, True])
def test_torch_to_ember_every_dtype(dtype, legacy):
    if legacy and dtype.name.startswith("uint") and dtype is not _dt.uint8:
        pytest.skip("PyTorch's legacy format cannot round-trip these dtypes itself")
    array = _sample(dtype)
    x = torch.from_numpy(array.view(np.int16)).view(torch.bfloat16) \
        if dtype is _dt.bfloat16 else torch.from_numpy(array)
    buf = io.BytesIO()
    torch.save({"x": x, "v": x[1:, ::2], "e": x[0].expand(2, 4)}, buf,
               _use_new_zipfile_serialization=not legacy)
    buf.seek(0)
    out = ember.load(buf)
    assert out["x"].dtype is dtype
    np.testing.assert_array_equal(_bits(out["x"].numpy()), _bits(array))
    np.testing.assert_array_equal(_bits(out["v"].numpy()), _bits(array[1:, ::2]))
    assert out["v"].stride() == x[1:, ::2].stride()
    assert out["v"].storage_offset() == x[1:, ::2].storage_offset()
    assert out["e"].stride() == (0, 1)


def test_torch_state_dict_loads_into_ember_model(tmp_path):
    tm = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    torch.save(tm.state_dict(), tmp_path / "model.pt")  # archive named "model", not "archive"
    em = ember.nn.Sequential(ember.nn.Linear(3, 4), ember.nn.ReLU(), ember.nn.Linear(4, 2))
    sd = ember.load(tmp_path / "model.pt")
    assert type(sd) is collections.OrderedDict and hasattr(sd, "_metadata")
    em.load_state_dict(sd)
    for name, value in tm.state_dict().items():
        np.testing.assert_array_equal(em.state_dict()[name].numpy(), value.numpy())
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    np.testing.assert_allclose(em(ember.from_numpy(x)).detach().numpy(),
                               tm(torch.from_numpy(x)).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_ember_state_dict_loads_into_torch_model(tmp_path):
    em = ember.nn.Sequential(ember.nn.Linear(3, 4), ember.nn.ReLU(), ember.nn.Linear(4, 2))
    ember.save(em.state_dict(), tmp_path / "m.pt")
    tm = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    tm.load_state_dict(torch.load(tmp_path / "m.pt", weights_only=True))
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    np.testing.assert_allclose(tm(torch.from_numpy(x)).detach().numpy(),
                               em(ember.from_numpy(x)).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_torch_optimizer_state_and_parameters():
    w = torch.nn.Parameter(torch.randn(3, 2))
    opt = torch.optim.Adam([w], lr=0.1)
    w.sum().backward()
    opt.step()
    buf = io.BytesIO()
    torch.save({"opt": opt.state_dict(), "w": w, "epoch": 3, "loss": 0.5}, buf)
    buf.seek(0)
    out = ember.load(buf)
    state = out["opt"]["state"][0]
    np.testing.assert_array_equal(state["exp_avg"].numpy(), opt.state[w]["exp_avg"].numpy())
    assert float(state["step"].item()) == 1.0
    assert out["opt"]["param_groups"][0]["lr"] == 0.1
    assert out["opt"]["param_groups"][0]["betas"] == (0.9, 0.999)
    assert type(out["w"]) is ember.nn.Parameter and out["w"].requires_grad
    assert out["epoch"] == 3 and out["loss"] == 0.5


def test_torch_parameter_with_attributes_and_containers():
    p = torch.nn.Parameter(torch.ones(2))
    p.tag = "w"
    t = torch.arange(3)
    t.note = 7
    obj = [p, t, {1, 2}, b"xy", 1 + 2j, torch.Size([2, 3]), torch.device("cpu"), torch.int8]
    buf = io.BytesIO()
    torch.save(obj, buf)
    buf.seek(0)
    out = ember.load(buf)
    assert type(out[0]) is ember.nn.Parameter and out[0].tag == "w"
    assert out[1].note == 7 and out[1].tolist() == [0, 1, 2]
    assert out[2:5] == [{1, 2}, b"xy", 1 + 2j]
    assert out[5] == (2, 3) and out[6] == ember.device("cpu") and out[7] is ember.int8


def test_ember_objects_load_in_torch():
    p = ember.nn.Parameter(ember.ones(2))
    obj = [p, ember.Size([2]), ember.device("cpu"), ember.float16, {1}, b"b", 2j,
           collections.OrderedDict(a=1)]
    buf = io.BytesIO()
    ember.save(obj, buf)
    buf.seek(0)
    out = torch.load(buf, weights_only=True)
    assert isinstance(out[0], torch.nn.Parameter) and out[0].requires_grad
    assert out[1:] == [torch.Size([2]), torch.device("cpu"), torch.float16, {1}, b"b", 2j,
                       collections.OrderedDict(a=1)]


def test_mmap_load_of_a_torch_file(tmp_path):
    x = torch.randn(100, 10)
    torch.save({"x": x, "row": x[5]}, tmp_path / "x.pt")
    out = ember.load(tmp_path / "x.pt", mmap=True)
    np.testing.assert_array_equal(out["x"].numpy(), x.numpy())
    np.testing.assert_array_equal(out["row"].numpy(), x[5].numpy())


def test_torch_mmap_load_of_an_ember_file(tmp_path):
    x = np.random.default_rng(0).standard_normal((600, 500)).astype(np.float32)  # > 1 chunk
    ember.save({"x": ember.from_numpy(x)}, tmp_path / "x.pt")
    out = torch.load(tmp_path / "x.pt", mmap=True, weights_only=True)
    np.testing.assert_array_equal(out["x"].numpy(), x)
    np.testing.assert_array_equal(torch.load(tmp_path / "x.pt")["x"].numpy(), x)


def test_large_torch_records_read_by_threads_and_mapped(tmp_path, monkeypatch):
    # large records are read in segments by several threads, into memory mapped from the OS;
    # the small tensor beside them takes the other path
    from ember.serialization import _zip
    monkeypatch.setattr(_zip, "_THREADS", 3)
    monkeypatch.setattr(_zip, "_SEGMENT_MIN", 1 << 20)
    x = torch.randn(3, 1 << 19)  # 6 MB
    torch.save({"x": x, "row": x[1], "small": torch.arange(5)}, tmp_path / "x.pt")
    out = ember.load(tmp_path / "x.pt")
    np.testing.assert_array_equal(out["x"].numpy(), x.numpy())
    np.testing.assert_array_equal(out["row"].numpy(), x[1].numpy())
    np.testing.assert_array_equal(out["small"].numpy(), np.arange(5))
    out["x"][1, 0] = 7.0  # writable, and the row still shares the tensor's storage
    assert out["row"].numpy()[0] == 7.0


def test_big_endian_torch_file():
    x = torch.arange(6, dtype=torch.float32)
    buf = io.BytesIO()
    torch.save(x, buf)
    import zipfile
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name in src.namelist():
            data = src.read(name)
            if name.endswith("byteorder"):
                data = b"big"
            elif "/data/" in name:
                data = np.frombuffer(data, "<f4").astype(">f4").tobytes()
            z.writestr(name, data)
    out.seek(0)
    np.testing.assert_array_equal(ember.load(out).numpy(), x.numpy())


@pytest.mark.parametrize("protocol", [1, 2, 3, 4, 5])
def test_torch_pickle_protocols(protocol):
    obj = {"x": torch.arange(3.0), "s": {1}, "sd": torch.nn.Linear(2, 2).state_dict()}
    buf = io.BytesIO()
    torch.save(obj, buf, pickle_protocol=protocol)
    buf.seek(0)
    out = ember.load(buf)
    assert out["x"].tolist() == [0.0, 1.0, 2.0] and out["s"] == {1}
    np.testing.assert_array_equal(out["sd"]["weight"].numpy(), obj["sd"]["weight"].numpy())


def test_torch_saved_whole_model_loads_with_weights_only_false():
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU())
    buf = io.BytesIO()
    torch.save(model, buf)
    buf.seek(0)
    loaded = ember.load(buf, weights_only=False)
    assert type(loaded[0]) is ember.nn.Linear and type(loaded[1]) is ember.nn.ReLU
    x = torch.randn(4, 3)
    np.testing.assert_allclose(loaded(ember.tensor(x.numpy())).detach().numpy(),
                               model(x).detach().numpy(), rtol=1e-6, atol=1e-7)


def test_numpy_arrays_load_only_with_weights_only_false():
    """As in torch.load: NumPy arrays and scalars come back with weights_only=False (PyTorch's
    time_sequence_prediction example saves its data this way) and are refused by default."""
    obj = {"a": np.arange(6.0).reshape(2, 3), "s": np.float32(2.5),
           "o": np.array([1, "x"], dtype=object), "t": torch.ones(2)}
    buf = io.BytesIO()
    torch.save(obj, buf)
    buf.seek(0)
    out = ember.load(buf, weights_only=False)
    buf.seek(0)
    expected = torch.load(buf, weights_only=False)
    np.testing.assert_array_equal(out["a"], expected["a"])
    assert out["s"] == expected["s"] and out["s"].dtype == np.float32
    assert out["o"].tolist() == [1, "x"]
    buf.seek(0)
    with pytest.raises(pickle.UnpicklingError, match="_reconstruct"):
        ember.load(buf)


def test_ember_saved_whole_model_loads_in_torch():
    """A whole pickled ember model names its classes as PyTorch's modules hold them
    (``torch.nn.BatchNorm2d``; ember keeps batch norm in another file), so PyTorch rebuilds it
    with ``weights_only=False`` and computes what ember does."""
    ember.manual_seed(0)
    nn = ember.nn
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(),
                          nn.Linear(2 * 4 * 4, 3),
                          nn.TransformerEncoderLayer(3, 1, 8, batch_first=True)).eval()
    buf = io.BytesIO()
    ember.save(model, buf)
    loaded = torch.load(io.BytesIO(buf.getvalue()), weights_only=False)
    assert type(loaded[1]) is torch.nn.BatchNorm2d
    assert loaded[5].activation is torch.nn.functional.relu
    x = np.random.default_rng(0).standard_normal((2, 1, 6, 6)).astype(np.float32)
    with torch.no_grad():
        want = loaded(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model(ember.from_numpy(x)).detach().numpy(), want, rtol=1e-5,
                               atol=1e-6)
