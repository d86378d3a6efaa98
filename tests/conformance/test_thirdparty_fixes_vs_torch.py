"""Conformance: fixes found running third-party PyTorch code (tests/acceptance/test_thirdparty_*)
checked against real PyTorch."""

import itertools

import pytest

torch = pytest.importorskip("torch")

import ember  # noqa: E402


def test_sampler_with_replacement_is_lazy_for_huge_num_samples():
    """makemore's "infinite" loader: ``RandomSampler(ds, replacement=True,
    num_samples=int(1e10))`` must draw indices as they are consumed, not all up front."""
    data = list(range(50))
    sampler = ember.utils.data.RandomSampler(data, replacement=True, num_samples=int(1e10))
    ref = torch.utils.data.RandomSampler(data, replacement=True, num_samples=int(1e10))
    assert len(sampler) == len(ref)
    drawn = list(itertools.islice(sampler, 10_000))
    assert len(drawn) == 10_000 and all(isinstance(i, int) and 0 <= i < 50 for i in drawn)
    assert len(set(drawn)) == 50  # uniform draws cover every index

    loader = ember.utils.data.DataLoader(ember.arange(50.0), sampler=sampler, batch_size=16)
    ref_loader = torch.utils.data.DataLoader(torch.arange(50.0), sampler=ref, batch_size=16)
    assert len(loader) == len(ref_loader)
    assert next(iter(loader)).shape == next(iter(ref_loader)).shape


def test_sampler_with_replacement_counts_and_reproducibility():
    """Chunked drawing still yields exactly ``num_samples`` indices (across chunk edges), and a
    seeded generator repeats them."""
    for n in (1, 4095, 4096, 4097, 9000):
        gen = ember.Generator().manual_seed(3)
        first = list(ember.utils.data.RandomSampler(range(7), replacement=True, num_samples=n,
                                                    generator=gen))
        gen.manual_seed(3)
        again = list(ember.utils.data.RandomSampler(range(7), replacement=True, num_samples=n,
                                                    generator=gen))
        ref = list(torch.utils.data.RandomSampler(range(7), replacement=True, num_samples=n))
        assert len(first) == len(ref) == n and first == again


def test_weighted_sampler_with_replacement_is_lazy():
    weights = [0.0, 1.0, 3.0]
    sampler = ember.utils.data.WeightedRandomSampler(weights, int(1e10))
    ref = torch.utils.data.WeightedRandomSampler(weights, int(1e10))
    assert len(sampler) == len(ref)
    drawn = list(itertools.islice(sampler, 8000))
    assert 0 not in drawn and 0.7 < drawn.count(2) / len(drawn) < 0.8
    # Without replacement the draws are still distinct.
    assert sorted(ember.utils.data.WeightedRandomSampler(weights, 2, replacement=False)) == [1, 2]
