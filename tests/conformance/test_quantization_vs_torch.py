"""Quantization against real PyTorch: quantized tensors (integers, qparams, repr), fake
quantization (values and gradients), observers' qparams, fake-quant modules, dynamic and static
quantized models on the same weights, and checkpoints read both ways."""
import re
import warnings

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _e(x):
    return ember.tensor(np.asarray(x))


def _t(x):
    return torch.tensor(np.asarray(x))


def _both(lib_fn):
    return lib_fn(ember), lib_fn(torch)


X = np.random.RandomState(0).randn(6, 5).astype(np.float32) * 3


@pytest.mark.parametrize("dtype", ["qint8", "quint8", "qint32"])
@pytest.mark.parametrize("scale,zero_point", [(0.05, 3), (0.1, 0), (0.013, -2)])
def test_quantize_per_tensor(dtype, scale, zero_point):
    if dtype == "quint8" and zero_point < 0:
        with pytest.raises(RuntimeError, match="below lower bound"):
            ember.quantize_per_tensor(_e(X), scale, zero_point, ember.quint8)
        return
    e = ember.quantize_per_tensor(_e(X), scale, zero_point, getattr(ember, dtype))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = torch.quantize_per_tensor(_t(X), scale, zero_point, getattr(torch, dtype))
    np.testing.assert_array_equal(e.int_repr().numpy(), t.int_repr().numpy())
    np.testing.assert_array_equal(e.dequantize().numpy(), t.dequantize().numpy())
    assert (e.q_scale(), e.q_zero_point()) == (t.q_scale(), t.q_zero_point())
    assert repr(e) == repr(t)


def test_quantize_per_channel_and_repr():
    scales, zps = [0.1, 0.2, 0.3, 0.05, 0.07, 0.01], [0, 1, 2, 3, 4, 5]
    e = ember.quantize_per_channel(_e(X), _e(scales), _e(zps), 0, ember.quint8)
    t = torch.quantize_per_channel(_t(X), _t(scales), _t(zps), 0, torch.quint8)
    np.testing.assert_array_equal(e.int_repr().numpy(), t.int_repr().numpy())
    np.testing.assert_array_equal(e.dequantize().numpy(), t.dequantize().numpy())
    assert repr(e) == repr(t)
    e1 = ember.quantize_per_channel(_e(X), _e(scales[:5]), _e(zps[:5]), 1, ember.qint8)
    t1 = torch.quantize_per_channel(_t(X), _t(scales[:5]), _t(zps[:5]), 1, torch.qint8)
    np.testing.assert_array_equal(e1.int_repr().numpy(), t1.int_repr().numpy())


@pytest.mark.parametrize("dtype", ["qint8", "quint8"])
@pytest.mark.parametrize("reduce_range", [False, True])
def test_quantize_per_tensor_dynamic(dtype, reduce_range):
    e = ember.quantize_per_tensor_dynamic(_e(X), getattr(ember, dtype), reduce_range)
    t = torch.quantize_per_tensor_dynamic(_t(X), getattr(torch, dtype), reduce_range)
    assert (e.q_scale(), e.q_zero_point()) == (t.q_scale(), t.q_zero_point())
    np.testing.assert_array_equal(e.int_repr().numpy(), t.int_repr().numpy())


