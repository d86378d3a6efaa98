"""pytorch-metric-learning, e3nn and normflows on ember against the same scripts on real
PyTorch: the scripts of tests/acceptance/test_thirdparty_s19_metric_learning.py and
tests/acceptance/test_thirdparty_s19_e3nn_normflows.py run under both, in fresh interpreters.
With PyTorch's random streams the same seeds give the same embeddings, weights, rotations and
samples, so every float64 value agrees to float64 rounding, float32 training to float32
rounding. Each test skips where its library is not installed."""
from __future__ import annotations

import pytest

pytest.importorskip("torch")

from tests.acceptance.script_report import assert_reports_close, reports_under_both  # noqa: E402


def test_metric_learning_values_match_torch(tmp_path):
    got, expected = reports_under_both("test_thirdparty_s19_metric_learning", tmp_path)
    got_training, expected_training = got.pop("training"), expected.pop("training")
    assert_reports_close(got, expected, rtol=1e-9, atol=1e-10)
    # float32 training: Adam's first steps normalise each gradient, scaling ulps up
    assert_reports_close(got_training, expected_training, rtol=1e-5, atol=1e-6, path="training")


def test_e3nn_and_normflows_values_match_torch(tmp_path):
    got, expected = reports_under_both("test_thirdparty_s19_e3nn_normflows", tmp_path)
    # float64 throughout; finite differences divide rounding by their step
    assert_reports_close(got, expected, rtol=1e-9, atol=1e-9)
