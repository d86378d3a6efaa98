"""Custom operators (``torch.library``): Python functions registered as named operators, with
their own fake (shape-only) kernels, per-device kernels and gradient formulas.

``@custom_op("mylib::crop", mutates_args=())`` turns a type-annotated function into an operator
called as ``crop(...)`` or ``ember.ops.mylib.crop(...)``: it runs the kernel for its tensors'
device type (the function itself unless ``register_kernel`` gave another), records one autograd
node (named as PyTorch names it, ``GeneratedBackwardFor_mylib_crop_defaultBackward``) whose
backward is what ``register_autograd`` gave, and bumps the version counter of each argument it
declares it mutates. On meta tensors it runs the fake kernel from ``register_fake``.
``opcheck`` tests a registration the way PyTorch's does: undeclared mutation, fake kernel
against the real one, and an autograd formula for inputs that require grad.
"""
from __future__ import annotations

import collections.abc
import enum
import inspect
import numbers
import types
import typing
from typing import Callable, Iterable

from ember.autograd.function import _UNHANDLED, _DispatchFlag

__all__ = ["CustomOpDef", "Library", "Tag", "custom_op", "define", "impl", "infer_schema",
           "opcheck", "register_autograd", "register_fake", "register_kernel", "triton_op"]

_registry: dict = {}  # "namespace::name" -> CustomOpDef


class Tag(enum.Enum):
    """``torch.Tag``: properties an operator declares (PyTorch's names and values). On custom
    operators ``inplace`` (mutates and returns its first argument) and ``out`` (writes and
    returns its keyword-only out= arguments) change what the operator may return."""

    core = 0
    cudagraph_unsafe = 1
    data_dependent_output = 2
    dynamic_output_shape = 3
    flexible_layout = 4
    generated = 5
    inplace = 6
    inplace_view = 7
    maybe_aliasing_or_mutating = 8
    needs_contiguous_strides = 9
    needs_exact_strides = 10
    needs_fixed_stride_order = 11
    nondeterministic_bitwise = 12
    nondeterministic_seeded = 13
    out = 14
    out_variant = 15
    pointwise = 16
    pt2_compliant_tag = 17
    reduction = 18
    view_copy = 19


def _tag_set(tags) -> frozenset:
    if tags is None:
        return frozenset()
    return frozenset((tags,) if isinstance(tags, Tag) else tags)


# ------------------------------------------------------------------------------------------------
# Schemas

def _type_name(annotation, name: str) -> str:
    from ember._tensor import Tensor
    from ember.backend.device import Device
    from ember.dtypes import dtype
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        inner = [a for a in args if a is not type(None)]
        if len(inner) == 1:
            return _type_name(inner[0], name) + "?"
    if origin in (list, tuple, collections.abc.Sequence) and args:
        return _type_name(args[0], name) + "[]"
    simple = {Tensor: "Tensor", int: "SymInt", float: "float", bool: "bool", str: "str",
              dtype: "ScalarType", Device: "Device", numbers.Number: "Scalar"}
    if annotation in simple:
        return simple[annotation]
    raise ValueError(f"infer_schema(func): Parameter {name} has unsupported type "
                     f"{annotation}.")


def _default(value) -> str:
    return "None" if value is None else repr(value) if not isinstance(value, str) else \
        f'"{value}"'


