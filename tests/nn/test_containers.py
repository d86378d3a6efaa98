"""Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict."""
from collections import OrderedDict

import numpy as np
import pytest

import ember
import ember.nn as nn


def test_sequential_forward_indexing_and_editing():
    a, b, c = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)
    seq = nn.Sequential(a, b, c)
    x = ember.randn(4, 2)
    expected = c(b(a(x)))
    np.testing.assert_allclose(seq(x).detach().numpy(), expected.detach().numpy())
    assert len(seq) == 3 and seq[0] is a and seq[-1] is c
    assert list(seq) == [a, b, c]
    sub = seq[1:]
    assert isinstance(sub, nn.Sequential) and list(sub) == [b, c]
    assert [n for n, _ in sub.named_children()] == ["1", "2"]  # slicing keeps the names
    with pytest.raises(IndexError, match="index 3 is out of range"):
        seq[3]
    seq[1] = nn.Tanh()
    assert isinstance(seq[1], nn.Tanh)
    del seq[0]
    assert [n for n, _ in seq.named_children()] == ["0", "1"]
    seq.append(nn.ReLU()).insert(0, nn.Identity())
    assert [type(m).__name__ for m in seq] == ["Identity", "Tanh", "Linear", "ReLU"]
    seq.extend([nn.Sigmoid()])
    assert len(seq) == 5
    assert isinstance(seq.pop(0), nn.Identity) and len(seq) == 4
    assert len(seq + nn.Sequential(nn.ReLU())) == 5
    assert len(nn.Sequential(nn.ReLU()) * 3) == 3


def test_sequential_from_ordered_dict():
    seq = nn.Sequential(OrderedDict([("conv", nn.Linear(2, 2)), ("act", nn.ReLU())]))
    assert seq.conv is seq[0]
    assert list(seq.state_dict()) == ["conv.weight", "conv.bias"]


def test_module_list():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(layers) == 3 and len(list(layers.parameters())) == 6
    layers.append(nn.ReLU())
    layers.insert(0, nn.Tanh())
    assert isinstance(layers[0], nn.Tanh) and isinstance(layers[-1], nn.ReLU)
    layers.extend([nn.Sigmoid()])
    assert len(layers) == 6
    del layers[0]
    assert [n for n, _ in layers.named_children()] == [str(i) for i in range(5)]
    assert len(layers[1:3]) == 2
    layers += [nn.ReLU()]
    assert len(layers) == 6
    with pytest.raises(TypeError, match="should be called with an iterable"):
        layers.extend(3)
    assert repr(nn.ModuleList([nn.ReLU(), nn.ReLU(), nn.Tanh()])) == (
        "ModuleList(\n  (0-1): 2 x ReLU()\n  (2): Tanh()\n)")
    assert repr(nn.ModuleList()) == "ModuleList()"
    with pytest.raises(NotImplementedError):
        layers(ember.ones(1))


def test_module_dict():
    d = nn.ModuleDict({"a": nn.Linear(1, 1), "b": nn.ReLU()})
    assert list(d.keys()) == ["a", "b"] and "a" in d and len(d) == 2
    d["c"] = nn.Tanh()
    assert isinstance(d.pop("c"), nn.Tanh)
    d.update([("z", nn.Identity())])
    assert list(d) == ["a", "b", "z"]
    with pytest.raises(ValueError, match="has length 1; 2 is required"):
        d.update([("x",)])
    assert len(list(d.parameters())) == 2
    d.clear()
    assert len(d) == 0


def test_parameter_list_and_dict():
    plist = nn.ParameterList([ember.ones(2), nn.Parameter(ember.zeros(3))])
    assert all(isinstance(p, nn.Parameter) for p in plist)  # plain tensors are wrapped
    assert len(plist) == 2 and len(list(plist.parameters())) == 2
    plist.append(ember.ones(1))
    assert plist[-1].shape == (1,)
    assert repr(plist) == ("ParameterList(\n"
                           "    (0): Parameter containing: [torch.float32 of size 2]\n"
                           "    (1): Parameter containing: [torch.float32 of size 3]\n"
                           "    (2): Parameter containing: [torch.float32 of size 1]\n)")
    with pytest.raises(RuntimeError, match="should not be called"):
        plist()
    pdict = nn.ParameterDict({"b": ember.ones(1), "a": ember.zeros(2)})
    assert list(pdict) == ["a", "b"]  # plain dicts are sorted, as in PyTorch
    assert isinstance(pdict["a"], nn.Parameter)
    assert [n for n, _ in pdict.named_parameters()] == ["a", "b"]
    pdict["c"] = nn.Parameter(ember.ones(3))
    assert pdict.pop("c").shape == (3,)
    assert pdict.get("missing") is None and "a" in pdict
    with pytest.raises(TypeError, match="cannot be used as a key"):
        pdict[1]
    merged = pdict | nn.ParameterDict({"d": ember.ones(1)})
    assert list(merged) == ["a", "b", "d"]
