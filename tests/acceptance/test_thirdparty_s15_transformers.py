"""HuggingFace transformers on ember: 17 architectures (GPT-2, BERT, RoBERTa, DistilBERT, Llama,
Mistral, T5, BART, GPT-Neo, Whisper, wav2vec 2.0, ViT, ResNet, ConvNeXt, Swin, CLIP) and, where
the installed transformers has them, 7 newer ones (Qwen3, Gemma 3, Phi-3, the
mixtures-of-experts Mixtral, Qwen3-MoE and gpt-oss, the state-space Mamba), built from tiny
random configurations by transformers' own code, train, generate and round-trip through
``save_pretrained``/``from_pretrained`` (safetensors and pickle) with ``torch`` resolved to
ember. tests/conformance/test_transformers_s15_vs_torch.py compares the numbers with real
PyTorch's.
"""
from __future__ import annotations

import functools
import math
import pathlib

import pytest

from tests.acceptance import script_report

transformers = pytest.importorskip("transformers")

DRIVER = pathlib.Path(__file__).with_name("transformers_models.py")
# transformers releases this was run against; others may take code paths not yet checked
TESTED = ("4.46", "4.57", "5.24")


# the driver's report per model, run under ``command_prefix`` (``-m ember.compat``: on ember)
run_driver = functools.partial(script_report.run_driver, DRIVER)


@pytest.fixture(scope="module")
def ember_reports():
    if not transformers.__version__.startswith(TESTED):
        pytest.skip(f"transformers {transformers.__version__}: checked with {TESTED} only")
    return run_driver("-m", "ember.compat")


def test_every_architecture_trains(ember_reports):
    failures = {name: r["error"] for name, r in ember_reports.items() if "error" in r}
    assert not failures
    assert len(ember_reports) >= 17
    for name, report in ember_reports.items():
        losses = report["losses"]
        assert all(math.isfinite(x) for x in losses), name
        assert losses[-1] < losses[0], (name, losses)
        assert report["gradsum"] > 0, name


def test_generation_and_checkpoints(ember_reports):
    for name in ("gpt2", "llama", "t5", "mixtral", "mamba"):
        if name not in ember_reports:  # an architecture this transformers lacks
            continue
        generated = ember_reports[name]["generated"]  # 5 new tokens after a prompt
        assert len(generated) == 2 and all(len(row) >= 5 for row in generated)
        assert all(0 <= token < 100 for row in generated for token in row)
    for name in ("gpt2", "bert"):
        assert ember_reports[name]["reloaded_equal"] == [True, True], name
