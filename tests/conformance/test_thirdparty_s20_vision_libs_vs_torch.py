"""vit-pytorch, piq with pytorch-msssim, lpips and open_clip on ember against the same scripts on
real PyTorch: each script of tests/acceptance/test_thirdparty_s20_vision_libs.py run under both,
in fresh interpreters. With PyTorch's random streams (and NumPy's, which piq's MSID draws from)
the same seeds give the same weights, images, masks and crops, so the float64 reports agree to
float64 rounding and the float32 ones to float32 rounding grown through a few layers and Adam
steps. Each library's test skips where that library is not installed."""
from __future__ import annotations

import importlib.util

import pytest

pytest.importorskip("torch")

from tests.acceptance import test_thirdparty_s20_vision_libs as acceptance  # noqa: E402
from tests.acceptance.script_report import assert_reports_close, pytorch_prefix  # noqa: E402


def _under_both(libraries: tuple[str, ...], run_script, tmp_path) -> tuple[dict, dict]:
    """(ember's report, PyTorch's report) of ``run_script``, skipping where a library is not
    installed."""
    for library in libraries:
        if importlib.util.find_spec(library) is None:
            pytest.skip(f"{library} is not installed")
    return (run_script("-m", "ember.compat", tmp_path=tmp_path),
            run_script(*pytorch_prefix(), tmp_path=tmp_path))


def _split(report: dict, keys: tuple[str, ...]) -> tuple[dict, dict]:
    return ({k: v for k, v in report.items() if k not in keys},
            {k: v for k, v in report.items() if k in keys})


def test_vit_pytorch_matches_torch(tmp_path):
    got, expected = _under_both(("vit_pytorch",), acceptance.run_vit_script, tmp_path)
    float32 = ("variants", "navit", "train")
    got64, got32 = _split(got, float32)
    expected64, expected32 = _split(expected, float32)
    assert_reports_close(got64, expected64, rtol=1e-10, atol=1e-12)
    # float32 forward passes through a few attention blocks and Adam steps: rounding (NumPy's
    # pairwise sums against PyTorch's vectorised ones) grows to about 1e-7 absolute
    assert_reports_close(got32, expected32, rtol=1e-5, atol=1e-6)


def test_piq_and_pytorch_msssim_match_torch(tmp_path):
    got, expected = _under_both(("piq", "pytorch_msssim"), acceptance.run_piq_script, tmp_path)
    # pytorch-msssim's and SR-SIM's Gaussian windows are normalised by a float32 sum, which
    # PyTorch's vectorised reduction and NumPy's pairwise one round an ulp apart
    float32_windows = [(got[a].pop(b), expected[a].pop(b), f"{a}/{b}")
                       for a, b in (("ssim", "msssim"), ("multi_scale", "msssim"),
                                    ("metrics", "srsim"))]
    got64, got_gradients = _split(got, ("gradients",))
    expected64, expected_gradients = _split(expected, ("gradients",))
    assert_reports_close(got64, expected64, rtol=1e-9, atol=1e-12)
    for got_value, expected_value, path in float32_windows:
        assert_reports_close(got_value, expected_value, rtol=5e-7, atol=1e-12, path=path)
    # central differences cancel about half of float64's digits
    assert_reports_close(got_gradients, expected_gradients, rtol=1e-7, atol=1e-10)


def test_lpips_matches_torch(tmp_path):
    got, expected = _under_both(("lpips",), acceptance.run_lpips_script, tmp_path)
    got64, got_gradient = _split(got, ("gradient",))
    expected64, expected_gradient = _split(expected, ("gradient",))
    assert_reports_close(got64, expected64, rtol=1e-9, atol=1e-12)
    assert_reports_close(got_gradient, expected_gradient, rtol=1e-7, atol=1e-10)


def test_open_clip_matches_torch(tmp_path):
    got, expected = _under_both(("open_clip", "ftfy"), acceptance.run_open_clip_script,
                                tmp_path)
    bfloat16 = ("bf16", "autocast")
    got, got16 = _split(got, bfloat16)
    expected, expected16 = _split(expected, bfloat16)
    # bfloat16 attention is PyTorch's CPU flash kernel's, which ember follows bit for bit over
    # fewer than 16 keys; over the 17 image tokens it differs in bfloat16 ulps (the text tower's
    # 12 tokens agree exactly)
    assert_reports_close(got16, expected16, rtol=0, atol=2e-2)
    # float32 towers whose features are scaled by exp(logit_scale) = 1 / 0.07 into the losses,
    # and a few AdamW steps (the batch-normed ResNet's loss falls to 0.02); the preprocessed
    # pixels (PIL's bicubic resize, the same random crop) agree to float32 rounding
    assert_reports_close(got, expected, rtol=1e-4, atol=1e-5)
