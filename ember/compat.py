"""Run unchanged PyTorch code on ember: ``python -m ember.compat SCRIPT [args...]``.

A module alias finder on ``sys.meta_path`` resolves ``torch`` and ``torch.<sub>`` to ``ember``
and ``ember.<sub>``, ``torchvision`` to ``ember.vision`` and ``functorch`` (which PyTorch's wheel
ships beside ``torch``) to ``ember.functorch`` (no source rewriting). An alias never
falls back to a real PyTorch install: a module ember lacks raises ModuleNotFoundError. The same
finder answers ``importlib.metadata`` for the ``torch`` and ``torchvision`` distributions with
the releases ember follows, as libraries that check for PyTorch by its installed version
(``importlib.metadata.version("torch")``) do before they import it. Processes the script
starts with multiprocessing's "spawn" or "forkserver" methods get the alias too.

Example::

    python -m ember.compat mnist/main.py --epochs 1      # PyTorch's own MNIST example
"""
from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.metadata
import importlib.util
import io
import os
import pathlib
import runpy
import sys
import types

ALIASES = {"torch": "ember", "torchvision": "ember.vision", "functorch": "ember.functorch"}


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, target: str):
        self.target = target

    def create_module(self, spec):
        module = importlib.import_module(self.target)
        _mirror_loaded()
        return module

    def exec_module(self, module) -> None:
        return None  # the ember module is initialised by import_module


class EmberAliasFinder(importlib.abc.MetaPathFinder):
    """Finds ``torch[.x]`` as ``ember[.x]`` and ``torchvision[.x]`` as ``ember.vision[.x]``."""

    def find_spec(self, fullname, path=None, target=None):
        top, _, rest = fullname.partition(".")
        base = ALIASES.get(top)
        if base is None:
            return None
        ember_name = base + ("." + rest if rest else "")
        try:
            found = importlib.util.find_spec(ember_name)
        except ModuleNotFoundError:
            found = None
        if found is None:
            raise ModuleNotFoundError(f"ember has no module {ember_name!r} (imported as "
                                      f"{fullname!r})", name=fullname)
        return importlib.util.spec_from_loader(fullname, _AliasLoader(ember_name))

    def find_distributions(self, context=importlib.metadata.DistributionFinder.Context()):
        """The ``torch`` / ``torchvision`` distributions, when asked for by name."""
        name = (context.name or "").lower().replace("-", "_")
        if name in ("torch", "torchvision"):  # functorch ships inside torch's distribution
            yield _AliasDistribution(name)


class _AliasDistribution(importlib.metadata.Distribution):
    """The installed-package record of ``torch`` or ``torchvision`` as ember stands in for it."""

    def __init__(self, name: str):
        self._name = name

    def read_text(self, filename):
        if filename != "METADATA":
            return None
        target = importlib.import_module(ALIASES[self._name])
        return (f"Metadata-Version: 2.1\nName: {self._name}\nVersion: {target.__version__}\n"
                f"Summary: {self._name} as ember\n")

    def locate_file(self, path):
        return pathlib.Path(importlib.import_module(ALIASES[self._name]).__file__).parent / path


def _aliased(name: str) -> bool:
    return name.partition(".")[0] in ALIASES


def _mirror_loaded() -> None:
    """Enter every loaded ``ember[.x]`` module in ``sys.modules`` under its ``torch[.x]`` name,
    and name it so: code checks ``torch.__name__ == "torch"`` (its ``__spec__`` stays ember's).

    The import system sets a newly loaded ``a.b`` as attribute ``b`` of ``a``. Were ``torch.a.b``
    first resolved through the alias, that would rebind ``ember.a.b`` even where ember's package
    binds a function there over its submodule (``ember.autograd.gradcheck``); an alias already
    in ``sys.modules`` is returned as it is, with no such assignment.
    """
    for alias, base in ALIASES.items():
        prefix = base + "."
        for name, module in list(sys.modules.items()):
            if name == base or name.startswith(prefix):
                alias_name = alias + name[len(base):]
                if sys.modules.setdefault(alias_name, module) is module:
                    module.__name__ = alias_name


def _unname_loaded() -> None:
    """Give every loaded ``ember[.x]`` module its own name back (the alias is gone)."""
    for base in ALIASES.values():
        for name, module in list(sys.modules.items()):
            if name == base or name.startswith(base + "."):
                module.__name__ = name


@contextlib.contextmanager
def torch_is_ember():
    """Within the block, ``import torch[.x]`` / ``import torchvision[.x]`` give ember's modules;
    afterwards ``sys.modules`` is restored (so a real torch can still be used elsewhere)."""
    saved = {k: v for k, v in sys.modules.items() if _aliased(k)}
    for k in saved:
        del sys.modules[k]
    finder = EmberAliasFinder()
    sys.meta_path.insert(0, finder)
    _mirror_loaded()
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
        for k in [k for k in sys.modules if _aliased(k)]:
            del sys.modules[k]
        _unname_loaded()
        sys.modules.update(saved)


def install() -> None:
    """Alias ``torch`` to ember for the rest of this process."""
    for k in [k for k in sys.modules if _aliased(k)]:
        del sys.modules[k]
    sys.meta_path.insert(0, EmberAliasFinder())
    _mirror_loaded()


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: python -m ember.compat SCRIPT [args...]\n\nRuns an unchanged PyTorch "
              "script with torch and torchvision resolved to ember.")
        raise SystemExit(0 if argv else 2)
    script = argv[0]
    install()
    sys.argv = argv
    sys.path.insert(0, str(pathlib.Path(script).resolve().parent))
    os.environ[_SCRIPT_VARIABLE] = os.path.abspath(script)
    _run_as_main(script)


# NOTE [ The alias in spawned children ]
# multiprocessing's "spawn" and "forkserver" children are fresh interpreters that rebuild the
# parent's ``__main__`` before unpickling their target: by ``__main__.__spec__.name`` when it
# has one (re-running that module as ``__mp_main__``), else by running ``__main__.__file__``.
# The script ``main`` runs therefore carries a spec named ember.compat: a child re-runs this
# module, which installs the alias and only then runs the script (named by an environment
# variable the child inherits: while runpy re-runs a module, ``sys.argv[0]`` is the module's
# path), so the child's ``import torch`` gives ember as the parent's did.
_SCRIPT_VARIABLE = "EMBER_COMPAT_SCRIPT"


def _run_as_main(script: str) -> None:
    """Run ``script`` as ``__main__`` (as ``runpy.run_path`` does), its ``__spec__`` naming
    this module (NOTE [ The alias in spawned children ])."""
    if not os.path.isfile(script):  # a directory or zip archive with a __main__.py
        runpy.run_path(script, run_name="__main__")
        return
    with io.open_code(script) as f:
        code = compile(f.read(), script, "exec")
    module = types.ModuleType("__main__")
    module.__dict__.update(__file__=os.path.abspath(script), __cached__=None, __loader__=None,
                           __package__="", __spec__=importlib.machinery.ModuleSpec(
                               "ember.compat", None, origin=script))
    previous = sys.modules["__main__"]
    sys.modules["__main__"] = module
    try:
        exec(code, module.__dict__)
    finally:
        sys.modules["__main__"] = previous


if __name__ == "__main__":
    main()
elif __name__ == "__mp_main__":  # a child of ``main`` (NOTE [ The alias in spawned children ])
    importlib.import_module("ember.compat").install()
    script_globals = runpy.run_path(os.environ[_SCRIPT_VARIABLE], run_name="__mp_main__")
    del script_globals["__spec__"]  # this module's spec stays: the child's own children start here
    globals().update(script_globals)
