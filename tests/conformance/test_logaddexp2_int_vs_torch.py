"""logaddexp2 has no integer or bool kernel in PyTorch: the same NotImplementedError, with the
promoted dtype's name, and mixed integer/float inputs still promote to float."""
import pytest

import ember

torch = pytest.importorskip("torch")

_INT_DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64"]


def _raised(fn):
    with pytest.raises(NotImplementedError) as info:
        fn()
    return str(info.value)


@pytest.mark.parametrize("a", _INT_DTYPES)
@pytest.mark.parametrize("b", ["int8", "int64", "bool"])
def test_integer_inputs_raise_like_torch(a, b):
    def make(mod, name):
        return mod.tensor([1, 0, 1], dtype=getattr(mod, name))

    want = _raised(lambda: torch.logaddexp2(make(torch, a), make(torch, b)))
    got = _raised(lambda: ember.logaddexp2(make(ember, a), make(ember, b)))
    assert got == want


@pytest.mark.parametrize("name", ["int32", "int64"])
def test_integer_with_float_promotes(name):
    ints = [1, 2, 30]
    want = torch.logaddexp2(torch.tensor(ints, dtype=getattr(torch, name)),
                            torch.tensor([0.5, 2.0, -1.0]))
    got = ember.logaddexp2(ember.tensor(ints, dtype=getattr(ember, name)),
                           ember.tensor([0.5, 2.0, -1.0]))
    assert got.dtype == ember.float32
    assert got.tolist() == pytest.approx(want.tolist())
