"""ember.nn.functional (activations, linear, normalization, dropout, embedding, distances):
forward vs NumPy, gradients by float64 gradcheck."""
import math

import numpy as np
import pytest
from scipy.special import erf

import ember
import ember.nn.functional as F
from ember.autograd import gradcheck, gradgradcheck


def _t(a, grad=False):
    return ember.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _softplus(x, beta=1.0, threshold=20.0):
    return np.where(x * beta > threshold, x, np.log1p(np.exp(beta * x)) / beta)


SELU_A, SELU_S = 1.6732632423543772, 1.0507009873554805

# (name, ember fn, numpy reference)
ACTIVATIONS = [
    ("relu", F.relu, lambda x: np.maximum(x, 0)),
    ("relu6", F.relu6, lambda x: np.clip(x, 0, 6)),
    ("leaky_relu", lambda x: F.leaky_relu(x, 0.2), lambda x: np.where(x > 0, x, 0.2 * x)),
    ("elu", lambda x: F.elu(x, 0.7), lambda x: np.where(x > 0, x, 0.7 * np.expm1(x))),
    ("selu", F.selu, lambda x: SELU_S * np.where(x > 0, x, SELU_A * np.expm1(x))),
    ("celu", lambda x: F.celu(x, 2.0), lambda x: np.where(x > 0, x, 2.0 * np.expm1(x / 2.0))),
    ("gelu", F.gelu, lambda x: 0.5 * x * (1 + erf(x / math.sqrt(2)))),
    ("gelu_tanh", lambda x: F.gelu(x, approximate="tanh"),
     lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))),
    ("silu", F.silu, lambda x: x * _sigmoid(x)),
    ("mish", F.mish, lambda x: x * np.tanh(_softplus(x))),
    ("hardtanh", lambda x: F.hardtanh(x, -0.5, 0.5), lambda x: np.clip(x, -0.5, 0.5)),
    ("hardsigmoid", F.hardsigmoid, lambda x: np.clip(x / 6 + 0.5, 0, 1)),
    ("hardswish", F.hardswish, lambda x: x * np.clip(x / 6 + 0.5, 0, 1)),
    ("softplus", lambda x: F.softplus(x, 2.0, 3.0), lambda x: _softplus(x, 2.0, 3.0)),
    ("softsign", F.softsign, lambda x: x / (1 + np.abs(x))),
    ("logsigmoid", F.logsigmoid, lambda x: np.log(_sigmoid(x))),
    ("tanhshrink", F.tanhshrink, lambda x: x - np.tanh(x)),
    ("hardshrink", lambda x: F.hardshrink(x, 0.3), lambda x: np.where(np.abs(x) > 0.3, x, 0)),
    ("softshrink", lambda x: F.softshrink(x, 0.3),
     lambda x: np.where(x > 0.3, x - 0.3, np.where(x < -0.3, x + 0.3, 0))),
    ("threshold", lambda x: F.threshold(x, 0.1, -2.0), lambda x: np.where(x > 0.1, x, -2.0)),
    ("sigmoid", F.sigmoid, _sigmoid),
    ("tanh", F.tanh, np.tanh),
    ("glu", F.glu, lambda x: x[..., :2] * _sigmoid(x[..., 2:])),
    ("softmin", lambda x: F.softmin(x, 1),
     lambda x: np.exp(-x) / np.exp(-x).sum(1, keepdims=True)),
    ("rrelu_eval", F.rrelu, lambda x: np.where(x >= 0, x, x * (1 / 8 + 1 / 3) / 2)),
    ("prelu", lambda x: F.prelu(x, _t([0.1, 0.2, 0.3, 0.4])),
     lambda x: np.where(x > 0, x, x * np.array([0.1, 0.2, 0.3, 0.4]))),
]


def _sample():
    # away from the kinks at 0, +-0.3, +-0.5, +-3 so central differences are clean
    x = np.random.RandomState(0).uniform(-4, 4, (3, 4))
    return np.where(np.abs(np.abs(x) - np.round(np.abs(x) * 2) / 2) < 0.05, x + 0.1, x)


