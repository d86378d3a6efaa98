"""``torch.signal.windows``: SciPy-style window functions (``sym=True`` gives the symmetric
window for filter design, ``sym=False`` the periodic one for spectral analysis: the symmetric
window one point longer, without its last point). Values are computed in float64 on the host
and made in the requested dtype and device."""
from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from ember import dtypes as _dt
from ember._tensor import Tensor
from ember.backend.special import special

__all__ = ["bartlett", "blackman", "cosine", "exponential", "gaussian", "general_cosine",
           "general_hamming", "hamming", "hann", "kaiser", "nuttall"]


def _check(name: str, M: int, dtype, layout) -> None:
    if M < 0:
        raise ValueError(f"{name} requires non-negative window length, got M={M}")
    if layout is not None and layout.name != "strided":
        raise ValueError(f"{name} is implemented for strided tensors only, got: {layout}")
    d = _dt.to_dtype(dtype) if dtype is not None else _dt.get_default_dtype()
    if d not in (_dt.float32, _dt.float64):
        raise ValueError(f"{name} expects float32 or float64 dtypes, got: {d}")


def _make_window(name: str, M: int, sym: bool, profile, dtype, layout, device,
                 requires_grad: bool) -> Tensor:
    """The window of ``M`` points whose values at the float64 positions ``n`` (of a window of
    ``length`` points) ``profile(n, length)`` gives."""
    from ember._creation import _finish, _np_dtype
    _check(name, M, dtype, layout)
    d = _dt.to_dtype(dtype) if dtype is not None else _dt.get_default_dtype()
    if M <= 1:
        values = np.ones(M)
    else:
        length = M if sym else M + 1
        values = profile(np.arange(M, dtype=np.float64), length)
    return _finish(values.astype(_np_dtype(d)), device, requires_grad)


def general_cosine(M: int, *, a: Iterable, sym: bool = True, dtype=None, layout=None,
                   device=None, requires_grad: bool = False) -> Tensor:
    """The generic weighted sum of cosines: sum_k (-1)^k a_k cos(2 pi k n / (M - 1)).

    Example::

        >>> ember.signal.windows.general_cosine(4, a=[0.5, 0.5])
        tensor([0.0000, 0.7500, 0.7500, 0.0000])
    """
    if not isinstance(a, (list, tuple)):
        raise TypeError("Coefficients must be a list/tuple")
    if not a:
        raise ValueError("Coefficients cannot be empty")

    def profile(n, length):
        return sum((-1) ** k * c * np.cos(2 * math.pi * k * n / (length - 1))
                   for k, c in enumerate(a))
    return _make_window("general_cosine", M, sym, profile, dtype, layout, device,
                        requires_grad)


def general_hamming(M: int, *, alpha: float = 0.54, sym: bool = True, dtype=None, layout=None,
                    device=None, requires_grad: bool = False) -> Tensor:
    """The generalized Hamming window: alpha - (1 - alpha) cos(2 pi n / (M - 1))."""
    return general_cosine(M, a=[alpha, 1.0 - alpha], sym=sym, dtype=dtype, layout=layout,
                          device=device, requires_grad=requires_grad)


def hann(M: int, *, sym: bool = True, dtype=None, layout=None, device=None,
         requires_grad: bool = False) -> Tensor:
    """The Hann window: 0.5 - 0.5 cos(2 pi n / (M - 1))."""
    return general_hamming(M, alpha=0.5, sym=sym, dtype=dtype, layout=layout, device=device,
                           requires_grad=requires_grad)


def hamming(M: int, *, sym: bool = True, dtype=None, layout=None, device=None,
            requires_grad: bool = False) -> Tensor:
    """The Hamming window: 0.54 - 0.46 cos(2 pi n / (M - 1))."""
    return general_hamming(M, sym=sym, dtype=dtype, layout=layout, device=device,
                           requires_grad=requires_grad)


def blackman(M: int, *, sym: bool = True, dtype=None, layout=None, device=None,
             requires_grad: bool = False) -> Tensor:
    """The Blackman window: 0.42 - 0.5 cos(2 pi n / (M - 1)) + 0.08 cos(4 pi n / (M - 1))."""
    return general_cosine(M, a=[0.42, 0.5, 0.08], sym=sym, dtype=dtype, layout=layout,
                          device=device, requires_grad=requires_grad)


def nuttall(M: int, *, sym: bool = True, dtype=None, layout=None, device=None,
            requires_grad: bool = False) -> Tensor:
    """The minimum 4-term Blackman-Harris window of Nuttall."""
    return general_cosine(M, a=[0.3635819, 0.4891775, 0.1365995, 0.0106411], sym=sym,
                          dtype=dtype, layout=layout, device=device, requires_grad=requires_grad)


def bartlett(M: int, *, sym: bool = True, dtype=None, layout=None, device=None,
             requires_grad: bool = False) -> Tensor:
    """The triangular Bartlett window: 1 - |2 n / (M - 1) - 1|."""
    return _make_window("bartlett", M, sym, lambda n, length: 1.0 - np.abs(
        2.0 * n / (length - 1) - 1.0), dtype, layout, device, requires_grad)


def cosine(M: int, *, sym: bool = True, dtype=None, layout=None, device=None,
           requires_grad: bool = False) -> Tensor:
    """The cosine (sine) window: sin(pi (n + 0.5) / M)."""
    return _make_window("cosine", M, sym, lambda n, length: np.sin(
        math.pi * (n + 0.5) / length), dtype, layout, device, requires_grad)


def gaussian(M: int, *, std: float = 1.0, sym: bool = True, dtype=None, layout=None,
             device=None, requires_grad: bool = False) -> Tensor:
    """The Gaussian window exp(-k^2 / (2 std^2)), k the distance to the centre (M - 1) / 2."""
    if std <= 0:
        raise ValueError(f"Standard deviation must be positive, got: {std} instead.")
    return _make_window("gaussian", M, sym, lambda n, length: np.exp(
        -((n - (length - 1) / 2.0) ** 2) / (2.0 * std * std)), dtype, layout, device,
        requires_grad)


def exponential(M: int, *, center: float | None = None, tau: float = 1.0, sym: bool = True,
                dtype=None, layout=None, device=None, requires_grad: bool = False) -> Tensor:
    """The exponential (Poisson) window exp(-|n - center| / tau); ``center`` defaults to the
    window's centre and may only be given for a periodic window (``sym=False``)."""
    if sym and center is not None:
        raise ValueError("Center must be None for symmetric windows")
    if tau <= 0:
        raise ValueError(f"Tau must be positive, got: {tau} instead.")

    def profile(n, length):
        c = (length - 1) / 2.0 if center is None else center
        return np.exp(-np.abs(n - c) / tau)
    return _make_window("exponential", M, sym, profile, dtype, layout, device, requires_grad)


def kaiser(M: int, *, beta: float = 12.0, sym: bool = True, dtype=None, layout=None,
           device=None, requires_grad: bool = False) -> Tensor:
    """The Kaiser window I0(beta sqrt(1 - (2 n / (M - 1) - 1)^2)) / I0(beta)."""
    if beta < 0:
        raise ValueError(f"beta must be non-negative, got: {beta} instead.")

    def profile(n, length):
        i0 = special(np).i0  # SciPy's ufunc: many times faster than np.i0
        ratio = np.clip(1.0 - (2.0 * n / (length - 1) - 1.0) ** 2, 0.0, None)
        return i0(beta * np.sqrt(ratio)) / i0(beta)
    return _make_window("kaiser", M, sym, profile, dtype, layout, device, requires_grad)
