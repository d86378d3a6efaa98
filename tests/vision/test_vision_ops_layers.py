"""torchvision.ops layers: NumPy oracles, state_dict keys and reprs as torchvision has them."""
from collections import OrderedDict

import numpy as np
import pytest

import ember
from ember import nn
from ember.vision import ops
from ember.vision.ops.feature_pyramid_network import LastLevelMaxPool, LastLevelP6P7


def test_frozen_batch_norm_matches_formula_and_loads_batchnorm():
    bn = nn.BatchNorm2d(3)
    bn.running_mean.copy_(ember.tensor([0.5, -1.0, 2.0]))
    bn.running_var.copy_(ember.tensor([1.5, 0.2, 3.0]))
    bn.weight.data.copy_(ember.tensor([2.0, 1.0, -1.0]))
    bn.bias.data.copy_(ember.tensor([0.1, 0.0, 0.3]))
    frozen = ops.FrozenBatchNorm2d(3)
    frozen.load_state_dict(bn.state_dict())  # num_batches_tracked is dropped, not unexpected
    assert list(frozen.state_dict()) == ["weight", "bias", "running_mean", "running_var"]
    assert list(frozen.parameters()) == []
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 4)).astype(np.float32)
    mean, var = bn.running_mean.numpy(), bn.running_var.numpy()
    want = ((x - mean[:, None, None]) / np.sqrt(var[:, None, None] + 1e-5)
            * bn.weight.detach().numpy()[:, None, None] + bn.bias.detach().numpy()[:, None, None])
    np.testing.assert_allclose(frozen(ember.tensor(x)).numpy(), want, rtol=1e-5, atol=1e-6)
    assert repr(frozen) == "FrozenBatchNorm2d(3, eps=1e-05)"


def test_conv_norm_activation_layout():
    m = ops.Conv2dNormActivation(3, 8, kernel_size=3, stride=2)
    assert [type(c).__name__ for c in m] == ["Conv2d", "BatchNorm2d", "ReLU"]
    assert m[0].padding == (1, 1) and m[0].bias is None and m[2].inplace
    assert m(ember.zeros(1, 3, 8, 8)).shape == (1, 8, 4, 4)
    assert "0.weight" in m.state_dict() and "1.running_mean" in m.state_dict()
    m = ops.Conv2dNormActivation(3, 8, kernel_size=(3, 5), dilation=2, norm_layer=None,
                                 activation_layer=None)
    assert len(m) == 1 and m[0].padding == (2, 4) and m[0].bias is not None
    m3 = ops.Conv3dNormActivation(2, 4, kernel_size=3, activation_layer=nn.SiLU, inplace=None)
    assert [type(c).__name__ for c in m3] == ["Conv3d", "BatchNorm3d", "SiLU"]
    assert m3(ember.zeros(1, 2, 4, 4, 4)).shape == (1, 4, 4, 4, 4)


def test_models_reuse_ops_layers():
    from ember.vision.models import _ops
    assert _ops.Conv2dNormActivation is ops.Conv2dNormActivation
    assert _ops.SqueezeExcitation is ops.SqueezeExcitation


def test_squeeze_excitation():
    se = ops.SqueezeExcitation(4, 2)
    assert list(se.state_dict()) == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    x = ember.randn(2, 4, 3, 3)
    pooled = x.numpy().mean((2, 3))
    w1, b1 = se.fc1.weight.detach().numpy()[:, :, 0, 0], se.fc1.bias.detach().numpy()
    w2, b2 = se.fc2.weight.detach().numpy()[:, :, 0, 0], se.fc2.bias.detach().numpy()
    s = 1 / (1 + np.exp(-(np.maximum(pooled @ w1.T + b1, 0) @ w2.T + b2)))
    np.testing.assert_allclose(se(x).detach().numpy(), x.numpy() * s[:, :, None, None],
                               rtol=1e-5, atol=1e-6)


def test_mlp_layout():
    m = ops.MLP(4, [8, 6, 2], norm_layer=nn.LayerNorm, dropout=0.1)
    assert [type(c).__name__ for c in m] == ["Linear", "LayerNorm", "ReLU", "Dropout", "Linear",
                                             "LayerNorm", "ReLU", "Dropout", "Linear", "Dropout"]
    assert "8.weight" in m.state_dict()
    assert m(ember.zeros(5, 4)).shape == (5, 2)
    assert ops.MLP(3, [2], inplace=False)[1].inplace is False


def test_permute():
    x = ember.randn(2, 3, 4)
    assert ops.Permute([2, 0, 1])(x).shape == (4, 2, 3)


def test_stochastic_depth():
    x = ember.ones(1000, 3)
    ember.manual_seed(0)
    out = ops.stochastic_depth(x, 0.3, "row").numpy()
    rows = out[:, 0]
    assert set(np.unique(rows)) <= {0.0, np.float32(1 / 0.7)}
    assert (out == out[:, :1]).all() and 0.6 < (rows > 0).mean() < 0.8
    batch = ops.stochastic_depth(x, 0.5, "batch").numpy()
    assert len(np.unique(batch)) == 1
    assert ops.stochastic_depth(x, 0.3, "row", training=False) is x
    assert ops.stochastic_depth(x, 1.0, "row").sum().item() == 0
    with pytest.raises(ValueError):
        ops.stochastic_depth(x, 1.5, "row")
    with pytest.raises(ValueError):
        ops.stochastic_depth(x, 0.5, "col")
    m = ops.StochasticDepth(0.2, "row")
    assert repr(m) == "StochasticDepth(p=0.2, mode=row)"
    assert m.eval()(x) is x


