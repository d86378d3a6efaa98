"""In-place ops and ``out=``: writing into existing storage without breaking autograd.

# NOTE [ In-place ops and autograd ]
An in-place op on a tensor that takes part in a graph is computed out of place by the same
primitive, then written into the tensor's storage; the tensor takes over the result's history.
If the tensor is a view, its base's history becomes a ``CopySlices`` node: the gradient of the
base flows to the old base outside the written region and to the new values inside it, and the
view's history is re-derived from the base by the view's recorded ``_view_fn``. The shared
version counter is bumped, so a backward that saved the old values raises instead of silently
using the new ones.
"""
from __future__ import annotations

import re
import warnings

from ember import dtypes as _dt
from ember._tensor import Tensor, _make
from ember.autograd.function import Node, _DispatchFlag, edge_of, refresh_view
from ember.autograd.grad_mode import _State, enable_grad
from ember.backend.device import cast_source
from ember.ops._util import ELEMENTWISE_MODULES, OPERANDS, scalar_name


def check_inplace(t: Tensor) -> None:
    """PyTorch's errors for in-place ops on leaves that require grad (in grad mode)."""
    if not _State.enabled:
        return
    if t.requires_grad and t.grad_fn is None:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place "
                           "operation.")
    base = t._base
    if base is None:
        return
    _check_no_grad_view(t)
    if base.requires_grad and base.grad_fn is None:
        raise RuntimeError("a view of a leaf Variable that requires grad is being used in an "
                           "in-place operation.")


def _check_no_grad_view(t: Tensor) -> None:
    """A view taken under no_grad of a tensor that requires grad has no history to rebase."""
    if getattr(t._view_fn, "no_grad_view", False) and t._base.requires_grad:
        raise RuntimeError(
            "A view was created in no_grad mode and is being modified inplace with grad mode "
            "enabled. Given that this use case is ambiguous and error-prone, it is forbidden. "
            "You can clarify your code by moving both the view and the inplace either both "
            "inside the no_grad block (if you don't want the inplace to be tracked) or both "
            "outside (if you want the inplace to be tracked).")


def check_castable(t: Tensor, result_np_dtype) -> None:
    """PyTorch's refusal to write a result into a tensor of a lower dtype category (a float
    into an integer tensor, an integer into a bool one, a complex number into a real one)."""
    if result_np_dtype == t._data.dtype:
        return
    _refuse_cast(t, _dt._FROM_NP[result_np_dtype])


def _refuse_cast(t: Tensor, result: _dt.dtype) -> None:
    if result._category > t.dtype._category:
        raise RuntimeError(f"result type {scalar_name(result)} can't be cast to the desired "
                           f"output type {scalar_name(t.dtype)}")


def _apply_inplace(self: Tensor, prim, operand: Tensor, args: tuple) -> Tensor:
    """``prim.apply(operand, *args)``; where an elementwise op finds no kernel for its
    operands' dtype, PyTorch reports first that the promoted operands could not be written
    into ``self``, if so."""
    if _DispatchFlag.on:  # a dispatch mode sees the in-place overload (``add_.Tensor``)
        from ember._dispatch import next_op_in_place
        next_op_in_place()
    try:
        return prim.apply(operand, *args)
    except (NotImplementedError, TypeError):
        # a comparison's (promotes False) result is 0/1, which fits any dtype
        if prim.__module__ in ELEMENTWISE_MODULES and getattr(prim, "promotes", True):
            _refuse_cast(self, _dt.result_type(self, *[a for a in args
                                                       if isinstance(a, OPERANDS)]))
        raise


def inplace(self: Tensor, prim, *args, saves_self: bool = False) -> Tensor:
    """self <- prim(self, *args), in place (see NOTE [ In-place ops and autograd ])."""
    record = _State.enabled and (self.requires_grad or any(
        isinstance(a, Tensor) and a.requires_grad for a in args))
    if not record:
        if _State.enabled and self._base is not None:
            _check_no_grad_view(self)
        result = _apply_inplace(self, prim, self, args)._data
        check_castable(self, result.dtype)
        _write(self, result)
        return self
    check_inplace(self)
    if self._base is not None:
        refresh_view(self)
    old = _snapshot(self, saves_self)
    result = _apply_inplace(self, prim, old, args)
    check_castable(self, result._data.dtype)
    _write(self, result._data)
    _adopt_saved_output(self, result)
    rebase_history(self, result)
    return self


def _adopt_saved_output(self: Tensor, result: Tensor) -> None:
    """A primitive that saved its output saved ``result``; that output now lives in ``self``,
    so the saved copy must follow ``self``'s storage and version counter (a later in-place
    change of ``self`` then raises in backward, as in PyTorch)."""
    node = result.grad_fn
    saved = node._saved if node is not None else None
    if not isinstance(saved, list):
        return
    for s in saved:
        if s is not None and s.is_output and s.counter is result._ver:
            s.counter = self._ver
            s.version = self._ver[0]
            s.data = self._data