def infer_schema(prototype_function: Callable, /, *, mutates_args, op_name: str | None = None,
                 tags=()) -> str:
    """The operator schema of a type-annotated function, e.g.
    ``(Tensor x, SymInt[] box, Tensor(a1!) out) -> Tensor`` (mutated tensors marked ``!``).
    With ``Tag.inplace`` or ``Tag.out`` the returns alias the mutated arguments."""
    hints = typing.get_type_hints(prototype_function)
    sig = inspect.signature(prototype_function)
    _check_tags(_tag_set(tags), _mutated_names(mutates_args, sig), sig)
    mutated = set(_mutated_names(mutates_args, sig))
    params = []
    for index, p in enumerate(sig.parameters.values()):
        if p.name not in hints:
            raise ValueError(f"infer_schema(func): Parameter {p.name} must have a type "
                             "annotation.")
        kind = _type_name(hints[p.name], p.name)
        if p.name in mutated:  # its alias set is numbered by its position, as PyTorch's
            kind = kind.replace("Tensor", f"Tensor(a{index}!)", 1)
        text = f"{kind} {p.name}"
        if p.default is not inspect.Parameter.empty:
            text += f"={_default(p.default)}"
        if p.kind is inspect.Parameter.KEYWORD_ONLY and "*" not in params:
            params.append("*")
        params.append(text)
    ret = hints.get("return", inspect.Signature.empty)
    if ret is None or ret is type(None):
        returns = "()"
    elif typing.get_origin(ret) is tuple:
        returns = "(" + ", ".join(_type_name(a, "return") for a in typing.get_args(ret)) + ")"
    else:
        returns = _type_name(ret, "return")
    if _tag_set(tags) & {Tag.inplace, Tag.out}:  # returned: the mutated arguments' aliases
        aliased = [p.split("=")[0].rsplit(" ", 1)[0]
                   for name in _mutated_names(mutates_args, sig) for p in params
                   if p.split("=")[0].endswith(" " + name)]
        returns = aliased[0] if len(aliased) == 1 else "(" + ", ".join(aliased) + ")"
    prefix = op_name or ""
    return f"{prefix}({', '.join(params)}) -> {returns}"


def _check_tags(tags: frozenset, mutated: list, sig: inspect.Signature) -> None:
    """PyTorch's rules for tagged mutable operators: ``inplace`` mutates exactly its first
    positional argument; ``out`` mutates only keyword-only arguments."""
    where = f"Got func with signature {sig})"
    if Tag.inplace in tags:
        positional = [p.name for p in sig.parameters.values()
                      if p.kind is not inspect.Parameter.KEYWORD_ONLY]
        if list(mutated) != positional[:1]:
            raise ValueError(f"infer_schema(func): torch.Tag.inplace requires mutates_args to "
                             f"contain exactly the first positional argument, got "
                             f"{tuple(mutated)}. {where}")
    if Tag.out in tags:
        if not mutated or any(sig.parameters[name].kind is not inspect.Parameter.KEYWORD_ONLY
                              for name in mutated):
            raise ValueError(f"infer_schema(func): torch.Tag.out requires mutable arguments to "
                             f"be keyword-only. {where}")


def _mutated_names(mutates_args, sig) -> list:
    if mutates_args == "unknown":
        return [p for p in sig.parameters]
    if isinstance(mutates_args, str):
        return [mutates_args]
    return list(mutates_args)


# ------------------------------------------------------------------------------------------------
# Operators

