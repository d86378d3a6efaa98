"""Quantized ``Embedding`` (``torch.ao.nn.quantized.Embedding``): weight-only quantization,
one quint8 row per token with its own float scale and float zero point
(``per_channel_affine_float_qparams``); the lookup returns float32 rows."""
from __future__ import annotations

import numpy as np

import ember
from ember import nn
from ember._quantized import QuantizedTensor, per_channel_affine_float_qparams
from ember._tensor import Tensor, _make
from ember.ao.nn.quantized._linear import quantize_weight, repr_without

__all__ = ["Embedding", "EmbeddingPackedParams", "embedding_byte"]


def embedding_byte(weight: QuantizedTensor, indices: Tensor) -> Tensor:
    """The rows ``indices`` of a row-wise float-qparams quantized ``weight`` as float32:
    ``q * scale + bias`` with ``bias = -(zero_point * scale)`` in float32, the product and sum
    rounded once (fbgemm's 8-bit lookup is a fused multiply-add).

    Shape: ``indices`` (*) -> (*, embedding_dim).
    """
    scale = weight.q_per_channel_scales()._data
    bias = -(weight.q_per_channel_zero_points()._data * scale)
    rows = indices._data
    # float64 holds every 8-bit q times a float32 scale exactly: one rounding, as an FMA's
    q = weight._data[rows].astype(np.float64)
    out = q * scale[rows][..., None].astype(np.float64) + bias[rows][..., None]
    return _make(out.astype(np.float32))


class EmbeddingPackedParams(nn.Module):
    """The quantized weight of an ``Embedding``, saved as ``dtype`` and ``_packed_weight``
    (the quantized tensor), as PyTorch's packed embedding parameters are. ember packs
    quint8 only (PyTorch also packs quint4x2 with float16 qparams)."""

    _version = 1

    def __init__(self, num_embeddings: int, embedding_dim: int, dtype=ember.quint8) -> None:
        super().__init__()
        if dtype is not ember.quint8:
            raise NotImplementedError(f"Unsupported dtype on quantized embedding! Supports "
                                      f"quint8. Got dtype: {dtype}")
        self.dtype = dtype
        self.set_weight(ember.quantize_per_channel(
            ember.zeros(num_embeddings, embedding_dim), ember.ones(num_embeddings),
            ember.zeros(num_embeddings), 0, dtype))

    def set_weight(self, weight: QuantizedTensor) -> None:
        self._packed_weight = weight

    def _weight(self) -> QuantizedTensor:
        return self._packed_weight

    def forward(self, x):
        return x

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        super()._save_to_state_dict(destination, prefix, keep_vars)
        destination[prefix + "dtype"] = self.dtype
        destination[prefix + "_packed_weight"] = self._weight()

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        self.dtype = state_dict.pop(prefix + "dtype")
        self.set_weight(state_dict.pop(prefix + "_packed_weight"))
        super()._load_from_state_dict(state_dict, prefix, local_metadata, False, missing_keys,
                                      unexpected_keys, error_msgs)

    def __repr__(self) -> str:
        return self._weight().__repr__()


class Embedding(nn.Module):
    """An embedding table with quint8 rows, each with a float scale and zero point; indices in,
    float32 rows out (the arguments after ``embedding_dim`` are kept for the float layer's
    signature and, as in PyTorch, not used in the lookup).

    Shape: indices (*) -> (*, embedding_dim).

    Example::

        >>> m = Embedding(num_embeddings=10, embedding_dim=12)
        >>> m(ember.tensor([9, 6, 5, 7, 8, 8, 9, 2, 8])).size()
        torch.Size([9, 12])
    """

    _version = 1

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 max_norm: float | None = None, norm_type: float = 2.0,
                 scale_grad_by_freq: bool = False, sparse: bool = False,
                 _weight: QuantizedTensor | None = None, dtype=ember.quint8) -> None:
        super().__init__()
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.dtype = dtype
        self._packed_params = EmbeddingPackedParams(num_embeddings, embedding_dim, dtype)
        if _weight is not None:
            if list(_weight.shape) != [num_embeddings, embedding_dim]:
                raise AssertionError(f"Shape of weight does not match num_embeddings and "
                                     f"embedding_dim: expected "
                                     f"{[num_embeddings, embedding_dim]}, got "
                                     f"{list(_weight.shape)}")
            self._packed_params.set_weight(_weight)

    def forward(self, indices: Tensor) -> Tensor:
        return embedding_byte(self._packed_params._weight(), indices)

    def _get_name(self) -> str:
        return "QuantizedEmbedding"

    def __repr__(self) -> str:
        return repr_without(self, "_packed_params")

    def extra_repr(self) -> str:
        return (f"num_embeddings={self.num_embeddings}, embedding_dim={self.embedding_dim}, "
                f"dtype={self._packed_params.dtype}, qscheme={self.weight().qscheme()}")

    def set_weight(self, w: QuantizedTensor) -> None:
        self._packed_params.set_weight(w)

    def weight(self) -> QuantizedTensor:
        return self._packed_params._weight()

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant: bool = False):
        """The quantized table of a float ``nn.Embedding`` with a float-qparams weight-only
        ``qconfig``: each row quantized with its own min and max."""
        from ember.ao.quantization.qconfig import float_qparams_weight_only_qconfig
        if type(mod) is not nn.Embedding:
            raise AssertionError("nnq.Embedding.from_float only works for Embedding")
        if not hasattr(mod, "qconfig"):
            raise AssertionError("Embedding input float module must have qconfig defined")
        qconfig = mod.qconfig
        if qconfig is not None and qconfig.weight is not None:
            weight_observer = qconfig.weight()
        else:
            weight_observer = float_qparams_weight_only_qconfig.weight()
        if weight_observer.qscheme is not per_channel_affine_float_qparams:
            raise AssertionError("Embedding quantization is only supported with "
                                 "float_qparams_weight_only_qconfig.")
        if weight_observer.dtype is not ember.quint8:
            raise AssertionError(f"The only supported dtype for nnq.Embedding is torch.quint8, "
                                 f"got {weight_observer.dtype}")
        weight_observer(mod.weight)
        qembedding = cls(mod.num_embeddings, mod.embedding_dim)
        qembedding.set_weight(quantize_weight(mod.weight.float().detach(), weight_observer))
        return qembedding
