"""torchmetrics, accelerate, peft and PyTorch Lightning on ember against the same scripts on real
PyTorch: each script of tests/acceptance/test_thirdparty_s16_<library>.py run under both, in
fresh interpreters. With PyTorch's random streams the same seeds give the same data and
weights, so every reported number agrees to float32 rounding (bf16 mixed-precision runs to
bf16 rounding, where one rounding flipped by a different float32 summation order moves a
gradient by an ulp of bf16). Each library's test skips where that library is not installed."""
from __future__ import annotations

import importlib.util
import pathlib

import pytest

from tests.acceptance.script_report import assert_reports_close

pytest.importorskip("torch")

_ACCEPTANCE = pathlib.Path(__file__).parents[1] / "acceptance"


def _reports(library: str, tmp_path) -> tuple[dict, dict]:
    """(ember's report, PyTorch's report) of the library's acceptance script."""
    path = _ACCEPTANCE / f"test_thirdparty_s16_{library}.py"
    spec = importlib.util.spec_from_file_location(f"_s16_{library}_acceptance", path)
    acceptance = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(acceptance)  # skips this test where the library is not installed
    return (acceptance.run_script("-m", "ember.compat", tmp_path=tmp_path),
            acceptance.run_script(tmp_path=tmp_path))


def test_torchmetrics_values_match_torch(tmp_path):
    got, expected = _reports("torchmetrics", tmp_path)
    assert_reports_close(got, expected, rtol=1e-5, atol=1e-6)


def test_accelerate_training_matches_torch(tmp_path):
    got, expected = _reports("accelerate", tmp_path)
    mixed = {"bf16"}
    assert_reports_close({k: v for k, v in got.items() if k not in mixed},
                         {k: v for k, v in expected.items() if k not in mixed},
                         rtol=1e-5, atol=1e-6)
    assert_reports_close(got["bf16"], expected["bf16"], rtol=2e-3, atol=1e-6, path="bf16")


def test_peft_adapters_match_torch(tmp_path):
    got, expected = _reports("peft", tmp_path)
    assert_reports_close(got, expected, rtol=1e-5, atol=1e-6)


def test_lightning_training_matches_torch(tmp_path):
    got, expected = _reports("lightning", tmp_path)
    assert_reports_close({k: v for k, v in got.items() if k != "mixed"},
                         {k: v for k, v in expected.items() if k != "mixed"},
                         rtol=1e-5, atol=1e-6)
    assert_reports_close(got["mixed"], expected["mixed"], rtol=2e-3, atol=1e-6, path="mixed")
