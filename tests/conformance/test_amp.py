import pytest

torch = pytest.importorskip("torch")

import ember  # noqa: E402


@pytest.mark.parametrize("op", ["matmul", "softmax", "exp", "add", "sum", "log_softmax"])
def test_cpu_autocast_dtypes_match_torch(op):
    a = ember.randn(4, 4)
    b = ember.randn(4, 4)
    ta, tb = torch.tensor(a.numpy()), torch.tensor(b.numpy())
    fns = {"matmul": lambda x, y: x @ y, "softmax": lambda x, y: x.softmax(-1),
           "exp": lambda x, y: x.exp(), "add": lambda x, y: x + y,
           "sum": lambda x, y: x.sum(), "log_softmax": lambda x, y: x.log_softmax(-1)}
    with ember.autocast("cpu", dtype=ember.bfloat16):
        ours = fns[op](a, b)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        theirs = fns[op](ta, tb)
    assert str(ours.dtype) == str(theirs.dtype)