def _grads(fn_e, fn_t, extra_e=(), extra_t=()):
    xe, xt = ember.tensor(X, requires_grad=True), torch.tensor(X, requires_grad=True)
    ye, yt = fn_e(xe), fn_t(xt)
    g = np.random.RandomState(1).randn(*X.shape).astype(np.float32)
    ye.backward(ember.tensor(g))
    yt.backward(torch.tensor(g))
    np.testing.assert_array_equal(ye.detach().numpy(), yt.detach().numpy())
    np.testing.assert_array_equal(xe.grad.numpy(), xt.grad.numpy())
    for a, b in zip(extra_e, extra_t):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_fake_quantize_per_tensor_and_channel():
    _grads(lambda x: ember.fake_quantize_per_tensor_affine(x, 0.05, 3, 0, 127),
           lambda x: torch.fake_quantize_per_tensor_affine(x, 0.05, 3, 0, 127))
    _grads(lambda x: ember.fake_quantize_per_tensor_affine(
        x, _e([0.07]).float(), _e([-3]).int(), -128, 127),
        lambda x: torch.fake_quantize_per_tensor_affine(
            x, _t([0.07]).float(), _t([-3]).int(), -128, 127))
    s, z = [0.1, 0.2, 0.03, 0.05, 0.4, 0.3], [0, 1, 2, 3, -1, 0]
    _grads(lambda x: ember.fake_quantize_per_channel_affine(x, _e(s).float(), _e(z).int(), 0,
                                                            -10, 10),
           lambda x: torch.fake_quantize_per_channel_affine(x, _t(s).float(), _t(z).int(), 0,
                                                            -10, 10))


@pytest.mark.parametrize("per_channel", [False, True])
def test_learnable_fake_quantize(per_channel):
    n = 6 if per_channel else 1
    se = ember.tensor([0.05] * n, requires_grad=True)
    ze = ember.tensor([3.0] * n, requires_grad=True)
    st = torch.tensor([0.05] * n, requires_grad=True)
    zt = torch.tensor([3.0] * n, requires_grad=True)
    if per_channel:
        _grads(lambda x: ember._fake_quantize_learnable_per_channel_affine(x, se, ze, 0, 0, 60,
                                                                           0.5),
               lambda x: torch._fake_quantize_learnable_per_channel_affine(x, st, zt, 0, 0, 60,
                                                                           0.5),
               (se, ze), (st, zt))
    else:
        _grads(lambda x: ember._fake_quantize_learnable_per_tensor_affine(x, se, ze, 0, 60, 0.5),
               lambda x: torch._fake_quantize_learnable_per_tensor_affine(x, st, zt, 0, 60, 0.5),
               (se, ze), (st, zt))


OBSERVERS = [
    ("MinMaxObserver", {}),
    ("MinMaxObserver", {"dtype": "qint8", "qscheme": "per_tensor_symmetric"}),
    ("MinMaxObserver", {"quant_min": 0, "quant_max": 127}),
    ("MovingAverageMinMaxObserver", {"reduce_range": True}),
    ("PerChannelMinMaxObserver", {"dtype": "qint8", "qscheme": "per_channel_symmetric"}),
    ("PerChannelMinMaxObserver", {"ch_axis": 1}),
    ("MovingAveragePerChannelMinMaxObserver", {"averaging_constant": 0.1}),
    ("HistogramObserver", {}),
    ("HistogramObserver", {"reduce_range": True}),
    ("HistogramObserver", {"bins": 64, "dtype": "qint8", "qscheme": "per_tensor_symmetric"}),
]


def _make(lib, module, name, kwargs):
    kw = {k: getattr(lib, v) if isinstance(v, str) else v for k, v in kwargs.items()}
    return getattr(module(lib), name)(**kw)


@pytest.mark.parametrize("name,kwargs", OBSERVERS)
def test_observer_qparams(name, kwargs):
    e = _make(ember, lambda lib: lib.ao.quantization, name, kwargs)
    t = _make(torch, lambda lib: lib.ao.quantization, name, kwargs)
    rs = np.random.RandomState(2)
    for s in (1.0, 3.0, 0.5):
        x = (rs.randn(4, 6) * s).astype(np.float32)
        e(ember.tensor(x))
        t(torch.tensor(x))
    (es, ez), (ts, tz) = e.calculate_qparams(), t.calculate_qparams()
    np.testing.assert_array_equal(es.numpy(), ts.numpy())
    np.testing.assert_array_equal(ez.numpy(), tz.numpy())
    assert es.dtype.name == str(ts.dtype)[6:] and ez.dtype.name == str(tz.dtype)[6:]
    assert repr(e) == repr(t)


