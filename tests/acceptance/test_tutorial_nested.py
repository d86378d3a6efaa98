"""Acceptance: PyTorch's nested tensor tutorial runs on ember.

Code from pytorch/tutorials prototype_source/nestedtensor.py (BSD-3-Clause), prose and comments
removed; otherwise unchanged except the batch size ``N`` (512 -> 64) to keep the run short.
The last cell, ``nn.MultiheadAttention`` on a nested query (PyTorch's fast path), is a test of
its own.
"""
# The tutorial's code is kept verbatim, long lines included.
# ruff: noqa: E501

import re

from acceptance_runner import run

import ember

BASICS = '''
import torch
import torch.nn.functional as F

device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')

nt = torch.nested.nested_tensor([torch.arange(12).reshape(
    2, 6), torch.arange(18).reshape(3, 6)], dtype=torch.float, device=device)
print(f"{nt=}")

padded_out_tensor = torch.nested.to_padded_tensor(nt, padding=0.0)
print(f"{padded_out_tensor=}")

print(f"nt is nested: {nt.is_nested}")
print(f"padded_out_tensor is nested: {padded_out_tensor.is_nested}")

print("First underlying tensor component:", nt[0], sep='\\n')
print("last column of 2nd underlying tensor component:", nt[1, :, -1], sep='\\n')

print(f"First underlying tensor component is nested: {nt[0].is_nested}")

nt_reshaped = nt.reshape(2, -1, 2, 3)
print(f"{nt_reshaped=}")

nt_transposed = nt_reshaped.transpose(1, 2)
print(f"{nt_transposed=}")

nt_mm = torch.nested.nested_tensor([torch.randn((2, 3, 4)), torch.randn((2, 3, 5))], device=device)
nt3 = torch.matmul(nt_transposed, nt_mm)
print(f"Result of Matmul:\\n {nt3}")

nt4 = F.dropout(nt3, 0.1)
print(f"Result of Dropout:\\n {nt4}")

nt5 = F.softmax(nt4, -1)
print(f"Result of Softmax:\\n {nt5}")

sentences = [["goodbye", "padding"],
             ["embrace", "nested", "tensor"]]
vocabulary = {"goodbye": 1.0, "padding": 2.0,
              "embrace": 3.0, "nested": 4.0, "tensor": 5.0}
padded_sentences = torch.tensor([[1.0, 2.0, 0.0],
                                 [3.0, 4.0, 5.0]])
nested_sentences = torch.nested.nested_tensor([torch.tensor([1.0, 2.0]),
                                               torch.tensor([3.0, 4.0, 5.0])])
print(f"{padded_sentences=}")
print(f"{nested_sentences=}")

padded_sentences_for_softmax = torch.tensor([[1.0, 2.0, float("-inf")],
                                             [3.0, 4.0, 5.0]])
print(F.softmax(padded_sentences_for_softmax, -1))
print(F.softmax(nested_sentences, -1))
'''

