"""Lazy modules and uninitialised parameters, without torch."""
import copy

import numpy as np
import pytest

import ember
import ember.nn as nn
from ember.nn.parameter import UninitializedBuffer, UninitializedParameter, is_lazy


@pytest.mark.parametrize("make,shape,becomes,weight_shape", [
    (lambda: nn.LazyLinear(3), (2, 5), nn.Linear, (3, 5)),
    (lambda: nn.LazyConv1d(4, 3), (2, 6, 7), nn.Conv1d, (4, 6, 3)),
    (lambda: nn.LazyConv2d(4, 3, groups=2), (2, 6, 5, 5), nn.Conv2d, (4, 3, 3, 3)),
    (lambda: nn.LazyConv2d(4, 3), (6, 5, 5), nn.Conv2d, (4, 6, 3, 3)),
    (lambda: nn.LazyConv3d(2, 1), (1, 3, 2, 2, 2), nn.Conv3d, (2, 3, 1, 1, 1)),
    (lambda: nn.LazyConvTranspose1d(4, 3), (2, 6, 5), nn.ConvTranspose1d, (6, 4, 3)),
    (lambda: nn.LazyConvTranspose2d(4, 3, groups=2), (2, 6, 3, 3), nn.ConvTranspose2d,
     (6, 2, 3, 3)),
    (lambda: nn.LazyConvTranspose3d(2, 2), (1, 3, 2, 2, 2), nn.ConvTranspose3d,
     (3, 2, 2, 2, 2)),
    (lambda: nn.LazyBatchNorm1d(), (4, 3), nn.BatchNorm1d, (3,)),
    (lambda: nn.LazyBatchNorm2d(), (2, 3, 4, 4), nn.BatchNorm2d, (3,)),
    (lambda: nn.LazyBatchNorm3d(), (2, 3, 2, 2, 2), nn.BatchNorm3d, (3,)),
    (lambda: nn.LazyInstanceNorm1d(), (2, 3, 4), nn.InstanceNorm1d, (3,)),
    (lambda: nn.LazyInstanceNorm1d(), (3, 4), nn.InstanceNorm1d, (3,)),
    (lambda: nn.LazyInstanceNorm2d(), (2, 3, 4, 4), nn.InstanceNorm2d, (3,)),
    (lambda: nn.LazyInstanceNorm3d(), (2, 3, 2, 2, 2), nn.InstanceNorm3d, (3,)),
])
def test_first_call_infers_shapes_and_becomes_plain(make, shape, becomes, weight_shape):
    m = make()
    assert m.has_uninitialized_params()
    assert is_lazy(m.weight)
    m(ember.randn(*shape))
    assert type(m) is becomes
    assert type(m.weight) is nn.Parameter
    assert tuple(m.weight.shape) == weight_shape
    # the hook is gone: a second call works on the plain layer
    assert not m._forward_pre_hooks
    m(ember.randn(*shape))


def test_lazy_linear_state_dict_and_repr_before_call():
    m = nn.LazyLinear(3)
    assert repr(m) == "LazyLinear(in_features=0, out_features=3, bias=True)"
    sd = m.state_dict()
    assert list(sd) == ["weight", "bias"]
    assert all(isinstance(v, UninitializedParameter) for v in sd.values())
    assert repr(sd["weight"]) == "<UninitializedParameter>"


def test_lazy_batchnorm_buffers_and_running_stats():
    m = nn.LazyBatchNorm1d(momentum=0.5)
    assert isinstance(m.running_mean, UninitializedBuffer)
    x = np.random.default_rng(0).standard_normal((8, 3))
    m(ember.tensor(x, dtype=ember.float32))
    assert type(m.running_mean) is ember.Tensor
    np.testing.assert_allclose(m.running_mean.numpy(), 0.5 * x.mean(0), rtol=1e-5)
    assert int(m.num_batches_tracked) == 1


def test_uninitialized_errors():
    p = UninitializedParameter()
    with pytest.raises(RuntimeError, match="Can't access the shape"):
        _ = p.shape
    with pytest.raises(ValueError, match="uninitialized parameter"):
        p.numel()
    m = nn.LazyConv2d(3, 3)
    with pytest.raises(RuntimeError, match="Expected 3D \\(unbatched\\) or 4D"):
        m(ember.randn(2, 2))
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.LazyConv2d(4, 3, groups=2)(ember.randn(1, 3, 4, 4))


def test_load_state_dict_materializes():
    src = nn.Linear(4, 3)
    m = nn.LazyLinear(3)
    m.load_state_dict(src.state_dict())
    assert isinstance(m, nn.LazyLinear) and not m.has_uninitialized_params()
    np.testing.assert_array_equal(m.weight.detach().numpy(), src.weight.detach().numpy())
    x = ember.randn(2, 4)
    np.testing.assert_allclose(m(x).detach().numpy(), src(x).detach().numpy())
    assert type(m) is nn.Linear
    # lazy into lazy: nothing to copy, still lazy
    other = nn.LazyLinear(3)
    other.load_state_dict(nn.LazyLinear(3).state_dict())
    assert other.has_uninitialized_params()


def test_materialize_dtype_and_conversion():
    m = nn.LazyLinear(2, dtype=ember.float64)
    assert m.weight.dtype == ember.float64
    m(ember.randn(3, 4, dtype=ember.float64))
    assert m.weight.dtype == ember.float64
    b = UninitializedBuffer()
    b.materialize((2, 2))
    assert type(b) is ember.Tensor and tuple(b.shape) == (2, 2)


def test_deepcopy_and_parameters_of_lazy_module():
    m = nn.Sequential(nn.LazyLinear(4), nn.ReLU(), nn.LazyLinear(2))
    assert len(list(m.parameters())) == 4
    c = copy.deepcopy(m)
    c(ember.randn(5, 7))
    assert tuple(c[2].weight.shape) == (2, 4)
    assert m[0].has_uninitialized_params()


def test_pickle_round_trip_before_first_call():
    import pickle
    m = pickle.loads(pickle.dumps(nn.LazyConv2d(3, 3)))
    assert m.has_uninitialized_params()
    m(ember.randn(1, 2, 5, 5))
    assert type(m) is nn.Conv2d and not m._forward_pre_hooks
