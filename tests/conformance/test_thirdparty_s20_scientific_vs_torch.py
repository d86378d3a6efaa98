"""geoopt, torchcde, laplace-torch and sbi on ember against the same scripts on real PyTorch:
each script of tests/acceptance/test_thirdparty_s20_scientific.py run under both, in fresh
interpreters. ember's CPU generator reproduces PyTorch's streams, so the same seeds give the
same data, initial weights, minibatch orders and samples, and the numbers agree to rounding:
float64 rounding for geoopt, torchcde and laplace-torch (their scripts run in double), float32
rounding grown by training for sbi. Each library's test skips where it is not installed."""
from __future__ import annotations

import pytest

pytest.importorskip("torch")

from tests.acceptance import script_report  # noqa: E402
from tests.acceptance.script_report import assert_reports_close  # noqa: E402


def _reports(library: str, tmp_path) -> tuple[dict, dict]:
    """(ember's report, PyTorch's report) of ``library``'s acceptance script."""
    from tests.acceptance import test_thirdparty_s20_scientific as acceptance
    return (acceptance.run_script(library, "-m", "ember.compat", tmp_path=tmp_path),
            acceptance.run_script(library, *script_report.pytorch_prefix(), tmp_path=tmp_path))


def test_geoopt_values_match_torch(tmp_path):
    got, expected = _reports("geoopt", tmp_path)
    # up to 150 Riemannian Adam/SGD steps (QR retractions, Cayley transforms) in float64:
    # matmul summation orders differ by ulps, which the optimisations carry (~1e-15) but do
    # not grow
    assert_reports_close(got, expected, rtol=1e-10, atol=1e-12)


def test_torchcde_values_match_torch(tmp_path):
    got, expected = _reports("torchcde", tmp_path)
    got_closed, expected_closed = got.pop("closed_form"), expected.pop("closed_form")
    # spline coefficients (tridiagonal solves) and fixed-step rk4 solves in float64
    assert_reports_close(got, expected, rtol=1e-10, atol=1e-12)
    # dopri5's accepted steps depend on its error estimates, which ulp differences move, so
    # that solve agrees to its tolerance (rtol 1e-10), not to rounding
    assert_reports_close(got_closed, expected_closed, rtol=1e-8, atol=1e-10, path="closed_form")


def test_laplace_values_match_torch(tmp_path):
    got, expected = _reports("laplace", tmp_path)
    # 150 float64 Adam steps leave the weights ~1e-12 apart (matmul summation orders differ by
    # ulps); the GGN, the posterior precision (the GGN / 0.2^2, entries up to ~1600) and the
    # predictive carry that as ~5e-12 relative differences: three orders of magnitude of margin
    assert_reports_close(got, expected, rtol=1e-8, atol=1e-8)


def test_sbi_values_match_torch(tmp_path):
    got, expected = _reports("sbi", tmp_path)
    # float32 flows trained 25 epochs: rounding differences grow to ~2e-6 relative in the
    # losses and samples, ~1e-5 in a log-density far in the tail (around -160)
    assert_reports_close(got, expected, rtol=1e-4, atol=1e-4)