MHA = '''
import math

def mha_nested(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, nheads: int,
               W_q: torch.Tensor, W_k: torch.Tensor, W_v: torch.Tensor, W_out: torch.Tensor,
               b_q: torch.Tensor = None, b_k: torch.Tensor = None, b_v: torch.Tensor = None, b_out: torch.Tensor = None,
               dropout_p: float = 0.0) -> torch.Tensor:
    N = query.size(0)
    E_total = W_q.size(0)
    assert E_total % nheads == 0, "Embedding dim is not divisible by nheads"
    E_head = E_total // nheads

    query = F.linear(query, W_q, b_q)
    key = F.linear(key, W_k, b_k)
    value = F.linear(value, W_v, b_v)

    query = query.reshape(N, -1, nheads, E_head).transpose(1, 2)
    key = key.reshape(N, -1, nheads, E_head).transpose(1, 2)
    value = value.reshape(N, -1, nheads, E_head).transpose(1, 2)

    keyT = key.transpose(-1, -2)
    attn_weights = torch.matmul(query, keyT)

    attn_weights = attn_weights * (1.0 / math.sqrt(E_head))

    attn_weights = F.softmax(attn_weights, dim=-1)

    if dropout_p > 0.0:
        attn_weights = F.dropout(attn_weights, p=dropout_p)

    attn_output = torch.matmul(attn_weights, value)

    attn_output = attn_output.transpose(1, 2).reshape(N, -1, E_total)

    attn_output = F.linear(attn_output, W_out, b_out)

    return attn_output

def mha_padded(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, nheads: int,
               attn_mask_q: torch.Tensor, attn_mask_kv: torch.Tensor,
               W_q: torch.Tensor, W_k: torch.Tensor, W_v: torch.Tensor, W_out: torch.Tensor,
               b_q: torch.Tensor = None, b_k: torch.Tensor = None, b_v: torch.Tensor = None, b_out: torch.Tensor = None,
               dropout_p: float = 0.0) -> torch.Tensor:
    N = query.size(0)
    L_t = query.size(1)
    L_s = key.size(1)
    E_total = W_q.size(0)
    assert E_total % nheads == 0, "Embedding dim is not divisible by nheads"
    assert L_t == L_s, "This implementation assumes equal query and key sequence lengths"
    E_head = E_total // nheads

    query = F.linear(query, W_q, b_q)
    key = F.linear(key, W_k, b_k)
    value = F.linear(value, W_v, b_v)

    query = query.reshape(N, -1, nheads, E_head).transpose(1, 2).reshape(N * nheads, -1, E_head)
    key = key.reshape(N, -1, nheads, E_head).transpose(1, 2).reshape(N * nheads, -1, E_head)
    value = value.reshape(N, -1, nheads, E_head).transpose(1, 2).reshape(N * nheads, -1, E_head)

    keyT = key.transpose(-1, -2)
    attn_weights = torch.bmm(query, keyT)

    attn_weights = attn_weights * (1.0 / math.sqrt(E_head))

    key_padding_mask = attn_mask_q.view(N, 1, 1, L_t).expand(-1, nheads, -1, -1).reshape(N*nheads, 1, L_t).to(device=device)
    attn_mask = torch.zeros(key_padding_mask.shape, device=device, dtype=torch.float32)
    attn_mask = attn_mask.masked_fill_(key_padding_mask, float("-inf"))

    attn_weights.add_(attn_mask)

    attn_weights = F.softmax(attn_weights, dim=-1).nan_to_num_(0.0)

    if dropout_p > 0.0:
        attn_weights = F.dropout(attn_weights, p=dropout_p)

    attn_output = attn_weights.bmm(value)

    attn_output = attn_output.reshape(N, nheads, -1, E_head).transpose(1, 2).reshape(N, -1, E_total)

    attn_output = F.linear(attn_output, W_out, b_out)

    attn_output[attn_mask_q, :] = 0.0

    return attn_output

N = 64
E_q, E_k, E_v, E_total, E_out = 512, 512, 512, 512, 512
nheads = 8

dropout_p = 0.0

import numpy as np

def zipf_sentence_lengths(alpha: float, batch_size: int) -> np.ndarray:
    sentence_lengths = np.empty(batch_size, dtype=int)
    for ibatch in range(batch_size):
        sentence_lengths[ibatch] = 1
        word = np.random.zipf(alpha)
        while word != 3 and word != 386 and word != 858:
            sentence_lengths[ibatch] += 1
            word = np.random.zipf(alpha)
    return sentence_lengths

alpha = 1.2

sentence_lengths = zipf_sentence_lengths(alpha, N)
L_t = np.max(sentence_lengths)
L_s = L_t

W_q, b_q = torch.randn((E_total, E_q), device=device), torch.randn(E_total, device=device)
W_k, b_k = torch.randn((E_total, E_k), device=device), torch.randn(E_total, device=device)
W_v, b_v = torch.randn((E_total, E_v), device=device), torch.randn(E_total, device=device)
W_out, b_out = torch.randn((E_out, E_total), device=device), torch.randn(E_out, device=device)

queries = []
keys = []
values = []
for i in range(N):
    l = sentence_lengths[i]
    s = l
    queries.append(torch.randn((l, E_q), device=device))
    keys   .append(torch.randn((s, E_k), device=device))
    values .append(torch.randn((s, E_v), device=device))
query = torch.nested.nested_tensor(queries)
key = torch.nested.nested_tensor(keys)
value = torch.nested.nested_tensor(values)

padded_query = torch.nested.to_padded_tensor(query, 0.0, (N, L_t, E_q))
padded_key   = torch.nested.to_padded_tensor(key, 0.0, (N, L_s, E_k))
padded_value = torch.nested.to_padded_tensor(value, 0.0, (N, L_s, E_v))

attn_mask_q = torch.zeros((N, L_t), dtype=torch.bool)
attn_mask_kv = torch.zeros((N, L_s), dtype=torch.bool)

for i, entry_length in enumerate(sentence_lengths):
    attn_mask_q[i, entry_length:] = True
    attn_mask_kv[i, entry_length:] = True

import timeit

t0 = timeit.default_timer()
out_nested = mha_nested(
    query, key, value, nheads,
    W_q, W_k, W_v, W_out,
    b_q=b_q, b_k=b_k, b_v=b_v, b_out=b_out,
    dropout_p=dropout_p)

t1 = timeit.default_timer()
out_padded = mha_padded(
    padded_query, padded_key, padded_value, nheads,
    attn_mask_q, attn_mask_kv,
    W_q, W_k, W_v, W_out,
    b_q=b_q, b_k=b_k, b_v=b_v, b_out=b_out,
    dropout_p=dropout_p)
t2 = timeit.default_timer()

print("nested and padded calculations differ by", (torch.nested.to_padded_tensor(out_nested, 0.0, (N, L_t, E_out)) - out_padded).abs().max().item())
print("nestedtensor multi-head attention takes", t1 - t0, "seconds")
print("padded tensor multi-head attention takes", t2 - t1, "seconds")
'''

