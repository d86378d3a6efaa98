"""Sparse embedding gradients (``sparse=True``) and the optimizers that take them (SparseAdam,
SGD, Adagrad), against NumPy oracles; the refusals of the other optimizers."""
import numpy as np
import pytest

import ember
import ember.nn.functional as F
import ember.optim as optim

NUM, DIM = 7, 3


def _weight(dtype=ember.float64, seed=0):
    rng = np.random.default_rng(seed)
    return ember.tensor(rng.standard_normal((NUM, DIM)), dtype=dtype, requires_grad=True)


def _dense_oracle(idx, upstream, padding_idx=None):
    """The embedding gradient: each looked-up row adds its upstream gradient."""
    out = np.zeros((NUM, DIM))
    for i, g in zip(np.ravel(idx), upstream.reshape(-1, DIM)):
        if i != padding_idx:
            out[i] += g
    return out


def _stored_rows(grad):
    return grad.coalesce().indices()[0].tolist()


@pytest.mark.parametrize("padding_idx", [None, 2])
def test_embedding_sparse_grad_matches_oracle(padding_idx):
    w = _weight()
    idx = np.array([[1, 2, 1], [4, 1, 2]])
    up = np.random.default_rng(1).standard_normal((2, 3, DIM))
    out = F.embedding(ember.tensor(idx), w, padding_idx=padding_idx, sparse=True)
    out.backward(ember.tensor(up))
    g = w.grad
    assert g.is_sparse and g.layout is ember.sparse_coo
    assert not g.is_coalesced()
    expected_rows = sorted({i for i in idx.ravel() if i != padding_idx})
    assert _stored_rows(g) == expected_rows
    oracle = _dense_oracle(idx, up, padding_idx)
    np.testing.assert_allclose(g.to_dense().numpy(), oracle, rtol=1e-12)
    np.testing.assert_allclose(g.coalesce().values().numpy(), oracle[expected_rows], rtol=1e-12)


def test_one_lookup_is_coalesced_and_all_padding_stores_nothing():
    w = _weight()
    F.embedding(ember.tensor([3]), w, sparse=True).sum().backward()
    assert w.grad.is_coalesced() and w.grad._nnz() == 1
    w.grad = None
    F.embedding(ember.tensor([2, 2]), w, padding_idx=2, sparse=True).sum().backward()
    assert w.grad.is_sparse and w.grad._nnz() == 0 and w.grad.is_coalesced()


def test_sparse_grad_gradcheck_style():
    """The stored gradient equals central differences of a weighted sum of the lookups."""
    w = _weight()
    idx = ember.tensor([[0, 5, 5], [3, 0, 6]])
    c = np.random.default_rng(2).standard_normal((2, 3, DIM))

    def f(wv):
        return float((wv[idx.numpy()] * c).sum())

    F.embedding(idx, w, sparse=True).mul(ember.tensor(c)).sum().backward()
    base = w.detach().numpy()
    numeric = np.zeros_like(base)
    eps = 1e-6
    for i in range(NUM):
        for j in range(DIM):
            up, down = base.copy(), base.copy()
            up[i, j] += eps
            down[i, j] -= eps
            numeric[i, j] = (f(up) - f(down)) / (2 * eps)
    np.testing.assert_allclose(w.grad.to_dense().numpy(), numeric, atol=1e-8)


def test_gradcheck_through_sparse_embedding():
    w = _weight()
    idx = ember.tensor([1, 4, 4])
    assert ember.autograd.gradcheck(lambda t: F.embedding(idx, t, sparse=True), (w,))


def test_scale_grad_by_freq_refused_with_sparse():
    w = _weight()
    out = F.embedding(ember.tensor([1, 1]), w, scale_grad_by_freq=True, sparse=True)
    with pytest.raises(RuntimeError, match="scale_grad_by_freq not supported with sparse"):
        out.sum().backward()


def test_accumulation_keeps_sparse_union():
    w = _weight()
    F.embedding(ember.tensor([1, 3]), w, sparse=True).sum().backward()
    first = w.grad
    F.embedding(ember.tensor([5, 1]), w, sparse=True).sum().backward()
    assert w.grad is first and w.grad.is_sparse and not w.grad.is_coalesced()
    assert _stored_rows(w.grad) == [1, 3, 5]
    expected = np.zeros((NUM, DIM))
    expected[[1, 3, 5]] = [[2.0] * DIM, [1.0] * DIM, [1.0] * DIM]
    np.testing.assert_array_equal(w.grad.to_dense().numpy(), expected)


