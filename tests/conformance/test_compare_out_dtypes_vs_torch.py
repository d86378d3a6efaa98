"""``out=`` of every dtype for the comparison, logic and bitwise ops, swept against PyTorch:
over bool, integer, float and complex operands, torch and ember must both raise the same
exception type, or both write equal values into ``out`` in its dtype. (The sweep of
test_dtype_refusals_vs_torch.py gives ``out`` the input's dtype only.)"""
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import ember  # noqa: E402

DTYPES = ("bool", "uint8", "int32", "int64", "float32", "complex64")
_VALUES = {"bool": [True, False, True], "uint8": [0, 1, 3], "int32": [-2, 0, 3],
           "int64": [1, -3, 2], "float32": [-1.5, -0.0, float("inf")],
           "complex64": [1 + 1j, 0, -2]}
UNARY = ("bitwise_not", "logical_not", "signbit", "isposinf", "isneginf")
BINARY = ("bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_left_shift",
          "bitwise_right_shift", "logical_and", "logical_or", "logical_xor", "eq", "ne", "lt",
          "le", "gt", "ge", "isin")


def _run(module, name: str, dtypes: tuple, out_dtype: str):
    args = [module.tensor(_VALUES[d], dtype=getattr(module, d)) for d in dtypes]
    out = module.empty(0, dtype=getattr(module, out_dtype))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return getattr(module, name)(*args, out=out), None
        except Exception as exc:  # noqa: BLE001 - the exception itself is compared
            return None, exc


def _differences(name: str) -> list:
    operands = [(d,) for d in DTYPES] if name in UNARY else \
        [(d, d2) for d in DTYPES for d2 in DTYPES]
    found = []
    for dtypes in operands:
        for out_dtype in DTYPES:
            label = f"{name} {' '.join(dtypes)} -> {out_dtype}"
            expected, t_exc = _run(torch, name, dtypes, out_dtype)
            got, e_exc = _run(ember, name, dtypes, out_dtype)
            if t_exc is not None or e_exc is not None:
                if type(t_exc) is not type(e_exc):
                    found.append(f"{label}: torch {t_exc!r:.100}, ember {e_exc!r:.100}")
            elif str(expected.dtype) != str(got.dtype) or not np.array_equal(
                    expected.numpy(), got.numpy()):
                found.append(f"{label}: torch {expected}, ember {got}")
    return found


@pytest.mark.parametrize("name", UNARY + BINARY)
def test_out_dtypes_match_torch(name):
    found = _differences(name)
    assert not found, f"{len(found)} cases differ:\n" + "\n".join(found[:8])