class CustomOpDef:
    """A registered operator: call it like its function; ``register_fake``,
    ``register_kernel`` and ``register_autograd`` complete it."""

    def __init__(self, qualname: str, fn: Callable, mutates_args, device_types=None,
                 schema: str | None = None, tags=None):
        self._namespace, self._name = _split(qualname)
        self._init_fn = fn
        self._signature = inspect.signature(fn)
        self._mutated = _mutated_names(mutates_args, self._signature)
        self._tags = _tag_set(tags)
        self._schema = schema if schema is not None else \
            infer_schema(fn, mutates_args=mutates_args, tags=self._tags)
        self._kernels: dict = {}
        for device in _device_types(device_types):
            self._kernels[device] = fn
        self._default_kernel = None if device_types else fn
        # kernels registered for an Autograd dispatch key ("AutogradCPU") take over autograd
        # outside inference mode: they run in place of the kernel and its registered formula,
        # recording the graph of the ops they call
        self._autograd_kernels: dict = {}
        # a tagged in-place or out= operator returns its mutated arguments: their metadata is
        # the outputs', so it needs no fake kernel of its own (as in PyTorch)
        self._fake = self._mutated_arguments if self._returns_mutated else None
        self._backward = None
        self._setup_context = None
        self._autograd_cls = None
        _registry[f"{self._namespace}::{self._name}"] = self
        self.__name__ = self._name
        self.__doc__ = fn.__doc__

    def __repr__(self) -> str:
        return f"<CustomOpDef({self._namespace}::{self._name})>"

    @property
    def _qualname(self) -> str:
        return f"{self._namespace}.{self._name}.default"

    @property
    def _returns_mutated(self) -> bool:
        return bool(self._tags & {Tag.inplace, Tag.out})

    def _mutated_arguments(self, *args, **kwargs):
        bound = self._signature.bind(*args, **kwargs)
        values = tuple(bound.arguments[name] for name in self._mutated)
        return values[0] if len(values) == 1 else values

    def _run(self, kernel: Callable, values: tuple):
        """``kernel`` on the arguments ``values`` (one per parameter, in order), keyword-only
        parameters passed by keyword; an active dispatch mode sees the operator instead (it
        runs below autograd, and calling it runs the kernel)."""
        args, kwargs = [], {}
        for param, value in zip(self._signature.parameters.values(), values):
            if param.kind is inspect.Parameter.KEYWORD_ONLY:
                kwargs[param.name] = value
            else:
                args.append(value)
        if _DispatchFlag.on:
            from ember._dispatch import run_opaque
            out = run_opaque(_OpOverload(self), tuple(args), kwargs)
            if out is not _UNHANDLED:
                return out
        return kernel(*args, **kwargs)

    def _check_returned(self, out, values: tuple) -> None:
        """A tagged operator must return the very tensors it mutates."""
        if Tag.inplace in self._tags and out is not values[0]:
            raise RuntimeError(f"{self._name}: An operator tagged with torch.Tag.inplace must "
                               "return its first argument.")
        if Tag.out in self._tags:
            named = dict(zip(self._signature.parameters, values))
            expected = tuple(named[name] for name in self._mutated)
            returned = out if isinstance(out, tuple) else (out,)
            if len(returned) != len(expected) or any(o is not e for o, e in
                                                     zip(returned, expected)):
                raise RuntimeError(f"{self._name}: An operator tagged with torch.Tag.out must "
                                   "return its out= arguments in order.")

    # registration ---------------------------------------------------------------------------
    def register_fake(self, fn: Callable) -> Callable:
        """The kernel that, given tensors' metadata (meta tensors), makes outputs of the right
        shape, dtype and device without computing them."""
        self._fake = fn
        return fn

    def register_kernel(self, device_types, fn: Callable | None = None):
        """The kernel for ``device_types`` ("cpu", "cuda"); a decorator without ``fn``."""
        def register(func):
            for device in _device_types(device_types):
                self._kernels[device] = func
            return func
        return register(fn) if fn is not None else register

    def register_autograd(self, backward: Callable, /, *, setup_context: Callable | None = None
                          ) -> None:
        """``backward(ctx, *grads)`` returns one gradient per input (None for non-tensors);
        ``setup_context(ctx, inputs, output)`` saves what backward needs."""
        if self._mutated:
            raise RuntimeError(f"register_autograd: {self} mutates its inputs; autograd is not "
                               "supported for mutable custom operators")
        self._backward, self._setup_context = backward, setup_context
        self._autograd_cls = None

    # calling --------------------------------------------------------------------------------
    def _kernel_for(self, args: tuple):
        device = _device_type(args)
        if device == "meta":
            if self._fake is None:
                raise RuntimeError(f"There was no fake impl registered for {self}. This is "
                                   f"necessary for torch.compile/export/fx tracing to work. "
                                   f"Please use `{self._name}.register_fake` to add an fake "
                                   "impl.")
            return self._fake
        kernel = self._kernels.get(device, self._default_kernel)
        if kernel is None:
            raise NotImplementedError(f"{self._qualname}: no kernel registered for device "
                                      f"type {device!r}")
        return kernel

    def __call__(self, *args, **kwargs):
        import ember
        from ember._tensor import Tensor
        bound = self._signature.bind(*args, **kwargs)
        bound.apply_defaults()
        positional = tuple(bound.arguments[p] for p in self._signature.parameters)
        differentiating = self._autograd_kernels.get(_device_type(positional))
        if differentiating is not None and not ember.is_inference_mode_enabled():
            return differentiating(*args, **kwargs)
        kernel = self._kernel_for(positional)
        needs_grad = ember.is_grad_enabled() and any(
            isinstance(a, Tensor) and a.requires_grad for a in _flat(positional))
        if needs_grad and not self._mutated:
            out = self._autograd_function(kernel).apply(*positional)
        else:
            with ember.no_grad():
                out = self._run(kernel, positional)
        if self._returns_mutated:
            self._check_returned(out, positional)
        for name in self._mutated:
            value = bound.arguments.get(name)
            for t in _flat((value,)):
                if isinstance(t, Tensor):
                    t._bump_version()
        return out

    def _autograd_function(self, kernel):
        """The autograd.Function that runs ``kernel`` and the registered gradient formula."""
        from ember.autograd.function import Function
        op, name = self, f"GeneratedBackwardFor_{self._namespace}_{self._name}_default"

        def forward(*inputs):
            return op._run(kernel, inputs)

        def setup_context(ctx, inputs, output):
            if op._setup_context is not None:
                op._setup_context(ctx, inputs, output)

        def backward(ctx, *grads):
            if op._backward is None:
                raise RuntimeError(f"Trying to backward through {op._qualname} but no "
                                   "autograd formula was registered. Please use "
                                   "register_autograd to add one.")
            result = op._backward(ctx, *grads)
            return result if isinstance(result, tuple) else (result,)

        return type(name, (Function,), {"forward": staticmethod(forward),
                                        "setup_context": staticmethod(setup_context),
                                        "backward": staticmethod(backward)})


