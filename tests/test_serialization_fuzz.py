"""ember.load against hostile and damaged files: every case raises a clear exception, quickly,
within bounded memory, and runs no code from the file."""
import collections
import io
import os
import pickle
import struct
import time
import tracemalloc
import zipfile
import zlib

import numpy as np
import pytest

import ember
from ember.serialization import _zip as _zip_module
from ember.serialization import load_npz, load_safetensors
from ember.serialization._pickle import StorageTable, TorchGlobal, TorchPickler

CLEAR = (RuntimeError, pickle.UnpicklingError)


def _zip(records: dict, compression=zipfile.ZIP_STORED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as z:
        for name, data in records.items():
            z.writestr("archive/" + name, data)
    return out.getvalue()


class _Call:
    """Pickles as ``func(*args)``."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


class _Pid:
    def __init__(self, *pid):
        self.pid = pid


class _Pickler(TorchPickler):
    def persistent_id(self, obj):
        return obj.pid if isinstance(obj, _Pid) else None


def _dumps(obj) -> bytes:
    buf = io.BytesIO()
    _Pickler(buf, 2, StorageTable()).dump(obj)
    return buf.getvalue()


def _tensor_file(numel=4, record_bytes=16, offset=0, size=(4,), stride=(1,), key="0"):
    """A checkpoint of one float32 tensor, every field under the test's control."""
    pid = _Pid("storage", TorchGlobal("torch", "FloatStorage"), key, "cpu", numel)
    rebuild = _Call(TorchGlobal("torch._utils", "_rebuild_tensor_v2"), pid, offset, size,
                    stride, False, collections.OrderedDict())
    return _zip({"data.pkl": _dumps(rebuild), "data/0": b"\0" * record_bytes})


def _load(raw: bytes):
    return ember.load(io.BytesIO(raw))


def test_the_crafted_file_is_valid():
    np.testing.assert_array_equal(_load(_tensor_file()).numpy(), np.zeros(4, np.float32))


class _System:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


@pytest.mark.parametrize("payload", [
    lambda marker: _System(f"touch {marker}"),
    lambda marker: _Call(eval, f"open({str(marker)!r}, 'w')"),
    lambda marker: _Call(getattr, "text", "upper"),
    lambda marker: _Call(collections.namedtuple, "X", "a"),
], ids=["os.system", "eval", "getattr", "namedtuple"])
def test_code_in_the_pickle_is_refused_and_not_run(payload, tmp_path):
    marker = tmp_path / "pwned"
    raw = _zip({"data.pkl": pickle.dumps([payload(marker)], protocol=2)})
    with pytest.raises(pickle.UnpicklingError, match="refused"):
        _load(raw)
    assert not marker.exists()


def test_refusal_names_the_global():
    raw = _zip({"data.pkl": pickle.dumps(_System("true"), protocol=2)})
    with pytest.raises(pickle.UnpicklingError, match="posix.system|nt.system"):
        _load(raw)


@pytest.mark.parametrize("build", [
    # BUILD on a tensor could set its slots to anything
    lambda: _dumps(_Call(TorchGlobal("torch._utils", "_rebuild_tensor_v2"), _Pid(
        "storage", TorchGlobal("torch", "FloatStorage"), "0", "cpu", 4), 0, (4,), (1,), False,
        collections.OrderedDict()))[:-1] + b"}X\x05\x00\x00\x00_dataK\x01sb.",
    # a tensor attribute that would shadow a method
    lambda: _dumps(_Call(TorchGlobal("torch._tensor", "_rebuild_from_type_v2"),
                         TorchGlobal("torch._utils", "_rebuild_tensor_v2"),
                         TorchGlobal("torch", "Tensor"),
                         (_Pid("storage", TorchGlobal("torch", "FloatStorage"), "0", "cpu", 4),
                          0, (4,), (1,), False, collections.OrderedDict()),
                         {"numpy": 1})),
    # calling a storage type or torch.Tensor (which would allocate)
    lambda: _dumps(_Call(TorchGlobal("torch", "Tensor"), 10 ** 12)),
    lambda: _dumps(_Call(TorchGlobal("torch", "FloatStorage"), 10 ** 12)),
    # INST / OBJ opcodes
    lambda: b"(cbuiltins\nlist\no.",
    lambda: b"(ibuiltins\nlist\n.",
], ids=["build-tensor", "shadow-method", "call-tensor", "call-storage", "obj", "inst"])
def test_object_building_opcodes_are_refused(build):
    raw = _zip({"data.pkl": build(), "data/0": b"\0" * 16})
    with pytest.raises(pickle.UnpicklingError):
        _load(raw)


@pytest.mark.parametrize("kwargs, match", [
    (dict(numel=10 ** 15), "declares"),
    (dict(numel=5), "declares"),
    (dict(offset=4), "reaches past"),
    (dict(size=(3, 2), stride=(2, 1)), "reaches past"),
    (dict(size=(4,), stride=(2,)), "reaches past"),
    (dict(size=(2,), stride=(-1,)), "malformed"),
    (dict(offset=-1), "malformed"),
    (dict(size=(2, 2), stride=(1,)), "malformed"),
    (dict(size=(10 ** 30,), stride=(0,)), "corrupt|malformed"),
    (dict(key="../../etc/passwd"), "no record"),
])
def test_sizes_and_offsets_are_checked(kwargs, match):
    tracemalloc.start()
    try:
        with pytest.raises(CLEAR, match=match):
            _load(_tensor_file(**kwargs))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20


def _good_file() -> bytes:
    base = ember.from_numpy(np.arange(24, dtype=np.float32))
    buf = io.BytesIO()
    ember.save({"a": base, "v": base[3:9], "n": [1, "two", 3.0]}, buf)
    return buf.getvalue()


def _equal(out, ref) -> bool:
    return (set(out) == set(ref) and out["n"] == ref["n"]
            and np.array_equal(out["a"].numpy(), ref["a"].numpy())
            and np.array_equal(out["v"].numpy(), ref["v"].numpy()))


def test_truncated_files_raise():
    raw = _good_file()
    for cut in range(0, len(raw), 7):
        with pytest.raises(CLEAR):
            _load(raw[:cut])


def test_bit_flips_raise_or_change_nothing():
    raw = _good_file()
    ref = _load(raw)
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for pos in rng.choice(len(raw), 400, replace=False):
        flipped = bytearray(raw)
        flipped[pos] ^= 1 << int(rng.integers(8))
        try:
            out = _load(bytes(flipped))
        except CLEAR:
            continue
        assert _equal(out, ref), f"a flip at byte {pos} changed the loaded values silently"
    assert time.perf_counter() - start < 30


def test_zip_bomb_is_refused_before_reading():
    bomb = _zip({"data.pkl": b"\0" * (20 << 20)}, zipfile.ZIP_DEFLATED)
    assert len(bomb) < 100_000
    tracemalloc.start()
    try:
        with pytest.raises(RuntimeError, match="compressed"):
            _load(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20


def test_declared_size_larger_than_the_file():
    raw = bytearray(_tensor_file())
    info = [i for i in zipfile.ZipFile(io.BytesIO(bytes(raw))).infolist()
            if i.filename.endswith("data/0")][0]
    cd = [i for i in range(len(raw)) if raw[i:i + 4] == b"PK\x01\x02"][-1]
    assert raw[cd + 46:cd + 46 + len(info.filename)] == info.filename.encode()
    raw[cd + 20:cd + 28] = struct.pack("<II", 1 << 31, 1 << 31)  # compressed, uncompressed
    with pytest.raises(RuntimeError, match="past the end"):
        _load(bytes(raw))


def test_corrupt_data_is_caught_by_crc():
    raw = bytearray(_tensor_file())
    at = raw.index(b"\0" * 16, raw.index(b"archive/data/0"))
    raw[at] = 1
    with pytest.raises(RuntimeError, match="CRC"):
        _load(bytes(raw))


def test_overlapping_records_are_refused_before_allocating():
    # ten central-directory entries sharing one 1 MB record: without a check, 10 MB to load
    # from a 1 MB file (and any multiple with more entries)
    numel = 1 << 18
    tensors = [_Call(TorchGlobal("torch._utils", "_rebuild_tensor_v2"),
                     _Pid("storage", TorchGlobal("torch", "FloatStorage"), str(k), "cpu", numel),
                     0, (numel,), (1,), False, collections.OrderedDict()) for k in range(10)]
    buf = io.BytesIO()
    writer = _zip_module.ZipWriter(buf, "archive")
    writer.write_record("data.pkl", _dumps(tensors))
    writer.write_record("data/0", b"\0" * (4 * numel))
    fname, crc, size, offset = writer._entries[-1]
    writer._entries += [(f"archive/data/{k}".encode(), crc, size, offset) for k in range(1, 10)]
    writer.close()
    tracemalloc.start()
    try:
        with pytest.raises(RuntimeError, match="overlap"):
            _load(buf.getvalue())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20


def test_garbage_and_empty_files():
    for raw in [b"", b"hello world", b"PK\x03\x04" + b"\0" * 100, b"\x80\x02K\x01."]:
        with pytest.raises(CLEAR):
            _load(raw)


def test_legacy_storage_larger_than_the_file_is_refused_before_allocating():
    buf = io.BytesIO()
    for obj in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}):
        pickle.dump(obj, buf, protocol=2)
    pid = _Pid("storage", TorchGlobal("torch", "FloatStorage"), "k", "cpu", 10 ** 12, None)
    buf.write(_dumps(pid))
    tracemalloc.start()
    try:
        with pytest.raises(RuntimeError, match="more than"):
            _load(buf.getvalue())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20


