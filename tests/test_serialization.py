"""ember.save / ember.load: round trips, views and shared storage, map_location, mmap, atomic
saves, legacy format, safetensors and .npz. Oracle: the NumPy arrays the tensors were made from."""
import collections
import gc
import io
import os
import pickle
import subprocess
import sys
import textwrap
import weakref
import zipfile

import ml_dtypes
import numpy as np
import pytest

import ember
from ember import dtypes as _dt
from ember.serialization import atomic_write, load_npz, load_safetensors, save_npz, save_safetensors
from ember.storage import UntypedStorage

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _sample(dtype, shape=(3, 4)):
    rng = np.random.default_rng(0)
    if dtype is _dt.bool:
        return rng.random(shape) > 0.5
    if dtype.is_complex:
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(
            dtype.np_dtype)
    if dtype.is_floating_point:
        return rng.standard_normal(shape).astype(dtype.np_dtype)
    info = np.iinfo(dtype.np_dtype)
    return rng.integers(max(info.min, -100), min(info.max, 100), shape).astype(dtype.np_dtype)


def _roundtrip(obj, **load_kwargs):
    buf = io.BytesIO()
    ember.save(obj, buf)
    buf.seek(0)
    return ember.load(buf, **load_kwargs)


def _same(t, array):
    assert t.dtype.np_dtype == array.dtype
    assert t.shape == array.shape
    got = np.ascontiguousarray(np.atleast_1d(t.numpy()))
    want = np.ascontiguousarray(np.atleast_1d(array))
    np.testing.assert_array_equal(got.view(np.uint8), want.view(np.uint8))


@pytest.mark.parametrize("dtype", _dt.ALL, ids=lambda d: d.name)
@pytest.mark.parametrize("legacy", [False, True])
def test_roundtrip_every_dtype(dtype, legacy, tmp_path):
    if legacy and dtype in (_dt.uint16, _dt.uint32, _dt.uint64):
        with pytest.raises(RuntimeError, match="legacy"):
            ember.save(ember.from_numpy(_sample(dtype)), io.BytesIO(),
                       _use_new_zipfile_serialization=False)
        return
    array = _sample(dtype)
    path = tmp_path / "t.pt"
    ember.save({"x": ember.from_numpy(array.copy()), "s": ember.from_numpy(np.array(array[0, 0]))},
               path, _use_new_zipfile_serialization=not legacy)
    out = ember.load(path)
    _same(out["x"], array)
    _same(out["s"], array[0, 0])


def test_bfloat16_bits_exact():
    array = np.array([1.5, -0.0, np.inf, 3.0e38], dtype=ml_dtypes.bfloat16)
    _same(_roundtrip(ember.from_numpy(array)), array)


@pytest.mark.parametrize("make", [
    lambda a: a.t(),
    lambda a: a[:, 1::2],
    lambda a: a[1:, 2:],
    lambda a: a[1].unsqueeze(0).expand(3, 6),
    lambda a: a.reshape(2, 3, 6).permute(2, 0, 1),
    lambda a: a[2, 3],
], ids=["transpose", "step", "offset", "expand", "permute", "scalar"])
def test_views_keep_size_stride_offset(make):
    base = ember.from_numpy(np.arange(36, dtype=np.float32).reshape(6, 6))
    view = make(base)
    out = _roundtrip(view)
    np.testing.assert_array_equal(out.numpy(), view.numpy())
    assert out.stride() == view.stride()
    assert out.storage_offset() == view.storage_offset()


def test_shared_storage_is_stored_once_and_still_shared():
    base = ember.from_numpy(np.arange(12, dtype=np.float64))
    obj = {"base": base, "view": base[3:7], "t": base.reshape(3, 4).t(), "again": base}
    buf = io.BytesIO()
    ember.save(obj, buf)
    names = zipfile.ZipFile(io.BytesIO(buf.getvalue())).namelist()
    assert [n for n in names if "/data/" in n] == ["archive/data/0"]
    out = ember.load(io.BytesIO(buf.getvalue()))
    assert out["again"] is out["base"]
    out["base"][4] = -1.0
    assert out["view"][1].item() == -1.0
    assert out["t"][0, 1].item() == -1.0


