"""einsum: Einstein summation over any number of operands, with PyTorch's checks and dtype rules
and a backward written as einsums again."""
from __future__ import annotations

import collections

import numpy as np

from ember import dtypes as _dt
from ember._tensor import Tensor, _make
from ember.autograd.function import Primitive
from ember.backend.device import get_array_module
from ember.dtypes import _FROM_NP, promote_types
from ember.ops._util import scalar_name


def _einsum_error(equation: str, shapes) -> RuntimeError | None:
    """PyTorch's words for what is wrong with an equation NumPy refused (None if not found)."""
    inputs, output = equation.split("->")
    terms = inputs.split(",")
    if len(terms) != len(shapes):
        return RuntimeError(f"einsum(): {'fewer' if len(shapes) < len(terms) else 'more'} "
                            "operands were provided than specified in the equation")
    sizes = {}
    for i, (term, shape) in enumerate(zip(terms, shapes)):
        if len(term) != len(shape):
            return RuntimeError(f"einsum(): the number of subscripts in the equation "
                                f"({len(term)}) does not match the number of dimensions "
                                f"({len(shape)}) for operand {i} and no ellipsis was given")
        own = {}
        for c, n in zip(term, shape):
            if own.get(c, n) != n:
                return RuntimeError(f"einsum(): subscript {c} is repeated for operand {i} but "
                                    f"the sizes don't match, {n} != {own[c]}")
            own[c] = n
        for c, n in own.items():
            seen = sizes.get(c, 1)
            if n != seen and n != 1 and seen != 1:
                return RuntimeError(f"einsum(): subscript {c} has size {n} for operand {i} "
                                    f"which does not broadcast with previously seen size {seen}")
            sizes[c] = max(n, seen)
    for c in output:
        if c not in sizes:
            return RuntimeError(f"einsum(): output subscript {c} does not appear in the "
                                "equation for any input operand")
    return None


class Einsum(Primitive, node_name="EinsumBackward0"):
    @staticmethod
    def forward(ctx, equation, *arrays):
        ctx.equation = equation
        # An operand serves only the other operands' gradients: like PyTorch, keep none that no
        # gradient needs, so writing into it in place afterwards stays allowed.
        needs = ctx.needs_input_grad[1:]
        ctx.shapes = [a.shape for a in arrays]
        ctx.save_for_backward(*(a if any(needs[:j] + needs[j + 1:]) else None
                                for j, a in enumerate(arrays)))
        xp = get_array_module(arrays[0])
        dtype = arrays[0].dtype
        if dtype.kind in "biu" or any(a.dtype != dtype for a in arrays):
            dtype = _einsum_dtype(equation, arrays)
        if dtype.kind in "iu" or dtype.kind == "V" or dtype == np.float16:
            # integers in the result's (maybe wider) type; half floats summed in float32, as
            # PyTorch accumulates (bfloat16 has no einsum loops of its own)
            work = dtype if dtype.kind in "iu" else np.float32
            arrays = [a.astype(work, copy=False) for a in arrays]
        try:
            return xp.einsum(equation, *arrays, optimize=len(arrays) > 2).astype(dtype, copy=False)
        except ValueError as exc:
            raise _einsum_error(equation, [a.shape for a in arrays]) or \
                RuntimeError(f"einsum(): {exc}") from None

    @staticmethod
    def backward(ctx, grad):
        operands = ctx.saved_tensors
        inputs, output = ctx.equation.split("->")
        subs = inputs.split(",")
        grads = [None]
        for i, (s, shape) in enumerate(zip(subs, ctx.shapes)):
            if not ctx.needs_input_grad[i + 1]:
                grads.append(None)
                continue
            others = [(sub, o) for j, (sub, o) in enumerate(zip(subs, operands)) if j != i]
            available = set(output).union(*[set(sub) for sub, _ in others])
            unique = "".join(dict.fromkeys(s))  # a repeated letter is one diagonal
            kept = "".join(c for c in unique if c in available)
            eq = ",".join([output] + [sub for sub, _ in others]) + "->" + kept
            # The adjoint of a product contracts with the conjugates of the other factors.
            g = einsum(eq, grad, *[o.conj() if o.is_complex() else o for _, o in others])
            size = dict(zip(s, shape))
            if kept != unique:  # letters summed away inside this operand alone: broadcast
                g = g.reshape([size[c] if c in kept else 1 for c in unique])
                g = g.expand([size[c] for c in unique])
            if unique != s:
                g = _embed_diagonals(g, unique, s, size, ctx.equation)
            grads.append(g)
        return tuple(grads)