@pytest.mark.parametrize("kind", ["default_fake_quant", "default_weight_fake_quant",
                                  "default_per_channel_weight_fake_quant",
                                  "default_fused_act_fake_quant"])
def test_fake_quantize_modules(kind):
    e = getattr(ember.ao.quantization, kind)()
    t = getattr(torch.ao.quantization, kind)()
    rs = np.random.RandomState(3)
    for s in (1.0, 2.0):
        x = (rs.randn(4, 5) * s).astype(np.float32)
        xe, xt = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        ye, yt = e(xe), t(xt)
        ye.sum().backward()
        yt.sum().backward()
        np.testing.assert_allclose(ye.detach().numpy(), yt.detach().numpy(), atol=1e-6)
        np.testing.assert_array_equal(xe.grad.numpy(), xt.grad.numpy())
    np.testing.assert_allclose(e.scale.numpy(), t.scale.numpy(), rtol=1e-6)
    assert repr(e).replace("ember.", "torch.") == repr(t)


def _copy_weights(src, dst):
    dst.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in src.state_dict().items()})


@pytest.mark.parametrize("rnn", ["LSTM", "GRU"])
@pytest.mark.parametrize("kwargs", [{"num_layers": 2}, {"bidirectional": True,
                                                        "batch_first": True}])
def test_quantize_dynamic_rnn_matches(rnn, kwargs):
    width = 10 if kwargs.get("bidirectional") else 5
    tm = torch.nn.Sequential(getattr(torch.nn, rnn)(6, 5, **kwargs), torch.nn.Linear(width, 3))
    em = ember.nn.Sequential(getattr(ember.nn, rnn)(6, 5, **kwargs), ember.nn.Linear(width, 3))
    _copy_weights(tm, em)
    tq = torch.ao.quantization.quantize_dynamic(tm, {getattr(torch.nn, rnn), torch.nn.Linear},
                                                dtype=torch.qint8)
    eq = ember.ao.quantization.quantize_dynamic(em, {getattr(ember.nn, rnn), ember.nn.Linear},
                                                dtype=ember.qint8)
    assert repr(eq) == repr(tq)
    x = np.random.RandomState(4).randn(4, 3, 6).astype(np.float32)
    (ae, he), (at, ht) = eq[0](ember.tensor(x)), tq[0](torch.tensor(x))
    np.testing.assert_allclose(ae.numpy(), at.detach().numpy(), atol=1e-6)
    np.testing.assert_allclose(eq[1](ae).numpy(), tq[1](at).detach().numpy(), atol=1e-6)
    for a, b in zip(he if rnn == "LSTM" else [he], ht if rnn == "LSTM" else [ht]):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), atol=1e-6)


def _static_model(lib):
    nn, q = lib.nn, lib.ao.quantization

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.quant = q.QuantStub()
            self.conv = nn.Conv2d(3, 4, 3, padding=1, bias=False)
            self.bn = nn.BatchNorm2d(4)
            self.relu = nn.ReLU()
            self.conv2 = nn.Conv2d(4, 4, 3, groups=2)
            self.skip = nn.quantized.FloatFunctional()
            self.fc = nn.Linear(64, 5)
            self.relu2 = nn.ReLU()
            self.drop = nn.Dropout(0.2)
            self.fc2 = nn.Linear(5, 3)
            self.dequant = q.DeQuantStub()

        def forward(self, x):
            x = self.relu(self.bn(self.conv(self.quant(x))))
            x = self.skip.add(x[:, :, 1:5, 1:5], self.conv2(x))
            x = self.drop(self.relu2(self.fc(x.flatten(1))))
            return self.dequant(self.fc2(x))

    return M()


def _rounded_scales(text: str) -> str:
    return re.sub(r"scale=([0-9.e-]+)", lambda m: f"scale={float(m.group(1)):.5g}", text)