def test_negative_strides_are_saved_as_a_copy():
    array = np.arange(6, dtype=np.int32)[::-1]
    out = _roundtrip(ember.from_numpy(array))
    np.testing.assert_array_equal(out.numpy(), array)


def test_same_memory_as_two_dtypes_is_refused():
    base = ember.from_numpy(np.zeros(4, np.float32))
    other = ember.from_numpy(base.numpy().view(np.int32))
    with pytest.raises(RuntimeError, match="different types"):
        ember.save([base, other], io.BytesIO())


def test_parameters_and_requires_grad():
    p = ember.nn.Parameter(ember.from_numpy(np.ones(3, np.float32)))
    frozen = ember.nn.Parameter(ember.from_numpy(np.ones(2, np.float32)), requires_grad=False)
    leaf = ember.from_numpy(np.ones(2, np.float64)).requires_grad_()
    out = _roundtrip([p, frozen, leaf])
    assert type(out[0]) is ember.nn.Parameter and out[0].requires_grad
    assert type(out[1]) is ember.nn.Parameter and not out[1].requires_grad
    assert type(out[2]) is ember.Tensor and out[2].requires_grad and out[2].is_leaf


def test_tensor_attributes_round_trip():
    t = ember.from_numpy(np.ones(2, np.float32))
    t.note = "kept"
    assert _roundtrip(t).note == "kept"


def test_nested_containers():
    od = collections.OrderedDict(w=ember.from_numpy(np.ones(2, np.float32)))
    od._metadata = {"": {"version": 1}}
    obj = {"od": od, "list": [1, 2.5, "s", None, True, b"\x00\xff", 1 + 2j, (3, (4,))],
           "set": {1, 2}, "frozen": frozenset({"a"}), "size": ember.Size([2, 3]),
           "device": ember.device("cpu"), "dtype": ember.bfloat16, "big": 2 ** 80,
           "inf": float("inf")}
    out = _roundtrip(obj)
    assert type(out["od"]) is collections.OrderedDict and out["od"]._metadata == od._metadata
    assert out["list"] == obj["list"]
    assert out["set"] == {1, 2} and out["frozen"] == frozenset({"a"})
    assert type(out["size"]) is ember.Size and out["size"] == (2, 3)
    assert out["device"] == ember.device("cpu") and out["dtype"] is ember.bfloat16
    assert out["big"] == 2 ** 80 and out["inf"] == float("inf")


@pytest.mark.parametrize("protocol", [1, 2, 3, 4, 5])
def test_pickle_protocols(protocol):
    x = ember.from_numpy(np.arange(4, dtype=np.int64))
    buf = io.BytesIO()
    ember.save({"x": x, "v": x[1:]}, buf, pickle_protocol=protocol)
    buf.seek(0)
    out = ember.load(buf)
    np.testing.assert_array_equal(out["v"].numpy(), [1, 2, 3])


def test_state_dict_into_model(tmp_path):
    src = ember.nn.Sequential(ember.nn.Linear(3, 4), ember.nn.ReLU(), ember.nn.Linear(4, 2))
    dst = ember.nn.Sequential(ember.nn.Linear(3, 4), ember.nn.ReLU(), ember.nn.Linear(4, 2))
    ember.save(src.state_dict(), tmp_path / "m.pt")
    dst.load_state_dict(ember.load(tmp_path / "m.pt", weights_only=True))
    x = ember.from_numpy(np.random.default_rng(1).standard_normal((5, 3)).astype(np.float32))
    np.testing.assert_array_equal(dst(x).detach().numpy(), src(x).detach().numpy())


def test_records_are_64_byte_aligned():
    buf = io.BytesIO()
    ember.save([ember.ones(3), ember.ones(5, dtype=ember.int8)], buf)
    raw = buf.getvalue()
    for info in zipfile.ZipFile(io.BytesIO(raw)).infolist():
        n, m = np.frombuffer(raw[info.header_offset + 26:info.header_offset + 30], "<u2")
        assert (info.header_offset + 30 + n + m) % 64 == 0
        assert info.compress_type == zipfile.ZIP_STORED


