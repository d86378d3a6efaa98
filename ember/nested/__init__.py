"""``torch.nested``: nested tensors, batches of tensors of different shapes.

A nested tensor is built from a list of tensors (:func:`nested_tensor` copies them,
:func:`as_nested_tensor` keeps their autograd history), from packed values and offsets
(:func:`nested_tensor_from_jagged`), or from a dense tensor (:func:`narrow`,
:func:`masked_select`). ``layout=ember.jagged`` holds components that differ in one dim;
the default ``ember.strided`` allows any shapes of one dimensionality. See
ember/nested/_tensor.py for the storage and ember/nested/_ops.py for the ops.

Example::

    >>> nt = ember.nested.nested_tensor([ember.ones(2, 3), ember.ones(4, 3)],
    ...                                 layout=ember.jagged)
    >>> nt.offsets().tolist()
    [0, 2, 6]
    >>> ember.nested.to_padded_tensor(nt.softmax(-1), 0.0).shape
    torch.Size([2, 4, 3])
"""
from __future__ import annotations

import itertools

import ember
from ember._tensor import Tensor
from ember.nested._tensor import NestedTensor, offsets_of

__all__ = ["as_nested_tensor", "masked_select", "narrow", "nested_tensor",
           "nested_tensor_from_jagged", "to_padded_tensor"]


def _layout_name(layout) -> str:
    if layout is None or layout is ember.strided:
        return "strided"
    if layout is ember.jagged:
        return "jagged"
    raise RuntimeError(f"Specified layout is unsupported for nested tensors: {layout}")


def _pack(comps: list, layout) -> NestedTensor:
    """The nested tensor of ``layout`` holding ``comps`` (differentiably)."""
    for i, c in enumerate(comps):
        if c.dim() != comps[0].dim():
            raise RuntimeError(
                "All Tensors given to nested_tensor must have the same dimension. Found "
                f"dimension {c.dim()} for Tensor at index {i} and dimension {comps[0].dim()} "
                "for Tensor at index 0.")
        if c.dtype != comps[0].dtype:
            raise RuntimeError("When constructing a nested tensor, all tensors in list must "
                               "have the same dtype")
    if _layout_name(layout) == "strided":
        flat = ember.cat([c.reshape(-1) for c in comps]) if comps else ember.empty(0)
        return NestedTensor._strided(flat, [tuple(c.shape) for c in comps])
    if not comps:
        raise RuntimeError("Cannot construct a nested tensor from an empty tensor list")
    if comps[0].dim() == 0:
        raise RuntimeError("Cannot construct a jagged nested tensor from scalar tensors")
    shapes = [tuple(c.shape) for c in comps]
    ragged = [d for d in range(len(shapes[0])) if len({s[d] for s in shapes}) > 1]
    if len(ragged) > 1:
        raise RuntimeError("nested_tensor(): a jagged layout nested tensor has one ragged "
                           f"dim, but the components' shapes {shapes} differ in more")
    axis = ragged[0] if ragged else 0
    values = ember.cat(list(comps), dim=axis)
    return NestedTensor._jagged(values, offsets_of([s[axis] for s in shapes], values.device),
                                ragged_idx=axis + 1)


def _component(t, dtype, device) -> Tensor:
    t = t if isinstance(t, Tensor) else ember.tensor(t, dtype=dtype)
    if dtype is not None or device is not None:
        t = t.to(device=device, dtype=dtype)
    return t


def nested_tensor(tensor_list, *, dtype=None, layout=None, device=None,
                  requires_grad: bool = False, pin_memory: bool = False) -> NestedTensor:
    """A nested tensor holding copies of ``tensor_list`` (tensors, or lists of numbers, all of
    one dimensionality): a new leaf, as ``torch.tensor`` makes one.

    Args:
        tensor_list: the components.
        dtype, device: of the result (default: the components').
        layout: ``ember.strided`` (default; components may differ in any dims) or
            ``ember.jagged`` (they differ in one dim).
        requires_grad: whether the result records operations for autograd.

    Example::

        >>> nt = ember.nested.nested_tensor([[1., 2.], [3., 4., 5.]], layout=ember.jagged)
        >>> nt.offsets().tolist()
        [0, 2, 5]
    """
    if isinstance(tensor_list, Tensor):
        tensor_list = list(tensor_list.unbind())
    with ember.no_grad():
        nt = _pack([_component(t, dtype, device).detach() for t in tensor_list], layout)
    return nt.requires_grad_(requires_grad)


def as_nested_tensor(ts, dtype=None, device=None, layout=None) -> NestedTensor:
    """A nested tensor of ``ts`` (a list of tensors, a dense tensor whose dim 0 is the batch,
    or a nested tensor) that keeps their autograd history: gradients flow back to ``ts``."""
    if isinstance(ts, NestedTensor):
        out = ts.to(device=device, dtype=dtype) if dtype or device else ts
        if layout is None or layout is out.layout:
            return out
        return _pack(list(out.unbind()), layout)
    if isinstance(ts, Tensor):
        ts = ts.to(device=device, dtype=dtype) if dtype or device else ts
        if _layout_name(layout) == "jagged" and ts.dim() >= 2:
            b, n = ts.shape[0], ts.shape[1]
            offsets = ember.arange(0, b * n + 1, max(n, 1), device=ts.device)[:b + 1]
            return NestedTensor._jagged(ts.flatten(0, 1), offsets)
        ts = list(ts.unbind())
    return _pack([_component(t, dtype, device) for t in ts], layout)