@pytest.mark.parametrize("qconfig", ["default", "fbgemm"])
def test_static_quantization_matches(qconfig, tmp_path):
    torch.manual_seed(0)
    tm, em = _static_model(torch), _static_model(ember)
    with torch.no_grad():
        for p in tm.parameters():
            p.uniform_(-0.5, 0.5)
        tm.bn.running_mean.uniform_(-0.2, 0.2)
        tm.bn.running_var.uniform_(0.5, 1.5)
    _copy_weights(tm, em)
    rs = np.random.RandomState(5)
    calib = [rs.randn(2, 3, 6, 6).astype(np.float32) for _ in range(3)]
    for lib, m in ((torch, tm), (ember, em)):
        q = lib.ao.quantization
        m.eval()
        q.fuse_modules(m, [["conv", "bn", "relu"], ["fc", "relu2"]], inplace=True)
        m.qconfig = q.default_qconfig if qconfig == "default" else q.get_default_qconfig(qconfig)
        q.prepare(m, inplace=True)
        for x in calib:
            m(lib.tensor(x))
        q.convert(m, inplace=True)
    # the observed float activations differ in the last bit, so may the output scales
    assert _rounded_scales(repr(em)) == _rounded_scales(repr(tm))
    x = rs.randn(2, 3, 6, 6).astype(np.float32)
    out_e, out_t = em(ember.tensor(x)).numpy(), tm(torch.tensor(x)).numpy()
    np.testing.assert_allclose(out_e, out_t, rtol=0, atol=1.01 * tm.fc2.scale)
    assert np.isclose(out_e, out_t, rtol=1e-5, atol=1e-6).mean() > 0.8  # mostly the same ints
    assert list(em.state_dict()) == list(tm.state_dict())
    # torch reads ember's quantized state dict and computes the same outputs
    ember.save(em.state_dict(), tmp_path / "e.pt")
    fresh = _static_model(torch).eval()
    torch.ao.quantization.fuse_modules(fresh, [["conv", "bn", "relu"], ["fc", "relu2"]],
                                       inplace=True)
    fresh.qconfig = torch.ao.quantization.default_qconfig
    torch.ao.quantization.prepare(fresh, inplace=True)
    fresh(torch.tensor(x))
    torch.ao.quantization.convert(fresh, inplace=True)
    fresh.load_state_dict(torch.load(tmp_path / "e.pt"))
    np.testing.assert_array_equal(fresh(torch.tensor(x)).numpy(), out_e)


def test_checkpoints_both_ways(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = {"a": torch.quantize_per_tensor(_t(X), 0.05, 3, torch.qint8),
             "b": torch.quantize_per_channel(_t(X), _t([0.1] * 6), _t([1] * 6), 0,
                                             torch.quint8),
             "s": torch.per_channel_symmetric}
    torch.save(t, tmp_path / "t.pt")
    e = ember.load(tmp_path / "t.pt")
    assert repr(e["a"]) == repr(t["a"]) and repr(e["b"]) == repr(t["b"])
    assert e["s"] is ember.per_channel_symmetric
    ember.save(e, tmp_path / "e.pt")
    back = torch.load(tmp_path / "e.pt")
    assert repr(back["a"]) == repr(t["a"]) and repr(back["b"]) == repr(t["b"])


def test_quantize_dynamic_cells_match():
    tm = torch.nn.Sequential(torch.nn.LSTMCell(4, 5), torch.nn.GRUCell(4, 5),
                             torch.nn.RNNCell(4, 5, nonlinearity="relu"))
    em = ember.nn.Sequential(ember.nn.LSTMCell(4, 5), ember.nn.GRUCell(4, 5),
                             ember.nn.RNNCell(4, 5, nonlinearity="relu"))
    _copy_weights(tm, em)
    tq = torch.ao.quantization.quantize_dynamic(tm)
    eq = ember.ao.quantization.quantize_dynamic(em)
    assert repr(eq) == repr(tq)
    rs = np.random.RandomState(6)
    x, h = rs.randn(3, 4).astype(np.float32), rs.randn(3, 5).astype(np.float32)
    for a, b in zip(eq[0](_e(x), (_e(h), _e(h))), tq[0](_t(x), (_t(h), _t(h)))):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6)
    for i in (1, 2):
        np.testing.assert_allclose(eq[i](_e(x), _e(h)).numpy(), tq[i](_t(x), _t(h)).numpy(),
                                   atol=1e-6)
        np.testing.assert_allclose(eq[i](_e(x)).numpy(), tq[i](_t(x)).numpy(), atol=1e-6)


