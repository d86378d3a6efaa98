"""x-transformers on ember, where it is installed (it is not a test dependency: its package
requires PyTorch; .ci/run installs it and its small dependencies without theirs). A tiny
decoder (rotary embeddings, GLU feed-forward, query-key norm, memory key-values, attention in
einsum form rather than ``scaled_dot_product_attention``) learns a periodic sequence through
AutoregressiveWrapper and generates from it greedily and with top-k / top-p / min-p filters
(seeded, with the key-value cache); an Encoder classifier with a CLS token and a padding mask
trains; an encoder-decoder XTransformer gives its loss, gradients and a greedy generation. All
with ``torch`` resolved to ember in a fresh interpreter; losses are recomputed here in NumPy
from the reported logits and the generations checked against them.
tests/conformance/test_thirdparty_s17_smp_x_transformers_vs_torch.py compares every value with
real PyTorch's."""
from __future__ import annotations

import functools
import importlib.util
import textwrap

import numpy as np
import pytest

from tests.acceptance import script_report

if importlib.util.find_spec("x_transformers") is None:  # (importing it would import torch)
    pytest.skip("x_transformers is not installed", allow_module_level=True)

SCRIPT = textwrap.dedent('''
    import json
    import torch
    import torch.nn.functional as F
    from x_transformers import (AutoregressiveWrapper, Decoder, Encoder, TransformerWrapper,
                                XTransformer)

    # tiny tensors: one thread, as threads would spin on work too small to share (CI runs two
    # tests at once on two cores)
    torch.set_num_threads(1)
    report = {}
    torch.manual_seed(0)
    decoder = TransformerWrapper(num_tokens=16, max_seq_len=32, attn_layers=Decoder(
        dim=32, depth=2, heads=2, rotary_pos_emb=True, ff_glu=True, attn_qk_norm=True,
        attn_num_mem_kv=2, attn_flash=False))
    model = AutoregressiveWrapper(decoder)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    sequences = torch.arange(17).remainder(4).repeat(4, 1)  # 0 1 2 3 0 1 2 3 ...
    report["decoder_losses"] = []
    for step in range(8):
        loss = model(sequences)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        report["decoder_losses"].append(loss.item())
    model.eval()
    prompt = torch.tensor([[0, 1, 2, 3]])
    with torch.no_grad():
        report["prompt_logits"] = decoder(prompt)[0, -1].tolist()
    report["greedy"] = model.generate(prompt, 8, temperature=0.0).tolist()
    report["greedy_no_cache"] = model.generate(prompt, 8, temperature=0.0,
                                               cache_kv=False).tolist()
    for name, filter_kwargs in [("top_k", {"k": 2}), ("top_p", {"thres": 0.9}),
                                ("min_p", {"min_p": 0.2})]:
        torch.manual_seed(1)
        report[name] = model.generate(prompt, 8, filter_logits_fn=name,
                                      filter_kwargs=filter_kwargs).tolist()

    torch.manual_seed(3)
    classifier = TransformerWrapper(num_tokens=16, max_seq_len=16, logits_dim=3,
                                    use_cls_token=True,
                                    attn_layers=Encoder(dim=32, depth=2, heads=2))
    tokens = torch.randint(0, 16, (4, 12))
    mask = torch.arange(12) < torch.tensor([[12], [9], [12], [7]])
    labels = torch.tensor([0, 1, 2, 1])
    optimizer = torch.optim.AdamW(classifier.parameters(), lr=3e-3)
    report["classifier_losses"] = []
    for step in range(6):
        loss = F.cross_entropy(classifier(tokens, mask=mask), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        report["classifier_losses"].append(loss.item())
    classifier.eval()
    with torch.no_grad():
        logits = classifier(tokens, mask=mask)
        # padding is masked out: changing padded tokens leaves the logits alone
        repadded = classifier(torch.where(mask, tokens, 0), mask=mask)
    report["classifier_logits"] = logits.tolist()
    report["classifier_eval_loss"] = F.cross_entropy(logits, labels).item()
    report["padding_ignored"] = torch.allclose(logits, repadded, atol=1e-6)
    report["labels"] = labels.tolist()

    torch.manual_seed(4)
    xt = XTransformer(dim=32, enc_num_tokens=16, enc_depth=1, enc_heads=2, enc_max_seq_len=16,
                      dec_num_tokens=16, dec_depth=1, dec_heads=2, dec_max_seq_len=16,
                      tie_token_emb=True)
    source = torch.randint(0, 16, (2, 10))
    source_mask = torch.arange(10) < torch.tensor([[10], [6]])
    target = torch.randint(0, 16, (2, 9))
    loss = xt(source, target, mask=source_mask)
    loss.backward()
    report["xt_loss"] = loss.item()
    report["xt_grad_norm"] = torch.cat([p.grad.flatten() for p in xt.parameters()
                                        if p.grad is not None]).norm().item()
    report["xt_target"] = target.tolist()
    xt.eval()
    with torch.no_grad():
        encoded = xt.encoder(source, mask=source_mask, return_embeddings=True)
        report["xt_logits"] = xt.decoder.net(target[:, :-1], context=encoded,
                                             context_mask=source_mask).tolist()
    report["xt_generate"] = xt.generate(source, torch.zeros(2, 1, dtype=torch.long), 6,
                                        mask=source_mask, temperature=0.0).tolist()
    print(json.dumps(report))
''')

