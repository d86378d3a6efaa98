"""``torch.nn.attention.bias``: causal masks as objects that ``F.scaled_dot_product_attention``
takes as its ``attn_mask``, aligned to the top left or the bottom right of the (L, S) score
matrix, which differ when L != S.

PyTorch's ``CausalBias`` is a Tensor subclass that takes over SDPA through
``__torch_function__``; ember's is a plain object that ``ember.nn.functional`` recognizes, so
that defining it does not turn on the protocol's dispatch for every other function.
"""
from __future__ import annotations

import enum
import warnings

import ember
from ember._tensor import Tensor

__all__ = ["causal_upper_left", "causal_lower_right", "CausalVariant", "CausalBias"]


class CausalVariant(enum.IntEnum):
    """Where a causal mask's diagonal starts: UPPER_LEFT, query i sees keys 0..i (``tril()``);
    LOWER_RIGHT, the last query sees every key (``tril(S - L)``, as for a query continuing
    a cached prefix)."""

    UPPER_LEFT = 1
    LOWER_RIGHT = 2


class CausalBias:
    """A causal mask of ``seq_len_q`` queries and ``seq_len_kv`` keys, made dense only where a
    kernel needs it."""

    def __init__(self, variant: CausalVariant, seq_len_q: int, seq_len_kv: int) -> None:
        if not isinstance(variant, CausalVariant):
            raise AssertionError("variant must be a CausalVariant")
        if variant == CausalVariant.LOWER_RIGHT and seq_len_q > seq_len_kv:
            warnings.warn("Lower right causal bias will produce NaNs in the output when "
                          "seq_len_q > seq_len_kv!", stacklevel=2)
        self.variant = variant
        self.seq_len_q = seq_len_q
        self.seq_len_kv = seq_len_kv

    def _materialize(self, device=None) -> Tensor:
        """The dense bool (seq_len_q, seq_len_kv) mask, True where a query sees a key."""
        ones = ember.ones(self.seq_len_q, self.seq_len_kv, dtype=ember.bool, device=device)
        if self.variant == CausalVariant.UPPER_LEFT:
            return ones.tril()
        return ones.tril(self.seq_len_kv - self.seq_len_q)

    def _sdpa(self, query: Tensor, key: Tensor, value: Tensor, dropout_p: float,
              is_causal: bool, scale: float | None, enable_gqa: bool) -> Tensor:
        """``F.scaled_dot_product_attention`` with this mask: the upper-left one is SDPA's
        own ``is_causal``, the lower-right one a dense mask."""
        from ember.ops.attention import scaled_dot_product_attention

        if is_causal:
            raise ValueError("CausalBias should not be used with causal=True")
        if self.variant == CausalVariant.UPPER_LEFT or self.seq_len_q == self.seq_len_kv:
            return scaled_dot_product_attention(query, key, value, None, dropout_p, True,
                                                scale, enable_gqa)
        return scaled_dot_product_attention(query, key, value, self._materialize(query.device),
                                            dropout_p, False, scale, enable_gqa)

    def __repr__(self) -> str:
        return repr(self._materialize())


def causal_upper_left(*size) -> CausalBias:
    """The upper-left causal mask of (seq_len_q, seq_len_kv) = ``size``."""
    if len(size) != 2:
        raise AssertionError("causal_upper_left only supports 2D tensors")
    return CausalBias(CausalVariant.UPPER_LEFT, *size)


def causal_lower_right(*size) -> CausalBias:
    """The lower-right causal mask of (seq_len_q, seq_len_kv) = ``size``."""
    if len(size) != 2:
        raise AssertionError("causal_lower_right only supports 2D tensors")
    return CausalBias(CausalVariant.LOWER_RIGHT, *size)
