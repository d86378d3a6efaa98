"""The Optimizer base: groups, zero_grad, in-place updates, state_dict round trips and resume,
hooks, errors, and the seed introduction's update loops."""
import io

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
import ember.optim as optim
from ember.optim.optimizer import (
    register_optimizer_step_post_hook,
    register_optimizer_step_pre_hook,
)


def _quadratic_step(opt, params, target=1.0):
    opt.zero_grad()
    loss = sum(((p - target) ** 2).sum() for p in params)
    loss.backward()
    opt.step()
    return loss


def _params(seed=0, dtype=ember.float64):
    rng = np.random.default_rng(seed)
    return [ember.tensor(rng.standard_normal((3, 2)), dtype=dtype, requires_grad=True),
            ember.tensor(rng.standard_normal(2), dtype=dtype, requires_grad=True)]


ALL = [(optim.SGD, dict(lr=0.1, momentum=0.9)), (optim.Adam, dict(lr=0.1, amsgrad=True)),
       (optim.AdamW, dict(lr=0.1)), (optim.Adamax, dict(lr=0.1)), (optim.NAdam, dict(lr=0.1)),
       (optim.RAdam, dict(lr=0.1)), (optim.Adagrad, dict(lr=0.1)), (optim.Adadelta, dict()),
       (optim.RMSprop, dict(lr=0.01, centered=True, momentum=0.5)), (optim.Rprop, dict()),
       (optim.ASGD, dict(lr=0.1, t0=2))]


@pytest.mark.parametrize("cls,kwargs", ALL, ids=[c.__name__ for c, _ in ALL])
def test_checkpoint_resumes_bit_for_bit(cls, kwargs):
    # Run A: 10 steps straight. Run B: 4 steps, save, load into fresh objects, 6 more steps.
    pa = _params()
    oa = cls(pa, **kwargs)
    for _ in range(10):
        _quadratic_step(oa, pa)
    pb = _params()
    ob = cls(pb, **kwargs)
    for _ in range(4):
        _quadratic_step(ob, pb)
    buf = io.BytesIO()
    ember.save({"params": [p.detach() for p in pb], "optim": ob.state_dict()}, buf)
    buf.seek(0)
    ckpt = ember.load(buf)
    pc = [t.clone().requires_grad_() for t in ckpt["params"]]
    oc = cls(_params(seed=5), **kwargs)  # a different start: everything must come from ckpt
    oc = cls(pc, **kwargs)
    oc.load_state_dict(ckpt["optim"])
    for _ in range(6):
        _quadratic_step(oc, pc)
    for a, c in zip(pa, pc):
        assert np.array_equal(a.detach().numpy(), c.detach().numpy())


def test_state_dict_layout():
    w, b = _params()
    extra = ember.zeros(4, requires_grad=True)
    opt = optim.SGD([{"params": [w, b]}, {"params": [extra], "lr": 0.5}], lr=0.1, momentum=0.9)
    _quadratic_step(opt, [w, b])
    sd = opt.state_dict()
    assert sorted(sd) == ["param_groups", "state"]
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2]]
    assert sd["param_groups"][1]["lr"] == 0.5 and sd["param_groups"][0]["momentum"] == 0.9
    assert list(sd["state"]) == [0, 1]  # `extra` had no gradient: no state
    assert set(sd["state"][0]) == {"momentum_buffer"}
    plain = optim.SGD([w], lr=0.1)
    _quadratic_step(plain, [w])
    assert plain.state_dict()["state"] == {}  # SGD without momentum keeps no state


def test_load_state_dict_errors_and_casts():
    w, b = _params()
    opt = optim.Adam([w, b], lr=0.1)
    _quadratic_step(opt, [w, b])
    sd = opt.state_dict()
    with pytest.raises(ValueError, match="different number of parameter groups"):
        optim.Adam([{"params": [w]}, {"params": [b]}]).load_state_dict(sd)
    with pytest.raises(ValueError, match="doesn't match the size"):
        optim.Adam([w]).load_state_dict(sd)
    w32, b32 = _params(dtype=ember.float32)
    o32 = optim.Adam([w32, b32])
    o32.load_state_dict(sd)
    assert o32.state[w32]["exp_avg"].dtype == ember.float32
    assert o32.state[w32]["step"].dtype == sd["state"][0]["step"].dtype  # 'step' is not cast
    assert o32.param_groups[0]["lr"] == 0.1 and o32.param_groups[0]["params"] == [w32, b32]


