"""``torch.nn.attention.flex_attention``: attention with a user's score and mask functions.

PyTorch compiles ``score_mod`` and ``mask_mod`` into one fused, block-sparse kernel; ember runs
them the way PyTorch's eager reference does, on the whole score matrix at once: each function is
called once, with the indices as int32 tensors shaped (B, 1, 1, 1), (1, H, 1, 1), (1, 1, L, 1)
and (1, 1, 1, S), so a function written for scalar indices broadcasts to every position (and
indexing a tensor with them, ``bias[h, q_idx]``, gathers a table). Everything is composed of
ember ops, so gradients reach the query, key, value and any tensor the functions capture.

As in PyTorch's eager path, the mask applied is the block mask's ``mask_mod``: its block
structure (``kv_num_blocks``, ``kv_indices``, ...) is computed as PyTorch computes it and can be
read, but it saves no work and does not mask on its own. Left out: ``compute_dq_write_order``'s
tensors (``dq_write_order``, ``dq_kv_order``), ``torch.compile``'s kernel options (accepted,
ignored), and BlockMask's pytree flattening.
"""
from __future__ import annotations

import inspect
import math
import operator
from typing import Callable, NamedTuple, TypedDict

import ember
from ember._tensor import Tensor

__all__ = ["BlockMask", "flex_attention", "AuxOutput", "AuxRequest", "FlexKernelOptions",
           "create_block_mask", "create_mask", "or_masks", "and_masks", "noop_mask"]

_score_mod_signature = Callable[[Tensor, Tensor, Tensor, Tensor, Tensor], Tensor]
_mask_mod_signature = Callable[[Tensor, Tensor, Tensor, Tensor], Tensor]
_DEFAULT_SPARSE_BLOCK_SIZE = 128


class FlexKernelOptions(TypedDict, total=False):
    """Options of PyTorch's compiled kernels (tile sizes, warps, ...); ember accepts and
    ignores them, having no such kernel."""

    BLOCK_M: int
    BLOCK_N: int
    num_warps: int
    num_stages: int
    PRESCALE_QK: bool
    ROWS_GUARANTEED_SAFE: bool
    BLOCKS_ARE_CONTIGUOUS: bool
    FORCE_USE_FLEX_ATTENTION: bool


class AuxRequest(NamedTuple):
    """Which auxiliary outputs ``flex_attention`` returns besides the output."""

    lse: bool = False
    max_scores: bool = False


class AuxOutput(NamedTuple):
    """``flex_attention``'s auxiliary outputs: the requested fields, None for the others."""

    lse: Tensor | None = None
    max_scores: Tensor | None = None


# --- mask functions -----------------------------------------------------------------------------

def noop_mask(batch: Tensor, head: Tensor, token_q: Tensor, token_kv: Tensor) -> Tensor:
    """The mask_mod that keeps every position."""
    return ember.ones((), dtype=ember.bool, device=batch.device)


def and_masks(*mask_mods: _mask_mod_signature) -> _mask_mod_signature:
    """The mask_mod keeping the positions that every one of ``mask_mods`` keeps."""
    return _combined(mask_mods, True, operator.and_)


def or_masks(*mask_mods: _mask_mod_signature) -> _mask_mod_signature:
    """The mask_mod keeping the positions that any of ``mask_mods`` keeps."""
    return _combined(mask_mods, False, operator.or_)


def _combined(mask_mods: tuple, start: bool, combine) -> _mask_mod_signature:
    """A mask_mod folding ``mask_mods``' masks with ``combine``, from a constant ``start``."""
    if not all(callable(m) for m in mask_mods):
        raise RuntimeError(f"All inputs should be callable mask_mods: {mask_mods}")

    def mask(b, h, q_idx, kv_idx):
        result = b.new_full((), start, dtype=ember.bool)
        for mod in mask_mods:
            result = combine(result, mod(b, h, q_idx, kv_idx))
        return result

    return mask


def _indices(batch: int, heads: int, q_len: int, kv_len: int, device) -> tuple:
    """The four index tensors, each along its own dim of (B, H, L, S)."""
    def along(n, dim):
        shape = [1, 1, 1, 1]
        shape[dim] = n
        return ember.arange(n, dtype=ember.int32, device=device).view(shape)

    return along(batch, 0), along(heads, 1), along(q_len, 2), along(kv_len, 3)


def _is_score_mod(fn: Callable) -> bool:
    """A score_mod takes five positional arguments, a mask_mod four."""
    params = inspect.signature(fn).parameters.values()
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                  and p.default is p.empty]
    return len(positional) == 5


