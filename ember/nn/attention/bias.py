"""``torch.nn.attention.bias``: causal masks as objects that ``F.scaled_dot_product_attention``
takes as its ``attn_mask``, aligned to the top left or the bottom right of the (L, S) score
matrix, which differ when L != S.

``CausalBias`` is a Tensor subclass, as PyTorch's, holding the dense bool mask (True where a
query sees a key); ``ember.nn.functional.scaled_dot_product_attention`` recognizes it, where
PyTorch's takes over SDPA through ``__torch_function__``: ember's opts out of that protocol, so
that defining it does not turn on dispatch for every other function.
"""
from __future__ import annotations

import enum
import warnings

import ember
from ember._tensor import Tensor
from ember.overrides import _disabled_torch_function_impl

__all__ = ["causal_upper_left", "causal_lower_right", "CausalVariant", "CausalBias"]


class CausalVariant(enum.IntEnum):
    """Where a causal mask's diagonal starts: UPPER_LEFT, query i sees keys 0..i (``tril()``);
    LOWER_RIGHT, the last query sees every key (``tril(S - L)``, as for a query continuing
    a cached prefix)."""

    UPPER_LEFT = 1
    LOWER_RIGHT = 2


class CausalBias(Tensor):
    """A causal mask of ``seq_len_q`` queries and ``seq_len_kv`` keys: a bool tensor of that
    shape, True where a query sees a key."""

    __torch_function__ = _disabled_torch_function_impl
    __slots__ = ()

    def __new__(cls, variant: CausalVariant, seq_len_q: int, seq_len_kv: int) -> "CausalBias":
        if not isinstance(variant, CausalVariant):
            raise AssertionError("variant must be a CausalVariant")
        if variant == CausalVariant.LOWER_RIGHT and seq_len_q > seq_len_kv:
            warnings.warn("Lower right causal bias will produce NaNs in the output when "
                          "seq_len_q > seq_len_kv!", stacklevel=2)
        ones = ember.ones(seq_len_q, seq_len_kv, dtype=ember.bool)
        mask = ones.tril() if variant == CausalVariant.UPPER_LEFT else \
            ones.tril(seq_len_kv - seq_len_q)
        mask.__class__ = cls
        mask.__dict__.update(variant=variant, seq_len_q=seq_len_q, seq_len_kv=seq_len_kv)
        return mask

    def __init__(self, *args, **kwargs) -> None:
        pass  # made whole by __new__

    def _materialize(self, device=None) -> Tensor:
        """The mask as a plain bool (seq_len_q, seq_len_kv) tensor, on ``device``."""
        return Tensor.to(Tensor.as_subclass(self, Tensor), device=device)

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
