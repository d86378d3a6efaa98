"""ember.nn against torch.nn: layers with copied weights (outputs, input and weight grads),
functional losses, reprs, defaults and Module behaviour."""
import warnings
from collections import OrderedDict

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import ember  # noqa: E402
import ember.nn as enn  # noqa: E402
import ember.nn.functional as EF  # noqa: E402

tnn = torch.nn
TF = torch.nn.functional


def to_torch(t, requires_grad=False):
    out = torch.from_numpy(np.array(t.detach().numpy(), copy=True))
    return out.requires_grad_(requires_grad)


def to_ember(t, requires_grad=False):
    return ember.tensor(t.detach().numpy().copy(), requires_grad=requires_grad)


def close(a, b, rtol=1e-4, atol=1e-5):
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=rtol, atol=atol)


def copy_weights(tm, em):
    state = {k: to_ember(v) for k, v in tm.state_dict().items()}
    em.load_state_dict(state)


def rand(*shape):
    return np.random.randn(*shape).astype(np.float32)


def check_module(tm, em, *inputs, train=True, grad_inputs=True):
    """Same weights, same inputs: outputs, input grads and parameter grads agree."""
    copy_weights(tm, em)
    tm.train(train)
    em.train(train)
    t_in = [torch.from_numpy(x.copy()).requires_grad_(grad_inputs and x.dtype.kind == "f")
            if isinstance(x, np.ndarray) else x for x in inputs]
    e_in = [ember.tensor(x.copy(), requires_grad=grad_inputs and x.dtype.kind == "f")
            if isinstance(x, np.ndarray) else x for x in inputs]
    t_out = tm(*t_in)
    e_out = em(*e_in)
    close(e_out, t_out)
    g = rand(*t_out.shape) if t_out.dim() else np.float32(1.0)
    t_out.backward(torch.from_numpy(np.array(g)))
    e_out.backward(ember.tensor(np.array(g)))
    for ti, ei in zip(t_in, e_in):
        if isinstance(ti, torch.Tensor) and ti.requires_grad:
            close(ei.grad, ti.grad)
    for (tn, tp), (en, ep) in zip(tm.named_parameters(), em.named_parameters()):
        assert tn == en
        if tp.grad is None:
            assert ep.grad is None
        else:
            close(ep.grad, tp.grad)
    for (tn, tb), (en, eb) in zip(tm.named_buffers(), em.named_buffers()):
        assert tn == en
        close(eb, tb)
    assert repr(em) == repr(tm)


