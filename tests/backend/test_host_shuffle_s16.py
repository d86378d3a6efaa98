"""The array replays of PyTorch's randperm shuffles equal the shuffles run step by step."""
import numpy as np
import pytest

from ember.backend import host_shuffle


def swaps_one_by_one(targets):
    r = list(range(len(targets)))
    for i, j in enumerate(targets.tolist()):
        r[i], r[j] = r[j], r[i]
    return r


def inside_out_one_by_one(picks):
    r = [0] * len(picks)
    for i, z in enumerate(picks.tolist()):
        r[i] = r[z]
        r[z] = i
    return r


# 65,537 needs the second radix pass (targets above 16 bits)
@pytest.mark.parametrize("n", [0, 1, 2, 3, 5, 16, 17, 300, 65_537])
def test_replays_equal_the_step_by_step_shuffles(n):
    rng = np.random.default_rng(n)
    for _ in range(20 if n < 1000 else 1):
        steps = np.arange(n)
        targets = steps + rng.integers(0, 2 ** 32, n) % (n - steps)
        assert host_shuffle.swap_forward(targets).tolist() == swaps_one_by_one(targets)
        picks = rng.integers(0, 2 ** 62, n) % (steps + 1)
        assert host_shuffle.inside_out(picks).tolist() == inside_out_one_by_one(picks)


def test_long_chains_resolve():
    # every step targets the next position: the value 0 travels all the way to the end
    n = 1000
    targets = np.minimum(np.arange(n) + 1, n - 1)
    assert host_shuffle.swap_forward(targets).tolist() == swaps_one_by_one(targets)
    picks = np.maximum(np.arange(n) - 1, 0)
    assert host_shuffle.inside_out(picks).tolist() == inside_out_one_by_one(picks)


def test_large_n_takes_64_bit_draws_and_the_inside_out_shuffle(monkeypatch):
    from ember.backend import host_random
    monkeypatch.setattr(host_random, "_INSIDE_OUT_FROM", 10)  # PyTorch's is 214,748,364
    draws, reference = host_random.HostDraws(5), host_random.HostDraws(5)
    steps = np.arange(8)
    targets = np.append(reference.words(8) % (9 - steps) + steps, 8)
    assert draws.permutation(9).tolist() == swaps_one_by_one(targets)
    picks = reference.words64(40) % np.arange(1, 41, dtype=np.uint64)
    assert draws.permutation(40).tolist() == inside_out_one_by_one(picks)
    assert draws.words(3).tolist() == reference.words(3).tolist()
