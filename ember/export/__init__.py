"""``torch.export``: capture a module's forward as one graph of aten ops, with its parameters
and buffers lifted to inputs, dynamic dims as symbols, and a format to save it in.

``export`` runs the module once on the example inputs under a TorchFunctionMode that records
every ember call (NOTE [ Export tracing ] in ``_trace.py``); sizes that may vary are tracked
symbolically (NOTE [ Sizes while exporting ] in ``_symbolic.py``). ``ExportedProgram.module()``
gives a callable GraphModule; ``save``/``load`` write the graph as data, never code.
"""
from ember.export._errors import (
    ConstraintViolationError,
    GuardOnDataDependentSymNode,
    Unsupported,
    UserError,
    UserErrorType,
)
from ember.export._export import export
from ember.export._ops import OpOverload
from ember.export._serialize import load, save
from ember.export._symbolic import SymBool, SymFloat, SymInt
from ember.export.dynamic_shapes import Dim, ShapesCollection, dims
from ember.export.exported_program import ExportedProgram
from ember.export.graph_signature import (
    ExportGraphSignature,
    InputKind,
    InputSpec,
    OutputKind,
    OutputSpec,
)
from ember.export.unflatten import UnflattenedModule, unflatten

__all__ = ["export", "ExportedProgram", "Dim", "dims", "ShapesCollection", "save", "load",
           "unflatten", "ExportGraphSignature", "InputKind", "InputSpec", "OutputKind",
           "OutputSpec", "UserError", "UserErrorType", "Unsupported",
           "GuardOnDataDependentSymNode", "ConstraintViolationError", "SymInt", "SymFloat",
           "SymBool", "OpOverload", "UnflattenedModule", "default_decompositions"]


def default_decompositions() -> dict:
    """The decomposition table ``run_decompositions`` uses by default (ember keeps each op
    whole, so it is empty)."""
    return {}