def test_updates_are_in_place_and_views_see_them():
    w = ember.zeros(4, requires_grad=True)
    view = w.detach()[1:3]
    opt = optim.SGD([w], lr=0.5)
    data_before = w._data
    w.grad = ember.ones(4)
    version = w._version
    opt.step()
    assert w._data is data_before
    np.testing.assert_array_equal(view.numpy(), [-0.5, -0.5])
    assert w._version > version
    assert w.grad_fn is None and ember.is_grad_enabled()


def test_step_skips_params_without_grad_and_zero_grad():
    a, b = _params()
    opt = optim.Adam([a, b], lr=0.1)
    a.grad = ember.ones_like(a)
    before = b.detach().clone()
    opt.step()
    assert np.array_equal(b.detach().numpy(), before.numpy()) and b not in opt.state
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(a.grad.numpy(), np.zeros((3, 2)))
    opt.zero_grad()
    assert a.grad is None


def test_maximize_ascends():
    p = ember.zeros(2, requires_grad=True)
    opt = optim.SGD([p], lr=0.1, maximize=True)
    p.grad = ember.tensor([1.0, -2.0])
    opt.step()
    np.testing.assert_allclose(p.detach().numpy(), [0.1, -0.2])


def test_closure_loss_is_returned():
    p = ember.tensor([2.0], requires_grad=True)
    opt = optim.SGD([p], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    with ember.no_grad():  # the closure still records a graph
        loss = opt.step(closure)
    assert float(loss) == 4.0
    np.testing.assert_allclose(p.detach().numpy(), [1.0])


def test_param_groups_and_add_param_group():
    a, b = _params()
    opt = optim.SGD([{"params": a}, {"params": [b], "lr": 1.0}], lr=0.1, momentum=0.5)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 1.0]
    assert opt.param_groups[1]["momentum"] == 0.5
    c = ember.zeros(1, requires_grad=True)
    opt.add_param_group({"params": c, "lr": 0.3})
    assert opt.param_groups[2]["params"] == [c] and opt.param_groups[2]["nesterov"] is False
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})
    a.grad, b.grad = ember.ones_like(a), ember.ones_like(b)
    opt.step()
    np.testing.assert_allclose(b.detach().numpy(), _params()[1].detach().numpy() - 1.0)
    assert "Parameter Group 2" in repr(opt) and "lr: 0.3" in repr(opt)


