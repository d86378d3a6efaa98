"""fastai on ember against the same script on real PyTorch: the script of
tests/acceptance/test_thirdparty_s20_fastai.py run under both, in fresh interpreters. ember's CPU
generator is PyTorch's and fastai shuffles with Python's ``random``, so the same seed gives the
same data, shuffles and dropout masks, and the same initial weights up to the last bit of some
float32 normal draws (ember's Box-Muller rounds differently from PyTorch's vectorised one by an
ulp). The MLP and the tabular learner stay within float32 rounding of PyTorch. The vision
learner trains BatchNorm layers on batches of 8 with Adam at learning rates up to 1e-2: the
ulp-level differences in its initial weights (its first gradients differ by 2e-7 relative even
when both run it in float64) grow to about 3e-5 relative by the end."""
from __future__ import annotations

import pytest

pytest.importorskip("torch")

from tests.acceptance.script_report import assert_reports_close, reports_under_both  # noqa: E402


def test_fastai_learners_match_torch(tmp_path):
    got, expected = reports_under_both("test_thirdparty_s20_fastai", tmp_path)
    assert sorted(got) == sorted(expected)
    assert_reports_close(got["mlp"], expected["mlp"], rtol=1e-5, atol=1e-6, path="mlp")
    assert_reports_close(got["tabular"], expected["tabular"], rtol=1e-5, atol=1e-6,
                         path="tabular")
    assert_reports_close(got["vision"], expected["vision"], rtol=2e-4, atol=1e-5, path="vision")
