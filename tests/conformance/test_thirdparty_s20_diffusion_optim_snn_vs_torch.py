"""denoising-diffusion-pytorch, pytorch_optimizer and spikingjelly on ember against the same
scripts on real PyTorch: each script of
tests/acceptance/test_thirdparty_s20_diffusion_optim_snn.py run under both, in fresh
interpreters. ember's CPU generator reproduces PyTorch's streams, so the same seeds give the
same images, noise, initial weights, diffusion times and Hutchinson probes, and the numbers
agree to rounding. Each library's test skips where it is not installed."""
from __future__ import annotations

import pytest

pytest.importorskip("torch")

from tests.acceptance import script_report  # noqa: E402
from tests.acceptance.script_report import assert_reports_close  # noqa: E402


def _reports(library: str, tmp_path) -> tuple[dict, dict]:
    """(ember's report, PyTorch's report) of ``library``'s acceptance script."""
    from tests.acceptance import test_thirdparty_s20_diffusion_optim_snn as acceptance
    return (acceptance.run_script(library, "-m", "ember.compat", tmp_path=tmp_path),
            acceptance.run_script(library, *script_report.pytorch_prefix(), tmp_path=tmp_path))


def test_denoising_diffusion_values_match_torch(tmp_path):
    got, expected = _reports("denoising_diffusion_pytorch", tmp_path)
    # a float32 Unet: convolution and attention sums round differently by ~1e-7, which four
    # Adam steps and ten denoising steps carry to ~1e-6 (measured: 1e-6 in the predictions,
    # 4e-7 in the samples); 1e-5 leaves an order of magnitude of margin
    assert_reports_close(got, expected, rtol=1e-5, atol=1e-5)


def test_pytorch_optimizer_values_match_torch(tmp_path):
    got, expected = _reports("pytorch_optimizer", tmp_path)
    got_prodigy, expected_prodigy = got.pop("prodigy"), expected.pop("prodigy")
    # float64 quadratics: the updates agree to rounding (Lamb's trust-ratio norms, summed in
    # another order, to ~1e-11 after 60 steps)
    assert_reports_close(got, expected, rtol=1e-9, atol=1e-10)
    # Prodigy keeps its distance estimate in float32 tensors, and PyTorch fuses its
    # ``add_(alpha=)``/``addcmul_`` multiply-adds (one rounding, FMA) where ember rounds
    # twice: float32 ulps that the estimate's ratio of running sums lifts to ~2e-6 relative
    assert_reports_close(got_prodigy, expected_prodigy, rtol=2e-5, atol=1e-6, path="prodigy")


def test_spikingjelly_values_match_torch(tmp_path):
    got, expected = _reports("spikingjelly", tmp_path)
    # float64 membranes sit far from the threshold at every step, so both fire the same spikes
    # and the surrogate gradients, BPTT and Adam agree to float64 rounding
    assert_reports_close(got, expected, rtol=1e-10, atol=1e-12)
