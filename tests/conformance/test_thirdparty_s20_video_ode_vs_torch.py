"""pytorchvideo, torchode and torchdyn on ember against the same scripts on real PyTorch: the
scripts of tests/acceptance/test_thirdparty_s20_video_ode.py run under both, in fresh
interpreters. With PyTorch's random streams the same seeds give the same clips and weights.

Tolerances: the ODE solves are float64 with the same adaptive steps (equal step and evaluation
counts), so they agree to float64 rounding accumulated over the steps. The video transforms are
a few float32 operations per value. The video networks are float32 stacks of 16 to 32
batch-normalised 3-d convolutions whose sums NumPy and PyTorch order differently, their last
stages normalising over only 4 values (2 clips x 2 frames x 1 x 1), and the loss after one SGD
step goes through the gradients of all of them: float32 rounding grown by depth (observed
within 2e-6)."""
from __future__ import annotations

import importlib
import importlib.util

import pytest

pytest.importorskip("torch")

from tests.acceptance.script_report import assert_reports_close, pytorch_prefix  # noqa: E402


def _require(*modules: str) -> None:
    """Skip where a library is not installed (without importing it: pytorchvideo's import
    needs real torchvision's stand-ins, torchdyn's takes seconds)."""
    for module in modules:
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed")


def _reports_under_both(script: str, tmp_path) -> tuple[dict, dict]:
    """(ember's report, PyTorch's report) of the acceptance module's ``run_<script>_script``."""
    acceptance = importlib.import_module("tests.acceptance.test_thirdparty_s20_video_ode")
    run = getattr(acceptance, f"run_{script}_script")
    return (run("-m", "ember.compat", tmp_path=tmp_path), run(*pytorch_prefix(), tmp_path=tmp_path))


def test_pytorchvideo_values_match_torch(tmp_path):
    _require("pytorchvideo", "fvcore", "iopath")
    got, expected = _reports_under_both("video", tmp_path)
    got_models, expected_models = got.pop("models"), expected.pop("models")
    assert_reports_close(got, expected, rtol=1e-6, atol=1e-5)
    assert_reports_close(got_models, expected_models, rtol=1e-4, atol=1e-4, path="models")


def test_torchode_and_torchdyn_values_match_torch(tmp_path):
    _require("torchode", "torchtyping", "torchdyn")
    got, expected = _reports_under_both("ode", tmp_path)
    assert_reports_close(got, expected, rtol=1e-9, atol=1e-12)