def test_errors():
    p = ember.zeros(2, requires_grad=True)
    with pytest.raises(TypeError, match="iterable of Tensors or dicts, but got torch.FloatTensor"):
        optim.SGD(p, lr=0.1)
    with pytest.raises(TypeError):
        optim.SGD(3, lr=0.1)
    with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
        optim.Adam([])
    with pytest.raises(ValueError, match="Invalid learning rate: -0.1"):
        optim.SGD([p], lr=-0.1)
    for cls in (optim.Adam, optim.AdamW, optim.RMSprop, optim.Adagrad, optim.Rprop,
                optim.LBFGS, optim.NAdam, optim.RAdam, optim.Adamax, optim.Adadelta,
                optim.ASGD):
        with pytest.raises(ValueError, match="Invalid learning rate"):
            cls([p], lr=-1.0)
    with pytest.raises(ValueError, match="Invalid beta parameter at index 1: 1.0"):
        optim.Adam([p], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="Nesterov momentum requires a momentum"):
        optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(TypeError, match="ordered collections"):
        optim.SGD([{"params": {p}}], lr=0.1)
    with pytest.raises(TypeError, match="can only optimize Tensors"):
        optim.SGD([p, 1.0], lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([p * 2], lr=0.1)
    with pytest.warns(UserWarning, match="duplicate parameters"):
        optim.SGD([p, p], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1)
    with pytest.raises(ValueError, match="LBFGS doesn't support per-parameter options"):
        optim.LBFGS([{"params": [p]}, {"params": [ember.zeros(1, requires_grad=True)]}])


def test_step_hooks():
    p = ember.zeros(2, requires_grad=True)
    p.grad = ember.ones(2)
    opt = optim.SGD([p], lr=1.0)
    calls = []
    h1 = opt.register_step_pre_hook(lambda o, args, kwargs: calls.append(("pre", float(p[0]))))
    h2 = opt.register_step_post_hook(lambda o, args, kwargs: calls.append(("post", float(p[0]))))
    g = register_optimizer_step_pre_hook(lambda o, args, kwargs: calls.append(("global", o)))
    try:
        opt.step()
    finally:
        g.remove()
    assert calls == [("global", opt), ("pre", 0.0), ("post", -1.0)]
    h1.remove()
    h2.remove()
    opt.step()
    assert len(calls) == 3


def test_hooks_wrap_overridden_steps_once():
    class Halve(optim.Optimizer):
        def __init__(self, params):
            super().__init__(params, {"lr": 0.5})

        @ember.no_grad()
        def step(self, closure=None):
            for group in self.param_groups:
                for p in group["params"]:
                    self.state[p]["n"] = self.state[p].get("n", 0) + 1
                    p.mul_(group["lr"])

    p = ember.ones(2, requires_grad=True)
    opt = Halve([p])
    seen = []
    opt.register_step_post_hook(lambda o, a, k: seen.append(1))
    post = register_optimizer_step_post_hook(lambda o, a, k: seen.append(2))
    try:
        opt.step()
    finally:
        post.remove()
    assert seen == [1, 2] and opt.state[p]["n"] == 1
    np.testing.assert_array_equal(p.detach().numpy(), [0.5, 0.5])
    assert opt.state_dict()["state"] == {0: {"n": 1}}


def test_seed_introduction_updates():
    class Net(nn.Module):
        def __init__(self):
            super(Net, self).__init__()
            self.conv1 = nn.Conv2d(1, 6, 5)
            self.conv2 = nn.Conv2d(6, 16, 5)
            self.fc1 = nn.Linear(16 * 5 * 5, 120)
            self.fc2 = nn.Linear(120, 84)
            self.fc3 = nn.Linear(84, 10)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv1(x)), (2, 2))
            x = F.max_pool2d(F.relu(self.conv2(x)), 2)
            x = x.view(-1, 16 * 5 * 5)
            x = F.relu(self.fc1(x))
            x = F.relu(self.fc2(x))
            return self.fc3(x)

    net = Net()
    input = ember.randn(1, 1, 32, 32)
    target = ember.arange(1, 11, dtype=ember.float32).view(1, -1)
    criterion = nn.MSELoss()

    net.zero_grad()
    loss = criterion(net(input), target)
    loss.backward()
    before = [f.detach().clone() for f in net.parameters()]
    learning_rate = 0.01
    for f in net.parameters():
        f.data.sub_(f.grad.data * learning_rate)
    for f, b in zip(net.parameters(), before):
        np.testing.assert_allclose(f.detach().numpy(), b.numpy() - 0.01 * f.grad.numpy(),
                                   rtol=1e-6, atol=1e-7)

    optimizer = optim.SGD(net.parameters(), lr=0.01)
    losses = []
    for _ in range(5):
        optimizer.zero_grad()
        output = net(input)
        loss = criterion(output, target)
        loss.backward()
        optimizer.step()
        losses.append(float(loss))
    assert losses[-1] < losses[0]


# Each optimizer plain, and with weight decay and maximize (Rprop has no weight decay).
PIECES = [(cls, kwargs) for cls, kwargs in ALL] + [
    (cls, dict(kwargs, weight_decay=0.1, maximize=True)) for cls, kwargs in ALL
    if cls is not optim.Rprop]