LAYERS = [
    ("Linear", lambda m: m.Linear(5, 3), [(4, 5)]),
    ("Linear-nobias", lambda m: m.Linear(5, 3, bias=False), [(2, 4, 5)]),
    ("Bilinear", lambda m: m.Bilinear(3, 4, 2), [(5, 3), (5, 4)]),
    ("Identity", lambda m: m.Identity(), [(3, 2)]),
    ("Flatten", lambda m: m.Flatten(), [(2, 3, 4)]),
    ("Unflatten", lambda m: m.Unflatten(1, (2, 3)), [(4, 6)]),
    ("BatchNorm1d", lambda m: m.BatchNorm1d(3), [(6, 3)]),
    ("BatchNorm1d-3d", lambda m: m.BatchNorm1d(3, momentum=None), [(4, 3, 5)]),
    ("BatchNorm2d", lambda m: m.BatchNorm2d(3), [(2, 3, 4, 4)]),
    ("BatchNorm2d-noaffine", lambda m: m.BatchNorm2d(3, affine=False), [(2, 3, 2, 2)]),
    ("BatchNorm3d", lambda m: m.BatchNorm3d(2), [(2, 2, 2, 3, 2)]),
    ("LayerNorm", lambda m: m.LayerNorm(6), [(3, 6)]),
    ("LayerNorm-2d", lambda m: m.LayerNorm((2, 3), elementwise_affine=False), [(4, 2, 3)]),
    ("GroupNorm", lambda m: m.GroupNorm(2, 4), [(3, 4, 5)]),
    ("InstanceNorm1d", lambda m: m.InstanceNorm1d(3, affine=True), [(2, 3, 6)]),
    ("InstanceNorm2d", lambda m: m.InstanceNorm2d(3, track_running_stats=True), [(2, 3, 4, 4)]),
    ("LocalResponseNorm", lambda m: m.LocalResponseNorm(3), [(2, 5, 4)]),
    ("RMSNorm", lambda m: m.RMSNorm(4), [(3, 4)]),
    ("PReLU", lambda m: m.PReLU(), [(3, 4)]),
    ("PReLU-channels", lambda m: m.PReLU(3), [(2, 3, 4)]),
    ("ReLU", lambda m: m.ReLU(), [(3, 4)]),
    ("ReLU6", lambda m: m.ReLU6(), [(3, 4)]),
    ("LeakyReLU", lambda m: m.LeakyReLU(0.2), [(3, 4)]),
    ("ELU", lambda m: m.ELU(alpha=0.5), [(3, 4)]),
    ("SELU", lambda m: m.SELU(), [(3, 4)]),
    ("CELU", lambda m: m.CELU(alpha=2.0), [(3, 4)]),
    ("GELU", lambda m: m.GELU(), [(3, 4)]),
    ("GELU-tanh", lambda m: m.GELU(approximate="tanh"), [(3, 4)]),
    ("SiLU", lambda m: m.SiLU(), [(3, 4)]),
    ("Mish", lambda m: m.Mish(), [(3, 4)]),
    ("Sigmoid", lambda m: m.Sigmoid(), [(3, 4)]),
    ("Tanh", lambda m: m.Tanh(), [(3, 4)]),
    ("Hardtanh", lambda m: m.Hardtanh(-0.5, 0.7), [(3, 4)]),
    ("Hardsigmoid", lambda m: m.Hardsigmoid(), [(3, 4)]),
    ("Hardswish", lambda m: m.Hardswish(), [(3, 4)]),
    ("Softplus", lambda m: m.Softplus(beta=2.0, threshold=1.0), [(3, 4)]),
    ("Softsign", lambda m: m.Softsign(), [(3, 4)]),
    ("Softmax", lambda m: m.Softmax(dim=1), [(3, 4)]),
    ("LogSoftmax", lambda m: m.LogSoftmax(dim=-1), [(3, 4)]),
    ("Softmin", lambda m: m.Softmin(dim=0), [(3, 4)]),
    ("Softmax2d", lambda m: m.Softmax2d(), [(2, 3, 2, 2)]),
    ("Threshold", lambda m: m.Threshold(0.1, 20.0), [(3, 4)]),
    ("GLU", lambda m: m.GLU(), [(3, 4)]),
    ("LogSigmoid", lambda m: m.LogSigmoid(), [(3, 4)]),
    ("Tanhshrink", lambda m: m.Tanhshrink(), [(3, 4)]),
    ("Hardshrink", lambda m: m.Hardshrink(), [(3, 4)]),
    ("Softshrink", lambda m: m.Softshrink(0.3), [(3, 4)]),
    ("PairwiseDistance", lambda m: m.PairwiseDistance(), [(3, 4), (3, 4)]),
    ("CosineSimilarity", lambda m: m.CosineSimilarity(), [(3, 4), (3, 4)]),
    ("Dropout-eval", lambda m: m.Dropout(0.3), [(3, 4)]),
]


@pytest.mark.parametrize("name,make,shapes", LAYERS, ids=[r[0] for r in LAYERS])
def test_layer_matches_torch(name, make, shapes):
    np.random.seed(1)
    inputs = [rand(*s) for s in shapes]
    train = not name.endswith("-eval")
    check_module(make(tnn), make(enn), *inputs, train=train)


@pytest.mark.parametrize("name", ["BatchNorm1d", "BatchNorm2d", "InstanceNorm2d"])
def test_norm_eval_after_training(name):
    np.random.seed(2)
    shape = (4, 3) if name == "BatchNorm1d" else (2, 3, 3, 3)
    kwargs = {"track_running_stats": True} if name.startswith("Instance") else {}
    tm, em = getattr(tnn, name)(3, **kwargs), getattr(enn, name)(3, **kwargs)
    for _ in range(3):
        x = rand(*shape)
        tm(torch.from_numpy(x))
        em(ember.tensor(x))
    for (_, tb), (_, eb) in zip(tm.named_buffers(), em.named_buffers()):
        close(eb, tb)
    check_module(tm, em, rand(*shape), train=False)


