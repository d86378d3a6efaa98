"""Sparse embedding gradients and the optimizers that take them, against real PyTorch: the same
start and data in both libraries, parameters compared after every step."""
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import ember  # noqa: E402

NUM, DIM, STEPS = 20, 4, 55
TOL = {"float64": dict(rtol=0, atol=1e-10), "float32": dict(rtol=1e-4, atol=1e-5)}


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():  # PyTorch warns that sparse invariant checks are off
        warnings.simplefilter("ignore", UserWarning)
        yield


def _data(kind):
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((NUM, DIM))
    shape = (3, 5) if kind == "embedding" else (4, 3)
    batches = [rng.integers(0, NUM, shape) for _ in range(STEPS)]
    targets = rng.standard_normal(shape + (DIM,) if kind == "embedding" else (4, DIM))
    return w0, batches, targets


def _module(lib, kind, w):
    if kind == "embedding":
        return lib.nn.Embedding(NUM, DIM, padding_idx=3, sparse=True, _weight=w)
    return lib.nn.EmbeddingBag(NUM, DIM, mode=kind, padding_idx=3, sparse=True, _weight=w)


def _trajectory(lib, kind, dtype, opt_name, kwargs, resume_at=None):
    """The weight after every step, and the optimizer."""
    w0, batches, targets = _data(kind)
    dt = getattr(lib, dtype)
    module = _module(lib, kind, lib.tensor(w0, dtype=dt))
    opt = getattr(lib.optim, opt_name)(module.parameters(), **kwargs)
    target = lib.tensor(targets, dtype=dt)
    weights = []
    for step, idx in enumerate(batches):
        if step == resume_at:
            saved = opt.state_dict()
            opt = getattr(lib.optim, opt_name)(module.parameters(), **kwargs)
            opt.load_state_dict(saved)
        opt.zero_grad()
        ((module(lib.tensor(idx)) - target) ** 2).sum().backward()
        assert module.weight.grad.is_sparse
        opt.step()
        weights.append(module.weight.detach().numpy().copy())
    return weights, opt


CASES = [
    ("SparseAdam", dict(lr=0.05)),
    ("SparseAdam", dict(lr=0.05, betas=(0.8, 0.99), eps=1e-6, maximize=True)),
    ("SGD", dict(lr=0.01, momentum=0.9)),
    ("SGD", dict(lr=0.01, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.005, momentum=0.5, dampening=0.3, maximize=True)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1)),
    ("Adagrad", dict(lr=0.1, maximize=True)),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kind", ["embedding", "sum", "mean"])
@pytest.mark.parametrize("opt_name, kwargs", CASES)
def test_trajectory_matches_torch(opt_name, kwargs, kind, dtype):
    ours, _ = _trajectory(ember, kind, dtype, opt_name, kwargs)
    theirs, _ = _trajectory(torch, kind, dtype, opt_name, kwargs)
    for step, (a, b) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(a, b, **TOL[dtype], err_msg=f"step {step}")


@pytest.mark.parametrize("opt_name, kwargs", [CASES[0], CASES[1], CASES[2], CASES[5]])
def test_state_matches_torch_and_resumes(opt_name, kwargs):
    ours, opt = _trajectory(ember, "embedding", "float64", opt_name, kwargs, resume_at=20)
    theirs, topt = _trajectory(torch, "embedding", "float64", opt_name, kwargs)
    np.testing.assert_allclose(ours[-1], theirs[-1], rtol=0, atol=1e-10)
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert sd["param_groups"] == tsd["param_groups"]
    assert set(sd["state"][0]) == set(tsd["state"][0])
    for key, value in tsd["state"][0].items():
        ours_value = sd["state"][0][key]
        if isinstance(value, int):  # SparseAdam's step is a Python int in both
            assert isinstance(ours_value, int) and ours_value == value
        else:  # PyTorch keeps SGD's momentum buffer sparse; ember's is dense
            np.testing.assert_allclose(np.asarray(ours_value.to_dense().numpy()),
                                       value.to_dense().numpy(), rtol=0, atol=1e-10)


