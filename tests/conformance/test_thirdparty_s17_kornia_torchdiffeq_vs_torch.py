"""kornia and torchdiffeq on ember against the same scripts on real PyTorch: each script of
tests/acceptance/test_thirdparty_s17_<library>.py run under both, in fresh interpreters. With
PyTorch's random streams the same seeds give the same images, augmentation parameters and
weights, so every reported number agrees to float32 rounding (float64 rounding for the ODE
solves, whose adaptive steps and evaluation counts are then the same). Each library's test
skips where that library is not installed."""
from __future__ import annotations

import pytest

pytest.importorskip("torch")

from tests.acceptance.script_report import assert_reports_close, reports_under_both  # noqa: E402


def test_kornia_values_match_torch(tmp_path):
    got, expected = reports_under_both("test_thirdparty_s17_kornia", tmp_path)
    got_lab, expected_lab = got["color"].pop("lab"), expected["color"].pop("lab")
    # float32 image pipelines: SSIM's variances and the homography's solve cancel digits
    assert_reports_close(got, expected, rtol=1e-5, atol=1e-5)
    # Lab's a = 500 (f(x) - f(y)) scales a one-ulp difference of float32 pow(t, 1/3) (NumPy's
    # and PyTorch's powf round differently) by 500
    assert_reports_close(got_lab, expected_lab, rtol=1e-5, atol=1e-4, path="lab")


def test_torchdiffeq_values_match_torch(tmp_path):
    got, expected = reports_under_both("test_thirdparty_s17_torchdiffeq", tmp_path)
    float32 = {"training"}
    assert_reports_close({k: v for k, v in got.items() if k not in float32},
                         {k: v for k, v in expected.items() if k not in float32},
                         rtol=1e-10, atol=1e-11)
    # Adam's first steps normalise each gradient, so float32 rounding moves weights by ulps x 10
    assert_reports_close(got["training"], expected["training"], rtol=5e-5, atol=1e-5,
                         path="training")