def test_embedding_layers():
    np.random.seed(3)
    idx = np.array([[1, 0, 3], [4, 3, 0]])
    tm, em = tnn.Embedding(6, 3, padding_idx=0), enn.Embedding(6, 3, padding_idx=0)
    check_module(tm, em, idx, grad_inputs=False)
    tm = tnn.Embedding(6, 3, scale_grad_by_freq=True)
    em = enn.Embedding(6, 3, scale_grad_by_freq=True)
    check_module(tm, em, idx, grad_inputs=False)
    for mode in ("sum", "mean", "max"):
        tm, em = tnn.EmbeddingBag(7, 3, mode=mode), enn.EmbeddingBag(7, 3, mode=mode)
        check_module(tm, em, np.array([1, 2, 4, 5, 4, 3, 2, 6]), np.array([0, 3, 3, 5]),
                     grad_inputs=False)
        check_module(tm, em, idx, grad_inputs=False)
    tm, em = tnn.EmbeddingBag(7, 3, mode="sum"), enn.EmbeddingBag(7, 3, mode="sum")
    copy_weights(tm, em)
    psw = np.abs(rand(5))
    t_psw, e_psw = _pair(psw)
    t_out = tm(torch.tensor([1, 2, 4, 2, 6]), torch.tensor([0, 2]), per_sample_weights=t_psw)
    e_out = em(ember.tensor([1, 2, 4, 2, 6]), ember.tensor([0, 2]), per_sample_weights=e_psw)
    close(e_out, t_out)
    t_out.sum().backward()
    e_out.sum().backward()
    close(e_psw.grad, t_psw.grad)
    close(em.weight.grad, tm.weight.grad)
    tm = tnn.EmbeddingBag(7, 3, mode="sum", padding_idx=2)
    em = enn.EmbeddingBag(7, 3, mode="sum", padding_idx=2)
    check_module(tm, em, np.array([1, 2, 4, 2, 6]), np.array([0, 2]), grad_inputs=False)


def test_embedding_max_norm_and_pretrained():
    w = rand(5, 3) * 3
    te = tnn.Embedding.from_pretrained(torch.from_numpy(w.copy()), max_norm=1.0)
    ee = enn.Embedding.from_pretrained(ember.tensor(w.copy()), max_norm=1.0)
    idx = np.array([0, 2, 2])
    close(ee(ember.tensor(idx)), te(torch.from_numpy(idx)))
    close(ee.weight, te.weight)
    assert not ee.weight.requires_grad
    assert repr(ee) == repr(te)


def _loss_inputs(seed=4):
    np.random.seed(seed)
    return rand(4, 5), rand(4, 5)


def _check_fn(tf, ef, t_args, e_args, grad_idx=(0,), rtol=1e-4, atol=1e-5):
    t_out = tf(*t_args)
    e_out = ef(*e_args)
    close(e_out, t_out, rtol, atol)
    g = np.asarray(rand(*t_out.shape)) if t_out.dim() else np.float32(1.0)
    t_out.backward(torch.from_numpy(np.array(g)))
    e_out.backward(ember.tensor(np.array(g)))
    for i in grad_idx:
        close(e_args[i].grad, t_args[i].grad, rtol, atol)


def _pair(x, requires_grad=True):
    return torch.from_numpy(x.copy()).requires_grad_(requires_grad), ember.tensor(
        x.copy(), requires_grad=requires_grad)


REDUCTIONS = ["mean", "sum", "none"]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name,kwargs", [
    ("l1_loss", {}), ("mse_loss", {}), ("smooth_l1_loss", {"beta": 0.5}),
    ("huber_loss", {"delta": 0.7}), ("soft_margin_loss", {}),
])
def test_regression_losses(name, kwargs, reduction):
    x, y = _loss_inputs()
    if name == "soft_margin_loss":
        y = np.sign(y).astype(np.float32)
    tx, ex = _pair(x)
    ty, ey = _pair(y, requires_grad=name != "soft_margin_loss")
    _check_fn(lambda a, b: getattr(TF, name)(a, b, reduction=reduction, **kwargs),
              lambda a, b: getattr(EF, name)(a, b, reduction=reduction, **kwargs),
              (tx, ty), (ex, ey), grad_idx=(0,) if name == "soft_margin_loss" else (0, 1))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("kwargs", [{}, {"ignore_index": 1}, {"label_smoothing": 0.2},
                                    {"weight": True}, {"weight": True, "label_smoothing": 0.1,
                                                       "ignore_index": 2}])
