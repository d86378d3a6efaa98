"""``ember._C._nn._parse_to`` and friends against ``torch._C``'s on the same arguments."""
import pytest

import ember

torch = pytest.importorskip("torch")

CALLS = [(("cpu", "float16"), {}), (("int8-tensor",), {}), ((), {"dtype": "float64",
                                                                   "non_blocking": True}),
         (("float32",), {"memory_format": "channels_last"}), (("cpu", "bfloat16", True), {}),
         (("cpu",), {"dtype": "float32", "non_blocking": False})]


def _arg(lib, a):
    if a == "int8-tensor":
        return lib.ones(1, dtype=lib.int8)
    if isinstance(a, str) and hasattr(lib, a) and a != "cpu":
        return getattr(lib, a)
    return a


@pytest.mark.parametrize("args,kwargs", CALLS)
def test_parse_to_same_as_torch(args, kwargs):
    def parsed(lib):
        result = lib._C._nn._parse_to(*[_arg(lib, a) for a in args],
                                      **{k: _arg(lib, v) for k, v in kwargs.items()})
        return tuple(str(x) for x in result)
    assert parsed(ember) == parsed(torch)


def test_accelerator_names_same_as_torch():
    if torch.cuda.is_available() or ember.cuda.is_available():
        pytest.skip("compares the no-GPU answers")
    assert str(ember._C._get_accelerator()) == str(torch._C._get_accelerator())
    assert ember._C._get_privateuse1_backend_name() == torch._C._get_privateuse1_backend_name()
