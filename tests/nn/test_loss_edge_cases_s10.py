"""Loss and nn-functional edge cases (session 10): NaN semantics, shape rules, argument checks.

Oracles: NumPy formulas, hand-computed values, and gradcheck in float64.
"""
import math

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember.autograd import gradcheck
from ember.nn.parameter import UninitializedBuffer


def _t(a, dtype=ember.float64, grad=False):
    return ember.tensor(np.asarray(a, dtype=np.float64), dtype=dtype, requires_grad=grad)


# ---------------------------------------------------------------------------------------------
# kl_div: xlogy semantics


def test_kl_div_negative_target_is_nan_zero_target_is_zero():
    x = _t([-1.0, -2.0, -0.5, 0.3], grad=True)
    t = _t([-0.5, 0.0, 0.7, 1.2], grad=True)
    loss = F.kl_div(x, t, reduction="none")
    tn, xn = t.detach().numpy(), x.detach().numpy()
    want = np.array([np.nan, 0.0, *(tn[2:] * (np.log(tn[2:]) - xn[2:]))])
    np.testing.assert_allclose(loss.detach().numpy(), want, equal_nan=True)
    loss.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), -tn)
    # d/dt [t log t - t x] = log t + 1 - x; nan where t <= 0
    want_t = np.array([np.nan, np.nan, *(np.log(tn[2:]) + 1 - xn[2:])])
    np.testing.assert_allclose(t.grad.numpy(), want_t, equal_nan=True)


def test_kl_div_log_target_formula_and_grads():
    x, t = _t([-1.0, -2.0, 0.3], grad=True), _t([-0.5, -3.0, 0.2], grad=True)
    want = np.exp(t.detach().numpy()) * (t.detach().numpy() - x.detach().numpy())
    np.testing.assert_allclose(F.kl_div(x, t, reduction="none", log_target=True).detach().numpy(),
                               want)
    assert gradcheck(lambda a, b: F.kl_div(a, b, reduction="sum", log_target=True), (x, t))


def test_kl_div_gradcheck_positive_targets():
    x = _t(np.log([0.2, 0.3, 0.5]), grad=True)
    t = _t([0.1, 0.6, 0.3], grad=True)
    assert gradcheck(lambda a, b: F.kl_div(a, b, reduction="batchmean"), (x, t))


def test_kl_div_rejects_integral_inputs():
    with pytest.raises(RuntimeError, match="kl_div: Integral inputs not supported."):
        F.kl_div(_t([0.1, 0.2]), ember.tensor([0, 1]), reduction="sum")


# ---------------------------------------------------------------------------------------------
# nll_loss / cross_entropy


def test_nll_all_ignored_mean_is_nan():
    x = _t(np.random.default_rng(0).standard_normal((3, 4)))
    t = ember.full((3,), -100, dtype=ember.int64)
    assert math.isnan(F.nll_loss(x, t).item())
    assert math.isnan(F.cross_entropy(x, t).item())
    assert math.isnan(F.cross_entropy(x, t, label_smoothing=0.2).item())


def test_nll_all_ignored_mean_grad_is_zero():
    x = _t(np.random.default_rng(0).standard_normal((3, 4)), grad=True)
    F.nll_loss(x, ember.full((3,), -100, dtype=ember.int64)).backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((3, 4)))


def test_label_smoothing_with_weight_and_ignore_index_matches_formula():
    rng = np.random.default_rng(1)
    xn, w = rng.standard_normal((5, 4)), rng.uniform(0.5, 2.0, 4)
    t = np.array([0, -100, 3, 2, -100])
    eps = 0.2
    logp = xn - np.log(np.exp(xn).sum(1, keepdims=True))
    keep = t != -100
    safe = np.where(keep, t, 0)
    nll = -(logp[np.arange(5), safe] * w[safe] * keep).sum() / (w[safe] * keep).sum()
    smooth = -((logp * w).sum(1) * keep).sum() / (w[safe] * keep).sum()
    want = (1 - eps) * nll + eps / 4 * smooth
    got = F.cross_entropy(_t(xn), ember.tensor(t), weight=_t(w), label_smoothing=eps)
    np.testing.assert_allclose(got.item(), want, rtol=1e-12)
    assert gradcheck(lambda a: F.cross_entropy(a, ember.tensor(t), weight=_t(w),
                                               label_smoothing=eps), (_t(xn, grad=True),))


