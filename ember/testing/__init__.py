"""Testing helpers with PyTorch's names: ``assert_close``, ``make_tensor`` and the deprecated
``assert_allclose``."""
from __future__ import annotations

import warnings

import numpy as np

from ember._creation import tensor
from ember._tensor import Tensor
from ember.testing._creation import make_tensor  # noqa: F401  (public re-export)

# PyTorch's default tolerances by dtype (rtol, atol).
_TOLERANCES = {"float16": (1e-3, 1e-5), "bfloat16": (1.6e-2, 1e-5), "float32": (1.3e-6, 1e-5),
               "float64": (1e-7, 1e-7), "complex64": (1.3e-6, 1e-5),
               "complex128": (1e-7, 1e-7)}


def _host(x):
    if isinstance(x, Tensor):
        data = x.detach()._data
        return data if isinstance(data, np.ndarray) else data.get()
    return np.asarray(x)


def assert_close(actual, expected, *, allow_subclasses: bool = True, rtol=None, atol=None,
                 equal_nan: bool = False, check_device: bool = True, check_dtype: bool = True,
                 check_layout: bool = True, check_stride: bool = False, msg=None) -> None:
    """Raise AssertionError unless ``actual`` and ``expected`` agree within tolerance (and, as
    asked, in dtype, device and strides). Both tensors are strided: ``check_layout`` and
    ``allow_subclasses`` change nothing."""
    if isinstance(actual, (list, tuple)):
        assert len(actual) == len(expected), msg or "sequence lengths differ"
        for a, e in zip(actual, expected):
            assert_close(a, e, rtol=rtol, atol=atol, equal_nan=equal_nan,
                         check_dtype=check_dtype, check_device=check_device,
                         check_stride=check_stride, msg=msg)
        return
    if isinstance(actual, Tensor) and isinstance(expected, Tensor):
        if check_stride and actual.stride() != expected.stride():
            raise AssertionError(msg or f"The values for attribute 'stride()' do not match: "
                                 f"{actual.stride()} != {expected.stride()}.")
        if check_dtype and actual.dtype is not expected.dtype:
            raise AssertionError(msg or f"The values for attribute 'dtype' do not match: "
                                 f"{actual.dtype} != {expected.dtype}.")
        if check_device and actual.device != expected.device:
            raise AssertionError(msg or f"The values for attribute 'device' do not match: "
                                 f"{actual.device} != {expected.device}.")
    a, e = _host(actual), _host(expected)
    if a.shape != e.shape:
        raise AssertionError(msg or f"The values for attribute 'shape' do not match: "
                             f"{a.shape} != {e.shape}.")
    name = actual.dtype.name if isinstance(actual, Tensor) else "float64"
    default_rtol, default_atol = _TOLERANCES.get(name, (0.0, 0.0))
    rtol = default_rtol if rtol is None else rtol
    atol = default_atol if atol is None else atol
    a64 = a.astype(np.complex128 if a.dtype.kind == "c" else np.float64)
    e64 = e.astype(np.complex128 if e.dtype.kind == "c" else np.float64)
    ok = np.isclose(a64, e64, rtol=rtol, atol=atol, equal_nan=equal_nan)
    if not ok.all():
        bad = int((~ok).sum())
        with np.errstate(invalid="ignore"):  # inf - inf
            diff = np.abs(a64 - e64)
        diff = diff[~np.isnan(diff)]  # NaN differences count only when all are NaN
        greatest = diff.max() if diff.size else np.nan
        raise AssertionError(msg or f"Tensor-likes are not close!\n\nMismatched elements: "
                             f"{bad} / {ok.size}\nGreatest absolute difference: "
                             f"{greatest}\n(up to {atol} allowed, rtol {rtol})")


# assert_allclose keeps its own, older defaults (rtol, atol); other dtypes compare exactly.
_ALLCLOSE_TOLERANCES = {"float16": (1e-3, 1e-3), "float32": (1e-4, 1e-5),
                        "float64": (1e-5, 1e-8)}


def assert_allclose(actual, expected, rtol=None, atol=None, equal_nan: bool = True,
                    msg: str = "") -> None:
    """Deprecated form of ``assert_close`` (it warns, as PyTorch's does): numbers and sequences
    become tensors (``expected`` in ``actual``'s dtype), dtypes may differ, NaNs match by
    default, and the default tolerances are the larger of the two dtypes' older ones."""
    warnings.warn("`torch.testing.assert_allclose()` is deprecated since 1.12 and will be "
                  "removed in a future release. Please use `torch.testing.assert_close()` "
                  "instead. You can find detailed upgrade instructions in "
                  "https://github.com/pytorch/pytorch/issues/61844.", FutureWarning,
                  stacklevel=2)
    if not isinstance(actual, Tensor):
        actual = tensor(actual)
    if not isinstance(expected, Tensor):
        expected = tensor(expected, dtype=actual.dtype)
    if rtol is None and atol is None:
        pairs = [_ALLCLOSE_TOLERANCES.get(t.dtype.name, (0.0, 0.0)) for t in (actual, expected)]
        rtol, atol = max(p[0] for p in pairs), max(p[1] for p in pairs)
    elif rtol is None or atol is None:
        missing = "rtol" if rtol is None else "atol"
        raise ValueError(f"Both 'rtol' and 'atol' must be either specified or omitted, but got "
                         f"no {missing}.")
    assert_close(actual, expected, rtol=rtol, atol=atol, equal_nan=equal_nan,
                 check_dtype=False, msg=msg or None)