def test_sparse_adam_loads_torch_state_dict():
    """A PyTorch state_dict (tensors moved over) resumes in ember where PyTorch goes on."""
    kwargs = dict(lr=0.05)
    _, topt = _trajectory(torch, "embedding", "float64", "SparseAdam", kwargs)
    w0, batches, targets = _data("embedding")
    tsd = topt.state_dict()
    state = {k: (ember.tensor(v.numpy()) if isinstance(v, torch.Tensor) else v)
             for k, v in tsd["state"][0].items()}
    weight = topt.param_groups[0]["params"][0].detach().numpy().copy()
    emb = _module(ember, "embedding", ember.tensor(weight))
    opt = ember.optim.SparseAdam(emb.parameters(), **kwargs)
    opt.load_state_dict({"state": {0: state}, "param_groups": tsd["param_groups"]})
    temb = _module(torch, "embedding", torch.tensor(weight))
    topt2 = torch.optim.SparseAdam(temb.parameters(), **kwargs)
    topt2.load_state_dict(tsd)
    for idx in batches[:5]:
        for lib, module, o in ((ember, emb, opt), (torch, temb, topt2)):
            o.zero_grad()
            ((module(lib.tensor(idx)) - lib.tensor(targets)) ** 2).sum().backward()
            o.step()
        np.testing.assert_allclose(emb.weight.detach().numpy(), temb.weight.detach().numpy(),
                                   rtol=0, atol=1e-10)


def _grads(lib, fn):
    w = lib.tensor(np.random.default_rng(1).standard_normal((NUM, DIM)), requires_grad=True)
    fn(lib, w)
    return w.grad


GRAD_CASES = {
    "padding": lambda lib, w: lib.nn.functional.embedding(
        lib.tensor([[1, 3, 1], [4, 1, 3]]), w, padding_idx=3, sparse=True).sum().backward(),
    "one_row": lambda lib, w: lib.nn.functional.embedding(
        lib.tensor([5]), w, sparse=True).sum().backward(),
    "all_padding": lambda lib, w: lib.nn.functional.embedding(
        lib.tensor([3, 3]), w, padding_idx=3, sparse=True).sum().backward(),
    "accumulated": lambda lib, w: [lib.nn.functional.embedding(
        lib.tensor(i), w, sparse=True).pow(2).sum().backward() for i in ([2, 7], [7, 9])],
    "two_uses": lambda lib, w: (
        lib.nn.functional.embedding(lib.tensor([2, 8]), w, sparse=True).sum()
        + lib.nn.functional.embedding(lib.tensor([8, 0]), w, sparse=True).sum()).backward(),
    "bag_offsets": lambda lib, w: lib.nn.functional.embedding_bag(
        lib.tensor([1, 2, 4, 1]), w, lib.tensor([0, 2]), mode="sum", sparse=True,
        per_sample_weights=lib.tensor([1.0, 2.0, 3.0, 4.0], dtype=lib.float64)).sum().backward(),
    "bag_mean_last_offset": lambda lib, w: lib.nn.functional.embedding_bag(
        lib.tensor([1, 2, 4, 1, 6]), w, lib.tensor([0, 2, 5]), mode="mean", sparse=True,
        include_last_offset=True).sum().backward(),
    "zeroed_then_one": lambda lib, w: [
        lib.nn.functional.embedding(lib.tensor([1, 2]), w, sparse=True).sum().backward(),
        w.grad.zero_(),
        lib.nn.functional.embedding(lib.tensor([6]), w, sparse=True).sum().backward()],
}


@pytest.mark.parametrize("case", sorted(GRAD_CASES))
def test_sparse_grad_matches_torch(case):
    ours, theirs = _grads(ember, GRAD_CASES[case]), _grads(torch, GRAD_CASES[case])
    assert ours.is_sparse and theirs.is_sparse
    assert ours.is_coalesced() == theirs.is_coalesced()
    assert ours.sparse_dim() == theirs.sparse_dim() == 1
    oc, tc = ours.coalesce(), theirs.coalesce()
    np.testing.assert_array_equal(oc.indices().numpy(), tc.indices().numpy())
    np.testing.assert_allclose(oc.values().numpy(), tc.values().numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours.to_dense().numpy(), theirs.to_dense().numpy(), rtol=1e-12)


