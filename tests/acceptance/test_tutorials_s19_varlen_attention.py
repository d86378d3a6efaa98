"""Acceptance: "Using Variable Length Attention in PyTorch"
(intermediate_source/variable_length_attention_tutorial.py, stored verbatim under
data/tutorials_s19/) runs on ember.

Edits: the model runs on the CPU in float32 instead of CUDA bfloat16 (PyTorch has the op on
CUDA only), and ``is_causal=True`` becomes ``window_size=(-1, 0)``, the causal mask's spelling in
PyTorch 2.13's ``varlen_attn`` (which has no ``is_causal``).
"""

import numpy as np
from acceptance_runner import run
from tutorial_source import load

EDITS = (
    ('device = "cuda"', 'device = "cpu"'),
    ("dtype = torch.bfloat16", "dtype = torch.float32"),
    ("is_causal=True,", "window_size=(-1, 0),"),
)


def _tutorial(**env) -> dict:
    return run(load("tutorials_s19/variable_length_attention_tutorial.py.txt", *EDITS), **env)


def _numpy_forward(model, tokens: np.ndarray, cu_seq: np.ndarray) -> np.ndarray:
    """The tutorial's transformer in float64 NumPy: causal attention within each document."""
    params = {name: p.detach().numpy().astype(np.float64)
              for name, p in model.named_parameters()}
    batch, length = tokens.shape
    x = params["tok_embeddings.weight"][tokens].reshape(batch * length, -1)
    heads = model.attention.num_heads
    q, k, v = np.split(x @ params["attention.qkv_proj.weight"].T, 3, axis=-1)
    q, k, v = (t.reshape(len(x), heads, -1) for t in (q, k, v))
    attn = np.zeros_like(q)
    for start, stop in zip(cu_seq[:-1], cu_seq[1:]):
        qs, ks, vs = (t[start:stop].transpose(1, 0, 2) for t in (q, k, v))
        scores = qs @ ks.transpose(0, 2, 1) / np.sqrt(qs.shape[-1])
        scores = np.where(np.tril(np.ones(scores.shape[1:], bool)), scores, -np.inf)
        weights = np.exp(scores - scores.max(-1, keepdims=True))
        weights /= weights.sum(-1, keepdims=True)
        attn[start:stop] = (weights @ vs).transpose(1, 0, 2)
    y = x + attn.reshape(len(x), -1) @ params["attention.out_proj.weight"].T
    mean = y.mean(-1, keepdims=True)
    var = y.var(-1, keepdims=True)
    y = (y - mean) / np.sqrt(var + model.norm.eps)
    y = y * params["norm.weight"] + params["norm.bias"]
    return y.reshape(batch, length, -1)


def test_training_step_prints_documents_and_shape():
    ns = _tutorial(__name__="__main__")  # runs main(): metadata, forward, backward
    out = ns["_stdout"]
    assert "output shape: torch.Size([3, 64, 128])" in out
    assert out.startswith("cu_seq: tensor([  0,") or out.startswith("cu_seq: tensor([0,")
    printed = out.split("tensor([")[1].split("]")[0]
    cu_seq = np.array([int(s) for s in printed.replace("\n", " ").split(",")])
    max_len = int(out.split("max_len: ")[1].split("\n")[0])
    assert cu_seq[0] == 0 and cu_seq[-1] == 3 * 64 and (np.diff(cu_seq) > 0).all()
    assert {64, 128} <= set(cu_seq.tolist())  # every row ends a document
    assert max_len == np.diff(cu_seq).max()


def test_metadata_matches_numpy():
    ns = _tutorial()
    torch = ns["torch"]
    rows = [[5, 2, 7, 2, 2, 9], [2, 3, 4, 5, 6, 2], [1, 1, 1, 1, 1, 1]]
    cu_seq, max_len = ns["create_varlen_metadata"](torch.tensor(rows), 2)
    expected, longest = [0], 0
    for b, row in enumerate(rows):  # a document ends after each eos and at the row's end
        ends = sorted({i + 1 for i, t in enumerate(row) if t == 2} | {len(row)})
        starts = [0] + ends[:-1]
        expected += [b * 6 + e for e in ends]
        longest = max(longest, *(e - s for s, e in zip(starts, ends)))
    assert cu_seq.dtype == torch.int32
    assert cu_seq.tolist() == expected
    assert max_len == longest


def test_forward_matches_numpy_and_documents_stay_apart():
    ns = _tutorial()
    torch = ns["torch"]
    torch.manual_seed(0)
    model = ns["SimpleVarlenTransformer"](50, 16, 2)
    tokens = torch.randint(3, 50, (2, 12))
    tokens[0, 4] = tokens[0, 11] = tokens[1, 6] = tokens[1, 11] = 2
    cu_seq, max_len = ns["create_varlen_metadata"](tokens, 2)
    assert cu_seq.tolist() == [0, 5, 12, 19, 24]
    output = model(tokens, cu_seq, max_len)
    expected = _numpy_forward(model, tokens.numpy(), cu_seq.numpy())
    np.testing.assert_allclose(output.detach().numpy(), expected, rtol=1e-4, atol=1e-5)

    # the gradient of the first document's output reaches only its own tokens' embeddings
    x = model.tok_embeddings(tokens).detach().requires_grad_()
    attended = model.attention(x, cu_seq, max_len)
    attended[0, :5].sum().backward()
    reached = x.grad.abs().sum(-1).numpy() > 0
    assert reached[0, :5].all() and not reached[0, 5:].any() and not reached[1].any()