def test_probability_targets_with_weight_match_formula():
    rng = np.random.default_rng(2)
    xn, p, w = rng.standard_normal((3, 4)), rng.uniform(size=(3, 4)), rng.uniform(size=4)
    logp = xn - np.log(np.exp(xn).sum(1, keepdims=True))
    want = -(logp * p * w).sum() / 3
    np.testing.assert_allclose(F.cross_entropy(_t(xn), _t(p), weight=_t(w)).item(), want)
    assert gradcheck(lambda a, b: F.cross_entropy(a, b, weight=_t(w), label_smoothing=0.1),
                     (_t(xn, grad=True), _t(p, grad=True)))


def test_probability_targets_zero_classes_mean_is_nan():
    assert math.isnan(F.cross_entropy(ember.zeros(3, 0), ember.zeros(3, 0)).item())


def test_negative_label_smoothing_is_no_smoothing():
    x, t = _t(np.random.default_rng(3).standard_normal((3, 4))), ember.tensor([0, 1, 2])
    assert F.cross_entropy(x, t, label_smoothing=-0.5).item() == F.cross_entropy(x, t).item()
    with pytest.raises(RuntimeError, match="label_smoothing must be between 0.0 and 1.0"):
        F.cross_entropy(x, t, label_smoothing=1.5)


@pytest.mark.parametrize("call, exc, msg", [
    (lambda x: F.nll_loss(x, ember.tensor([0, 1, 2]), weight=ember.ones(4)), RuntimeError,
     "expected scalar type Double but found Float"),
    (lambda x: F.nll_loss(x, ember.tensor([0, 1, 2]), weight=ember.ones(4, 1,
                                                                         dtype=ember.float64)),
     RuntimeError, r"weight tensor should be defined either for all 4 classes"),
    (lambda x: F.nll_loss(x, ember.tensor([0, 1, 2], dtype=ember.int32)), RuntimeError,
     "expected target dtype to be Long or Byte, but got Int"),
    (lambda x: F.nll_loss(x.reshape(3, 2, 2), ember.zeros(3, 2, dtype=ember.uint8)),
     RuntimeError, "expected scalar type Long but found Byte"),
    (lambda x: F.nll_loss(x, ember.zeros(2, 5, dtype=ember.int64)), ValueError,
     r"Expected input batch_size \(3\) to match target batch_size \(2\)"),
    (lambda x: F.nll_loss(x, ember.tensor([0, 1, 9]), reduction="bad"), ValueError,
     "bad is not a valid value for reduction"),
    (lambda x: F.cross_entropy(x, ember.ones(3, 4) / 4, ignore_index=1), RuntimeError,
     "ignore_index is not supported for floating point target"),
    (lambda x: F.cross_entropy(x, ember.ones(3, 4, dtype=ember.int64)), RuntimeError,
     "Expected floating point type for target with class probabilities, got Long"),
    (lambda x: F.cross_entropy(x, ember.ones(5, 4, dtype=ember.float64)), ValueError,
     r"Expected input batch_size \(3\) to match target batch_size \(5\)"),
    (lambda x: F.cross_entropy(x, ember.ones(3, 4, dtype=ember.float64),
                               weight=ember.ones(3, dtype=ember.float64)), RuntimeError,
     "cross_entropy: weight tensor should be defined either for all 4 classes"),
])
def test_nll_and_cross_entropy_checks(call, exc, msg):
    with pytest.raises(exc, match=msg):
        call(_t(np.zeros((3, 4))))


