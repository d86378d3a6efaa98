"""HuggingFace diffusers on ember: UNets, diffusion transformers and autoencoders built from
tiny random configurations by diffusers' own code train a few steps (with an EMAModel; two
also under CPU autocast to bfloat16), seventeen schedulers run their sampling loops, and the
DDPM, DDIM and DiT pipelines sample and round-trip through ``save_pretrained``/
``from_pretrained``, with ``torch`` resolved to ember. tests/conformance/
test_diffusers_s16_vs_torch.py compares the numbers with real PyTorch's.
"""
from __future__ import annotations

import functools
import math
import pathlib

import pytest

from tests.acceptance import script_report

diffusers = pytest.importorskip("diffusers")

DRIVER = pathlib.Path(__file__).with_name("diffusers_models.py")
# diffusers releases this was run against; others may take code paths not yet checked
TESTED = ("0.42",)
TRAINED = ("unet2d", "unet2d-condition", "unet2d-sdxl", "controlnet", "unet3d", "dit", "pixart",
           "sd3-transformer", "flux", "wan", "sana", "autoencoder-kl", "vq-model",
           "autoencoder-tiny", "autoencoder-dc", "autoencoder-kl-wan")
AUTOCAST = ("unet2d-condition-bf16-autocast", "sd3-transformer-bf16-autocast")
PIPELINES = ("ddpm-pipeline", "ddim-pipeline", "dit-pipeline")
SCHEDULERS = 17


# the driver's report per model, run under ``command_prefix`` (``-m ember.compat``: on ember)
run_driver = functools.partial(script_report.run_driver, DRIVER)


@pytest.fixture(scope="module")
def ember_reports():
    if not diffusers.__version__.startswith(TESTED):
        pytest.skip(f"diffusers {diffusers.__version__}: checked with {TESTED} only")
    return run_driver("-m", "ember.compat")


def test_every_model_trains(ember_reports):
    failures = {name: r["error"] for name, r in ember_reports.items() if "error" in r}
    assert not failures
    assert len(ember_reports) == len(TRAINED) + len(AUTOCAST) + SCHEDULERS + len(PIPELINES)
    for name in TRAINED + AUTOCAST:
        report = ember_reports[name]
        losses = report["losses"]
        assert all(math.isfinite(x) for x in losses), name
        assert losses[-1] < losses[0], (name, losses)
        assert report["gradsum"] > 0 and math.isfinite(report["ema_sum"]), name
        assert report["ema_swap"], name
    for name in ("unet2d", "autoencoder-kl", "dit"):
        assert ember_reports[name]["reloaded_equal"] == [True, True], name


def test_schedulers_and_pipelines_sample(ember_reports):
    schedulers = [r for name, r in ember_reports.items() if name.endswith("-scheduler")]
    assert len(schedulers) == SCHEDULERS
    for report in schedulers:
        assert len(report["timesteps"]) >= 8, report["model"]
        assert all(math.isfinite(report[key]) for key in ("mean", "std", "abs_sum")), report
    for name in PIPELINES:
        report = ember_reports[name]
        assert report["shape"] == [2, 16, 16, 3], name
        assert 0 < report["mean"] < 1 and report["std"] > 0, name  # images in [0, 1]
        assert report["reloaded_equal"], name
