"""PyTorch's ``*_copy`` ops (``transpose_copy``, ``view_copy``, ...): the view op's result,
freshly allocated instead of sharing the input's storage; and a few 2.x aliases (``adjoint``,
``constant_pad_nd``, ``frobenius_norm``, ``nuclear_norm``, ``resize_as_``)."""
from __future__ import annotations

from ember._tensor import Tensor
from ember.ops import movement, reshaping
from ember.ops._util import accepts_out


def _fresh(view_op, name: str):
    def copy_op(*args, **kwargs):
        out = view_op(*args, **kwargs)
        if isinstance(out, (tuple, list)):
            return type(out)(o.clone() for o in out)
        return out.clone()
    copy_op.__name__ = copy_op.__qualname__ = name
    copy_op.__doc__ = f"The view op's result in fresh memory (differentiable): ``{name}``."
    return copy_op


def _slice(input: Tensor, dim: int = 0, start=None, end=None, step: int = 1) -> Tensor:
    index = [slice(None)] * input.ndim
    index[dim] = slice(start, end, step)
    return input[tuple(index)]


_VIEWS = {
    "alias_copy": lambda input: input.view_as(input),
    "as_strided_copy": movement.as_strided,
    "detach_copy": lambda input: input.detach(),
    "diagonal_copy": movement.diagonal,
    "expand_copy": lambda input, size, *, implicit=False: input.expand(size),
    "permute_copy": movement.permute,
    "select_copy": movement.select,
    "slice_copy": _slice,
    "split_copy": movement.split,
    "split_with_sizes_copy": lambda input, split_sizes, dim=0: movement.split(
        input, list(split_sizes), dim),
    "squeeze_copy": movement.squeeze,
    "t_copy": movement.t,
    "transpose_copy": movement.transpose,
    "unbind_copy": movement.unbind,
    "unfold_copy": movement.unfold,
    "unsqueeze_copy": movement.unsqueeze,
    "view_as_complex_copy": reshaping.view_as_complex,
    "view_as_real_copy": reshaping.view_as_real,
    "view_copy": lambda input, *shape: input.view(*shape),
}
for _name, _op in _VIEWS.items():
    globals()[_name] = _fresh(_op, _name)


@accepts_out
def narrow_copy(input: Tensor, dim: int, start, length: int) -> Tensor:
    """``narrow`` in fresh memory; PyTorch checks a too-large ``dim`` as an internal assert."""
    if dim >= input.ndim:
        raise RuntimeError("Expected dim < static_cast<int64_t>(self_sizes.size()) to be true, "
                           "but got false.")
    return movement.narrow(input, dim, start, length).clone()


def adjoint(input: Tensor) -> Tensor:
    """The conjugate transpose of the last two dims (a view, as PyTorch's)."""
    return input.mH


def constant_pad_nd(input: Tensor, pad, value: float = 0) -> Tensor:
    from ember.nn.functional import pad as pad_nd
    return pad_nd(input, list(pad), mode="constant", value=value)


def frobenius_norm(input: Tensor, dim=(-2, -1), keepdim: bool = False) -> Tensor:
    from ember import linalg
    return linalg.vector_norm(input, 2, dim=dim, keepdim=keepdim)


def nuclear_norm(input: Tensor, dim=(-2, -1), keepdim: bool = False) -> Tensor:
    from ember import linalg
    return linalg.matrix_norm(input, "nuc", dim=dim, keepdim=keepdim)


def resize_as_(input: Tensor, the_template: Tensor, *, memory_format=None) -> Tensor:
    return input.resize_as_(the_template)


__all__ = [*_VIEWS, "narrow_copy", "adjoint", "constant_pad_nd", "frobenius_norm", "nuclear_norm",
           "resize_as_"]