def test_cross_entropy_probabilities_accept_negative_ignore_index():
    x, p = _t(np.zeros((3, 4))), _t(np.full((3, 4), 0.25))
    np.testing.assert_allclose(F.cross_entropy(x, p, ignore_index=-1).item(), math.log(4))


def test_nll_byte_targets_match_long_targets():
    x = _t(np.random.default_rng(4).standard_normal((3, 4)))
    t = [0, 3, 1]
    assert (F.nll_loss(x, ember.tensor(t, dtype=ember.uint8)).item()
            == F.nll_loss(x, ember.tensor(t)).item())


def test_linear_cross_entropy_batch_mismatch_is_value_error():
    with pytest.raises(ValueError, match=r"Expected input batch_size \(4\) to match target "
                                         r"batch_size \(5\)"):
        F.linear_cross_entropy(ember.randn(4, 3), ember.randn(2, 3), ember.zeros(5, 2))


# ---------------------------------------------------------------------------------------------
# gaussian_nll_loss: the variance shapes PyTorch allows


@pytest.mark.parametrize("ishape, vshape", [
    ((3, 4), (3, 4)), ((3, 4), (3,)), ((3, 4), (3, 1)), ((3, 4), (1, 4)), ((2, 3, 4), (1, 3, 4)),
    ((2, 3, 4), (2, 1, 4)), ((2, 3, 4), (2, 3)), ((4,), ()), ((4,), (1,)),
])
def test_gaussian_nll_variance_shapes(ishape, vshape):
    rng = np.random.default_rng(5)
    x, y, v = rng.standard_normal(ishape), rng.standard_normal(ishape), rng.uniform(0.5, 2, vshape)
    vb = v.reshape(vshape + (1,)) if vshape == ishape[:-1] else v
    want = 0.5 * (np.log(vb) + (x - y) ** 2 / vb)
    got = F.gaussian_nll_loss(_t(x), _t(y), _t(v), reduction="none")
    np.testing.assert_allclose(got.numpy(), np.broadcast_to(want, ishape))
    assert gradcheck(lambda a, b: F.gaussian_nll_loss(a, _t(y), b),
                     (_t(x, grad=True), _t(v, grad=True)))


@pytest.mark.parametrize("ishape, vshape", [
    ((3, 4), (1,)), ((3, 4), ()), ((3, 4), (4,)), ((3, 4), (1, 1)), ((2, 3, 4), (1, 1, 4)),
    ((2, 3, 4), (3, 4)), ((3, 4), (2, 4)), ((3, 4), (3, 4, 1)),
])
def test_gaussian_nll_rejects_other_variance_shapes(ishape, vshape):
    with pytest.raises(ValueError, match="var is of incorrect size"):
        F.gaussian_nll_loss(ember.zeros(ishape), ember.zeros(ishape), ember.ones(vshape))


# ---------------------------------------------------------------------------------------------
# binary_cross_entropy range checks


@pytest.mark.parametrize("x, t, name", [
    ([0.2, 1.5], [0.0, 1.0], "input"), ([0.2, float("nan")], [0.0, 1.0], "input"),
    ([0.2, 0.5], [-0.1, 1.0], "target"), ([0.2, 0.5], [float("nan"), 1.0], "target"),
])
def test_bce_checks_unit_interval(x, t, name):
    with pytest.raises(RuntimeError, match=f"all elements of {name} should be between 0 and 1"):
        F.binary_cross_entropy(_t(x), _t(t))


def test_bce_meta_and_empty_pass_the_check():
    assert F.binary_cross_entropy(ember.empty(3, device="meta"),
                                  ember.empty(3, device="meta")).shape == ()
    assert math.isnan(F.binary_cross_entropy(ember.zeros(0), ember.zeros(0)).item())


# ---------------------------------------------------------------------------------------------
# batch_norm eps, dropout checks