@pytest.mark.parametrize("name,fn,ref", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_activation_forward_and_grad(name, fn, ref):
    x = _sample()
    np.testing.assert_allclose(fn(_t(x)).detach().numpy(), ref(x), rtol=1e-6, atol=1e-8)
    assert gradcheck(fn, (_t(x, True),))


@pytest.mark.parametrize("name", ["gelu", "silu", "elu", "softplus", "hardswish"])
def test_activation_second_order(name):
    fn = dict((a[0], a[1]) for a in ACTIVATIONS)[name]
    assert gradgradcheck(fn, (_t(_sample(), True),))


def test_softplus_and_logsigmoid_are_stable():
    x = _t([-1000.0, 1000.0])
    np.testing.assert_allclose(F.logsigmoid(x).numpy(), [-1000.0, 0.0])
    np.testing.assert_allclose(F.softplus(x).numpy(), [0.0, 1000.0])


@pytest.mark.parametrize("fn,prim", [(F.relu, "relu"), (F.leaky_relu, "leaky_relu"),
                                     (F.elu, "elu"), (F.hardtanh, "hardtanh"),
                                     (F.silu, "silu"), (F.hardswish, "hardswish"),
                                     (F.selu, "selu"), (F.hardsigmoid, "hardsigmoid")])
def test_inplace_activations(fn, prim):
    x = _sample()
    expected = fn(_t(x)).numpy()
    leaf = _t(x, True)
    y = leaf * 1
    out = fn(y, inplace=True)
    assert out is y
    np.testing.assert_allclose(y.detach().numpy(), expected)
    out.sum().backward()
    ref_leaf = _t(x, True)
    fn(ref_leaf).sum().backward()
    np.testing.assert_allclose(leaf.grad.numpy(), ref_leaf.grad.numpy())


def test_linear_and_bilinear():
    rs = np.random.RandomState(1)
    x, w, b = rs.randn(2, 3, 4), rs.randn(5, 4), rs.randn(5)
    np.testing.assert_allclose(F.linear(_t(x), _t(w), _t(b)).numpy(), x @ w.T + b)
    assert gradcheck(F.linear, (_t(x[0], True), _t(w, True), _t(b, True)))
    x1, x2, wb = rs.randn(3, 2), rs.randn(3, 4), rs.randn(5, 2, 4)
    ref = np.einsum("ni,oij,nj->no", x1, wb, x2) + b
    np.testing.assert_allclose(F.bilinear(_t(x1), _t(x2), _t(wb), _t(b)).numpy(), ref)
    assert gradcheck(F.bilinear, (_t(x1, True), _t(x2, True), _t(wb, True), _t(b, True)))


def _np_norm(x, axes, eps):
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps)


def test_batch_norm_training_updates_running_stats():
    rs = np.random.RandomState(2)
    x = rs.randn(4, 3, 2)
    w, b = rs.randn(3), rs.randn(3)
    rm, rv = _t(np.zeros(3)), _t(np.ones(3))
    out = F.batch_norm(_t(x), rm, rv, _t(w), _t(b), training=True, momentum=0.3, eps=1e-5)
    ref = _np_norm(x, (0, 2), 1e-5) * w[None, :, None] + b[None, :, None]
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-10)
    np.testing.assert_allclose(rm.numpy(), 0.3 * x.mean((0, 2)))
    np.testing.assert_allclose(rv.numpy(), 0.7 + 0.3 * x.var((0, 2), ddof=1))
    out = F.batch_norm(_t(x), rm, rv, _t(w), _t(b), training=False)
    ref = (x - rm.numpy()[:, None]) / np.sqrt(rv.numpy()[:, None] + 1e-5) * w[:, None] + \
        b[:, None]
    np.testing.assert_allclose(out.numpy(), ref)
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        F.batch_norm(_t(np.ones((1, 3))), None, None, training=True)


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_gradcheck(training):
    rs = np.random.RandomState(3)
    x, w, b = rs.randn(4, 3, 2), rs.randn(3), rs.randn(3)
    rm, rv = _t(rs.randn(3)), _t(rs.rand(3) + 0.5)

    def fn(x, w, b):
        return F.batch_norm(x, rm.clone(), rv.clone(), w, b, training=training)
    assert gradcheck(fn, (_t(x, True), _t(w, True), _t(b, True)))


def test_norm_second_order():
    rs = np.random.RandomState(4)
    x, w, b = rs.randn(3, 4), rs.randn(4), rs.randn(4)
    args = (_t(x, True), _t(w, True), _t(b, True))
    assert gradgradcheck(lambda x, w, b: F.layer_norm(x, (4,), w, b), args)
    assert gradgradcheck(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), args)
    x4 = _t(rs.randn(2, 4, 3), True)
    assert gradgradcheck(lambda x, w, b: F.group_norm(x, 2, w, b), (x4,) + args[1:])