def _mask(mask_mod: _mask_mod_signature, index: tuple) -> Tensor:
    """``mask_mod`` at every position, as a bool tensor broadcastable to (B, H, L, S)."""
    keep = mask_mod(*index)
    return keep if isinstance(keep, Tensor) else ember.tensor(keep, device=index[0].device)


def create_mask(mod_fn: _score_mod_signature | _mask_mod_signature, B: int | None,
                H: int | None, Q_LEN: int, KV_LEN: int, device=None) -> Tensor:
    """The dense (B, H, Q_LEN, KV_LEN) bool mask of a mask_mod, or of a score_mod (True where
    it leaves a zero score finite). ``B``/``H`` None mean 1."""
    shape = (B or 1, H or 1, Q_LEN, KV_LEN)
    index = _indices(*shape, device)
    with ember.no_grad():
        if _is_score_mod(mod_fn):
            scores = mod_fn(ember.zeros(shape, device=device), *index)
            keep = scores != -math.inf
        else:
            keep = _mask(mod_fn, index)
        return ember.broadcast_to(keep, shape).contiguous()


# --- BlockMask ----------------------------------------------------------------------------------

def _sliced_mask_mod_error(b, h, q_idx, kv_idx):
    raise RuntimeError("Cannot use mask_mod from a sliced BlockMask. When you slice a BlockMask "
                       "using [], the mask_mod attribute is reset. You must set it from the "
                       "original BlockMask's mask_mod.")


def _ordered(dense: Tensor) -> tuple[Tensor, Tensor]:
    """(num_blocks, indices) of a 0/1 block matrix (..., rows, cols): per row, how many blocks
    are set and the column indices, set columns first, each group in increasing order."""
    cols = dense.shape[-1]
    position = ember.arange(cols, device=dense.device)
    order = ember.where(dense.bool(), position, position + cols).argsort(-1)
    return dense.sum(-1, dtype=ember.int32), order.to(ember.int32)


def _dense(num_blocks: Tensor, indices: Tensor) -> Tensor:
    """The 0/1 int32 block matrix of (num_blocks, indices): the inverse of ``_ordered``."""
    cols = indices.shape[-1]
    position = ember.arange(cols, device=indices.device)
    valid = position < num_blocks.unsqueeze(-1)  # the first num_blocks indices of each row
    hits = (indices.unsqueeze(-1) == position) & valid.unsqueeze(-1)
    return hits.any(-2).to(ember.int32)


