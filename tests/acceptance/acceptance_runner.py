"""Run tutorial code text with every ``torch`` import resolved to ``ember``.

The tutorials' own ``import torch`` / ``import torch.nn as nn`` / ``from torch import optim``
lines stay in the code; an import hook maps ``torch`` and ``torch.<sub>`` to ``ember`` and
``ember.<sub>`` while the code runs, then restores ``sys.modules`` so that real PyTorch (used
by tests/conformance) is untouched.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.abc
import importlib.util
import io
import sys
import textwrap

import pytest


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, target: str):
        self.target = target

    def create_module(self, spec):
        return importlib.import_module(self.target)

    def exec_module(self, module):
        # The ember module is already initialised by import_module.
        return None


class _TorchToEmber(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname != "torch" and not fullname.startswith("torch."):
            return None
        ember_name = "ember" + fullname[len("torch"):]
        try:
            found = importlib.util.find_spec(ember_name)
        except ModuleNotFoundError:
            found = None
        if found is None:
            # Never fall through to real PyTorch: the tutorial must run on ember alone.
            raise ModuleNotFoundError(f"No module named {ember_name!r} (for {fullname!r})",
                                      name=fullname)
        return importlib.util.spec_from_loader(fullname, _AliasLoader(ember_name))


@contextlib.contextmanager
def torch_is_ember():
    """Within the block ``import torch[.x]`` yields ``ember[.x]``."""
    saved = {k: v for k, v in sys.modules.items() if k == "torch" or k.startswith("torch.")}
    for k in saved:
        del sys.modules[k]
    finder = _TorchToEmber()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
        for k in [k for k in sys.modules if k == "torch" or k.startswith("torch.")]:
            del sys.modules[k]
        sys.modules.update(saved)


def require(*modules: str) -> None:
    """Skip the test when an ember subpackage the tutorial needs is not built yet."""
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            pytest.skip(f"{name} is not available yet ({exc})")


def require_attrs(module: str, *names: str) -> None:
    """Skip the test when ``module`` lacks one of ``names`` (built by another helper)."""
    mod = importlib.import_module(module)
    missing = [n for n in names if not hasattr(mod, n)]
    if missing:
        pytest.skip(f"{module} lacks {', '.join(missing)} (not built yet)")


def run(code: str, ns: dict | None = None, **env) -> dict:
    """Exec ``code`` (dedented) with ``torch`` = ember; return its globals.

    Pass the returned ``ns`` back to run the tutorial's next cell in the same namespace.
    What the code printed so far is in ``ns["_stdout"]``.
    """
    if ns is None:
        out = io.StringIO()
        # Printing is kept (it exercises Tensor.__repr__/__format__) but captured.
        ns = {"__name__": "__tutorial__", "print": functools.partial(print, file=out),
              "_out": out}
    ns.update(env)
    with torch_is_ember():
        exec(compile(textwrap.dedent(code), "<tutorial>", "exec"), ns)
    ns["_stdout"] = ns["_out"].getvalue()
    return ns
