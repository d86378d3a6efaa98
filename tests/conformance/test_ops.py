"""The op table against real PyTorch: values, result dtypes, gradients (float64) and the
exception types of bad inputs, on the table's samples and on random shapes (broadcasting,
0-d, empty and non-contiguous inputs)."""
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ops"))
from op_table import OPS, call, case_id, cases, leaves, samples_of, tensor_inputs  # noqa: E402
from samples import S, arr, nc  # noqa: E402

import ember  # noqa: E402


def _ember(a, requires_grad=False):
    data = np.empty_like(a)  # a private copy with the same strides
    data[...] = a
    return ember.from_numpy(data).requires_grad_(requires_grad)


def _torch(a, requires_grad=False):
    return torch.from_numpy(a.copy() if a.strides and min(a.strides) < 0 else a) \
        .clone(memory_format=torch.preserve_format).requires_grad_(requires_grad)


def _np(x):
    if isinstance(x, (torch.Tensor, ember.Tensor)):
        return np.asarray(x.detach().cpu().numpy(force=True) if isinstance(x, torch.Tensor)
                          else x.detach()._data)
    return np.asarray(x)


def _tol(dtype_name: str, op):
    if dtype_name == "float32":
        return 1e-4, 1e-5
    return max(op.rtol, 1e-6), op.atol


def assert_same(op, sample, got, want, what="output") -> None:
    got_l, want_l = leaves(got), leaves(want)
    assert len(got_l) == len(want_l), f"{op.name}{sample}: {len(got_l)} {what}s, torch " \
                                      f"{len(want_l)}"
    for g, w in zip(got_l, want_l):
        where = f"{op.name}{sample} {what}"
        if w is None:
            assert g is None or not _np(g).any(), f"{where}: torch has no grad"
            continue
        assert g is not None, f"{where}: ember has no grad, torch has one"
        if isinstance(w, torch.Tensor):
            assert isinstance(g, ember.Tensor), f"{where}: got {type(g).__name__}"
            assert str(g.dtype) == str(w.dtype), f"{where}: dtype {g.dtype}, torch {w.dtype}"
            assert tuple(g.shape) == tuple(w.shape), f"{where}: shape {tuple(g.shape)}, " \
                                                     f"torch {tuple(w.shape)}"
        else:
            assert type(g) is type(w), f"{where}: {type(g).__name__}, torch {type(w).__name__}"
        gv, wv = _np(g), _np(w)
        if wv.dtype.kind in "fc":
            rtol, atol = _tol(wv.dtype.name, op)
            np.testing.assert_allclose(gv, wv, rtol=rtol, atol=atol, equal_nan=True,
                                       err_msg=where)
        else:
            np.testing.assert_array_equal(gv, wv, err_msg=where)


def _grads(lib, out, inputs):
    """Gradients of the outputs that require grad, with the same random cotangents."""
    outs = [o for o in leaves(out) if getattr(o, "requires_grad", False)]
    if not outs:
        return None
    rng = np.random.default_rng(1)
    cots = [lib.from_numpy(rng.standard_normal(tuple(o.shape)).astype(_np(o).dtype))
            for o in outs]
    return lib.autograd.grad(outs, inputs, cots, allow_unused=True)


def check(op, sample):
    """Run one sample on both libraries and compare results, then gradients."""
    want, t_args, t_kwargs = call(op, sample, torch, _torch, requires_grad=op.grad)
    got, e_args, e_kwargs = call(op, sample, ember, _ember, requires_grad=op.grad)
    assert_same(op, sample, got, want)
    t_in, e_in = tensor_inputs(t_args, t_kwargs), tensor_inputs(e_args, e_kwargs)
    if not op.grad or not t_in:
        return
    want_g = _grads(torch, want, t_in)
    got_g = _grads(ember, got, e_in)
    if want_g is None:
        assert got_g is None, f"{op.name}{sample}: ember output requires grad, torch's not"
        return
    assert got_g is not None, f"{op.name}{sample}: torch output requires grad, ember's not"
    assert_same(op, sample, list(got_g), list(want_g), "grad")


ALL_CASES = cases()


