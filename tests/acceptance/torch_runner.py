"""Run tutorial code text under real PyTorch: the oracle the ember run is compared with.

``run_torch(code)`` mirrors ``acceptance_runner.run`` (same namespace layout, printing captured
in ``ns["_stdout"]``, sibling modules such as the matplotlib stub importable), with ``torch``
left as PyTorch. Tests that use it skip when PyTorch is not installed.
"""

from __future__ import annotations

import functools
import io
import textwrap

import pytest
from acceptance_runner import _sibling_modules


def run_torch(code: str, ns: dict | None = None, modules: dict | None = None, **env) -> dict:
    """Exec ``code`` (dedented) with real ``torch``; return its globals."""
    pytest.importorskip("torch")
    # PyTorch imports torch._dynamo lazily (on an optimizer's first use) and then inspects every
    # module in sys.modules; the stub modules answer any attribute, so import it before them.
    import torch._dynamo  # noqa: F401
    if ns is None:
        out = io.StringIO()
        ns = {"__name__": "__tutorial__", "print": functools.partial(print, file=out),
              "_out": out}
    ns.update(env)
    with _sibling_modules(modules or {}, ns["print"]):
        exec(compile(textwrap.dedent(code), "<tutorial>", "exec"), ns)
    ns["_stdout"] = ns["_out"].getvalue()
    return ns


def record_initial_weights(monkeypatch, layers: tuple, store: list) -> None:
    """After each ember layer of the classes named in ``layers`` (``"Linear"``, ...) draws its
    initial parameters, append a copy of them to ``store``."""
    import ember
    for name in layers:
        cls = getattr(ember.nn, name)

        def record(self, original=cls.reset_parameters):
            original(self)
            store.append([p.detach().numpy().copy() for p in self.parameters()])
        monkeypatch.setattr(cls, "reset_parameters", record)


def replay_initial_weights(monkeypatch, layers: tuple, store: list) -> None:
    """PyTorch's layers of those classes take, in construction order, the parameters ``store``
    holds, so that a program run on both libraries starts from the same weights."""
    import torch
    weights = iter(store)

    def replay(self):
        with torch.no_grad():
            for p, value in zip(self.parameters(), next(weights), strict=True):
                p.copy_(torch.from_numpy(value))
    for name in layers:
        monkeypatch.setattr(getattr(torch.nn, name), "reset_parameters", replay)