@pytest.mark.parametrize("cls,kwargs", PIECES, ids=[c.__name__ for c, _ in PIECES])
def test_updates_in_pieces_and_threads_are_bit_identical(cls, kwargs, monkeypatch):
    # Splitting arrays into pieces (ember.backend.fused's cache blocking) and parameters
    # between threads (NOTE [ Parallel updates ]) must not change a bit; a non-contiguous
    # parameter is updated whole.
    import ember.optim.optimizer as base
    from ember.backend import fused
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal((7, 5)), rng.standard_normal(1),
              np.asfortranarray(rng.standard_normal((4, 6)))]
    grads = [[rng.standard_normal(a.shape) for a in arrays] for _ in range(4)]
    runs = []
    for chunk, parallel in ((1 << 15, 1 << 20), (4, 1 << 20), (3, 8)):
        monkeypatch.setattr(fused, "BLOCK", chunk)
        monkeypatch.setattr(base, "_PARALLEL_MIN_VALUES", parallel)
        params = [ember.tensor(a, requires_grad=True) for a in arrays]
        opt = cls(params, **kwargs)
        for step_grads in grads:
            for p, g in zip(params, step_grads):
                p.grad = ember.tensor(g)
            opt.step()
        runs.append(([p.detach().numpy() for p in params],
                     [{k: np.asarray(v) for k, v in opt.state[p].items()} for p in params]))
    (ref, ref_state), *others = runs
    for values, state in others:
        for a, b in zip(values, ref):
            np.testing.assert_array_equal(a, b)
        for s, r in zip(state, ref_state):
            assert s.keys() == r.keys()
            for k in s:
                np.testing.assert_array_equal(s[k], r[k], err_msg=k)


@pytest.mark.parametrize("name,kwargs", [
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("Adam", dict(lr=0.01, amsgrad=True)), ("AdamW", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5)), ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, initial_accumulator_value=0.5)), ("Rprop", dict(lr=0.01)),
    ("Rprop", dict(lr=0.01, maximize=True)),
])
def test_complex_parameters_update_as_real_pairs(name, kwargs):
    """PyTorch's definition: a complex parameter steps as its view_as_real twin would."""
    rng = np.random.default_rng(0)
    start = rng.standard_normal((3, 2, 2))
    grads = [rng.standard_normal((3, 2, 2)) for _ in range(4)]
    complex_p = ember.tensor(start[..., 0] + 1j * start[..., 1], requires_grad=True)
    real_p = ember.tensor(start, requires_grad=True)
    opts = [getattr(ember.optim, name)([q], **kwargs) for q in (complex_p, real_p)]
    for g in grads:
        complex_p.grad = ember.tensor(g[..., 0] + 1j * g[..., 1])
        real_p.grad = ember.tensor(g)
        for opt in opts:
            opt.step()
    np.testing.assert_allclose(ember.view_as_real(complex_p.detach()).numpy(),
                               real_p.detach().numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_lbfgs_complex_parameter_steps_as_real_pairs(line_search_fn):
    """L-BFGS flattens a complex parameter into its (real, imaginary) pairs, as PyTorch's does."""
    start = np.random.default_rng(1).standard_normal((4, 2))
    weights = ember.tensor([[1.0, 3.0], [0.5, 2.0], [1.5, 0.7], [2.5, 1.1]])

    def minimise(p, pairs):
        opt = ember.optim.LBFGS([p], max_iter=5, line_search_fn=line_search_fn)

        def closure():
            opt.zero_grad()
            loss = (weights * pairs(p) ** 2).sum() + pairs(p).sin().sum()
            loss.backward()
            return loss
        for _ in range(3):
            opt.step(closure)
        return pairs(p.detach()).numpy()

    complex_p = ember.tensor(start[:, 0] + 1j * start[:, 1], requires_grad=True)
    real_p = ember.tensor(start, requires_grad=True)
    np.testing.assert_allclose(minimise(complex_p, ember.view_as_real),
                               minimise(real_p, lambda p: p), rtol=1e-12, atol=1e-14)
