"""What thop, ptflops and fvcore needed from ember, against NumPy: a value's leading size-1
dimensions dropped when it is written through an index, ``aten._convolution``, and the private
base classes that profilers key their rules by (``_ReflectionPadNd``, ``_AdaptiveAvgPoolNd``,
...). The trace graph fvcore walks is tested in tests/test_jit_trace_graph.py."""
import numpy as np
import pytest

import ember
from ember import nn
from ember.ops import aten


def test_setitem_drops_a_values_leading_ones():
    counter = ember.zeros(1, dtype=ember.float64)
    counter[0] = ember.tensor([3.0], dtype=ember.float64)  # thop's ``total_ops[0] = ...``
    assert counter.tolist() == [3.0]
    grid = ember.zeros(2, 3)
    grid[1] = ember.arange(3.0).reshape(1, 1, 3)
    grid[0, 1:] = ember.tensor([[7.0, 8.0]])
    np.testing.assert_array_equal(grid.numpy(), [[0, 7, 8], [0, 1, 2]])
    with pytest.raises(RuntimeError, match="expand"):
        counter[0] = ember.tensor([1.0, 2.0])  # a leading 2 is no broadcast


def test_setitem_with_leading_ones_keeps_the_gradient():
    value = ember.tensor([[2.0]], requires_grad=True)
    out = ember.zeros(3)
    out[1] = value
    (out * ember.tensor([1.0, 5.0, 1.0])).sum().backward()
    assert value.grad.shape == (1, 1) and value.grad.item() == 5.0


def test_aten_convolution_takes_the_backend_flags():
    x, w, b = ember.randn(1, 2, 5, 5), ember.randn(3, 2, 3, 3), ember.randn(3)
    out = aten._convolution.default(x, w, b, [1, 1], [1, 1], [1, 1], False, [0, 0], 1, False,
                                    False, True, True)
    np.testing.assert_allclose(out.numpy(), nn.functional.conv2d(x, w, b, padding=1).numpy())
    wt = ember.randn(2, 3, 2, 2)
    up = aten._convolution(x, wt, None, [2, 2], [0, 0], [1, 1], True, [1, 1], 1, False, False,
                           True, True)
    assert up.shape == (1, 3, 11, 11)


def test_layers_share_pytorchs_private_bases():
    modules = nn.modules
    assert isinstance(nn.ReflectionPad2d(1), modules.padding._ReflectionPadNd)
    assert isinstance(nn.ReplicationPad3d(1), modules.padding._ReplicationPadNd)
    assert not isinstance(nn.ReflectionPad1d(1), modules.padding._ReplicationPadNd)
    assert isinstance(nn.AdaptiveAvgPool2d(1), modules.pooling._AdaptiveAvgPoolNd)
    assert isinstance(nn.AdaptiveMaxPool1d(1), modules.pooling._AdaptiveMaxPoolNd)
    assert not isinstance(nn.AdaptiveMaxPool2d(1), modules.pooling._AdaptiveAvgPoolNd)
    assert isinstance(nn.ConvTranspose2d(1, 1, 1), modules.conv._ConvTransposeNd)
    x = ember.arange(4.0).reshape(1, 1, 4)
    np.testing.assert_array_equal(nn.ReflectionPad1d(1)(x).numpy()[0, 0], [1, 0, 1, 2, 3, 2])
    np.testing.assert_array_equal(nn.ReplicationPad1d(1)(x).numpy()[0, 0], [0, 0, 1, 2, 3, 3])


def test_aten_operators_survive_a_deep_copy():
    import copy
    # ptflops deep-copies its table of counters keyed by operators, then looks ops up in it
    table = copy.deepcopy({aten.bmm: "packet", aten.bmm.default: "overload"})
    assert table[aten.bmm] == "packet" and table[aten.bmm.default] == "overload"
    assert copy.deepcopy(aten._convolution) is aten._convolution