def test_cross_entropy_indices(kwargs, reduction):
    np.random.seed(5)
    x = rand(6, 4)
    target = np.array([0, 1, 2, 3, 1, 2])
    tk, ek = dict(kwargs), dict(kwargs)
    if kwargs.get("weight"):
        w = np.abs(rand(4)) + 0.1
        tk["weight"], ek["weight"] = torch.from_numpy(w), ember.tensor(w)
    tx, ex = _pair(x)
    _check_fn(lambda a: TF.cross_entropy(a, torch.from_numpy(target), reduction=reduction, **tk),
              lambda a: EF.cross_entropy(a, ember.tensor(target), reduction=reduction, **ek),
              (tx,), (ex,))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_nd_and_probabilities(reduction):
    np.random.seed(6)
    x = rand(2, 3, 4, 2)
    target = np.random.randint(0, 3, (2, 4, 2))
    w = np.abs(rand(3)) + 0.1
    tx, ex = _pair(x)
    _check_fn(lambda a: TF.cross_entropy(a, torch.from_numpy(target), torch.from_numpy(w),
                                         reduction=reduction),
              lambda a: EF.cross_entropy(a, ember.tensor(target), ember.tensor(w),
                                         reduction=reduction), (tx,), (ex,))
    probs = np.random.dirichlet(np.ones(3), (5,)).astype(np.float32)
    x = rand(5, 3)
    tx, ex = _pair(x)
    _check_fn(lambda a: TF.cross_entropy(a, torch.from_numpy(probs), reduction=reduction,
                                         label_smoothing=0.1),
              lambda a: EF.cross_entropy(a, ember.tensor(probs), reduction=reduction,
                                         label_smoothing=0.1), (tx,), (ex,))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", ["l1_loss", "mse_loss", "huber_loss"])
def test_weighted_regression_losses(name, reduction):
    x, y = _loss_inputs(15)
    w = np.abs(rand(4, 5))
    tx, ex = _pair(x)
    _check_fn(lambda a: getattr(TF, name)(a, torch.from_numpy(y), reduction=reduction,
                                          weight=torch.from_numpy(w)),
              lambda a: getattr(EF, name)(a, ember.tensor(y), reduction=reduction,
                                          weight=ember.tensor(w)), (tx,), (ex,))


