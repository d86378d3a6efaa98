"""The errors ``torch.export`` raises, under PyTorch's class names (they live in
``torch._dynamo.exc`` and ``torch.fx.experimental.symbolic_shapes`` there)."""
from __future__ import annotations

import enum

__all__ = ["UserErrorType", "UserError", "Unsupported", "GuardOnDataDependentSymNode",
           "ConstraintViolationError"]


class UserErrorType(enum.Enum):
    """What kind of user mistake a :class:`UserError` reports."""
    DYNAMIC_CONTROL_FLOW = enum.auto()
    ANTI_PATTERN = enum.auto()
    STANDARD_LIBRARY = enum.auto()
    CONSTRAINT_VIOLATION = enum.auto()
    DYNAMIC_DIM = enum.auto()
    INVALID_INPUT = enum.auto()
    INVALID_OUTPUT = enum.auto()
    UNSUPPORTED_ALIASED_MUTATED_DYNAMIC_INPUTS = enum.auto()


_HINT = ("\n\nThe error above occurred when calling torch.export.export. If you would like to "
         "view some more information about this error, and get a list of all other errors "
         "that may occur in your export call, you can replace your `export()` call with "
         "`draft_export()`.")


class UserError(RuntimeError):
    """``torch._dynamo.exc.UserError``: the program or the ``dynamic_shapes`` given to export
    cannot be exported as written (``error_type`` says why)."""

    def __init__(self, error_type: UserErrorType, msg: str, case_name: str | None = None):
        super().__init__(msg + _HINT)
        self.error_type = error_type
        self.message = msg
        self.case_name = case_name


class Unsupported(RuntimeError):
    """``torch._dynamo.exc.Unsupported``: what ``strict=True`` export cannot trace (branching
    on tensor data, for one)."""


class GuardOnDataDependentSymNode(RuntimeError):
    """Python code needed the value of a data-dependent quantity (``bool(x.sum() > 0)``,
    ``int(x.item())``) while exporting: the graph cannot hold that decision. Use
    ``ember.cond`` or branchless code (``ember.where``)."""

    def __init__(self, cond, msg: str = "") -> None:
        super().__init__(msg)
        self.cond = cond


class ConstraintViolationError(RuntimeError):
    """An example input lies outside the range its ``Dim`` allows."""
