"""segmentation-models-pytorch and x-transformers on ember against the same scripts on real
PyTorch: each script of tests/acceptance/test_thirdparty_s17_<library>.py run under both, in
fresh interpreters. With PyTorch's random streams the same seeds give the same weights, data
and samples, so every reported number agrees to float32 rounding and every generated token is
the same. Each library's test skips where that library is not installed; smp's also where
torchvision is not (timm, which smp builds on, imports it under PyTorch, where
tests/conformance/real_torchvision.py stands in for its compiled ops; ember's alias stands in
for it on ember)."""
from __future__ import annotations

import importlib
import importlib.util

import pytest

pytest.importorskip("torch")

from tests.acceptance.script_report import assert_reports_close, reports_under_both  # noqa: E402


def test_smp_values_match_torch(tmp_path):
    if importlib.util.find_spec("torchvision") is None:
        pytest.skip("torchvision is not installed (timm needs it under PyTorch)")
    got, expected = reports_under_both("test_thirdparty_s17_smp", tmp_path)
    # SGD (not Adam, whose normalised steps would magnify float32 rounding of near-zero
    # gradients) keeps the trained logits, so the thresholded predictions, identical
    assert_reports_close(got, expected, rtol=1e-5, atol=1e-5)


def test_x_transformers_values_match_torch(tmp_path):
    got, expected = reports_under_both("test_thirdparty_s17_x_transformers", tmp_path)
    assert_reports_close(got, expected, rtol=1e-5, atol=1e-5)