def test_nll_loss_unbatched_and_module():
    x = rand(5)
    tx, ex = _pair(x)
    _check_fn(lambda a: TF.nll_loss(a, torch.tensor(2)), lambda a: EF.nll_loss(
        a, ember.tensor(2)), (tx,), (ex,))
    assert repr(enn.NLLLoss()) == repr(tnn.NLLLoss())
    assert repr(enn.CrossEntropyLoss(label_smoothing=0.1)) == repr(tnn.CrossEntropyLoss(
        label_smoothing=0.1))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_losses(reduction):
    np.random.seed(7)
    p = (np.random.rand(4, 3) * 0.98 + 0.01).astype(np.float32)
    t = np.random.rand(4, 3).astype(np.float32)
    w = np.abs(rand(3)) + 0.1
    tx, ex = _pair(p)
    _check_fn(lambda a: TF.binary_cross_entropy(a, torch.from_numpy(t), torch.from_numpy(w),
                                                reduction=reduction),
              lambda a: EF.binary_cross_entropy(a, ember.tensor(t), ember.tensor(w),
                                                reduction=reduction), (tx,), (ex,))
    logits = rand(4, 3) * 30  # large logits: the stable form must not overflow
    tx, ex = _pair(logits)
    _check_fn(lambda a: TF.binary_cross_entropy_with_logits(
        a, torch.from_numpy(t), pos_weight=torch.from_numpy(w), reduction=reduction),
        lambda a: EF.binary_cross_entropy_with_logits(
            a, ember.tensor(t), pos_weight=ember.tensor(w), reduction=reduction), (tx,), (ex,))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none", "batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(reduction, log_target):
    np.random.seed(8)
    x = np.log(np.random.dirichlet(np.ones(4), (3,))).astype(np.float32)
    t = np.random.dirichlet(np.ones(4), (3,)).astype(np.float32)
    if log_target:
        t = np.log(t + 0.1).astype(np.float32)
    tx, ex = _pair(x)
    tt, et = _pair(t)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _check_fn(lambda a, b: TF.kl_div(a, b, reduction=reduction, log_target=log_target),
                  lambda a, b: EF.kl_div(a, b, reduction=reduction, log_target=log_target),
                  (tx, tt), (ex, et), grad_idx=(0, 1))
    if not log_target:  # a zero target contributes 0 (torch's target grad there is nan)
        t[0, 1] = 0.0
        close(EF.kl_div(ember.tensor(x), ember.tensor(t), reduction="none"),
              TF.kl_div(torch.from_numpy(x), torch.from_numpy(t), reduction="none"))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_margin_and_embedding_losses(reduction):
    np.random.seed(9)
    a, b, c = rand(4, 5), rand(4, 5), rand(4, 5)
    y = np.array([1, -1, 1, -1], np.float32)
    (ta, ea), (tb, eb), (tc, ec) = _pair(a), _pair(b), _pair(c)
    ty, ey = torch.from_numpy(y), ember.tensor(y)
    _check_fn(lambda p, q: TF.cosine_embedding_loss(p, q, ty, 0.1, reduction=reduction),
              lambda p, q: EF.cosine_embedding_loss(p, q, ey, 0.1, reduction=reduction),
              (ta, tb), (ea, eb), grad_idx=(0, 1))
    for swap in (False, True):
        ta.grad = tb.grad = None
        ea.grad = eb.grad = None
        _check_fn(lambda p, q, r, swap=swap: TF.triplet_margin_loss(p, q, r, swap=swap,
                                                                    reduction=reduction),
                  lambda p, q, r, swap=swap: EF.triplet_margin_loss(p, q, r, swap=swap,
                                                                    reduction=reduction),
                  (ta, tb, tc), (ea, eb, ec), grad_idx=(0, 1, 2))
    x1, x2 = _pair(rand(6)), _pair(rand(6))
    yy = np.array([1, -1, 1, 1, -1, -1], np.float32)
    _check_fn(lambda p, q: TF.margin_ranking_loss(p, q, torch.from_numpy(yy), 0.2,
                                                  reduction=reduction),
              lambda p, q: EF.margin_ranking_loss(p, q, ember.tensor(yy), 0.2,
                                                  reduction=reduction),
              (x1[0], x2[0]), (x1[1], x2[1]), grad_idx=(0, 1))
    h = _pair(rand(6))
    _check_fn(lambda p: TF.hinge_embedding_loss(p, torch.from_numpy(yy), 0.5,
                                                reduction=reduction),
              lambda p: EF.hinge_embedding_loss(p, ember.tensor(yy), 0.5, reduction=reduction),
              (h[0],), (h[1],))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_multiclass_losses(reduction):
    np.random.seed(10)
    x = rand(3, 4)
    tgt = np.array([1, 0, 3])
    w = np.abs(rand(4)) + 0.1
    for p in (1, 2):
        tx, ex = _pair(x)
        _check_fn(lambda a, p=p: TF.multi_margin_loss(a, torch.from_numpy(tgt), p, 0.7,
                                                      torch.from_numpy(w), reduction=reduction),
                  lambda a, p=p: EF.multi_margin_loss(a, ember.tensor(tgt), p, 0.7,
                                                      ember.tensor(w), reduction=reduction),
                  (tx,), (ex,))
    labels = (np.random.rand(3, 4) > 0.5).astype(np.float32)
    tx, ex = _pair(x)
    _check_fn(lambda a: TF.multilabel_soft_margin_loss(a, torch.from_numpy(labels),
                                                       torch.from_numpy(w), reduction=reduction),
              lambda a: EF.multilabel_soft_margin_loss(a, ember.tensor(labels),
                                                       ember.tensor(w), reduction=reduction),
              (tx,), (ex,))
    mt = np.array([[3, 0, -1, 1], [1, 2, 3, -1], [-1, 0, 0, 0]])
    tx, ex = _pair(x)
    _check_fn(lambda a: TF.multilabel_margin_loss(a, torch.from_numpy(mt), reduction=reduction),
              lambda a: EF.multilabel_margin_loss(a, ember.tensor(mt), reduction=reduction),
              (tx,), (ex,))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_likelihood_losses(reduction):
    np.random.seed(11)
    x, t = rand(3, 4), np.abs(rand(3, 4)) * 3
    for log_input, full in ((True, False), (False, True), (True, True)):
        xin = x if log_input else np.abs(x) + 0.1
        tx, ex = _pair(xin)
        kw = {"log_input": log_input, "full": full, "reduction": reduction}
        _check_fn(lambda a, kw=kw: TF.poisson_nll_loss(a, torch.from_numpy(t), **kw),
                  lambda a, kw=kw: EF.poisson_nll_loss(a, ember.tensor(t), **kw), (tx,), (ex,))
    var = np.abs(rand(3, 4)) + 0.05
    var[0, 0] = 1e-9  # clamped to eps without grad
    (tx, ex), (tv, ev) = _pair(x), _pair(var)
    _check_fn(lambda a, v: TF.gaussian_nll_loss(a, torch.from_numpy(t), v, full=True,
                                                reduction=reduction),
              lambda a, v: EF.gaussian_nll_loss(a, ember.tensor(t), v, full=True,
                                                reduction=reduction),
              (tx, tv), (ex, ev), grad_idx=(0, 1))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("padded", [True, False])
