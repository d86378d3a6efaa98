"""smooth_l1, huber, soft_margin, multi_margin and multilabel_margin losses against PyTorch: one
fused node each with PyTorch's name, edges and ``_saved_*`` values, the same values and the same
gradients, for every reduction."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import ember  # noqa: E402
import ember.nn.functional as F  # noqa: E402

RNG = np.random.default_rng(2)
REDUCTIONS = ("mean", "sum", "none")


def _x(*shape):
    return np.asarray(RNG.standard_normal(shape))


# name -> (F name, args after the input, keyword arguments); ndarrays become tensors
CASES = {
    "smooth_l1": ("smooth_l1_loss", (_x(3, 4),), {"beta": 0.5}),
    "smooth_l1 broadcast": ("smooth_l1_loss", (_x(4),), {"beta": 2.0}),
    "smooth_l1 beta 0": ("smooth_l1_loss", (_x(3, 4),), {"beta": 0.0}),
    "huber": ("huber_loss", (_x(3, 4),), {"delta": 0.7}),
    "huber 1d": ("huber_loss", (_x(4),), {}),
    "soft_margin": ("soft_margin_loss", (np.sign(_x(3, 4)),), {}),
    "soft_margin broadcast": ("soft_margin_loss", (np.sign(_x(4)) * 3,), {}),
    "multi_margin p1": ("multi_margin_loss", (np.array([0, 3, 1]),), {"margin": 0.8}),
    "multi_margin p2 weight": ("multi_margin_loss", (np.array([2, 2, 0]),),
                               {"p": 2, "weight": RNG.random(4)}),
    "multi_margin 1d t0": ("multi_margin_loss", (np.array(1),), {}),
    "multilabel_margin": ("multilabel_margin_loss",
                          (np.array([[1, 2, -1, 0], [0, -1, 1, 1], [3, 3, -1, -1]]),), {}),
}
INPUT = {name: _x(4) if "1d" in name else _x(3, 4) for name in CASES}


def _run(lib, name, reduction):
    fn, args, kwargs = CASES[name]
    x = lib.tensor(INPUT[name], requires_grad=True)
    args = [lib.tensor(a) for a in args]
    kwargs = {k: lib.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    module = torch.nn.functional if lib is torch else F
    return x, getattr(module, fn)(x, *args, reduction=reduction, **kwargs)


def _node(fn):
    return None if fn is None else type(fn).__name__


@pytest.mark.filterwarnings("ignore:Using a target size")
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", list(CASES))
def test_matches_torch(name, reduction):
    tx, want = _run(torch, name, reduction)
    ex, got = _run(ember, name, reduction)
    assert _node(got.grad_fn) == _node(want.grad_fn)
    assert ([(_node(f), i) for f, i in got.grad_fn.next_functions]
            == [(_node(f), i) for f, i in want.grad_fn.next_functions])
    saved = sorted(a for a in dir(want.grad_fn) if a.startswith("_saved_"))
    assert set(saved) <= set(dir(got.grad_fn))
    for attr in saved:
        w, g = getattr(want.grad_fn, attr), getattr(got.grad_fn, attr)
        if isinstance(w, torch.Tensor):
            np.testing.assert_array_equal(g.detach().numpy(), w.detach().numpy())
        else:
            assert g == w, attr
    assert tuple(got.shape) == tuple(want.shape)
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-12,
                               atol=1e-12)
    seed = np.asarray(RNG.standard_normal(tuple(want.shape)))
    want_grad, = torch.autograd.grad(want, tx, torch.tensor(seed), create_graph=True)
    got_grad, = ember.autograd.grad(got, ex, ember.tensor(seed), create_graph=True)
    np.testing.assert_allclose(got_grad.detach().numpy(), want_grad.detach().numpy(),
                               rtol=1e-12, atol=1e-12)
    if want_grad.grad_fn is not None and not name.startswith("multi"):
        # second derivatives where PyTorch has them (not for the multi-class margin losses)
        probe = np.asarray(RNG.standard_normal(INPUT[name].shape))
        want2, = torch.autograd.grad((want_grad * torch.tensor(probe)).sum(), tx,
                                     allow_unused=True)
        got2, = ember.autograd.grad((got_grad * ember.tensor(probe)).sum(), ex,
                                    allow_unused=True)
        if want2 is None:
            assert got2 is None or not got2.detach().numpy().any()
        else:
            np.testing.assert_allclose(got2.detach().numpy(), want2.numpy(force=True), rtol=1e-12,
                                       atol=1e-12)


def test_soft_margin_target_requires_grad_refused_as_torch():
    x = np.ones((2, 3))
    with pytest.raises(RuntimeError) as want:
        torch.nn.functional.soft_margin_loss(torch.tensor(x, requires_grad=True),
                                             torch.tensor(x, requires_grad=True))
    with pytest.raises(RuntimeError) as got:
        F.soft_margin_loss(ember.tensor(x, requires_grad=True),
                           ember.tensor(x, requires_grad=True))
    assert str(got.value) == str(want.value)


def test_soft_margin_dtype_and_broadcast_as_torch():
    x = np.ones((2, 3), np.float32)
    want = torch.nn.functional.soft_margin_loss(torch.tensor(x), torch.ones(3, dtype=torch.float64))
    got = F.soft_margin_loss(ember.tensor(x), ember.ones(3, dtype=ember.float64))
    assert str(want.dtype) == str(got.dtype)
    with pytest.raises(RuntimeError) as want:
        torch.nn.functional.soft_margin_loss(torch.tensor(x), torch.ones(4, 2, 3))
    with pytest.raises(RuntimeError) as got:
        F.soft_margin_loss(ember.tensor(x), ember.ones(4, 2, 3))
    assert str(got.value) == str(want.value)