def _device_type(args: tuple) -> str:
    """The device type of the first tensor among ``args`` (nested lists included): which
    kernel serves the call."""
    from ember._tensor import Tensor
    return next((a.device.type for a in _flat(args) if isinstance(a, Tensor)), "cpu")


def _split(qualname: str) -> tuple:
    namespace, sep, name = qualname.partition("::")
    if not sep or not namespace or not name:
        raise ValueError(f"Expected a qualified name like 'mylib::op', got {qualname!r}")
    return namespace, name


def _device_types(device_types) -> list:
    if device_types is None:
        return []
    return [device_types] if isinstance(device_types, str) else list(device_types)


def _flat(values: Iterable):
    for v in values:
        if isinstance(v, (list, tuple)):
            yield from v
        else:
            yield v


def custom_op(name: str, fn: Callable | None = None, /, *, mutates_args, device_types=None,
              schema: str | None = None, tags=None):
    """Register ``fn`` (type-annotated) as the operator ``name`` ("namespace::op_name");
    ``mutates_args`` names the arguments it writes to (``()`` for none); ``tags`` (``Tag``s):
    ``Tag.inplace`` / ``Tag.out`` let it return the arguments it mutates. A decorator without
    ``fn``."""
    def register(func):
        return CustomOpDef(name, func, mutates_args, device_types, schema, tags)
    return register(fn) if fn is not None else register


def triton_op(name: str, fn: Callable | None = None, /, *, mutates_args, schema: str | None = None
              ) -> CustomOpDef | Callable:
    """An operator whose implementation launches Triton kernels (which PyTorch's compiler can
    see into). ember compiles nothing, so it is ``custom_op`` with ``fn`` as the kernel on every
    device and as the fake kernel (its ops run on meta tensors too). A decorator without
    ``fn``."""
    def register(func):
        op = custom_op(name, func, mutates_args=mutates_args, schema=schema)
        op.register_fake(func)
        return op
    return register(fn) if fn is not None else register


def _op(op) -> CustomOpDef:
    if isinstance(op, CustomOpDef):
        return op
    if isinstance(op, _OpOverload):
        return op._op
    if isinstance(op, str) and op in _registry:
        return _registry[op]
    raise ValueError(f"{op!r} is not a custom operator registered with ember.library")


def register_fake(op, fn: Callable | None = None, /, *, lib=None, _stacklevel: int = 1):
    """``op``'s fake kernel (see :meth:`CustomOpDef.register_fake`); a decorator without
    ``fn``."""
    def register(func):
        return _op(op).register_fake(func)
    return register(fn) if fn is not None else register


def register_kernel(op, device_types, fn: Callable | None = None, /, *, lib=None):
    """``op``'s kernel for ``device_types``; a decorator without ``fn``."""
    return _op(op).register_kernel(device_types, fn)


