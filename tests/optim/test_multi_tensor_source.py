"""The multi-tensor CUDA kernels without a GPU: the generated code (compiled by nvcc where it
is installed), the chunk table, and the grouping of updates into launches, run against a
stand-in for CuPy whose kernel follows the table's addresses back to NumPy arrays and runs the
update there (so a launch must cover every value of every tensor exactly once)."""
import shutil
import subprocess
from types import SimpleNamespace

import numpy as np
import pytest

from ember.backend import cuda, fused
from ember.backend import multi_tensor as mt
from ember.optim import adagrad, adam, rmsprop, sgd

SGD = sgd._source(False, True, True, False, True, False)
ADAM = adam._source(True, True, False, True, True)
SCALARS = dict(neg_lr=-0.1, momentum=0.9, undamped=1.0, weight_decay=0.01, w=0.1, w_rest=0.9,
               beta2=0.999, c=0.001, decay=0.999, scaled_eps=1e-8, scaled_step=-1e-3,
               eps=1e-10, neg_clr=-0.01, alpha=0.99)


def _dtypes(source, dtype):
    return {n: None if n in SCALARS else dtype for n in fused._parse(source).names}


SOURCES = [(SGD, "float32"), (SGD, "float64"), (ADAM, "float32"), (ADAM, "float16"),
           (adagrad._source(False, True), "float64"),
           (rmsprop._source(True, False, True, True, True), "float32"),
           (sgd._source(False, False, True, True, True, False), "float16")]


