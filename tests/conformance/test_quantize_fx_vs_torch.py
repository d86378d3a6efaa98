"""FX graph mode quantization against real PyTorch's ``quantize_fx`` on the same weights and
calibration data: the prepared graphs (observer placement), the observers' qparams, the
converted graphs (quantized modules and ops, quantize/dequantize boundaries) and the int8
model's outputs, for static, dynamic and QAT flows."""
import operator
import warnings

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")
pytestmark = [pytest.mark.filterwarnings("ignore::UserWarning"),
              pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.filterwarnings("ignore::FutureWarning")]

RNG = np.random.RandomState(0)
CALIBRATION = [RNG.randn(4, 3, 8, 8).astype(np.float32) for _ in range(3)]
TEST_INPUT = RNG.randn(5, 3, 8, 8).astype(np.float32)


def _net(lib):
    """conv-bn-relu, a residual add + relu, pooling, flatten, cat and a linear head: the
    patterns PyTorch fuses and quantizes in FX graph mode."""
    nn, F = lib.nn, lib.nn.functional

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)
            self.bn = nn.BatchNorm2d(4)
            self.relu = nn.ReLU()
            self.conv2 = nn.Conv2d(4, 4, 3, padding=1)
            self.pool = nn.MaxPool2d(2)
            self.fc = nn.Linear(8, 5)

        def forward(self, x):
            x = self.relu(self.bn(self.conv(x)))
            x = F.relu(x + self.conv2(x))
            x = lib.flatten(F.adaptive_avg_pool2d(self.pool(x), 1), 1)
            return self.fc(lib.cat([x, x * x], 1))

    return Net()


def _pair(build, train: bool = False):
    """The same network in ember and torch (torch's random weights and BN statistics)."""
    t = build(torch)
    with torch.no_grad():
        for name, buf in t.named_buffers():
            if name.endswith("running_mean"):
                buf.copy_(torch.randn(buf.shape) * 0.1)
            elif name.endswith("running_var"):
                buf.copy_(torch.rand(buf.shape) + 0.5)
    e = build(ember)
    e.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in t.state_dict().items()})
    return (e.train(), t.train()) if train else (e.eval(), t.eval())


def _lib_api(lib):
    ao = lib.ao.quantization
    import importlib
    return ao, importlib.import_module(f"{lib.__name__}.ao.quantization.quantize_fx")


def _target_name(gm, node) -> str:
    if node.op == "call_module":
        return gm.get_submodule(node.target)._get_name()
    target = node.target
    return target if isinstance(target, str) else target.__name__


def _structure(gm) -> list:
    """(op, target) of the graph's computing nodes, targets by name (``quantize_per_tensor``,
    ``add_relu``, ``QuantizedConvReLU2d``, ``HistogramObserver``, ...)."""
    return [(n.op, _target_name(gm, n)) for n in gm.graph.nodes
            if n.op in ("call_module", "call_function", "call_method")]


def _observer_qparams(gm) -> dict:
    return {name: tuple(float(v) for v in m.calculate_qparams())
            for name, m in gm.named_modules(remove_duplicate=False)
            if name.startswith("activation_post_process_")}


def _static(lib, model, qconfig_mapping):
    """The prepared graph's structure and calibrated qparams (PyTorch's convert_fx rewrites
    its input), the converted graph's structure and its output on TEST_INPUT."""
    ao, qfx = _lib_api(lib)
    example = (lib.tensor(CALIBRATION[0]),)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prepared = qfx.prepare_fx(model, qconfig_mapping(ao), example)
        with lib.no_grad():
            for batch in CALIBRATION:
                prepared(lib.tensor(batch))
        observed = (_structure(prepared), _observer_qparams(prepared))
        converted = qfx.convert_fx(prepared)
        with lib.no_grad():
            out = converted(lib.tensor(TEST_INPUT)).numpy()
    fc = converted.get_submodule("fc")
    if hasattr(fc, "scale"):  # the int8 output's integers
        out = np.round(out / fc.scale).astype(np.int64) + fc.zero_point
    return observed, _structure(converted), out


@pytest.mark.parametrize("mapping", ["default_qconfig", "x86", "fbgemm_qconfig_dict"])
def test_static_ptq_matches_torch(mapping):
    qconfig_mapping = {
        "default_qconfig": lambda ao: ao.QConfigMapping().set_global(ao.default_qconfig),
        "x86": lambda ao: ao.get_default_qconfig_mapping("x86"),
        "fbgemm_qconfig_dict": lambda ao: {"": ao.get_default_qconfig("fbgemm")},
    }[mapping]
    e_model, t_model = _pair(_net)
    (ep, e_qparams), ec, eo = _static(ember, e_model, qconfig_mapping)
    (tp, t_qparams), tc, to = _static(torch, t_model, qconfig_mapping)
    assert ep == tp
    assert e_qparams.keys() == t_qparams.keys()
    for name in t_qparams:  # float32 scales: equal up to the last bit of a float32
        np.testing.assert_allclose(e_qparams[name], t_qparams[name], rtol=1e-6, err_msg=name)
    # PyTorch's quantized add is ``torch.ops.quantized.add_relu``: targets compared by name
    assert ec == tc
    # Calibration runs float convolutions, whose summation order differs from PyTorch's: a
    # range may differ in its last float32 bit, and so may a scale, moving a rounding by one.
    assert np.abs(eo - to).max() <= 1
    assert (eo == to).mean() > 0.9
    # the float model is left as it was
    assert type(e_model.conv).__name__ == "Conv2d" and type(e_model.bn).__name__ == "BatchNorm2d"