def test_ctc_loss(reduction, padded):
    np.random.seed(12)
    T, N, C = 6, 3, 4
    logits = rand(T, N, C)
    in_lens = [6, 5, 4]
    tgt_lens = [2, 3, 1]
    targets = np.array([[1, 2, 0], [1, 1, 3], [2, 0, 0]])
    if not padded:
        targets = np.concatenate([targets[i, :n] for i, n in enumerate(tgt_lens)])
    tx, ex = _pair(logits)
    _check_fn(lambda a: TF.ctc_loss(a.log_softmax(2), torch.from_numpy(targets),
                                    torch.tensor(in_lens), torch.tensor(tgt_lens),
                                    reduction=reduction),
              lambda a: EF.ctc_loss(a.log_softmax(2), ember.tensor(targets),
                                    ember.tensor(in_lens), ember.tensor(tgt_lens),
                                    reduction=reduction), (tx,), (ex,))


def test_functional_misc():
    np.random.seed(13)
    x = rand(3, 4)
    for p in (1.0, 2.0, 3.0):
        close(EF.normalize(ember.tensor(x), p=p, dim=0), TF.normalize(torch.from_numpy(x), p=p,
                                                                      dim=0))
    idx = np.array([[0, 2], [1, 3]])
    np.testing.assert_array_equal(EF.one_hot(ember.tensor(idx), 5).numpy(),
                                  TF.one_hot(torch.from_numpy(idx), 5).numpy())
    close(EF.pdist(ember.tensor(x)), TF.pdist(torch.from_numpy(x)))
    close(EF.cosine_similarity(ember.tensor(x), ember.tensor(x[:1]), dim=1),
          TF.cosine_similarity(torch.from_numpy(x), torch.from_numpy(x[:1]), dim=1))


def test_weight_init_defaults_match_torch_bounds():
    # Linear: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias, as in torch
    em = enn.Linear(400, 300)
    bound = 1 / np.sqrt(400)
    assert np.abs(em.weight.detach().numpy()).max() <= bound
    assert np.abs(em.weight.detach().numpy()).max() > 0.95 * bound
    assert np.abs(em.bias.detach().numpy()).max() <= bound
    tm = tnn.Linear(400, 300)
    np.testing.assert_allclose(em.weight.detach().numpy().std(),
                               tm.weight.detach().numpy().std(), rtol=0.05)
    bil = enn.Bilinear(30, 20, 10)
    assert np.abs(bil.weight.detach().numpy()).max() <= 1 / np.sqrt(30)
    emb, temb = enn.Embedding(300, 200), tnn.Embedding(300, 200)
    np.testing.assert_allclose(emb.weight.detach().numpy().std(),
                               temb.weight.detach().numpy().std(), rtol=0.05)
    for name in ("BatchNorm2d", "LayerNorm", "GroupNorm", "InstanceNorm1d"):
        args = (2, 4) if name == "GroupNorm" else (4,)
        assert repr(getattr(enn, name)(*args)) == repr(getattr(tnn, name)(*args))
    assert float(enn.PReLU().weight) == pytest.approx(0.25)


