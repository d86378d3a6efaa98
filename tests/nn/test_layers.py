"""Layer modules: defaults, running statistics, modes, lazy shapes, reprs (vs NumPy)."""
import numpy as np
import pytest

import ember
import ember.nn as nn


def test_linear_module_shapes_and_repr():
    lin = nn.Linear(4, 3)
    assert lin.weight.shape == (3, 4) and lin.bias.shape == (3,)
    x = ember.randn(2, 5, 4)
    ref = x.numpy() @ lin.weight.detach().numpy().T + lin.bias.detach().numpy()
    np.testing.assert_allclose(lin(x).detach().numpy(), ref, rtol=1e-5, atol=1e-6)
    assert repr(nn.Linear(4, 3, bias=False)) == \
        "Linear(in_features=4, out_features=3, bias=False)"
    assert nn.Linear(2, 2, dtype=ember.float64).weight.dtype is ember.float64
    assert repr(nn.Bilinear(2, 3, 4)) == \
        "Bilinear(in1_features=2, in2_features=3, out_features=4, bias=True)"
    ident = nn.Identity(54, unused="x")
    assert ident(x) is x


def test_lazy_linear_materialises_on_first_call():
    lazy = nn.LazyLinear(3)
    out = lazy(ember.randn(2, 5))
    assert out.shape == (2, 3)
    assert type(lazy) is nn.Linear and lazy.in_features == 5
    assert lazy.weight.shape == (3, 5) and isinstance(lazy.weight, nn.Parameter)


@pytest.mark.parametrize("momentum", [0.1, None])
def test_batchnorm_running_statistics(momentum):
    bn = nn.BatchNorm1d(2, momentum=momentum)
    assert bn.eps == 1e-5 and bn.num_batches_tracked.item() == 0
    rm, rv = np.zeros(2), np.ones(2)
    batches = [np.random.RandomState(i).randn(6, 2).astype(np.float32) for i in range(3)]
    for i, xb in enumerate(batches, 1):
        out = bn(ember.tensor(xb)).detach().numpy()
        np.testing.assert_allclose(out, (xb - xb.mean(0)) / np.sqrt(xb.var(0) + 1e-5),
                                   rtol=1e-4, atol=1e-5)
        m = 1.0 / i if momentum is None else momentum
        rm = (1 - m) * rm + m * xb.mean(0)
        rv = (1 - m) * rv + m * xb.var(0, ddof=1)
    np.testing.assert_allclose(bn.running_mean.numpy(), rm, rtol=1e-5)
    np.testing.assert_allclose(bn.running_var.numpy(), rv, rtol=1e-5)
    assert bn.num_batches_tracked.item() == 3
    bn.eval()
    x = batches[0]
    np.testing.assert_allclose(bn(ember.tensor(x)).detach().numpy(),
                               (x - rm) / np.sqrt(rv + 1e-5), rtol=1e-4, atol=1e-5)
    assert bn.num_batches_tracked.item() == 3  # eval leaves the counter alone


def test_batchnorm_without_running_stats_uses_batch_stats_in_eval():
    bn = nn.BatchNorm2d(3, track_running_stats=False, affine=False).eval()
    assert bn.running_mean is None and bn.weight is None
    assert list(bn.state_dict()) == []
    x = np.random.RandomState(0).randn(2, 3, 2, 2).astype(np.float32)
    ref = (x - x.mean((0, 2, 3), keepdims=True)) / np.sqrt(x.var((0, 2, 3), keepdims=True)
                                                           + 1e-5)
    np.testing.assert_allclose(bn(ember.tensor(x)).numpy(), ref, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="expected 4D input \\(got 3D input\\)"):
        bn(ember.randn(2, 3, 4))
    assert list(nn.BatchNorm1d(2).state_dict()) == ["weight", "bias", "running_mean",
                                                    "running_var", "num_batches_tracked"]


