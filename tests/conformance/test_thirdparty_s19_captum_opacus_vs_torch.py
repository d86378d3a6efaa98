"""Captum and opacus on ember against the same scripts on real PyTorch: each script of
tests/acceptance/test_thirdparty_s19_<library>.py run under both, in fresh interpreters. With
PyTorch's random streams (and NumPy's, which captum's GradientShap draws from) the same seeds
give the same weights, inputs, Poisson batches and DP noise, so every attribution, per-sample
gradient, parameter after the DP-SGD steps and epsilon agrees to float64 rounding. Each
library's test skips where that library is not installed."""
from __future__ import annotations

import pytest

pytest.importorskip("torch")

from tests.acceptance.script_report import assert_reports_close, reports_under_both  # noqa: E402


def test_captum_attributions_match_torch(tmp_path):
    got, expected = reports_under_both("test_thirdparty_s19_captum", tmp_path)
    noisy = ("gradient_shap", "noise_tunnel")
    assert_reports_close({k: v for k, v in got.items() if k not in noisy},
                         {k: v for k, v in expected.items() if k not in noisy},
                         rtol=1e-10, atol=1e-12)
    # their Gaussian noise is drawn in float32, where ember's normal and PyTorch's round the
    # Box-Muller transform differently by an ulp
    for key in noisy:
        assert_reports_close(got[key], expected[key], rtol=1e-6, atol=1e-8, path=key)


def test_opacus_per_sample_gradients_and_dp_sgd_match_torch(tmp_path):
    got, expected = reports_under_both("test_thirdparty_s19_opacus", tmp_path)
    assert_reports_close(got, expected, rtol=1e-9, atol=1e-11)
