"""detect_anomaly: remember where each node was created, and name the forward op when its
backward produces NaN or fails."""
from __future__ import annotations

import traceback
import warnings

from ember import dtypes as _dt


class _State:
    enabled = False
    check_nan = True


def record_trace(node) -> None:
    node._anomaly_trace = "".join(traceback.format_stack()[:-3])


def _warn_trace(node) -> None:
    trace = node._anomaly_trace
    if trace:
        warnings.warn(f"Error detected in {node.name()}. Traceback of forward call that caused "
                      f"the error:\n{trace}", stacklevel=3)


def report(node, exc: Exception) -> None:
    _warn_trace(node)


def check_nan(node, grads) -> None:
    """Raise (after warning with the forward trace) if ``node`` returned NaN gradients."""
    if not _State.check_nan:
        return
    for i, g in enumerate(grads):
        if g is not None and _dt.np_kind(g._data.dtype) in "fc" and g._xp.isnan(g._data).any():
            _warn_trace(node)
            raise RuntimeError(f"Function '{node.name()}' returned nan values in its {i}th "
                               "output.")


class detect_anomaly:
    """Context manager that records forward traces and makes backward check for NaN.

    Example::

        with ember.autograd.detect_anomaly():
            loss.backward()   # a NaN gradient raises, naming the op that produced it
    """

    def __init__(self, check_nan: bool = True):
        self.check_nan = check_nan
        warnings.warn("Anomaly Detection has been enabled. This mode will increase the runtime "
                      "and should only be enabled for debugging.", stacklevel=2)

    def __enter__(self):
        self._prev = (_State.enabled, _State.check_nan)
        _State.enabled, _State.check_nan = True, self.check_nan
        return self

    def __exit__(self, *exc) -> None:
        _State.enabled, _State.check_nan = self._prev


class set_detect_anomaly:
    """Turn anomaly detection on or off; a function call or a context manager."""

    def __init__(self, mode: bool, check_nan: bool = True):
        self._prev = (_State.enabled, _State.check_nan)
        _State.enabled, _State.check_nan = bool(mode), check_nan

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        _State.enabled, _State.check_nan = self._prev


def is_anomaly_enabled() -> bool:
    return _State.enabled


def is_anomaly_check_nan_enabled() -> bool:
    return _State.check_nan
