"""ember.optim.Muon against torch.optim.Muon: the same trajectories, errors and checkpoints.

# NOTE [ Muon's bfloat16 ties ]
PyTorch runs the Newton-Schulz iteration in bfloat16 whatever the parameter's dtype; its
products accumulate in float32 in an order that its BLAS picks, so where a float32 sum lies
within a float32 rounding of a bfloat16 rounding boundary (a few in a million products) the
two libraries round it to neighbouring bfloat16 values, and that step's update differs by a
fraction of the learning rate. Every other step agrees to float64's 1e-10 (and float32's bits):
so each step starts both libraries from PyTorch's parameters, the steps that differ must stay
few and small, and the others must agree.
"""
import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")

# two Linear layers' weights (20 x 12 and 6 x 20: tall and wide), a square and a thin matrix
SHAPES = [(20, 12), (6, 20), (8, 8), (3, 9)]
STEPS = 50

OPTIONS = [
    {}, {"lr": 0.02}, {"nesterov": False, "lr": 0.05}, {"weight_decay": 0, "lr": 0.05},
    {"adjust_lr_fn": "original", "lr": 0.03, "ns_steps": 7},
    {"adjust_lr_fn": "match_rms_adamw", "lr": 0.02, "weight_decay": 0.01},
    {"ns_steps": 3, "momentum": 0.9, "lr": 0.05}, {"momentum": 0, "nesterov": False, "lr": 0.05},
    {"ns_coefficients": (2.0, -1.5, 0.5), "eps": 1e-3, "lr": 0.04},
]


def _pair(dtype, seed):
    rng = np.random.default_rng(seed)
    init = [np.asarray(rng.standard_normal(s), dtype) for s in SHAPES]
    theirs = [torch.nn.Parameter(torch.from_numpy(a.copy())) for a in init]
    ours = [ember.nn.Parameter(ember.from_numpy(a.copy())) for a in init]
    return rng, theirs, ours


def _set_grads(rng, theirs, ours, dtype, scale=1.0):
    for t, e in zip(theirs, ours):
        g = np.asarray(rng.standard_normal(tuple(t.shape)) * scale, dtype)
        t.grad = torch.from_numpy(g.copy())
        e.grad = ember.from_numpy(g.copy())


def _difference(theirs, ours) -> float:
    return max(float(np.abs(t.detach().numpy() - e.detach().numpy()).max())
               for t, e in zip(theirs, ours))


@pytest.mark.parametrize("options, dtype", [(o, np.float64) for o in OPTIONS]
                         + [(o, np.float32) for o in OPTIONS[::2]])
def test_every_step_matches_torch(options, dtype):
    rng, theirs, ours = _pair(dtype, seed=OPTIONS.index(options))
    topt = torch.optim.Muon(theirs, **options)
    opt = ember.optim.Muon(ours, **options)
    lr = options.get("lr", 1e-3)
    exact = 1e-10 if dtype == np.float64 else 1e-6
    ties = 0
    for step in range(STEPS):
        _set_grads(rng, theirs, ours, dtype, scale=step + 1)
        for t, e in zip(theirs, ours):  # see NOTE [ Muon's bfloat16 ties ]
            e.data.copy_(ember.from_numpy(t.detach().numpy().copy()))
        topt.step()
        opt.step()
        difference = _difference(theirs, ours)
        assert difference < 0.1 * lr, f"step {step}"
        ties += difference > exact
    assert ties <= STEPS // 10
    ts, es = topt.state_dict(), opt.state_dict()
    assert es["param_groups"] == ts["param_groups"]
    for i, st in ts["state"].items():
        assert list(es["state"][i]) == list(st) == ["momentum_buffer"]
        np.testing.assert_allclose(es["state"][i]["momentum_buffer"].numpy(),
                                   st["momentum_buffer"].numpy(), rtol=exact, atol=exact)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_trajectory_stays_close_to_torch(dtype):
    """Without resynchronising: the rare ties leave the trajectories a fraction of lr apart."""
    rng, theirs, ours = _pair(dtype, seed=7)
    topt = torch.optim.Muon(theirs, lr=0.02)
    opt = ember.optim.Muon(ours, lr=0.02)
    for step in range(STEPS):
        _set_grads(rng, theirs, ours, dtype)
        topt.step()
        opt.step()
        assert _difference(theirs, ours) < 0.1 * 0.02, f"step {step}"