def _embed_diagonals(g: Tensor, unique: str, s: str, size: dict, equation: str) -> Tensor:
    """The gradient of an operand with repeated letters (``s``, e.g. 'ii') from the gradient
    of its diagonal (``unique``, e.g. 'i'): zero off the diagonal, via identity matrices."""
    fresh = (c for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
             if c not in equation)
    seen = set()
    renamed, eyes, eye_subs = "", [], []
    for c in s:
        if c in seen:
            f = next(fresh)
            eye_subs.append(c + f)
            eyes.append(_make(g._xp.eye(size[c], dtype=g._data.dtype)))
            c = f
        seen.add(c)
        renamed += c
    return einsum(",".join([unique] + eye_subs) + "->" + renamed, g, *eyes)


def _expand_ellipsis(equation: str, operands) -> str:
    if "..." not in equation:
        return equation
    inputs, _, output = equation.partition("->")
    subs = inputs.split(",")
    used = set(equation) - set(".,->")
    letters = iter(c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in used)
    max_ell = max(op.ndim - (len(s) - 3) for s, op in zip(subs, operands) if "..." in s)
    ell = "".join(next(letters) for _ in range(max_ell))
    new_subs = []
    for s, op in zip(subs, operands):
        if "..." in s:
            n = op.ndim - (len(s) - 3)
            s = s.replace("...", ell[max_ell - n:])
        new_subs.append(s)
    if not _:
        output = "".join(sorted(c for c in "".join(new_subs)
                                if "".join(new_subs).count(c) == 1 and c not in ell))
        output = ell + output
    else:
        output = output.replace("...", ell)
    return ",".join(new_subs) + "->" + output


_SUBSCRIPTS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _einsum_dtype(equation: str, arrays) -> np.dtype:
    """The result dtype as PyTorch's einsum gives it. PyTorch first sums each letter that one
    operand alone holds (of size > 1 unless it is the only operand): integers and bools become
    int64 there. It then contracts left to right: a step that sums a letter both sides hold
    with size > 1 runs bmm, which refuses bool and a dtype mismatch; a step without one
    multiplies, which promotes."""
    inputs, output = equation.split("->")
    terms = inputs.split(",")
    holders = collections.Counter(c for term in terms for c in set(term))
    dtypes = []
    for term, a in zip(terms, arrays):
        dtype = _FROM_NP[a.dtype]
        if not (dtype.is_floating_point or dtype.is_complex) and any(
                holders[c] == 1 and c not in output and (n > 1 or len(terms) == 1)
                for c, n in zip(term, a.shape)):
            dtype = _dt.int64
        dtypes.append(dtype)
    last = {c: i for i, term in enumerate(terms) for c in term}
    dtype = dtypes[0]
    sizes = dict(zip(terms[0], arrays[0].shape))  # the running product's sizes
    for i in range(1, len(terms)):
        own = dict(zip(terms[i], arrays[i].shape))
        other = dtypes[i]
        if any(last[c] == i and c not in output and n > 1 and sizes.get(c, 1) > 1
               for c, n in own.items()):
            if dtype is _dt.bool:
                raise NotImplementedError('"bmm" not implemented for \'Bool\'')
            if other is not dtype:
                raise RuntimeError(f"expected scalar type {scalar_name(dtype)} but found "
                                   f"{scalar_name(other)}")
        dtype = promote_types(dtype, other)
        for c, n in own.items():
            if sizes.get(c, 1) == 1:
                sizes[c] = n
    return dtype.np_dtype


def _sublist_equation(args: tuple) -> tuple:
    """The (equation, operands) of einsum's sublist form: ``einsum(a, [0, 1], b, [1, 2],
    [0, 2])`` with subscripts as ints in [0, 52) and ``...`` (Ellipsis)."""
    def letters(sublist) -> str:
        out = []
        for s in sublist:
            if s is Ellipsis:
                out.append("...")
            elif isinstance(s, int) and 0 <= s < len(_SUBSCRIPTS):
                out.append(_SUBSCRIPTS[s])
            else:
                raise ValueError(f"einsum(): subscript in subscript list is not within the valid "
                                 f"range [0, 52), got {s}")
        return "".join(out)
    operands, terms = list(args[0::2]), [letters(s) for s in args[1::2]]
    if len(args) % 2:  # a trailing output sublist
        output = letters(args[-1])
        operands.pop()
        return ",".join(terms) + "->" + output, operands
    return ",".join(terms), operands


def einsum(equation, *operands) -> Tensor:
    """Einstein summation, e.g. ``einsum('bij,bjk->bik', a, b)``, or in sublist form
    ``einsum(a, [0, 1], b, [1, 2], [0, 2])``."""
    if isinstance(equation, Tensor):
        equation, operands = _sublist_equation((equation,) + operands)
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    equation = equation.replace(" ", "")
    if "->" not in equation:
        inputs = equation.split(",")
        letters = "".join(inputs)
        output = "".join(sorted(c for c in set(letters) if letters.count(c) == 1 and c != "."))
        equation = equation + "->" + ("..." if "..." in equation else "") + output
    equation = _expand_ellipsis(equation, operands)
    return Einsum.apply(equation, *operands)
