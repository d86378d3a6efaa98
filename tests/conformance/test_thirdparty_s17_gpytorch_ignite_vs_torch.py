"""GPyTorch and PyTorch-Ignite on ember against the same scripts on real PyTorch: each script of
tests/acceptance/test_thirdparty_s17_<library>.py run under both, in fresh interpreters. With
PyTorch's random streams the same seeds give the same data, weights and probe vectors (the
stochastic Lanczos log-determinants of GPyTorch's conjugate-gradient path included), so every
reported number agrees: GPyTorch's to float64 rounding (a little amplified by Adam's
normalized steps; more on the conjugate-gradient path), Ignite's to float32 rounding. Each
test skips where its library is not installed."""
from __future__ import annotations

import pytest

from tests.acceptance.script_report import assert_reports_close, reports_under_both

pytest.importorskip("torch")


def test_gpytorch_matches_torch(tmp_path):
    got, expected = reports_under_both("test_thirdparty_s17_gpytorch", tmp_path)
    cg = {"rbf_cg"}
    assert_reports_close({k: v for k, v in got.items() if k not in cg},
                         {k: v for k, v in expected.items() if k not in cg},
                         rtol=1e-6, atol=1e-8)
    assert_reports_close(got["rbf_cg"], expected["rbf_cg"], rtol=1e-5, atol=1e-7, path="rbf_cg")


def test_ignite_matches_torch(tmp_path):
    got, expected = reports_under_both("test_thirdparty_s17_ignite", tmp_path)
    assert_reports_close(got, expected, rtol=1e-5, atol=1e-6)