@pytest.mark.parametrize("training, eps, msg", [
    (True, 0.0, "batch_norm eps must be positive during training, but got 0.0"),
    (True, -1.0, "batch_norm eps must be positive during training, but got -1.0"),
    (False, -1.0, "batch_norm eps must be non-negative, but got -1.0"),
])
def test_batch_norm_eps_checks(training, eps, msg):
    with pytest.raises(ValueError, match=msg):
        F.batch_norm(ember.ones(4, 3), ember.zeros(3), ember.ones(3), training=training, eps=eps)


def test_batch_norm_eval_eps_zero_and_torch_spelling_unchecked():
    x = _t(np.random.default_rng(6).standard_normal((4, 3)))
    out = F.batch_norm(x, ember.zeros(3, dtype=ember.float64), ember.ones(3, dtype=ember.float64),
                       eps=0.0)
    np.testing.assert_allclose(out.numpy(), x.numpy())
    out = ember.batch_norm(x, None, None, None, None, True, 0.1, 0.0, False)
    xn = x.numpy()
    np.testing.assert_allclose(out.numpy(), (xn - xn.mean(0)) / xn.std(0), rtol=1e-10)


def test_torch_spelling_dropouts_raise_runtime_error():
    x = ember.ones(3, 4)
    for fn in (ember.dropout, ember.feature_dropout, ember.alpha_dropout,
               ember.feature_alpha_dropout):
        with pytest.raises(RuntimeError, match="dropout probability has to be between 0 and 1, "
                                               "but got 1.5"):
            fn(x, 1.5, False)
    with pytest.raises(ValueError, match="dropout probability"):
        F.dropout(x, 1.5)
    with pytest.raises(RuntimeError, match="but got nan"):
        F.dropout(x, float("nan"))


def test_feature_dropout_p_one_and_rank_check():
    np.testing.assert_array_equal(ember.feature_dropout(ember.ones(3, 4), 1.0, True).numpy(),
                                  np.zeros((3, 4)))
    for fn in (ember.feature_dropout, F.feature_alpha_dropout):
        with pytest.raises(RuntimeError, match="Feature dropout requires at least 2 dimensions"):
            fn(ember.ones(4), 0.5, True)
    assert ember.feature_dropout(ember.ones(4), 0.5, False).shape == (4,)


# ---------------------------------------------------------------------------------------------
# adaptive pooling of empty inputs


@pytest.mark.parametrize("fn, shape, dim", [
    (F.adaptive_avg_pool1d, (2, 3, 0), 3), (F.adaptive_avg_pool2d, (2, 3, 0, 4), 2),
    (F.adaptive_avg_pool2d, (3, 0, 4), 1), (F.adaptive_avg_pool3d, (2, 0, 4, 4, 4), 1),
    (F.adaptive_max_pool1d, (2, 0, 4), 1), (F.adaptive_max_pool2d, (2, 0, 4, 4), 1),
    (F.adaptive_max_pool3d, (2, 3, 4, 4, 0), 4),
])
def test_adaptive_pool_refuses_empty_non_batch_dims(fn, shape, dim):
    with pytest.raises(RuntimeError, match=f"with dimension {dim} being empty"):
        fn(ember.ones(shape), 2)


@pytest.mark.parametrize("fn, shape, out", [
    (F.adaptive_avg_pool1d, (0, 3, 4), (0, 3, 2)), (F.adaptive_avg_pool2d, (2, 0, 4, 4),
                                                    (2, 0, 2, 2)),
    (F.adaptive_max_pool2d, (0, 3, 4, 4), (0, 3, 2, 2)), (F.adaptive_avg_pool3d, (0, 4, 4, 4),
                                                          (0, 2, 2, 2)),
])
def test_adaptive_pool_allows_empty_batch(fn, shape, out):
    assert fn(ember.ones(shape), 2).shape == out


# ---------------------------------------------------------------------------------------------
# UninitializedBuffer conversions


