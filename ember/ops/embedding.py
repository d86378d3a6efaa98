"""The embedding primitive: a row lookup forward, the rows' gradients summed into the weight
(or kept as a sparse COO gradient) backward."""
from __future__ import annotations

from ember import dtypes as _dt
from ember._tensor import Tensor, _make
from ember.autograd.function import Primitive
from ember.autograd.grad_mode import _State
from ember.backend.device import get_array_module, zeros_as
from ember.backend.special import index_sum
from ember.ops.index_along_dim import has_negative
from ember.sparse import row_sparse


class Embedding(Primitive, node_name="EmbeddingBackward0"):
    @staticmethod
    def forward(ctx, weight, indices, padding_idx, scale_grad_by_freq, sparse, widen=False):
        xp = get_array_module(weight)
        ctx.save_for_backward(indices)
        ctx.params = (weight.shape[0], padding_idx, scale_grad_by_freq, sparse, weight.dtype)
        if has_negative(indices):
            raise IndexError("index out of range in self")
        try:
            rows = xp.take(weight, indices, axis=0)
        except IndexError:
            raise IndexError("index out of range in self") from None
        return rows.astype(xp.float32) if widen else rows

    @staticmethod
    def backward(ctx, grad):
        (indices,) = ctx.saved_tensors
        num, padding_idx, scale_grad_by_freq, sparse, dtype = ctx.params
        if sparse and scale_grad_by_freq:
            raise RuntimeError("embedding_backward: scale_grad_by_freq not supported with sparse "
                               "gradients")
        flat = indices.reshape(-1)
        g = grad.reshape(-1, grad.shape[-1])
        xp = get_array_module(flat._data)
        keep = None
        if padding_idx is not None:
            keep = flat._data != padding_idx
        if scale_grad_by_freq:
            counts = xp.bincount(flat._data, minlength=num)[flat._data]
            scale = 1.0 / counts
            keep = scale if keep is None else scale * keep
        if _State.enabled:  # create_graph
            if keep is not None:
                g = g * _make(keep.astype(g._data.dtype, copy=False)[:, None])
            out = _make(zeros_as(xp, g._data, (num, g.shape[1]), g._data.dtype))
            out = out.index_add(0, flat, g).to(_dt.from_numpy_dtype(dtype))
        elif _dt.is_half(dtype):
            # half weight: the rows summed in float32 and rounded once (closer than PyTorch's
            # embedding, which adds them one by one in the half dtype)
            wide = g._data.astype(xp.float32, copy=False)
            out = _make(index_sum(xp, flat._data, wide, num, keep).astype(dtype))
        else:
            out = _make(index_sum(xp, flat._data, g._data, num, keep))
        if sparse:  # stores the rows looked up, padding_idx's excepted (PyTorch's COO gradient)
            rows = flat._data if padding_idx is None else flat._data[flat._data != padding_idx]
            out = row_sparse(out, rows)
        return out, None


def embedding_lookup(weight: Tensor, indices: Tensor, padding_idx=None,
                     scale_grad_by_freq: bool = False, sparse: bool = False,
                     widen: bool = False) -> Tensor:
    """Rows ``weight[indices]`` with the gradient of ``padding_idx`` held at zero; with
    ``sparse`` the weight's gradient is a COO tensor of the rows looked up. ``widen`` returns
    the rows in float32 (for sums of half rows), without a float32 copy of the whole weight."""
    return Embedding.apply(weight, indices, padding_idx, scale_grad_by_freq, sparse, widen)
