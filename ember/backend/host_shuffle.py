"""PyTorch's two ``randperm`` shuffles replayed from their drawn indices without a Python loop.

NOTE [ Sequential swaps as groups and chains ]
Both shuffles are sequences of swaps in which each step reads one position and writes one
other, so each output is "the value last written to some position before some step". Sorting
the steps stably by the position they pick (their *target*) puts, for every position, the
steps that wrote it in order; a step's read is then its predecessor in that group, or the
position's initial value when it is first. Some of those predecessors carry a value that was
itself read from another position, which makes chains of strictly decreasing steps; pointer
jumping (``chain = chain[chain]``) resolves them in a logarithmic number of array passes. The
work is a radix sort and a few gathers, against one interpreted swap per element.
"""
from __future__ import annotations

import numpy as np


def swap_forward(targets: np.ndarray) -> np.ndarray:
    """The permutation that ``r = arange(n)`` becomes after swapping ``r[i]`` with
    ``r[targets[i]]`` for ``i = 0, 1, ..., n - 1`` in turn, where ``targets[i] >= i``
    (PyTorch's Fisher-Yates; its last step, ``targets[n - 1] = n - 1``, swaps nothing).

    Step ``i`` moves the value at ``targets[i]`` to ``r[i]`` (final: later steps target
    only higher positions) and there puts what ``r[i]`` held, which the last earlier step
    targeting ``i`` put there (or ``i`` itself, when none did).
    """
    n = targets.size
    steps = np.arange(n)
    order, grouped, first, counts = _group_by_target(targets)
    # held[i], what r[i] holds just before step i: i if no earlier step targeted i, else
    # what the last one (the last of i's group but i itself) held before it, a chain
    picked_self = targets == steps
    written = counts > picked_self
    ends = np.cumsum(counts)
    held = np.where(written, order[ends - 1 - picked_self], steps)
    held = _follow_chains(held, ~written)
    before = np.empty(n, np.intp)  # in grouped order: a step moves what its predecessor put
    before[:1] = 0
    before[1:] = held[order[:-1]]
    out = np.empty(n, np.int64)
    out[order] = np.where(first, grouped, before)
    return out


def inside_out(picks: np.ndarray) -> np.ndarray:
    """The permutation that the inside-out shuffle builds: for ``i = 0, 1, ..., n - 1`` in
    turn, ``r[i] = r[picks[i]]`` then ``r[picks[i]] = i``, where ``picks[i] <= i`` (PyTorch's
    variant for large ``n``).

    Step ``i`` leaves at ``i`` the value last written to ``picks[i]`` before it: ``m`` if
    step ``m`` precedes it in the group of ``picks[i]``, else (a chain) what step
    ``picks[i]`` left at ``picks[i]``, or ``i`` when ``picks[i] == i``. The final ``r[p]`` is
    the last step that picked ``p``, or what step ``p`` left when none did.
    """
    n = picks.size
    steps = np.arange(n)
    order, grouped, first, counts = _group_by_target(picks)
    before = np.empty(n, np.intp)
    before[:1] = 0
    before[1:] = order[:-1]
    left = np.empty(n, np.intp)
    left[order] = np.where(first, grouped, before)
    settled = np.empty(n, bool)
    settled[order] = ~first
    settled |= picks == steps  # where left holds i itself
    left = _follow_chains(left, settled)
    ends = np.cumsum(counts)
    return np.where(counts > 0, order[ends - 1], left).astype(np.int64, copy=False)


def _group_by_target(targets: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The steps sorted stably by target (two 16-bit passes: targets below 2^32), their
    targets in that order, whether each is the first of its target's group there, and the
    number of steps per target (0 .. n-1)."""
    order = np.argsort(targets.astype(np.uint16), kind="stable")  # NumPy radix-sorts 16 bits
    if targets.size > 1 << 16:
        high = (targets[order] >> 16).astype(np.uint16)
        order = order[np.argsort(high, kind="stable")]
    grouped = targets[order]
    first = np.empty(targets.size, bool)
    first[:1] = True
    np.not_equal(grouped[1:], grouped[:-1], out=first[1:])
    return order, grouped, first, np.bincount(targets, minlength=targets.size)


def _follow_chains(values: np.ndarray, settled: np.ndarray) -> np.ndarray:
    """For each ``i``: follow ``i -> values[i]`` through unsettled entries to a settled one
    ``j`` (every chain strictly decreasing) and take ``values[j]``; by pointer jumping."""
    steps = np.arange(values.size)
    link = np.where(settled, steps, values)
    while True:
        jumped = link[link]
        if np.array_equal(jumped, link):
            return values[link]
        link = jumped
