"""mmengine on ember against the same script on real PyTorch: the script of
tests/acceptance/test_thirdparty_s20_mmengine.py run under both, in fresh interpreters. With
PyTorch's random streams the same seeds give the same initial weights, data and shuffled
batches, so the logged losses, learning rates, validation accuracies, checkpointed, loaded and
resumed parameters, SGD momentum buffers and the hand-driven OptimWrapper's steps all agree up
to float32 rounding: a few ulps per iteration (reductions summed in another order), grown over
18 SGD steps to about 1e-7 relative, hence rtol 1e-5. atol 1e-6 is for sums that cancel to
nearly zero (the last layer's momentum buffers: cross-entropy's logit gradients sum to zero over
the classes, leaving float32 noise of 1e-7 there). Skips where mmengine is not installed."""
from __future__ import annotations

import pytest

pytest.importorskip("torch")

from tests.acceptance.script_report import assert_reports_close, reports_under_both  # noqa: E402


def test_mmengine_runner_training_matches_torch(tmp_path):
    got, expected = reports_under_both("test_thirdparty_s20_mmengine", tmp_path)
    assert_reports_close(got, expected, rtol=1e-5, atol=1e-6)