def _snapshot(t: Tensor, copy: bool) -> Tensor:
    """A tensor with ``t``'s history and current values, for an op about to overwrite ``t``."""
    if copy:
        data = _copy_seen_by_modes(t) if _DispatchFlag.on else t._xp.array(t._data, copy=True)
    else:
        data = t._data
    s = _make(data, t.requires_grad, t.grad_fn, t._output_nr)
    if t.grad_fn is None and t.requires_grad:
        s._grad_acc = t._grad_acc
    if not copy:
        if t._ver is None:
            t._ver = [0]
        s._ver = t._ver
    return s


def _copy_seen_by_modes(t: Tensor):
    """The copy of ``t``'s values that PyTorch's autograd makes before an in-place op that
    saves them, which dispatch modes see as ``aten.clone``: run as that primitive, unrecorded."""
    from ember.ops.copying import Clone
    prev, _State.enabled = _State.enabled, False
    try:
        return Clone.apply(t)._data
    finally:
        _State.enabled = prev


def _write(t: Tensor, values) -> None:
    data = t._data
    try:
        if values.shape == data.shape and values.dtype == data.dtype:
            data[...] = values
        else:
            t._xp.copyto(data, cast_source(values, data.dtype), casting="unsafe")
    except ValueError as exc:
        if "read-only" in str(exc):
            raise RuntimeError(
                "unsupported operation: more than one element of the written-to tensor refers "
                "to a single memory location. Please clone() the tensor before performing the "
                "operation.") from None
        raise RuntimeError(f"output with shape {list(data.shape)} doesn't match the broadcast "
                           f"shape {list(values.shape)}") from None
    t._bump_version()


class CopySlices(Node):
    """The history of a base whose view was written in place."""

    __slots__ = ("_view_fn", "_base_meta")

    def name(self) -> str:
        return "torch::autograd::CopySlices"  # PyTorch's C++ node name

    def apply(self, grad):
        return _zero_region(grad, self._view_fn), self._view_fn(grad)


def _zero_region(grad: Tensor, view_fn) -> Tensor:
    """``grad`` with the written region zeroed (a product, so it stays differentiable)."""
    mask = _make(grad._xp.ones(grad._data.shape, bool))
    view_fn(mask)._data[...] = False
    return grad * mask


def rebase_history(self: Tensor, result: Tensor) -> None:
    """Give ``self`` (just written in place) the history of ``result``."""
    base = self._base
    if base is None:
        self._set_history(result.grad_fn, result._output_nr)
        return
    node = CopySlices()
    base_edge = edge_of(base)
    node.next_functions = (base_edge, edge_of(result))
    node._input_meta = [(base._data.shape, base._data.dtype) if base_edge[0] else None,
                        (result._data.shape, result._data.dtype)]
    node._view_fn = self._view_fn
    base._set_history(node, 0)
    alias = _make(base._data, True, node)
    alias._ver = base._ver
    with enable_grad():
        view = self._view_fn(alias)
    self._set_history(view.grad_fn, view._output_nr)
    self._view_fn.history_version = self._ver[0]


def write_out(out: Tensor, result: Tensor, op: str | None = None) -> Tensor:
    """Implement ``out=``: resize ``out`` if its shape differs, then copy ``result`` in.
    ``op`` names the function in errors (by default it is read off ``result.grad_fn``)."""
    if _State.enabled and (out.requires_grad or result.requires_grad):
        name = op or _op_name(result.grad_fn)
        raise RuntimeError(f"{name}(): functions with out=... arguments don't support automatic "
                           "differentiation, but one of the arguments requires grad.")
    check_castable(out, result._data.dtype)
    if out._data.shape != result._data.shape:
        if out._data.size:
            warnings.warn(
                "An output with one or more elements was resized since it had shape "
                f"{list(out._data.shape)}, which does not match the required output shape "
                f"{list(result._data.shape)}. This behavior is deprecated, and in a future "
                "PyTorch release outputs will not be resized unless they have zero elements. "
                "You can explicitly reuse an out tensor t by resizing it, inplace, to zero "
                "elements with t.resize_(0).", UserWarning, stacklevel=3)
        out._data = result._data.astype(out._data.dtype, copy=True)
        out._bump_version()
    else:
        _write(out, result._data)
    return out


def _op_name(node) -> str:
    """``MulBackward0`` -> ``mul``, ``IndexSelectBackward0`` -> ``index_select``."""
    if node is None:
        return "out"
    name = re.sub(r"Backward\d*$", "", node.name())
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
