"""Loss graph nodes have PyTorch's edges: no edge for a target or class weight the kernel takes
no gradient for (``next_functions`` without ``(None, 0)`` entries for them), and a class weight
or pos_weight that requires grad is refused as PyTorch refuses it; values against NumPy and
gradients with gradcheck in float64 are unchanged."""
import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember.autograd import gradcheck

RNG = np.random.default_rng(0)
X = RNG.standard_normal((4, 5))
T = np.array([0, 1, 2, 3])
W = RNG.random(5) + 0.5
P = RNG.random((4, 5)) * 0.8 + 0.1


def _x():
    return ember.tensor(X, requires_grad=True)


def _edges(loss):
    return [(None if fn is None else fn.name(), i) for fn, i in loss.grad_fn.next_functions]


ACC = ("torch::autograd::AccumulateGrad", 0)

CASES = {
    "nll": (lambda x: F.nll_loss(x, ember.tensor(T)), "NllLossBackward0", [ACC]),
    "nll weight": (lambda x: F.nll_loss(x, ember.tensor(T), weight=ember.tensor(W)),
                   "NllLossBackward0", [ACC]),
    "nll none": (lambda x: F.nll_loss(x, ember.tensor(T), reduction="none"),
                 "NllLossBackward0", [ACC]),
    "nll 2d": (lambda x: F.nll_loss(x.reshape(2, 5, 2), ember.tensor([[0, 1], [4, 3]])),
               "NllLoss2DBackward0", [("ViewBackward0", 0)]),
    "nll 3d": (lambda x: F.nll_loss(x.reshape(2, 5, 2), ember.tensor([[0, 1], [4, 3]])),
               "NllLoss2DBackward0", [("ViewBackward0", 0)]),  # a 4-d view of the reshape
    "nll 3d none": (lambda x: F.nll_loss(x.reshape(2, 5, 2), ember.tensor([[0, 1], [4, 3]]),
                                         reduction="none"),
                    "ViewBackward0", [("NllLoss2DBackward0", 0)]),
    "cross_entropy": (lambda x: F.cross_entropy(x, ember.tensor(T)), "NllLossBackward0", [ACC]),
    "cross_entropy weight": (lambda x: F.cross_entropy(x, ember.tensor(T),
                                                       weight=ember.tensor(W)),
                             "NllLossBackward0", [ACC]),
    "bce weight": (lambda x: F.binary_cross_entropy(x.sigmoid(), ember.tensor(P),
                                                    weight=ember.tensor(W)),
                   "BinaryCrossEntropyBackward0", [("SigmoidBackward0", 0), (None, 0)]),
    "bce with logits": (lambda x: F.binary_cross_entropy_with_logits(
        x, ember.tensor(P), weight=ember.tensor(W), pos_weight=ember.tensor(W)),
        "BinaryCrossEntropyWithLogitsBackward0", [ACC, (None, 0)]),
    "cross_entropy probabilities": (lambda x: F.cross_entropy(x, ember.tensor(P)),
                                    "DivBackward0", [("NegBackward0", 0), (None, 0)]),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_edges(case):
    fn, name, edges = case
    loss = fn(_x())
    assert loss.grad_fn.name() == name and _edges(loss) == edges


@pytest.mark.parametrize("shape", [(2, 5, 2), (1, 5, 2, 2, 1)])
def test_spatial_nll_values_and_gradients(shape):
    x = ember.tensor(X.reshape(shape), requires_grad=True)
    target = RNG.integers(0, 5, (shape[0],) + shape[2:])
    picked = -np.take_along_axis(X.reshape(shape), target[:, None], axis=1)[:, 0]
    out = F.nll_loss(x, ember.tensor(target), reduction="none")
    assert tuple(out.shape) == target.shape
    np.testing.assert_allclose(out.detach().numpy(), picked)
    np.testing.assert_allclose(F.nll_loss(x, ember.tensor(target)).item(), picked.mean())
    assert gradcheck(lambda x: F.nll_loss(x, ember.tensor(target), weight=ember.tensor(W),
                                          reduction="none"), (x,))


def test_values_against_numpy():
    logp = X - np.log(np.exp(X).sum(1, keepdims=True))
    picked = -logp[np.arange(4), T]
    np.testing.assert_allclose(F.cross_entropy(_x(), ember.tensor(T)).item(), picked.mean())
    weighted = F.cross_entropy(_x(), ember.tensor(T), weight=ember.tensor(W)).item()
    np.testing.assert_allclose(weighted, (picked * W[T]).sum() / W[T].sum())
    np.testing.assert_allclose(F.nll_loss(ember.tensor(logp), ember.tensor(T),
                                          reduction="none").numpy(), picked)
    bce = -(P * np.log(P) + (1 - P) * np.log(1 - P)) * W
    np.testing.assert_allclose(F.binary_cross_entropy(ember.tensor(P), ember.tensor(P),
                                                      weight=ember.tensor(W)).item(), bce.mean())
    soft = -(logp * P).sum() / 4
    np.testing.assert_allclose(F.cross_entropy(_x(), ember.tensor(P)).item(), soft)
    np.testing.assert_allclose(
        F.cross_entropy(_x(), ember.tensor(P), reduction="sum").item(), soft * 4)
    np.testing.assert_allclose(
        F.cross_entropy(_x(), ember.tensor(P), reduction="none").detach().numpy(),
        -(logp * P).sum(1))


GRADS = {
    "nll weight": lambda x: F.nll_loss(x, ember.tensor(T), weight=ember.tensor(W)),
    "nll 2d": lambda x: F.nll_loss(x.reshape(2, 5, 2), ember.tensor([[0, 1], [4, 3]]),
                                   weight=ember.tensor(W)),
    "cross_entropy weight": lambda x: F.cross_entropy(x, ember.tensor(T),
                                                      weight=ember.tensor(W)),
    "cross_entropy smoothing": lambda x: F.cross_entropy(x, ember.tensor(T),
                                                         weight=ember.tensor(W),
                                                         label_smoothing=0.2),
    "bce weight": lambda x: F.binary_cross_entropy(x.sigmoid(), ember.tensor(P),
                                                   weight=ember.tensor(W)),
    "bce with logits": lambda x: F.binary_cross_entropy_with_logits(
        x, ember.tensor(P), weight=ember.tensor(W), pos_weight=ember.tensor(W)),
}


@pytest.mark.parametrize("fn", GRADS.values(), ids=GRADS.keys())
def test_gradcheck(fn):
    assert gradcheck(fn, (_x(),))


def test_target_gradient_is_kept_where_pytorch_gives_one():
    target = ember.tensor(P, requires_grad=True)
    fn = lambda x, t: F.binary_cross_entropy_with_logits(  # noqa: E731
        x, t, pos_weight=ember.tensor(W))
    assert gradcheck(fn, (_x(), target))
    assert gradcheck(lambda p, t: F.binary_cross_entropy(p, t),
                     (ember.tensor(P, requires_grad=True), target))


REFUSED = {
    "nll_loss_forward": lambda w: F.nll_loss(_x(), ember.tensor(T), weight=w),
    "nll_loss2d_forward": lambda w: F.cross_entropy(
        _x().reshape(2, 5, 2), ember.tensor([[0, 1], [4, 3]]), weight=w),
    "binary_cross_entropy": lambda w: F.binary_cross_entropy(
        ember.tensor(P), ember.tensor(P), weight=w),
    "binary_cross_entropy_with_logits": lambda w: F.binary_cross_entropy_with_logits(
        _x(), ember.tensor(P), weight=w),
}


@pytest.mark.parametrize("kernel", REFUSED)
def test_weight_requiring_grad_is_refused(kernel):
    w = ember.tensor(W, requires_grad=True)
    with pytest.raises(RuntimeError, match=f"The function '{kernel}' is not differentiable "
                                           "with respect to argument 'weight'"):
        REFUSED[kernel](w)
    with ember.no_grad():
        REFUSED[kernel](w)  # without grad mode there is no graph to refuse


def test_pos_weight_requiring_grad_is_refused():
    with pytest.raises(RuntimeError, match="argument 'pos_weight'"):
        F.binary_cross_entropy_with_logits(_x(), ember.tensor(P),
                                           pos_weight=ember.tensor(W, requires_grad=True))


def test_cross_entropy_probabilities_keep_the_class_weight_differentiable():
    w = ember.tensor(W, requires_grad=True)
    assert gradcheck(lambda x, w: F.cross_entropy(x, ember.tensor(P), weight=w), (_x(), w))
