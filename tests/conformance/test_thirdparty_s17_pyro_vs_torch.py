"""Pyro on ember against the same script on real PyTorch: the script of
tests/acceptance/test_thirdparty_s17_pyro.py run under both, in fresh interpreters. With
PyTorch's random streams the same seeds give the same data, guide samples, particles, flow
weights, rsample draws and NUTS momenta and proposals, so every reported number (SVI losses and
param store values of every guide, log-densities, samples, Predictive draws, the enumerated
mixture's losses, NUTS's chain and adapted step size) agrees to float32 rounding. NUTS runs in
float64: float32 sums in NumPy's and PyTorch's orders differ in the last bit, and the
sampler's accept/reject and tree-doubling decisions turn such a bit into a different chain;
in float64 the chains agree to ~1e-12. Skips where pyro-ppl is not installed."""
from __future__ import annotations

import pytest

pytest.importorskip("torch")

from tests.acceptance.script_report import assert_reports_close, reports_under_both  # noqa: E402


def test_pyro_values_match_torch(tmp_path):
    got, expected = reports_under_both("test_thirdparty_s17_pyro", tmp_path)
    assert_reports_close(got, expected, rtol=1e-5, atol=1e-6)
