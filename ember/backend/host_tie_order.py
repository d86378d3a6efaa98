"""PyTorch's CPU order among equal elements in sort(stable=False), topk and kthvalue.

PyTorch sorts on the CPU with libstdc++'s std::sort (introsort), selects topk with
std::partial_sort (k * 64 <= n) or std::nth_element then std::sort, and kthvalue with the
Sedgewick quickselect in ATen's Sorting.cpp (mode, too, reads std::sort's order). Where a row
has no equal elements every algorithm gives the stable order, which NumPy computes; only rows
whose ties reach the result are replayed here. A partition needs no Python loop: the left
scan's stops are the elements not below the pivot, the right scan's those not above it, and
the k-th stops swap while they have not crossed. The runs of all those rows at one depth are
partitioned together, as a few NumPy calls.

Keys are ranks in the comparator's order (equal values share one, NaN ranks as PyTorch's
comparators put it), so ``a < b`` is the comparator for every dtype.
"""
from __future__ import annotations

import numpy as np

from ember.backend.device import MetaArray

# ATen's GRAIN_SIZE: a 1-D integer ascending sort at least this long runs FBGEMM's radix sort,
# which is stable.
_RADIX_MIN = 32768
_INSERTION_MAX = 16  # libstdc++'s _S_threshold: std::sort leaves runs this short to insertion


def _equal_neighbours(rows, order):
    """Per row of ``rows`` (2-D) sorted by ``order`` (its stable sort in the comparator's
    direction), where a value equals the next (NaN equalling NaN)."""
    s = np.take_along_axis(rows, order, 1)
    same = s[:, 1:] == s[:, :-1]
    if s.dtype.kind not in "iub":
        same |= np.isnan(s[:, 1:]) & np.isnan(s[:, :-1])
    return same


def _ranks(order, same):
    """Each row's elements (2-D) ranked in ``order``, equal values sharing one: the
    comparator's ``a < b`` is then ``rank[a] < rank[b]``."""
    ranks = np.zeros(order.shape, np.int64)
    np.put_along_axis(ranks, order[:, 1:], np.cumsum(~same, 1), 1)
    return ranks


def _swap(key, idx, i, j) -> None:
    key[i], key[j] = key[j], key[i]
    idx[i], idx[j] = idx[j], idx[i]


def _stable_run(key, idx, first: int, last: int) -> None:
    """Insertion sort of [first, last): a stable sort of what the partitions left."""
    order = np.argsort(key[first:last], kind="stable") + first
    key[first:last] = key[order]
    idx[first:last] = idx[order]


# ----------------------------------------------------------------------------------------------
# libstdc++'s heap functions (used by partial_sort, and by introsort past its depth limit)

def _push_heap(key, idx, hole: int, top: int, value) -> None:
    parent = (hole - 1) // 2
    while hole > top and key[parent] < value[0]:
        key[hole], idx[hole] = key[parent], idx[parent]
        hole = parent
        parent = (hole - 1) // 2
    key[hole], idx[hole] = value


def _adjust_heap(key, idx, first: int, hole: int, length: int, value) -> None:
    """The heap of ``length`` elements at ``first`` with a hole at ``hole`` filled by
    ``value``: the hole sinks to a leaf along the larger children, then ``value`` rises."""
    top = hole
    child = hole
    while child < (length - 1) // 2:
        child = 2 * (child + 1)
        if key[first + child] < key[first + child - 1]:
            child -= 1
        key[first + hole], idx[first + hole] = key[first + child], idx[first + child]
        hole = child
    if length % 2 == 0 and child == (length - 2) // 2:
        child = 2 * (child + 1)
        key[first + hole], idx[first + hole] = key[first + child - 1], idx[first + child - 1]
        hole = child - 1
    view_key, view_idx = key[first:first + length], idx[first:first + length]
    _push_heap(view_key, view_idx, hole, top, value)


def _pop_heap(key, idx, first: int, last: int, result: int) -> None:
    value = (key[result], idx[result])
    key[result], idx[result] = key[first], idx[first]
    _adjust_heap(key, idx, first, 0, last - first, value)