def test_softmax_family_warns_on_implicit_dim():
    x = _t(np.random.RandomState(0).randn(2, 3))
    for fn in (F.softmax, F.log_softmax, F.softmin):
        with pytest.warns(UserWarning, match="Implicit dimension choice"):
            implicit = fn(x)
        np.testing.assert_allclose(implicit.numpy(), fn(x, 1).numpy())
    np.testing.assert_allclose(F.log_softmax(x, 1).exp().numpy(), F.softmax(x, 1).numpy())


def test_layer_group_instance_norm():
    rs = np.random.RandomState(5)
    x = rs.randn(2, 4, 3)
    w, b = rs.randn(3), rs.randn(3)
    np.testing.assert_allclose(F.layer_norm(_t(x), (3,), _t(w), _t(b)).numpy(),
                               _np_norm(x, (2,), 1e-5) * w + b, rtol=1e-10)
    assert gradcheck(lambda x, w, b: F.layer_norm(x, [3], w, b),
                     (_t(x, True), _t(w, True), _t(b, True)))
    with pytest.raises(RuntimeError, match="Given normalized_shape=\\[5\\]"):
        F.layer_norm(_t(x), (5,))
    gw, gb = rs.randn(4), rs.randn(4)
    ref = _np_norm(x.reshape(2, 2, 6), (2,), 1e-5).reshape(x.shape) * gw[:, None] + gb[:, None]
    np.testing.assert_allclose(F.group_norm(_t(x), 2, _t(gw), _t(gb)).numpy(), ref,
                               rtol=1e-10)
    assert gradcheck(lambda x, w, b: F.group_norm(x, 2, w, b),
                     (_t(x, True), _t(gw, True), _t(gb, True)))
    with pytest.raises(RuntimeError, match="divisible by num_groups"):
        F.group_norm(_t(x), 3)
    np.testing.assert_allclose(F.instance_norm(_t(x)).numpy(), _np_norm(x, (2,), 1e-5),
                               rtol=1e-10)
    assert gradcheck(lambda x, w, b: F.instance_norm(x, weight=w, bias=b),
                     (_t(x, True), _t(gw, True), _t(gb, True)))
    np.testing.assert_allclose(
        F.rms_norm(_t(x), (3,), _t(w), 1e-6).numpy(),
        x / np.sqrt((x ** 2).mean(-1, keepdims=True) + 1e-6) * w)


def test_local_response_norm():
    rs = np.random.RandomState(6)
    x = rs.randn(2, 5, 3)
    size, alpha, beta, k = 3, 1e-2, 0.75, 2.0
    sq = np.pad(x ** 2, ((0, 0), (1, 1), (0, 0)))
    window = sum(sq[:, i:i + 5] for i in range(size)) / size
    ref = x / (k + alpha * window) ** beta
    np.testing.assert_allclose(F.local_response_norm(_t(x), size, alpha, beta, k).numpy(), ref)
    assert gradcheck(lambda x: F.local_response_norm(x, size, alpha, beta, k), (_t(x, True),))


def test_dropout_statistics_and_modes():
    x = ember.ones(200, 100)
    out = F.dropout(x, 0.3, training=True)
    kept = out.numpy() != 0
    assert abs(kept.mean() - 0.7) < 0.02
    np.testing.assert_allclose(out.numpy()[kept], 1 / 0.7, rtol=1e-6)
    assert F.dropout(x, 0.3, training=False) is x
    assert F.dropout(x, 1.0).abs().sum().item() == 0
    with pytest.raises(ValueError, match="between 0 and 1, but got 1.5"):
        F.dropout(x, 1.5)
    feat = F.dropout2d(ember.ones(50, 40, 2, 2), 0.5).numpy()
    per_channel = feat.reshape(50, 40, 4)
    assert np.all(per_channel.min(-1) == per_channel.max(-1))  # whole channels dropped
    y = F.dropout(x * 1, 0.5, inplace=True)
    assert y.shape == x.shape


def test_dropout_gradient_uses_the_same_mask():
    x = _t(np.ones((10, 10)), True)
    out = F.dropout(x, 0.4)
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), out.detach().numpy())


