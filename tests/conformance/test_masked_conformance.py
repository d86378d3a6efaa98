"""ember.masked against torch.masked: the functional reductions (values and gradients) and
MaskedTensor (operations, masks, printing, the overview tutorial's examples)."""
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import ember  # noqa: E402
import ember.masked  # noqa: E402
import ember.overrides  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(autouse=True)
def plain_functions_after_each_test():
    """MaskedTensors need ``__torch_function__`` dispatch, which other tests undo
    (ember.overrides._uninstall); undone again afterwards if it was off before, so that the
    rest of the run sees the plain functions."""
    installed_before = ember.overrides._installed
    ember.overrides._install()
    yield
    if not installed_before:
        ember.overrides._uninstall()

X = np.array([[[0.5, -1.0, 2.0, 0.25], [1.5, 0.75, -0.5, 3.0], [-2.0, 1.25, 0.1, -0.3]],
              [[1.0, 2.5, -1.5, 0.6], [0.2, -0.7, 1.1, -2.2], [2.0, -0.4, 0.9, 1.3]]])
M_ROWS = np.array([[[True, False, True, False], [False, False, False, False],
                    [True, True, False, True]],
                   [[False, True, True, True], [True, False, False, True],
                    [False, False, True, False]]])
M_BROADCAST = np.array([True, False, True, True])  # broadcast over the leading dims


def pair(array, dtype=np.float64, requires_grad=False):
    a = np.asarray(array, dtype=dtype)
    return (ember.tensor(a, requires_grad=requires_grad),
            torch.tensor(a, requires_grad=requires_grad))


def close(e, t, rtol=1e-6):
    e = e.detach().numpy() if hasattr(e, "detach") else e
    t = t.detach().numpy() if hasattr(t, "detach") else t
    np.testing.assert_allclose(e, t, rtol=rtol, atol=1e-9, equal_nan=True)


def check(name, args, kwargs, mask, grad=True):
    """Forward values and dtype, then the gradient of a sum of the finite outputs."""
    xe, xt = pair(X, requires_grad=grad)
    mask_e = None if mask is None else ember.tensor(mask)
    mask_t = None if mask is None else torch.tensor(mask)
    out_e = getattr(ember.masked, name)(xe, *args, mask=mask_e, **kwargs)
    out_t = getattr(torch.masked, name)(xt, *args, mask=mask_t, **kwargs)
    assert tuple(out_e.shape) == tuple(out_t.shape)
    assert str(out_e.dtype) == str(out_t.dtype)
    close(out_e, out_t)
    if grad:
        weight = np.where(np.isfinite(out_t.detach().numpy()),
                          np.linspace(0.5, 1.5, out_t.numel()).reshape(out_t.shape), 0.0)
        we, wt = pair(weight)
        (out_e.masked_fill(~ember.isfinite(out_e), 0) * we).sum().backward()
        (out_t.masked_fill(~torch.isfinite(out_t), 0) * wt).sum().backward()
        close(xe.grad, xt.grad)


MASKS = [M_ROWS, M_BROADCAST, None]
DIMS = [None, 1, -1, (0, 2)]


@pytest.mark.parametrize("mask", MASKS, ids=["rows", "broadcast", "none"])
@pytest.mark.parametrize("dim", DIMS)
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("name", ["sum", "prod", "amax", "amin", "mean", "logsumexp"])
def test_reductions(name, dim, keepdim, mask):
    check(name, (dim,), {"keepdim": keepdim}, mask)


@pytest.mark.parametrize("mask", MASKS, ids=["rows", "broadcast", "none"])
@pytest.mark.parametrize("dim", [None, 0, -1])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_arg_reductions(name, dim, keepdim, mask):
    check(name, (dim,), {"keepdim": keepdim}, mask, grad=False)


