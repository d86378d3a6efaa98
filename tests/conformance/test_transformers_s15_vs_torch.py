"""HuggingFace transformers' models on ember against the same models on real PyTorch: the
driver of tests/acceptance/test_thirdparty_s15_transformers.py run under both, in fresh
interpreters. With PyTorch's random streams, the same seed builds the same weights and
batches, so losses, gradients and greedy generations agree (to float32 rounding)."""
from __future__ import annotations

import importlib.util
import pathlib

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from tests.acceptance.script_report import pytorch_prefix  # noqa: E402

_ACCEPTANCE = (pathlib.Path(__file__).parents[1] / "acceptance"
               / "test_thirdparty_s15_transformers.py")
_spec = importlib.util.spec_from_file_location("_transformers_acceptance", _ACCEPTANCE)
acceptance = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(acceptance)
ember_reports = acceptance.ember_reports


@pytest.fixture(scope="module")
def torch_reports(ember_reports):  # (after ember's: the version check skips both)
    return acceptance.run_driver(*pytorch_prefix())


def test_losses_and_gradients_match_torch(ember_reports, torch_reports):
    assert sorted(ember_reports) == sorted(torch_reports)
    for name, expected in torch_reports.items():
        got = ember_reports[name]
        assert "error" not in got and "error" not in expected, (name, got, expected)
        # Adam's later steps amplify float32 rounding differences: the first loss is tight
        np.testing.assert_allclose(got["losses"][0], expected["losses"][0], rtol=2e-6,
                                   err_msg=name)
        np.testing.assert_allclose(got["losses"], expected["losses"], rtol=2e-3, err_msg=name)
        np.testing.assert_allclose(got["gradsum"], expected["gradsum"], rtol=1e-4,
                                   err_msg=name)


def test_generations_and_round_trips_match_torch(ember_reports, torch_reports):
    for name, expected in torch_reports.items():
        for key in ("generated", "reloaded_equal"):
            if key in expected:
                assert ember_reports[name][key] == expected[key], (name, key)