def test_uninitialized_buffer_stays_uninitialized_when_moved():
    b = UninitializedBuffer()
    for moved, dtype in ((b.to(ember.float64), ember.float64), (b.double(), ember.float64),
                         (b.half(), ember.float16), (b.int(), ember.int32),
                         (b.to("cpu", ember.float16), ember.float16)):
        assert type(moved) is UninitializedBuffer and moved.dtype is dtype
    assert b.to(ember.float32) is b and b.cpu() is b
    moved = b.to(ember.float64)
    moved.materialize((3,))
    assert type(moved) is ember.Tensor and moved.shape == (3,) and moved.dtype is ember.float64
    with pytest.raises(RuntimeError, match="Can't share memory on an uninitialized"):
        UninitializedBuffer().share_memory_()


# ---------------------------------------------------------------------------------------------
# random fills


@pytest.mark.parametrize("call, exc, msg", [
    (lambda t: t.uniform_(), NotImplementedError, "\"check_uniform_bounds\" not implemented for "
                                                  "'Long'"),
    (lambda t: t.normal_(), NotImplementedError, "\"normal_kernel_cpu\" not implemented"),
    (lambda t: t.log_normal_(), NotImplementedError, "\"log_normal_cpu\" not implemented"),
    (lambda t: t.exponential_(), RuntimeError, "dtype must be a floating point but you "
                                               "specified Long"),
    (lambda t: t.cauchy_(), RuntimeError, "dtype must be a floating point but you specified "
                                          "long int"),
    (lambda t: t.normal_(0, -1), RuntimeError, "normal expects std >= 0.0, but found std -1"),
    (lambda t: t.random_(3, 2), RuntimeError, "random_ expects 'from' to be less than 'to'"),
])
def test_random_fills_on_integer_tensors(call, exc, msg):
    with pytest.raises(exc, match=msg):
        call(ember.zeros(4, dtype=ember.int64))


@pytest.mark.parametrize("call, msg", [
    (lambda t: t.uniform_(2.0, 1.0), r"found from=2 > to=1"),
    (lambda t: t.uniform_(0.0, float("inf")), "to is out of bounds for float"),
    (lambda t: t.exponential_(0.0), "exponential_ expects lambda > 0.0, but found lambda=0"),
    (lambda t: t.geometric_(1.0), r"geometric_ expects p to be in \(0, 1\), but got p=1"),
    (lambda t: t.log_normal_(1.0, 0.0), "log_normal_ expects std > 0.0"),
    (lambda t: t.cauchy_(0.0, -1.0), "cauchy_ expects sigma > 0.0"),
    (lambda t: t.bernoulli_(1.5), r"bernoulli_ expects p to be in \[0, 1\], but got p=1.5"),
])
def test_random_fill_argument_checks(call, msg):
    with pytest.raises(RuntimeError, match=msg):
        call(ember.zeros(4))


def test_random_fills_that_take_integers_and_their_bounds():
    g = ember.zeros(200, dtype=ember.int64).geometric_(0.5)
    assert g.min().item() >= 1
    r = ember.zeros(200, dtype=ember.uint8).random_(250, 256)
    assert 250 <= r.min().item() and r.max().item() <= 255
    with pytest.raises(RuntimeError, match="to - 1 is out of bounds for unsigned char"):
        ember.zeros(3, dtype=ember.uint8).random_(0, 300)
    with pytest.raises(RuntimeError, match="from is out of bounds for unsigned char"):
        ember.zeros(3, dtype=ember.uint8).random_(-1, 5)
    with pytest.raises(NotImplementedError, match="\"geometric_cpu\" not implemented"):
        ember.zeros(3, dtype=ember.bool).geometric_(0.5)


# ---------------------------------------------------------------------------------------------
# margin losses


def _multi_margin_numpy(x, y, p, margin, w):
    n, c = x.shape
    terms = np.maximum(0, margin - x[np.arange(n), y][:, None] + x) ** p
    terms[np.arange(n), y] = 0
    if w is not None:
        terms = terms * w[y][:, None]
    return terms.sum(1) / c