def test_module_name_and_object_type_settings_match_torch():
    def mapping(ao):
        return (ao.QConfigMapping().set_global(ao.default_qconfig)
                .set_module_name("fc", None)
                .set_object_type(operator.add, None))

    e_model, t_model = _pair(_net)
    (ep, _), ec, eo = _static(ember, e_model, mapping)
    (tp, _), tc, to = _static(torch, t_model, mapping)
    assert ep == tp and ec == tc
    assert ("call_module", "Linear") in ec  # fc left in float
    np.testing.assert_allclose(eo, to, rtol=1e-5, atol=1e-6)


def _mlp(lib):
    nn = lib.nn
    return nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))


def _lstm_net(lib):
    nn = lib.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(6, 5)
            self.fc = nn.Linear(5, 3)

        def forward(self, x):
            out, _ = self.lstm(x)
            return self.fc(out)

    return Net()


def _dynamic_qconfig_mapping(ao):
    return (ao.QConfigMapping().set_object_type(ao.nn.LSTM, ao.default_dynamic_qconfig)
            .set_object_type(ao.nn.Linear, ao.default_dynamic_qconfig))


@pytest.mark.parametrize("build,x_shape,mapping,expected", [
    (_mlp, (7, 6), lambda ao: ao.QConfigMapping().set_global(ao.default_dynamic_qconfig),
     ["DynamicQuantizedLinearReLU", "DynamicQuantizedLinear"]),
    (_lstm_net, (4, 2, 6), _dynamic_qconfig_mapping,
     ["DynamicQuantizedLSTM", "getitem", "DynamicQuantizedLinear"]),
])
def test_dynamic_matches_torch(build, x_shape, mapping, expected):
    e_model, t_model = _pair(build)
    x = RNG.randn(*x_shape).astype(np.float32)
    results = []
    for lib, model in ((ember, e_model), (torch, t_model)):
        ao, qfx = _lib_api(lib)
        ao.nn = lib.nn
        prepared = qfx.prepare_fx(model, mapping(ao), (lib.tensor(x),))
        observed = _structure(prepared)
        converted = qfx.convert_fx(prepared)
        with lib.no_grad():
            out = converted(lib.tensor(x)).numpy()
        results.append((observed, _structure(converted), out))
    (ep, ec, eo), (tp, tc, to) = results
    assert ep == tp and ec == tc
    assert [t for _, t in ec] == expected
    # the float results of the int8 products: the last float32 bit may differ
    np.testing.assert_allclose(eo, to, rtol=1e-5, atol=1e-6)


def _conv_bn_net(lib):
    nn = lib.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)
            self.bn = nn.BatchNorm2d(4)
            self.relu = nn.ReLU()
            self.fc = nn.Linear(4 * 6 * 6, 3)

        def forward(self, x):
            return self.fc(lib.flatten(self.relu(self.bn(self.conv(x))), 1))

    return Net()


def test_qat_matches_torch():
    e_model, t_model = _pair(_conv_bn_net, train=True)
    results = []
    for lib, model in ((ember, e_model), (torch, t_model)):
        ao, qfx = _lib_api(lib)
        # version 0: FakeQuantize modules (ember's fused observer + fake quantize of weights
        # does not yet round as PyTorch's fused kernel does, in eager mode as well)
        qmap = ao.get_default_qat_qconfig_mapping("x86", version=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            prepared = qfx.prepare_qat_fx(model, qmap, (lib.tensor(CALIBRATION[0]),))
            train_out = [prepared(lib.tensor(b)).detach().numpy() for b in CALIBRATION]
            prepared.eval()
            observed = _structure(prepared)
            converted = qfx.convert_fx(prepared)
            out = converted(lib.tensor(TEST_INPUT)).numpy()
        results.append((observed, _structure(converted), train_out, out))
    (ep, ec, e_train, eo), (tp, tc, t_train, to) = results
    assert ep == tp and ec == tc
    for e, t in zip(e_train, t_train):  # fake-quantized float math: summation order differs
        np.testing.assert_allclose(e, t, rtol=1e-4, atol=1e-4)
    # the converted outputs are integers times one scale: allow one quantization step
    step = float(np.abs(np.diff(np.unique(to))).min())
    np.testing.assert_allclose(eo, to, atol=step * 1.01)