@pytest.mark.parametrize("mask", MASKS, ids=["rows", "broadcast", "none"])
@pytest.mark.parametrize("dim", [0, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_median(dim, keepdim, mask):
    check("median", (dim,), {"keepdim": keepdim}, mask)


@pytest.mark.parametrize("mask", MASKS, ids=["rows", "broadcast", "none"])
@pytest.mark.parametrize("dim", [None, 2, (0, 1)])
@pytest.mark.parametrize("options", [{}, {"unbiased": False}, {"correction": 0},
                                     {"correction": 2, "keepdim": True}])
@pytest.mark.parametrize("name", ["var", "std"])
def test_var_std(name, dim, options, mask):
    check(name, (dim,), options, mask)


@pytest.mark.parametrize("mask", MASKS, ids=["rows", "broadcast", "none"])
@pytest.mark.parametrize("ord", [2.0, 1.0, 3.0, math.inf, -math.inf, 0.0])
@pytest.mark.parametrize("dim", [None, -1, (0, 1)])
def test_norm(ord, dim, mask):
    check("norm", (ord, dim), {}, mask, grad=ord != 0.0)


@pytest.mark.parametrize("mask", MASKS, ids=["rows", "broadcast", "none"])
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("name", ["softmax", "log_softmax", "softmin", "cumsum", "cumprod"])
def test_along_dim(name, dim, mask):
    check(name, (dim,), {}, mask)


@pytest.mark.parametrize("mask", MASKS, ids=["rows", "broadcast", "none"])
@pytest.mark.parametrize("ord", [2.0, 1.0])
@pytest.mark.parametrize("dim", [0, -1])
def test_normalize(ord, dim, mask):
    check("normalize", (ord, dim), {}, mask)


@pytest.mark.parametrize("name,kwargs", [
    ("sum", {"dtype": ember.float32}), ("mean", {"dtype": ember.float32}),
    ("amax", {"dtype": ember.float32}), ("argmax", {"dtype": ember.int64}),
    ("softmax", {"dtype": ember.float32}), ("cumsum", {"dtype": ember.float32})])
def test_dtype_argument(name, kwargs):
    dim = 1
    mask = M_ROWS
    xe, xt = pair(X)
    out_e = getattr(ember.masked, name)(xe, dim, mask=ember.tensor(mask), **kwargs)
    tdtype = getattr(torch, str(kwargs["dtype"]).rpartition(".")[2])
    out_t = getattr(torch.masked, name)(xt, dim, mask=torch.tensor(mask), dtype=tdtype)
    assert str(out_e.dtype) == str(out_t.dtype)
    close(out_e, out_t, rtol=1e-5)


@pytest.mark.parametrize("name", ["sum", "prod", "amax", "amin", "argmax", "argmin", "cumsum",
                                  "cumprod", "median"])
def test_integer_inputs(name):
    data = np.arange(24).reshape(2, 3, 4) - 7
    mask = M_ROWS.copy()
    mask[:, 1] = True  # no row fully masked: integer median has no NaN to give
    xe, xt = pair(data, dtype=np.int32)
    out_e = getattr(ember.masked, name)(xe, 1, mask=ember.tensor(mask))
    out_t = getattr(torch.masked, name)(xt, 1, mask=torch.tensor(mask))
    assert str(out_e.dtype) == str(out_t.dtype)
    np.testing.assert_array_equal(out_e.numpy(), out_t.numpy())


def test_logaddexp():
    a, b = X[0], X[1]
    ae, at = pair(a, requires_grad=True)
    be, bt = pair(b, requires_grad=True)
    me, mt = ember.tensor(M_ROWS[0]), torch.tensor(M_ROWS[0])
    out_e = ember.masked.logaddexp(ae, be, input_mask=me, other_mask=~me)
    out_t = torch.masked.logaddexp(at, bt, input_mask=mt, other_mask=~mt)
    close(out_e, out_t)
    out_e.sum().backward()
    out_t.sum().backward()
    close(ae.grad, at.grad)
    close(be.grad, bt.grad)


def test_errors_match():
    xe, xt = pair(X[0], dtype=np.int32)
    with pytest.raises(ValueError, match="Could not infer output dtype"):
        torch.masked.mean(xt, 1, mask=torch.tensor(M_ROWS[0]))
    with pytest.raises(ValueError, match="Could not infer output dtype"):
        ember.masked.mean(xe, 1, mask=ember.tensor(M_ROWS[0]))
    with pytest.raises(ValueError, match="fully masked out rows"):
        ember.masked.median(xe, 1, mask=ember.tensor(M_ROWS[0]))
    with pytest.raises(NotImplementedError, match="identity of amax on torch.bool"):
        ember.masked.amax(ember.tensor([[True]]), 1, mask=ember.tensor([[True]]))


# ------------------------------------------------------------------------------------------
# MaskedTensor

def mt_pair(data, mask, requires_grad=False):
    de, dt = pair(data)
    return (ember.masked.masked_tensor(de, ember.tensor(mask), requires_grad=requires_grad),
            torch.masked.masked_tensor(dt, torch.tensor(mask), requires_grad=requires_grad))


def same(e, t):
    """Same class, mask, printed form and specified values."""
    assert ember.masked.is_masked_tensor(e) == torch.masked.is_masked_tensor(t)
    if not torch.masked.is_masked_tensor(t):
        close(e, t)
        return
    np.testing.assert_array_equal(e.get_mask().numpy(), t.get_mask().numpy())
    mask = t.get_mask().numpy()
    np.testing.assert_allclose(e.get_data().detach().numpy()[mask],
                               t.get_data().detach().numpy()[mask], rtol=1e-6)
    assert repr(e) == repr(t)


D2 = X[0]
K2 = M_ROWS[0] | np.array([True, False, False, False])


@pytest.mark.parametrize("op", [
    lambda m, t: m.exp(), lambda m, t: t.sin(m), lambda m, t: -m, lambda m, t: abs(m),
    lambda m, t: m.clamp(-1, 1), lambda m, t: m.pow(2), lambda m, t: m.sigmoid(),
    lambda m, t: m + m, lambda m, t: m * 2, lambda m, t: m / (m + 5),
    lambda m, t: m > 0.5, lambda m, t: t.maximum(m, m * 0.5), lambda m, t: m ** 2,
    lambda m, t: m * t.tensor([1.0, 2.0, 3.0, 4.0], dtype=t.float64),
    lambda m, t: m.sum(), lambda m, t: m.sum(1), lambda m, t: m.sum(0, keepdim=True),
    lambda m, t: t.sum(m, 1), lambda m, t: m.mean(), lambda m, t: m.mean(1),
    lambda m, t: t.mean(m, 0), lambda m, t: m.amax(1), lambda m, t: m.amin(0),
    lambda m, t: m.prod(1), lambda m, t: m.argmax(1), lambda m, t: t.argmin(m),
    lambda m, t: m.all(), lambda m, t: (m > 0).all(1), lambda m, t: t.all(m < 0, 0),
    lambda m, t: m.softmax(1), lambda m, t: t.softmax(m, 0),
    lambda m, t: t.nn.functional.softmax(m, -1),
    lambda m, t: m[0], lambda m, t: m[:, 1:3], lambda m, t: m.t(),
    lambda m, t: m.reshape(4, 3), lambda m, t: m.view(-1), lambda m, t: m.unsqueeze(0),
    lambda m, t: m.transpose(0, 1), lambda m, t: m.to(t.float32), lambda m, t: m.float(),
    lambda m, t: m.clone(), lambda m, t: m.detach(),
    lambda m, t: t.where(t.tensor(K2), m, m * 10),
])
def test_masked_tensor_ops(op):
    me, mt = mt_pair(D2, K2)
    same(op(me, ember), op(mt, torch))


def test_masked_tensor_accessors():
    me, mt = mt_pair(D2, K2)
    assert tuple(me.shape) == tuple(mt.shape) and str(me.dtype) == str(mt.dtype)
    close(me.to_tensor(0.0), mt.to_tensor(0.0))
    close(me.get_data(), mt.get_data())
    assert me.dim() == mt.dim() and me.numel() == mt.numel() and len(me) == len(mt)
    assert ember.is_tensor(me) and isinstance(me, ember.Tensor)


def test_mask_mismatch_raises_like_torch():
    me, mt = mt_pair(D2, K2)
    oe, ot = mt_pair(D2, ~K2)
    with pytest.raises(ValueError) as et:
        mt + ot
    with pytest.raises(ValueError) as ee:
        me + oe
    assert str(ee.value) == str(et.value)


@pytest.mark.parametrize("make", [
    lambda t: t.tensor([12345.678, 2.0, 3.0]), lambda t: t.tensor([1, 22, 3]),
    lambda t: t.tensor([True, False, True]), lambda t: t.tensor(5.0),
    lambda t: t.tensor([-1e-5, 1e10, float("nan")]),
    lambda t: t.arange(24).reshape(2, 3, 4).float(),
])
def test_repr(make):
    data_e, data_t = make(ember), make(torch)
    mask = (np.arange(max(data_t.numel(), 1)) % 3 != 1).reshape(data_t.shape)
    e = ember.masked.masked_tensor(data_e, ember.tensor(mask))
    t = torch.masked.masked_tensor(data_t, torch.tensor(mask))
    assert repr(e) == repr(t)
    assert str(e) == str(t)


@pytest.mark.parametrize("op", [
    lambda m, t: (m * m).sum(), lambda m, t: m.exp().mean(), lambda m, t: m.amax(1).sum(),
    lambda m, t: m.softmax(1).sum(), lambda m, t: (m / 3 + m.sin()).sum(0).sum(),
])
def test_masked_tensor_grad(op):
    me, mt = mt_pair(D2, K2, requires_grad=True)
    op(me, ember).backward()
    op(mt, torch).backward()
    same(me.grad, mt.grad)


def test_where_gradient_goes_to_the_selected_elements():
    # the tutorial's first torch.where example
    x = [-10.0, -5, 0, 5, 10, 50, 60, 70, 80, 90, 100]
    grads = []
    for t, m in ((ember, ember.masked), (torch, torch.masked)):
        data = t.tensor(x)
        mask = data < 0
        mx = m.masked_tensor(data, mask, requires_grad=True)
        my = m.masked_tensor(t.ones_like(data), ~mask, requires_grad=True)
        y = t.where(mask, t.exp(mx), my)
        y.sum().backward()
        grads.append((mx.grad, my.grad, y))
    for e, t in zip(*grads):
        same(e, t)


def test_plain_operand_gets_no_gradient_from_masked_out_elements():
    # the tutorial's nansum example: the masked NaN must not reach b's gradient
    a = [1.0, 2.0, float("nan")]
    for t, m in ((ember, ember.masked), (torch, torch.masked)):
        data = t.tensor(a)
        b = t.tensor(1.0, requires_grad=True)
        (grad,) = t.autograd.grad(t.sum(m.masked_tensor(data, ~t.isnan(data)) * b), b)
        value = grad.get_data() if m.is_masked_tensor(grad) else grad
        assert float(value) == 3.0


def test_tutorial_outputs():
    """The MaskedTensor overview tutorial, run on both; see test_masked.py for the script."""
    data = np.arange(24).reshape(2, 3, 4)
    for t, m in ((ember, ember.masked), (torch, torch.masked)):
        x = t.arange(16).float()
        y = x * x.fmod(4)
        got = t.mean(m.masked_tensor(y, y != 0))
        assert repr(got) == "MaskedTensor( 16.6667, True)"
        assert repr(t.argmin(m.masked_tensor(y, y != 0))) == "MaskedTensor(  1.0000, True)"
        nan = t.empty(16).fill_(float("nan"))
        assert repr(t.mean(m.masked_tensor(nan, ~t.isnan(nan)))) == "MaskedTensor(--, False)"
    de, dt = ember.tensor(data), torch.tensor(data)
    me = ember.masked.masked_tensor(de.float(), de % 2 == 0)
    mt = torch.masked.masked_tensor(dt.float(), dt % 2 == 0)
    assert repr(me[0]) == repr(mt[0])
    assert repr(me[:, :, 2:4]) == repr(mt[:, :, 2:4])
