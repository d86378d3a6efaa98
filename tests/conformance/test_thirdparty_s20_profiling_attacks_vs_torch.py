"""thop, ptflops, fvcore and torchattacks on ember against the same script on real PyTorch
(tests/acceptance/test_thirdparty_s20_profiling_attacks.py, run under both in fresh
interpreters). Counts are integers or integral floats computed from shapes, so they must be
equal, as must fvcore's table and ptflops' strings. The attacks run in float64 from the same
seed (ember reproduces PyTorch's random streams), so weights, images and the sign-based attacks
(FGSM, PGD, BIM, MIFGSM, TPGD) agree to float64 rounding; the attacks that normalise a gradient
(PGDL2, CW, DeepFool) divide by the cross-entropy gradient of confidently classified images,
``softmax - one_hot`` with entries near 1e-9 that float64 gives to an absolute 1e-16, so
rounding-level differences grow to about 1e-7 there."""
from __future__ import annotations

import pytest

pytest.importorskip("torch")

from tests.acceptance.script_report import assert_reports_close, reports_under_both  # noqa: E402

NORMALISED = ("pgdl2", "cw", "deepfool")


def test_profiler_counts_and_attacks_match_torch(tmp_path):
    got, expected = reports_under_both("test_thirdparty_s20_profiling_attacks", tmp_path)
    assert sorted(got) == sorted(expected)
    for library in ("thop", "ptflops", "fvcore"):
        if library in expected:
            assert got[library] == expected[library], library
    if "torchattacks" not in expected:
        return
    got, expected = got["torchattacks"], expected["torchattacks"]
    adversarial = got.pop("adversarial"), expected.pop("adversarial")
    assert_reports_close(got, expected, rtol=1e-12, atol=1e-14)
    assert sorted(adversarial[0]) == sorted(adversarial[1])
    for name in adversarial[1]:
        tolerance = 1e-6 if name in NORMALISED else 1e-14
        assert_reports_close(adversarial[0][name], adversarial[1][name], rtol=0, atol=tolerance,
                             path=name)