def register_autograd(op, backward: Callable, /, *, setup_context: Callable | None = None,
                      lib=None) -> None:
    """``op``'s gradient formula (see :meth:`CustomOpDef.register_autograd`)."""
    _op(op).register_autograd(backward, setup_context=setup_context)


# ------------------------------------------------------------------------------------------------
# The schema-first API: Library, define, impl

def _signature_of_schema(schema: str) -> inspect.Signature:
    """A Python signature with the parameter names (and defaults) of ``schema``."""
    inner = schema[schema.index("(") + 1:schema.rindex("->")].rstrip().rstrip(")")
    params, keyword_only = [], False
    for item in filter(None, (p.strip() for p in _split_top(inner))):
        if item == "*":
            keyword_only = True
            continue
        decl, _, default = item.partition("=")
        pname = decl.split()[-1]
        kind = inspect.Parameter.KEYWORD_ONLY if keyword_only else \
            inspect.Parameter.POSITIONAL_OR_KEYWORD
        value = inspect.Parameter.empty if not default else _parse_default(default.strip())
        params.append(inspect.Parameter(pname, kind, default=value))
    return inspect.Signature(params)


def _split_top(text: str) -> list:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += ch in "([" and 1 or ch in ")]" and -1 or 0
        if ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _parse_default(text: str):
    import ast
    words = {"None": None, "True": True, "False": False}
    if text in words:
        return words[text]
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


class Library:
    """A set of operator definitions and implementations under one namespace
    (``kind`` "DEF" defines new operators, "IMPL"/"FRAGMENT" adds to existing ones)."""

    def __init__(self, ns: str, kind: str, dispatch_key: str = ""):
        if kind not in ("DEF", "IMPL", "FRAGMENT"):
            raise ValueError(f"Unsupported kind: {kind}")
        self.ns, self.kind, self.dispatch_key = ns, kind, dispatch_key

    def define(self, schema: str, alias_analysis: str = "", *, tags=()) -> str:
        """Declare ``name(args) -> returns``; implement it with :meth:`impl`."""
        name = schema[:schema.index("(")].strip()
        signature = _signature_of_schema(schema)

        def unimplemented(*args, **kwargs):
            raise NotImplementedError(f"{self.ns}::{name} has no implementation")
        unimplemented.__signature__ = signature
        mutated = [p.split()[-1].split("=")[0] for p in _split_top(schema[schema.index("(") + 1:
                   schema.rindex("->")].rstrip().rstrip(")")) if "!" in p]
        op = CustomOpDef(f"{self.ns}::{name}", unimplemented, mutated,
                         schema=schema[schema.index("("):])
        op._default_kernel = None
        return name

    def impl(self, op_name, fn: Callable, dispatch_key: str = "", *, with_keyset=False):
        """``fn`` as the kernel of ``op_name`` for ``dispatch_key`` ("CPU", "CUDA", or a
        composite key, which serves every device)."""
        name = op_name if isinstance(op_name, str) else _op(op_name)._name
        op = _registry[f"{self.ns}::{name.split('.')[0]}"]
        key = (dispatch_key or self.dispatch_key).lower()
        if key in ("cpu", "cuda"):
            op._kernels[key] = fn
        elif key == "meta":
            op._fake = fn
        elif key in ("autogradcpu", "autogradcuda"):
            op._autograd_kernels[key.removeprefix("autograd")] = fn
        else:  # CompositeImplicitAutograd, CompositeExplicitAutograd, Autograd, ...
            op._default_kernel = fn

    def _register_fake(self, op_name: str, fn: Callable, _stacklevel: int = 1):
        _registry[f"{self.ns}::{op_name}"].register_fake(fn)


def define(qualname: str, schema: str, *, lib=None, tags=()) -> None:
    """Declare operator ``qualname`` ("namespace::name") with ``schema``, e.g.
    ``"(Tensor x) -> Tensor"``."""
    namespace, name = _split(qualname)
    Library(namespace, "FRAGMENT").define(name + schema, tags=tags)


