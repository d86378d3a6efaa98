"""tensordict and TorchRL on ember against the same scripts on real PyTorch: each script of
tests/acceptance/test_thirdparty_s17_<library>.py run under both, in fresh interpreters. With
PyTorch's random streams the same seeds give the same data, weights, pendulum states and
random actions, so every reported number agrees to float32 rounding. Each library's test skips
where that library is not installed."""
from __future__ import annotations

import pytest

from tests.acceptance.script_report import assert_reports_close, reports_under_both

pytest.importorskip("torch")


def test_tensordict_values_match_torch(tmp_path):
    got, expected = reports_under_both("test_thirdparty_s17_tensordict", tmp_path)
    assert_reports_close(got, expected, rtol=1e-5, atol=1e-6)


def test_torchrl_pendulum_matches_torch(tmp_path):
    got, expected = reports_under_both("test_thirdparty_s17_torchrl", tmp_path)
    assert_reports_close(got, expected, rtol=1e-5, atol=1e-6)