def test_instance_norm_module():
    inorm = nn.InstanceNorm1d(3)
    x = np.random.RandomState(1).randn(3, 5).astype(np.float32)  # unbatched (C, L)
    ref = (x - x.mean(1, keepdims=True)) / np.sqrt(x.var(1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(inorm(ember.tensor(x)).numpy(), ref, rtol=1e-4, atol=1e-5)
    tracked = nn.InstanceNorm2d(2, track_running_stats=True)
    xb = np.random.RandomState(2).randn(4, 2, 3, 3).astype(np.float32)
    tracked(ember.tensor(xb))
    np.testing.assert_allclose(tracked.running_mean.numpy(), 0.1 * xb.mean((0, 2, 3)),
                               rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="expected 3D or 4D input"):
        tracked(ember.randn(2, 2))


def test_layer_group_norm_modules():
    ln = nn.LayerNorm([2, 3], elementwise_affine=False)
    assert ln.weight is None and ln.normalized_shape == (2, 3)
    gn = nn.GroupNorm(2, 4)
    assert gn.weight.tolist() == [1.0] * 4 and gn.bias.tolist() == [0.0] * 4
    with pytest.raises(ValueError, match="num_channels must be divisible by num_groups"):
        nn.GroupNorm(3, 4)
    assert repr(nn.LocalResponseNorm(2)) == "LocalResponseNorm(2, alpha=0.0001, beta=0.75, k=1.0)"


def test_dropout_modules_follow_training_flag():
    drop = nn.Dropout(0.5)
    x = ember.ones(100, 100)
    assert (drop(x).numpy() == 0).any()
    drop.eval()
    assert drop(x) is x
    assert repr(nn.Dropout2d(0.2, inplace=True)) == "Dropout2d(p=0.2, inplace=True)"
    with pytest.raises(ValueError, match="dropout probability"):
        nn.Dropout(-0.1)


def test_embedding_module():
    emb = nn.Embedding(10, 4, padding_idx=-1)
    assert emb.padding_idx == 9 and emb.weight[9].abs().sum().item() == 0
    w = np.random.RandomState(3).randn(10, 4).astype(np.float32)
    w_std = nn.Embedding(1000, 50).weight.detach().numpy().std()
    assert abs(w_std - 1.0) < 0.02  # N(0, 1) init
    pre = nn.Embedding.from_pretrained(ember.tensor(w))
    assert not pre.weight.requires_grad
    np.testing.assert_array_equal(pre(ember.tensor([3, 1])).numpy(), w[[3, 1]])
    with pytest.raises(AssertionError, match="Padding_idx must be within num_embeddings"):
        nn.Embedding(3, 2, padding_idx=3)
    bag = nn.EmbeddingBag.from_pretrained(ember.tensor(w), mode="sum", freeze=False)
    out = bag(ember.tensor([[1, 2], [3, 4]]))
    np.testing.assert_allclose(out.detach().numpy(), w[[1, 3]] + w[[2, 4]])
    assert repr(bag) == "EmbeddingBag(10, 4, mode='sum')"


def test_activation_modules_and_reprs():
    assert repr(nn.ReLU(inplace=True)) == "ReLU(inplace=True)"
    assert repr(nn.LeakyReLU(0.2)) == "LeakyReLU(negative_slope=0.2)"
    assert repr(nn.ELU(alpha=0.5, inplace=True)) == "ELU(alpha=0.5, inplace=True)"
    assert repr(nn.GELU("tanh")) == "GELU(approximate='tanh')"
    assert repr(nn.Hardtanh()) == "Hardtanh(min_val=-1.0, max_val=1.0)"
    assert repr(nn.Softshrink()) == "Softshrink(0.5)"
    assert repr(nn.Softmax(dim=1)) == "Softmax(dim=1)"
    prelu = nn.PReLU(3)
    assert prelu.weight.tolist() == [0.25] * 3
    x = ember.tensor([[[-1.0], [2.0], [-4.0]]])
    np.testing.assert_allclose(prelu(x).detach().numpy().ravel(), [-0.25, 2.0, -1.0])
    s2d = nn.Softmax2d()(ember.randn(2, 3, 2, 2))
    np.testing.assert_allclose(s2d.sum(1).numpy(), np.ones((2, 2, 2)), rtol=1e-6)
    rrelu = nn.RReLU()
    neg = ember.full((1000,), -1.0)
    slopes = -rrelu(neg).numpy()
    assert slopes.min() >= 1 / 8 and slopes.max() <= 1 / 3 and slopes.std() > 0.01
    rrelu.eval()
    np.testing.assert_allclose(-rrelu(neg).numpy(), (1 / 8 + 1 / 3) / 2, rtol=1e-6)


def test_flatten_unflatten_distance_modules():
    x = ember.randn(2, 3, 4)
    assert nn.Flatten()(x).shape == (2, 12)
    assert nn.Flatten(0, 1)(x).shape == (6, 4)
    assert nn.Unflatten(2, (2, 2))(x).shape == (2, 3, 2, 2)
    assert repr(nn.Flatten()) == "Flatten(start_dim=1, end_dim=-1)"
    assert repr(nn.Unflatten(1, (3, 1))) == "Unflatten(dim=1, unflattened_size=(3, 1))"
    a, b = ember.randn(3, 4), ember.randn(3, 4)
    np.testing.assert_allclose(nn.PairwiseDistance(p=1.0)(a, b).numpy(),
                               np.abs(a.numpy() - b.numpy() + 1e-6).sum(1), rtol=1e-5)
    assert nn.CosineSimilarity(dim=0)(a, b).shape == (4,)


def test_pytorch_module_paths_for_norm_classes():
    from ember.nn.modules.batchnorm import _BatchNorm
    from ember.nn.modules.instancenorm import _InstanceNorm
    assert isinstance(nn.BatchNorm3d(2), _BatchNorm)
    assert not isinstance(nn.InstanceNorm1d(2), _BatchNorm)
    assert isinstance(nn.InstanceNorm2d(2), _InstanceNorm)


def test_shape_errors_name_the_module_and_shapes():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 6, 3)
            self.fc1 = nn.Linear(5, 3)

        def forward(self, x, which):
            return self.conv1(x) if which == "conv" else self.fc1(x)

    net = Net()
    with pytest.raises(RuntimeError, match=r"Linear 'fc1' \(in_features=5.*in_features=5.*"
                                           r"shape \[2, 4\]"):
        net(ember.randn(2, 4), "fc")
    with pytest.raises(RuntimeError, match=r"Conv2d 'conv1' .*3 channels.*shape \[1, 4, 8, 8\]"):
        net(ember.randn(1, 4, 8, 8), "conv")
    assert net(ember.randn(1, 3, 8, 8), "conv").shape == (1, 6, 6, 6)