def test_two_uses_in_one_graph_sum_sparse():
    w = _weight()
    (F.embedding(ember.tensor([0]), w, sparse=True).sum()
     + F.embedding(ember.tensor([3, 0]), w, sparse=True).sum()).backward()
    assert w.grad.is_sparse and _stored_rows(w.grad) == [0, 3]
    np.testing.assert_array_equal(w.grad.to_dense().numpy()[[0, 3], 0], [2.0, 1.0])


def test_sparse_and_dense_gradients_sum_dense():
    w = _weight()
    (F.embedding(ember.tensor([0]), w, sparse=True).sum() + w.sum()).backward()
    assert not w.grad.is_sparse
    F.embedding(ember.tensor([1]), w, sparse=True).sum().backward()  # into a dense .grad
    assert not w.grad.is_sparse
    assert w.grad.numpy()[1, 0] == 2.0 and w.grad.numpy()[0, 0] == 2.0
    w.grad = None
    F.embedding(ember.tensor([1]), w, sparse=True).sum().backward()
    w.sum().backward()  # a dense gradient into a sparse .grad
    assert not w.grad.is_sparse and w.grad.numpy()[1, 0] == 2.0


def test_autograd_grad_returns_sparse():
    w = _weight()
    (g,) = ember.autograd.grad(F.embedding(ember.tensor([1, 3]), w, sparse=True).sum(), w)
    assert g.is_sparse and _stored_rows(g) == [1, 3]


@pytest.mark.parametrize("set_to_none", [True, False])
def test_zero_grad(set_to_none):
    emb = ember.nn.Embedding(NUM, DIM, sparse=True)
    opt = optim.SGD(emb.parameters(), lr=0.1)
    emb(ember.tensor([1, 2])).sum().backward()
    opt.zero_grad(set_to_none=set_to_none)
    if set_to_none:
        assert emb.weight.grad is None
    else:
        assert emb.weight.grad.is_sparse and emb.weight.grad._nnz() == 0
        assert emb.weight.grad.is_coalesced()
    emb(ember.tensor([4])).sum().backward()
    assert emb.weight.grad.is_sparse and _stored_rows(emb.weight.grad) == [4]
    emb.zero_grad(set_to_none=False)  # Module.zero_grad as well
    assert emb.weight.grad._nnz() == 0


@pytest.mark.parametrize("mode", ["sum", "mean"])
def test_embedding_bag_sparse(mode):
    bag = ember.nn.EmbeddingBag(NUM, DIM, mode=mode, sparse=True, padding_idx=2)
    idx = np.array([[1, 2, 1], [4, 4, 2]])
    bag(ember.tensor(idx)).sum().backward()
    g = bag.weight.grad
    assert g.is_sparse and _stored_rows(g) == [1, 4]
    scale = 1.0 if mode == "sum" else 0.5  # each bag holds two non-padding rows
    np.testing.assert_allclose(g.coalesce().values().numpy(), np.full((2, DIM), 2 * scale))


def test_embedding_bag_offsets_and_weights_sparse():
    w = _weight()
    psw = ember.tensor([1.0, 2.0, 3.0, 4.0], dtype=ember.float64)
    F.embedding_bag(ember.tensor([1, 2, 4, 1]), w, ember.tensor([0, 2]), mode="sum",
                    sparse=True, per_sample_weights=psw).sum().backward()
    assert _stored_rows(w.grad) == [1, 2, 4]
    np.testing.assert_allclose(w.grad.to_dense().numpy()[[1, 2, 4], 0], [5.0, 2.0, 3.0])


def test_embedding_bag_max_refuses_sparse():
    with pytest.raises(ValueError, match="max mode does not support sparse weights"):
        F.embedding_bag(ember.tensor([[1, 2]]), _weight(), mode="max", sparse=True)


# ----------------------------------------------------------------------------------------------
# Optimizers


def _sparse_adam_oracle(w, batches, upstreams, lr, betas, eps, maximize):
    """Lazy Adam in NumPy: only the rows each gradient holds move."""
    w = w.copy()
    m, v = np.zeros_like(w), np.zeros_like(w)
    b1, b2 = betas
    for t, (idx, up) in enumerate(zip(batches, upstreams), start=1):
        g = _dense_oracle(idx, up)
        if maximize:
            g = -g
        rows = np.unique(idx)
        m[rows] += (g[rows] - m[rows]) * (1 - b1)
        v[rows] += (g[rows] ** 2 - v[rows]) * (1 - b2)
        step = lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        w[rows] -= step * m[rows] / (np.sqrt(v[rows]) + eps)
    return w, m, v


