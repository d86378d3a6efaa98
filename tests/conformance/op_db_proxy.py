"""Runs PyTorch's OpInfo sample inputs through ember.

An OpInfo's ``op`` is a torch callable (often a lambda over several torch calls). Its inputs go
in as :class:`EmberProxy` tensors, a torch tensor subclass holding an ember tensor: every torch
function or method called on one comes to ``__torch_function__``, which calls ember's function
of the same name on the ember tensors and wraps the results again. So the sample runs PyTorch's
own call sequence, each call answered by ember, and the results are compared with torch's.
"""
from __future__ import annotations

import math

import numpy as np
import torch

import ember

# torch namespaces (``__module__`` of their functions) and ember's counterparts
_NAMESPACES = {
    "torch": ember, "torch._C._VariableFunctions": ember, "torch.functional": ember,
    "torch._lowrank": ember, "torch.nn.functional": ember.nn.functional,
    "torch._C._nn": ember.nn.functional, "torch._C._linalg": ember.linalg,
    "torch.linalg": ember.linalg, "torch._C._fft": ember.fft, "torch.fft": ember.fft,
    "torch._C._special": ember.special, "torch.special": ember.special,
    "torch.masked": ember.masked, "torch.masked._ops": ember.masked,
}
# torch's C namespaces name their functions with the namespace as a prefix
_PREFIXES = {"torch._C._linalg": "linalg_", "torch._C._fft": "fft_",
             "torch._C._special": "special_"}
# ops drawing random numbers: their values are not compared, their shapes and dtypes are
_RANDOM = ("normal", "bernoulli", "dropout", "rand", "multinomial", "cauchy", "exponential",
           "geometric", "log_normal", "uniform", "empty", "fractional_max_pool", "rrelu",
           "poisson")
# (rtol, atol) by result dtype, as torch.testing's defaults, a little wider for float32 (ember
# and PyTorch sum in different orders)
_TOLERANCES = {"float32": (1e-4, 1e-5), "complex64": (1e-4, 1e-5), "float64": (1e-7, 1e-9),
               "complex128": (1e-7, 1e-9), "bfloat16": (1.6e-2, 1e-2),
               "float16": (1e-3, 1e-3)}


class Unsupported(Exception):
    """The sample calls something this proxy cannot forward to ember (an aten overload, a
    sparse layout): the harness's limit, not a finding."""


def op_key(op) -> str:
    """An OpInfo's name with its variant ("name.variant"), as the KNOWN dicts spell it."""
    return op.name + (f".{op.variant_test_name}" if op.variant_test_name else "")


def is_random(op) -> bool:
    return any(word in op.name for word in _RANDOM)


def _dtype_name(dtype) -> str:
    return str(dtype).rsplit(".", 1)[-1]


def to_ember(value):
    """A torch value (tensors, dtypes, devices ... nested in lists and dicts) as ember's."""
    if isinstance(value, EmberProxy):
        return value.ember
    if isinstance(value, torch.Tensor):
        if value.layout != torch.strided:
            raise Unsupported(f"layout {value.layout}")
        t = value.detach()
        if t._is_zerotensor():
            t = torch.zeros(t.shape, dtype=t.dtype)
        t = t.resolve_conj().resolve_neg()
        if t.dtype == torch.bfloat16:
            return ember.tensor(t.float().numpy()).to(ember.bfloat16)
        return ember.tensor(t.numpy().copy())
    if isinstance(value, (torch.dtype, torch.memory_format, torch.layout)):
        return getattr(ember, _dtype_name(value))
    if isinstance(value, torch.Size):
        return tuple(value)
    if isinstance(value, torch.device):
        return ember.device(str(value))
    if isinstance(value, torch.Generator):
        return None
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        return type(value)(to_ember(v) for v in value)
    if isinstance(value, dict):
        return {k: to_ember(v) for k, v in value.items()}
    if isinstance(value, slice):
        return slice(to_ember(value.start), to_ember(value.stop), to_ember(value.step))
    return value


def to_proxy(value):
    """An ember result as torch code expects it: tensors as proxies, ember's dtypes, layouts,
    memory formats and devices as torch's."""
    if isinstance(value, ember.Tensor):
        return EmberProxy.wrap(value)
    kind = type(value)
    if kind.__module__.startswith("ember"):
        name = kind.__name__.lower()
        if name in ("dtype", "layout", "memory_format"):
            return getattr(torch, str(value).rsplit(".", 1)[-1])
        if name == "device":
            return torch.device(str(value))
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return kind(*(to_proxy(v) for v in value))
    if isinstance(value, (list, tuple)):
        return kind(to_proxy(v) for v in value)
    return value


