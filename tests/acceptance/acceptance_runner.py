"""Run tutorial code text with every ``torch`` import resolved to ``ember``.

The tutorials' own ``import torch`` / ``import torch.nn as nn`` / ``from torch import optim``
lines stay in the code; an import hook maps ``torch`` and ``torch.<sub>`` to ``ember`` and
``ember.<sub>`` (and ``torchvision[.<sub>]`` to ``ember.vision[.<sub>]``) while the code runs,
then restores ``sys.modules`` so that real PyTorch (used by tests/conformance) is untouched.
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
import types

import pytest

# The alias hook is ember's own (``python -m ember.compat``); the tests use its context manager.
from ember.compat import EmberAliasFinder, torch_is_ember  # noqa: E402,F401


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


def run(code: str, ns: dict | None = None, modules: dict | None = None, **env) -> dict:
    """Exec ``code`` (dedented) with ``torch`` = ember; return its globals.

    Pass the returned ``ns`` back to run the tutorial's next cell in the same namespace.
    What the code printed so far is in ``ns["_stdout"]``. ``modules`` maps the names of an
    example's own sibling modules (``import data``) to their source; they are importable while
    the code runs.
    """
    if ns is None:
        out = io.StringIO()
        # Printing is kept (it exercises Tensor.__repr__/__format__) but captured.
        ns = {"__name__": "__tutorial__", "print": functools.partial(print, file=out),
              "_out": out}
    ns.update(env)
    with torch_is_ember(), _sibling_modules(modules or {}, ns["print"]):
        # dont_inherit: this module's ``from __future__`` flags are not the tutorial's
        exec(compile(textwrap.dedent(code), "<tutorial>", "exec", dont_inherit=True), ns)
    ns["_stdout"] = ns["_out"].getvalue()
    return ns


@contextlib.contextmanager
def _sibling_modules(sources: dict, print_fn):
    """Make each ``name: source`` importable as module ``name`` inside the block."""
    saved = {name: sys.modules.get(name) for name in sources}
    try:
        for name, source in sources.items():
            module = types.ModuleType(name)
            module.print = print_fn
            sys.modules[name] = module
            exec(compile(textwrap.dedent(source), f"<{name}.py>", "exec", dont_inherit=True),
                 module.__dict__)
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = old


def write_idx(path, array) -> None:
    """Write a uint8 array as an IDX file (MNIST's on-disk format)."""
    import numpy as np
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, ">i4").tobytes()
    with open(path, "wb") as f:
        f.write(header + array.tobytes())


def write_mnist(root, n_train: int = 64, n_test: int = 32, seed: int = 0) -> None:
    """A tiny learnable MNIST in ``root/MNIST/raw``: each digit is a bright bar at its own row
    band on noise, so a real model can fit it in a few steps."""
    import os

    import numpy as np
    rng = np.random.default_rng(seed)
    raw = os.path.join(root, "MNIST", "raw")
    os.makedirs(raw, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = np.arange(n) % 10
        rng.shuffle(labels)
        images = rng.integers(0, 60, (n, 28, 28))
        for i, label in enumerate(labels):
            images[i, 2 + 2 * label:4 + 2 * label, 4:24] = 255
        write_idx(os.path.join(raw, f"{prefix}-images-idx3-ubyte"), images)
        write_idx(os.path.join(raw, f"{prefix}-labels-idx1-ubyte"), labels)


def install() -> None:
    """Resolve ``torch``/``torchvision`` to ember for the rest of this process (for the child
    interpreters of ``run_script`` only; tests use ``run``)."""
    sys.meta_path.insert(0, EmberAliasFinder())


# The entry point of ``run_script``: it stays the ``__main__`` module, so that processes started
# with "spawn" re-run it (as ``__mp_main__``), install the hook again and then define the
# example's classes and functions, which unpickling needs. The script is named by an
# environment variable because spawn's re-run sets ``sys.argv[0]`` to this entry file.
_ENTRY = '''\
import os
import sys
sys.path.insert(0, {runner_dir!r})
import acceptance_runner
acceptance_runner.install()
sys.argv[0] = os.environ["EMBER_EXAMPLE_SCRIPT"]
with open(sys.argv[0]) as _f:
    exec(compile(_f.read(), sys.argv[0], "exec"))
'''


def run_script(folder, script: str, *args: str, cwd=None, timeout: float = 60.0):
    """Run ``folder/script`` (an example written to disk with its sibling modules) in a fresh
    interpreter with ``torch`` = ember, as ``python script args...`` from ``cwd`` (default
    ``folder``); return the ``subprocess.CompletedProcess`` (text output)."""
    import os
    import subprocess
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    entry = os.path.join(folder, "_run_on_ember.py")
    with open(entry, "w") as f:
        f.write(_ENTRY.format(runner_dir=os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(folder), root]),
               EMBER_EXAMPLE_SCRIPT=os.path.join(folder, script))
    return subprocess.run([sys.executable, entry, *args],
                          cwd=cwd or folder, env=env, capture_output=True, text=True,
                          timeout=timeout)


def write_cifar10(root, per_batch: int = 40, n_test: int = 20, seed: int = 0) -> dict:
    """A tiny learnable CIFAR-10 in ``root/cifar-10-batches-py`` (the Python pickle batches,
    protocol 2, as the real archive holds them); each class has its own colour plus noise.
    Returns ``{file name: md5}`` of the batches written."""
    import hashlib
    import os
    import pickle

    import numpy as np
    rng = np.random.default_rng(seed)
    folder = os.path.join(root, "cifar-10-batches-py")
    os.makedirs(folder, exist_ok=True)
    colours = rng.integers(0, 256, (10, 3))
    md5 = {}

    def batch(name, n, label):
        labels = [int(x) for x in rng.permutation(np.arange(n) % 10)]
        images = rng.integers(0, 80, (n, 3, 32, 32)) + colours[labels][:, :, None, None] * 0.7
        entry = {"batch_label": label, "labels": labels,
                 "data": images.clip(0, 255).astype(np.uint8).reshape(n, 3072),
                 "filenames": [f"img_{i}.png" for i in range(n)]}
        path = os.path.join(folder, name)
        with open(path, "wb") as f:
            pickle.dump(entry, f, protocol=2)
        with open(path, "rb") as f:
            md5[name] = hashlib.md5(f.read()).hexdigest()

    for i in range(1, 6):
        batch(f"data_batch_{i}", per_batch, f"training batch {i} of 5")
    batch("test_batch", n_test, "testing batch 1 of 1")
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
             "truck"]
    with open(os.path.join(folder, "batches.meta"), "wb") as f:
        pickle.dump({"label_names": names, "num_cases_per_batch": per_batch, "num_vis": 3072},
                    f, protocol=2)
    return md5


# A stand-in for matplotlib (not installed here): any call or attribute works, ``subplots()``
# unpacks to (fig, ax) and ``axarr[i]`` indexes; ``plt.plot``'s arguments are kept in ``plots``.
# Pass ``modules=MATPLOTLIB`` to ``run``.
PLOT_STUB = """
plots = []


class _Any:
    def __init__(self, *args, **kwargs):
        pass

    def __call__(self, *args, **kwargs):
        return _Any()

    def __getattr__(self, name):
        return _Any()

    def __getitem__(self, index):
        return _Any()

    def __iter__(self):
        return iter((_Any(), _Any()))


def plot(*args, **kwargs):
    plots.append(args)


def __getattr__(name):
    return _Any()
"""
MATPLOTLIB = {"matplotlib": "", "matplotlib.pyplot": PLOT_STUB, "matplotlib.ticker": PLOT_STUB}
