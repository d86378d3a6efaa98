"""PyTorch's OpInfo ``error_inputs``: the bad calls each op must refuse. Where torch raises the
documented error type, ember must raise an error of that type too (the message is PyTorch's
business; the type is what callers catch)."""
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("expecttest")  # the OpInfo database imports it

from op_db_proxy import EmberProxy, Unsupported, op_key, to_ember  # noqa: E402
from test_op_db_vs_torch import NOT_PUBLIC  # noqa: E402
from torch.testing._internal.common_methods_invocations import op_db  # noqa: E402

# Refusals of an ``out=`` that overlaps an input: the proxy gives each argument its own ember
# tensor, so the overlap does not carry over and there is nothing to check.
_ALIASING = ("unsupported operation", "single memory location")

# {"op name[.variant]": why}: refusals ember does not match yet.
KNOWN = {
    "amax": "NumPy arrays hold at most 64 dims: the 65-dim input cannot be built",
    "amin": "NumPy arrays hold at most 64 dims: the 65-dim input cannot be built",
    "aminmax": "NumPy arrays hold at most 64 dims: the 65-dim input cannot be built",
    "gradient": "the proxy cannot convert a meta spacing tensor (ember checks the device)",
}


def _cases():
    for op in op_db:
        if op.name in NOT_PUBLIC or op.error_inputs_func is None:
            continue
        key = op_key(op)
        marks = [pytest.mark.xfail(reason=KNOWN[key], strict=False)] if key in KNOWN else []
        yield pytest.param(op, id=key, marks=marks)


def _proxied(value):
    if isinstance(value, torch.Tensor):
        return EmberProxy.wrap(to_ember(value))
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        return type(value)(_proxied(v) for v in value)
    if isinstance(value, dict):
        return {k: _proxied(v) for k, v in value.items()}
    return value


@pytest.mark.parametrize("op", list(_cases()))
def test_error_inputs_raise_like_torch(op):
    failures = []
    for error_input in op.error_inputs("cpu"):
        sample, expected = error_input.sample_input, error_input.error_type
        if any(text in error_input.error_regex for text in _ALIASING):
            continue
        try:
            op.op(sample.input, *sample.args, **sample.kwargs)
            continue  # this torch build accepts it
        except expected:
            pass
        except Exception:  # noqa: BLE001 (torch raises something else here: not a spec)
            continue
        try:
            op.op(_proxied(sample.input), *_proxied(sample.args), **_proxied(sample.kwargs))
            failures.append(f"no error (torch: {expected.__name__} "
                            f"{error_input.error_regex!r}) on {sample.summary()}")
        except Unsupported:
            continue
        except expected:
            continue
        except Exception as exc:  # noqa: BLE001 (the finding)
            failures.append(f"{type(exc).__name__}: {exc} (torch: {expected.__name__} "
                            f"{error_input.error_regex!r}) on {sample.summary()}")
    assert not failures, f"{len(failures)} bad calls differ:\n" + "\n".join(
        f[:400] for f in failures[:5])
