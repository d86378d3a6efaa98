"""ember.masked: the masked reductions against NumPy, their float64 gradients, and MaskedTensor
(operations, masks, printing, gradients, the MaskedTensor overview tutorial's examples)."""
import copy
import math
import subprocess
import sys

import numpy as np
import pytest

import ember
import ember.masked
import ember.overrides

RNG = np.random.default_rng(0)
X = RNG.standard_normal((3, 4, 5))
MASK = RNG.random((3, 4, 5)) > 0.4
MASK[1, 2] = False  # a slice along the last dim with nothing specified
FULL_ROWS = MASK.copy()
FULL_ROWS[:, :, 0] = True  # every slice along any dim has a specified element
TWO_PER_ROW = FULL_ROWS.copy()
TWO_PER_ROW[:, :, 1] = True  # std's gradient needs a nonzero spread


def filled(value, mask=MASK):
    return np.where(mask, X, value)


def count(axis, mask=MASK, keepdims=False):
    return mask.sum(axis=axis, keepdims=keepdims)


def np_lower_median(axis):
    ordered = np.sort(filled(np.nan), axis=axis)  # NaNs sort last
    k = np.clip((count(axis, keepdims=True) - 1) // 2, 0, None)
    out = np.take_along_axis(ordered, k, axis=axis).squeeze(axis)
    return np.where(count(axis) > 0, out, np.nan)


def np_var(axis, correction):
    n = count(axis, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = filled(0).sum(axis=axis, keepdims=True) / n
        squares = np.where(MASK, (X - mean) ** 2, 0).sum(axis=axis)
        return squares / np.clip(count(axis) - correction, 0, None)


def np_softmax(axis, sign=1.0):
    z = np.where(MASK, sign * X, -np.inf)
    with np.errstate(invalid="ignore"):
        e = np.exp(z - z.max(axis=axis, keepdims=True))
        return e / e.sum(axis=axis, keepdims=True)


# name, positional args, NumPy reference for the last dim (axis=-1)
REFERENCES = {
    "sum": ((-1,), lambda: filled(0).sum(-1)),
    "prod": ((-1,), lambda: filled(1).prod(-1)),
    "amax": ((-1,), lambda: filled(-np.inf).max(-1)),
    "amin": ((-1,), lambda: filled(np.inf).min(-1)),
    "argmax": ((-1,), lambda: filled(-np.inf).argmax(-1).astype(np.float64)),
    "argmin": ((-1,), lambda: filled(np.inf).argmin(-1).astype(np.float64)),
    "mean": ((-1,), lambda: filled(0).sum(-1) / count(-1)),
    "median": ((-1,), lambda: np_lower_median(-1)),
    "logsumexp": ((-1,), lambda: np.log(np.exp(filled(-np.inf)).sum(-1))),
    "norm": ((2.0, -1), lambda: np.sqrt((filled(0) ** 2).sum(-1))),
    "var": ((-1,), lambda: np_var(-1, 1)),
    "std": ((-1,), lambda: np.sqrt(np_var(-1, 1))),
    "softmax": ((-1,), lambda: np_softmax(-1)),
    "log_softmax": ((-1,), lambda: np.log(np_softmax(-1))),
    "softmin": ((-1,), lambda: np_softmax(-1, -1.0)),
    "normalize": ((2.0, -1), lambda: filled(0) / np.maximum(
        np.sqrt((filled(0) ** 2).sum(-1, keepdims=True)), 1e-12)),
    "cumsum": ((-1,), lambda: filled(0).cumsum(-1)),
    "cumprod": ((-1,), lambda: filled(1).cumprod(-1)),
}


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_against_numpy(name):
    args, reference = REFERENCES[name]
    out = getattr(ember.masked, name)(ember.tensor(X), *args, mask=ember.tensor(MASK))
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = reference()
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dim", [None, 0, (0, 2), ()])
@pytest.mark.parametrize("keepdim", [False, True])
def test_dims_and_keepdim(dim, keepdim):
    axis = None if dim in (None, ()) else dim
    out = ember.masked.sum(ember.tensor(X), dim, keepdim=keepdim, mask=ember.tensor(MASK))
    np.testing.assert_allclose(out.numpy(), filled(0).sum(axis=axis, keepdims=keepdim))
    out = ember.masked.amax(ember.tensor(X), dim, keepdim=keepdim, mask=ember.tensor(MASK))
    np.testing.assert_allclose(out.numpy(), filled(-np.inf).max(axis=axis, keepdims=keepdim))
    out = ember.masked.prod(ember.tensor(X), dim, keepdim=keepdim, mask=ember.tensor(MASK))
    np.testing.assert_allclose(out.numpy(), filled(1).prod(axis=axis, keepdims=keepdim))


def test_fully_masked_outputs():
    x = ember.tensor([[1.0, 2.0], [3.0, 4.0]])
    mask = ember.tensor([[True, True], [False, False]])
    assert ember.masked.sum(x, 1, mask=mask).tolist() == [3.0, 0.0]
    assert ember.masked.prod(x, 1, mask=mask).tolist() == [2.0, 1.0]
    assert ember.masked.amax(x, 1, mask=mask).tolist() == [2.0, -math.inf]
    assert ember.masked.amin(x, 1, mask=mask).tolist() == [1.0, math.inf]
    assert ember.masked.logsumexp(x, 1, mask=mask)[1].item() == -math.inf
    assert ember.masked.norm(x, -math.inf, 1, mask=mask)[1].item() == math.inf
    for name in ("mean", "median", "var", "std"):
        assert math.isnan(getattr(ember.masked, name)(x, 1, mask=mask)[1].item()), name
    assert np.isnan(ember.masked.softmax(x, 1, mask=mask)[1].numpy()).all()


def test_mask_broadcasts_and_converts():
    mask = np.array([True, False, True, True, False])
    out = ember.masked.sum(ember.tensor(X), 1, mask=ember.tensor(mask.astype(np.int64)))
    np.testing.assert_allclose(out.numpy(), np.where(mask, X, 0).sum(1))


def test_no_mask_is_the_plain_reduction():
    x = ember.tensor(X)
    np.testing.assert_allclose(ember.masked.mean(x, 1).numpy(), X.mean(1))
    np.testing.assert_allclose(ember.masked.var(x, 1, unbiased=False).numpy(), X.var(1))
    np.testing.assert_allclose(ember.masked.softmax(x, 0).numpy(),
                               np.exp(X) / np.exp(X).sum(0))


def test_dtypes():
    xi = ember.tensor([[1, 2, 3], [4, 5, 6]], dtype=ember.int32)
    mask = ember.tensor([[True, False, True], [False, False, False]])
    assert ember.masked.sum(xi, 1, mask=mask).dtype is ember.int64
    assert ember.masked.amax(xi, 1, mask=mask).tolist() == [3, -2 ** 31]
    assert ember.masked.argmax(xi, 1, mask=mask).dtype is ember.int32  # the input's dtype
    assert ember.masked.argmax(xi, 1, mask=mask, dtype=ember.int64).dtype is ember.int64
    assert ember.masked.cumsum(xi, 1, mask=mask).dtype is ember.int32
    assert ember.masked.mean(xi, 1, mask=mask, dtype=ember.float64).dtype is ember.float64
    with pytest.raises(ValueError, match="Could not infer output dtype"):
        ember.masked.mean(xi, 1, mask=mask)
    with pytest.raises(ValueError, match="fully masked out rows"):
        ember.masked.median(xi, 1, mask=mask)
    with pytest.raises(NotImplementedError, match="torch.bool"):
        ember.masked.amax(mask, 1, mask=mask)


def test_logaddexp():
    a, b = ember.tensor(X[0]), ember.tensor(X[1])
    out = ember.masked.logaddexp(a, b, input_mask=ember.tensor(MASK[0]),
                                 other_mask=ember.tensor(MASK[1]))
    with np.errstate(divide="ignore"):
        expected = np.logaddexp(np.where(MASK[0], X[0], -np.inf), np.where(MASK[1], X[1], -np.inf))
    np.testing.assert_allclose(out.numpy(), expected)


GRAD_CASES = [
    ("sum", (-1,), MASK), ("sum", ((0, 2),), MASK), ("prod", (1,), MASK),
    ("amax", (-1,), FULL_ROWS), ("amin", ((0, 1),), FULL_ROWS), ("mean", (-1,), FULL_ROWS),
    ("median", (1,), FULL_ROWS), ("logsumexp", (-1,), FULL_ROWS), ("norm", (2.0, -1), MASK),
    ("norm", (3.0, None), MASK), ("var", (-1, False), FULL_ROWS), ("std", (-1,), TWO_PER_ROW),
    ("softmax", (-1,), FULL_ROWS), ("log_softmax", (0,), FULL_ROWS),
    ("softmin", (1,), FULL_ROWS), ("normalize", (2.0, -1), MASK),
    ("cumsum", (1,), MASK), ("cumprod", (-1,), MASK),
]


@pytest.mark.parametrize("name,args,mask", GRAD_CASES, ids=[c[0] + str(i)
                                                           for i, c in enumerate(GRAD_CASES)])
def test_gradcheck(name, args, mask):
    x = ember.tensor(X, requires_grad=True)
    m = ember.tensor(mask)
    if name == "log_softmax":  # masked-out outputs are -inf: check the specified ones
        def func(t):
            return ember.masked.log_softmax(t, *args, mask=m).masked_fill(~m, 0)
    else:
        def func(t):
            return getattr(ember.masked, name)(t, *args, mask=m)
    assert ember.autograd.gradcheck(func, (x,), eps=1e-6, atol=1e-5)


def test_masked_out_elements_get_no_gradient():
    x = ember.tensor(X, requires_grad=True)
    (ember.masked.amax(x, -1, mask=ember.tensor(FULL_ROWS)).sum()
     + ember.masked.mean(x, 0, mask=ember.tensor(FULL_ROWS)).sum()).backward()
    assert (x.grad.numpy()[~FULL_ROWS] == 0).all()


def test_import_does_not_install_dispatch():
    code = ("import ember, ember.masked, ember.overrides as o\n"
            "ember.masked.sum(ember.ones(2), mask=ember.tensor([True, False]))\n"
            "assert not o._installed and not ember.masked.is_masked_tensor(ember.ones(1))\n"
            "ember.masked.masked_tensor(ember.ones(1), ember.tensor([True]))\n"
            "assert o._installed\n")
    subprocess.run([sys.executable, "-c", code], check=True)


# ------------------------------------------------------------------------------------------
# MaskedTensor

@pytest.fixture
def dispatch():
    """MaskedTensors need ``__torch_function__`` dispatch, which other tests undo
    (ember.overrides._uninstall); undone again afterwards if it was off before, so that the
    rest of the run sees the plain functions."""
    installed_before = ember.overrides._installed
    ember.overrides._install()
    yield
    if not installed_before:
        ember.overrides._uninstall()


D = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
K = np.array([[True, False, True], [False, True, True]])


def mt(data=D, mask=K, requires_grad=False):
    return ember.masked.masked_tensor(ember.tensor(data), ember.tensor(mask), requires_grad)


def parts(m):
    assert ember.masked.is_masked_tensor(m)
    return m.get_data().detach().numpy(), m.get_mask().numpy()


def assert_masked(m, data, mask):
    got_data, got_mask = parts(m)
    np.testing.assert_array_equal(got_mask, mask)
    np.testing.assert_allclose(got_data[got_mask], np.broadcast_to(data, got_mask.shape)[got_mask])


@pytest.mark.usefixtures("dispatch")
class TestMaskedTensor:
    def test_construction_and_accessors(self):
        m = mt()
        assert isinstance(m, ember.masked.MaskedTensor) and isinstance(m, ember.Tensor)
        assert ember.is_tensor(m) and m.is_leaf and not m.requires_grad
        assert m.shape == (2, 3) and m.dtype is ember.float64 and m.dim() == 2
        np.testing.assert_array_equal(m.to_tensor(0).numpy(), np.where(K, D, 0))
        assert type(m.get_data()) is ember.Tensor and type(m.get_mask()) is ember.Tensor
        with pytest.raises(TypeError, match="data must be a Tensor"):
            ember.masked.masked_tensor(D, ember.tensor(K))
        with pytest.raises(ValueError, match="data.dim"):
            ember.masked.masked_tensor(ember.tensor(D), ember.tensor(K[0]))
        with pytest.raises(TypeError, match="dtype bool"):
            ember.masked.masked_tensor(ember.tensor(D), ember.tensor(K).int())

    def test_masked_tensor_copies_and_as_masked_tensor_shares(self):
        data = ember.tensor(D)
        copied = ember.masked.masked_tensor(data, ember.tensor(K))
        shared = ember.masked.as_masked_tensor(data, ember.tensor(K))
        data.add_(1)
        assert parts(copied)[0][0, 0] == 1.0 and parts(shared)[0][0, 0] == 2.0

    def test_elementwise(self):
        m = mt()
        assert_masked(m.exp(), np.exp(D), K)
        assert_masked(ember.sqrt(m), np.sqrt(D), K)
        assert_masked(-m, -D, K)
        assert_masked(m + m, 2 * D, K)
        assert_masked(2 - m, 2 - D, K)
        assert_masked(1 / m, 1 / D, K)
        assert_masked(m ** 2, D ** 2, K)
        assert_masked(m * ember.tensor([1.0, 2.0, 3.0]), D * [1, 2, 3], K)
        assert_masked(m > 2, D > 2, K)
        assert_masked(ember.clamp(m, 2, 5), np.clip(D, 2, 5), K)

    def test_binary_masks_must_match(self):
        with pytest.raises(ValueError, match="Input masks must match"):
            mt() + mt(mask=~K)

    def test_in_place(self):
        m = mt()
        assert m.mul_(2) is m
        assert_masked(m, 2 * D, K)

    @pytest.mark.parametrize("name,reference", [
        ("sum", lambda a, axis: a.sum(axis)), ("mean", lambda a, axis: np.nanmean(a, axis)),
        ("amax", lambda a, axis: np.nanmax(a, axis)), ("amin", lambda a, axis: np.nanmin(a, axis)),
        ("prod", lambda a, axis: np.nanprod(a, axis)),
        ("argmax", lambda a, axis: np.nanargmax(a, axis)),
        ("argmin", lambda a, axis: np.nanargmin(a, axis))])
    def test_reductions(self, name, reference):
        a = np.where(K, D, np.nan)
        if name == "sum":
            a = np.where(K, D, 0)
        m = mt()
        assert_masked(getattr(m, name)(1), reference(a, 1), [True, True])
        assert_masked(getattr(ember, name)(m, 0), reference(a, 0), [True, True, True])
        whole = getattr(m, name)()
        assert whole.shape == () and parts(whole)[0] == reference(a, None)
        kept = getattr(m, name)(1, keepdim=True)
        assert kept.shape == (2, 1)

    def test_fully_masked_reduction(self):
        m = mt(mask=np.array([[False, False, False], [True, False, True]]))
        out = m.mean(1)
        assert_masked(out, [0, 5.0], [False, True])
        assert repr(out) == "MaskedTensor(\n  [      --,   5.0000]\n)"

    def test_softmax(self):
        m = mt()
        expected = np.where(K, np.exp(D), 0) / np.where(K, np.exp(D), 0).sum(1, keepdims=True)
        for out in (m.softmax(1), ember.softmax(m, 1), ember.nn.functional.softmax(m, 1)):
            assert_masked(out, expected, K)
        assert_masked(ember.log_softmax(m, 1), np.log(expected, where=K, out=np.zeros_like(D)), K)

    def test_where(self):
        cond = ember.tensor(K)
        out = ember.where(cond, mt(), mt(mask=~K) * 10)
        assert_masked(out, np.where(K, D, 10 * D), np.ones_like(K))
        out = ember.where(cond, mt(), 0.0)
        assert_masked(out, np.where(K, D, 0), np.ones_like(K))

    def test_indexing_and_shapes(self):
        m = mt()
        assert_masked(m[0], D[0], K[0])
        assert_masked(m[:, 1:], D[:, 1:], K[:, 1:])
        assert_masked(m.t(), D.T, K.T)
        assert_masked(m.T, D.T, K.T)
        assert_masked(m.reshape(3, 2), D.reshape(3, 2), K.reshape(3, 2))
        assert_masked(m.unsqueeze(0), D[None], K[None])
        first, second = m.unbind(0)
        assert_masked(second, D[1], K[1])

    def test_conversions(self):
        m = mt()
        assert m.to(ember.float64).dtype is ember.float64
        assert m.double().get_mask().dtype is ember.bool
        assert_masked(m.to("cpu"), D, K)
        assert_masked(m.int(), D.astype(int), K)

    def test_unsupported_function_raises(self):
        with pytest.raises(TypeError, match="all __torch_function__ handlers"):
            ember.matmul(mt(), mt().t())

    def test_repr(self):
        assert repr(mt()) == ("MaskedTensor(\n  [\n    [  1.0000,       --,   3.0000],\n"
                              "    [      --,   5.0000,   6.0000]\n  ]\n)")
        ints = ember.masked.masked_tensor(ember.tensor([1, 22, 3]),
                                          ember.tensor([True, False, True]))
        assert repr(ints) == "MaskedTensor(\n  [1,       --, 3]\n)"
        wide = ember.masked.masked_tensor(ember.tensor([12345.678, 2.0]),
                                          ember.tensor([True, False]))
        assert repr(wide) == "MaskedTensor(\n  [12345.6777,         --]\n)"
        assert repr(mt().sum()) == "MaskedTensor( 15.0000, True)"
        assert str(mt()[0, 1]) == "MaskedTensor(--, False)"

    def test_backward_gives_masked_grad(self):
        m = mt(requires_grad=True)
        (m * m).sum().backward()
        assert type(m.grad) is ember.masked.MaskedTensor
        assert_masked(m.grad, 2 * D, K)
        (m * m).sum().backward()  # accumulates
        assert_masked(m.grad, 4 * D, K)
        assert (m * 2).grad_fn.name() == "MulBackward0"

    def test_gradients_through_reductions(self):
        m = mt(requires_grad=True)
        (m.amax(1).sum() + m.mean()).backward()
        expected = np.zeros_like(D)
        expected[0, 2] = expected[1, 2] = 1
        expected += 1 / K.sum()
        assert_masked(m.grad, expected, K)

    def test_plain_operand_gradient_skips_masked_out_elements(self):
        data = ember.tensor([1.0, 2.0, float("nan")])
        b = ember.tensor(1.0, requires_grad=True)
        m = ember.masked.masked_tensor(data, ~ember.isnan(data))
        (grad,) = ember.autograd.grad(ember.sum(m * b), b)
        assert grad.item() == 3.0

    def test_deepcopy(self):
        m = mt(requires_grad=True)
        c = copy.deepcopy(m)
        assert_masked(c, D, K)
        assert c.requires_grad and c is not m


TUTORIAL = '''
import ember as torch
from ember.masked import masked_tensor, as_masked_tensor

data = torch.arange(24).reshape(2, 3, 4)
mask = data % 2 == 0
mt = masked_tensor(data.float(), mask)
r_index = (mt[0], mt[:, :, 2:4])

x = torch.tensor([-10., -5, 0, 5, 10, 50, 60, 70, 80, 90, 100])
mask = x < 0
mx = masked_tensor(x, mask, requires_grad=True)
my = masked_tensor(torch.ones_like(x), ~mask, requires_grad=True)
y = torch.where(mask, torch.exp(mx), my)
y.sum().backward()
r_where = mx.grad

a = masked_tensor(torch.randn(()), torch.tensor(True), requires_grad=True)
b = torch.tensor(False)
c = torch.ones(())
r_where2 = torch.where(b, a/0, c)

a = torch.tensor([1., 2., float('nan')])
b = torch.tensor(1.0, requires_grad=True)
mt = masked_tensor(a, ~torch.isnan(a))
c = mt * b
c1 = torch.sum(c)
bgrad1, = torch.autograd.grad(c1, b, retain_graph=True)

data = torch.randn(3, 3)
mask = torch.tensor([[True, False, False], [True, False, True], [False, False, False]])
x = data.masked_fill(~mask, float('-inf'))
mt = masked_tensor(data, mask)
r_softmax = mt.softmax(0)

x = torch.arange(16).float()
y = x * x.fmod(4)
r_mean = torch.mean(masked_tensor(y, y != 0))
r_argmin = torch.argmin(masked_tensor(y, y != 0))
x = torch.empty(16).fill_(float('nan'))
r_nanmean = torch.mean(masked_tensor(x, ~torch.isnan(x)))
'''


@pytest.mark.usefixtures("dispatch")
def test_overview_tutorial():
    """The examples of PyTorch's MaskedTensor overview tutorial, unchanged but for the import."""
    ns = {}
    exec(TUTORIAL, ns)
    first, sliced = ns["r_index"]
    data = np.arange(24).reshape(2, 3, 4)
    assert_masked(first, data[0], data[0] % 2 == 0)
    assert_masked(sliced, data[:, :, 2:4], data[:, :, 2:4] % 2 == 0)
    x = np.array([-10., -5, 0, 5, 10, 50, 60, 70, 80, 90, 100])
    np.testing.assert_allclose(parts(ns["r_where"])[0][:2], np.exp(x[:2]), rtol=1e-6)
    assert parts(ns["r_where"])[1].tolist() == (x < 0).tolist()
    assert repr(ns["r_where2"]) == "MaskedTensor(  1.0000, True)"
    assert ns["bgrad1"].item() == 3.0
    softmax = ns["r_softmax"]
    assert parts(softmax)[1].tolist() == ns["mask"].tolist()
    np.testing.assert_allclose(parts(softmax)[0][[0, 1, 1], [0, 0, 2]].sum(), 2.0, rtol=1e-6)
    assert repr(ns["r_mean"]) == "MaskedTensor( 16.6667, True)"
    assert repr(ns["r_argmin"]) == "MaskedTensor(  1.0000, True)"
    assert repr(ns["r_nanmean"]) == "MaskedTensor(--, False)"
