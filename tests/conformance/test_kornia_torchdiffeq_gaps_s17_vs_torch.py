"""The tracing queries of tests/test_kornia_torchdiffeq_gaps_s17.py against PyTorch's answers
on the same values (PyTorch's vmap calls the function once on the batch, ember's once per
sample, so the answers are compared as sets)."""
import importlib

import pytest

import ember

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("make", [lambda lib: lib.ones(2),
                                  lambda lib: lib.empty(2, device="meta"),
                                  lambda lib: 3.0])
def test_is_fake_same_as_torch(make):
    def answer(lib):
        return importlib.import_module(f"{lib.__name__}._subclasses.fake_tensor").is_fake(
            make(lib))
    assert answer(ember) == answer(torch)


def test_proxy_mode_and_functorch_queries_same_as_torch():
    def answers(lib):
        proxy = importlib.import_module(f"{lib.__name__}.fx.experimental.proxy_tensor")
        inside = set()

        def record(x):
            inside.add(lib._C._are_functorch_transforms_active())
            return x * 2

        lib.func.vmap(record)(lib.ones(3, 2))
        return (proxy.get_proxy_mode(), inside, lib._C._are_functorch_transforms_active(),
                lib.torch is lib, isinstance(3, lib.SymInt))
    assert answers(ember) == answers(torch)
