"""PyTorch Geometric on ember against the same script on real PyTorch: the script of
tests/acceptance/test_thirdparty_s17_pyg.py run under both, in fresh interpreters. With
PyTorch's random streams the same seeds give the same weights, edge dropouts, negative samples
and node splits, so every reported number (training losses, accuracies, layer outputs and
gradients, utilities, sparse products) agrees to float32 rounding. Skips where torch_geometric
is not installed."""
from __future__ import annotations

import pytest

pytest.importorskip("torch")

from tests.acceptance.script_report import assert_reports_close, reports_under_both  # noqa: E402


def test_pyg_values_match_torch(tmp_path):
    got, expected = reports_under_both("test_thirdparty_s17_pyg", tmp_path)
    assert_reports_close(got, expected, rtol=1e-5, atol=1e-6)
