"""vector-quantize-pytorch, rotary-embedding-torch, ema-pytorch, torch-optimizer, schedulefree
and lion-pytorch on ember against the same scripts on real PyTorch: the scripts of
tests/acceptance/test_thirdparty_s19_lucidrains.py and test_thirdparty_s19_optimizers.py run
under both, in fresh interpreters. With PyTorch's random streams the same seeds give the same
inputs, codebooks, weights and Hutchinson probes, so every reported number agrees to float32
rounding. Each test skips where its libraries are not installed."""
from __future__ import annotations

import pytest

pytest.importorskip("torch")

from tests.acceptance.script_report import assert_reports_close, reports_under_both  # noqa: E402


def test_lucidrains_values_match_torch(tmp_path):
    got, expected = reports_under_both("test_thirdparty_s19_lucidrains", tmp_path)
    assert_reports_close(got, expected, rtol=1e-5, atol=1e-5)


def test_optimizer_values_match_torch(tmp_path):
    got, expected = reports_under_both("test_thirdparty_s19_optimizers", tmp_path)
    got_shampoo, expected_shampoo = got.pop("shampoo"), expected.pop("shampoo")
    assert_reports_close(got, expected, rtol=1e-5, atol=1e-5)
    # Shampoo preconditions by float32 SVDs raised to the power -1/4: LAPACK's and PyTorch's
    # singular vectors round differently, by ulps x 10 in the steps
    assert_reports_close(got_shampoo, expected_shampoo, rtol=1e-4, atol=1e-4, path="shampoo")