def _ember_function(func):
    """ember's counterpart of a torch function, method or property accessor."""
    name = getattr(func, "__name__", None)
    if name in ("__get__", "__set__"):  # a property of Tensor
        attr = func.__self__.__name__
        if name == "__get__":
            return lambda self: getattr(self, attr)
        return lambda self, value: setattr(self, attr, value)
    qualname = getattr(func, "__qualname__", name) or ""
    owner, _, attr = qualname.partition(".")
    if attr and owner in ("TensorBase", "Tensor"):
        if not hasattr(ember.Tensor, attr):
            raise AttributeError(f"ember.Tensor has no attribute {attr!r}")
        return lambda self, *args, **kwargs: getattr(self, attr)(*args, **kwargs)
    module = getattr(func, "__module__", None)
    namespace = _NAMESPACES.get(module)
    if namespace is None:
        raise Unsupported(f"{module}.{qualname}")
    prefix = _PREFIXES.get(module)
    if prefix and name.startswith(prefix):
        name = name[len(prefix):]
    return getattr(namespace, name)  # AttributeError: a function ember lacks


class EmberProxy(torch.Tensor):
    """A torch tensor subclass with no storage of its own, standing for an ember tensor."""

    @staticmethod
    def wrap(tensor):
        proxy = torch.Tensor._make_wrapper_subclass(
            EmberProxy, tuple(tensor.shape), dtype=getattr(torch, _dtype_name(tensor.dtype)),
            device="cpu")
        proxy.ember = tensor
        return proxy

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if getattr(func, "__name__", "") in ("__repr__", "__format__"):
            return f"EmberProxy({args[0].ember!r})"
        function = _ember_function(func)
        kwargs = {k: v for k, v in to_ember(kwargs or {}).items()
                  if not (k == "generator" and v is None)}
        return to_proxy(function(*to_ember(list(args)), **kwargs))

    @classmethod
    def __torch_dispatch__(cls, func, types, args=(), kwargs=None):
        raise Unsupported(f"aten {func}")


def as_numpy_tree(value):
    """A result as nested ("T", dtype name, array) / ("L", [...]) / ("S", scalar)."""
    if isinstance(value, EmberProxy):
        value = value.ember
    if isinstance(value, ember.Tensor):
        name = _dtype_name(value.dtype)
        if value.dtype == ember.bfloat16:
            value = value.float()
        return "T", name, np.asarray(value.detach().numpy())
    if isinstance(value, torch.Tensor):
        name = _dtype_name(value.dtype)
        value = value.detach()
        if value._is_zerotensor():
            value = torch.zeros(value.shape, dtype=value.dtype)
        if value.dtype == torch.bfloat16:
            value = value.float()
        return "T", name, value.resolve_conj().resolve_neg().numpy()
    if isinstance(value, (list, tuple)):
        return "L", [as_numpy_tree(v) for v in value]
    if isinstance(value, torch.dtype):
        return "S", _dtype_name(value)
    if isinstance(value, torch.Size):
        return "S", tuple(value)
    return "S", value


def difference(want, got, compare_values: bool = True) -> str | None:
    """How ``got`` differs from ``want`` (trees from :func:`as_numpy_tree`), or None."""
    if want[0] == "S" and got[0] == "T" and got[2].ndim == 0:
        got = ("S", got[2].item())  # a 0-d tensor standing for torch's Python scalar
    if want[0] != got[0]:
        return f"result kind {want[0]} vs {got[0]}"
    if want[0] == "L":
        if len(want[1]) != len(got[1]):
            return f"{len(want[1])} results vs {len(got[1])}"
        for i, (a, b) in enumerate(zip(want[1], got[1])):
            found = difference(a, b, compare_values)
            if found:
                return f"[{i}] {found}"
        return None
    if want[0] == "S":
        a, b = want[1], got[1]
        if not compare_values or a == b or str(a) == str(b):
            return None
        if isinstance(a, (float, complex)) and isinstance(b, (float, int, complex)) and (
                np.isclose(a, b, rtol=1e-6, atol=1e-9) or (math.isnan(abs(a))
                                                           and math.isnan(abs(b)))):
            return None
        return f"scalar {a!r} vs {b!r}"
    _, want_dtype, a = want
    _, got_dtype, b = got
    if want_dtype != got_dtype:
        return f"dtype {want_dtype} vs {got_dtype}"
    if a.shape != b.shape:
        return f"shape {a.shape} vs {b.shape}"
    if not compare_values or a.size == 0:
        return None
    if a.dtype.kind in "fc":
        rtol, atol = _TOLERANCES[want_dtype]
        close = np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=True)
        if not close.all():
            i = int(np.argmax(~close.ravel()))
            return (f"values differ at {(~close).sum()} of {close.size}, e.g. "
                    f"{a.ravel()[i]} vs {b.ravel()[i]}")
        return None
    if not np.array_equal(a, b):
        return f"values differ at {(a != b).sum()} of {a.size}"
    return None


