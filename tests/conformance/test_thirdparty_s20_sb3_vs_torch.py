"""Stable-Baselines3 on ember against the same script on real PyTorch: the script of
tests/acceptance/test_thirdparty_s20_sb3.py run under both, in fresh interpreters. ember's CPU
generator reproduces PyTorch's and NumPy / gymnasium draw the same under the same seeds, so every
random draw (initial weights, sampled actions, replay minibatches, exploration noise) is the same
and the discrete outcomes are identical: timesteps, predicted actions, evaluation rewards,
VecNormalize statistics, seeded numbers. The float32 numbers differ only where ember's matmuls
and reductions round in another order than PyTorch's kernels, by a few float32 ulps that the
optimizer steps carry: weights, predictions and logged losses agree to 1e-5 relative (1e-5
absolute near zero; measured: at most 2e-6 absolute). Parameter sums (up to 4096 such weights,
some nearly cancelling) get 1e-4 absolute (measured: at most 4e-5)."""
from __future__ import annotations

import pytest

pytest.importorskip("torch")

from tests.acceptance.script_report import assert_reports_close, reports_under_both  # noqa: E402


def _parameter_sums(report: dict) -> dict:
    """Remove and return every run's per-parameter sums."""
    sums = {name: section.pop("params") for name, section in report.items()
            if isinstance(section, dict) and "params" in section}
    for run in ("subproc", "dummy"):
        sums[f"subproc_{run}"] = report["subproc"].pop(run)
    return sums


def test_sb3_training_matches_torch(tmp_path):
    got, expected = reports_under_both("test_thirdparty_s20_sb3", tmp_path)
    assert_reports_close(_parameter_sums(got), _parameter_sums(expected), rtol=1e-5, atol=1e-4)
    assert_reports_close(got, expected, rtol=1e-5, atol=1e-5)
    for exact in (("vec_ppo", "eval"), ("vec_normalize", "obs_mean")):
        assert got[exact[0]][exact[1]] == expected[exact[0]][exact[1]], exact
    assert got["seeded"] == expected["seeded"]
