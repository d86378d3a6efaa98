"""Linear algebra, FFT and reshaping fixes (session 10), against NumPy/SciPy and float64
gradcheck: vander of 0-d input and integer dtypes, norms over empty dims, unravel_index of small
integer dtypes, einsum/tensordot result dtypes, half-precision grid_sample/affine_grid, FFT
argument checks and frequencies, and complex gradients of conj/mH/vdot/lu_solve/ifft/ihfft."""
import numpy as np
import pytest

import ember
from ember.autograd import gradcheck

RNG = np.random.default_rng(0)
INF = float("inf")


def _real(shape, grad=True):
    return ember.tensor(RNG.standard_normal(shape), requires_grad=grad)


def _complex(shape, grad=True):
    return ember.tensor(RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape),
                        requires_grad=grad)


# --------------------------------------------------------------------------------------------
# vander


def test_linalg_vander_of_0d_input_is_one_row():
    out = ember.linalg.vander(ember.tensor(3.0), N=3)
    np.testing.assert_array_equal(out.numpy(), [[1.0, 3.0, 9.0]])
    with pytest.raises(RuntimeError, match="N must be greater than 1"):
        ember.linalg.vander(ember.tensor(3.0))  # N defaults to the one element


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int16", "int32", "int64"])
def test_vanders_give_int64_for_integers(dtype):
    x = ember.tensor([2, 3], dtype=getattr(ember, dtype))
    want = np.vander(np.array([2, 3]), 3, increasing=True)
    got = ember.linalg.vander(x, N=3)
    assert got.dtype is ember.int64
    np.testing.assert_array_equal(got.numpy(), want)
    assert ember.vander(x, 3).dtype is ember.int64


@pytest.mark.parametrize("dtype", ["bool", "float16", "bfloat16"])
def test_linalg_vander_refuses_bool_and_half(dtype):
    with pytest.raises(RuntimeError, match="supports floating point, complex, and integer"):
        ember.linalg.vander(ember.ones(3, dtype=getattr(ember, dtype)))


def test_vander_of_bool_is_int64():
    got = ember.vander(ember.tensor([True, False]))
    assert got.dtype is ember.int64
    np.testing.assert_array_equal(got.numpy(), np.vander([1, 0]))


def test_linalg_vander_gradients():
    assert gradcheck(lambda x: ember.linalg.vander(x, N=3), (_real(()),))
    assert gradcheck(lambda x: ember.linalg.vander(x, N=4), (_real((2, 3)),))
    assert gradcheck(lambda x: ember.linalg.vander(x), (_complex((3,)),))


# --------------------------------------------------------------------------------------------
# norms on empty dims and their argument checks


@pytest.mark.parametrize("ord", [-1, -0.5, -2, INF, -INF])
@pytest.mark.parametrize("shape, dim, where", [((3, 0), 1, "the dimension 1"),
                                               ((3, 0), None, "an empty tensor"),
                                               ((0,), None, "an empty tensor"),
                                               ((2, 0, 3), -2, "the dimension -2"),
                                               ((3, 0), (0, 1), "the dimension 1")])
def test_vector_norm_without_identity_on_empty_dims_raises(ord, shape, dim, where):
    with pytest.raises(RuntimeError, match=f"cannot compute the {ord:g} norm on {where}"):
        ember.linalg.vector_norm(ember.zeros(shape), ord, dim=dim)


@pytest.mark.parametrize("ord", [0, 1, 2, 0.5, 3])
def test_vector_norm_with_identity_on_empty_dims_is_zero(ord):
    out = ember.linalg.vector_norm(ember.zeros(3, 0), ord, dim=1)
    np.testing.assert_array_equal(out.numpy(), np.zeros(3, np.float32))


@pytest.mark.parametrize("ord", [-1, INF, -INF])
def test_vector_norm_over_a_nonempty_dim_of_an_empty_tensor(ord):
    assert ember.linalg.vector_norm(ember.zeros(3, 0), ord, dim=0).shape == (0,)