@pytest.mark.parametrize("dense_first", [True, False])
def test_sparse_with_dense_grad_is_dense_like_torch(dense_first):
    def fn(lib, w):
        calls = [lambda: w.sum().backward(),
                 lambda: lib.nn.functional.embedding(lib.tensor([1]), w, sparse=True)
                 .sum().backward()]
        for call in (calls if dense_first else calls[::-1]):
            call()
    ours, theirs = _grads(ember, fn), _grads(torch, fn)
    assert not ours.is_sparse and not theirs.is_sparse
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def _error(lib, fn):
    try:
        fn(lib)
    except Exception as exc:  # noqa: BLE001 - the error is what is compared
        return type(exc), str(exc)
    return None


def _step_with(name, **kwargs):
    def fn(lib):
        emb = lib.nn.Embedding(NUM, DIM, sparse=True)
        emb(lib.tensor([1, 3])).sum().backward()
        getattr(lib.optim, name)(emb.parameters(), **kwargs).step()
    return fn


def _sparse_adam_dense_grad(lib):
    p = lib.nn.Parameter(lib.randn(3))
    p.sum().backward()
    lib.optim.SparseAdam([p]).step()


def _sparse_adam_sparse_param(lib):
    lib.optim.SparseAdam([{"params": [lib.nn.Parameter(lib.randn(2))]},
                          {"params": [lib.randn(3, 3).to_sparse().requires_grad_()]}])


ERROR_CASES = {
    **{name: _step_with(name, lr=0.1) for name in (
        "Adam", "AdamW", "Adadelta", "Adafactor", "Adamax", "ASGD", "NAdam", "RAdam", "RMSprop",
        "Rprop")},
    "SGD_weight_decay": _step_with("SGD", lr=0.1, weight_decay=0.1),
    "Adagrad_weight_decay": _step_with("Adagrad", lr=0.1, weight_decay=0.1),
    "SparseAdam_dense_grad": _sparse_adam_dense_grad,
    "SparseAdam_sparse_param": _sparse_adam_sparse_param,
    "SparseAdam_lr": lambda lib: lib.optim.SparseAdam([lib.randn(2)], lr=0.0),
    "SparseAdam_eps": lambda lib: lib.optim.SparseAdam([lib.randn(2)], eps=-1.0),
    "SparseAdam_beta0": lambda lib: lib.optim.SparseAdam([lib.randn(2)], betas=(1.0, 0.5)),
    "SparseAdam_beta1": lambda lib: lib.optim.SparseAdam([lib.randn(2)], betas=(0.5, -0.5)),
    "bag_max": lambda lib: lib.nn.functional.embedding_bag(
        lib.tensor([[1, 2]]), lib.randn(5, 2), mode="max", sparse=True),
    "scale_grad_by_freq": lambda lib: lib.nn.functional.embedding(
        lib.tensor([1, 1]), lib.randn(5, 2, requires_grad=True), scale_grad_by_freq=True,
        sparse=True).sum().backward(),
}


@pytest.mark.parametrize("case", sorted(ERROR_CASES))
def test_errors_match_torch(case):
    ours, theirs = _error(ember, ERROR_CASES[case]), _error(torch, ERROR_CASES[case])
    assert theirs is not None
    assert ours == theirs


def test_clip_grad_norm_equals_torch_on_the_dense_gradient():
    """PyTorch 2.13's clip_grad_norm_ has no sparse kernel (NotImplementedError); ember clips a
    sparse gradient as PyTorch clips its dense equivalent, and keeps it sparse."""
    def fn(lib, w):
        lib.nn.functional.embedding(lib.tensor([1, 3, 1]), w, sparse=True).sum().backward()
    ours, theirs = _grads(ember, fn), _grads(torch, fn)
    dense = theirs.to_dense()
    tparam = torch.nn.Parameter(torch.zeros(NUM, DIM, dtype=torch.float64))
    tparam.grad = dense.clone()
    torch_norm = torch.nn.utils.clip_grad_norm_([tparam], 1.0)
    params = [ember.nn.Parameter(ember.zeros(NUM, DIM, dtype=ember.float64))]
    params[0].grad = ours
    norm = ember.nn.utils.clip_grad_norm_(params, 1.0)
    np.testing.assert_allclose(float(norm), float(torch_norm), rtol=1e-12)
    assert params[0].grad.is_sparse
    np.testing.assert_allclose(params[0].grad.to_dense().numpy(), tparam.grad.numpy(),
                               rtol=1e-12)
