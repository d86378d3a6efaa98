"""Function forms of tensor accessors PyTorch exposes at top level: the quantizer's parameters
(``torch.q_scale``, ...), copies of a sparse tensor's parts (``torch.values_copy``, ...) and
``torch.slice_inverse``."""
from __future__ import annotations

from ember._tensor import Tensor


def _quantized(name: str, input: Tensor) -> Tensor:
    # PyTorch registers these ops for quantized backends only.
    if not input.is_quantized:
        raise NotImplementedError(f"Could not run 'aten::{name}' with arguments from the "
                                  f"'{input.device.type.upper()}' backend.")
    return input


def q_scale(input: Tensor) -> float:
    """The scale of a per-tensor quantized tensor."""
    return _quantized("q_scale", input).q_scale()


def q_zero_point(input: Tensor) -> int:
    """The zero point of a per-tensor quantized tensor."""
    return _quantized("q_zero_point", input).q_zero_point()


def q_per_channel_scales(input: Tensor) -> Tensor:
    """The scales of a per-channel quantized tensor."""
    return _quantized("q_per_channel_scales", input).q_per_channel_scales()


def q_per_channel_zero_points(input: Tensor) -> Tensor:
    """The zero points of a per-channel quantized tensor."""
    return _quantized("q_per_channel_zero_points", input).q_per_channel_zero_points()


def q_per_channel_axis(input: Tensor) -> int:
    """The channel axis of a per-channel quantized tensor."""
    return _quantized("q_per_channel_axis", input).q_per_channel_axis()


def int_repr(input: Tensor) -> Tensor:
    """The stored integers of a quantized tensor, as a plain integer tensor."""
    return _quantized("int_repr", input).int_repr()


def _copy_of(name: str, input: Tensor, out: Tensor | None) -> Tensor:
    # PyTorch registers the *_copy ops for strided and compressed layouts only, so a COO
    # tensor finds no kernel while a strided one reaches the accessor and its layout error.
    if getattr(input, "is_sparse", False):
        raise NotImplementedError(f"Could not run 'aten::{name}_copy' with arguments from the "
                                  "'SparseCPU' backend.")
    result = getattr(input, name)().clone()
    if out is None:
        return result
    return out.resize_as_(result).copy_(result)


def values_copy(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """A copy of a compressed sparse (CSR, CSC, BSR, BSC) tensor's values."""
    return _copy_of("values", input, out)


def indices_copy(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """``input.indices()`` copied; PyTorch has no COO kernel for it, so it always raises."""
    return _copy_of("indices", input, out)


def crow_indices_copy(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """A copy of a CSR (or BSR) tensor's compressed row indices."""
    return _copy_of("crow_indices", input, out)


def col_indices_copy(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """A copy of a CSR (or BSR) tensor's column indices."""
    return _copy_of("col_indices", input, out)


def ccol_indices_copy(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """A copy of a CSC (or BSC) tensor's compressed column indices."""
    return _copy_of("ccol_indices", input, out)


def row_indices_copy(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """A copy of a CSC (or BSC) tensor's row indices."""
    return _copy_of("row_indices", input, out)


def slice_inverse(input: Tensor, src: Tensor, dim: int = 0, start: int | None = None,
                  end: int | None = None, step: int = 1) -> Tensor:
    """The inverse of ``src.slice(dim, start, end, step)``: a view of ``input``'s storage (a
    slice of ``src``'s storage) laid out as ``src``. The slice arguments only describe the
    slice; the view takes ``src``'s size, strides and offset, as PyTorch's does."""
    return input.as_strided(src.size(), src.stride(), src.storage_offset())
