"""Tensor.dim_order(ambiguity_check=...) against PyTorch, on tensors with the same strides."""
import pytest

import ember

torch = pytest.importorskip("torch")

CASES = [  # (size, stride): contiguous, permuted, channels-last, size-1 dims, zero strides
    ((2, 3, 5, 7), (105, 35, 7, 1)),
    ((2, 5, 3, 7), (105, 7, 35, 1)),
    ((2, 3, 5, 7), (105, 1, 21, 3)),
    ((1, 2, 3, 4), (24, 12, 4, 1)),
    ((2, 1, 3, 4), (12, 12, 4, 1)),
    ((2, 1, 3, 4), (12, 1, 4, 1)),
    ((2, 3, 4), (0, 4, 1)),
    ((1, 4), (1, 1)),
    ((3, 1), (3, 1)),
    ((3, 2), (1, 3)),
    ((0, 3), (3, 1)),
    ((), ()),
    ((3,), (2,)),
    ((2, 2, 2), (1, 4, 2)),
    ((3, 1, 1), (1, 1, 1)),
    ((3, 4, 2), (4, 1, 12)),
    ((2, 3), (1, 0)),
    ((4, 4), (4, 4)),
]
CHECKS = [False, True, [], "contiguous_format", "channels_last", "both"]


def _check(lib, name):
    if name == "both":
        return [lib.contiguous_format, lib.channels_last]
    return [getattr(lib, name)] if isinstance(name, str) else name


def _outcome(t, check):
    try:
        return t.dim_order(ambiguity_check=check)
    except RuntimeError as exc:
        return str(exc)


@pytest.mark.parametrize("size,stride", CASES)
@pytest.mark.parametrize("check", CHECKS, ids=str)
def test_dim_order_matches_torch(size, stride, check):
    e = ember.empty(1024).as_strided(size, stride)
    t = torch.empty(1024).as_strided(size, stride)
    assert e.stride() == t.stride()
    assert _outcome(e, _check(ember, check)) == _outcome(t, _check(torch, check))


def test_dim_order_argument_errors_match_torch():
    for bad in (3, [3], (ember.contiguous_format,)):
        with pytest.raises(TypeError, match="must be a bool or a list of memory formats"):
            ember.empty(2).dim_order(ambiguity_check=bad)
    with pytest.raises(TypeError):
        ember.empty(2).dim_order(True)  # keyword-only, as in PyTorch
    with pytest.raises(AttributeError):
        ember.eye(2).to_sparse().dim_order()