def _cuda_file():
    """A checkpoint of [1, 2] whose storage was saved on cuda:0 (the location string edited)."""
    buf = io.BytesIO()
    ember.save(ember.from_numpy(np.array([1.0, 2.0], np.float32)), buf)
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name in src.namelist():
            data = src.read(name)
            if name.endswith("data.pkl"):
                data = data.replace(b"X\x03\x00\x00\x00cpu", b"X\x06\x00\x00\x00cuda:0")
            z.writestr(name, data)
    return out.getvalue()


def test_cuda_location_without_cuda_needs_map_location():
    if ember.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(RuntimeError, match="map_location"):
        ember.load(io.BytesIO(_cuda_file()))


@pytest.mark.parametrize("map_location", [
    "cpu", ember.device("cpu"), {"cuda:0": "cpu"}, lambda storage, loc: storage])
def test_map_location_forms(map_location):
    out = ember.load(io.BytesIO(_cuda_file()), map_location=map_location)
    assert out.device == ember.device("cpu")
    np.testing.assert_array_equal(out.numpy(), [1.0, 2.0])


def test_map_location_meta_keeps_shapes_and_dtypes():
    # what libraries read to learn a checkpoint's keys and shapes without its data
    buf = io.BytesIO()
    ember.save({"view": ember.arange(6.0).view(2, 3)[:, 1:],
                "ids": ember.ones(4, dtype=ember.int64),
                "cuda": ember.load(io.BytesIO(_cuda_file()), map_location="cpu")}, buf)
    out = ember.load(io.BytesIO(buf.getvalue()), map_location="meta")
    assert {k: (tuple(v.shape), v.dtype, v.is_meta) for k, v in out.items()} == {
        "view": ((2, 2), ember.float32, True), "ids": ((4,), ember.int64, True),
        "cuda": ((2,), ember.float32, True)}
    meta_cuda = ember.load(io.BytesIO(_cuda_file()), map_location={"cuda:0": "meta"})
    assert meta_cuda.is_meta and meta_cuda.shape == (2,)


def test_map_location_function_sees_storage_and_location():
    seen = []

    def fn(storage, location):
        seen.append((type(storage), storage.nbytes(), location))
        return None if location == "cpu" else storage

    ember.load(io.BytesIO(_cuda_file()), map_location=fn)
    assert seen == [(UntypedStorage, 8, "cuda:0")]


def test_mmap_load_is_copy_on_write(tmp_path):
    array = np.arange(1000, dtype=np.float32)
    path = tmp_path / "m.pt"
    ember.save({"a": ember.from_numpy(array), "b": ember.from_numpy(array[:10] * 2)}, path)
    out = ember.load(path, mmap=True)
    np.testing.assert_array_equal(out["a"].numpy(), array)
    root = out["a"].numpy()
    while isinstance(root.base, np.ndarray):
        root = root.base
    assert not isinstance(root.base, (bytes, np.ndarray))  # a view of the mapped file
    out["a"][0] = 42.0
    np.testing.assert_array_equal(ember.load(path)["a"].numpy(), array)


def test_mmap_needs_a_real_file():
    buf = io.BytesIO()
    ember.save(ember.ones(2), buf)
    buf.seek(0)
    with pytest.raises(RuntimeError, match="mmap"):
        ember.load(buf, mmap=True)


def test_mmap_needs_zip_format(tmp_path):
    ember.save(ember.ones(2), tmp_path / "l.pt", _use_new_zipfile_serialization=False)
    with pytest.raises(RuntimeError, match="mmap"):
        ember.load(tmp_path / "l.pt", mmap=True)


def test_untyped_storage_roundtrip_and_view():
    t = ember.from_numpy(np.arange(4, dtype=np.int16))
    s = t.untyped_storage()
    assert s.nbytes() == 8 and s.data_ptr() == t.data_ptr()
    out = _roundtrip([s, t])
    assert isinstance(out[0], UntypedStorage) and out[0].tolist() == s.tolist()


class _Stream(io.RawIOBase):
    """A non-seekable stream (a pipe or socket stand-in)."""

    def __init__(self, data):
        self._buf = io.BytesIO(data)

    def readable(self):
        return True

    def readinto(self, b):
        return self._buf.readinto(b)