def impl(qualname: str, types, func: Callable | None = None, *, lib=None):
    """Register ``func`` as ``qualname``'s kernel for the device ``types`` ("cpu", "cuda",
    "default"); a decorator without ``func``."""
    def register(fn):
        op = _registry[qualname]
        for device in _device_types(types):
            if device in ("default", "CompositeImplicitAutograd"):
                op._default_kernel = fn
            else:
                op._kernels[device.lower()] = fn
        return fn
    return register(func) if func is not None else register


# ------------------------------------------------------------------------------------------------
# ember.ops.<namespace>.<op>

class _OpOverload:
    """``ember.ops.mylib.op.default``: the operator, callable."""

    def __init__(self, op: CustomOpDef):
        self._op = op

    def __call__(self, *args, **kwargs):
        return self._op(*args, **kwargs)

    # one operator, however many of these name it (a dispatch mode's ``func`` among them)
    def __eq__(self, other) -> bool:
        if not isinstance(other, _OpOverload):
            return NotImplemented
        return self._op is other._op and type(self) is type(other)

    def __hash__(self) -> int:
        return hash((id(self._op), type(self)))

    @property
    def tags(self) -> tuple:
        return tuple(self._op._tags)

    def name(self) -> str:
        """``mylib::op`` (an overload: ``mylib::op.default``)."""
        return f"{self._op._namespace}::{self._op._name}" + (
            "" if isinstance(self, _OpOverloadPacket) else ".default")

    @property
    def _schema(self) -> str:
        return f"{self._op._namespace}::{self._op._name}{self._op._schema}"

    def __repr__(self) -> str:
        return self._op._qualname


class _OpOverloadPacket(_OpOverload):
    """``ember.ops.mylib.op``: the operator and its overloads (ember has one: ``default``)."""

    @property
    def default(self) -> _OpOverload:
        return _OpOverload(self._op)

    def overloads(self) -> list:
        return ["default"]

    def __repr__(self) -> str:
        return f"{self._op._namespace}.{self._op._name}"


class _OpNamespace:
    """``ember.ops.mylib``: the operators registered under one namespace."""

    def __init__(self, name: str):
        self.name = name

    def __getattr__(self, op_name: str):
        key = f"{self.name}::{op_name}"
        if key not in _registry:
            raise AttributeError(f"'_OpNamespace' '{self.name}' object has no attribute "
                                 f"'{op_name}'")
        return _OpOverloadPacket(_registry[key])


def op_namespace(name: str) -> _OpNamespace:
    """The namespace ``ember.ops.<name>``: ``aten`` (PyTorch's operators, see ember._aten) or
    the operators registered under it; an AttributeError for any other name (so that
    ``from ember.ops import <submodule>`` still imports the submodule)."""
    if name == "aten":
        from ember._aten import aten
        return aten
    if not any(key.startswith(name + "::") for key in _registry):
        raise AttributeError(f"module 'ember.ops' has no attribute '{name}'")
    return _OpNamespace(name)


# ------------------------------------------------------------------------------------------------
# opcheck

class OpCheckError(Exception):
    """What :func:`opcheck` raises when a test fails."""


_TESTS = ("test_schema", "test_autograd_registration", "test_faketensor",
          "test_aot_dispatch_dynamic")


def opcheck(op, args: tuple, kwargs: dict | None = None, *, test_utils=_TESTS,
            raise_exception: bool = True, atol=None, rtol=None) -> dict:
    """Check that ``op`` is registered correctly on these example inputs: it mutates only the
    arguments it declares (test_schema), inputs that require grad have a gradient formula
    (test_autograd_registration), its fake kernel gives the real outputs' shapes, dtypes,
    strides and storage offsets (test_faketensor), and running it twice gives the same result
    (test_aot_dispatch_dynamic). Returns {test: "SUCCESS" or the error}."""
    opdef, kwargs = _op(op), kwargs or {}
    tests = (test_utils,) if isinstance(test_utils, str) else tuple(test_utils)
    checks = {"test_schema": _check_schema, "test_autograd_registration": _check_autograd,
              "test_faketensor": _check_fake, "test_aot_dispatch_dynamic": _check_repeat}
    results = {}
    for name in tests:
        try:
            checks[name](opdef, args, kwargs)
            results[name] = "SUCCESS"
        except Exception as exc:  # noqa: BLE001  (opcheck reports any failure)
            if raise_exception:
                raise OpCheckError(f"opcheck(op, ...): {name} failed with {exc}") from exc
            results[name] = exc
    return results