def nested_tensor_from_jagged(values: Tensor, offsets: Tensor | None = None,
                              lengths: Tensor | None = None, jagged_dim: int | None = None,
                              min_seqlen: int | None = None,
                              max_seqlen: int | None = None) -> NestedTensor:
    """A jagged nested tensor viewing ``values``: component ``i`` is
    ``values.narrow(jagged_dim - 1, offsets[i], lengths[i])`` (``lengths`` default to the
    offsets' differences; with ``lengths`` the result is non-contiguous). Gradients flow
    back to ``values``."""
    if offsets is None:
        if lengths is None:
            raise RuntimeError("nested_tensor_from_jagged(): At least one of offsets or lengths "
                               "is required.")
        offsets = ember.cat([lengths.new_zeros(1), lengths.cumsum(0)]).to(ember.int64)
        lengths = None
    jagged_dim = 1 if jagged_dim is None else jagged_dim
    if not 1 <= jagged_dim <= values.dim():
        raise ValueError(f"nested_tensor_from_jagged(): jagged_dim {jagged_dim} is out of "
                         f"range for values of {values.dim()} dims")
    return NestedTensor._jagged(values[...], offsets, lengths, jagged_dim)


def to_padded_tensor(input: NestedTensor, padding: float, output_size=None) -> Tensor:
    """A dense tensor of ``input``'s components, each padded at the end of every dim with
    ``padding`` to the largest size, or to ``output_size`` (a jagged nested tensor is cut
    where that is smaller, a strided one raises, as in PyTorch)."""
    comps = input.unbind()
    largest = input._max_sizes()
    target = largest
    if output_size is not None:
        output_size = list(output_size)
        if len(output_size) != input.dim() or output_size[0] != len(comps) or (
                not input._is_jagged() and any(o < t for o, t in zip(output_size[1:], largest))):
            raise RuntimeError("Value in output_size is less than NestedTensor padded size. "
                               "Truncation is not supported.")
        target = output_size[1:]
    if not comps:
        return ember.empty([0] + target, dtype=input.dtype, device=input.device)
    rows = _rows_padded(input, target, padding)
    if rows is not None:
        return rows
    import ember.nn.functional as F
    wide = [max(t, m) for t, m in zip(target, largest)]
    padded = []
    for c in comps:
        pad = []
        for size, want in zip(reversed(c.shape), reversed(wide)):
            pad += [0, want - size]
        padded.append(F.pad(c, pad, value=padding))
    out = ember.stack(padded)
    return out if wide == target else out[(slice(None),) + tuple(slice(0, t) for t in target)]


def _rows_padded(nt: NestedTensor, target: list, padding: float):
    """``to_padded_tensor`` in one gather when components are rows of one packed tensor
    (ragged dim first): each output row picks a packed row, or the extra padding row."""
    from ember.nested._ops import packed
    p = packed(nt)
    if p is None or p[1] != 0 or list(p[0].shape[1:]) != target[1:]:
        return None
    values = p[0]
    fill = ember.full((1,) + tuple(values.shape[1:]), padding, dtype=values.dtype,
                      device=values.device)
    rows = ember.cat([values, fill])
    pad_row, width = values.shape[0], target[0]
    if nt._is_jagged():
        starts, counts = nt._starts, nt._lens
    else:
        counts = [s[0] for s in nt._sizes]
        starts = [0, *itertools.accumulate(counts)][:-1]
    device = values.device
    at = ember.arange(width, device=device)[None]
    starts = ember.tensor(starts, dtype=ember.int64, device=device)[:, None]
    counts = ember.tensor(counts, dtype=ember.int64, device=device)[:, None]
    return rows[ember.where(at < counts, starts + at, pad_row)]


def narrow(tensor: Tensor, dim: int, start, length, layout=ember.strided) -> NestedTensor:
    """A nested tensor of ``tensor``'s rows, row ``i`` narrowed along ``dim`` to ``length[i]``
    elements from ``start[i]`` (ints or one per row); jagged layout views ``tensor``."""
    b = tensor.shape[0]
    if _layout_name(layout) == "strided" and (isinstance(start, Tensor)
                                              or isinstance(length, Tensor)):
        raise RuntimeError("start and length must be integers for the strided layout NT impl")
    starts = [int(s) for s in start.tolist()] if isinstance(start, Tensor) else [start] * b
    lens = [int(n) for n in length.tolist()] if isinstance(length, Tensor) else [length] * b
    if _layout_name(layout) == "strided":
        return _pack([row.narrow(dim - 1, s, n)
                      for row, s, n in zip(tensor.unbind(), starts, lens)], layout)
    if dim != 1:
        raise RuntimeError("narrow(): jagged layout only supports dim=1")
    n = tensor.shape[1]
    offsets = [s + i * n for i, s in enumerate(starts)] + [starts[-1] + (b - 1) * n + lens[-1]]
    device = tensor.device
    return NestedTensor._jagged(tensor.flatten(0, 1),
                                ember.tensor(offsets, dtype=ember.int64, device=device),
                                ember.tensor(lens, dtype=ember.int64, device=device))


def masked_select(tensor: Tensor, mask: Tensor) -> NestedTensor:
    """A jagged nested tensor of the elements of ``tensor`` where ``mask`` is True, one
    component per row of dim 0."""
    if mask.shape != tensor.shape:
        mask = mask.expand(tensor.shape)
    lens = [int(n) for n in mask.reshape(mask.shape[0], -1).sum(1).tolist()]
    values = tensor[mask]
    return NestedTensor._jagged(values, offsets_of(lens, values.device))