@pytest.mark.parametrize("dims", [2, 3])
def test_drop_block(dims):
    ember.manual_seed(0)
    fn = ops.drop_block2d if dims == 2 else ops.drop_block3d
    x = ember.ones((2, 3) + (9,) * dims)
    out = fn(x, 0.3, 3).numpy()
    dropped = out == 0
    # every zero lies in a fully zeroed block_size cube, and the survivors keep the mean
    assert 0.05 < dropped.mean() < 0.6
    np.testing.assert_allclose(out.mean(), 1.0, rtol=1e-4)
    assert len(np.unique(out)) == 2
    assert fn(x, 0.3, 3, training=False) is x
    with pytest.raises(ValueError):
        fn(ember.ones(3, 4), 0.3, 3)
    y = x.clone()
    assert fn(y, 0.3, 3, inplace=True) is y
    m = (ops.DropBlock2d if dims == 2 else ops.DropBlock3d)(0.1, 3)
    assert repr(m) == f"DropBlock{dims}d(p=0.1, block_size=3, inplace=False)"


def test_drop_block_blocks_are_square():
    ember.manual_seed(1)
    out = ops.drop_block2d(ember.ones(1, 1, 30, 30), 0.05, 5).numpy()[0, 0] == 0
    rows, cols = np.nonzero(out)
    assert len(rows)
    # a lone seed drops a 5x5 square: each zero has at least 4 zero neighbours along its row
    assert all(out[r, max(c - 4, 0):c + 5].sum() >= 5 for r, c in zip(rows, cols))


def test_feature_pyramid_network():
    fpn = ops.FeaturePyramidNetwork([4, 8, 16], 6, extra_blocks=LastLevelMaxPool())
    assert list(fpn.state_dict()) == [
        f"{kind}.{i}.0.{p}" for kind in ("inner_blocks", "layer_blocks") for i in range(3)
        for p in ("weight", "bias")]
    assert float(fpn.inner_blocks[0][0].bias.abs().sum()) == 0
    feats = OrderedDict(c2=ember.randn(1, 4, 16, 16), c3=ember.randn(1, 8, 8, 8),
                        c4=ember.randn(1, 16, 3, 3))
    out = fpn(feats)
    assert list(out) == ["c2", "c3", "c4", "pool"]
    assert [tuple(v.shape) for v in out.values()] == [(1, 6, 16, 16), (1, 6, 8, 8), (1, 6, 3, 3),
                                                       (1, 6, 2, 2)]
    # the top level is the 3x3 conv of the 1x1 lateral; the next adds the upsampled top level
    top = fpn.inner_blocks[2](feats["c4"])
    np.testing.assert_allclose(out["c4"].detach().numpy(),
                               fpn.layer_blocks[2](top).detach().numpy())
    up = top.detach().numpy()[:, :, np.arange(8) * 3 // 8][:, :, :, np.arange(8) * 3 // 8]
    mid = fpn.inner_blocks[1](feats["c3"]).detach().numpy() + up
    np.testing.assert_allclose(out["c3"].detach().numpy(),
                               fpn.layer_blocks[1](ember.tensor(mid)).detach().numpy(),
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(out["pool"].detach().numpy(),
                                  out["c4"].detach().numpy()[:, :, ::2, ::2])
    with pytest.raises(ValueError):
        ops.FeaturePyramidNetwork([0, 4], 6)
    with pytest.raises(TypeError):
        ops.FeaturePyramidNetwork([4], 6, extra_blocks=nn.ReLU())


def test_feature_pyramid_network_loads_version_1_keys():
    fpn = ops.FeaturePyramidNetwork([4, 8], 6)
    state = fpn.state_dict()
    assert state._metadata[""]["version"] == 2
    old = OrderedDict((k.replace(".0.", ".", 1), v * 2) for k, v in state.items())
    old._metadata = {"": {"version": 1}}
    fresh = ops.FeaturePyramidNetwork([4, 8], 6)
    fresh.load_state_dict(old)
    np.testing.assert_array_equal(fresh.layer_blocks[1][0].weight.detach().numpy(),
                                  2 * state["layer_blocks.1.0.weight"].numpy())


def test_last_level_p6p7():
    fpn = ops.FeaturePyramidNetwork([4, 8], 8, extra_blocks=LastLevelP6P7(8, 8))
    out = fpn({"a": ember.randn(1, 4, 16, 16), "b": ember.randn(1, 8, 8, 8)})
    assert list(out) == ["a", "b", "p6", "p7"]
    assert out["p6"].shape == (1, 8, 4, 4) and out["p7"].shape == (1, 8, 2, 2)