# ----------------------------------------------------------------------------------------------
# safetensors and .npz


def _safetensors(header: dict, data: bytes = b"") -> bytes:
    text = __import__("json").dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


@pytest.mark.parametrize("raw", [
    b"",
    struct.pack("<Q", 1 << 60) + b"{}",
    _safetensors({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, b"\0" * 8),
    _safetensors({"a": {"dtype": "F32", "shape": [10 ** 12], "data_offsets": [0, 16]}},
                 b"\0" * 16),
    _safetensors({"a": {"dtype": "XX", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4),
    _safetensors({"a": {"dtype": "F32", "shape": [-4], "data_offsets": [0, 16]}}, b"\0" * 16),
    struct.pack("<Q", 4) + b"\xff\xfe{}",
], ids=["empty", "huge-header", "short-data", "huge-shape", "dtype", "negative", "utf8"])
def test_hostile_safetensors(raw):
    with pytest.raises(RuntimeError):
        load_safetensors(io.BytesIO(raw))


def test_npz_with_pickled_objects_is_refused():
    buf = io.BytesIO()
    np.savez(buf, a=np.array([_System("true")], dtype=object))
    buf.seek(0)
    with pytest.raises(RuntimeError, match="pickle"):
        load_npz(buf)


def test_npz_bomb_is_refused():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("a.npy", b"\0" * 1000)
    raw = bytearray(buf.getvalue())
    cd = raw.index(b"PK\x01\x02")
    raw[cd + 24:cd + 28] = struct.pack("<I", 0xFFFFFFF0)  # claims 4 GB uncompressed
    with pytest.raises(RuntimeError, match="declares"):
        load_npz(io.BytesIO(bytes(raw)))


def test_npz_member_that_is_not_an_array():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a.txt", b"hello")
    buf.seek(0)
    with pytest.raises(RuntimeError, match="not an array"):
        load_npz(buf)


def test_crc_helper_matches_zlib():
    # the writer's CRC must be what zipfile checks (guards the reader's CRC test above)
    buf = io.BytesIO()
    ember.save(ember.ones(3), buf)
    for info in zipfile.ZipFile(io.BytesIO(buf.getvalue())).infolist():
        assert zlib.crc32(zipfile.ZipFile(io.BytesIO(buf.getvalue())).read(info)) == info.CRC


@pytest.fixture
def _small_segments(monkeypatch):
    """Records of a few hundred KB read by three threads, as 500 MB ones are."""
    monkeypatch.setattr(_zip_module, "_SEGMENT_MIN", 1 << 16)
    monkeypatch.setattr(_zip_module, "_THREADS", 3)


def test_records_read_in_segments_load_the_same(tmp_path, _small_segments, monkeypatch):
    segments = []
    read_segment = _zip_module.ZipReader._read_segment
    monkeypatch.setattr(_zip_module.ZipReader, "_read_segment",
                        lambda self, *args: segments.append(args) or read_segment(self, *args))
    x = ember.from_numpy(np.random.default_rng(0).standard_normal(100_003).astype(np.float32))
    path = tmp_path / "big.pt"
    ember.save({"x": x, "y": x[:10].clone()}, path)
    for f in (path, open(path, "rb")):
        out = ember.load(f)
        np.testing.assert_array_equal(out["x"].numpy(), x.numpy())
        np.testing.assert_array_equal(out["y"].numpy(), x.numpy()[:10])
    f.close()
    assert len(segments) == 6  # the large record, in three parts, twice


@pytest.mark.parametrize("where", [0.0, 0.4, 0.7, 1.0])
def test_flips_in_any_segment_are_caught_by_crc(tmp_path, _small_segments, where):
    x = ember.from_numpy(np.arange(100_003, dtype=np.float32))
    path = tmp_path / "big.pt"
    ember.save(x, path)
    raw = bytearray(path.read_bytes())
    start = raw.index(x.numpy().tobytes()[:64])
    raw[start + min(int(where * x.numpy().nbytes), x.numpy().nbytes - 1)] ^= 0x10
    path.write_bytes(bytes(raw))
    with pytest.raises(RuntimeError, match="CRC"):
        ember.load(path)


def test_only_plain_files_are_read_by_position(tmp_path):
    import gzip

    from ember.serialization import _file_descriptor
    (tmp_path / "a").write_bytes(b"x")
    with open(tmp_path / "a", "rb") as f, open(tmp_path / "a", "rb", buffering=0) as raw:
        assert _file_descriptor(f) == f.fileno() and _file_descriptor(raw) == raw.fileno()
    with gzip.open(tmp_path / "g", "wb") as g:
        g.write(b"x")
    with gzip.open(tmp_path / "g", "rb") as g:
        assert _file_descriptor(g) is None  # its fileno() is the compressed file's
    assert _file_descriptor(io.BytesIO(b"x")) is None


def _legacy_file() -> bytes:
    base = ember.from_numpy(np.arange(24, dtype=np.float32))
    buf = io.BytesIO()
    ember.save({"a": base, "v": base[3:9], "n": [1, "two"]}, buf,
               _use_new_zipfile_serialization=False)
    return buf.getvalue()


def test_legacy_truncated_and_flipped_files_raise_clear_errors():
    raw = _legacy_file()
    for cut in range(0, len(raw), 5):
        with pytest.raises(CLEAR):
            _load(raw[:cut])
    rng = np.random.default_rng(1)
    for pos in rng.choice(len(raw), 200, replace=False):
        flipped = bytearray(raw)
        flipped[pos] ^= 1 << int(rng.integers(8))
        try:
            _load(bytes(flipped))
        except CLEAR:
            pass  # the legacy format has no checksums: a flip in the data goes unnoticed


def test_legacy_huge_declared_string_on_disk(tmp_path):
    raw = bytearray(_legacy_file())
    # the first BINUNICODE of the main pickle ('a'), declared 4 GB long
    at = raw.index(b"X\x01\x00\x00\x00a")
    raw[at + 1:at + 5] = struct.pack("<I", 0xFFFFFFF0)
    path = tmp_path / "legacy.pt"
    path.write_bytes(bytes(raw))
    tracemalloc.start()
    try:
        with pytest.raises(CLEAR):
            ember.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20


def test_whole_model_load_never_calls_what_the_file_names(tmp_path):
    """``weights_only=False`` rebuilds nn.Module subclasses but refuses other globals."""
    import io
    import pickle

    class Evil:
        def __reduce__(self):
            import os
            return (os.system, ("echo pwned",))

    payload = io.BytesIO()
    pickle.dump(Evil(), payload, protocol=2)
    path = tmp_path / "evil.pt"
    path.write_bytes(payload.getvalue())
    with pytest.raises(pickle.UnpicklingError, match="system"):
        ember.load(str(path), weights_only=False)
    model = ember.nn.Sequential(ember.nn.Linear(2, 3), ember.nn.ReLU())
    good = tmp_path / "model.pt"
    ember.save(model, str(good))
    back = ember.load(str(good), weights_only=False)
    assert isinstance(back, ember.nn.Sequential)
    assert ember.equal(back[0].weight, model[0].weight)