def test_reprs_match_torch():
    def build(m):
        class Net(m.Module):
            def __init__(self):
                super().__init__()
                self.fc1 = m.Linear(4, 3)
                self.seq = m.Sequential(m.ReLU(inplace=True), m.Dropout(0.2),
                                        m.LeakyReLU(0.1, inplace=True))
                self.blocks = m.ModuleList([m.Linear(3, 3) for _ in range(3)] + [m.Tanh()])
                self.heads = m.ModuleDict({"a": m.Softmax(dim=1), "b": m.GELU("tanh")})
                self.params = m.ParameterList([m.Parameter(
                    (torch if m is tnn else ember).zeros(2, 3))])
                self.pdict = m.ParameterDict({"w": m.Parameter(
                    (torch if m is tnn else ember).ones(4))})
                self.bn = m.BatchNorm1d(3, momentum=None, affine=False)
                self.emb = m.Embedding(10, 4, padding_idx=1, max_norm=2.0)
                self.bag = m.EmbeddingBag(10, 4, mode="sum")
                self.loss = m.CrossEntropyLoss()
                self.misc = m.Sequential(m.Hardtanh(), m.ReLU6(), m.ELU(), m.CELU(), m.SELU(),
                                         m.Softplus(), m.Threshold(0.1, 0.0), m.Hardshrink(),
                                         m.Softshrink(), m.GLU(), m.PReLU(3), m.Flatten(),
                                         m.Unflatten(1, (2, 2)), m.LayerNorm([2, 3]),
                                         m.GroupNorm(1, 2), m.LocalResponseNorm(2),
                                         m.Dropout2d(), m.AlphaDropout(0.1), m.Identity(),
                                         m.Bilinear(2, 3, 4), m.RReLU(), m.Softmin(1),
                                         m.LogSoftmax(1), m.SiLU(), m.Mish(), m.Hardswish(),
                                         m.Hardsigmoid(), m.Softmax2d(), m.CosineSimilarity(),
                                         m.PairwiseDistance(), m.InstanceNorm2d(3),
                                         m.BCEWithLogitsLoss(), m.RMSNorm(3))
        return Net()
    assert repr(build(enn)) == repr(build(tnn))


def test_state_dict_keys_and_load_errors():
    def build(m):
        return m.Sequential(m.Linear(2, 3), m.BatchNorm1d(3), m.Sequential(m.Linear(3, 1)))
    tm, em = build(tnn), build(enn)
    assert list(em.state_dict().keys()) == list(tm.state_dict().keys())
    bad = {k: to_ember(v) for k, v in tm.state_dict().items()}
    bad.pop("0.bias")
    bad["extra.weight"] = ember.zeros(1)
    with pytest.raises(RuntimeError) as e_err:
        em.load_state_dict(bad)
    tbad = {k: to_torch(v) for k, v in bad.items()}
    with pytest.raises(RuntimeError) as t_err:
        tm.load_state_dict(tbad)
    assert str(e_err.value) == str(t_err.value)
    e_res = em.load_state_dict(bad, strict=False)
    t_res = tm.load_state_dict(tbad, strict=False)
    assert repr(e_res) == repr(t_res)
    shape_bad = {k: to_ember(v) for k, v in tm.state_dict().items()}
    shape_bad["0.weight"] = ember.zeros(5, 5)
    with pytest.raises(RuntimeError) as e_err:
        em.load_state_dict(shape_bad)
    with pytest.raises(RuntimeError) as t_err:
        tm.load_state_dict({k: to_torch(v) for k, v in shape_bad.items()})
    assert str(e_err.value) == str(t_err.value)


def test_module_errors_match_torch():
    for m in (enn, tnn):
        mod = m.Linear(2, 2)
        with pytest.raises(TypeError):
            mod.weight = (ember if m is enn else torch).zeros(2, 2)
        with pytest.raises(KeyError):
            mod.register_buffer("weight", None)
    e_msg = t_msg = None
    try:
        _ = enn.Linear(2, 2).foo
    except AttributeError as ex:
        e_msg = str(ex)
    try:
        _ = tnn.Linear(2, 2).foo
    except AttributeError as ex:
        t_msg = str(ex)
    assert e_msg == t_msg


def test_clip_grad_norm_matches_torch():
    np.random.seed(14)
    grads = [rand(3, 4), rand(5)]
    for norm_type in (2.0, 1.0, float("inf")):
        tps = [torch.zeros(g.shape, requires_grad=True) for g in grads]
        eps = [enn.Parameter(ember.zeros(*g.shape)) for g in grads]
        for tp, ep, g in zip(tps, eps, grads):
            tp.grad = torch.from_numpy(g.copy())
            ep.grad = ember.tensor(g.copy())
        tn = torch.nn.utils.clip_grad_norm_(tps, 0.5, norm_type)
        en = enn.utils.clip_grad_norm_(eps, 0.5, norm_type)
        close(en, tn)
        for tp, ep in zip(tps, eps):
            close(ep.grad, tp.grad)


