"""ember.optim.Adafactor against torch.optim.Adafactor: the same trajectory step for step."""
import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")

SHAPES = [(6, 5), (3, 4, 2), (7,), ()]


def _run(lib, options, steps, dtype):
    rng = np.random.default_rng(0)
    params = [lib.nn.Parameter(lib.from_numpy(np.asarray(rng.standard_normal(s), dtype)))
              for s in SHAPES]
    opt = lib.optim.Adafactor(params, **options)
    trajectory = []
    for i in range(steps):
        for p in params:
            grad = rng.standard_normal(tuple(p.shape)) * (i + 1)
            p.grad = lib.from_numpy(np.asarray(grad, dtype))
        opt.step()
        trajectory.append([p.detach().numpy().copy() for p in params])
    return trajectory, opt


@pytest.mark.parametrize("options", [
    {}, {"lr": 0.1}, {"weight_decay": 0.05}, {"maximize": True}, {"eps": (1e-6, 1e-2)},
    {"d": 2.0, "beta2_decay": -0.5}, {"lr": 0.3, "weight_decay": 0.1, "d": 1.5}])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_trajectory_matches_torch(options, dtype):
    steps = 50
    ours, opt = _run(ember, options, steps, dtype)
    theirs, topt = _run(torch, options, steps, dtype)
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == np.float64 else dict(rtol=2e-5, atol=1e-6)
    for step, (a, b) in enumerate(zip(ours, theirs)):
        for x, y in zip(a, b):
            np.testing.assert_allclose(x, y, **tol, err_msg=f"step {step}")
    ts, es = topt.state_dict(), opt.state_dict()
    assert es["param_groups"][0].keys() == ts["param_groups"][0].keys()
    for i, st in ts["state"].items():
        assert es["state"][i].keys() == st.keys()
        for k, v in st.items():
            np.testing.assert_allclose(es["state"][i][k].numpy(), v.numpy(), **tol)


def test_errors_match_torch():
    for kwargs in ({"lr": -1.0}, {"beta2_decay": 0.5}, {"eps": (-1.0, 1e-3)},
                   {"eps": (None, -1.0)}, {"d": 0.5}, {"weight_decay": -0.1}):
        with pytest.raises(ValueError) as theirs:
            torch.optim.Adafactor([torch.nn.Parameter(torch.zeros(2))], **kwargs)
        with pytest.raises(ValueError) as ours:
            ember.optim.Adafactor([ember.nn.Parameter(ember.zeros(2))], **kwargs)
        assert str(ours.value) == str(theirs.value)
