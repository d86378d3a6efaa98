"""autograd.forward_ad against torch.autograd.forward_ad: the same functions on the same inputs
and tangents give the same primals and tangents, and the same errors."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import torch.autograd.forward_ad as tfw  # noqa: E402

import ember  # noqa: E402
import ember.autograd.forward_ad as efw  # noqa: E402

rng = np.random.default_rng(0)


def _both(lib, fw, fn, arrays, tangents):
    with fw.dual_level():
        duals = [fw.make_dual(lib.tensor(a), lib.tensor(t)) for a, t in zip(arrays, tangents)]
        primal, tangent = fw.unpack_dual(fn(lib, *duals))
        return primal.detach().numpy(), None if tangent is None else tangent.detach().numpy()


def _check(fn, shapes, dtype=np.float64, rtol=1e-10):
    arrays = [rng.uniform(0.2, 1.5, s).astype(dtype) for s in shapes]
    tangents = [rng.standard_normal(s).astype(dtype) for s in shapes]
    tp, tt = _both(torch, tfw, fn, arrays, tangents)
    ep, et = _both(ember, efw, fn, arrays, tangents)
    np.testing.assert_allclose(ep, tp, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(et, tt, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("fn", [
    lambda lib, x: x ** 2 + 1,
    lambda lib, x: lib.exp(x) * lib.sin(x) / (1 + x),
    lambda lib, x: lib.sigmoid(x).log() - lib.tanh(x).sqrt(),
    lambda lib, x: lib.where(x > 0.8, x ** 3, -x).clamp(-1.0, 1.0),
    lambda lib, x: x.sum(0) * x.amax(1, keepdim=True),
    lambda lib, x: x.T.reshape(-1)[1::2].cumprod(0),
    lambda lib, x: lib.nn.functional.softmax(x, dim=-1),
    lambda lib, x: lib.linalg.norm(x, dim=1),
])
def test_single_input(fn):
    _check(fn, [(3, 4)])


@pytest.mark.parametrize("fn, shapes", [
    (lambda lib, a, b: a @ b, [(3, 4), (4, 2)]),
    (lambda lib, a, b: a * b + a / b, [(3, 4), (4,)]),
    (lambda lib, a, b, c: lib.addmm(c, a, b).relu(), [(2, 3), (3, 4), (4,)]),
    (lambda lib, a, b: lib.stack([a, b]).prod(0).mean(), [(2, 2), (2, 2)]),
])
def test_several_inputs(fn, shapes):
    _check(fn, shapes)


def test_float32():
    _check(lambda lib, a, b: lib.tanh(a @ b).sum(1), [(4, 5), (5, 3)], dtype=np.float32,
           rtol=1e-5)


def _mlp(lib):
    return lib.nn.Sequential(lib.nn.Linear(4, 8), lib.nn.Tanh(), lib.nn.Linear(8, 8),
                             lib.nn.GELU(), lib.nn.Linear(8, 2)).double()


def test_mlp_parameters_through_functional_call():
    tm, em = _mlp(torch), _mlp(ember)
    state = {k: v.detach().numpy() for k, v in tm.state_dict().items()}
    tangents = {k: rng.standard_normal(v.shape) for k, v in state.items()}
    x = rng.standard_normal((6, 4))
    results = []
    for lib, fw, model, call in ((torch, tfw, tm, torch.func.functional_call),
                                 (ember, efw, em, ember.func.functional_call)):
        with fw.dual_level():
            duals = {k: fw.make_dual(lib.tensor(v), lib.tensor(tangents[k]))
                     for k, v in state.items()}
            out = call(model, duals, (lib.tensor(x),))
            results.append(fw.unpack_dual(out).tangent.detach().numpy())
    np.testing.assert_allclose(results[1], results[0], rtol=1e-10, atol=1e-12)


def test_mlp_input_tangent_with_parameters_requiring_grad():
    tm, em = _mlp(torch), _mlp(ember)
    em.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    x, v = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    results = []
    for lib, fw, model in ((torch, tfw, tm), (ember, efw, em)):
        with fw.dual_level():
            tangent = fw.unpack_dual(model(fw.make_dual(lib.tensor(x), lib.tensor(v)))).tangent
            tangent.pow(2).sum().backward()  # reverse mode through the tangent
        grads = [None if p.grad is None else p.grad.numpy() for p in model.parameters()]
        results.append([tangent.detach().numpy()] + grads)
    assert [r is None for r in results[1]] == [r is None for r in results[0]]
    for e, t in zip(results[1], results[0]):
        if t is not None:
            np.testing.assert_allclose(e, t, rtol=1e-9, atol=1e-12)


def _error(fw, lib, action):
    try:
        action(fw, lib)
    except Exception as e:  # noqa: BLE001  (the type and text are what is compared)
        return type(e), str(e).replace("torch.", "").replace("ember.", "")
    return None


@pytest.mark.parametrize("action", [
    lambda fw, lib: fw.make_dual(lib.ones(2), lib.ones(2)),
    lambda fw, lib: fw.exit_dual_level(),
])
def test_errors_outside_a_level(action):
    assert _error(efw, ember, action) == _error(tfw, torch, action)


@pytest.mark.parametrize("action", [
    lambda fw, lib: fw.make_dual(lib.ones(3), lib.ones(2)),
    lambda fw, lib: fw.make_dual(lib.ones(2, 3), lib.ones(3, 2)),
    lambda fw, lib: fw.make_dual(lib.arange(3), lib.ones(3)),
    lambda fw, lib: fw.make_dual(lib.ones(3), lib.arange(3)),
    lambda fw, lib: fw.make_dual(fw.make_dual(lib.ones(3), lib.ones(3)), lib.ones(3)),
    lambda fw, lib: fw.make_dual(fw.make_dual(lib.ones(3), lib.ones(3)).exp(), lib.ones(3)),
    lambda fw, lib: fw.enter_dual_level(),
    lambda fw, lib: fw.exit_dual_level(level=2),
])
def test_errors_inside_a_level(action):
    got = []
    for fw, lib in ((tfw, torch), (efw, ember)):
        with fw.dual_level():
            got.append(_error(fw, lib, action))
    assert got[0] is not None and got[1] == got[0]


def test_unpack_outside_and_after_a_level():
    for fw, lib in ((tfw, torch), (efw, ember)):
        x = lib.ones(2)
        assert fw.unpack_dual(x).tangent is None and fw.unpack_dual(x).primal is x
        with fw.dual_level():
            d = fw.make_dual(x, lib.ones(2))
            y = d * 2
        assert fw.unpack_dual(y).tangent is None and fw.unpack_dual(d).tangent is None
        assert type(fw.unpack_dual(x)).__name__ == "UnpackedDualTensor"