MHA_LIB = '''
E = E_total
mha_lib = torch.nn.MultiheadAttention(E, nheads, batch_first=True, device=device)
mha_lib.eval()

mha_lib.in_proj_weight.requires_grad_(False)
mha_lib.in_proj_bias.requires_grad_(False)
mha_lib.out_proj.weight.requires_grad_(False)
mha_lib.out_proj.bias.requires_grad_(False)
W_q, b_q = mha_lib.in_proj_weight[: E, :], mha_lib.in_proj_bias[: E]
W_k, b_k = mha_lib.in_proj_weight[E : 2 * E, :], mha_lib.in_proj_bias[E : 2 * E]
W_v, b_v = mha_lib.in_proj_weight[2 * E :, :], mha_lib.in_proj_bias[2 * E :]
W_out, b_out = mha_lib.out_proj.weight, mha_lib.out_proj.bias

with torch.inference_mode():
    t0 = timeit.default_timer()
    out_lib, out_lib_weights = mha_lib(query, query, query, need_weights=False)

    t1 = timeit.default_timer()
    padded_out = mha_padded(
        padded_query, padded_query, padded_query, nheads,
        attn_mask_q, attn_mask_q,
        W_q, W_k, W_v, W_out,
        b_q=b_q, b_k=b_k, b_v=b_v, b_out=b_out,
        dropout_p=dropout_p)
    t2 = timeit.default_timer()

nested_time = t1 - t0
padded_time = t2 - t1
print("Nested and padded calculations differ by", (torch.nested.to_padded_tensor(out_lib, 0.0) - padded_out).abs().max().item())
print("Nested library multi-head attention takes", nested_time, "seconds")
print("Padded tensor multi-head attention takes", padded_time, "seconds")
print(f"Nested Speedup: {padded_time / nested_time:.3f}")
'''


def _differences(out: str) -> list:
    return [float(m) for m in re.findall(r"differ by (\S+)", out)]


def test_nested_basics():
    ember.manual_seed(0)
    ns = run(BASICS)
    out = ns["_stdout"]
    assert "nt is nested: True" in out and "padded_out_tensor is nested: False" in out
    assert "First underlying tensor component is nested: False" in out
    assert ns["padded_out_tensor"].shape == (2, 3, 6)
    assert [tuple(c.shape) for c in ns["nt3"].unbind()] == [(2, 2, 4), (2, 3, 5)]
    rows = ns["nt5"].unbind()
    assert all(ember.allclose(r.sum(-1), ember.ones(r.shape[:-1])) for r in rows)
    soft = ns["F"].softmax(ns["nested_sentences"], -1)
    assert ember.allclose(soft[0], ember.tensor([0.2689, 0.7311]), atol=1e-4)


def test_nested_multi_head_attention():
    import numpy as np
    np.random.seed(0)
    ember.manual_seed(0)
    ns = run(BASICS)
    ns = run(MHA, ns)
    # weights of randn scale: outputs are in the thousands, float32 sums differ by rounding
    scale = ns["out_padded"].abs().max().item()
    assert _differences(ns["_stdout"])[0] <= 1e-4 * scale


def test_nested_multi_head_attention_module():
    import numpy as np
    np.random.seed(0)
    ember.manual_seed(0)
    ns = run(BASICS)
    ns = run(MHA, ns)
    ns = run(MHA_LIB, ns)
    scale = ns["padded_out"].abs().max().item()
    assert _differences(ns["_stdout"])[-1] <= 1e-4 * scale


