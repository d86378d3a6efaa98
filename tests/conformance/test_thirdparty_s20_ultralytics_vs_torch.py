"""Ultralytics YOLO on ember against the same script on real PyTorch: the script of
tests/acceptance/test_thirdparty_s20_ultralytics.py run under both, in fresh interpreters. With
PyTorch's random streams the same seeds give the same initial weights, input, shuffling and
augmentations, so the parameter counts, the backbone's features on a fixed input, both training
steps' losses, the saved checkpoint and the trained model's predictions agree to float32
rounding. Skips where ultralytics is not installed."""
from __future__ import annotations

import pytest

pytest.importorskip("torch")

from tests.acceptance.script_report import assert_reports_close, reports_under_both  # noqa: E402


def test_ultralytics_values_match_torch(tmp_path):
    got, expected = reports_under_both("test_thirdparty_s20_ultralytics", tmp_path)
    # the untrained backbone shrinks its features layer by layer (to ~1e-9): relative only
    assert_reports_close(got.pop("forward"), expected.pop("forward"), rtol=1e-4, atol=1e-12,
                         path="forward")
    # after two AdamW steps from the same state, the head's outputs differ by float32 rounding
    assert_reports_close(got, expected, rtol=1e-4, atol=1e-5)
