"""MONAI, torchinfo and skorch on ember against the same scripts on real PyTorch: the scripts of
tests/acceptance/test_thirdparty_s19_monai.py and test_thirdparty_s19_torchinfo_skorch.py run
under both, in fresh interpreters. With PyTorch's random streams the same seeds give the same
weights and data, and MONAI's random transforms draw from NumPy, so every reported number
agrees to float32 rounding and torchinfo prints the same tables. Each library's test skips where
that library is not installed."""
from __future__ import annotations

import importlib
import importlib.util

import pytest

pytest.importorskip("torch")

from tests.acceptance.script_report import (  # noqa: E402
    assert_reports_close,
    pytorch_prefix,
    reports_under_both,
)


def test_monai_values_match_torch(tmp_path):
    got, expected = reports_under_both("test_thirdparty_s19_monai", tmp_path)
    # float32 networks: sums over thousands of outputs, a few Adam steps
    assert_reports_close(got, expected, rtol=1e-4, atol=1e-5)


def _both(script: str, tmp_path) -> tuple[dict, dict]:
    """(ember's report, PyTorch's report) of one of the torchinfo / skorch scripts."""
    acceptance = importlib.import_module("tests.acceptance.test_thirdparty_s19_torchinfo_skorch")
    run = getattr(acceptance, f"run_{script}")
    return run("-m", "ember.compat", tmp_path=tmp_path), run(*pytorch_prefix(), tmp_path=tmp_path)


@pytest.mark.skipif(importlib.util.find_spec("torchinfo") is None,
                    reason="torchinfo is not installed")
def test_torchinfo_summaries_match_torch(tmp_path):
    got, expected = _both("torchinfo", tmp_path)
    # sys.getsizeof of the input's storage: its bytes plus a Python object, whose size differs
    for model in ("cnn", "lstm"):
        got_input = got[model]["totals"].pop("input_bytes")
        expected_input = expected[model]["totals"].pop("input_bytes")
        assert abs(got_input - expected_input) < 256
    assert_reports_close(got, expected, rtol=0, atol=0)


@pytest.mark.skipif(
    importlib.util.find_spec("skorch") is None or importlib.util.find_spec("sklearn") is None,
    reason="skorch (or scikit-learn) is not installed")
def test_skorch_values_match_torch(tmp_path):
    got, expected = _both("skorch", tmp_path)
    # float32 training: a few SGD and Adam epochs
    assert_reports_close(got, expected, rtol=1e-4, atol=1e-5)
