"""The classical orthogonal polynomials of ``torch.special`` (Chebyshev, shifted Chebyshev,
Hermite, Laguerre, Legendre), evaluated at ``input`` for the degrees ``n`` by their three-term
recurrences. As in PyTorch the degree is truncated to an integer, a negative (or NaN) degree
gives 0, and the results record no gradient."""
from __future__ import annotations

from ember import dtypes as _dt
from ember._tensor import Tensor, _make
from ember.autograd.grad_mode import no_grad

__all__ = [
    "chebyshev_polynomial_t", "chebyshev_polynomial_u", "chebyshev_polynomial_v",
    "chebyshev_polynomial_w", "hermite_polynomial_h", "hermite_polynomial_he",
    "laguerre_polynomial_l", "legendre_polynomial_p", "shifted_chebyshev_polynomial_t",
    "shifted_chebyshev_polynomial_u", "shifted_chebyshev_polynomial_v",
    "shifted_chebyshev_polynomial_w"]


def _evaluate(name: str, input, n, first, step, out) -> Tensor:
    """P_n(input) from P_0 = 1, P_1 = ``first(x)`` and P_{k+1} = ``step(k, x, P_k, P_{k-1})``,
    broadcasting ``input`` against ``n``."""
    if not isinstance(input, Tensor) and not isinstance(n, Tensor):
        raise TypeError(f"special_{name}() expects a tensor for input or n, got "
                        f"({type(input).__name__}, {type(n).__name__})")
    dtype = _dt.result_type(input, n)
    if not dtype.is_floating_point:
        dtype = _dt.get_default_dtype()
    like = input if isinstance(input, Tensor) else n
    xp = like._xp
    x = xp.asarray(input._data if isinstance(input, Tensor) else input, dtype=dtype.np_dtype)
    degree = xp.asarray(n._data if isinstance(n, Tensor) else n, dtype="float64")
    x, degree = xp.broadcast_arrays(x, degree)
    degree = xp.where(xp.isnan(degree), -1.0, xp.trunc(degree))
    previous, current = xp.ones_like(x), first(x)
    result = xp.where(degree == 0, previous, current)
    top = int(degree.max()) if degree.size else 0
    for k in range(1, top):
        previous, current = current, step(k, x, current, previous)
        result = xp.where(degree == k + 1, current, result)
    result = xp.where(degree < 0, xp.zeros_like(result), result)
    with no_grad():
        t = _make(result)  # a fresh array from where: contiguous, and 0-d stays 0-d
    if out is not None:
        from ember.ops.inplace import write_out
        return write_out(out, t, f"special_{name}")
    return t


def _chebyshev(k, x, current, previous):
    return 2 * x * current - previous


def _shifted(first):
    """The recurrence's first term at 2x - 1 (the shifted polynomials live on [0, 1])."""
    return lambda x: first(2 * x - 1)


def _shifted_chebyshev(k, x, current, previous):
    return 2 * (2 * x - 1) * current - previous


def chebyshev_polynomial_t(input, n, *, out=None) -> Tensor:
    """The Chebyshev polynomial of the first kind T_n(input)."""
    return _evaluate("chebyshev_polynomial_t", input, n, lambda x: x, _chebyshev, out)


def chebyshev_polynomial_u(input, n, *, out=None) -> Tensor:
    """The Chebyshev polynomial of the second kind U_n(input)."""
    return _evaluate("chebyshev_polynomial_u", input, n, lambda x: 2 * x, _chebyshev, out)


def chebyshev_polynomial_v(input, n, *, out=None) -> Tensor:
    """The Chebyshev polynomial of the third kind V_n(input)."""
    return _evaluate("chebyshev_polynomial_v", input, n, lambda x: 2 * x - 1, _chebyshev, out)


def chebyshev_polynomial_w(input, n, *, out=None) -> Tensor:
    """The Chebyshev polynomial of the fourth kind W_n(input)."""
    return _evaluate("chebyshev_polynomial_w", input, n, lambda x: 2 * x + 1, _chebyshev, out)


def shifted_chebyshev_polynomial_t(input, n, *, out=None) -> Tensor:
    """The shifted Chebyshev polynomial of the first kind T*_n(input) = T_n(2 input - 1)."""
    return _evaluate("shifted_chebyshev_polynomial_t", input, n, _shifted(lambda x: x),
                     _shifted_chebyshev, out)


def shifted_chebyshev_polynomial_u(input, n, *, out=None) -> Tensor:
    """The shifted Chebyshev polynomial of the second kind U*_n(input) = U_n(2 input - 1)."""
    return _evaluate("shifted_chebyshev_polynomial_u", input, n, _shifted(lambda x: 2 * x),
                     _shifted_chebyshev, out)


def shifted_chebyshev_polynomial_v(input, n, *, out=None) -> Tensor:
    """The shifted Chebyshev polynomial of the third kind V*_n(input) = V_n(2 input - 1)."""
    return _evaluate("shifted_chebyshev_polynomial_v", input, n,
                     _shifted(lambda x: 2 * x - 1), _shifted_chebyshev, out)


def shifted_chebyshev_polynomial_w(input, n, *, out=None) -> Tensor:
    """The shifted Chebyshev polynomial of the fourth kind W*_n(input) = W_n(2 input - 1)."""
    return _evaluate("shifted_chebyshev_polynomial_w", input, n,
                     _shifted(lambda x: 2 * x + 1), _shifted_chebyshev, out)


def hermite_polynomial_h(input, n, *, out=None) -> Tensor:
    """The physicists' Hermite polynomial H_n(input)."""
    return _evaluate("hermite_polynomial_h", input, n, lambda x: 2 * x,
                     lambda k, x, cur, prev: 2 * x * cur - 2 * k * prev, out)


def hermite_polynomial_he(input, n, *, out=None) -> Tensor:
    """The probabilists' Hermite polynomial He_n(input)."""
    return _evaluate("hermite_polynomial_he", input, n, lambda x: x,
                     lambda k, x, cur, prev: x * cur - k * prev, out)


def laguerre_polynomial_l(input, n, *, out=None) -> Tensor:
    """The Laguerre polynomial L_n(input)."""
    return _evaluate("laguerre_polynomial_l", input, n, lambda x: 1 - x,
                     lambda k, x, cur, prev: ((2 * k + 1 - x) * cur - k * prev) / (k + 1), out)


def legendre_polynomial_p(input, n, *, out=None) -> Tensor:
    """The Legendre polynomial P_n(input)."""
    return _evaluate("legendre_polynomial_p", input, n, lambda x: x,
                     lambda k, x, cur, prev: ((2 * k + 1) * x * cur - k * prev) / (k + 1), out)
