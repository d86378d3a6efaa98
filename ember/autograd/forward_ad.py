"""Forward-mode AD with dual tensors, as ``torch.autograd.forward_ad``.

Inside a ``dual_level``, ``make_dual(primal, tangent)`` gives a tensor that carries ``tangent``;
the tangent of any tensor computed from dual tensors is the Jacobian-vector product
``sum_i J_i t_i`` over the duals it depends on, read back with ``unpack_dual``.

NOTE [ JVP by double backward ]
ember records only the reverse-mode tape and has no per-op JVP formulas, so tangents are not
pushed forward op by op. ``make_dual`` returns a tensor that records the graph from its primal
(it requires grad), and ``unpack_dual(y)`` computes the tangent of ``y`` on demand from two
reverse passes: ``g(u) = J^T u`` for a cotangent ``u`` (linear in ``u``, with ``create_graph``),
then ``d/du <g(u), t> = J t``. The result is cached per tensor (and version, so an in-place
update is seen) until the level exits. What this means for users:

* dual tensors and what is computed from them report ``requires_grad=True`` (PyTorch: only when
  the primal requires grad), and ops run under ``no_grad`` carry no tangent;
* every op on the way must have a differentiable backward (all built-in ops do), except a
  custom ``Function`` that defines ``jvp``: its output tangents come from ``jvp`` when it is
  applied (see ``_apply_jvp``) unless an input also needs reverse mode, where its ``backward``
  is used as for any other op;
* each ``unpack_dual`` of a new tensor costs about two backward passes (tensor hooks fire);
* ``unpack_dual(y).primal`` has no tangent, but tensors computed from it do when ``y`` depends
  on a tensor that requires grad (the primal then stays a view in ``y``'s graph, so that
  reverse mode reaches that tensor).

Example::

    >>> import ember.autograd.forward_ad as fwAD
    >>> with fwAD.dual_level():
    ...     x = fwAD.make_dual(ember.tensor([1.0, 2.0]), ember.tensor([1.0, 0.0]))
    ...     fwAD.unpack_dual(x ** 2).tangent
    tensor([2., 0.])
"""
from __future__ import annotations

import contextlib
import weakref
from collections import namedtuple
from typing import TYPE_CHECKING

from ember.autograd.function import AccumulateGrad, _SavedTensor
from ember.autograd.grad_mode import enable_grad, is_grad_enabled

if TYPE_CHECKING:
    from ember._tensor import Tensor

__all__ = ["UnpackedDualTensor", "dual_level", "enter_dual_level", "exit_dual_level",
           "make_dual", "unpack_dual"]

UnpackedDualTensor = namedtuple("UnpackedDualTensor", ["primal", "tangent"])
UnpackedDualTensor.__doc__ = """``(primal, tangent)`` of a dual tensor; ``tangent`` is None for a
tensor without one."""

_current_level = -1


class _Level:
    """What one dual level holds: its dual tensors and the tangents computed so far."""

    def __init__(self) -> None:
        # id(dual) -> (dual, tangent, primal); the duals are kept alive, as the graphs of
        # tensors computed from them need them as the inputs of the reverse passes.
        self.duals: dict = {}
        # id(tensor) -> (weakref, version, tangent or None)
        self.tangents: dict = {}
        # ids of the duals made as fresh leaves (from primals that do not require grad): they
        # require grad only to carry a tangent, so reaching them needs no reverse-mode graph
        self.fresh_leaves: set = set()

    def cache(self, t: Tensor, tangent: Tensor | None) -> None:
        key = id(t)
        tangents = self.tangents
        ref = weakref.ref(t, lambda _: tangents.pop(key, None))
        tangents[key] = (ref, t._version, tangent)


_level: _Level | None = None


def enter_dual_level() -> int:
    """Open a new dual level and return its number (only one level may be open)."""
    global _current_level, _level
    if _current_level >= 0:
        raise RuntimeError("Nested forward mode AD is not supported at the moment")
    _current_level, _level = 0, _Level()
    return _current_level


def exit_dual_level(*, level: int | None = None) -> None:
    """Close ``level`` (the current one by default): every tangent of that level is dropped."""
    global _current_level, _level
    if level is None:
        level = _current_level
    if level != _current_level:
        raise RuntimeError("Trying to exit a forward AD level that was not the last one that "
                           "was created. This is not supported.")
    if level < 0:
        raise RuntimeError("Dual level must be a positive number.")
    for dual, _, _ in _level.duals.values():
        if id(dual) in _level.fresh_leaves:
            dual.requires_grad_(False)  # it required grad only to carry its tangent
    _current_level, _level = level - 1, None