# pytorch/tutorials intermediate_source/transformer_building_blocks.py: the MultiHeadAttention
# layer on jagged nested tensors against nn.MultiheadAttention on padded ones (self-attention,
# forward and backward). Changed: N 512 -> 16, device "cuda" -> "cpu".
BUILDING_BLOCKS = '''
import torch
import torch.nn as nn
import torch.nn.functional as F


class MultiHeadAttention(nn.Module):
    def __init__(
        self,
        E_q: int,
        E_k: int,
        E_v: int,
        E_total: int,
        nheads: int,
        dropout: float = 0.0,
        bias=True,
        device=None,
        dtype=None,
    ):
        factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__()
        self.nheads = nheads
        self.dropout = dropout
        self._qkv_same_embed_dim = E_q == E_k and E_q == E_v
        if self._qkv_same_embed_dim:
            self.packed_proj = nn.Linear(E_q, E_total * 3, bias=bias, **factory_kwargs)
        else:
            self.q_proj = nn.Linear(E_q, E_total, bias=bias, **factory_kwargs)
            self.k_proj = nn.Linear(E_k, E_total, bias=bias, **factory_kwargs)
            self.v_proj = nn.Linear(E_v, E_total, bias=bias, **factory_kwargs)
        E_out = E_q
        self.out_proj = nn.Linear(E_total, E_out, bias=bias, **factory_kwargs)
        assert E_total % nheads == 0, "Embedding dim is not divisible by nheads"
        self.E_head = E_total // nheads
        self.bias = bias

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        attn_mask=None,
        is_causal=False,
    ) -> torch.Tensor:
        if self._qkv_same_embed_dim:
            if query is key and key is value:
                result = self.packed_proj(query)
                query, key, value = torch.chunk(result, 3, dim=-1)
            else:
                q_weight, k_weight, v_weight = torch.chunk(
                    self.packed_proj.weight, 3, dim=0
                )
                if self.bias:
                    q_bias, k_bias, v_bias = torch.chunk(
                        self.packed_proj.bias, 3, dim=0
                    )
                else:
                    q_bias, k_bias, v_bias = None, None, None
                query, key, value = (
                    F.linear(query, q_weight, q_bias),
                    F.linear(key, k_weight, k_bias),
                    F.linear(value, v_weight, v_bias),
                )

        else:
            query = self.q_proj(query)
            key = self.k_proj(key)
            value = self.v_proj(value)

        query = query.unflatten(-1, [self.nheads, self.E_head]).transpose(1, 2)
        key = key.unflatten(-1, [self.nheads, self.E_head]).transpose(1, 2)
        value = value.unflatten(-1, [self.nheads, self.E_head]).transpose(1, 2)

        attn_output = F.scaled_dot_product_attention(
            query, key, value, dropout_p=self.dropout, is_causal=is_causal
        )
        attn_output = attn_output.transpose(1, 2).flatten(-2)

        attn_output = self.out_proj(attn_output)

        return attn_output


import numpy as np


def zipf_sentence_lengths(alpha: float, batch_size: int) -> torch.Tensor:
    sentence_lengths = np.empty(batch_size, dtype=int)
    for ibatch in range(batch_size):
        sentence_lengths[ibatch] = 1
        word = np.random.zipf(alpha)
        while word != 3 and word != 386 and word != 858:
            sentence_lengths[ibatch] += 1
            word = np.random.zipf(alpha)
    return torch.tensor(sentence_lengths)


def gen_batch(N, E_q, E_k, E_v, device, dtype=torch.float32, query_seq_len_1=False):
    sentence_lengths = zipf_sentence_lengths(alpha=1.2, batch_size=N)

    if query_seq_len_1:
        query = torch.nested.nested_tensor(
            [torch.randn(1, E_q, dtype=dtype, device=device) for l in sentence_lengths],
            layout=torch.jagged,
        )
    else:
        query = torch.nested.nested_tensor(
            [
                torch.randn(l.item(), E_q, dtype=dtype, device=device)
                for l in sentence_lengths
            ],
            layout=torch.jagged,
        )

    key = torch.nested.nested_tensor(
        [
            torch.randn(s.item(), E_k, dtype=dtype, device=device)
            for s in sentence_lengths
        ],
        layout=torch.jagged,
    )

    value = torch.nested.nested_tensor(
        [
            torch.randn(s.item(), E_v, dtype=dtype, device=device)
            for s in sentence_lengths
        ],
        layout=torch.jagged,
    )

    return query, key, value, sentence_lengths


import math

N, E_q, E_k, E_v, E_total = 16, 512, 512, 512, 512
E_out = E_q
d_model = E_q
nheads = 8
dropout = 0.0
bias = True
device = "cpu"
torch.manual_seed(6)
query, key, value, sentence_lengths = gen_batch(N, E_q, E_k, E_v, device)
S = sentence_lengths.max().item()
print(
    f"Total sequence length in nested query {sentence_lengths.sum().item()}, max sequence length {S}"
)
padded_query, padded_key, padded_value = (
    t.to_padded_tensor(0.0) for t in (query, key, value)
)

torch.manual_seed(6)
mha_layer = MultiHeadAttention(
    E_q, E_k, E_v, E_total, nheads, dropout=dropout, bias=bias, device=device
)
torch.manual_seed(6)
vanilla_mha_layer = nn.MultiheadAttention(
    E_q, nheads, dropout=dropout, batch_first=True, bias=bias, device=device
)

mha_layer.out_proj.weight = nn.Parameter(
    vanilla_mha_layer.out_proj.weight.clone().detach()
)
mha_layer.packed_proj.weight = nn.Parameter(
    vanilla_mha_layer.in_proj_weight.clone().detach()
)
mha_layer.out_proj.bias = nn.Parameter(vanilla_mha_layer.out_proj.bias.clone().detach())
mha_layer.packed_proj.bias = nn.Parameter(
    vanilla_mha_layer.in_proj_bias.clone().detach()
)

nested_result = mha_layer(query, query, query, is_causal=True)
padded_nested_result = nested_result.to_padded_tensor(0.0)

src_key_padding_mask = torch.where(padded_query == 0.0, -math.inf, 0)[:, :, 0]
attn_mask = torch.empty((N, S, S), device=device).fill_(float("-inf"))
for i, s in enumerate(sentence_lengths):
    attn_mask[i, :s, :s] = nn.Transformer.generate_square_subsequent_mask(s)
attn_mask = attn_mask.unsqueeze(1).expand(N, nheads, S, S).reshape(N * nheads, S, S)

padded_result, _ = vanilla_mha_layer(
    padded_query,
    padded_query,
    padded_query,
    key_padding_mask=src_key_padding_mask,
    need_weights=False,
    attn_mask=attn_mask,
    is_causal=True,
)

print(
    "Max difference between vanilla and nested result",
    (padded_result - padded_nested_result).abs().max().item(),
)

for i, entry_length in enumerate(sentence_lengths):
    padded_result[i, entry_length:, :] = 0.0

padded_result.sum().backward()
padded_nested_result.sum().backward()

print(
    "Difference in out_proj.weight.grad",
    (mha_layer.out_proj.weight.grad - vanilla_mha_layer.out_proj.weight.grad)
    .abs()
    .max()
    .item(),
)
print(
    "Difference in packed_proj.weight.grad",
    (mha_layer.packed_proj.weight.grad - vanilla_mha_layer.in_proj_weight.grad)
    .abs()
    .max()
    .item(),
)
'''


