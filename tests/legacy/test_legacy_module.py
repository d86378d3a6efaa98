"""The legacy Module / Criterion protocol: parameters, flattening, types, modes, containers."""
import pytest

import ember
from ember.legacy import nn


def _model():
    return nn.Sequential().add(nn.Linear(3, 4)).add(nn.Tanh()).add(nn.Linear(4, 2))


def test_parameters_and_update():
    m = nn.Linear(3, 2)
    params, grads = m.parameters()
    assert params[0] is m.weight and params[1] is m.bias
    assert grads[0] is m.gradWeight and grads[1] is m.gradBias
    assert nn.Tanh().parameters() is None
    x, g = ember.randn(4, 3), ember.randn(4, 2)
    m.zeroGradParameters()
    m.backward(x, g)
    w, gw = m.weight.clone(), m.gradWeight.clone()
    m.updateParameters(0.5)
    ember.testing.assert_close(m.weight, w - 0.5 * gw)
    m.zeroGradParameters()
    assert float(m.gradWeight.abs().sum()) == 0


def test_backward_update_applies_the_step_to_the_weights():
    a, b = nn.Linear(3, 2), nn.Linear(3, 2)
    b.weight.copy_(a.weight)
    b.bias.copy_(a.bias)
    x, g = ember.randn(4, 3), ember.randn(4, 2)
    a.zeroGradParameters()
    a.forward(x)
    a.backward(x, g)
    a.updateParameters(0.1)
    b.forward(x)
    b.backwardUpdate(x, g, 0.1)
    ember.testing.assert_close(a.weight, b.weight)
    ember.testing.assert_close(a.bias, b.bias)
    assert float(b.gradWeight.abs().sum()) == 0  # gradients left untouched


def test_flatten_parameters_shares_storage():
    m = _model()
    weights_before = [p.clone() for p in m.parameters()[0]]
    flat, flat_grad = m.flattenParameters()
    assert flat.numel() == 3 * 4 + 4 + 4 * 2 + 2 == flat_grad.numel()
    for p, before in zip(m.parameters()[0], weights_before):
        ember.testing.assert_close(p, before)
    flat.fill_(0.25)
    assert float(m.modules[2].weight[1, 3]) == 0.25
    x = ember.randn(5, 3)
    m.forward(x)
    m.backward(x, ember.ones(5, 2))
    ember.testing.assert_close(flat_grad[-2:], ember.full((2,), 5.0))  # the last bias
    m.zeroGradParameters()
    assert float(flat_grad.abs().sum()) == 0


def test_sequential_editing():
    m = _model()
    assert m.size() == 3
    m.insert(nn.ReLU(), 1)
    assert isinstance(m.get(1), nn.ReLU) and m.size() == 4
    removed = m.remove(1)
    assert isinstance(removed, nn.ReLU)
    last = m.remove()
    assert isinstance(last, nn.Linear) and m.size() == 2
    assert len(m.listModules()) == 3
    nodes, containers = m.findModules("Linear")
    assert nodes == [m.get(0)] and containers == [m]
    assert "nn.Linear(3 -> 4)" in repr(m)


def test_training_and_evaluate_recurse():
    drop = nn.Dropout(0.5)
    m = nn.Sequential().add(nn.Concat(1).add(drop).add(nn.Identity()))
    m.evaluate()
    assert not drop.train
    x = ember.randn(3, 4)
    ember.testing.assert_close(m.forward(x), ember.cat([x, x], 1))
    m.training()
    assert drop.train


def test_type_casts_every_tensor():
    m = _model()
    assert m.type() == "torch.FloatTensor"
    m.double()
    assert m.type() == "torch.DoubleTensor"
    assert m.get(0).weight.dtype == ember.float64
    assert m.get(2).gradBias.dtype == ember.float64
    out = m.forward(ember.randn(2, 3, dtype=ember.float64))
    assert out.dtype == ember.float64
    m.type(ember.float32)
    assert m.get(0).weight.dtype == ember.float32
    crit = nn.MSECriterion().double()
    assert crit.type() == "torch.DoubleTensor"


def test_clear_state():
    m = _model()
    x = ember.randn(2, 3)
    m.forward(x)
    m.backward(x, ember.ones(2, 2))
    m.clearState()
    assert m.output.numel() == 0 and m.get(0).gradInput.numel() == 0
    assert m.get(0).weight.numel() == 12


def test_accumulation_over_calls_and_scale():
    m = nn.Linear(3, 2)
    x, g = ember.randn(4, 3), ember.randn(4, 2)
    m.zeroGradParameters()
    m.backward(x, g)
    once = m.gradWeight.clone()
    m.backward(x, g, 2)
    ember.testing.assert_close(m.gradWeight, 3 * once)


def test_index_conventions_are_zero_based():
    x = ember.arange(12.0).reshape(3, 4)
    ember.testing.assert_close(nn.Select(1, 0).forward(x), x[:, 0])
    ember.testing.assert_close(nn.Narrow(0, 1, 2).forward(x), x[1:3])
    assert len(nn.SplitTable(0).forward(x)) == 3
    assert nn.JoinTable(0).forward([x, x]).shape == (6, 4)
    logp = ember.log_softmax(ember.randn(2, 4), 1)
    assert nn.ClassNLLCriterion().forward(logp, ember.tensor([0, 3])) == pytest.approx(
        -(float(logp[0, 0]) + float(logp[1, 3])) / 2, rel=1e-6)


def test_errors_name_the_module():
    with pytest.raises(IndexError, match="ClassNLLCriterion"):
        nn.ClassNLLCriterion().forward(ember.randn(2, 3), ember.tensor([0, 3]))
    with pytest.raises(RuntimeError, match="Linear"):
        nn.Linear(3, 2).forward(ember.randn(2, 3, 4))
    with pytest.raises(RuntimeError, match="MM"):
        nn.MM().forward([ember.randn(2, 3), ember.randn(2, 3, 4)])
    with pytest.raises(ValueError, match="Momentum"):
        from ember.legacy import optim
        optim.nag(lambda v: (0.0, v), ember.zeros(2), {"momentum": 0})