@pytest.mark.parametrize("maximize", [False, True])
def test_sparse_adam_matches_lazy_oracle(maximize):
    rng = np.random.default_rng(3)
    w0 = rng.standard_normal((NUM, DIM))
    batches = [rng.integers(0, NUM, 4) for _ in range(12)]
    ups = [rng.standard_normal((4, DIM)) for _ in range(12)]
    emb = ember.nn.Embedding(NUM, DIM, sparse=True, _weight=ember.tensor(w0))
    opt = optim.SparseAdam(emb.parameters(), lr=0.05, betas=(0.8, 0.99), eps=1e-6,
                           maximize=maximize)
    for idx, up in zip(batches, ups):
        opt.zero_grad()
        emb(ember.tensor(idx)).backward(ember.tensor(up))
        opt.step()
    w, m, v = _sparse_adam_oracle(w0, batches, ups, 0.05, (0.8, 0.99), 1e-6, maximize)
    np.testing.assert_allclose(emb.weight.detach().numpy(), w, rtol=1e-12, atol=1e-14)
    state = opt.state[emb.weight]
    assert state["step"] == 12 and isinstance(state["step"], int)
    np.testing.assert_allclose(state["exp_avg"].numpy(), m, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(state["exp_avg_sq"].numpy(), v, rtol=1e-12, atol=1e-14)


def test_sparse_adam_leaves_other_rows_alone():
    emb = ember.nn.Embedding(NUM, DIM, sparse=True)
    before = emb.weight.detach().numpy().copy()
    opt = optim.SparseAdam(emb.parameters(), lr=0.1)
    emb(ember.tensor([2, 5])).sum().backward()
    opt.step()
    after = emb.weight.detach().numpy()
    untouched = [0, 1, 3, 4, 6]
    np.testing.assert_array_equal(after[untouched], before[untouched])
    assert (after[[2, 5]] != before[[2, 5]]).all()
    assert not opt.state[emb.weight]["exp_avg"].numpy()[untouched].any()


def test_sparse_adam_errors():
    p = ember.nn.Parameter(ember.randn(3))
    p.sum().backward()
    with pytest.raises(RuntimeError, match="SparseAdam does not support dense gradients, "
                                           "please consider Adam instead"):
        optim.SparseAdam([p]).step()
    for kwargs, message in [(dict(lr=0.0), "Invalid learning rate: 0.0"),
                            (dict(eps=0.0), "Invalid epsilon value: 0.0"),
                            (dict(betas=(1.0, 0.9)), "Invalid beta parameter at index 0: 1.0"),
                            (dict(betas=(0.9, -0.1)), "Invalid beta parameter at index 1: -0.1")]:
        with pytest.raises(ValueError, match=message.replace(".", r"\.")):
            optim.SparseAdam([p], **kwargs)
    sparse = ember.randn(3, 3).to_sparse().requires_grad_()
    with pytest.raises(ValueError, match=r"Sparse params at indices \[\[1, 0\]\]: SparseAdam "
                                         "requires dense parameter tensors"):
        optim.SparseAdam([{"params": [p]}, {"params": [sparse]}])


def test_sparse_adam_state_dict_round_trip():
    def run(steps, resume_at=None):
        emb = ember.nn.Embedding(NUM, DIM, sparse=True, _weight=_weight(seed=4).detach())
        opt = optim.SparseAdam(emb.parameters(), lr=0.05)
        rng = np.random.default_rng(5)
        for step in range(steps):
            if step == resume_at:
                saved = opt.state_dict()
                opt = optim.SparseAdam(emb.parameters(), lr=0.05)
                opt.load_state_dict(saved)
            opt.zero_grad()
            emb(ember.tensor(rng.integers(0, NUM, 3))).sum().backward()
            opt.step()
        return emb.weight.detach().numpy(), opt

    straight, opt = run(10)
    resumed, _ = run(10, resume_at=4)
    np.testing.assert_array_equal(resumed, straight)
    sd = opt.state_dict()
    assert sd["param_groups"] == [dict(lr=0.05, betas=(0.9, 0.999), eps=1e-8, maximize=False,
                                       params=[0])]
    assert set(sd["state"][0]) == {"step", "exp_avg", "exp_avg_sq"}


def _train(opt_cls, sparse, steps=8, **kwargs):
    emb = ember.nn.Embedding(NUM, DIM, sparse=sparse, _weight=_weight(seed=6).detach())
    opt = opt_cls(emb.parameters(), **kwargs)
    rng = np.random.default_rng(7)
    for _ in range(steps):
        opt.zero_grad()
        idx = ember.tensor(rng.integers(0, NUM, (2, 3)))
        (emb(idx) ** 2).sum().backward()
        opt.step()
    return emb.weight.detach().numpy()


@pytest.mark.parametrize("kwargs", [dict(lr=0.1), dict(lr=0.1, momentum=0.9, nesterov=True),
                                    dict(lr=0.1, momentum=0.5, dampening=0.2, maximize=True)])
def test_sgd_sparse_equals_dense(kwargs):
    np.testing.assert_allclose(_train(optim.SGD, True, **kwargs),
                               _train(optim.SGD, False, **kwargs), rtol=1e-13)


@pytest.mark.parametrize("kwargs", [dict(lr=0.1), dict(lr=0.1, lr_decay=0.1, maximize=True,
                                                        initial_accumulator_value=0.3)])
def test_adagrad_sparse_equals_dense(kwargs):
    np.testing.assert_allclose(_train(optim.Adagrad, True, **kwargs),
                               _train(optim.Adagrad, False, **kwargs), rtol=1e-13)


def test_adagrad_sparse_updates_stored_rows_only():
    """With eps=0 a dense step would make 0/0 on rows never seen; the sparse step skips them."""
    emb = ember.nn.Embedding(NUM, DIM, sparse=True)
    before = emb.weight.detach().numpy().copy()
    opt = optim.Adagrad(emb.parameters(), lr=0.1, eps=0.0)
    emb(ember.tensor([1])).sum().backward()
    opt.step()
    after = emb.weight.detach().numpy()
    assert np.isfinite(after).all()
    np.testing.assert_array_equal(np.delete(after, 1, 0), np.delete(before, 1, 0))


@pytest.mark.parametrize("opt_cls, kwargs, message", [
    (optim.SGD, dict(lr=0.1, weight_decay=0.1), "add(sparse, dense) is not supported"),
    (optim.Adagrad, dict(lr=0.1, weight_decay=0.1),
     "weight_decay option is not compatible with sparse gradients"),
])
def test_weight_decay_refused_with_sparse(opt_cls, kwargs, message):
    emb = ember.nn.Embedding(NUM, DIM, sparse=True)
    before = emb.weight.detach().numpy().copy()
    emb(ember.tensor([1])).sum().backward()
    with pytest.raises(RuntimeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        opt_cls(emb.parameters(), **kwargs).step()
    np.testing.assert_array_equal(emb.weight.detach().numpy(), before)


@pytest.mark.parametrize("name, message", [
    ("Adam", "Adam does not support sparse gradients, please consider SparseAdam instead"),
    ("AdamW", "Adam does not support sparse gradients, please consider SparseAdam instead"),
    ("Adadelta", "Adadelta does not support sparse gradients"),
    ("Adamax", "Adamax does not support sparse gradients"),
    ("ASGD", "ASGD does not support sparse gradients"),
    ("NAdam", "NAdam does not support sparse gradients"),
    ("RAdam", "RAdam does not support sparse gradients"),
    ("RMSprop", "RMSprop does not support sparse gradients"),
    ("Rprop", "Rprop does not support sparse gradients"),
])
def test_other_optimizers_refuse_sparse(name, message):
    emb = ember.nn.Embedding(NUM, DIM, sparse=True)
    emb(ember.tensor([1, 3])).sum().backward()
    with pytest.raises(RuntimeError, match=f"^{message}$"):
        getattr(optim, name)(emb.parameters(), lr=0.1).step()


def test_clip_grad_on_sparse_grads():
    emb = ember.nn.Embedding(NUM, DIM, sparse=True)
    emb(ember.tensor([1, 3, 1])).sum().backward()
    norm = ember.nn.utils.clip_grad_norm_(emb.parameters(), 1.0)
    np.testing.assert_allclose(float(norm), np.sqrt(3 * 4 + 3 * 1), rtol=1e-6)
    g = emb.weight.grad
    assert g.is_sparse and _stored_rows(g) == [1, 3]
    np.testing.assert_allclose(np.linalg.norm(g.to_dense().numpy()), 1.0, rtol=1e-5)
    ember.nn.utils.clip_grad_value_(emb.parameters(), 0.2)
    assert g.is_sparse and _stored_rows(g) == [1, 3]
    np.testing.assert_array_equal(g.coalesce().values().numpy(), np.float32(0.2))
