"""sentence-transformers on ember against the same script on real PyTorch: the script of
tests/acceptance/test_thirdparty_s17_sentence_transformers.py run under both, in fresh
interpreters. With PyTorch's random streams the same seed gives the same BERT weights, so
embeddings, similarities, search results, cross-encoder scores and the losses of a few training
steps agree to float32 rounding. The test skips where sentence-transformers is not installed."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from tests.acceptance.script_report import assert_reports_close, reports_under_both  # noqa: E402


def test_sentence_transformers_values_match_torch(tmp_path):
    got, expected = reports_under_both("test_thirdparty_s17_sentence_transformers", tmp_path)
    # int8 buckets floor float32 values: an ulp's difference at a bucket edge moves one by one
    got_int8, expected_int8 = got["encode"].pop("int8"), expected["encode"].pop("int8")
    assert np.abs(np.array(got_int8) - np.array(expected_int8)).max() <= 1
    # the report rounds to 6 digits; training's AdamW steps compound float32 rounding
    training = got.pop("training"), expected.pop("training")
    assert_reports_close(got, expected, rtol=1e-5, atol=2e-6)
    assert_reports_close(*training, rtol=2e-5, atol=1e-5, path="training")