def test_init_gain_and_fans():
    for nl, param in (("relu", None), ("tanh", None), ("leaky_relu", 0.2), ("selu", None),
                      ("sigmoid", None), ("conv2d", None)):
        assert enn.init.calculate_gain(nl, param) == pytest.approx(
            tnn.init.calculate_gain(nl, param))
    w = ember.empty(8, 4, 3, 3)
    tw = torch.empty(8, 4, 3, 3)
    assert enn.init._calculate_fan_in_and_fan_out(w) == \
        tnn.init._calculate_fan_in_and_fan_out(tw)
    d, td = ember.empty(4, 2, 3), torch.empty(4, 2, 3)
    enn.init.dirac_(d, groups=2)
    tnn.init.dirac_(td, groups=2)
    np.testing.assert_array_equal(d.numpy(), td.numpy())


def _hook_log(lib, m):
    lin = m.Linear(3, 2)
    with (torch.no_grad() if lib is torch else ember.no_grad()):
        lin.weight.copy_(lib.arange(6.0).reshape(2, 3))
        lin.bias.zero_()
    log = []
    lin.register_full_backward_pre_hook(lambda mod, go: log.append(("pre", go[0].tolist())))
    lin.register_full_backward_hook(lambda mod, gi, go: log.append(
        ("bw", None if gi[0] is None else gi[0].tolist(), go[0].tolist())))
    lin.register_forward_pre_hook(lambda mod, args: log.append(("fpre", len(args))))
    lin.register_forward_hook(lambda mod, args, kw, out: log.append(("fwd", sorted(kw))),
                              with_kwargs=True)
    lin.register_forward_hook(lambda mod, args, out: log.append(("first", out.shape[-1])),
                              prepend=True)
    x = lib.ones(1, 3, requires_grad=True)
    (lin(x) * 2).sum().backward()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        (lin(lib.ones(1, 3)) * 3).sum().backward()
    log.append(("warned", [str(w.message)[:40] for w in caught]))
    return log


def test_hooks_match_torch():
    assert _hook_log(ember, enn) == _hook_log(torch, tnn)


def test_named_members_and_modules_match_torch():
    def build(m):
        shared = m.Linear(2, 2)
        return m.Sequential(OrderedDict([("a", shared), ("b", m.ReLU()), ("c", shared),
                                         ("d", m.Sequential(m.BatchNorm1d(2)))]))
    tm, em = build(tnn), build(enn)
    for method in ("named_parameters", "named_buffers", "named_modules", "named_children"):
        assert [n for n, _ in getattr(em, method)()] == [n for n, _ in getattr(tm, method)()]
    assert [n for n, _ in em.named_parameters(remove_duplicate=False)] == \
        [n for n, _ in tm.named_parameters(remove_duplicate=False)]
    assert list(em.state_dict()) == list(tm.state_dict())


def test_lenet_repr_matches_torch():
    def build(m):
        class Net(m.Module):
            def __init__(self):
                super().__init__()
                self.conv1 = m.Conv2d(1, 6, 5)
                self.pool = m.MaxPool2d(2, 2)
                self.conv2 = m.Conv2d(6, 16, 5)
                self.fc1 = m.Linear(16 * 5 * 5, 120)
                self.fc2 = m.Linear(120, 84)
                self.fc3 = m.Linear(84, 10)
        return Net()
    assert repr(build(enn)) == repr(build(tnn))


def test_binary_cross_entropy_at_saturation_matches_torch():
    p = np.array([0.0, 1.0, 1.0, 0.0, 0.5, 1e-30], np.float32)
    t = np.array([1.0, 0.0, 1.0, 0.0, 1.0, 0.3], np.float32)
    tx = torch.tensor(p, requires_grad=True)
    ex = ember.tensor(p, requires_grad=True)
    tl = TF.binary_cross_entropy(tx, torch.from_numpy(t), reduction="sum")
    el = EF.binary_cross_entropy(ex, ember.tensor(t), reduction="sum")
    tl.backward()
    el.backward()
    np.testing.assert_allclose(el.item(), tl.item(), rtol=1e-6)
    np.testing.assert_allclose(ex.grad.numpy(), tx.grad.numpy(), rtol=1e-6)
