"""smooth_l1, huber, soft_margin, multi_margin and multilabel_margin losses are one fused node
each, as in PyTorch: values against NumPy oracles, gradients with gradcheck and gradgradcheck in
float64, and the node's name, edges and saved values."""
import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember.autograd import gradcheck, gradgradcheck

RNG = np.random.default_rng(11)
X = RNG.standard_normal((4, 5))
T = RNG.standard_normal((4, 5))
SIGNS = np.sign(RNG.standard_normal((4, 5)))
Y = np.array([0, 4, 2, 2])
W = RNG.random(5) + 0.5
ML = np.array([[1, 3, -1, 0, 2], [0, -1, 1, 1, 1], [4, 4, 0, -1, -1], [-1, 2, 2, 2, 2]])
REDUCTIONS = ("mean", "sum", "none")


def _reduce(loss, reduction):
    return {"mean": np.mean, "sum": np.sum, "none": np.asarray}[reduction](loss)


def _smooth_l1(x, t, beta):
    d = np.abs(x - t)
    return np.where(d < beta, 0.5 * d * d / beta, d - 0.5 * beta)


def _huber(x, t, delta):
    d = np.abs(x - t)
    return np.where(d < delta, 0.5 * d * d, delta * (d - 0.5 * delta))


def _soft_margin(x, t):
    return np.log1p(np.exp(-t * x))


def _multi_margin(x, y, p, margin, w):
    loss = np.zeros(len(y))
    for n, (row, c) in enumerate(zip(x, y)):
        for i in range(len(row)):
            if i != c:
                loss[n] += max(0.0, margin - row[c] + row[i]) ** p * (1 if w is None else w[c])
    return loss / x.shape[1]


def _multilabel_margin(x, target):
    loss = np.zeros(len(x))
    for n, (row, tgt) in enumerate(zip(x, target)):
        js = []
        for j in tgt:
            if j == -1:
                break
            js.append(j)
        for j in js:
            for i in range(len(row)):
                if i not in js:
                    loss[n] += max(0.0, 1 - (row[j] - row[i]))
    return loss / x.shape[1]


# name -> (ember loss of (x, reduction), NumPy oracle of reduction, node name, saved scalars)
CASES = {
    "smooth_l1": (lambda x, r: F.smooth_l1_loss(x, ember.tensor(T), reduction=r, beta=0.7),
                  lambda r: _reduce(_smooth_l1(X, T, 0.7), r), "SmoothL1LossBackward0",
                  {"beta": 0.7}),
    "huber": (lambda x, r: F.huber_loss(x, ember.tensor(T), reduction=r, delta=0.6),
              lambda r: _reduce(_huber(X, T, 0.6), r), "HuberLossBackward0", {"delta": 0.6}),
    "soft_margin": (lambda x, r: F.soft_margin_loss(x, ember.tensor(SIGNS), reduction=r),
                    lambda r: _reduce(_soft_margin(X, SIGNS), r), "SoftMarginLossBackward0", {}),
    "multi_margin p1": (lambda x, r: F.multi_margin_loss(x, ember.tensor(Y), reduction=r,
                                                         margin=0.9),
                        lambda r: _reduce(_multi_margin(X, Y, 1, 0.9, None), r),
                        "MultiMarginLossBackward0", {"p": 1, "margin": 0.9}),
    "multi_margin p2 weight": (lambda x, r: F.multi_margin_loss(
                                   x, ember.tensor(Y), p=2, weight=ember.tensor(W), reduction=r),
                               lambda r: _reduce(_multi_margin(X, Y, 2, 1.0, W), r),
                               "MultiMarginLossBackward0", {"p": 2, "margin": 1.0}),
    "multilabel_margin": (lambda x, r: F.multilabel_margin_loss(x, ember.tensor(ML),
                                                                reduction=r),
                          lambda r: _reduce(_multilabel_margin(X, ML), r),
                          "MultilabelMarginLossBackward0", {}),
}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", list(CASES))
def test_value_node_and_saved(case, reduction):
    fn, oracle, node, scalars = CASES[case]
    x = ember.tensor(X, requires_grad=True)
    loss = fn(x, reduction)
    np.testing.assert_allclose(loss.detach().numpy(), oracle(reduction), rtol=1e-12, atol=1e-12)
    assert loss.grad_fn.name() == node
    assert loss.grad_fn.next_functions[0][0].name() == "torch::autograd::AccumulateGrad"
    # smooth_l1 and huber take a gradient for the target, the others none
    assert len(loss.grad_fn.next_functions) == (2 if case in ("smooth_l1", "huber") else 1)
    assert loss.grad_fn._saved_self is x
    assert loss.grad_fn._saved_reduction == {"none": 0, "mean": 1, "sum": 2}[reduction]
    for key, value in scalars.items():
        assert getattr(loss.grad_fn, "_saved_" + key) == value


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", list(CASES))
def test_gradcheck_and_gradgradcheck(case, reduction):
    fn = CASES[case][0]
    # away from the kinks, where central differences are exact enough
    x = ember.tensor(X * 1.37 + 0.05, requires_grad=True)
    assert gradcheck(lambda a: fn(a, reduction), (x,))
    assert gradgradcheck(lambda a: fn(a, reduction), (x,))


