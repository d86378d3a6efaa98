"""HuggingFace diffusers' models, schedulers and pipelines on ember against the same on real
PyTorch: the driver of tests/acceptance/test_thirdparty_s16_diffusers.py run under both, in
fresh interpreters. With PyTorch's random streams, the same seed builds the same weights,
batches and noise, so losses, gradients and samples agree (to float32 rounding)."""
from __future__ import annotations

import importlib.util
import pathlib

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("diffusers")

from tests.acceptance.script_report import pytorch_prefix  # noqa: E402

_ACCEPTANCE = (pathlib.Path(__file__).parents[1] / "acceptance"
               / "test_thirdparty_s16_diffusers.py")
_spec = importlib.util.spec_from_file_location("_diffusers_acceptance", _ACCEPTANCE)
acceptance = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(acceptance)
ember_reports = acceptance.ember_reports


@pytest.fixture(scope="module")
def torch_reports(ember_reports):  # (after ember's: the version check skips both)
    return acceptance.run_driver(*pytorch_prefix())


def test_losses_and_gradients_match_torch(ember_reports, torch_reports):
    assert sorted(ember_reports) == sorted(torch_reports)
    for name in acceptance.TRAINED:
        got, expected = ember_reports[name], torch_reports[name]
        assert "error" not in got and "error" not in expected, (name, got, expected)
        np.testing.assert_allclose(got["losses"][0], expected["losses"][0], rtol=1e-5,
                                   err_msg=name)
        np.testing.assert_allclose(got["losses"], expected["losses"], rtol=1e-4, err_msg=name)
        np.testing.assert_allclose(got["gradsum"], expected["gradsum"], rtol=1e-5,
                                   err_msg=name)
        # Adam's first step moves a weight by lr * sign(grad): a gradient within rounding of
        # zero may flip it, so the averaged weights agree less tightly than the gradients
        np.testing.assert_allclose(got["ema_sum"], expected["ema_sum"], rtol=1e-4,
                                   err_msg=name)
        for key in ("ema_swap", "reloaded_equal"):
            assert got.get(key) == expected.get(key), (name, key)


def test_autocast_training_matches_torch(ember_reports, torch_reports):
    """bfloat16 keeps 8 significant bits, and its attention and convolutions round in places
    that differ between the two libraries: agreement to about a bfloat16 ulp."""
    for name in acceptance.AUTOCAST:
        got, expected = ember_reports[name], torch_reports[name]
        assert "error" not in got and "error" not in expected, (name, got, expected)
        for key in ("losses", "gradsum", "ema_sum"):
            np.testing.assert_allclose(got[key], expected[key], rtol=1e-2,
                                       err_msg=f"{name} {key}")


def test_samples_match_torch(ember_reports, torch_reports):
    for name, expected in torch_reports.items():
        if name in acceptance.TRAINED + acceptance.AUTOCAST:
            continue
        got = ember_reports[name]
        assert "error" not in got and "error" not in expected, (name, got, expected)
        for key in ("mean", "std", "abs_sum"):
            np.testing.assert_allclose(got[key], expected[key], rtol=1e-5, atol=1e-6,
                                       err_msg=f"{name} {key}")
        if "timesteps" in expected:
            np.testing.assert_allclose(got["timesteps"], expected["timesteps"], rtol=1e-5,
                                       err_msg=name)
        else:
            assert got["shape"] == expected["shape"], name
            assert got["reloaded_equal"] == expected["reloaded_equal"], name
