"""PyTorch's OpInfo ``reference_inputs`` (extended values: infinities, NaNs, mixed dtypes,
extreme arguments) of the ops fixed in session 10, compared value by value with torch."""
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("expecttest")  # the OpInfo database imports it

from op_db_proxy import Unsupported, check_sample, op_key  # noqa: E402
from torch.testing._internal.common_methods_invocations import op_db  # noqa: E402

_CASES = {
    "add": ("complex64", "complex128"),
    "sub": ("complex64", "complex128"),
    "rsub": ("complex64", "complex128"),
    "__radd__": ("complex64", "complex128"),
    "__rsub__": ("complex64", "complex128"),
    "pow": ("complex64", "complex128"),
    "float_power": ("complex128",),
    "__rpow__": ("complex64", "complex128"),
    "ldexp": ("complex64", "complex128"),
    "logaddexp": ("complex64", "complex128"),
    "div": ("int64", "bool"),
    "true_divide": ("int64", "bool"),
    "addcmul": ("float32", "float64", "int64", "complex64"),
    "addcdiv": ("float32", "float64", "complex64"),
    "igamma": ("float32", "float64"),
    "igammac": ("float32", "float64"),
    "special.zeta": ("float32", "float64"),
    "polygamma": ("float32", "float64"),
    "mvlgamma": ("float32", "float64"),
}
_NAN_ALPHA = ("torch computes a + alpha * b with a complex multiply even for alpha == 1, so an "
              "infinite component of b gives NaN (inf * 0j); ember adds directly")
# {"op name[.variant]": why}, for every dtype listed above.
KNOWN = {
    "add": _NAN_ALPHA, "sub": _NAN_ALPHA, "rsub": _NAN_ALPHA, "__radd__": _NAN_ALPHA,
    "__rsub__": _NAN_ALPHA,
    "pow": "complex 0 ** 0 and infinite bases: torch's complex pow differs from NumPy's",
    "float_power": "complex 0 ** 0 and infinite bases: as pow",
    "__rpow__": "complex 0 ** 0 and infinite bases: as pow",
    "ldexp": "complex ldexp with infinite components: torch multiplies by a complex 2 ** e",
    "logaddexp": "complex logaddexp with infinite components",
    "special.zeta": "zeta(1e20, 1e20): torch's series gives NaN, SciPy 0",
    "polygamma.polygamma_n_1": "polygamma(n, inf): torch gives 0 for n = 1, NaN for n >= 2",
    "polygamma.polygamma_n_2": "polygamma(n, inf): torch gives 0 for n = 1, NaN for n >= 2",
    "polygamma.polygamma_n_3": "polygamma(n, inf): torch gives 0 for n = 1, NaN for n >= 2",
    "polygamma.polygamma_n_4": "polygamma(n, inf): torch gives 0 for n = 1, NaN for n >= 2",
}


def _params():
    for op in op_db:
        dtypes = _CASES.get(op.name)
        if dtypes is None:
            continue
        for name in dtypes:
            key = op_key(op)
            marks = [pytest.mark.xfail(reason=KNOWN[key], strict=False)] if key in KNOWN else []
            yield pytest.param(op, getattr(torch, name), id=f"{key}-{name}", marks=marks)


@pytest.mark.parametrize("op,dtype", list(_params()))
def test_reference_inputs_match_torch(op, dtype):
    if dtype not in op.supported_dtypes("cpu"):
        pytest.skip("torch does not support this dtype")
    known = op_key(op) in KNOWN  # expected to fail: its first difference is enough
    failures = []
    for sample in op.reference_inputs("cpu", dtype):
        try:
            found = check_sample(op, sample, gradients=False)
        except Unsupported:
            continue
        if found:
            failures.append(f"{found[:300]} on {sample.summary()[:300]}")
            if known:
                break
    assert not failures, f"{len(failures)} samples differ:\n" + "\n".join(failures[:4])
