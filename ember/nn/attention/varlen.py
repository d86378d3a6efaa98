"""``torch.nn.attention.varlen``: attention over sequences packed along one token dimension.

PyTorch runs these on its CUDA flash-attention kernel only; ember computes each sequence's
attention with ``scaled_dot_product_attention`` (so gradients of every order flow, on any
device) and packs the results back. Sliding windows follow the flash kernel: a query's window
is placed relative to the last key (bottom-right aligned), which is the usual causal mask when
a sequence has as many keys as queries. ``num_splits`` only changes how the kernel sums, so it
is accepted and ignored.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import ember
from ember._tensor import Tensor
from ember.ops.attention import scaled_dot_product_attention

__all__ = ["varlen_attn", "varlen_attn_out", "AuxRequest"]


class AuxRequest(NamedTuple):
    """Which auxiliary outputs ``varlen_attn`` returns besides the output."""

    lse: bool = False


def varlen_attn(query: Tensor, key: Tensor, value: Tensor, cu_seq_q: Tensor,
                cu_seq_k: Tensor | None, max_q: int, max_k: int, *,
                return_aux: AuxRequest | None = None, scale: float | None = None,
                window_size: tuple[int, int] = (-1, -1), enable_gqa: bool = False,
                seqused_k: Tensor | None = None, block_table: Tensor | None = None,
                num_splits: int | None = None):
    """Attention of each packed query sequence to its own key/value sequence.

    Args:
        query: (T_q, H_q, D), the sequences' queries one after another.
        key, value: (T_k, H_kv, D); or, with ``block_table``, a pool of pages
            (total_pages, page_size, H_kv, D).
        cu_seq_q, cu_seq_k: (N + 1,) cumulative sequence starts (``cu_seq_k`` may be None
            with ``block_table``).
        max_q, max_k: the longest query and key sequence (for the kernel's launch; unused).
        return_aux: ``AuxRequest(lse=True)`` also returns the log-sum-exp of the scaled scores.
        scale: defaults to 1/sqrt(D).
        window_size: (left, right) keys a query sees around its position; -1 = unbounded.
            (-1, -1) full attention, (-1, 0) causal, (W, 0) causal sliding window.
        enable_gqa: let H_q be a multiple of H_kv, each key/value head serving a group.
        seqused_k: (N,) keys actually used from each sequence (or its pages).
        block_table: (N, max_pages) int32 page numbers of each sequence's keys and values;
            needs ``seqused_k``.
        num_splits: the kernel's split-KV choice (no effect here).

    Returns:
        The output (T_q, H_q, D), and with ``return_aux.lse`` the float32 log-sum-exp
        (H_q, T_q) (+inf for a query that sees no key, as the flash kernel writes it).

    Example::

        >>> q = ember.randn(5, 2, 4)
        >>> cu = ember.tensor([0, 2, 5], dtype=ember.int32)
        >>> varlen_attn(q, q, q, cu, cu, 3, 3, window_size=(-1, 0)).shape
        torch.Size([5, 2, 4])
    """
    heads_q = query.shape[1]
    heads_kv = key.shape[2] if block_table is not None else key.shape[1]
    if not enable_gqa and heads_q != heads_kv:
        raise ValueError(f"Expect query and key/value to have the same number of heads but got "
                         f"Hq={heads_q} and Hkv={heads_kv}. Try setting enable_gqa=True for GQA.")
    if enable_gqa and heads_q % heads_kv != 0:
        raise ValueError(f"Expect number of query heads to be a multiple of kv heads for GQA "
                         f"but got Hq={heads_q} and Hkv={heads_kv}.")
    if block_table is not None and seqused_k is None:
        raise ValueError("varlen_attn: block_table requires seqused_k")
    factor = 1 / math.sqrt(query.shape[-1]) if scale is None else scale
    starts_q = [int(i) for i in cu_seq_q.tolist()]
    starts_k = None if cu_seq_k is None else [int(i) for i in cu_seq_k.tolist()]
    used = None if seqused_k is None else [int(i) for i in seqused_k.tolist()]
    outs, lses = [], []
    for i in range(len(starts_q) - 1):
        # (L, H, D) -> (H, L, D), the layout scaled_dot_product_attention takes
        q = query[starts_q[i]:starts_q[i + 1]].transpose(0, 1)
        k, v = (_sequence(t, i, starts_k, used, block_table).transpose(0, 1)
                for t in (key, value))
        if enable_gqa and heads_kv != heads_q:
            k = k.repeat_interleave(heads_q // heads_kv, dim=0)
            v = v.repeat_interleave(heads_q // heads_kv, dim=0)
        mask = _window_mask(q.shape[1], k.shape[1], window_size, query.device)
        out = scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=factor)
        outs.append(out.transpose(0, 1))
        if return_aux is not None and return_aux.lse:
            lses.append(_log_sum_exp(q, k, mask, factor))
    out = _packed(outs, query).contiguous()  # a fresh (T_q, H, D) tensor, as the kernel's
    if return_aux is not None and return_aux.lse:
        return out, _packed(lses, query.new_zeros((query.shape[1], query.shape[0]),
                                                  dtype=ember.float32), dim=1)
    return out


def varlen_attn_out(out: Tensor, query: Tensor, key: Tensor, value: Tensor, cu_seq_q: Tensor,
                    cu_seq_k: Tensor | None, max_q: int, max_k: int, *,
                    return_aux: AuxRequest | None = None, scale: float | None = None,
                    window_size: tuple[int, int] = (-1, -1), enable_gqa: bool = False,
                    seqused_k: Tensor | None = None, block_table: Tensor | None = None,
                    num_splits: int | None = None):
    """``varlen_attn`` writing its output into ``out`` (T_q, H_q, D); returns ``out`` (and the
    log-sum-exp with ``return_aux.lse``)."""
    result = varlen_attn(query, key, value, cu_seq_q, cu_seq_k, max_q, max_k,
                         return_aux=return_aux, scale=scale, window_size=window_size,
                         enable_gqa=enable_gqa, seqused_k=seqused_k, block_table=block_table,
                         num_splits=num_splits)
    if isinstance(result, tuple):
        out.copy_(result[0])
        return out, result[1]
    out.copy_(result)
    return out


def _sequence(packed: Tensor, index: int, starts: list | None, used: list | None,
              block_table: Tensor | None) -> Tensor:
    """Sequence ``index``'s keys (or values), (L, H, D): its slice of the packed tensor, or
    its pages gathered from the pool; the first ``used[index]`` of them when given."""
    if block_table is not None:
        page_size = packed.shape[1]
        pages = -(-used[index] // page_size)
        rows = packed[block_table[index, :pages].long()]
        return rows.reshape(-1, *packed.shape[2:])[:used[index]]
    rows = packed[starts[index]:starts[index + 1]]
    return rows if used is None else rows[:used[index]]


def _window_mask(length: int, source: int, window_size, device) -> Tensor | None:
    """(L, S) bool mask of the keys each query sees (True = attend), or None for all keys.
    Query r sits at key position r + S - L (bottom-right alignment, as the flash kernel)."""
    left, right = window_size
    if left < 0 and right < 0:
        return None
    offset = (ember.arange(length, device=device) + (source - length)).unsqueeze(1)
    keys = ember.arange(source, device=device).unsqueeze(0)
    mask = ember.ones((length, source), dtype=ember.bool, device=device)
    if left >= 0:
        mask = mask & (keys >= offset - left)
    if right >= 0:
        mask = mask & (keys <= offset + right)
    return mask


def _log_sum_exp(q: Tensor, k: Tensor, mask: Tensor | None, scale: float) -> Tensor:
    """(H, L) float32 log-sum-exp of the scaled, masked scores; +inf where a query sees no key
    (so that exp(score - lse) is zero there, as in the flash kernel)."""
    scores = ember.matmul(q.float(), k.float().transpose(-2, -1)) * scale
    if mask is not None:
        scores = scores.masked_fill(mask.logical_not(), -math.inf)
    lse = ember.logsumexp(scores, dim=-1)
    return lse.masked_fill(lse == -math.inf, math.inf)


def _packed(pieces: list, like: Tensor, dim: int = 0) -> Tensor:
    """The sequences' results joined along ``dim``, zeros after the last sequence up to the
    size of ``like`` (rows no sequence covers)."""
    total = like.shape[dim]
    joined = ember.cat(pieces, dim) if pieces else like.narrow(dim, 0, 0)
    if joined.shape[dim] < total:
        rest = like.narrow(dim, joined.shape[dim], total - joined.shape[dim])
        joined = ember.cat([joined, ember.zeros_like(rest, dtype=joined.dtype)], dim)
    return joined