class BlockMask:
    """Which (query block, key block) tiles of the attention matrix ``flex_attention`` visits,
    with the ``mask_mod`` applied inside them. ``kv_num_blocks``/``kv_indices`` list the
    partially masked key blocks of each query block, ``full_kv_*`` the unmasked ones, and the
    ``q_*`` tensors are the same by key block (the backward's view)."""

    def __init__(self, seq_lengths: tuple[int, int], kv_num_blocks: Tensor, kv_indices: Tensor,
                 full_kv_num_blocks: Tensor | None, full_kv_indices: Tensor | None,
                 q_num_blocks: Tensor | None, q_indices: Tensor | None,
                 full_q_num_blocks: Tensor | None, full_q_indices: Tensor | None,
                 BLOCK_SIZE: tuple[int, int] = (128, 128),
                 mask_mod: _mask_mod_signature = noop_mask) -> None:
        if kv_indices.ndim < 2:
            raise RuntimeError("BlockMask must have at least 2 dimensions")
        if (full_kv_num_blocks is None) != (full_kv_indices is None):
            raise RuntimeError("full_kv_num_blocks and full_kv_indices must be both provided "
                               "or omitted")
        self.seq_lengths = tuple(seq_lengths)
        self.kv_num_blocks = kv_num_blocks
        self.kv_indices = kv_indices
        self.full_kv_num_blocks = full_kv_num_blocks
        self.full_kv_indices = full_kv_indices
        self.q_num_blocks = q_num_blocks
        self.q_indices = q_indices
        self.full_q_num_blocks = full_q_num_blocks
        self.full_q_indices = full_q_indices
        self.BLOCK_SIZE = tuple(BLOCK_SIZE)
        self.mask_mod = mask_mod

    @classmethod
    def from_kv_blocks(cls, kv_num_blocks: Tensor, kv_indices: Tensor,
                       full_kv_num_blocks: Tensor | None = None,
                       full_kv_indices: Tensor | None = None,
                       BLOCK_SIZE: int | tuple[int, int] = _DEFAULT_SPARSE_BLOCK_SIZE,
                       mask_mod: _mask_mod_signature | None = None,
                       seq_lengths: tuple[int, int] | None = None,
                       compute_q_blocks: bool = True) -> BlockMask:
        """A BlockMask from its key-block lists, deriving the query-block ones."""
        if kv_indices.ndim < 2:
            raise RuntimeError("BlockMask must have at least 2 dimensions")
        if kv_num_blocks.shape[:-1] != kv_indices.shape[:-2]:
            raise RuntimeError("The kv_num_blocks and kv_indices tensors must have the same "
                               "leading dimensions")
        block = BLOCK_SIZE if isinstance(BLOCK_SIZE, tuple) else (BLOCK_SIZE, BLOCK_SIZE)
        if seq_lengths is None:
            seq_lengths = (kv_indices.shape[-2] * block[0], kv_indices.shape[-1] * block[1])
        q_side = [None] * 4
        if compute_q_blocks:
            q_side[:2] = _ordered(_dense(kv_num_blocks, kv_indices).transpose(-2, -1))
            if full_kv_num_blocks is not None:
                q_side[2:] = _ordered(_dense(full_kv_num_blocks, full_kv_indices)
                                      .transpose(-2, -1))
        return cls(seq_lengths, kv_num_blocks, kv_indices, full_kv_num_blocks, full_kv_indices,
                   *q_side, BLOCK_SIZE=block, mask_mod=mask_mod or noop_mask)

    def as_tuple(self, flatten: bool = True) -> tuple:
        """The fields, in the constructor's order (BLOCK_SIZE split in two when flattening)."""
        block = self.BLOCK_SIZE if flatten else (self.BLOCK_SIZE,)
        return (*self.seq_lengths, self.kv_num_blocks, self.kv_indices, self.full_kv_num_blocks,
                self.full_kv_indices, self.q_num_blocks, self.q_indices,
                self.full_q_num_blocks, self.full_q_indices, *block, self.mask_mod)

    @property
    def shape(self) -> tuple[int, ...]:
        """(B, H, Q_LEN, KV_LEN)."""
        return (*self.kv_indices.shape[:-2], *self.seq_lengths)

    def numel(self) -> int:
        return math.prod(self.shape)

    def __getitem__(self, index) -> BlockMask:
        """The mask of some batches, heads or query blocks; an integer keeps its dim. The
        result's mask_mod raises, as PyTorch's does: it does not know the offsets."""
        index = index if isinstance(index, tuple) else (index,)
        index = tuple(slice(i, i + 1 or None) if isinstance(i, int) else i for i in index)

        def pick(t):
            return None if t is None else t[index]

        return BlockMask.from_kv_blocks(
            pick(self.kv_num_blocks), pick(self.kv_indices), pick(self.full_kv_num_blocks),
            pick(self.full_kv_indices), BLOCK_SIZE=self.BLOCK_SIZE,
            mask_mod=_sliced_mask_mod_error, seq_lengths=self.seq_lengths)

    def to_dense(self) -> Tensor:
        """The int32 (B, H, query blocks, key blocks) matrix: 1 where a block is visited."""
        dense = _dense(self.kv_num_blocks, self.kv_indices)
        if self.full_kv_num_blocks is not None:
            dense = dense | _dense(self.full_kv_num_blocks, self.full_kv_indices)
        return dense

    def sparsity(self) -> float:
        """The percentage of the (B, H, Q_LEN, KV_LEN) attention matrix in no visited block."""
        blocks = self.kv_num_blocks.sum().item()
        if self.full_kv_num_blocks is not None:
            blocks += self.full_kv_num_blocks.sum().item()
        return 100 * (1 - blocks * math.prod(self.BLOCK_SIZE) / self.numel())

    def to(self, device) -> BlockMask:
        """This mask with its tensors on ``device``."""
        fields = list(self.as_tuple(flatten=False))
        fields[2:10] = [None if t is None else t.to(device) for t in fields[2:10]]
        return BlockMask(tuple(fields[:2]), *fields[2:10], BLOCK_SIZE=fields[10],
                         mask_mod=fields[11])

    def to_string(self, grid_size=(20, 20), limit: int = 4) -> str:
        """A drawing of the visited blocks of the first ``limit`` (batch, head) pairs, at most
        ``grid_size`` blocks of each."""
        dense = self.to_dense()
        batches, heads = dense.shape[:2]
        rows, cols = (grid_size, grid_size) if isinstance(grid_size, int) else grid_size
        lines = [f"BlockMask(shape={self.shape}, sparsity={self.sparsity():.2f}%, "]
        pairs = [(b, h) for b in range(batches) for h in range(heads)]
        for b, h in pairs[:limit]:
            lines.append(f"({b}, {h})")
            for row in dense[b, h, :rows, :cols].tolist():
                lines.append("".join("██" if v else "  " for v in row))
            lines.append("")
        if len(pairs) > limit:
            lines.append("...\nTo print out more, set BlockMask.to_string(limit=N)")
        return "\n".join(lines) + ")"

    def __str__(self) -> str:
        return self.to_string()

    def __repr__(self) -> str:
        def describe(t):
            return "None" if t is None else str(t.shape)

        names = ("kv_num_blocks", "kv_indices", "full_kv_num_blocks", "full_kv_indices",
                 "q_num_blocks", "q_indices", "full_q_num_blocks", "full_q_indices")
        fields = [f"    {n}={describe(getattr(self, n))}," for n in names]
        mask_name = getattr(self.mask_mod, "__name__", repr(self.mask_mod))
        return ("BlockMask(\n" + "\n".join(fields) + f"\n    BLOCK_SIZE={self.BLOCK_SIZE},\n"
                f"    shape={self.shape},\n    sparsity={self.sparsity():.2f}%,\n"
                f"    mask_mod={mask_name}\n)")