def _clone_args(args):
    import ember
    from ember._tensor import Tensor

    def clone(a):
        if isinstance(a, Tensor):
            with ember.no_grad():
                c = a.detach().clone()
            return c.requires_grad_(a.requires_grad)
        if isinstance(a, (list, tuple)):
            return type(a)(clone(b) for b in a)
        return a
    return tuple(clone(a) for a in args)


def _check_schema(op: CustomOpDef, args, kwargs) -> None:
    import ember
    from ember._tensor import Tensor
    before = _clone_args(args)
    work = _clone_args(args)
    out = op(*work, **kwargs)
    names = list(op._signature.parameters)
    for i, (old, new) in enumerate(zip(before, work)):
        if isinstance(old, Tensor) and names[i] not in op._mutated and not ember.equal(
                old.detach(), new.detach()):
            raise RuntimeError(f"{op._qualname}: argument {names[i]} is mutated but not "
                               "declared in mutates_args")
    if op._returns_mutated:  # its outputs are its mutated arguments (checked by every call)
        return
    for o in _flat(out if isinstance(out, tuple) else (out,)):
        if isinstance(o, Tensor) and any(isinstance(a, Tensor) and a.data_ptr() ==
                                         o.data_ptr() and a.numel() for a in _flat(work)):
            raise RuntimeError(f"{op._qualname}: an output aliases an input; custom operators "
                               "must return new tensors (clone the input)")


def _check_autograd(op: CustomOpDef, args, kwargs) -> None:
    from ember._tensor import Tensor
    if any(isinstance(a, Tensor) and a.requires_grad for a in _flat(args)) and \
            op._backward is None and not op._mutated:
        raise RuntimeError(f"{op._qualname}: inputs require grad but no autograd formula was "
                           "registered (use register_autograd)")


def _check_fake(op: CustomOpDef, args, kwargs) -> None:
    import ember
    from ember._tensor import Tensor
    real = op(*_clone_args(args), **kwargs)
    if all(not isinstance(o, Tensor) for o in _flat(real if isinstance(real, tuple) else (real,))):
        return  # no tensor outputs: nothing for a fake kernel to describe
    meta = tuple(a.detach().to("meta") if isinstance(a, Tensor) else a for a in args)
    fake = op(*meta, **kwargs)
    reals = real if isinstance(real, tuple) else (real,)
    fakes = fake if isinstance(fake, tuple) else (fake,)
    for r, f in zip(reals, fakes):
        if isinstance(r, Tensor) and (tuple(r.shape) != tuple(f.shape) or r.dtype != f.dtype):
            raise RuntimeError(f"{op._qualname}: the fake kernel gave shape {tuple(f.shape)} "
                               f"and dtype {f.dtype}, the kernel {tuple(r.shape)} and "
                               f"{r.dtype}")
    # ember's meta tensors carry no strides, so the layout the fake kernel describes is read
    # from it run on real inputs (where its factories lay tensors out as FakeTensors would)
    with ember.no_grad():
        laid = op._fake(*_clone_args(args), **kwargs)
    for r, f in zip(reals, laid if isinstance(laid, tuple) else (laid,)):
        if isinstance(r, Tensor) and (r.stride() != f.stride() or
                                      r.storage_offset() != f.storage_offset()):
            raise RuntimeError(f"{op._qualname}: the fake kernel gave strides {f.stride()} "
                               f"and storage offset {f.storage_offset()}, the kernel "
                               f"{r.stride()} and {r.storage_offset()}")


def _check_repeat(op: CustomOpDef, args, kwargs) -> None:
    import ember
    from ember._tensor import Tensor
    first = op(*_clone_args(args), **kwargs)
    second = op(*_clone_args(args), **kwargs)
    for a, b in zip(_flat(first if isinstance(first, tuple) else (first,)),
                    _flat(second if isinstance(second, tuple) else (second,))):
        if isinstance(a, Tensor) and not ember.equal(a.detach(), b.detach()):
            raise RuntimeError(f"{op._qualname}: two runs on the same inputs differ")