class dual_level(contextlib.ContextDecorator):
    """Context manager (or decorator) for a dual level: every dual tensor made inside it loses
    its tangent at the exit.

    Example::

        >>> with fwAD.dual_level():
        ...     y = f(fwAD.make_dual(x, v))
        ...     jvp = fwAD.unpack_dual(y).tangent
    """

    def __enter__(self) -> int:
        return enter_dual_level()

    def __exit__(self, *exc) -> None:
        exit_dual_level()


def _level_for(level: int | None, where: str) -> _Level | None:
    if level is None:
        level = _current_level
    if level < 0:
        return None
    if level != _current_level:
        raise RuntimeError(f"Invalid level given to {where}")
    return _level


def make_dual(tensor: Tensor, tangent: Tensor, *, level: int | None = None) -> Tensor:
    """A view of ``tensor`` whose tangent is ``tangent`` (same shape) at the current level.

    Tensors computed from it carry the matching Jacobian-vector product, read with
    :func:`unpack_dual`. ``tangent`` is kept as it is when its strides match ``tensor``'s,
    else copied with ``tensor``'s layout.
    """
    state = _level_for(level, "make_dual")
    if state is None:
        raise RuntimeError("Trying to create a dual Tensor for forward AD but no level exists, "
                           "make sure to enter_dual_level() first.")
    if not (tensor.is_floating_point() or tensor.is_complex()):
        raise ValueError(f"Expected primal to be floating point or complex, but got: "
                         f"{tensor.dtype}")
    if not (tangent.is_floating_point() or tangent.is_complex()):
        raise ValueError(f"Expected tangent to be floating point or complex, but got: "
                         f"{tangent.dtype}")
    if tangent.shape != tensor.shape:
        raise RuntimeError("Trying to set a forward gradient that has a different size than "
                           "that of the original Tensor, this is not supported. Tensor is of "
                           f"size {list(tensor.shape)} while the given forward gradient is of "
                           f"size {list(tangent.shape)}.")
    if _tangent_of(tensor, state) is not None:
        raise RuntimeError("Making a dual Tensor based on a Tensor that already has a forward "
                           f"gradient at the same level {_current_level} is not supported.")
    if tangent.stride() != tensor.stride():
        from ember._creation import empty_strided
        tangent = empty_strided(tensor.shape, tensor.stride(), dtype=tangent.dtype,
                                device=tangent.device).copy_(tangent)
    with enable_grad():
        if tensor.requires_grad:  # reverse mode still reaches the primal through the view
            dual = tensor.view_as(tensor)
        else:
            dual = tensor.detach().requires_grad_()
            state.fresh_leaves.add(id(dual))
    state.duals[id(dual)] = (dual, tangent, tensor)
    return dual


def unpack_dual(tensor: Tensor, *, level: int | None = None) -> UnpackedDualTensor:
    """``(primal, tangent)`` of ``tensor``: a view of its value without tangent, and its
    tangent at the level (None when it has none, or outside any level)."""
    state = _level_for(level, "_fw_primal")
    if state is None:
        return UnpackedDualTensor(tensor, None)
    entry = state.duals.get(id(tensor))
    if entry is not None and entry[0] is tensor:
        _, tangent, primal = entry
        with enable_grad():
            return UnpackedDualTensor(primal.view_as(primal), tangent)
    tangent = _tangent_of(tensor, state)
    if tangent is None:
        return UnpackedDualTensor(tensor.view_as(tensor), None)
    if not _needs_reverse_mode(tensor, state):
        return UnpackedDualTensor(tensor.detach(), tangent)
    with enable_grad():
        primal = tensor.view_as(tensor)
    state.cache(primal, None)
    return UnpackedDualTensor(primal, tangent)


