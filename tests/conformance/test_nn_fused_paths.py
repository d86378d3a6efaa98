"""The fused fast paths against torch: multi-head self-attention without weights (one
primitive over the packed projection) and cross_entropy / log_softmax over rows wide enough
to be split into several cache blocks. Outputs and gradients, float64."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import ember  # noqa: E402
import ember.nn as enn  # noqa: E402
import ember.nn.functional as EF  # noqa: E402


def _arr(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _close(e, t, atol=1e-10):
    np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), atol=atol, rtol=1e-8)


@pytest.mark.filterwarnings("ignore:Support for mismatched key_padding_mask")
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("masks", ["none", "float", "bool_causal", "padding", "3d_and_padding"])
def test_self_attention_without_weights_matches_torch(batch_first, masks):
    torch.manual_seed(0)
    tm = torch.nn.MultiheadAttention(8, 2, batch_first=batch_first, dtype=torch.float64)
    em = enn.MultiheadAttention(8, 2, batch_first=batch_first, dtype=ember.float64)
    em.load_state_dict({k: ember.tensor(v.numpy()) for k, v in tm.state_dict().items()})
    x = _arr(3, 5, 8) if batch_first else _arr(5, 3, 8)
    kw = {}
    if masks == "float":
        kw["attn_mask"] = _arr(5, 5, seed=1)
    if masks == "bool_causal":
        kw["attn_mask"] = np.triu(np.ones((5, 5), bool), 1)
    if masks in ("padding", "3d_and_padding"):
        kw["key_padding_mask"] = np.array([[0, 0, 0, 1, 1], [0] * 5, [1, 0, 0, 0, 0]], bool)
    if masks == "3d_and_padding":
        kw["attn_mask"] = _arr(6, 5, 5, seed=2)
    te, tt = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out_e = em(te, te, te, need_weights=False, **{k: ember.tensor(v) for k, v in kw.items()})[0]
    out_t = tm(tt, tt, tt, need_weights=False, **{k: torch.tensor(v) for k, v in kw.items()})[0]
    _compare_attention(out_e, out_t, te, tt, em, tm)


def _compare_attention(out_e, out_t, te, tt, em, tm) -> None:
    """Outputs, then the input's and every parameter's gradient, ember against torch."""
    _close(out_e, out_t)
    g = _arr(*te.shape, seed=3)
    out_e.backward(ember.tensor(g))
    out_t.backward(torch.tensor(g))
    _close(te.grad, tt.grad)
    for pe, pt in zip(em.parameters(), tm.parameters()):
        _close(pe.grad, pt.grad)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_wide_cross_entropy_matches_torch(reduction):
    x = _arr(64, 9000) * 3
    target = np.random.default_rng(1).integers(0, 9000, 64)
    target[5] = -100
    weight = np.abs(_arr(9000, seed=2)) + 0.1
    te, tt = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    le = EF.cross_entropy(te, ember.tensor(target), ember.tensor(weight), reduction=reduction)
    lt = torch.nn.functional.cross_entropy(tt, torch.tensor(target), torch.tensor(weight),
                                           reduction=reduction)
    _close(le, lt)
    g = _arr(*lt.shape, seed=3)
    le.backward(ember.tensor(g))
    lt.backward(torch.tensor(g))
    _close(te.grad, tt.grad)
    _close(EF.log_softmax(te, 1), torch.log_softmax(tt, 1))
    _close(EF.softmax(te, 0), torch.softmax(tt, 0))


# Larger inputs: several cache blocks of rows, per-(batch, head) masks, the fused backward
# paths against torch.

@pytest.mark.filterwarnings("ignore:Support for mismatched key_padding_mask")
def test_large_self_attention_with_masks_matches_torch():
    torch.manual_seed(0)
    tm = torch.nn.MultiheadAttention(16, 2, batch_first=True, dtype=torch.float64)
    em = enn.MultiheadAttention(16, 2, batch_first=True, dtype=ember.float64)
    em.load_state_dict({k: ember.tensor(v.numpy()) for k, v in tm.state_dict().items()})
    x = _arr(6, 80, 16)  # scores (6, 2, 80, 80)
    mask = _arr(12, 80, 80, seed=1)  # one mask per (batch, head)
    pad = np.zeros((6, 80), bool)
    pad[2, 70:] = True
    te, tt = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out_e = em(te, te, te, need_weights=False, attn_mask=ember.tensor(mask),
               key_padding_mask=ember.tensor(pad))[0]
    out_t = tm(tt, tt, tt, need_weights=False, attn_mask=torch.tensor(mask),
               key_padding_mask=torch.tensor(pad))[0]
    _compare_attention(out_e, out_t, te, tt, em, tm)


@pytest.mark.parametrize("case", ["layer", "layer_2d", "group", "instance", "batch"])
def test_large_normalization_matches_torch(case):
    shapes = {"layer": (16, 64, 96), "layer_2d": (1000, 96), "group": (12, 16, 30, 30),
              "instance": (12, 16, 30, 30), "batch": (12, 16, 30, 30)}
    x = _arr(*shapes[case]) * 2 + 1
    te, tt = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    channels = 96 if case.startswith("layer") else 16
    w, b = _arr(channels, seed=1), _arr(channels, seed=2)
    params = [(ember.tensor(p, requires_grad=True), torch.tensor(p, requires_grad=True))
              for p in (w, b)]
    (we, wt), (be, bt) = params
    if case.startswith("layer"):
        out_e, out_t = EF.layer_norm(te, (96,), we, be), torch.nn.functional.layer_norm(
            tt, (96,), wt, bt)
    elif case == "group":
        out_e, out_t = EF.group_norm(te, 4, we, be), torch.nn.functional.group_norm(
            tt, 4, wt, bt)
    elif case == "instance":
        out_e = EF.instance_norm(te, weight=we, bias=be)
        out_t = torch.nn.functional.instance_norm(tt, weight=wt, bias=bt)
    else:
        out_e = EF.batch_norm(te, None, None, we, be, training=True)
        out_t = torch.nn.functional.batch_norm(tt, None, None, wt, bt, training=True)
    _close(out_e, out_t)
    g = _arr(*x.shape, seed=3)
    out_e.backward(ember.tensor(g))
    out_t.backward(torch.tensor(g))
    _close(te.grad, tt.grad, atol=1e-9)
    for pe, pt in params:
        _close(pe.grad, pt.grad, atol=1e-9)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_large_softmax_matches_torch(dim):
    x = _arr(40, 50, 60) * 4
    g = _arr(40, 50, 60, seed=1)
    for fe, ft in ((EF.softmax, torch.softmax), (EF.log_softmax, torch.log_softmax)):
        te, tt = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        out_e, out_t = fe(te, dim), ft(tt, dim)
        _close(out_e, out_t)
        out_e.backward(ember.tensor(g))
        out_t.backward(torch.tensor(g))
        _close(te.grad, tt.grad)


@pytest.mark.parametrize("fn", ["dropout", "dropout2d"])
def test_large_dropout_scales_kept_values_and_gradients(fn):
    ember.manual_seed(0)
    x = ember.tensor(_arr(64, 32, 8, 8) + 5, requires_grad=True)
    out = getattr(EF, fn)(x, 0.25, True)
    out.backward(ember.ones(*x.shape))
    kept = out.detach().numpy() != 0
    np.testing.assert_allclose(out.detach().numpy()[kept], x.detach().numpy()[kept] / 0.75)
    np.testing.assert_allclose(x.grad.numpy(), kept / 0.75)
    assert 0.7 < kept.mean() < 0.8
    if fn == "dropout2d":  # whole channels
        assert (kept.all(axis=(2, 3)) | ~kept.any(axis=(2, 3))).all()