def _make_heap(key, idx, first: int, last: int) -> None:
    length = last - first
    for parent in range((length - 2) // 2, -1, -1):
        _adjust_heap(key, idx, first, parent, length, (key[first + parent], idx[first + parent]))


def _heap_select(key, idx, first: int, middle: int, last: int) -> None:
    """The ``middle - first`` least elements into a heap at ``first``; each later element less
    than the heap's top replaces it. The top only falls, so each block's candidates are found
    against the top at the block's start and checked again one by one."""
    _make_heap(key, idx, first, middle)
    block = 4096
    for start in range(middle, last, block):
        stop = min(start + block, last)
        for i in np.flatnonzero(key[start:stop] < key[first]) + start:
            if key[i] < key[first]:
                _pop_heap(key, idx, first, middle, i)


def _sort_heap(key, idx, first: int, last: int) -> None:
    while last - first > 1:
        last -= 1
        _pop_heap(key, idx, first, last, last)


# ----------------------------------------------------------------------------------------------
# libstdc++'s introsort and introselect

def _positions(lo, hi):
    """The positions of the runs [lo, hi) (none empty) in order, the run of each, and where
    each run starts among them."""
    lengths = hi - lo
    run = np.repeat(np.arange(lo.size), lengths)
    starts = np.cumsum(lengths) - lengths
    return np.arange(lengths.sum()) - starts[run] + lo[run], run, starts


class _Scans:
    """Two scans meeting in each of ``runs`` runs: the left one stops at ``left`` (positions
    in order, run by run), the right one at ``right`` (the same, taken from the end). Their
    k-th stops pair up for k below the shorter count, which must be at least 1."""

    def __init__(self, left, left_run, right, right_run, runs: int) -> None:
        self.left, self.right = left, right
        self.n_left = np.bincount(left_run, minlength=runs)
        self.n_right = np.bincount(right_run, minlength=runs)
        self.first_left = np.cumsum(self.n_left) - self.n_left
        self.end_right = np.cumsum(self.n_right)
        self.pairs = np.minimum(self.n_left, self.n_right)
        self.first_pair = np.cumsum(self.pairs) - self.pairs
        self.pair_run = np.repeat(np.arange(runs), self.pairs)
        self.k = np.arange(self.pairs.sum()) - self.first_pair[self.pair_run]

    def paired(self):
        """The k-th left and k-th right stops of every pair."""
        run = self.pair_run
        return (self.left[self.first_left[run] + self.k],
                self.right[self.end_right[run] - 1 - self.k])

    def first(self, mask):
        """Per run, the first pair where ``mask`` holds, else the pair count."""
        return np.minimum.reduceat(np.where(mask, self.k, self.pairs[self.pair_run]),
                                   self.first_pair)

    def left_at(self, k, missing):
        ok = (k >= 0) & (k < self.n_left)
        at = self.first_left + np.clip(k, 0, np.maximum(self.n_left - 1, 0))
        return np.where(ok, self.left[np.minimum(at, self.left.size - 1)], missing)

    def right_at(self, k, missing):
        ok = (k >= 0) & (k < self.n_right)
        at = self.end_right - 1 - np.clip(k, 0, np.maximum(self.n_right - 1, 0))
        return np.where(ok, self.right[np.clip(at, 0, self.right.size - 1)], missing)


def _swap_runs(key, idx, a, b) -> None:
    key[a], key[b] = key[b], key[a]
    idx[a], idx[b] = idx[b], idx[a]


def _partition_runs(key, idx, lo, hi):
    """std::__unguarded_partition_pivot of each run [lo, hi) (more than 3 long) at once: the
    median of lo + 1, the middle and hi - 1 to lo, then [lo + 1, hi) partitioned around it;
    returns the cuts."""
    a, b, c = lo + 1, lo + (hi - lo) // 2, hi - 1
    ka, kb, kc = key[a], key[b], key[c]
    pick = np.where(ka < kb, np.where(kb < kc, b, np.where(ka < kc, c, a)),
                    np.where(ka < kc, a, np.where(kb < kc, c, b)))
    _swap_runs(key, idx, lo, pick)
    # The k-th left stop (not less than the pivot) swaps with the k-th right stop (not
    # greater) while they have not crossed.
    pos, run, _ = _positions(lo + 1, hi)
    values, pivot = key[pos], key[lo][run]
    up, down = values >= pivot, values <= pivot
    scans = _Scans(pos[up], run[up], pos[down], run[down], lo.size)
    left, right = scans.paired()
    crossed = scans.first(left >= right)
    swap = scans.k < crossed[scans.pair_run]
    _swap_runs(key, idx, left[swap], right[swap])
    # The scans stop at the first stop past the swaps, or at what the last swap put there.
    beyond = key.size
    return np.minimum(scans.left_at(crossed, beyond), scans.right_at(crossed - 1, beyond))


def _introsort_runs(key, idx, lo, hi) -> None:
    """std::sort's partitioning (its __introsort_loop) of each run [lo, hi) of ``key``, every
    run of one depth at once; the insertion sort that follows is the caller's. A run without
    two equal keys sorts to one order however it is partitioned: it is left as it is."""
    tied = np.bincount(key) > 1
    depth = 2 * (np.frexp(hi - lo)[1] - 1)  # 2 * floor(log2(n))
    while lo.size:
        pos, run, starts = _positions(lo, hi)
        busy = (hi - lo > _INSERTION_MAX) & (np.add.reduceat(tied[key[pos]], starts) > 1)
        for r in np.flatnonzero(busy & (depth == 0)):  # past the depth limit: heapsort
            _make_heap(key, idx, lo[r], hi[r])
            _sort_heap(key, idx, lo[r], hi[r])
        busy &= depth > 0
        lo, hi, depth = lo[busy], hi[busy], depth[busy] - 1
        if not lo.size:
            return
        cut = _partition_runs(key, idx, lo, hi)
        lo, hi = np.concatenate([lo, cut]), np.concatenate([cut, hi])
        depth = np.concatenate([depth, depth])


def _nth_element_runs(key, idx, lo, hi, nth) -> None:
    """std::nth_element (its __introselect) on each run [lo, hi) for position ``nth`` in it,
    every run at once: partition, keep the side holding nth, insertion sort the last 3."""
    depth = 2 * (np.frexp(hi - lo)[1] - 1)
    done_lo, done_hi = [lo[:0]], [hi[:0]]
    while lo.size:
        busy = hi - lo > 3
        for r in np.flatnonzero(busy & (depth == 0)):  # past the depth limit: heap select
            _heap_select(key, idx, lo[r], nth[r] + 1, hi[r])
            _swap(key, idx, lo[r], nth[r])
        done_lo.append(lo[~busy])
        done_hi.append(hi[~busy])
        busy &= depth > 0
        lo, hi, nth, depth = lo[busy], hi[busy], nth[busy], depth[busy] - 1
        if lo.size:
            cut = _partition_runs(key, idx, lo, hi)
            lo, hi = np.where(cut <= nth, cut, lo), np.where(cut <= nth, hi, cut)
    for first, last in zip(np.concatenate(done_lo), np.concatenate(done_hi)):
        _stable_run(key, idx, first, last)


# ----------------------------------------------------------------------------------------------
# ATen's quickselect (kthvalue)

def _quickselect_runs(key, idx, lo, hi, k) -> None:
    """Sedgewick's quickselect as ATen's kthvalue runs it, on each run [lo, hi] (hi
    included) for its position ``k``, every run at once."""
    while lo.size:
        two = (hi == lo + 1) & (key[lo] > key[np.minimum(hi, key.size - 1)])
        _swap_runs(key, idx, lo[two], hi[two])
        busy = hi > lo + 1
        lo, hi, k = lo[busy], hi[busy], k[busy]
        if not lo.size:
            return
        _swap_runs(key, idx, (lo + hi) >> 1, lo + 1)  # the median of three, to lo
        for a, b in ((lo + 1, hi), (lo, hi), (lo + 1, lo)):
            wrong = key[a] > key[b]
            _swap_runs(key, idx, a[wrong], b[wrong])
        # i stops where key >= pivot (from lo + 2), j where key <= pivot (from hi - 1 down);
        # they swap until j < i, an equal stop swapping with itself once more.
        pos, run, _ = _positions(lo + 1, hi + 1)
        values, pivot = key[pos], key[lo][run]
        up = (values >= pivot) & (pos >= lo[run] + 2)
        down = (values <= pivot) & (pos < hi[run])
        scans = _Scans(pos[up], run[up], pos[down], run[down], lo.size)
        i_stops, j_stops = scans.paired()
        m = scans.first(i_stops >= j_stops)
        equal = (m < scans.pairs) & (scans.left_at(m, -1) == scans.right_at(m, -2))
        i = np.minimum(scans.left_at(m + equal, key.size), scans.right_at(m - 1, key.size))
        j = np.maximum(scans.right_at(m + equal, -1), scans.left_at(m - 1, -1))
        swap = scans.k < m[scans.pair_run]
        _swap_runs(key, idx, i_stops[swap], j_stops[swap])
        _swap_runs(key, idx, lo, j)
        lo, hi = np.where(j <= k, i, lo), np.where(j >= k, j - 1, hi)


# ----------------------------------------------------------------------------------------------
# The ops' entry points: arrays of any module, ``order`` the stable order along ``dim``

def _rows(a, order, dim: int):
    """``a`` and ``order`` as (rows, n) with ``dim`` last, and how to put a result back."""
    moved = np.moveaxis(a, dim, -1)
    shape = moved.shape
    flat = moved.reshape(-1, shape[-1]) if shape[-1] else moved.reshape(-1, 0)
    flat_order = np.moveaxis(order, dim, -1).reshape(flat.shape)
    return flat, flat_order, shape


def _has_values(a) -> bool:
    """A host array with values to compare (not a GPU array, not a meta array)."""
    return isinstance(a, np.ndarray) and not isinstance(a, MetaArray)


def sort_ties(a, order, dim: int, descending: bool):
    """``order`` (the stable sort of ``a`` along ``dim``) as sort(stable=False) leaves ties."""
    if not _has_values(a) or a.shape[dim] <= _INSERTION_MAX:
        return order  # on a GPU the stable order stands; insertion sort alone is stable
    if a.strides[dim] == 0:  # PyTorch leaves a broadcast dim's indices as they are
        return order
    if a.ndim == 1 and not descending and a.dtype.kind in "iu" and a.size >= _RADIX_MIN:
        return order
    rows, flat_order, shape = _rows(a, order, dim)
    same = _equal_neighbours(rows, flat_order)
    tied = np.flatnonzero(same.any(1))
    if tied.size == 0:
        return order
    # All tied rows at once, as runs of one array: ranks offset per row keep rows apart.
    n = rows.shape[1]
    starts = np.arange(tied.size) * n
    key = (_ranks(flat_order[tied], same[tied]) + starts[:, None]).ravel()
    idx = np.tile(np.arange(n), tied.size)
    _introsort_runs(key, idx, starts, starts + n)
    result = flat_order.copy()
    result[tied] = idx[np.argsort(key, kind="stable")].reshape(tied.size, n)
    return np.moveaxis(result.reshape(shape), -1, dim)


def topk_ties(a, order, dim: int, k: int):
    """The first ``k`` of ``order`` (the stable sort of ``a`` along ``dim`` in topk's
    direction) as PyTorch's CPU topk picks and orders tied elements. Unsorted, the picks
    come sorted (PyTorch leaves them as std::nth_element did, an order it does not promise)."""
    taken = order[(slice(None),) * dim + (slice(0, k),)]
    if not _has_values(a) or k == 0:
        return taken
    rows, flat_order, shape = _rows(a, order, dim)
    n = rows.shape[1]
    same = _equal_neighbours(rows, flat_order)
    tied = np.flatnonzero(same[:, :k].any(1))  # ties among the first k or at the k-th
    if tied.size == 0:
        return taken
    result = flat_order[:, :k].copy()
    keys = _ranks(flat_order[tied], same[tied])
    idx = np.broadcast_to(np.arange(n), keys.shape).copy()
    if k * 64 <= n:  # std::partial_sort, row by row
        for key, row in zip(keys, idx):
            _heap_select(key, row, 0, k, n)
            _sort_heap(key, row, 0, k)
    else:  # std::nth_element, then std::sort of the k - 1 before the k-th; rows as runs
        starts = np.arange(tied.size) * n
        keys, idx = keys.ravel(), idx.ravel()
        _nth_element_runs(keys, idx, starts, starts + n, starts + k - 1)
        if k > 2:
            _introsort_runs(keys, idx, starts, starts + k - 1)
        keys, idx = keys.reshape(-1, n), idx.reshape(-1, n)
        head = np.argsort(keys[:, :k - 1], axis=1, kind="stable")  # the insertion sort
        idx[:, :k - 1] = np.take_along_axis(idx[:, :k - 1], head, 1)
    result[tied] = idx[:, :k]
    return np.moveaxis(result.reshape(shape[:-1] + (k,)), -1, dim)


def kthvalue_ties(a, order, dim: int, k: int):
    """The index of the k-th smallest along ``dim`` (``order``: the stable ascending sort) as
    PyTorch's CPU kthvalue picks it among equal values."""
    picked = order[(slice(None),) * dim + (k - 1,)]
    if not _has_values(a):
        return picked
    rows, flat_order, shape = _rows(a, order, dim)
    same = _equal_neighbours(rows, flat_order)
    n = rows.shape[1]
    # Only rows where the k-th value has an equal neighbour in sorted order.
    near = np.zeros(rows.shape[0], bool)
    if k - 1 < n - 1:
        near |= same[:, k - 1]
    if k - 2 >= 0:
        near |= same[:, k - 2]
    tied = np.flatnonzero(near)
    if tied.size == 0:
        return picked
    result = flat_order[:, k - 1].copy()
    starts = np.arange(tied.size) * n
    keys = _ranks(flat_order[tied], same[tied]).ravel()
    idx = np.tile(np.arange(n), tied.size)
    _quickselect_runs(keys, idx, starts, starts + n - 1, starts + k - 1)
    result[tied] = idx[starts + k - 1]
    return result.reshape(shape[:-1])


def mode_indices(rows, values):
    """Where PyTorch's CPU mode reports each row's mode ``values[r]`` (``rows``: 2-D, on the
    host): the last of its run once std::sort has ordered the row by value. A row with NaN
    (which std::sort's ``<`` cannot place) keeps the last occurrence."""
    hits = (rows != rows) if rows.dtype.kind not in "iub" else np.zeros(rows.shape, bool)
    hits = np.where(values[:, None] != values[:, None], hits, rows == values[:, None])
    n = rows.shape[1]
    result = n - 1 - np.argmax(hits[:, ::-1], 1)  # the last occurrence
    replay = hits.sum(1) > 1
    if n <= _INSERTION_MAX:
        return result
    if rows.dtype.kind not in "iub":
        replay &= ~np.isnan(rows).any(1)
    chosen = np.flatnonzero(replay)
    if chosen.size == 0:
        return result
    order = np.argsort(rows[chosen], axis=1, kind="stable")
    starts = np.arange(chosen.size) * n
    ranks = _ranks(order, _equal_neighbours(rows[chosen], order))
    run = ranks[np.arange(chosen.size), np.argmax(hits[chosen], 1)]
    key = (ranks + starts[:, None]).ravel()
    idx = np.tile(np.arange(n), chosen.size)
    _introsort_runs(key, idx, starts, starts + n)
    ordered = idx[np.argsort(key, kind="stable")].reshape(chosen.size, n)
    last = (ranks <= run[:, None]).sum(1) - 1  # the run's end in sorted order
    result[chosen] = ordered[np.arange(chosen.size), last]
    return result