def _tangent_of(t: Tensor, state: _Level) -> Tensor | None:
    """The tangent of ``t`` at ``state``'s level, from the cache or computed (see the NOTE)."""
    entry = state.duals.get(id(t))
    if entry is not None and entry[0] is t:
        return entry[1]
    if t.grad_fn is None or not state.duals or not (t.is_floating_point() or t.is_complex()):
        return None  # not computed from anything that carries a tangent
    cached = state.tangents.get(id(t))
    if cached is not None and cached[0]() is t and cached[1] == t._version:
        return cached[2]
    tangent = _jvp(t, state)
    state.cache(t, tangent)
    return tangent


def _jvp(t: Tensor, state: _Level) -> Tensor | None:
    """``sum_i J_i t_i`` over the level's duals, by differentiating a vjp with respect to its
    cotangent; None when ``t`` depends on no dual."""
    # imported here: ember.autograd loads this module before ember's tensors exist
    from ember._creation import zeros_like
    from ember.autograd import grad
    duals = list(state.duals.values())
    grad_mode = is_grad_enabled()
    differentiable = grad_mode and _needs_reverse_mode(t, state)
    with enable_grad():
        cotangent = zeros_like(t).requires_grad_()
        vjps = grad([t], [d for d, _, _ in duals], [cotangent], retain_graph=True,
                    create_graph=True, allow_unused=True)
        used = [(g, tangent) for g, (_, tangent, _) in zip(vjps, duals) if g is not None]
        if not used:
            return None
        linear = [(g, tangent.to(dtype=g.dtype)) for g, tangent in used if g.requires_grad]
        if not linear:  # t depends on a dual only through ops with a zero derivative
            return zeros_like(t)
        differentiable = differentiable or (grad_mode and any(
            tangent.requires_grad for _, tangent in linear))
        (jvp,) = grad([g for g, _ in linear], [cotangent], [tan for _, tan in linear],
                      retain_graph=True, create_graph=differentiable, allow_unused=True)
    return zeros_like(t) if jvp is None else jvp


def _needs_reverse_mode(t: Tensor, state: _Level) -> bool:
    """Whether ``t`` depends on a tensor that requires grad for reverse mode: a leaf other than
    the duals made as fresh leaves. Only then are its primal and tangent kept differentiable."""
    seen = set()
    stack = [t.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        if isinstance(node, AccumulateGrad):
            if id(node.variable) not in state.fresh_leaves:
                return True
        else:
            stack.extend(nxt for nxt, _ in node.next_functions)
    return False


def _apply_jvp(cls, ctx, args, outputs):
    """The outputs of a custom Function that defines ``jvp``, given their tangents from it.

    Called after its forward was recorded. When some input carries a tangent at the open
    level and none needs reverse mode, ``jvp(ctx, *tangents)`` runs with ``ctx.saved_tensors``
    giving what forward passed to ``ctx.save_for_forward``, and each output comes back as a
    dual tensor cut from the graph, so that no reverse pass crosses this Function (its
    ``backward`` may be missing). Otherwise the outputs are returned as they are.
    """
    from ember._creation import zeros_like
    from ember._tensor import Tensor
    state = _level
    if state is None or not state.duals:
        return outputs
    tangents = []
    carried = False
    for a in args:
        if not isinstance(a, Tensor):
            tangents.append(None)
            continue
        if _needs_reverse_mode(a, state):
            return outputs
        tangent = _tangent_of(a, state)
        carried = carried or tangent is not None
        tangents.append(zeros_like(a) if tangent is None else tangent)
    if not carried:
        return outputs
    saved_for_backward = ctx._saved
    forward_saved = ctx._forward_saved
    ctx._saved = None if forward_saved is None else [
        None if t is None else _SavedTensor(t, ctx) for t in forward_saved]
    try:
        out_tangents = cls.jvp(ctx, *tangents)
    finally:
        ctx._saved = saved_for_backward
    is_tuple = isinstance(outputs, tuple)
    outs = outputs if is_tuple else (outputs,)
    out_tangents = out_tangents if isinstance(out_tangents, tuple) else (out_tangents,)
    if len(out_tangents) != len(outs):
        raise RuntimeError(f"jvp function {ctx.name()} returned an incorrect number of forward "
                           f"gradients (expected {len(outs)}, got {len(out_tangents)})")
    results = []
    for o, tangent in zip(outs, out_tangents):
        if isinstance(o, Tensor) and o.grad_fn is ctx:
            o = o.detach()
            if tangent is not None:
                o = make_dual(o, tangent.detach())
        results.append(o)
    return tuple(results) if is_tuple else results[0]