@pytest.mark.parametrize("case", ALL_CASES, ids=[case_id(c) for c in ALL_CASES])
def test_matches_torch(case):
    op, dt = case
    for sample in samples_of(op, dt):
        check(op, sample)


ERROR_ROWS = [op for op in OPS if op.errors]


@pytest.mark.parametrize("op", ERROR_ROWS, ids=[op.name for op in ERROR_ROWS])
def test_error_types_match_torch(op):
    for sample in op.errors(np.random.default_rng(0)):
        with pytest.raises(Exception) as want:
            call(op, sample, torch, _torch)
        with pytest.raises(Exception) as got:
            call(op, sample, ember, _ember)
        assert want.type in got.type.__mro__ or got.type in want.type.__mro__, \
            f"{op.name}{sample}: ember raised {got.type.__name__}: {got.value}; torch " \
            f"{want.type.__name__}: {want.value}"
        assert want.type is sample.raises, f"{op.name}{sample}: rows_errors.py records " \
                                           f"{sample.raises.__name__}, torch raised {want.type}"


def _random_shape(rng, ndim=None):
    ndim = rng.integers(0, 4) if ndim is None else ndim
    return tuple(int(s) for s in rng.integers(0, 4, ndim))


def _random_array(rng, shape, dt, domain):
    """Contiguous, transposed or sliced, at random."""
    kind = rng.integers(0, 3) if len(shape) else 0
    if kind == 1:
        return nc(rng, shape, dt, domain)
    if kind == 2:
        return arr(rng, shape[:-1] + (2 * shape[-1],), dt, domain)[..., ::2]
    return arr(rng, shape, dt, domain)


def _broadcast_partner(rng, shape):
    """A shape that broadcasts with ``shape`` (dims dropped from the left or set to 1)."""
    keep = rng.integers(0, len(shape) + 1)
    out = list(shape[len(shape) - keep:])
    for i in range(len(out)):
        if rng.random() < 0.3:
            out[i] = 1
    return tuple(out)


ELEMENTWISE = [op for op in OPS if op.tags and op.tags[0] in ("unary", "binary")]


@pytest.mark.parametrize("op", ELEMENTWISE, ids=[op.name for op in ELEMENTWISE])
def test_random_shapes_match_torch(op):
    rng = np.random.default_rng(abs(hash(op.name)) % 2**32)
    for trial in range(6):
        dt = op.dtypes[trial % len(op.dtypes)]
        shape = _random_shape(rng)
        a = _random_array(rng, shape, dt, op.tags[1])
        if op.tags[0] == "unary":
            sample = S(a)
        else:
            other = _broadcast_partner(rng, shape)
            b = _random_array(rng, other, dt, op.tags[2])
            sample = S(a, b) if rng.random() < 0.5 else S(b, a)
        check(op, sample)


REDUCTIONS = ["sum", "mean", "amax", "amin", "logsumexp", "var", "std", "norm"]


@pytest.mark.parametrize("name", REDUCTIONS)
def test_random_reductions_match_torch(name):
    op = next(o for o in OPS if o.name == name)
    rng = np.random.default_rng(len(name))
    for _ in range(6):
        shape = tuple(int(s) for s in rng.integers(1, 4, rng.integers(1, 4)))
        a = _random_array(rng, shape, op.dtypes[0], (-2.0, 2.0))
        ndim = len(shape)
        dims = tuple(int(d) for d in rng.choice(ndim, rng.integers(1, ndim + 1), replace=False))
        keepdim = bool(rng.random() < 0.5)
        if name == "norm":
            sample = S(a, 2, dims, keepdim)
        else:
            sample = S(a, dims, keepdim=keepdim)
        check(op, sample)