def test_file_objects_and_streams(tmp_path):
    t = ember.from_numpy(np.arange(5, dtype=np.float64))
    buf = io.BytesIO()
    ember.save(t, buf)
    np.testing.assert_array_equal(ember.load(_Stream(buf.getvalue())).numpy(), t.numpy())
    with open(tmp_path / "f.pt", "wb") as f:
        ember.save(t, f)
    with open(tmp_path / "f.pt", "rb") as f:
        np.testing.assert_array_equal(ember.load(f).numpy(), t.numpy())


class _Sink(io.RawIOBase):
    """A write-only, non-seekable stream."""

    def __init__(self):
        self.data = bytearray()

    def writable(self):
        return True

    def write(self, b):
        self.data += b
        return len(b)


def test_large_records_have_valid_crcs_on_every_kind_of_file(tmp_path):
    array = np.random.default_rng(0).standard_normal(300_000).astype(np.float32)  # > 1 chunk
    t = ember.from_numpy(array)
    ember.save(t, tmp_path / "big.pt")
    sink = _Sink()
    ember.save(t, sink)
    offset = io.BytesIO()
    offset.write(b"7 bytes")
    ember.save(t, offset)
    files = [(tmp_path / "big.pt").read_bytes(), bytes(sink.data), offset.getvalue()[7:]]
    for raw in files:
        assert zipfile.ZipFile(io.BytesIO(raw)).testzip() is None  # zipfile checks the CRCs
        np.testing.assert_array_equal(ember.load(io.BytesIO(raw)).numpy(), array)
    assert files[0] == files[1] == files[2]


@pytest.mark.parametrize("legacy", [False, True])
def test_loaded_tensors_are_freed_without_the_cyclic_gc(legacy):
    # the unpickler's memo referred back to the unpickler, a cycle holding every tensor
    buf = io.BytesIO()
    ember.save({"w": ember.ones(1000)}, buf, _use_new_zipfile_serialization=not legacy)
    gc.disable()
    try:
        buf.seek(0)
        data = ember.load(buf)["w"]._data
        ref = weakref.ref(data)
        del data
        assert ref() is None
    finally:
        gc.enable()


def test_legacy_format_shares_storage():
    base = ember.from_numpy(np.arange(6, dtype=np.float32))
    buf = io.BytesIO()
    ember.save({"a": base, "v": base[2:4]}, buf, _use_new_zipfile_serialization=False)
    assert buf.getvalue()[:2] == b"\x80\x02"
    out = ember.load(io.BytesIO(buf.getvalue()))
    out["a"][2] = 9.0
    assert out["v"][0].item() == 9.0


# ----------------------------------------------------------------------------------------------
# Atomic saves


def _temp_files(directory):
    return [p for p in os.listdir(directory) if p.endswith(".tmp")]


def test_failed_save_keeps_previous_file(tmp_path):
    path = tmp_path / "ckpt.pt"
    ember.save({"v": ember.ones(2)}, path)
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        ember.save({"v": ember.zeros(2), "f": lambda: 0}, path)
    np.testing.assert_array_equal(ember.load(path)["v"].numpy(), [1.0, 1.0])
    assert _temp_files(tmp_path) == []


def test_atomic_write_respects_umask(tmp_path):
    old = os.umask(0o022)
    try:
        with atomic_write(tmp_path / "x") as f:
            f.write(b"1")
    finally:
        os.umask(old)
    assert os.stat(tmp_path / "x").st_mode & 0o777 == 0o644


