"""Acceptance: the "(prototype) FX Graph Mode Post Training Dynamic Quantization" tutorial
(prototype_source/fx_graph_mode_ptq_dynamic.py, stored verbatim under
data/tutorials_s20_fx_dynamic/) runs on ember: an LSTM word-language model read from a state
dict file, a ``QConfigMapping`` (``nn.Embedding`` -> ``float_qparams_weight_only_qconfig``,
``nn.LSTM`` and ``nn.Linear`` -> ``default_dynamic_qconfig``), ``prepare_fx`` (dynamic
placeholder observers before the LSTM and the Linear, none for the weight-only Embedding),
``convert_fx`` (quantized Embedding, dynamic LSTM and Linear), the size and the loss of both
models.

Edits: sizes only (embedding 512 -> 16, hidden 256 -> 16, 5 -> 2 layers). The wikitext-2
files are tiny ones the test writes and the pretrained weights file is a state dict drawn from
a seeded NumPy generator (``write_tutorial_data``, shared with the conformance test
tests/conformance/test_tutorials_s20_fx_dynamic_vs_torch.py).
"""

import numpy as np
from acceptance_runner import run
from tutorial_source import load

import ember

TUTORIAL = "tutorials_s20_fx_dynamic/fx_graph_mode_ptq_dynamic.py.txt"
EMBED, HIDDEN, LAYERS = 16, 16, 2
EDITS = (
    ("ninp = 512", f"ninp = {EMBED}", 2),
    ("nhid = 256", f"nhid = {HIDDEN}", 2),
    ("nlayers = 5", f"nlayers = {LAYERS}", 2),
)


def write_tutorial_data(root, torch) -> None:
    """``data/wikitext-2/wiki.{train,valid,test}.tokens`` (4 lines of 9 words from 12 each) and
    ``data/word_language_model_quantize.pth``: the model's state dict drawn from a seeded
    NumPy generator and saved with ``torch`` (ember or PyTorch, the same values either way)."""
    rng = np.random.RandomState(0)
    words = [f"w{i}" for i in range(12)]
    folder = root / "data" / "wikitext-2"
    folder.mkdir(parents=True)
    seen = {"<eos>"}
    for split in ("train", "valid", "test"):
        lines = [list(rng.choice(words, 9)) for _ in range(4)]
        seen.update(w for line in lines for w in line)
        (folder / f"wiki.{split}.tokens").write_text("".join(" ".join(ln) + "\n" for ln in lines))
    ntokens = len(seen)

    def uniform(bound, *shape):
        return torch.tensor(rng.uniform(-bound, bound, shape).astype(np.float32))

    state = {"encoder.weight": uniform(0.1, ntokens, EMBED)}
    for layer in range(LAYERS):
        inputs = EMBED if layer == 0 else HIDDEN
        state[f"rnn.weight_ih_l{layer}"] = uniform(0.25, 4 * HIDDEN, inputs)
        state[f"rnn.weight_hh_l{layer}"] = uniform(0.25, 4 * HIDDEN, HIDDEN)
        state[f"rnn.bias_ih_l{layer}"] = uniform(0.25, 4 * HIDDEN)
        state[f"rnn.bias_hh_l{layer}"] = uniform(0.25, 4 * HIDDEN)
    state["decoder.weight"] = uniform(0.1, ntokens, HIDDEN)
    state["decoder.bias"] = uniform(0.1, ntokens)
    torch.save(state, str(root / "data" / "word_language_model_quantize.pth"))


def test_fx_graph_mode_ptq_dynamic_tutorial(tmp_path, monkeypatch):
    write_tutorial_data(tmp_path, ember)
    monkeypatch.chdir(tmp_path)
    ns = run(load(TUTORIAL, *EDITS))
    stdout = ns["_out"].getvalue()
    nnq, nnqd = ember.ao.nn.quantized, ember.ao.nn.quantized.dynamic

    # prepare_fx: a dynamic quint8 placeholder before the LSTM and the Linear, none around the
    # weight-only Embedding
    prepared = ns["prepared_model"]
    observers = {n.target: n.args[0].name for n in prepared.graph.nodes
                 if n.op == "call_module" and "activation_post_process" in n.target}
    assert observers == {"activation_post_process_0": "drop",
                         "activation_post_process_1": "drop_1"}
    assert ("activation_post_process_0): PlaceholderObserver(dtype=torch.quint8, "
            "is_dynamic=True)") in stdout

    # convert_fx: the three layers swapped, the graph otherwise as it was traced
    quantized = ns["quantized_model"]
    assert type(quantized.encoder) is nnq.Embedding
    assert type(quantized.rnn) is nnqd.LSTM and type(quantized.decoder) is nnqd.Linear
    assert [n.op for n in quantized.graph.nodes] == [
        "placeholder", "placeholder", "call_module", "call_module", "call_module",
        "call_function", "call_function", "call_module", "call_module", "output"]
    assert ("(encoder): QuantizedEmbedding(num_embeddings=13, embedding_dim=16, "
            "dtype=torch.quint8, qscheme=torch.per_channel_affine_float_qparams)") in stdout

    # the embedding rows: quint8 with one float scale and zero point each, within half a step
    # of the float rows; the lookup is q * scale - zero_point * scale in float32 (NumPy)
    weight = quantized.encoder.weight()
    assert weight.qscheme() is ember.per_channel_affine_float_qparams
    scales = weight.q_per_channel_scales().numpy()
    zero_points = weight.q_per_channel_zero_points().numpy()
    ints = weight.int_repr().numpy().astype(np.float64)
    float_rows = ns["model"].encoder.weight.detach().numpy()
    assert np.all(np.abs(weight.dequantize().numpy() - float_rows)
                  <= scales[:, None] / 2 + 1e-7)
    tokens = ns["test_data"][:10]
    looked_up = quantized.encoder(tokens).numpy()
    bias = -(zero_points * scales)
    want = (ints * scales[:, None] + bias[:, None]).astype(np.float32)[tokens.numpy()]
    np.testing.assert_array_equal(looked_up, want)

    # the int8 model tracks the float one, and equals eager quantize_dynamic's
    hidden = ns["init_hidden"](ns["model"], 1)
    with ember.no_grad():
        float_out, _ = ns["model"](tokens, hidden)
        fx_out, (fx_h, fx_c) = quantized(tokens, hidden)
    float_out, fx_out = float_out.numpy(), fx_out.numpy()
    assert np.abs(fx_out - float_out).max() < 0.05 * np.abs(float_out).max()
    qconfig = ember.ao.quantization
    eager = qconfig.quantize_dynamic(ns["model"], {
        ember.nn.Embedding: qconfig.float_qparams_weight_only_qconfig,
        ember.nn.LSTM: qconfig.default_dynamic_qconfig,
        ember.nn.Linear: qconfig.default_dynamic_qconfig})
    with ember.no_grad():
        eager_out, (eager_h, eager_c) = eager(tokens, hidden)
    np.testing.assert_array_equal(eager_out.numpy(), fx_out)
    np.testing.assert_array_equal(eager_c.numpy(), fx_c.numpy())

    # sizes and losses printed: the int8 state dict is the smaller, the losses close
    sizes = [float(line.split()[-1]) for line in stdout.splitlines()
             if line.startswith("Size (MB):")]
    losses = [float(line.split()[-1]) for line in stdout.splitlines()
              if line.startswith("loss:")]
    assert len(sizes) == 2 and sizes[1] < sizes[0]
    assert len(losses) == 2 and abs(losses[1] - losses[0]) < 0.05
