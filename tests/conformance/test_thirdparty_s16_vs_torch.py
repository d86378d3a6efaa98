"""torchmetrics, accelerate, peft and PyTorch Lightning on ember against the same scripts on real
PyTorch: each script of tests/acceptance/test_thirdparty_s16_<library>.py run under both, in
fresh interpreters. With PyTorch's random streams the same seeds give the same data and
weights, so every reported number agrees to float32 rounding (bf16 mixed-precision runs to
bf16 rounding, where one rounding flipped by a different float32 summation order moves a
gradient by an ulp of bf16). Each library's test skips where that library is not installed."""
from __future__ import annotations

import pytest

from tests.acceptance.script_report import assert_reports_close, reports_under_both

pytest.importorskip("torch")


def test_torchmetrics_values_match_torch(tmp_path):
    got, expected = reports_under_both("test_thirdparty_s16_torchmetrics", tmp_path)
    assert_reports_close(got, expected, rtol=1e-5, atol=1e-6)


def test_accelerate_training_matches_torch(tmp_path):
    got, expected = reports_under_both("test_thirdparty_s16_accelerate", tmp_path)
    mixed = {"bf16"}
    assert_reports_close({k: v for k, v in got.items() if k not in mixed},
                         {k: v for k, v in expected.items() if k not in mixed},
                         rtol=1e-5, atol=1e-6)
    assert_reports_close(got["bf16"], expected["bf16"], rtol=2e-3, atol=1e-6, path="bf16")


def test_peft_adapters_match_torch(tmp_path):
    got, expected = reports_under_both("test_thirdparty_s16_peft", tmp_path)
    assert_reports_close(got, expected, rtol=1e-5, atol=1e-6)


def test_lightning_training_matches_torch(tmp_path):
    got, expected = reports_under_both("test_thirdparty_s16_lightning", tmp_path)
    assert_reports_close({k: v for k, v in got.items() if k != "mixed"},
                         {k: v for k, v in expected.items() if k != "mixed"},
                         rtol=1e-5, atol=1e-6)
    assert_reports_close(got["mixed"], expected["mixed"], rtol=2e-3, atol=1e-6, path="mixed")
