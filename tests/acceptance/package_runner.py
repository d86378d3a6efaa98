"""Import a third-party package's module twice, once with ``torch`` = ember and once on real
PyTorch, for code that uses relative imports (``from .common import ...``) and so cannot run
through ``acceptance_runner.run``'s flat sibling modules."""

from __future__ import annotations

import contextlib
import importlib
import sys

from acceptance_runner import torch_is_ember


@contextlib.contextmanager
def import_on_both(root, files: dict, *modules: str):
    """Write ``files`` (``{relative path: source}``) as a package under two folders of ``root``
    and yield ``(on_ember, on_torch)``: each maps every name of ``modules`` to the package's
    module of that name, imported with ``torch`` = ember and on real PyTorch. The packages leave
    ``sys.path`` and ``sys.modules`` afterwards."""
    names = ("thirdparty_on_ember", "thirdparty_on_torch")
    for name in names:
        for path, source in files.items():
            target = root / name / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(source)
    sys.path.insert(0, str(root))
    try:
        with torch_is_ember():
            on_ember = {m: importlib.import_module(f"{names[0]}.{m}") for m in modules}
        on_torch = {m: importlib.import_module(f"{names[1]}.{m}") for m in modules}
        yield on_ember, on_torch
    finally:
        sys.path.remove(str(root))
        for name in [n for n in sys.modules if n.split(".")[0] in names]:
            del sys.modules[name]
