"""BoTorch, zuko and torchsde on ember against the same scripts on real PyTorch: the scripts of
tests/acceptance/test_thirdparty_s19_botorch.py and test_thirdparty_s19_zuko_torchsde.py run
under both, in fresh interpreters. With PyTorch's random streams (Sobol sequences and Brownian
intervals included) the same seeds give the same data, weights and paths, and every script runs
in float64, so SciPy's L-BFGS-B fits, the acquisition optimisers' restarts and the adaptive ODE
solves take the same steps and every reported number agrees to float64 rounding, amplified by
the optimisers. Each test skips where its libraries are not installed."""
from __future__ import annotations

import pytest

pytest.importorskip("torch")

from tests.acceptance.script_report import assert_reports_close, reports_under_both  # noqa: E402


def test_botorch_values_match_torch(tmp_path):
    got, expected = reports_under_both("test_thirdparty_s19_botorch", tmp_path)
    # (here within 1e-10: L-BFGS-B and the restarts' optimisers stop where the gradient is
    # small, so rounding elsewhere could move their optima further)
    assert_reports_close(got, expected, rtol=1e-6, atol=1e-8)


def test_zuko_and_torchsde_values_match_torch(tmp_path):
    got, expected = reports_under_both("test_thirdparty_s19_zuko_torchsde", tmp_path)
    assert_reports_close(got, expected, rtol=1e-9, atol=1e-10)
