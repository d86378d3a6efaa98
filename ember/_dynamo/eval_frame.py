"""``torch._dynamo.eval_frame``: the module where PyTorch defines ``OptimizedModule``, which
libraries name to unwrap compiled models (``isinstance(m, torch._dynamo.eval_frame.
OptimizedModule)``, as diffusers' pipelines do). ember has no frame evaluation hook; the class
is ``ember.compiler``'s, made on first use."""
from __future__ import annotations


def __getattr__(name: str):
    if name == "OptimizedModule":  # what ``ember.compile`` makes of a module
        from ember import compiler
        return compiler.OptimizedModule
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
