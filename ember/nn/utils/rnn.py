"""Variable-length sequences for the recurrent layers: PackedSequence and its converters.

A PackedSequence stores the time steps of a batch sorted by decreasing length, one after the
other: ``data`` holds step 0 of every sequence, then step 1 of those at least 2 long, and so on;
``batch_sizes[t]`` is how many sequences are still running at step t.
"""
from __future__ import annotations

from typing import NamedTuple

from ember._creation import tensor
from ember._tensor import Tensor, _make
from ember.backend.device import get_array_module
from ember.ops.indexing import index_put
from ember.ops.movement import stack

__all__ = ["PackedSequence", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence",
           "pack_sequence", "unpad_sequence", "unpack_sequence", "invert_permutation"]


class PackedSequence(NamedTuple):
    """Packed time steps: ``data`` (sum(lengths), *), ``batch_sizes`` (T,) int64 on the CPU,
    and the permutation that sorted the batch (None when it was given sorted)."""

    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None = None
    unsorted_indices: Tensor | None = None

    def to(self, *args, **kwargs) -> "PackedSequence":
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        sorted_indices, unsorted_indices = (None if t is None else t.to(data.device)
                                            for t in (self.sorted_indices,
                                                      self.unsorted_indices))
        return type(self)(data, self.batch_sizes, sorted_indices, unsorted_indices)

    def cpu(self) -> "PackedSequence":
        return self.to("cpu")

    def cuda(self, *args, **kwargs) -> "PackedSequence":
        return self.to("cuda")

    def double(self) -> "PackedSequence":
        return self._replace(data=self.data.double())

    def float(self) -> "PackedSequence":
        return self._replace(data=self.data.float())

    @property
    def is_cuda(self) -> bool:
        return self.data.is_cuda

    def is_pinned(self) -> bool:
        return False


def invert_permutation(permutation: Tensor | None) -> Tensor | None:
    if permutation is None:
        return None
    xp = get_array_module(permutation._data)
    inverse = xp.empty_like(permutation._data)
    inverse[permutation._data] = xp.arange(permutation.numel())
    return _make(inverse)


def _lengths_list(lengths) -> list:
    if isinstance(lengths, Tensor):
        if lengths.ndim != 1:
            raise RuntimeError(f"'lengths' argument should be a 1D CPU int64 tensor, but got "
                               f"{lengths.ndim}D")
        return [int(v) for v in lengths.tolist()]
    return [int(v) for v in lengths]


def _packed_rows(lengths: list, batch: int) -> tuple:
    """The time-major flat rows (t * batch + b) that packing keeps, and the batch sizes."""
    batch_sizes = [sum(1 for n in lengths if n > t) for t in range(max(lengths))]
    rows = [t * batch + b for t, size in enumerate(batch_sizes) for b in range(size)]
    return rows, batch_sizes


def pack_padded_sequence(input: Tensor, lengths, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Packs a padded batch (T, B, *) ((B, T, *) with batch_first) of sequences of ``lengths``.

    Example::

        >>> x = ember.randn(3, 2, 4)
        >>> pack_padded_sequence(x, [3, 1]).batch_sizes.tolist()
        [2, 1, 1]
    """
    lengths = _lengths_list(lengths)
    if any(n <= 0 for n in lengths):
        raise RuntimeError("Length of all samples has to be greater than 0, but found an "
                           "element in 'lengths' that is <= 0")
    sorted_indices = None
    if enforce_sorted:
        if any(a < b for a, b in zip(lengths, lengths[1:])):
            raise RuntimeError("`lengths` array must be sorted in decreasing order when "
                               "`enforce_sorted` is True. You can pass `enforce_sorted=False` "
                               "to pack_padded_sequence and/or pack_sequence to sidestep this "
                               "requirement if you do not need ONNX exportability.")
    else:
        order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
        sorted_indices = tensor(order, device=input.device)
        lengths = [lengths[i] for i in order]
        input = input.index_select(0 if batch_first else 1, sorted_indices)
    if batch_first:
        input = input.transpose(0, 1)
    steps, batch = input.shape[:2]
    if max(lengths) > steps:
        raise RuntimeError(f"pack_padded_sequence: a length of {max(lengths)} exceeds the "
                           f"{steps} padded steps")
    rows, batch_sizes = _packed_rows(lengths, batch)
    flat = input.reshape((steps * batch,) + tuple(input.shape[2:]))
    data = flat[tensor(rows, device=input.device)]
    return PackedSequence(data, tensor(batch_sizes), sorted_indices,
                          invert_permutation(sorted_indices))


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False,
                        padding_value: float = 0.0, total_length: int | None = None):
    """The inverse of :func:`pack_padded_sequence`: (padded (T, B, *), lengths (B,) int64)."""
    batch_sizes = [int(b) for b in sequence.batch_sizes.tolist()]
    batch = batch_sizes[0]
    steps = len(batch_sizes)
    if total_length is not None:
        if total_length < steps:
            raise ValueError(f"Expected total_length to be at least the length of the longest "
                             f"sequence in input, but got total_length={total_length} and max "
                             f"sequence length being {steps}")
        steps = total_length
    lengths = [sum(1 for b in batch_sizes if b > i) for i in range(batch)]
    rows, _ = _packed_rows(lengths, batch)
    data = sequence.data
    feat = tuple(data.shape[1:])
    base = data.new_full((steps * batch,) + feat, padding_value)
    out = index_put(base, (tensor(rows, device=data.device),), data)
    out = out.reshape((steps, batch) + feat)
    lengths_t = tensor(lengths)
    if sequence.unsorted_indices is not None:
        out = out.index_select(1, sequence.unsorted_indices)
        lengths_t = lengths_t[sequence.unsorted_indices.cpu()]
    if batch_first:
        out = out.transpose(0, 1)
    return out, lengths_t


def pad_sequence(sequences, batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right") -> Tensor:
    """Stacks sequences of shape (L_i, *) into (T, B, *) ((B, T, *) with batch_first)."""
    from ember.nn.functional import pad

    if padding_side not in ("left", "right"):
        raise ValueError(f"Expected padding_side to be one of left or right, but got "
                         f"{padding_side}.")
    longest = max(s.shape[0] for s in sequences)
    padded = []
    for s in sequences:
        extra = longest - s.shape[0]
        widths = [0, 0] * (s.ndim - 1) + ([0, extra] if padding_side == "right" else [extra, 0])
        padded.append(pad(s, widths, value=padding_value) if extra else s)
    return stack(padded, 0 if batch_first else 1)


def unpad_sequence(padded_sequences: Tensor, lengths, batch_first: bool = False) -> list:
    """Splits a padded batch back into its sequences."""
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    return [padded_sequences[i, :n] for i, n in enumerate(_lengths_list(lengths))]


def pack_sequence(sequences, enforce_sorted: bool = True) -> PackedSequence:
    """Packs a list of (L_i, *) sequences."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences: PackedSequence) -> list:
    """The list of sequences a PackedSequence holds."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