def test_vector_norm_argument_checks():
    x = ember.ones(3)
    with pytest.raises(TypeError, match="must be Number, not str"):
        ember.linalg.vector_norm(x, "fro")
    with pytest.raises(RuntimeError, match="Got Long"):
        ember.linalg.vector_norm(ember.ones(3, dtype=ember.int64), dtype=ember.float32)
    with pytest.raises(RuntimeError, match=r"input \(Double\) should be convertible"):
        ember.linalg.vector_norm(x.double(), dtype=ember.float32)
    with pytest.raises(RuntimeError, match="dtype should be complex for complex inputs"):
        ember.linalg.vector_norm(x.to(ember.complex64), dtype=ember.float64)
    with pytest.raises(RuntimeError, match="dtype should be real for real inputs"):
        ember.linalg.vector_norm(x, dtype=ember.complex64)
    with pytest.raises(RuntimeError, match="dtype should be floating point or complex"):
        ember.linalg.vector_norm(x, dtype=ember.int64)
    out = ember.linalg.vector_norm(x, dtype=ember.float64)
    assert out.dtype is ember.float64 and abs(out.item() - 3 ** 0.5) < 1e-12


@pytest.mark.parametrize("shape", [(3, 0), (0, 3), (0, 0), (2, 0, 3), (2, 3, 0)])
@pytest.mark.parametrize("ord", ["fro", "nuc", 1, 2, INF])
def test_matrix_norms_with_identity_on_empty_matrices_are_zero(shape, ord):
    out = ember.linalg.matrix_norm(ember.zeros(shape), ord)
    np.testing.assert_array_equal(out.numpy(), np.zeros(shape[:-2], np.float32))


@pytest.mark.parametrize("ord", [1, -1, INF, -INF])
@pytest.mark.parametrize("dim", [(-2, -1), (2, 0), (0, 2), (-1, 1)])
@pytest.mark.parametrize("keepdim", [False, True])
def test_matrix_norm_of_sums_over_any_dims(ord, dim, keepdim):
    a = RNG.standard_normal((3, 4, 5))
    moved = np.moveaxis(a, dim, (-2, -1))
    want = np.linalg.norm(moved, ord, axis=(-2, -1))
    if keepdim:
        want = np.expand_dims(want, tuple(sorted(d % 3 for d in dim)))
    got = ember.linalg.matrix_norm(ember.tensor(a), ord, dim, keepdim)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)
    assert gradcheck(lambda x: ember.linalg.matrix_norm(x, ord, dim, keepdim),
                     (ember.tensor(a, requires_grad=True),))


def test_matrix_norm_argument_checks():
    x = ember.ones(3, 3)
    with pytest.raises(RuntimeError, match="must have at least 2 dimensions"):
        ember.linalg.matrix_norm(ember.ones(3))
    with pytest.raises(RuntimeError, match="dim must be a 2-tuple. Got 0"):
        ember.linalg.matrix_norm(x, dim=(0,))
    with pytest.raises(RuntimeError, match="dims must be different. Got \\(0, 0\\)"):
        ember.linalg.matrix_norm(x, dim=(0, -2))
    with pytest.raises(RuntimeError, match="Order 3 not supported"):
        ember.linalg.matrix_norm(x, 3)
    with pytest.raises(RuntimeError, match="linalg.matrix_norm: Expected a floating point"):
        ember.linalg.matrix_norm(ember.ones(3, 3, dtype=ember.int64))
    with pytest.raises(RuntimeError, match="linalg.matrix_norm: the dtype of the input"):
        ember.linalg.matrix_norm(x.double(), "nuc", dtype=ember.float32)
    with pytest.raises(RuntimeError, match="dim must be a 2-tuple. Got 1"):
        ember.norm(x, "nuc", dim=1)


def test_linalg_norm_routes_string_orders_to_matrix_norm():
    with pytest.raises(RuntimeError, match="must have at least 2 dimensions"):
        ember.linalg.norm(ember.ones(3), "fro")
    with pytest.raises(RuntimeError, match="dim must be a 2-tuple"):
        ember.linalg.norm(ember.ones(3, 3), "fro", dim=1)
    with pytest.raises(RuntimeError, match="cannot compute the inf norm on an empty tensor"):
        ember.linalg.norm(ember.zeros(0), INF)
    with pytest.raises(RuntimeError, match="should be convertible without narrowing"):
        ember.linalg.norm(ember.ones(3, 3, dtype=ember.float64), dtype=ember.float32)
    a = RNG.standard_normal((3, 4))
    np.testing.assert_allclose(ember.linalg.norm(ember.tensor(a), "nuc").item(),
                               np.linalg.norm(a, "nuc"), rtol=1e-12)
    np.testing.assert_allclose(ember.linalg.norm(ember.tensor(a), -1).item(),
                               np.linalg.norm(a, -1), rtol=1e-12)


