"""Names of ember's public callables as generated code spells them.

NOTE [ Generated code globals ]
User code runs ``import ember as torch``, so FX prints and generates code with PyTorch's names:
a call of ``ember.relu`` prints ``torch.relu`` and ``ember.nn.functional.gelu`` prints
``torch.nn.functional.gelu``. Generated code resolves them at call time through the global
``torch``, bound to the ``ember`` module (plus ``device``, ``inf``, ``nan`` and ``NoneType``, as
PyTorch binds them); any other callable (a ``wrap``-ped function, ``math.sqrt``) is bound under
a sanitized global name of its own (``__main___myfn``, ``math_sqrt``).
"""
from __future__ import annotations

import importlib
import types
from typing import Any

# (prefix printed, ember module): the namespaces whose functions FX intercepts and names, in
# priority order (a function exported by two prints with the first).
NAMESPACES = (("torch", "ember"), ("torch.nn.functional", "ember.nn.functional"),
              ("torch.special", "ember.special"), ("torch.linalg", "ember.linalg"),
              ("torch.fft", "ember.fft"))

_table: dict[int, tuple[str, Any]] | None = None


def namespace_functions() -> list[tuple[types.ModuleType, str, types.FunctionType]]:
    """Every public plain function of the intercepted namespaces: (module, name, function).
    Also fixes the name table first, so that names never see the tracer's stand-ins."""
    public_name(None)
    found = []
    for _, module_name in NAMESPACES:
        module = importlib.import_module(module_name)
        for name, value in list(vars(module).items()):
            if _is_public(name) and isinstance(value, types.FunctionType):
                found.append((module, name, value))
    return found


def _build() -> dict[int, tuple[str, Any]]:
    import ember
    table: dict[int, tuple[str, Any]] = {}
    for prefix, module_name in NAMESPACES:
        module = importlib.import_module(module_name)
        for name, value in vars(module).items():
            if not _is_public(name) or isinstance(value, types.ModuleType):
                continue
            if isinstance(value, (types.FunctionType, type)):
                for layer in unwrapped_chain(value):
                    table.setdefault(id(layer), (f"{prefix}.{name}", layer))
    table[id(ember.Tensor)] = ("torch.Tensor", ember.Tensor)
    from ember.fx._symbolic_trace import _assert_is_none
    table[id(_assert_is_none)] = ("torch.fx._symbolic_trace._assert_is_none", _assert_is_none)
    return table


def _is_public(name: str) -> bool:
    return not name.startswith("_") or name == "_assert"  # torch._assert is traceable


def unwrapped_chain(fn: Any) -> list:
    """``fn`` and the functions it wraps (``__wrapped__``): ember.overrides may put a
    dispatching wrapper in a namespace after code imported the plain function."""
    chain = [fn]
    while isinstance(getattr(chain[-1], "__wrapped__", None), types.FunctionType) \
            and len(chain) < 8:
        chain.append(chain[-1].__wrapped__)
    return chain


def public_name(obj: Any) -> str | None:
    """``torch.<path>`` for a public ember function or class (or a wrapper of one), else
    None."""
    global _table
    if _table is None:
        _table = _build()
    for layer in unwrapped_chain(obj):
        entry = _table.get(id(layer))
        if entry is not None and entry[1] is layer:
            return entry[0]
    return None