def test_multi_margin_matches_numpy_and_gradcheck():
    rng = np.random.default_rng(7)
    x, y, w = rng.standard_normal((4, 5)), np.array([0, 4, 2, 2]), rng.uniform(0.5, 2, 5)
    got = F.multi_margin_loss(_t(x), ember.tensor(y), p=2, margin=0.7, weight=_t(w),
                              reduction="none")
    np.testing.assert_allclose(got.numpy(), _multi_margin_numpy(x, y, 2, 0.7, w))
    assert gradcheck(lambda a: F.multi_margin_loss(a, ember.tensor(y), p=2, margin=0.7,
                                                   weight=_t(w)), (_t(x, grad=True),))


def test_margin_losses_empty_mean_is_zero_and_none_shapes():
    assert F.multi_margin_loss(ember.zeros(0, 4), ember.zeros(0, dtype=ember.int64)).item() == 0
    assert F.multilabel_margin_loss(ember.zeros(0, 4),
                                    ember.zeros(0, 4, dtype=ember.int64)).item() == 0
    x = ember.zeros(4)
    assert F.multi_margin_loss(x, ember.tensor([2]), reduction="none").shape == (1,)
    assert F.multi_margin_loss(x, ember.tensor(2), reduction="none").shape == ()


@pytest.mark.parametrize("call, exc, msg", [
    (lambda: F.multi_margin_loss(ember.zeros(3, 4), ember.zeros(2, dtype=ember.int64)),
     RuntimeError, r"Expected target size \[3\], but got \[2\]"),
    (lambda: F.multi_margin_loss(ember.zeros(3, 4, 2), ember.zeros(3, dtype=ember.int64)),
     RuntimeError, "Expected non-empty vector or matrix"),
    (lambda: F.multi_margin_loss(ember.zeros(3, 4), ember.tensor([0, 1, 4])), RuntimeError,
     "target out of range"),
    (lambda: F.multi_margin_loss(ember.zeros(3, 4), ember.tensor([0, 1, 2]),
                                 weight=ember.ones(1, 4)), ValueError,
     "weight must be one-dimensional"),
    (lambda: F.multi_margin_loss(ember.zeros(3, 4), ember.tensor([0, 1, 2]),
                                 weight=ember.ones(3)), RuntimeError,
     r"inconsistent weight size, expected 4 but got \[3\]"),
    (lambda: F.multi_margin_loss(ember.zeros(3, 4), ember.zeros(3)), RuntimeError,
     "expected scalar type Long but found Float"),
    (lambda: F.multilabel_margin_loss(ember.zeros(3, 4), ember.full((3, 4), 4)), RuntimeError,
     "argument #2 'target' is out of range"),
    (lambda: F.multilabel_margin_loss(ember.zeros(3, 4), ember.zeros(3, 4, dtype=ember.int32)),
     RuntimeError, "expected scalar type Long but found Int"),
    (lambda: F.multilabel_margin_loss(ember.zeros(3, 0), ember.zeros(3, 0, dtype=ember.int64)),
     RuntimeError, "Expected non-empty vector or matrix"),
    (lambda: F.multilabel_soft_margin_loss(ember.zeros(()), ember.zeros(())), IndexError,
     "Dimension specified as -1 but tensor has no dimensions"),
    (lambda: F.multilabel_soft_margin_loss(ember.zeros(3, 4), ember.zeros(3, 4), reduction="x"),
     ValueError, "x is not valid"),
    (lambda: F.cosine_embedding_loss(ember.zeros(3, 4, 2), ember.zeros(3, 4, 2), ember.ones(3)),
     RuntimeError, "1D target tensor expects 2D input tensors"),
    (lambda: F.cosine_embedding_loss(ember.zeros(3, 4), ember.zeros(3, 4), ember.ones(())),
     RuntimeError, "0D target tensor expects 1D input tensors"),
    (lambda: F.triplet_margin_loss(ember.zeros(3, 4), ember.zeros(4), ember.zeros(3, 4)),
     RuntimeError, "anchor 2D, positive 1D, and negative 2D inputs"),
    (lambda: F.huber_loss(ember.zeros(3), ember.zeros(3), delta=0.0), RuntimeError,
     "huber_loss does not support non-positive values for delta."),
    (lambda: F.smooth_l1_loss(ember.zeros(3), ember.zeros(3), beta=-1.0), RuntimeError,
     "smooth_l1_loss does not support negative values for beta."),
    (lambda: F.mse_loss(ember.zeros(3, dtype=ember.int64), ember.zeros(3, dtype=ember.int64)),
     NotImplementedError, "\"mse_cpu\" not implemented for 'Long'"),
    (lambda: F.binary_cross_entropy_with_logits(ember.zeros(3), ember.ones(3, dtype=ember.int64)),
     RuntimeError, "result type Float can't be cast to the desired output type Long"),
    (lambda: F.triplet_margin_with_distance_loss(ember.zeros(2), ember.zeros(2), ember.zeros(2),
                                                 margin=0.0),
     ValueError, "margin must be greater than 0, got 0.0"),
    (lambda: F.cross_entropy(ember.zeros(()), ember.zeros((), dtype=ember.int64)), RuntimeError,
     "Expected floating point type for target with class probabilities, got Long"),
    (lambda: F.ctc_loss(ember.zeros(6, 2, 5), ember.ones(2, 2, dtype=ember.int64), [7, 6],
                        [2, 2]), RuntimeError, "Expected input_lengths to have value at most 6"),
    (lambda: F.ctc_loss(ember.zeros(6, 2, 5), ember.ones(2, 2, dtype=ember.int64), [6, 6],
                        [3, 2]), RuntimeError, "Expected tensor to have size at least 3 at "
                                               "dimension 1"),
    (lambda: F.ctc_loss(ember.zeros(6, 2, 5), ember.ones(3, dtype=ember.int64), [6, 6],
                        [2, 2]), RuntimeError, "Expected tensor to have size 4 at dimension 0"),
    (lambda: F.ctc_loss(ember.zeros(6, 2, 5), ember.ones(2, 2, dtype=ember.int64), [6, -1],
                        [2, 2]), RuntimeError, "Expected input_lengths to have value at least 0"),
])
def test_loss_argument_checks(call, exc, msg):
    with pytest.raises(exc, match=msg):
        call()