@pytest.mark.parametrize("source,dtype", SOURCES)
def test_source_binds_the_elementwise_operation(source, dtype):
    dtypes = _dtypes(source, dtype)
    code = mt.multi_tensor_source(source, **dtypes)
    operation = fused.cuda_source(source, **dtypes)[2]
    assert operation in "\n".join(line.strip() for line in code.splitlines())
    ctype = {"float16": "float16", "float32": "float", "float64": "double"}[dtype]
    compute = "double" if dtype == "float64" else "float"
    assert f"const {ctype} &x_g = " in code and f"{ctype} &x_p = " in code
    for name, d in dtypes.items():
        if d is None:
            assert f"const {compute} x_{name}" in code
    assert ("struct float16" in code) == (dtype == "float16")


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="needs nvcc")
def test_sources_compile(tmp_path):
    # one file, each kernel in its own namespace (the preamble and float16 come with each)
    code = "\n".join(f"namespace k{i} {{\n" + mt.multi_tensor_source(s, **_dtypes(s, d)).replace(
        "ember_multi_fused", f"ember_multi_fused_{i}") + "}\n" for i, (s, d) in enumerate(SOURCES))
    (tmp_path / "kernels.cu").write_text(code)
    result = subprocess.run(["nvcc", "-arch=sm_90", "-ptx", "-o", str(tmp_path / "k.ptx"),
                             str(tmp_path / "kernels.cu")], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    ptx = (tmp_path / "k.ptx").read_text()
    for i in range(len(SOURCES)):
        assert f".entry ember_multi_fused_{i}(" in ptx
    assert "cvt.rn.f16.f32" in ptx and "sqrt.rn.f32" in ptx and "sqrt.rn.f64" in ptx


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="needs nvcc")
def test_a_general_source_compiles(tmp_path):
    source = "_c = (m > 0) & mask; p = where(_c, p * 0.5, -p) + exp(s); m = maximum(m, p) ** 2"
    code = mt.multi_tensor_source(source, m="float32", mask="bool", p="float16", s=None)
    assert "const bool &x_mask = " in code and "const float x_s" in code
    (tmp_path / "k.cu").write_text(code)
    result = subprocess.run(["nvcc", "-arch=sm_90", "-ptx", "-o", str(tmp_path / "k.ptx"),
                             str(tmp_path / "k.cu")], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr


def test_source_rejects_what_it_cannot_run():
    with pytest.raises(ValueError, match="expression"):
        mt.multi_tensor_source("a * 2", a="float32")
    with pytest.raises(TypeError):
        mt.multi_tensor_source("p = p * s", p="int32", s=None)
    with pytest.raises(TypeError):
        mt.multi_tensor_source("p = p * q", p="float16", q="float64")


@pytest.mark.parametrize("sizes", [[0], [1], [5, 0, 1], [mt.CHUNK], [mt.CHUNK + 1, 3],
                                   [3 * mt.CHUNK - 7, 0, 2 * mt.CHUNK]])
def test_chunk_table_covers_every_value_once(sizes):
    sizes = np.array(sizes, np.int64)
    itemsizes = np.array([4, 8], np.int64)
    bases = np.array([[1 << 20, 1 << 30]], np.int64) * (1 + np.arange(len(sizes)))[:, None]
    table = mt.chunk_table(sizes, bases, itemsizes)
    assert table.dtype == np.int64 and table.shape == ((-(-sizes // mt.CHUNK)).sum(), 3)
    assert (table[:, 0] > 0).all() and (table[:, 0] <= mt.CHUNK).all()
    for t, size in enumerate(sizes):
        rows = table[(table[:, 1] >= bases[t, 0]) & (table[:, 1] < bases[t, 0] + (1 << 20))]
        covered = np.concatenate([np.arange(n) + (a - bases[t, 0]) // 4 for n, a in rows[:, :2]]
                                 ) if len(rows) else np.array([], np.int64)
        np.testing.assert_array_equal(np.sort(covered), np.arange(size))
        np.testing.assert_array_equal((rows[:, 2] - bases[t, 1]) // 8,
                                      (rows[:, 1] - bases[t, 0]) // 4)


# ------------------------------------------------------------------------------------------
# A stand-in for CuPy: NumPy arrays with CuPy's attributes; the kernel runs the update on the
# arrays that the table's addresses point into.

class FakeArray(np.ndarray):
    @property
    def data(self):
        data = self.__dict__.get("_data")
        if data is None:
            address = self.__array_interface__["data"][0] if self.size else 0  # as CuPy's
            data = self._data = SimpleNamespace(ptr=address, device_id=0)
        return data


class FakeKernel:
    launches = 0

    def __init__(self, code, name):
        assert name == "ember_multi_fused"
        self.code = code

    def __call__(self, grid, block, args):
        FakeKernel.launches += 1
        (source, dtypes), = [k for k, v in mt._kernels.items() if v[0] is self]
        table, scalars = np.asarray(args[0]), list(args[1:])
        assert grid == (len(table),) and block == (mt.THREADS,)
        arrays = [n for n, d in dtypes if d is not None]
        for row in table:
            values = iter(scalars)
            operands = {n: next(values) for n, d in dtypes if d is None}
            for name, address in zip(arrays, row[1:]):
                operands[name] = FakeKernel.memory(address, row[0], dict(dtypes)[name])
            fused.update(source, **operands)

    registry: list = []

    @staticmethod
    def memory(address, n, dtype):
        for a in FakeKernel.registry:
            start = a.__array_interface__["data"][0]
            if start <= address < start + a.nbytes:
                offset = (address - start) // a.itemsize
                flat = np.asarray(a).reshape(-1)
                assert flat.dtype == np.dtype(dtype) and offset + n <= flat.size
                return flat[offset:offset + n]
        raise AssertionError("an address outside every array")


@pytest.fixture
def fake_cupy(monkeypatch):
    stream = SimpleNamespace(capturing=False)
    stream.is_capturing = lambda: stream.capturing
    fake = SimpleNamespace(ndarray=FakeArray, RawKernel=FakeKernel,
                           asarray=lambda a: np.array(a).view(FakeArray),
                           cuda=SimpleNamespace(runtime=SimpleNamespace(getDevice=lambda: 0),
                                                get_current_stream=lambda: stream))
    monkeypatch.setattr(cuda, "cupy", lambda: fake)
    monkeypatch.setattr(mt, "_kernels", {})
    FakeKernel.registry = []
    FakeKernel.launches = 0
    return fake


def _array(rng, shape, dtype):
    a = rng.standard_normal(shape).astype(dtype).view(FakeArray)
    FakeKernel.registry.append(a)
    return a


def _updates(rng, source, shapes, dtype, **scalars):
    names = fused._parse(source).names
    return [(source, {n: scalars.get(n, SCALARS.get(n)) if n in SCALARS
                      else _array(rng, shape, dtype) for n in names}) for shape in shapes]


def _copy(updates):
    return [(s, {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in ops.items()})
            for s, ops in updates]


def _run(kernels):
    for k in kernels:
        k()


SHAPES = [(3, 5), (0,), (1,), (), (2 * mt.CHUNK + 3,), (7, 0), (40,)]


@pytest.mark.parametrize("source,dtype", [(SGD, np.float32), (ADAM, np.float64),
                                          (ADAM, np.float16)])
def test_one_launch_equals_per_tensor_updates(fake_cupy, source, dtype):
    rng = np.random.default_rng(0)
    updates = _updates(rng, source, SHAPES, dtype)
    if dtype == np.float16:
        for _, ops in updates:
            ops["v"][...] = abs(ops["v"])
            ops["v_max"][...] = abs(ops["v_max"])
    expected = _copy(updates)
    for s, ops in expected:
        fused.update(s, **ops)
    kernels = mt.prepare_updates(updates)
    assert len(kernels) == 1
    _run(kernels)
    assert FakeKernel.launches == 1
    for (_, got), (_, want) in zip(updates, expected):
        for name, v in want.items():
            if isinstance(v, np.ndarray):
                np.testing.assert_array_equal(np.asarray(got[name]), v, strict=True)


def test_groups_by_source_dtypes_and_scalars(fake_cupy):
    rng = np.random.default_rng(1)
    updates = (_updates(rng, SGD, [(4,), (5,)], np.float32)
               + _updates(rng, SGD, [(6,), (7,)], np.float32, neg_lr=-0.2)
               + _updates(rng, SGD, [(8,), (9,)], np.float64)
               + _updates(rng, SGD, [(2,), (3,)], np.float32, weight_decay=-0.0)
               + _updates(rng, SGD, [(2,), (3,)], np.float32, weight_decay=0.0)
               + _updates(rng, ADAM, [(3,), (2,)], np.float32))
    expected = _copy(updates)
    for s, ops in expected:
        fused.update(s, **ops)
    kernels = mt.prepare_updates(updates)
    assert len(kernels) == 6
    _run(kernels)
    assert FakeKernel.launches == 6
    for (_, got), (_, want) in zip(updates, expected):
        np.testing.assert_array_equal(np.asarray(got["p"]), want["p"], strict=True)


def test_ineligible_updates_run_per_tensor(fake_cupy):
    rng = np.random.default_rng(2)
    updates = _updates(rng, SGD, [(4, 6), (5,), (3,), (2,)], np.float32)
    updates[0][1]["g"] = _array(rng, (6, 4), np.float32).T  # not C-contiguous
    updates[1][1]["b"] = _array(rng, (5,), np.float64)  # other dtypes: a group of one
    updates[2][1]["g"] = np.asarray(updates[2][1]["g"])  # not a device array
    expected = _copy(updates)
    for s, ops in expected:
        fused.update(s, **ops)
    kernels = mt.prepare_updates(updates)
    assert len(kernels) == 4
    _run(kernels)
    assert FakeKernel.launches == 0
    for (_, got), (_, want) in zip(updates, expected):
        np.testing.assert_array_equal(np.asarray(got["p"]), want["p"], strict=True)


def test_a_parameter_listed_twice_is_updated_twice_in_order(fake_cupy):
    rng = np.random.default_rng(3)
    updates = _updates(rng, SGD, [(4,), (5,)], np.float32)
    updates.append((SGD, dict(updates[0][1])))  # the first parameter again
    updates += _updates(rng, SGD, [(6,)], np.float32)
    expected = _copy(updates[:2])
    expected += [expected[0]] + _copy(updates[3:])
    for s, ops in expected:
        fused.update(s, **ops)
    kernels = mt.prepare_updates(updates)
    assert len(kernels) == 2
    _run(kernels)
    for i in (0, 1, 3):
        np.testing.assert_array_equal(np.asarray(updates[i][1]["p"]), expected[i][1]["p"],
                                      strict=True)


def test_a_graph_capture_gets_per_tensor_kernels(fake_cupy):
    rng = np.random.default_rng(4)
    updates = _updates(rng, SGD, [(4,), (5,), (6,)], np.float32)
    fake_cupy.cuda.get_current_stream().capturing = True
    kernels = mt.prepare_updates(updates)
    assert len(kernels) == 3
    _run(kernels)
    assert FakeKernel.launches == 0