def _norms_model(lib):
    nn, q = lib.nn, lib.ao.quantization
    return nn.Sequential(q.QuantStub(), nn.Conv2d(2, 4, 1), nn.BatchNorm2d(4), nn.Hardswish(),
                         nn.LeakyReLU(0.2), nn.ELU(), nn.GroupNorm(2, 4), nn.LayerNorm([4, 3, 3]),
                         q.DeQuantStub()).eval()


def test_static_float_computed_layers_match():
    torch.manual_seed(0)
    tm, em = _norms_model(torch), _norms_model(ember)
    with torch.no_grad():
        tm[2].running_mean.uniform_(-0.3, 0.3)
        tm[2].running_var.uniform_(0.5, 2)
        tm[6].weight.uniform_(0.5, 1.5)
        tm[7].bias.uniform_(-0.2, 0.2)
    _copy_weights(tm, em)
    rs = np.random.RandomState(7)
    calib = [rs.randn(2, 2, 3, 3).astype(np.float32) for _ in range(2)]
    for lib, m in ((torch, tm), (ember, em)):
        q = lib.ao.quantization
        m.qconfig = q.default_qconfig
        q.prepare(m, inplace=True)
        for c in calib:
            m(lib.tensor(c))
        q.convert(m, inplace=True)
    assert _rounded_scales(repr(em)) == _rounded_scales(repr(tm))
    assert list(em.state_dict()) == list(tm.state_dict())
    x = rs.randn(2, 2, 3, 3).astype(np.float32)
    a, b = em[0](_e(x)), tm[0](_t(x))
    for i in range(1, 8):
        a, b = em[i](a), tm[i](b)
        diff = np.abs(a.int_repr().numpy().astype(int) - b.int_repr().numpy())
        assert diff.max() <= 1 and (diff == 0).mean() > 0.9, type(tm[i]).__name__
        # the next layer gets torch's input, so each layer is compared on its own
        a = ember.quantize_per_tensor(_e(b.dequantize().numpy()), b.q_scale(), b.q_zero_point(),
                                      ember.quint8)


@pytest.mark.parametrize("dtype", ["quint8", "qint8", "qint32"])
def test_quantize_rounds_after_adding_the_zero_point(dtype):
    """0.5 with scale 1 and zero point 3 is round(3.5) = 4 in PyTorch, not round(0.5) + 3."""
    x = np.array([0.5, 2.5, -0.5, 0.25, 1.5, 7.5], np.float32)
    want = torch.quantize_per_tensor(torch.from_numpy(x), 1.0, 3, getattr(torch, dtype))
    got = ember.quantize_per_tensor(ember.from_numpy(x), 1.0, 3, getattr(ember, dtype))
    np.testing.assert_array_equal(got.int_repr().numpy(), want.int_repr().numpy())
    scales, zps = torch.tensor([1.0, 0.5]), torch.tensor([3, 1])
    want = torch.quantize_per_channel(torch.from_numpy(x).reshape(2, 3), scales, zps, 0,
                                      getattr(torch, dtype))
    got = ember.quantize_per_channel(ember.from_numpy(x).reshape(2, 3), ember.tensor([1.0, 0.5]),
                                     ember.tensor([3, 1]), 0, getattr(ember, dtype))
    np.testing.assert_array_equal(got.int_repr().numpy(), want.int_repr().numpy())