# ---------------------------------------------------------------------------------------------
# poisson_nll_loss(full=True): Stirling's term masked, not clamped


def test_poisson_full_target_grad_is_nan_at_zero_target():
    x = _t([0.3, -0.2, 0.1, 0.5], grad=True)
    t = _t([0.0, 0.5, 2.0, 5.0], grad=True)
    loss = F.poisson_nll_loss(x, t, full=True, reduction="sum")
    xn, tn = x.detach().numpy(), t.detach().numpy()
    big = tn > 1
    stirling = np.where(big, tn * np.log(np.where(big, tn, 1)) - tn
                        + 0.5 * np.log(2 * np.pi * np.where(big, tn, 1)), 0)
    np.testing.assert_allclose(loss.item(), (np.exp(xn) - tn * xn + stirling).sum())
    loss.backward()
    want = np.where(big, -xn + np.log(np.where(big, tn, 1)) + 0.5 / np.where(big, tn, 1), -xn)
    want[0] = np.nan
    np.testing.assert_allclose(t.grad.numpy(), want, equal_nan=True)


# ---------------------------------------------------------------------------------------------
# more nn-functional argument checks


@pytest.mark.parametrize("fn, kernel", [
    (F.silu, "silu_cpu"), (F.mish, "mish_cpu"), (F.hardswish, "hardswish_cpu"),
    (F.hardsigmoid, "hardsigmoid_cpu"), (F.logsigmoid, "log_sigmoid_cpu"), (F.elu, "elu_cpu"),
    (F.gelu, "GeluKernelImpl"), (F.softplus, "softplus_cpu"), (F.leaky_relu, "leaky_relu_cpu"),
    (F.hardshrink, "hardshrink_cpu"), (F.softshrink, "softshrink_check"),
])
def test_activations_refuse_integer_input(fn, kernel):
    with pytest.raises(NotImplementedError, match=f"\"{kernel}\" not implemented for 'Long'"):
        fn(ember.ones(3, dtype=ember.int64))