@pytest.mark.parametrize("fn", [F.smooth_l1_loss, F.huber_loss])
def test_target_gradient(fn):
    x = ember.tensor(X, requires_grad=True)
    t = ember.tensor(T * 0.9 + 0.3, requires_grad=True)
    assert gradcheck(lambda a, b: fn(a, b), (x, t))
    assert gradgradcheck(lambda a, b: fn(a, b, reduction="sum"), (x, t))


def test_smooth_l1_beta_zero_is_l1():
    x = ember.tensor(X, requires_grad=True)
    loss = F.smooth_l1_loss(x, ember.tensor(T), beta=0.0)
    assert loss.grad_fn.name() == "MeanBackward0"
    np.testing.assert_allclose(loss.item(), np.abs(X - T).mean(), rtol=1e-12)


def test_soft_margin_broadcast_target_keeps_input_dtype():
    x = ember.tensor(X.astype(np.float32), requires_grad=True)
    t = ember.tensor(SIGNS[0])  # float64, broadcast over the rows
    loss = F.soft_margin_loss(x, t, reduction="none")
    assert loss.dtype is ember.float32 and loss.shape == (4, 5)
    assert loss.grad_fn._saved_target.shape == (5,)
    np.testing.assert_allclose(loss.detach().numpy(), _soft_margin(X, SIGNS[0]), rtol=1e-6)
    loss.sum().backward()
    assert x.grad.dtype is ember.float32
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        F.soft_margin_loss(x, ember.ones(2, 4, 5))
    with pytest.raises(RuntimeError, match="not differentiable with respect to argument"):
        F.soft_margin_loss(x, ember.ones(4, 5, requires_grad=True))


@pytest.mark.parametrize("p", [1, 2])
def test_multi_margin_unbatched_and_empty(p):
    x = ember.tensor(X[0], requires_grad=True)
    for target in (ember.tensor(3), ember.tensor([3])):
        loss = F.multi_margin_loss(x, target, p=p, reduction="none")
        assert loss.shape == target.shape
        np.testing.assert_allclose(loss.detach().numpy().reshape(-1),
                                   _multi_margin(X[:1], [3], p, 1.0, None), rtol=1e-12)
        assert gradcheck(lambda a, t=target: F.multi_margin_loss(a, t, p=p), (x,))
    empty = ember.zeros(0, 3, dtype=ember.float64, requires_grad=True)
    loss = F.multi_margin_loss(empty, ember.zeros(0, dtype=ember.int64), p=p)
    assert loss.item() == 0.0
    loss.backward()
    assert empty.grad.shape == (0, 3)


def test_multilabel_margin_unbatched_and_empty():
    x = ember.tensor(X[0], requires_grad=True)
    loss = F.multilabel_margin_loss(x, ember.tensor(ML[0]), reduction="none")
    assert loss.shape == ()
    assert loss.grad_fn._saved_is_target.shape == (5,)
    np.testing.assert_allclose(loss.item(), _multilabel_margin(X[:1], ML[:1])[0], rtol=1e-12)
    assert gradcheck(lambda a: F.multilabel_margin_loss(a, ember.tensor(ML[0])), (x,))
    empty = ember.zeros(0, 3, dtype=ember.float64, requires_grad=True)
    loss = F.multilabel_margin_loss(empty, ember.zeros(0, 3, dtype=ember.int64))
    assert loss.item() == 0.0