def create_block_mask(mask_mod: _mask_mod_signature, B: int | None, H: int | None, Q_LEN: int,
                      KV_LEN: int, device=None,
                      BLOCK_SIZE: int | tuple[int, int] = _DEFAULT_SPARSE_BLOCK_SIZE,
                      _compile: bool = False, separate_full_blocks: bool = True) -> BlockMask:
    """The BlockMask of ``mask_mod`` over (B, H, Q_LEN, KV_LEN) (``B``/``H`` None: 1, shared by
    all): a block where the mask keeps every position is a full block (with
    ``separate_full_blocks``), one where it keeps some a partial block; the blocks past the
    sequence ends count their missing positions as masked."""
    if _is_score_mod(mask_mod):
        raise AssertionError("create_block_mask requires a mask_mod function! Got a score_mod")
    block_q, block_kv = BLOCK_SIZE if isinstance(BLOCK_SIZE, tuple) else (BLOCK_SIZE,) * 2
    keep = create_mask(mask_mod, B, H, Q_LEN, KV_LEN, device)
    rows, cols = -(-Q_LEN // block_q), -(-KV_LEN // block_kv)
    with ember.no_grad():
        padded = keep.new_zeros((*keep.shape[:2], rows * block_q, cols * block_kv))
        padded[..., :Q_LEN, :KV_LEN] = keep
        tiles = padded.view(*keep.shape[:2], rows, block_q, cols, block_kv)
        some, every = tiles.any(-1).any(-2), tiles.all(-1).all(-2)
        partial = (some & every.logical_not()) if separate_full_blocks else some
        kv_num, kv_idx = _ordered(partial)
        full_kv_num = full_kv_idx = None
        if separate_full_blocks:
            full_kv_num, full_kv_idx = _ordered(every)
        return BlockMask.from_kv_blocks(kv_num, kv_idx, full_kv_num, full_kv_idx,
                                        BLOCK_SIZE=(block_q, block_kv), mask_mod=mask_mod,
                                        seq_lengths=(Q_LEN, KV_LEN))


# --- flex_attention -----------------------------------------------------------------------------

def _validate(query: Tensor, key: Tensor, value: Tensor, block_mask: BlockMask | None,
              enable_gqa: bool) -> None:
    if query.ndim != 4 or key.ndim != 4 or value.ndim != 4:
        raise NotImplementedError("NYI: query, key, and value must be 4D tensors")
    if query.device != key.device or query.device != value.device:
        raise ValueError(f"Expected query, key, and value to have the same device type, but "
                         f"got query.device: {query.device}, key.device: {key.device}, and "
                         f"value.device: {value.device} instead.")
    if query.shape[0] != key.shape[0] and block_mask is None:
        raise ValueError(f"Expect query and key/value to have the same batch size, or non-none "
                         f"block_mask, but got block_mask=None, Bq={query.shape[0]}, and "
                         f"Bkv={key.shape[0]}.")
    heads_q, heads_kv = query.shape[1], key.shape[1]
    if heads_q != heads_kv and not enable_gqa:
        raise ValueError(f"Expect query and key/value to have the same number of heads but got "
                         f"Hq={heads_q} and Hkv={heads_kv}. Try setting enable_gqa=True for GQA.")
    if heads_q % heads_kv:
        raise ValueError(f"Expect number of query heads to be a multiple of kv heads for GQA "
                         f"but got Hq={heads_q} and Hkv={heads_kv}.")
    if query.shape[-1] != key.shape[-1]:
        raise ValueError(f"Expect query and key/value to have the same embedding dimension but "
                         f"got E={query.shape[-1]} and E={key.shape[-1]}.")
    lengths = (query.shape[-2], key.shape[-2])
    if block_mask is not None and tuple(block_mask.seq_lengths) != lengths:
        raise ValueError(f"block_mask was created for block_mask.shape={block_mask.shape} but "
                         f"got q_len={lengths[0]} and kv_len={lengths[1]}. Create a new "
                         f"block_mask for these lengths.")


def flex_attention(query: Tensor, key: Tensor, value: Tensor,
                   score_mod: _score_mod_signature | None = None,
                   block_mask: BlockMask | None = None, scale: float | None = None,
                   enable_gqa: bool = False, return_lse: bool = False,
                   kernel_options: FlexKernelOptions | None = None, *,
                   return_aux: AuxRequest | None = None):
    """softmax(score_mod(Q K^T * scale) masked by block_mask's mask_mod) V.

    Args:
        query: (B, Hq, L, E); key: (B, Hkv, S, E); value: (B, Hkv, S, Ev).
        score_mod: ``score_mod(score, b, h, q_idx, kv_idx)`` -> the modified score.
        block_mask: a ``BlockMask`` whose ``mask_mod(b, h, q_idx, kv_idx)`` is True where a
            query attends to a key.
        scale: defaults to 1/sqrt(E).
        enable_gqa: share each key/value head among Hq / Hkv query heads.
        return_lse: also return the log-sum-exp of each query's scores (deprecated for
            ``return_aux=AuxRequest(lse=True)``).
        kernel_options: options of PyTorch's compiled kernels; ignored.
        return_aux: which of ``AuxOutput``'s fields (lse, max_scores) to return.

    Returns: the output (B, Hq, L, Ev); with ``return_lse``, (output, lse (B, Hq, L)); with
    ``return_aux``, (output, AuxOutput). A query whose every key is masked gets zeros, an lse
    and a max score of -inf.
    """
    if return_lse and return_aux is not None:
        raise ValueError("Cannot specify both return_lse and return_aux. return_lse is "
                         "deprecated, please use return_aux=AuxRequest(lse=True) instead.")
    _validate(query, key, value, block_mask, enable_gqa)
    out_dtype = query.dtype
    if out_dtype in (ember.float16, ember.bfloat16):  # scores and softmax in float32
        query, key, value = query.float(), key.float(), value.float()
    heads_q, heads_kv = query.shape[1], key.shape[1]
    if heads_q != heads_kv:
        key = key.repeat_interleave(heads_q // heads_kv, dim=1)
        value = value.repeat_interleave(heads_q // heads_kv, dim=1)
    factor = 1 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = ember.matmul(query, key.transpose(-2, -1)) * factor
    index = _indices(*scores.shape, query.device)
    if score_mod is not None:
        modified = score_mod(scores, *index)
        # A function ignoring the score returns fewer dims: every position still has a score.
        scores = (modified if modified.shape == scores.shape
                  else ember.broadcast_to(modified, scores.shape))
    if block_mask is not None and block_mask.mask_mod is not noop_mask:
        scores = scores.masked_fill(_mask(block_mask.mask_mod, index).logical_not(), -math.inf)
    # A row whose every score is -inf takes the softmax of zeros, then is zeroed, so that its
    # gradient is finite (zero), as PyTorch's kernels give.
    dead = (scores == -math.inf).all(-1, keepdim=True)
    safe = scores.masked_fill(dead, 0.0)
    weights = ember.softmax(safe, -1).masked_fill(dead, 0.0)
    out = ember.matmul(weights, value).to(out_dtype)
    wants = return_aux or AuxRequest(lse=return_lse)
    lse = max_scores = None
    if wants.lse:
        lse = safe.logsumexp(-1).masked_fill(dead.squeeze(-1), -math.inf)
    if wants.max_scores:
        max_scores = scores.amax(-1).detach()  # not differentiable, as in PyTorch
    if return_aux is not None:
        return out, AuxOutput(lse, max_scores)
    return (out, lse) if return_lse else out