def test_two_layer_model_matches_torch():
    """Gradients from a loss through two Linear layers (float64), each step from PyTorch's
    weights."""
    rng = np.random.default_rng(8)
    x = rng.standard_normal((16, 12))
    y = rng.standard_normal((16, 6))
    w1, w2 = rng.standard_normal((20, 12)) * 0.3, rng.standard_normal((6, 20)) * 0.3

    def model(lib, weights):
        hidden = lib.tanh(lib.from_numpy(x) @ weights[0].t())
        return ((hidden @ weights[1].t() - lib.from_numpy(y)) ** 2).mean()

    theirs = [torch.nn.Parameter(torch.from_numpy(w.copy())) for w in (w1, w2)]
    ours = [ember.nn.Parameter(ember.from_numpy(w.copy())) for w in (w1, w2)]
    topt = torch.optim.Muon(theirs, lr=0.02, adjust_lr_fn="match_rms_adamw")
    opt = ember.optim.Muon(ours, lr=0.02, adjust_lr_fn="match_rms_adamw")
    ties = 0
    for step in range(STEPS):
        for t, e in zip(theirs, ours):
            e.data.copy_(ember.from_numpy(t.detach().numpy().copy()))
        topt.zero_grad()
        opt.zero_grad()
        model(torch, theirs).backward()
        model(ember, ours).backward()
        topt.step()
        opt.step()
        difference = _difference(theirs, ours)
        assert difference < 0.1 * 0.02, f"step {step}"
        ties += difference > 1e-10
    assert ties <= STEPS // 10
    assert float(model(ember, ours)) < float(model(ember, [ember.from_numpy(w1),
                                                          ember.from_numpy(w2)]))


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_half_precision_parameters_track_torch(dtype):
    """16-bit parameters: PyTorch's CPU kernels round some products to the dtype on their
    scalar paths, so the trajectories agree to a few of the dtype's rounding steps."""
    rng = np.random.default_rng(9)
    init = rng.standard_normal((12, 32)).astype(np.float32)
    for nesterov in (True, False):
        tp = torch.nn.Parameter(torch.from_numpy(init.copy()).to(getattr(torch, dtype)))
        ep = ember.nn.Parameter(ember.from_numpy(init.copy()).to(getattr(ember, dtype)))
        topt = torch.optim.Muon([tp], lr=0.05, nesterov=nesterov)
        opt = ember.optim.Muon([ep], lr=0.05, nesterov=nesterov)
        for _ in range(10):
            g = rng.standard_normal((12, 32)).astype(np.float32)
            tp.grad = torch.from_numpy(g).to(tp.dtype)
            ep.grad = ember.from_numpy(g).to(ep.dtype)
            topt.step()
            opt.step()
        np.testing.assert_allclose(ep.detach().float().numpy(), tp.detach().float().numpy(),
                                   atol=0.03)
        # without Nesterov PyTorch normalises a bfloat16 buffer in place; ember does the same
        np.testing.assert_allclose(opt.state[ep]["momentum_buffer"].float().numpy(),
                                   topt.state[tp]["momentum_buffer"].float().numpy(),
                                   rtol=0.02, atol=1e-3)


def _error(make):
    try:
        make()
    except Exception as error:  # noqa: BLE001 - the exception itself is compared
        return type(error), str(error)
    return None