# the script's report, run under ``command_prefix`` (``-m ember.compat``: on ember)
run_script = functools.partial(script_report.run_script, SCRIPT, "x_transformers_script.py")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    return run_script("-m", "ember.compat", tmp_path=tmp_path_factory.mktemp("x_transformers"))


def _cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Mean cross-entropy of (N, C) logits against N class indices, in float64."""
    logits = logits.astype(np.float64)
    log_z = np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1)) + logits.max(1)
    return float((log_z - logits[np.arange(len(labels)), labels]).mean())


def test_decoder_learns_the_pattern_and_generates_it(report):
    losses = report["decoder_losses"]
    assert np.all(np.diff(losses) < 0) and losses[-1] < losses[0] / 4
    # greedy decoding starts from the argmax of the prompt's last logits, and continues the
    # learned period; the key-value cache changes nothing
    assert report["greedy"][0][0] == int(np.argmax(report["prompt_logits"]))
    assert report["greedy"] == [[0, 1, 2, 3, 0, 1, 2, 3]]
    assert report["greedy_no_cache"] == report["greedy"]


def test_filtered_sampling_keeps_to_the_filter(report):
    logits = np.array(report["prompt_logits"])
    for name in ("top_k", "top_p", "min_p"):
        tokens = report[name]
        assert np.array(tokens).shape == (1, 8) and all(0 <= t < 16 for t in tokens[0]), name
    # the first token is drawn from the prompt's logits: top-2 keeps two of them
    assert report["top_k"][0][0] in np.argsort(-logits)[:2]
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    assert probs[report["min_p"][0][0]] >= 0.2 * probs.max()


def test_classifier_trains_and_masks_padding(report):
    losses = report["classifier_losses"]
    assert np.all(np.diff(losses) < 0)
    logits = np.array(report["classifier_logits"])
    assert logits.shape == (4, 3)
    assert np.isclose(report["classifier_eval_loss"],
                      _cross_entropy(logits, np.array(report["labels"])), rtol=1e-5)
    assert report["padding_ignored"] is True


def test_encoder_decoder_loss_matches_numpy(report):
    logits = np.array(report["xt_logits"])  # (2, 8, 16): the decoder's on target[:, :-1]
    target = np.array(report["xt_target"])[:, 1:]
    expected = _cross_entropy(logits.reshape(-1, 16), target.reshape(-1))
    assert np.isclose(report["xt_loss"], expected, rtol=1e-5)
    assert abs(expected - np.log(16)) < 0.5 and report["xt_grad_norm"] > 0
    generated = np.array(report["xt_generate"])
    assert generated.shape == (2, 6) and generated.min() >= 0 and generated.max() < 16
