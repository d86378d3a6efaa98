"""ember.nn.init: bounds and moments of each scheme, fans, gains, in place without grad."""
import math

import numpy as np
import pytest

import ember
import ember.nn as nn
from ember.nn import init


def _w(*shape):
    return nn.Parameter(ember.empty(*shape))


def test_calculate_gain():
    assert init.calculate_gain("linear") == 1
    assert init.calculate_gain("conv2d") == 1
    assert init.calculate_gain("sigmoid") == 1
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01 ** 2)))
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    assert init.calculate_gain("selu") == 0.75
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="not a valid number"):
        init.calculate_gain("leaky_relu", "x")


def test_fans():
    assert init._calculate_fan_in_and_fan_out(ember.empty(8, 4, 3, 3)) == (36, 72)
    assert init._calculate_fan_in_and_fan_out(ember.empty(5, 7)) == (7, 5)
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(ember.empty(3))


def test_inits_are_in_place_and_leave_no_graph():
    w = _w(20, 30)
    for fn in (init.uniform_, init.normal_, init.xavier_uniform_, init.xavier_normal_,
               init.kaiming_uniform_, init.kaiming_normal_, init.orthogonal_, init.ones_,
               init.zeros_, init.eye_):
        out = fn(w)
        assert out is w and w.grad_fn is None and w.requires_grad
    assert init.constant_(w, 0.5) is w and float(w.mean()) == 0.5


def test_uniform_bounds():
    w = init.uniform_(ember.empty(100, 100), -0.2, 0.3).numpy()
    assert w.min() >= -0.2 and w.max() <= 0.3 and w.min() < -0.19 and w.max() > 0.29
    w = init.xavier_uniform_(ember.empty(60, 40), gain=2.0).numpy()
    bound = 2.0 * math.sqrt(6 / 100)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    w = init.kaiming_uniform_(ember.empty(50, 80, 2), a=math.sqrt(5)).numpy()
    bound = 1 / math.sqrt(160)  # the Linear/Conv default: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    w = init.kaiming_uniform_(ember.empty(50, 80), mode="fan_out", nonlinearity="relu").numpy()
    bound = math.sqrt(2) * math.sqrt(3 / 50)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound


def test_normal_stds():
    w = init.normal_(ember.empty(200, 200), 1.0, 0.5).numpy()
    assert abs(w.mean() - 1.0) < 0.01 and abs(w.std() - 0.5) < 0.01
    w = init.xavier_normal_(ember.empty(300, 100)).numpy()
    assert abs(w.std() - math.sqrt(2 / 400)) < 0.002
    w = init.kaiming_normal_(ember.empty(300, 200), nonlinearity="relu").numpy()
    assert abs(w.std() - math.sqrt(2 / 200)) < 0.002
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_normal_(ember.empty(3, 3), mode="fan_avg")


def test_trunc_normal():
    w = init.trunc_normal_(ember.empty(200, 200), mean=0.5, std=1.0, a=-0.5, b=1.0).numpy()
    assert w.min() >= -0.5 and w.max() <= 1.0
    # mean of N(0.5, 1) truncated to [-0.5, 1]: mu + (phi(alpha) - phi(beta)) / Z
    from scipy.stats import truncnorm
    assert abs(w.mean() - truncnorm.mean(-1.0, 0.5, loc=0.5)) < 0.01


def test_orthogonal_eye_dirac_sparse():
    for shape in ((6, 4), (4, 6), (3, 2, 2)):
        w = init.orthogonal_(ember.empty(*shape), gain=2.0).numpy().reshape(shape[0], -1)
        small = min(w.shape)
        gram = w @ w.T if w.shape[0] == small else w.T @ w
        np.testing.assert_allclose(gram, 4 * np.eye(small), atol=1e-5)
    np.testing.assert_array_equal(init.eye_(ember.empty(2, 3)).numpy(), np.eye(2, 3))
    d = init.dirac_(ember.empty(3, 2, 3, 3)).numpy()
    expected = np.zeros((3, 2, 3, 3))
    expected[0, 0, 1, 1] = expected[1, 1, 1, 1] = 1
    np.testing.assert_array_equal(d, expected)
    w = init.sparse_(ember.empty(10, 6), sparsity=0.3).numpy()
    assert np.all((w == 0).sum(0) >= 3)
    with pytest.raises(ValueError, match="Only tensors with 2 dimensions"):
        init.sparse_(ember.empty(3), 0.1)