@pytest.mark.parametrize("kwargs", [
    {"lr": -1.0}, {"lr": float("nan")}, {"weight_decay": -0.1}, {"momentum": -0.5},
    {"adjust_lr_fn": "bogus"}, {"lr": -1.0, "adjust_lr_fn": "bogus"}, {"lr": "fast"},
    {"momentum": None}, {"maximize": True}, {"foreach": True},
])
def test_constructor_errors_match_torch(kwargs):
    def make(lib):
        return lambda: lib.optim.Muon([lib.nn.Parameter(lib.zeros(3, 4))], **kwargs)
    theirs = _error(make(torch))
    assert theirs is not None and _error(make(ember)) == theirs


@pytest.mark.parametrize("shape", [(3,), (2, 3, 4), ()])
def test_non_matrix_errors_match_torch(shape):
    def make(lib):
        params = [lib.nn.Parameter(lib.zeros(2, 2)), lib.nn.Parameter(lib.zeros(shape))]
        return lambda: lib.optim.Muon([{"params": params[:1]}, {"params": params[1:]}])
    theirs = _error(make(torch))
    assert theirs is not None and _error(make(ember)) == theirs
    # a group added later is not checked, as in PyTorch
    for lib in (torch, ember):
        opt = lib.optim.Muon([lib.nn.Parameter(lib.zeros(2, 2))])
        opt.add_param_group({"params": [lib.nn.Parameter(lib.zeros(shape))]})


@pytest.mark.parametrize("group", [
    {"ns_steps": 100}, {"ns_steps": 250}, {"ns_coefficients": (1.0, 2.0)},
    {"ns_coefficients": (1.0, 2.0, 3.0, 4.0)}, {"ns_steps": 100, "ns_coefficients": (1.0,)},
])
def test_step_errors_match_torch(group):
    def make(lib):
        first, second = lib.nn.Parameter(lib.zeros(3, 4)), lib.nn.Parameter(lib.zeros(4, 3))
        opt = lib.optim.Muon([{"params": [first]}, {"params": [second], **group}])
        first.grad, second.grad = lib.ones(3, 4), lib.ones(4, 3)
        return opt.step

    theirs = _error(make(torch))
    assert theirs is not None and _error(make(ember)) == theirs


def test_complex_parameters_error_matches_torch():
    def make(lib):
        p = lib.nn.Parameter(lib.zeros(3, 4, dtype=lib.complex64))
        opt = lib.optim.Muon([p])
        p.grad = lib.ones(3, 4, dtype=lib.complex64)
        return opt.step
    theirs = _error(make(torch))
    assert theirs is not None and _error(make(ember)) == theirs


def test_state_dict_loads_across_libraries():
    """PyTorch's state_dict, its tensors converted, resumes ember's run where PyTorch's goes."""
    rng, theirs, ours = _pair(np.float64, seed=10)
    topt = torch.optim.Muon(theirs, lr=0.02, nesterov=False)
    for _ in range(3):
        _set_grads(rng, theirs, ours, np.float64)
        topt.step()
    saved = topt.state_dict()
    converted = {"state": {i: {"momentum_buffer": ember.from_numpy(
        s["momentum_buffer"].numpy().copy())} for i, s in saved["state"].items()},
        "param_groups": saved["param_groups"]}
    for t, e in zip(theirs, ours):
        e.data.copy_(ember.from_numpy(t.detach().numpy().copy()))
    opt = ember.optim.Muon(ours)
    opt.load_state_dict(converted)
    assert opt.param_groups[0]["lr"] == 0.02 and opt.param_groups[0]["nesterov"] is False
    _set_grads(rng, theirs, ours, np.float64)
    topt.step()
    opt.step()
    assert _difference(theirs, ours) < 0.1 * 0.02


def test_sparse_gradient_error_matches_torch():
    def make(lib):
        embedding = lib.nn.Embedding(5, 3, sparse=True)
        opt = lib.optim.Muon(embedding.parameters())
        embedding(lib.tensor([1, 2])).sum().backward()
        return opt.step
    theirs = _error(make(torch))
    assert theirs is not None and _error(make(ember)) == theirs
