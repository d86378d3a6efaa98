"""Inverse, determinants and linear solves of square matrices (``inverse``, ``det``, ``logdet``,
``slogdet``, ``solve``): the array library's linalg in forward, ember ops in backward."""
from __future__ import annotations

import numpy as np

from ember._tensor import Tensor
from ember.autograd.function import Primitive
from ember.backend.device import get_array_module
from ember.ops._util import accepts_out, write_result


class Inverse(Primitive, node_name="LinalgInvExBackward0"):
    @staticmethod
    def forward(ctx, a):
        out = get_array_module(a).linalg.inv(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (inv_,) = ctx.saved_tensors
        inv_h = inv_.mH if inv_.is_complex() else inv_.mT
        return -(inv_h @ grad @ inv_h)


def _check_square(input: Tensor, op: str, name: str = "A") -> None:
    if input.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor {name} must have at least 2 dimensions.")
    n, m = input.shape[-2:]
    if n != m:
        raise RuntimeError(f"{op}: {name} must be batches of square matrices, but they are {n} "
                           f"by {m} matrices")
    if not (input.is_floating_point() or input.is_complex()):
        raise RuntimeError(f"{op}: Expected a floating point or complex tensor as input. Got "
                           f"{input.dtype.name.capitalize()}")


@accepts_out
def inverse(input: Tensor) -> Tensor:
    """The inverse of each square matrix in ``input`` (batched)."""
    _check_square(input, "linalg.inv")
    return Inverse.apply(input)


class Det(Primitive, node_name="LinalgDetBackward0"):
    @staticmethod
    def forward(ctx, a):
        out = get_array_module(a).linalg.det(a).astype(a.dtype, copy=False)
        ctx.save_for_backward(a, out)  # the returned object, so double backward reaches it
        return out

    @staticmethod
    def backward(ctx, grad):
        a, out = ctx.saved_tensors
        if a.is_complex():  # the adjoint of det's derivative det(A) A^-T is its conjugate
            return (grad * out.conj()).unsqueeze(-1).unsqueeze(-1) * inverse(a).mH
        return (grad * out).unsqueeze(-1).unsqueeze(-1) * inverse(a).mT


def det(input: Tensor, *, out=None) -> Tensor:
    """The determinant of each square matrix in ``input`` (batched)."""
    _check_square(input, "linalg.det")
    result = Det.apply(input)
    return result if out is None else write_result(out, result)


def logdet(input: Tensor) -> Tensor:
    return det(input).log()


def slogdet(input: Tensor):
    """(sign, log|det|) of each square matrix; a complex sign is det / |det|."""
    from ember import return_types  # (the module imports no other return type)
    d = det(input)
    return return_types.slogdet(d.sgn(), d.abs().log())


class Solve(Primitive, node_name="LinalgSolveExBackward0"):
    @staticmethod
    def forward(ctx, a, b):
        xp = get_array_module(a)
        # PyTorch's rule: B is a (batch of) vector(s) when 1-D, or shaped like A without its
        # last dim; else a (batch of) matrices. Batch dims broadcast.
        vector = b.ndim == 1 or (b.ndim == a.ndim - 1 and b.shape == a.shape[:-1])
        bm = b[..., None] if vector else b
        if bm.ndim < 2 or bm.shape[-2] != a.shape[-1]:
            raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation "
                               f"AX = B ({a.shape[-2]}x{a.shape[-1]} and "
                               f"{'x'.join(map(str, bm.shape[-2:]))})")
        batch = np.broadcast_shapes(a.shape[:-2], bm.shape[:-2])
        out = xp.linalg.solve(xp.broadcast_to(a, batch + a.shape[-2:]),
                              xp.broadcast_to(bm, batch + bm.shape[-2:]))
        out = out[..., 0] if vector else out
        ctx.save_for_backward(a, out)
        ctx.vector = vector
        ctx.shapes = (a.shape, b.shape)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, x = ctx.saved_tensors
        a_shape, b_shape = ctx.shapes
        xv = x.unsqueeze(-1) if ctx.vector else x
        # The adjoints: A^H gv = grad and -gv x^H (transposes for real inputs).
        gv = solve(a.mH, grad.unsqueeze(-1) if ctx.vector else grad)  # the matrix case
        ga = -(gv @ xv.mH)
        gb = gv.squeeze(-1) if ctx.vector else gv
        return ga.sum_to_size(a_shape), gb.sum_to_size(b_shape)


def solve(A: Tensor, B: Tensor, *, left: bool = True) -> Tensor:
    """X with A @ X = B (``left``) or X @ A = B; B may be a (batch of) vector(s)."""
    _check_square(A, "linalg.solve")
    if not left:
        return Solve.apply(A.mT, B.mT).mT
    return Solve.apply(A, B)