def test_transformer_building_blocks_multi_head_attention():
    """The nested layer's output and gradients equal nn.MultiheadAttention's on each unpadded
    sequence. (The tutorial's own comparison prints nan on ember: its padded rows are fully
    masked, and ember's scaled_dot_product_attention gives nan there where PyTorch gives 0.)"""
    import numpy as np
    np.random.seed(0)
    ns = run(BUILDING_BLOCKS)
    layer, vanilla = ns["mha_layer"], ns["vanilla_mha_layer"]
    nested = ns["nested_result"]
    scale = nested.values().abs().max().item()
    assert (ns["padded_result"] - ns["padded_nested_result"]).abs().max().item() <= 1e-5 * scale
    vanilla.zero_grad()
    total = 0
    for q, out in zip(ns["query"].unbind(), nested.unbind()):
        x = q.detach()[None]
        mask = ember.nn.Transformer.generate_square_subsequent_mask(x.shape[1])
        ref, _ = vanilla(x, x, x, attn_mask=mask, need_weights=False)
        assert (ref[0] - out).abs().max().item() <= 1e-5 * scale
        total = total + ref.sum()
    total.backward()
    for mine, theirs in ((layer.out_proj.weight, vanilla.out_proj.weight),
                         (layer.packed_proj.weight, vanilla.in_proj_weight),
                         (layer.packed_proj.bias, vanilla.in_proj_bias)):
        tol = 1e-4 * theirs.grad.abs().max().item()
        assert (mine.grad - theirs.grad).abs().max().item() <= tol
