"""Optimizers built from named parameters (``module.named_parameters()``) against PyTorch:
the groups' ``param_names``, state_dict, the errors for mixing named and unnamed ones, and
the same updates as from unnamed parameters."""
import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")

OPTIMIZERS = ["SGD", "Adam", "AdamW", "Adagrad", "RMSprop", "Adadelta", "Adamax", "NAdam",
              "RAdam", "Rprop", "ASGD"]


def _models():
    weight = np.random.default_rng(0).standard_normal((3, 2))
    models = []
    for lib in (torch, ember):
        m = lib.nn.Linear(2, 3).double()
        with lib.no_grad():
            m.weight.copy_(lib.tensor(weight))
            m.bias.zero_()
        models.append(m)
    return models


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_named_groups_state_dict_and_steps(name):
    x = np.random.default_rng(1).standard_normal((4, 2))
    dicts = []
    for lib, m in zip((torch, ember), _models()):
        opt = getattr(lib.optim, name)(m.named_parameters(), lr=0.01)
        for _ in range(3):
            opt.zero_grad()
            m(lib.tensor(x)).pow(2).sum().backward()
            opt.step()
        group = opt.param_groups[0]
        assert list(group)[:2] == ["params", "param_names"]
        sd = opt.state_dict()
        dicts.append((sd["param_groups"], m.weight.detach().numpy().copy()))
    (tg, tw), (eg, ew) = dicts
    assert [g["param_names"] for g in eg] == [g["param_names"] for g in tg] == [["weight", "bias"]]
    assert [list(g) for g in eg] == [list(g) for g in tg]
    np.testing.assert_allclose(ew, tw, rtol=1e-12, atol=1e-12)


def test_named_groups_with_options_and_mixing_errors():
    messages = []
    for lib, m in zip((torch, ember), _models()):
        opt = lib.optim.SGD([{"params": [("w", m.weight)], "lr": 0.2},
                             {"params": [("b", m.bias)]}], lr=0.1)
        got = [(g["param_names"], g["lr"]) for g in opt.param_groups]
        errors = []
        with pytest.raises(ValueError) as info:
            lib.optim.SGD([("w", m.weight), m.bias], lr=0.1)
        errors.append(str(info.value))
        with pytest.raises(ValueError) as info:
            opt.add_param_group({"params": [lib.nn.Parameter(lib.zeros(1))]})
        errors.append(str(info.value))
        with pytest.raises(ValueError) as info:
            lib.optim.SGD([m.weight], lr=0.1).add_param_group({"params": [("b", m.bias)]})
        errors.append(str(info.value))
        messages.append((got, errors))
    assert messages[0] == messages[1]


def test_named_state_dict_loads_into_unnamed_optimizer():
    names = []
    for lib, m in zip((torch, ember), _models()):
        named = lib.optim.SGD(m.named_parameters(), lr=0.1, momentum=0.9)
        plain = lib.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
        plain.load_state_dict(named.state_dict())
        names.append(plain.param_groups[0].get("param_names"))
    assert names[0] == names[1] == ["weight", "bias"]