def test_vecdot_checks_dtypes():
    with pytest.raises(RuntimeError, match="Expected x and y to have the same dtype"):
        ember.linalg.vecdot(ember.ones(3), ember.ones(3, dtype=ember.float64))
    with pytest.raises(RuntimeError, match="Expected a floating point or complex tensor"):
        ember.linalg.vecdot(ember.ones(3, dtype=ember.int8), ember.ones(3, dtype=ember.int8))


# --------------------------------------------------------------------------------------------
# sum_to_size of bools, unravel_index of small integer dtypes


@pytest.mark.parametrize("have, want", [((2, 2), (1, 2)), ((2, 2), (2, 1)), ((1, 2), (2,)),
                                        ((2, 2), ()), ((3,), (1,)), ((0, 2), (1, 2))])
def test_sum_to_size_of_bools_counts_in_int64(have, want):
    a = RNG.random(have) > 0.4
    got = ember.tensor(a).sum_to_size(want)
    lead = len(have) - len(want)
    axes = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(want)
                                      if s == 1 and have[lead + i] != 1)
    expected = a.sum(axis=axes, keepdims=True, dtype=np.int64).reshape(want)
    assert got.dtype is ember.int64
    np.testing.assert_array_equal(got.numpy(), expected)


def test_sum_to_size_of_bools_to_their_own_size_stays_bool():
    x = ember.tensor([[True, False]])
    assert x.sum_to_size(1, 2).dtype is ember.bool