def flatten(value):
    """The leaves of nested lists and tuples."""
    if isinstance(value, (list, tuple)):
        for v in value:
            yield from flatten(v)
    else:
        yield value


def check_sample(op, sample, gradients: bool) -> str | None:
    """Run one sample in torch and in ember: None if they agree (or torch refuses the sample),
    else what differs. With ``gradients`` the float64/complex128 gradients of a weighted sum of
    the outputs are compared too."""
    torch.manual_seed(0)
    try:
        expected = sample.output_process_fn_grad(op.op(sample.input, *sample.args,
                                                       **sample.kwargs))
    except Exception:  # noqa: BLE001 (torch refuses this sample: nothing to compare)
        return None
    leaves = []  # (torch leaf, ember leaf)

    def proxied(value):
        if isinstance(value, torch.Tensor):
            tensor = to_ember(value)
            if gradients and value.requires_grad and (tensor.is_floating_point()
                                                      or tensor.is_complex()):
                tensor.requires_grad_(True)
                leaves.append((value, tensor))
            return EmberProxy.wrap(tensor)
        if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
            return type(value)(proxied(v) for v in value)
        if isinstance(value, dict):
            return {k: proxied(v) for k, v in value.items()}
        return value
    try:
        got = sample.output_process_fn_grad(op.op(proxied(sample.input), *proxied(sample.args),
                                                  **proxied(sample.kwargs)))
    except Unsupported:
        raise
    except Exception as exc:  # noqa: BLE001 (the finding)
        return f"ember raised {type(exc).__name__}: {exc}"
    found = difference(as_numpy_tree(expected), as_numpy_tree(got),
                       compare_values=not is_random(op))
    if found or not gradients or is_random(op) or not leaves:
        return found
    return _gradient_difference(expected, got, leaves)


def _gradient_difference(expected, got, leaves) -> str | None:
    want_outputs = [o for o in flatten(expected) if isinstance(o, torch.Tensor) and o.requires_grad]
    got_outputs = [o.ember if isinstance(o, EmberProxy) else o for o in flatten(got)]
    got_outputs = [o for o in got_outputs if isinstance(o, ember.Tensor) and o.requires_grad]
    if len(want_outputs) != len(got_outputs):
        return f"{len(want_outputs)} outputs require grad in torch, {len(got_outputs)} in ember"
    if not want_outputs:
        return None
    # complex outputs enter as their (real, imaginary) pairs, each with its own weight
    want_outputs = [torch.view_as_real(o.resolve_conj()) if o.is_complex() else o
                    for o in want_outputs]  # torch's result may be a lazily conjugated view
    rng = np.random.default_rng(0)
    weights = [rng.standard_normal(tuple(o.shape)) for o in want_outputs]
    torch_loss = sum((o * torch.tensor(w, dtype=o.dtype)).sum()
                     for o, w in zip(want_outputs, weights))
    try:
        want = torch.autograd.grad(torch_loss, [t for t, _ in leaves], allow_unused=True)
    except Exception:  # noqa: BLE001 (torch cannot differentiate this sample)
        return None
    try:
        got_outputs = [ember.view_as_real(o) if o.is_complex() else o for o in got_outputs]
        ember_loss = sum((o * ember.tensor(w, dtype=o.dtype)).sum()
                         for o, w in zip(got_outputs, weights))
        got = ember.autograd.grad(ember_loss, [e for _, e in leaves], allow_unused=True)
    except Exception as exc:  # noqa: BLE001 (the finding)
        return f"ember's backward raised {type(exc).__name__}: {exc}"
    for i, (a, b) in enumerate(zip(want, got)):
        if a is None or b is None:
            if any(g is not None and bool((g != 0).any()) for g in (a, b)):
                return f"gradient {i}: {'None' if a is None else 'a value'} in torch, " \
                       f"{'None' if b is None else 'a value'} in ember"
            continue
        found = difference(as_numpy_tree(a), as_numpy_tree(b))
        if found:
            return f"gradient {i}: {found}"
    return None
