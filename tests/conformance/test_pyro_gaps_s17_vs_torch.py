"""Gaps Pyro found, against real PyTorch: Cholesky of matrices with NaNs (LAPACK's info and
partial factor), and the KL registry's choice among classes outside the Distribution
hierarchy."""
from __future__ import annotations

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("seed", range(6))
def test_cholesky_ex_with_nans_matches_torch(seed):
    rng = np.random.default_rng(seed)
    root = rng.standard_normal((3, 4, 4))
    matrices = root @ root.transpose(0, 2, 1) + 4 * np.eye(4)
    for batch, (i, j) in enumerate(rng.integers(0, 4, (3, 2))):
        matrices[batch, i, j] = matrices[batch, j, i] = np.nan
    got = ember.linalg.cholesky_ex(ember.tensor(matrices))
    expected = torch.linalg.cholesky_ex(torch.tensor(matrices))
    np.testing.assert_array_equal(got.info.numpy(), expected.info.numpy())
    np.testing.assert_allclose(got.L.numpy(), expected.L.numpy(), rtol=1e-12, equal_nan=True)


def test_kl_dispatch_among_unrelated_classes_matches_torch():
    results = []
    for lib in (ember, torch):
        class Mixin:
            pass

        class Mixed(Mixin, lib.distributions.Exponential):
            pass

        class Plain(Mixin, lib.distributions.Distribution):
            arg_constraints: dict = {}

        lib.distributions.register_kl(Mixin, Mixin)(lambda p, q, lib=lib: lib.ones(()))
        # (Mixin, Mixin) and (Exponential, Exponential) are unrelated: the earlier registered wins
        results.append([lib.distributions.kl_divergence(Mixed(1.0), Mixed(2.0)).item(),
                        lib.distributions.kl_divergence(Plain(), Plain()).item()])
    assert results[0] == pytest.approx(results[1]) and results[0][1] == 1.0