def _wrapped_coords(indices, shape):
    out, stride = [], int(np.prod(shape))
    for s in shape:
        stride //= s
        out.append(np.asarray(indices, np.int64) // stride % s)
    return out


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int16", "int32", "int64"])
@pytest.mark.parametrize("shape", [(3, 50), (300,), (200, 200), (2, 3, 4)])
def test_unravel_index_computes_in_int64(dtype, shape):
    idx = np.array([5, 100, 120], dtype=dtype)
    got = ember.unravel_index(ember.tensor(idx), shape)
    want = _wrapped_coords(idx, shape)  # PyTorch wraps an index out of range
    for g, w in zip(got, want):
        assert g.dtype is ember.int64
        np.testing.assert_array_equal(g.numpy(), w)
    if int(np.prod(shape)) > 120:
        for g, w in zip(got, np.unravel_index(idx.astype(np.int64), shape)):
            np.testing.assert_array_equal(g.numpy(), w)


def test_unravel_index_negative_and_checks():
    rows, cols = ember.unravel_index(ember.tensor([-1, -7], dtype=ember.int8), (2, 3))
    np.testing.assert_array_equal(rows.numpy(), [1, 1])
    np.testing.assert_array_equal(cols.numpy(), [2, 2])
    with pytest.raises(ValueError, match="cannot have negative values"):
        ember.unravel_index(ember.tensor([1]), (2, -3))
    with pytest.raises(TypeError, match="only contain ints"):
        ember.unravel_index(ember.tensor([1]), (2.0, 3))
    with pytest.raises(RuntimeError):
        ember.unravel_index(ember.tensor([1]), (0, 3))
    empty = ember.unravel_index(ember.tensor([], dtype=ember.int8), (0, 3))
    assert [t.shape for t in empty] == [(0,), (0,)]
    assert ember.unravel_index(ember.tensor([1]), ()) == ()


# --------------------------------------------------------------------------------------------
# einsum / tensordot / batched products: result dtypes


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int16", "int32"])
@pytest.mark.parametrize("equation, shapes", [("bij->", [(2, 3, 4)]), ("ij->j", [(3, 4)]),
                                              ("ii", [(3, 3)]), ("i,j->", [(4,), (5,)])])
def test_einsum_sums_a_lone_letter_in_int64(dtype, equation, shapes):
    arrays = [RNG.integers(60, 120, s).astype(dtype) for s in shapes]
    got = ember.einsum(equation, *[ember.tensor(a) for a in arrays])
    assert got.dtype is ember.int64
    want = np.einsum(equation, *[a.astype(np.int64) for a in arrays])
    np.testing.assert_array_equal(got.numpy(), want)


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int32"])
@pytest.mark.parametrize("equation, shapes", [("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
                                              ("ij,jk", [(3, 4), (4, 2)]),
                                              ("i,i->i", [(4,), (4,)]),
                                              ("ij,ij->", [(3, 4), (3, 4)]),
                                              ("ii->i", [(3, 3)])])
def test_einsum_contractions_keep_the_integer_dtype(dtype, equation, shapes):
    arrays = [RNG.integers(0, 100, s).astype(dtype) for s in shapes]
    got = ember.einsum(equation, *[ember.tensor(a) for a in arrays])
    assert got.dtype is getattr(ember, dtype)
    want = np.einsum(equation, *[a.astype(np.int64) for a in arrays]).astype(dtype)
    np.testing.assert_array_equal(got.numpy(), want)  # wrapped, as PyTorch's


def test_einsum_lone_sum_then_contraction_refuses_the_mismatch():
    a, b = ember.ones(3, 4, dtype=ember.int32), ember.ones(4, 5, dtype=ember.int32)
    with pytest.raises(RuntimeError, match="expected scalar type Int but found Long"):
        ember.einsum("ij,jk->i", a, b)
    assert ember.einsum("ij,jk->i", a, b[:, :1]).dtype is ember.int32  # size 1: no sum


def test_einsum_of_bools():
    b = ember.ones(3, dtype=ember.bool)
    with pytest.raises(NotImplementedError, match='"bmm" not implemented for \'Bool\''):
        ember.einsum("i,i->", b, b)
    assert ember.einsum("i,i->i", b, b).dtype is ember.bool
    assert ember.einsum("i->", b).item() == 3


def test_einsum_float16_accumulates_in_float32():
    a = RNG.standard_normal((4, 64)).astype(np.float16)
    b = RNG.standard_normal((64, 3)).astype(np.float16)
    got = ember.einsum("ij,jk->ik", ember.tensor(a), ember.tensor(b))
    assert got.dtype is ember.float16
    want = np.einsum("ij,jk->ik", a.astype(np.float32), b.astype(np.float32))
    np.testing.assert_array_equal(got.numpy(), want.astype(np.float16))


def test_tensordot_dtypes():
    a8 = RNG.integers(0, 50, (2, 30)).astype(np.int8)
    b8 = RNG.integers(0, 50, (30, 4)).astype(np.int8)
    got = ember.tensordot(ember.tensor(a8), ember.tensor(b8), 1)
    assert got.dtype is ember.int8
    np.testing.assert_array_equal(got.numpy(), (a8.astype(np.int64) @ b8).astype(np.int8))
    with pytest.raises(RuntimeError, match="both inputs should have same dtype"):
        ember.tensordot(ember.ones(2, 3), ember.ones(3, 2, dtype=ember.float64), 1)
    with pytest.raises(NotImplementedError, match="not implemented for 'Bool'"):
        ember.tensordot(ember.ones(2, 3, dtype=ember.bool), ember.ones(3, 2, dtype=ember.bool), 1)


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int32"])
def test_batched_products_keep_integer_dtypes(dtype):
    c = RNG.integers(0, 9, (3, 5)).astype(dtype)
    a = RNG.integers(0, 9, (2, 3, 4)).astype(dtype)
    b = RNG.integers(0, 9, (2, 4, 5)).astype(dtype)
    e = [ember.tensor(x) for x in (c, a, b)]
    wide = [x.astype(np.int64) for x in (c, a, b)]
    want_bmm = (wide[1] @ wide[2]).astype(dtype)
    np.testing.assert_array_equal(ember.matmul(e[1], e[2]).numpy(), want_bmm)
    got = ember.baddbmm(e[0], e[1], e[2], beta=2, alpha=3)
    assert got.dtype is getattr(ember, dtype)
    np.testing.assert_array_equal(got.numpy(), (2 * wide[0] + 3 * (wide[1] @ wide[2]))
                                  .astype(dtype))
    got = ember.addbmm(e[0], e[1], e[2])
    assert got.dtype is getattr(ember, dtype)
    np.testing.assert_array_equal(got.numpy(), (wide[0] + (wide[1] @ wide[2]).sum(0))
                                  .astype(dtype))


def test_baddbmm_of_bools_raises():
    b = ember.ones(1, 2, 2, dtype=ember.bool)
    with pytest.raises(NotImplementedError, match='"baddbmm" not implemented'):
        ember.baddbmm(b, b, b)


# --------------------------------------------------------------------------------------------
# grid_sample / affine_grid in half precision


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("mode", ["bilinear", "nearest", "bicubic"])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align_corners", [False, True])
def test_grid_sample_keeps_half_dtypes(dtype, mode, padding_mode, align_corners):
    F = ember.nn.functional
    half = getattr(ember, dtype)
    x = ember.tensor(RNG.standard_normal((2, 3, 5, 6)).astype(np.float32)).to(half)
    grid = ember.tensor((RNG.random((2, 4, 4, 2)) * 2.4 - 1.2).astype(np.float32)).to(half)
    x.requires_grad_(True)
    got = F.grid_sample(x, grid, mode=mode, padding_mode=padding_mode,
                        align_corners=align_corners)
    assert got.dtype is half
    if mode == "bilinear":  # (half-precision taps can round to another pixel, or amplify)
        want = F.grid_sample(x.detach().float(), grid.float(), mode=mode,
                             padding_mode=padding_mode, align_corners=align_corners)
        np.testing.assert_allclose(got.float().detach().numpy(), want.numpy(), atol=0.1,
                                   rtol=0.05)
    got.sum().backward()
    assert x.grad.dtype is half


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("size", [(1, 1, 3, 5), (1, 1, 2, 3, 4)])
def test_affine_grid_in_half_precision(dtype, size):
    F = ember.nn.functional
    nd = len(size) - 2
    theta = np.eye(nd, nd + 1)[None] + 0.1 * RNG.standard_normal((1, nd, nd + 1))
    half = getattr(ember, dtype)
    got = F.affine_grid(ember.tensor(theta.astype(np.float32)).to(half), size,
                        align_corners=False)
    assert got.dtype is half
    want = F.affine_grid(ember.tensor(theta), size, align_corners=False)
    np.testing.assert_allclose(got.float().numpy(), want.numpy(), atol=0.02)


def test_grid_sample_dtype_mismatch_words():
    F = ember.nn.functional
    with pytest.raises(RuntimeError, match="expected scalar type Float but found Double"):
        F.grid_sample(ember.ones(1, 1, 2, 2), ember.ones(1, 2, 2, 2, dtype=ember.float64),
                      align_corners=False)


# --------------------------------------------------------------------------------------------
# FFT argument checks and frequencies

_FFTS = ["fft", "ifft", "rfft", "irfft", "hfft", "ihfft", "fft2", "ifft2", "rfft2", "irfft2",
         "hfft2", "ihfft2", "fftn", "ifftn", "rfftn", "irfftn", "hfftn", "ihfftn"]


@pytest.mark.parametrize("name", _FFTS)
def test_fft_refuses_half_precision(name):
    for dtype in (ember.float16, ember.bfloat16):
        with pytest.raises(RuntimeError, match="Unsupported dtype"):
            getattr(ember.fft, name)(ember.ones(4, 4, dtype=dtype))


@pytest.mark.parametrize("name", _FFTS)
def test_fft_argument_errors(name):
    f = getattr(ember.fft, name)
    x = ember.ones(4, 4)
    with pytest.raises(RuntimeError, match='Invalid normalization mode: "bad"'):
        f(x, norm="bad")
    with pytest.raises(RuntimeError, match="Invalid number of data points"):
        f(ember.ones(4, 0))
    if name[-1] in "2n":
        with pytest.raises(RuntimeError, match="FFT dims must be unique"):
            f(x, dim=(0, 0))
    if name[-1] != "n":
        with pytest.raises(IndexError, match="but tensor has no dimensions"):
            f(ember.tensor(1.0))
    elif name[0] in "rh" or name.startswith("ih") or name.startswith("ir"):
        with pytest.raises(RuntimeError, match="must transform at least one axis"):
            f(ember.tensor(1.0))


def test_fft_lengths_from_s_and_input():
    with pytest.raises(RuntimeError, match=r"Invalid number of data points \(-2\)"):
        ember.fft.irfft(ember.ones(0))
    with pytest.raises(RuntimeError, match=r"Invalid number of data points \(0\)"):
        ember.fft.irfft(ember.ones(4, 1))
    with pytest.raises(RuntimeError, match=r"Invalid number of data points \(0\)"):
        ember.fft.irfftn(ember.ones(3, 0))
    with pytest.raises(RuntimeError, match="Got shape with 3 values"):
        ember.fft.fftn(ember.ones(3, 3), s=(2, 2, 2))
    with pytest.raises(RuntimeError, match="dim and shape arguments must have the same length"):
        ember.fft.fftn(ember.ones(3, 3), s=(2, 2), dim=(0,))
    a = RNG.standard_normal((3, 0))
    np.testing.assert_allclose(ember.fft.irfftn(ember.tensor(a), s=(3, 5)).numpy(),
                               np.fft.irfftn(np.zeros((3, 3)), s=(3, 5), axes=(0, 1)))
    np.testing.assert_allclose(ember.fft.fft(ember.tensor(np.zeros(0)), n=4).numpy(),
                               np.zeros(4))


def test_complex_input_to_real_transforms():
    z = ember.ones(3, 3, dtype=ember.complex64)
    for name, words in [("rfft", "rfft expects a real input"), ("ihfft", "ihfft expects a real"),
                        ("rfft2", "rfftn expects a real-valued"),
                        ("ihfftn", "Only supports floating-point dtypes")]:
        with pytest.raises(RuntimeError, match=words):
            getattr(ember.fft, name)(z)


@pytest.mark.parametrize("n", [0, 1, 2, 5, 8])
@pytest.mark.parametrize("d", [1.0, 0.3])
def test_fft_frequencies(n, d):
    got = ember.fft.fftfreq(n, d, dtype=ember.float64)
    np.testing.assert_allclose(got.numpy(), np.fft.fftfreq(n, d) if n else np.zeros(0))
    if n:
        np.testing.assert_allclose(ember.fft.rfftfreq(n, d, dtype=ember.float64).numpy(),
                                   np.fft.rfftfreq(n, d))


def test_fft_frequencies_edge_cases():
    assert np.isnan(ember.fft.rfftfreq(0).numpy()).all()  # 0 / 0, as PyTorch's
    assert ember.fft.fftfreq(0).shape == (0,)
    with pytest.raises(RuntimeError, match="fftfreq requires a floating point or complex"):
        ember.fft.fftfreq(4, dtype=ember.int64)
    with pytest.raises(RuntimeError, match="rfftfreq requires a floating point or complex"):
        ember.fft.rfftfreq(4, dtype=ember.bool)


# --------------------------------------------------------------------------------------------
# complex gradients (op_db's conj/H/mH/vdot/lu_solve/ifft/ihfft cases)


def test_complex_gradients_of_conjugating_ops():
    assert gradcheck(lambda a: a.conj() * 1, (_complex((3, 2)),))
    assert gradcheck(lambda a: a.mH * 1, (_complex((2, 3, 2)),))
    assert gradcheck(lambda a: a.H * 1, (_complex((3, 2)),))
    assert gradcheck(ember.vdot, (_complex((4,)), _complex((4,))))
    assert gradcheck(lambda a: ember.fft.ifft(a, n=5), (_real((2, 4)),))
    assert gradcheck(lambda a: ember.fft.ihfft(a), (_real((2, 6)),))
    assert gradcheck(lambda a: ember.fft.ihfft2(a), (_real((3, 4)),))
    assert gradcheck(lambda a: ember.fft.ihfftn(a, s=(3, 5)), (_real((2, 3, 4)),))


def test_vdot_and_lu_solve_values():
    a, b = _complex((4,), False), _complex((4,), False)
    np.testing.assert_allclose(ember.vdot(a, b).numpy(), np.vdot(a.numpy(), b.numpy()))
    m = RNG.standard_normal((3, 3)) + 1j * RNG.standard_normal((3, 3)) + 3 * np.eye(3)
    rhs = RNG.standard_normal((3, 2)) + 1j * RNG.standard_normal((3, 2))
    lu, piv = ember.linalg.lu_factor(ember.tensor(m))
    for adjoint, op in [(False, m), (True, m.conj().T)]:
        got = ember.linalg.lu_solve(lu, piv, ember.tensor(rhs), adjoint=adjoint)
        np.testing.assert_allclose(got.numpy(), np.linalg.solve(op, rhs), rtol=1e-10)

    def solve(mat, b, adjoint):
        lu, piv = ember.linalg.lu_factor(mat)
        return ember.linalg.lu_solve(lu, piv, b, adjoint=adjoint)
    for adjoint in (False, True):
        assert gradcheck(lambda x, y, adjoint=adjoint: solve(x, y, adjoint),
                         (ember.tensor(m, requires_grad=True),
                          ember.tensor(rhs, requires_grad=True)))


@pytest.mark.parametrize("name", ["hann_window", "hamming_window", "blackman_window",
                                  "bartlett_window", "kaiser_window"])
def test_window_argument_errors_name_the_window(name):
    with pytest.raises(RuntimeError, match=f"{name} requires non-negative window_length, got "
                                           "window_length=-1"):
        getattr(ember, name)(-1)
    with pytest.raises(RuntimeError, match=f"{name} expects floating point dtypes"):
        getattr(ember, name)(4, dtype=ember.int64)
