"""Opacus's ExpandedWeights mode on ember against the same script on real PyTorch: the same
per-sample gradients and weights after two noiseless DP-SGD steps (float32: the two
libraries' convolutions and sums round differently in the last bits)."""
from __future__ import annotations

import pytest

pytest.importorskip("torch")

from tests.acceptance.script_report import assert_reports_close, reports_under_both  # noqa: E402


def test_opacus_ew_mode_matches_torch(tmp_path):
    got, expected = reports_under_both("test_thirdparty_s20_opacus_ew", tmp_path)
    assert_reports_close(got, expected, rtol=1e-5, atol=1e-6)
