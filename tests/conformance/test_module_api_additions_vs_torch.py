"""Module.set_submodule, Module.compile and modules(remove_duplicate=False) against PyTorch."""
import pytest

import ember

torch = pytest.importorskip("torch")


def _tree(lib):
    return lib.nn.Sequential(lib.nn.Linear(2, 2), lib.nn.Sequential(lib.nn.ReLU()))


def test_set_submodule_replaces_and_adds():
    reprs = []
    for lib in (torch, ember):
        m = _tree(lib)
        m.set_submodule("1.0", lib.nn.Tanh())
        m.set_submodule("1.5", lib.nn.Tanh())
        m.set_submodule("2", lib.nn.Tanh())
        m.set_submodule("0", lib.nn.Identity(), strict=True)
        reprs.append(repr(m))
    assert reprs[0] == reprs[1]


@pytest.mark.parametrize("target, module_kind, strict", [
    ("3.0", "tanh", False), ("7", "tanh", True), ("0", "int", False), ("", "tanh", False),
    ("0.weight", "tanh", False)])
def test_set_submodule_errors(target, module_kind, strict):
    errors = []
    for lib in (torch, ember):
        module = lib.nn.Tanh() if module_kind == "tanh" else 3
        with pytest.raises((AttributeError, ValueError)) as info:
            _tree(lib).set_submodule(target, module, strict=strict)
        errors.append((info.type, str(info.value)))
    assert errors[0] == errors[1]


def test_compile_leaves_a_working_module_and_modules_can_repeat():
    counts = []
    for lib in (torch, ember):
        shared = lib.nn.Linear(2, 2)
        m = lib.nn.Sequential(shared, shared)
        counts.append((len(list(m.modules())), len(list(m.modules(remove_duplicate=False)))))
    assert counts[0] == counts[1] == (2, 3)
    m = _tree(ember)
    m.compile(mode="max-autotune")
    assert m(ember.ones(1, 2)).shape == (1, 2)
