"""The embedding functions of ``ember.nn.functional`` (re-exported there): embedding,
embedding_bag and one_hot."""
from __future__ import annotations

from ember import dtypes as _dt
from ember._tensor import Tensor, _make
from ember.autograd.grad_mode import no_grad
from ember.ops._util import refuse_complex_grad
from ember.ops.embedding import embedding_lookup

__all__ = ["embedding", "embedding_bag", "one_hot"]


def _check_indices(input: Tensor, name: str) -> None:
    if input.dtype.is_floating_point or input.dtype.is_complex or input.dtype is _dt.bool:
        raise RuntimeError(f"Expected tensor for argument #1 'indices' to have one of the "
                           f"following scalar types: Long, Int; but got {input.type()} instead "
                           f"(while checking arguments for {name})")


def _renorm_rows(weight: Tensor, input: Tensor, max_norm: float, norm_type: float) -> None:
    """Scale the rows of ``weight`` that ``input`` uses to norm at most ``max_norm``, in place."""
    xp = weight._xp
    rows = xp.unique(input._data.reshape(-1))
    with no_grad():
        data = weight._data
        picked = data[rows]
        if _dt.is_half(data.dtype):
            # half: PyTorch's norms, summed in float32 (no overflow) and rounded to the dtype
            norms = xp.linalg.norm(picked.astype(xp.float32), ord=norm_type, axis=1)
            norms = norms.astype(data.dtype).astype(xp.float32)
        else:
            norms = xp.linalg.norm(picked, ord=norm_type, axis=1)
        scale = xp.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
        data[rows] *= scale[:, None].astype(data.dtype)
        weight._bump_version()


def _padding_idx(padding_idx, num: int):
    if padding_idx is None:
        return None
    if padding_idx > 0:
        if padding_idx >= num:
            raise AssertionError("Padding_idx must be within num_embeddings")
    elif padding_idx < 0:
        if padding_idx < -num:
            raise AssertionError("Padding_idx must be within num_embeddings")
        padding_idx += num
    return padding_idx


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None,
              max_norm: float | None = None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Rows of ``weight`` selected by the integer ``input``; output shape input.shape + (D,).
    With ``sparse=True`` the weight's gradient is a COO tensor of the rows looked up
    (``padding_idx``'s excepted), for ``optim.SparseAdam``, ``SGD`` and ``Adagrad``."""
    _check_indices(input, "embedding")
    if weight.ndim != 2:
        raise RuntimeError("'weight' must be 2-D")
    refuse_complex_grad("embedding", weight)
    padding_idx = _padding_idx(padding_idx, weight.shape[0])
    if max_norm is not None:
        _renorm_rows(weight, input, max_norm, norm_type)
    return embedding_lookup(weight, input, padding_idx, scale_grad_by_freq, sparse)


def embedding_bag(input: Tensor, weight: Tensor, offsets: Tensor | None = None,
                  max_norm: float | None = None, norm_type: float = 2,
                  scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False,
                  per_sample_weights: Tensor | None = None, include_last_offset: bool = False,
                  padding_idx: int | None = None) -> Tensor:
    """Sums, means or maxes of bags of embeddings: rows of a 2-D ``input``, or the slices of a
    1-D ``input`` that start at ``offsets``; ``sparse=True`` (sum and mean) as in ``embedding``."""
    _check_indices(input, "embedding_bag")
    if weight.ndim != 2:
        raise ValueError(f"weight has to be a 2D Tensor, but got Tensor of dimension "
                         f"{weight.ndim}")
    if mode not in ("sum", "mean", "max"):
        raise ValueError("mode has to be one of sum, mean or max")
    if mode == "max" and sparse:
        raise ValueError("max mode does not support sparse weights")
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError("embedding_bag: per_sample_weights was not None. "
                                  "per_sample_weights is only supported for mode='sum' (got "
                                  f"mode='{mode}'). Please open a feature request on GitHub.")
    xp = input._xp
    if input.ndim == 2:
        if offsets is not None:
            raise ValueError("if input is 2D, then offsets has to be None, as input is treated "
                             "is a mini-batch of fixed length sequences. However, found offsets "
                             f"of type {type(offsets)}")
        bags, length = input.shape
        bag_of = xp.repeat(xp.arange(bags), length)
        input = input.reshape(-1)
        if per_sample_weights is not None:
            per_sample_weights = per_sample_weights.reshape(-1)
    elif input.ndim == 1:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        if offsets.ndim != 1:
            raise ValueError("offsets has to be a 1D Tensor")
        starts = offsets._data.astype(xp.int64)
        if include_last_offset:
            starts = starts[:-1]
        bags = starts.shape[0]
        positions = xp.arange(input.shape[0])
        bag_of = xp.searchsorted(starts, positions, side="right") - 1
    else:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension "
                         f"{input.ndim}")
    padding_idx = _padding_idx(padding_idx, weight.shape[0])
    if max_norm is not None:
        _renorm_rows(weight, input, max_norm, norm_type)
    keep = xp.ones(input.shape[0], bool)
    if padding_idx is not None:
        keep = input._data != padding_idx
    # half: the rows in float32, each bag summed and rounded once, as PyTorch sums it
    widen = _dt.is_half(weight.dtype)
    try:
        if widen:
            rows = embedding_lookup(weight, input, padding_idx, scale_grad_by_freq, sparse,
                                    widen=True)
        else:
            rows = embedding(input, weight, padding_idx, None, norm_type, scale_grad_by_freq,
                             sparse)
    except IndexError:
        idx = input._data
        i = int(xp.nonzero((idx < 0) | (idx >= weight.shape[0]))[0][0])
        raise RuntimeError(f"Index {i} of input takes value {int(idx[i])} which is not in the "
                           f"valid range [0, {weight.shape[0]})") from None
    if per_sample_weights is not None:
        rows = rows * per_sample_weights.unsqueeze(1)
    sel = _make(xp.nonzero(keep)[0])
    rows = rows.index_select(0, sel)
    bag_index = _make(bag_of[keep].astype(xp.int64))
    zeros = rows.new_zeros((bags, weight.shape[1]))
    if mode == "max":
        index = bag_index.unsqueeze(1).expand(-1, weight.shape[1])
        out = zeros.scatter_reduce(0, index, rows, "amax", include_self=False)
        return out.to(weight.dtype) if widen else out
    out = zeros.index_add(0, bag_index, rows)
    if mode == "mean":
        counts = xp.bincount(bag_of[keep], minlength=bags).astype(out._data.dtype)
        out = out / _make(xp.maximum(counts, 1)[:, None])
    return out.to(weight.dtype) if widen else out


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 one-hot encoding along a new last dim of size ``num_classes``."""
    if tensor.dtype is not _dt.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    xp = tensor._xp
    data = tensor._data
    if num_classes == -1:
        if data.size == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(data.max()) + 1
    if data.size and (data.min() < 0 or data.max() >= num_classes):
        raise RuntimeError("Class values must be smaller than num_classes." if data.min() >= 0
                           else "Class values must be non-negative.")
    out = (data[..., None] == xp.arange(num_classes)).astype(xp.int64)
    return _make(out)