def test_clamping_activations_dtype_rules():
    assert F.hardtanh(ember.tensor([-3, 0, 3])).tolist() == [-1, 0, 1]
    with pytest.raises(RuntimeError, match="Bool inputs not supported for hardtanh"):
        F.relu6(ember.ones(3, dtype=ember.bool))
    with pytest.raises(NotImplementedError, match="\"threshold_cpu\" not implemented for 'Bool'"):
        F.threshold_(ember.ones(3, dtype=ember.bool), 0.1, 0.2)
    assert F.threshold(ember.tensor([0, 1, 2]), 1, 9).tolist() == [9, 9, 2]


@pytest.mark.parametrize("call, exc, msg", [
    (lambda: F.celu(ember.ones(3), 0.0), RuntimeError, "alpha cannot be 0 for CELU"),
    (lambda: F.rrelu(ember.ones(3), 0.5, 0.3), RuntimeError,
     "Lower bound should be less than or equal to the upper bound"),
    (lambda: F.pdist(ember.ones(3)), RuntimeError, "pdist only supports 2D tensors, got: 1D"),
    (lambda: F.pdist(ember.ones(3, 2), -1.0), RuntimeError,
     "pdist only supports non-negative p values"),
    (lambda: F.linear_cross_entropy(ember.ones(2, 3, 3), ember.ones(2, 3), ember.zeros(3, 2)),
     RuntimeError, "expected input with dimensionality 1 or 2, got 3"),
    (lambda: F.linear_cross_entropy(ember.ones(2, 3), ember.ones(3), ember.zeros(2, 2)),
     RuntimeError, "expected linear_weight with dimensionality at least 2, got 1"),
    (lambda: F.triplet_margin_loss(ember.ones(2, 3), ember.ones(2, 3), ember.ones(2, 3),
                                   margin=0.0), ValueError, "margin must be greater than 0"),
    (lambda: F.adaptive_avg_pool2d(ember.ones(2, 2), (2, 2)), ValueError,
     "Input dimension should be at least 3"),
    (lambda: F.adaptive_avg_pool2d(ember.ones(2, 2), 2), RuntimeError,
     "Expected 3D"),
    (lambda: F.adaptive_avg_pool2d(ember.ones(1, 1, 2, 2), (-1, 0)), RuntimeError,
     r"elements of output_size must be greater than or equal to 0 but received \{-1, 0\}"),
    (lambda: F.adaptive_max_pool2d(ember.ones(1, 1, 2, 2), (-1, 0)), RuntimeError,
     "Trying to create tensor with negative dimension -1"),
])
def test_functional_argument_checks(call, exc, msg):
    with pytest.raises(exc, match=msg):
        call()


def test_pdist_of_one_row_is_empty():
    assert F.pdist(ember.ones(1, 4)).shape == (0,)


def test_dropout3d_reads_other_ranks_as_unbatched_with_a_warning():
    x = ember.ones(4, 3, 3)
    with pytest.warns(UserWarning, match="Received a 3-D input to dropout3d"):
        out = F.dropout3d(x, 0.5)
    kept = out.numpy().reshape(4, -1)
    assert all(len(set(row)) == 1 and row[0] in (0.0, 2.0) for row in kept.tolist())


@pytest.mark.parametrize("fn", [F.adaptive_avg_pool2d, F.adaptive_max_pool2d])
def test_adaptive_pool_zero_output_size(fn):
    x = ember.ones(2, 3, 4, 4, requires_grad=True)
    out = fn(x, (0, 2))
    assert out.shape == (2, 3, 0, 2)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((2, 3, 4, 4)))
    assert fn(ember.ones(3, 4, 4), 0).shape == (3, 0, 0)