# Ops taking one dim, called on random shapes (some 0-d, some non-contiguous) and dims.
DIM_OPS = {
    "max_dim": lambda lib, x, d: lib.max(x, d),
    "min_dim_keepdim": lambda lib, x, d: lib.min(x, d, keepdim=True),
    "argmax": lambda lib, x, d: lib.argmax(x, d),
    "cumsum": lambda lib, x, d: lib.cumsum(x, d),
    "cumprod": lambda lib, x, d: lib.cumprod(x, d),
    "sort": lambda lib, x, d: lib.sort(x, d, descending=True),
    "softmax": lambda lib, x, d: lib.softmax(x, d),
    "log_softmax": lambda lib, x, d: lib.log_softmax(x, d),
    "flip": lambda lib, x, d: lib.flip(x, (d,)),
    "roll": lambda lib, x, d: lib.roll(x, 2, d),
    "unsqueeze": lambda lib, x, d: lib.unsqueeze(x, d),
    "squeeze": lambda lib, x, d: lib.squeeze(x, d),
    "transpose": lambda lib, x, d: lib.transpose(x, d, 0),
    "narrow": lambda lib, x, d: lib.narrow(x, d, 0, 1),
    "select": lambda lib, x, d: lib.select(x, d, -1),
    "chunk": lambda lib, x, d: lib.chunk(x, 2, d),
    "unbind": lambda lib, x, d: lib.unbind(x, d),
    "std": lambda lib, x, d: lib.std(x, d, keepdim=True),
    "amin": lambda lib, x, d: lib.amin(x, d),
    "prod": lambda lib, x, d: lib.prod(x, d),
    "logcumsumexp": lambda lib, x, d: lib.logcumsumexp(x, d),
    "cummax": lambda lib, x, d: lib.cummax(x, d),
    "kthvalue": lambda lib, x, d: lib.kthvalue(x, 1, d),
    "median": lambda lib, x, d: lib.median(x, d),
    "index_select": lambda lib, x, d: lib.index_select(x, d, lib.tensor([0, 0])),
    "repeat_interleave": lambda lib, x, d: lib.repeat_interleave(x, 2, d),
    "diff": lambda lib, x, d: lib.diff(x, dim=d),
}


@pytest.mark.parametrize("name", list(DIM_OPS))
def test_random_dims_match_torch(name):
    from samples import FLOAT, OpInfo
    op = OpInfo(name, lambda lib, x, d: DIM_OPS[name](lib, x, d), None, None, FLOAT)
    rng = np.random.default_rng(len(name) * 7919)
    for _ in range(6):
        ndim = int(rng.integers(1, 4))
        shape = tuple(int(s) for s in rng.integers(1, 4, ndim))
        a = _random_array(rng, shape, np.float64, (-2.0, 2.0))
        d = int(rng.integers(-ndim, ndim))
        check(op, S(a, d))


def _random_index(rng, shape):
    """A random PyTorch index for ``shape``: ints, slices with steps, None, Ellipsis, integer
    arrays and bool masks, mixed."""
    items = []
    dim = 0
    while dim < len(shape) and rng.random() < 0.8:
        n = shape[dim]
        kind = int(rng.integers(0, 6))
        if kind == 0:
            items.append(int(rng.integers(-n, n)))
        elif kind == 1:
            start = int(rng.integers(-n, n))
            items.append(slice(start, None, int(rng.integers(1, 3))))
        elif kind == 2:
            items.append(None)
            continue
        elif kind == 3:
            items.append(rng.integers(-n, n, int(rng.integers(1, 4))))
        elif kind == 4:
            items.append(rng.random(n) < 0.5)
        else:
            items.append(slice(None))
        dim += 1
    if rng.random() < 0.3:
        items.insert(int(rng.integers(0, len(items) + 1)), Ellipsis)
    return tuple(items)


def test_random_getitem_matches_torch():
    from samples import OpInfo
    op = OpInfo("getitem", lambda lib, x, i: x[i], None, None)
    rng = np.random.default_rng(2024)
    for _ in range(3000):
        shape = tuple(int(s) for s in rng.integers(1, 5, int(rng.integers(1, 4))))
        a = _random_array(rng, shape, np.float64, (-2.0, 2.0))
        index = _random_index(rng, shape)
        if sum(isinstance(i, np.ndarray) for i in index) > 1:
            # Several index arrays broadcast together: keep them compatible.
            index = tuple(i[:1] if isinstance(i, np.ndarray) and i.dtype != bool else i
                          for i in index)
        try:
            call(op, S(a, index), torch, _torch)
        except IndexError:  # arrays and masks that do not broadcast: ember must refuse too
            with pytest.raises(IndexError):
                call(op, S(a, index), ember, _ember)
            continue
        check(op, S(a, index))