def test_alpha_dropout_keeps_moments():
    x = ember.randn(400, 250)
    out = F.alpha_dropout(x, 0.2, training=True).numpy()
    assert abs(out.mean()) < 0.03 and abs(out.std() - 1) < 0.03
    assert F.alpha_dropout(x, 0.2, training=False) is x


def test_embedding_and_padding_grad():
    rs = np.random.RandomState(7)
    w = rs.randn(5, 3)
    idx = np.array([[0, 2], [4, 2]])
    np.testing.assert_array_equal(F.embedding(ember.tensor(idx), _t(w)).numpy(), w[idx])
    weight = _t(w, True)
    F.embedding(ember.tensor(idx), weight, padding_idx=2).sum().backward()
    expected = np.zeros_like(w)
    expected[[0, 4]] = 1
    np.testing.assert_array_equal(weight.grad.numpy(), expected)
    assert gradcheck(lambda w: F.embedding(ember.tensor(idx), w), (_t(w, True),))
    with pytest.raises(RuntimeError, match="'indices'"):
        F.embedding(_t([1.0]), _t(w))
    renormed = _t(w * 10)
    F.embedding(ember.tensor([1]), renormed, max_norm=1.0)
    assert np.linalg.norm(renormed.numpy()[1]) <= 1.0 + 1e-6
    np.testing.assert_array_equal(renormed.numpy()[0], w[0] * 10)  # unused rows untouched


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag(mode):
    rs = np.random.RandomState(8)
    w = rs.randn(6, 3)
    flat = np.array([1, 2, 4, 5, 4, 3])
    offsets = np.array([0, 2, 2])
    bags = [flat[0:2], flat[2:2], flat[2:]]
    reduce = {"sum": np.sum, "mean": np.mean, "max": np.max}[mode]
    ref = np.stack([reduce(w[b], 0) if len(b) else np.zeros(3) for b in bags])
    out = F.embedding_bag(ember.tensor(flat), _t(w), ember.tensor(offsets), mode=mode)
    np.testing.assert_allclose(out.numpy(), ref)
    assert gradcheck(lambda w: F.embedding_bag(ember.tensor(flat), w, ember.tensor(offsets),
                                               mode=mode), (_t(w, True),))
    psw = rs.rand(6)
    if mode == "sum":
        out = F.embedding_bag(ember.tensor(flat), _t(w), ember.tensor(offsets), mode="sum",
                              per_sample_weights=_t(psw))
        np.testing.assert_allclose(out.numpy()[0], (w[flat[:2]] * psw[:2, None]).sum(0))


def test_one_hot():
    out = F.one_hot(ember.tensor([0, 2, 1]))
    np.testing.assert_array_equal(out.numpy(), np.eye(3, dtype=np.int64)[[0, 2, 1]])
    assert out.dtype is ember.int64
    assert F.one_hot(ember.tensor([[1]]), 4).shape == (1, 1, 4)
    with pytest.raises(RuntimeError, match="Class values must be smaller than num_classes"):
        F.one_hot(ember.tensor([3]), 2)


def test_distances():
    rs = np.random.RandomState(9)
    a, b = rs.randn(4, 3), rs.randn(4, 3)
    np.testing.assert_allclose(F.pairwise_distance(_t(a), _t(b)).numpy(),
                               np.linalg.norm(a - b + 1e-6, axis=-1))
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    np.testing.assert_allclose(F.cosine_similarity(_t(a), _t(b)).numpy(), cos)
    np.testing.assert_allclose(F.normalize(_t(a)).numpy(),
                               a / np.linalg.norm(a, axis=1, keepdims=True))
    assert gradcheck(F.cosine_similarity, (_t(a, True), _t(b, True)))
    assert gradcheck(F.pairwise_distance, (_t(a, True), _t(b, True)))
    assert gradcheck(F.normalize, (_t(a, True),))


def test_gumbel_softmax():
    logits = ember.randn(5, 4)
    soft = F.gumbel_softmax(logits, tau=0.5)
    np.testing.assert_allclose(soft.sum(-1).numpy(), np.ones(5), rtol=1e-6)
    hard = F.gumbel_softmax(logits, hard=True).numpy()
    assert set(np.unique(hard)) <= {0.0, 1.0} and np.all(hard.sum(-1) == 1)