def _child(code: str, tmp_path):
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(code))
    return subprocess.Popen([sys.executable, str(script)], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": REPO})


def test_disk_full_keeps_previous_file(tmp_path):
    path = tmp_path / "ckpt.pt"
    ember.save({"v": ember.ones(2)}, path)
    proc = _child(f"""
        import resource, signal, numpy as np, ember
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # over the limit: EFBIG, not death
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))
        try:
            ember.save({{"v": ember.from_numpy(np.zeros(1 << 20, np.float32))}}, {str(path)!r})
        except OSError as e:
            print("OSError", e.errno)
        """, tmp_path)
    out, err = proc.communicate(timeout=120)
    assert b"OSError" in out, err
    np.testing.assert_array_equal(ember.load(path)["v"].numpy(), [1.0, 1.0])
    assert _temp_files(tmp_path) == []


def test_killed_save_keeps_previous_file(tmp_path):
    path = tmp_path / "ckpt.pt"
    ember.save({"v": ember.ones(2)}, path)
    # the child stops inside the save, after writing everything but before the rename
    proc = _child(f"""
        import os, sys, time, numpy as np, ember
        def hang(fd):
            print("writing", flush=True)
            time.sleep(60)
        os.fsync = hang
        ember.save({{"v": ember.from_numpy(np.zeros(1 << 22, np.float32))}}, {str(path)!r})
        """, tmp_path)
    assert proc.stdout.readline() == b"writing\n"
    proc.kill()
    proc.wait()
    assert len(_temp_files(tmp_path)) == 1  # the abandoned temporary file, never the target
    np.testing.assert_array_equal(ember.load(path)["v"].numpy(), [1.0, 1.0])


def test_killed_at_a_random_moment_leaves_old_or_new_file(tmp_path):
    path = tmp_path / "ckpt.pt"
    ember.save({"v": ember.ones(2)}, path)
    proc = _child(f"""
        import numpy as np, ember
        print("start", flush=True)
        ember.save({{"v": ember.from_numpy(np.zeros(1 << 24, np.float32))}}, {str(path)!r})
        """, tmp_path)
    proc.stdout.readline()
    proc.kill()
    proc.wait()
    v = ember.load(path)["v"].numpy()
    assert v.tolist() == [1.0, 1.0] or (v.shape == (1 << 24,) and not v.any())


# ----------------------------------------------------------------------------------------------
# safetensors and .npz


def _dict_of_every_dtype():
    return {d.name: ember.from_numpy(_sample(d)) for d in _dt.ALL}


def test_safetensors_roundtrip(tmp_path):
    tensors = _dict_of_every_dtype()
    tensors.pop("complex128")  # safetensors has no complex128 code
    tensors["view"] = tensors["float32"].t()
    save_safetensors(tensors, tmp_path / "t.safetensors", metadata={"format": "pt"})
    out = load_safetensors(tmp_path / "t.safetensors")
    assert set(out) == set(tensors)
    for name, t in tensors.items():
        _same(out[name], t.numpy())


def test_safetensors_matches_the_reference_library(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    arrays = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.ones(3, np.int64)}
    st.save_file(arrays, str(tmp_path / "ref.safetensors"))
    out = load_safetensors(tmp_path / "ref.safetensors")
    for name, array in arrays.items():
        _same(out[name], array)
    save_safetensors({k: ember.from_numpy(v) for k, v in arrays.items()}, tmp_path / "e.st")
    back = st.load_file(str(tmp_path / "e.st"))
    for name, array in arrays.items():
        np.testing.assert_array_equal(back[name], array)


def test_npz_roundtrip(tmp_path):
    tensors = _dict_of_every_dtype()
    bf16 = tensors.pop("bfloat16")
    save_npz(tensors, tmp_path / "t.npz")
    with np.load(tmp_path / "t.npz") as ref:
        assert set(ref.files) == set(tensors)
    out = load_npz(tmp_path / "t.npz")
    for name, t in tensors.items():
        _same(out[name], t.numpy())
    with pytest.raises(TypeError, match="bfloat16"):
        save_npz({"b": bf16}, tmp_path / "b.npz")


def test_load_points_to_the_right_reader(tmp_path):
    save_safetensors({"a": ember.ones(2)}, tmp_path / "a.st")
    with pytest.raises(RuntimeError, match="load_safetensors"):
        ember.load(tmp_path / "a.st")
    save_npz({"a": ember.ones(2)}, tmp_path / "a.npz")
    with pytest.raises(RuntimeError, match="load_npz"):
        ember.load(tmp_path / "a.npz")


@pytest.mark.cuda
@pytest.mark.skipif(not ember.cuda.is_available(), reason="needs CuPy and an NVIDIA GPU")
def test_cuda_tensors_roundtrip_and_map_location():
    base = ember.from_numpy(np.arange(12, dtype=np.float32)).cuda()
    buf = io.BytesIO()
    ember.save({"base": base, "view": base.reshape(3, 4).t()}, buf)
    out = ember.load(io.BytesIO(buf.getvalue()))
    assert out["base"].device == ember.device("cuda", 0)
    np.testing.assert_array_equal(out["view"].cpu().numpy(), base.reshape(3, 4).t().cpu().numpy())
    out["base"][5] = -1.0
    assert out["view"][1, 1].item() == -1.0  # still one storage on the GPU
    cpu = ember.load(io.BytesIO(buf.getvalue()), map_location="cpu")
    assert cpu["view"].device == ember.device("cpu") and cpu["view"].stride() == (1, 4)
    back = ember.load(io.BytesIO(_cuda_file()), map_location=lambda s, loc: s.cuda())
    assert back.device.type == "cuda"


def _tied_model():
    emb = ember.nn.Embedding(5, 4)
    model = ember.nn.Sequential(emb, ember.nn.Linear(4, 5))
    model[1].weight = emb.weight  # a tie, as word_language_model's --tied makes
    return model


@pytest.mark.parametrize("legacy", [False, True])
def test_whole_model_loads_only_with_weights_only_false(legacy, tmp_path):
    model = _tied_model()
    path = tmp_path / "model.pt"
    ember.save(model, path, _use_new_zipfile_serialization=not legacy)
    for weights_only in (None, True):
        with pytest.raises(pickle.UnpicklingError, match="refused"):
            ember.load(path, weights_only=weights_only)
    loaded = ember.load(path, weights_only=False)
    assert type(loaded) is ember.nn.Sequential and type(loaded[1]) is ember.nn.Linear
    assert loaded[1].weight is loaded[0].weight
    x = ember.tensor([[0, 3, 4]])
    np.testing.assert_array_equal(loaded(x).detach().numpy(), model(x).detach().numpy())
    loaded(x).sum().backward()  # the rebuilt Parameters still train
    assert loaded[0].weight.grad.shape == (5, 4)


def test_weights_only_false_maps_torch_names_to_ember():
    """A module pickled under PyTorch's names (as ``torch.save(model)`` writes) loads as ember's."""
    from ember.serialization._pickle import FullUnpickler
    unpickler = FullUnpickler(io.BytesIO(b""), lambda *a: None)
    assert unpickler.find_class("torch.nn.modules.activation", "ReLU") is ember.nn.ReLU
    assert unpickler.find_class("torch", "float16") is ember.float16


def test_weights_only_false_loads_a_checkpoints_argparse_namespace(tmp_path):
    """Training scripts save their ``args`` beside the weights (torchvision's references do);
    PyTorch's ``weights_only=False`` loads it, the default safe load refuses it."""
    import argparse
    import types
    args = argparse.Namespace(lr=0.1, epochs=2, model="resnet18", extra=types.SimpleNamespace(a=1))
    path = tmp_path / "checkpoint.pth"
    ember.save({"model": {"w": ember.ones(2)}, "args": args, "epoch": 1}, path)
    with pytest.raises(pickle.UnpicklingError, match="refused"):
        ember.load(path)
    loaded = ember.load(path, weights_only=False)
    assert loaded["args"] == args and type(loaded["args"]) is argparse.Namespace
    assert type(loaded["args"].extra) is types.SimpleNamespace and loaded["args"].extra.a == 1
    np.testing.assert_array_equal(loaded["model"]["w"].numpy(), np.ones(2, np.float32))


def test_whole_model_pickles_pytorch_names():
    """ember's classes and functions in a pickled model are named as PyTorch's modules hold
    them (public namespaces first), and load back as ember's."""
    import pickletools
    import zipfile

    model = ember.nn.Sequential(ember.nn.BatchNorm1d(3),
                                ember.nn.TransformerEncoderLayer(4, 1, 8))
    buf = io.BytesIO()
    ember.save(model, buf)
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as archive:
        pickled = archive.read(next(n for n in archive.namelist() if n.endswith("data.pkl")))
    globals_named = {arg.replace(" ", ".") for op, arg, _ in pickletools.genops(pickled)
                     if op.name == "GLOBAL"}
    assert "torch.nn.BatchNorm1d" in globals_named
    assert "torch.nn.functional.relu" in globals_named
    assert "torch.nn.modules.linear.NonDynamicallyQuantizableLinear" in globals_named
    assert not any(name.startswith("ember") for name in globals_named)
    loaded = ember.load(io.BytesIO(buf.getvalue()), weights_only=False)
    assert type(loaded[0]) is ember.nn.BatchNorm1d
    assert loaded[1].activation is ember.nn.functional.relu
