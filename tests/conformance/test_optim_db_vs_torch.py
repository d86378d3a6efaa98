"""Every optimizer configuration of PyTorch's own ``optim_db`` (its OptimizerInfo database) on
ember and on torch: the same parameters and the same (parameter-dependent) loss, stepped with a
closure; parameters, per-parameter state and the param_groups' hyper-parameters compared after
every step. Then ember loads torch's state_dict and both go on, so checkpoints move across.
Real and complex parameters (where torch's OptimizerInfo says the optimizer supports them), and
sparse gradients for SparseAdam."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("expecttest")  # torch.testing._internal needs it

from torch.testing._internal.common_optimizers import optim_db  # noqa: E402

import ember  # noqa: E402

STEPS = 4

# Keys an ember param group may lack: torch's implementation switches with no meaning here.
_IMPLEMENTATION_KEYS = {"foreach", "fused", "capturable", "differentiable"}


def _cases():
    for info in optim_db:
        name = info.optim_cls.__name__
        dtypes = ["float64"] + (["complex128"] if info.supports_complex else [])
        for optim_input in info.optim_inputs_func(device="cpu"):
            for dtype in dtypes:
                yield pytest.param(info, optim_input, dtype,
                                   id=f"{name}-{optim_input.desc}-{dtype}".replace(" ", "_"))


def _start(dtype: str, sparse: bool, matrix_only: bool) -> list:
    """The initial parameter values: a matrix and (unless the optimizer takes only matrices) a
    vector."""
    rng = np.random.default_rng(0)
    shapes = [(5, 3)] if matrix_only else [(5, 3), (5,)]
    if sparse:
        shapes = [(6, 3)]
    values = []
    for shape in shapes:
        v = rng.standard_normal(shape)
        if dtype == "complex128":
            v = v + 1j * rng.standard_normal(shape)
        values.append(v)
    return values


def _loss(lib, params, sparse: bool):
    """A parameter-dependent loss, so that each step's gradient depends on the last step."""
    if sparse:  # an embedding lookup of some rows: the gradient is sparse
        rows = lib.tensor([0, 2, 2, 5])
        picked = lib.nn.functional.embedding(rows, params[0], sparse=True)
        return (picked.pow(2).sum() + picked.sin().sum()) * 0.5
    total = 0
    for k, p in enumerate(params):
        total = total + (p * p.conj()).real.sum() * (0.3 + 0.1 * k) + (p.real * 0.7).sin().sum()
    return total


def _closure(lib, opt, params, sparse):
    def closure():
        opt.zero_grad()
        loss = _loss(lib, params, sparse)
        loss.backward()
        return loss
    return closure


def _as_ember(value):
    if isinstance(value, torch.Tensor):
        return ember.tensor(value.detach().numpy())
    if isinstance(value, (tuple, list)):
        return type(value)(_as_ember(v) for v in value)
    return value


def _same(want, got, what: str) -> None:
    if isinstance(want, torch.Tensor):
        got_array = got.detach().numpy() if isinstance(got, ember.Tensor) else np.asarray(got)
        np.testing.assert_allclose(got_array, want.detach().numpy(), rtol=1e-7, atol=1e-9,
                                   err_msg=what)
    elif isinstance(want, (tuple, list)):
        assert len(want) == len(got), what
        for w, g in zip(want, got):
            _same(w, g, what)
    elif isinstance(want, float):
        assert got == pytest.approx(want, rel=1e-9, abs=1e-12), what
    else:
        assert want == got, what


def _compare(t_opt, e_opt, t_params, e_params, step: int) -> None:
    for k, (tp, ep) in enumerate(zip(t_params, e_params)):
        _same(tp, ep, f"parameter {k} after step {step}")
        t_state, e_state = t_opt.state[tp], e_opt.state[ep]
        assert set(t_state) == set(e_state), f"state keys of parameter {k}"
        for key in t_state:
            _same(t_state[key], e_state[key], f"state[{key!r}] of parameter {k}, step {step}")
    for t_group, e_group in zip(t_opt.param_groups, e_opt.param_groups):
        missing = set(t_group) - set(e_group) - _IMPLEMENTATION_KEYS
        assert not missing, f"param_group keys missing in ember: {sorted(missing)}"
        for key in set(t_group) & set(e_group) - {"params"} - _IMPLEMENTATION_KEYS:
            _same(t_group[key], e_group[key], f"param_group[{key!r}]")


@pytest.mark.parametrize("info, optim_input, dtype", list(_cases()))
def test_optimizer_matches_torch(info, optim_input, dtype):
    name = info.optim_cls.__name__
    sparse = info.only_supports_sparse_grads
    start = _start(dtype, sparse, matrix_only=name == "Muon")
    kwargs = dict(optim_input.kwargs)
    t_params = [torch.tensor(v, requires_grad=True) for v in start]
    e_params = [ember.tensor(v, requires_grad=True) for v in start]
    t_opt = info.optim_cls(t_params, **kwargs)
    e_opt = getattr(ember.optim, name)(e_params, **{k: _as_ember(v) for k, v in kwargs.items()})
    for step in range(STEPS):
        t_opt.step(_closure(torch, t_opt, t_params, sparse))
        e_opt.step(_closure(ember, e_opt, e_params, sparse))
        _compare(t_opt, e_opt, t_params, e_params, step)

    # ember resumes from torch's checkpoint (tensors converted) and stays in step.
    state = t_opt.state_dict()
    e_state = {"state": {k: {s: _as_ember(v) for s, v in per.items()}
                         for k, per in state["state"].items()},
               "param_groups": [dict(g) for g in state["param_groups"]]}
    e_params = [ember.tensor(p.detach().numpy(), requires_grad=True) for p in t_params]
    e_opt = getattr(ember.optim, name)(e_params, **{k: _as_ember(v) for k, v in kwargs.items()})
    e_opt.load_state_dict(e_state)
    t_opt.step(_closure(torch, t_opt, t_params, sparse))
    e_opt.step(_closure(ember, e_opt, e_params, sparse))
    _compare(t_opt, e_opt, t_params, e_params, STEPS)
