"""Acceptance: the CPU parts of PyTorch's scaled-dot-product-attention tutorial
(intermediate_source/scaled_dot_product_attention_tutorial.py) run on ember.

Code from pytorch/tutorials (BSD-3-Clause), prose and comments removed. Reduced: batch sizes,
sequence lengths, heads and widths, ``blocked_autorange``'s ``min_run_time`` (0.01 s); the
``CausalSelfAttention`` model is moved ``.to(device)`` instead of ``.to("cuda")``. Not run here:
the ``torch.nested`` cells (tests/acceptance/test_tutorial_nested.py covers nested tensors) and
the ``torch.nn.attention.bias`` cells (tests/conformance/test_flex_attention_vs_torch.py checks
CausalBias against PyTorch).
"""
# The tutorials' code is kept verbatim, long lines included.
# ruff: noqa: E501

import numpy as np
from acceptance_runner import run

SDPA = r'''
import torch
import torch.nn as nn
import torch.nn.functional as F
device = "cuda" if torch.cuda.is_available() else "cpu"

query, key, value = torch.randn(2, 3, 8, device=device), torch.randn(2, 3, 8, device=device), torch.randn(2, 3, 8, device=device)
F.scaled_dot_product_attention(query, key, value)

import torch.utils.benchmark as benchmark
def benchmark_torch_function_in_microseconds(f, *args, **kwargs):
    t0 = benchmark.Timer(
        stmt="f(*args, **kwargs)", globals={"args": args, "kwargs": kwargs, "f": f}
    )
    return t0.blocked_autorange(min_run_time=0.01).mean * 1e6

batch_size = 2
max_sequence_len = 16
num_heads = 2
embed_dimension = 8

dtype = torch.float16

query = torch.rand(batch_size, num_heads, max_sequence_len, embed_dimension, device=device, dtype=dtype)
key = torch.rand(batch_size, num_heads, max_sequence_len, embed_dimension, device=device, dtype=dtype)
value = torch.rand(batch_size, num_heads, max_sequence_len, embed_dimension, device=device, dtype=dtype)

print(f"The default implementation runs in {benchmark_torch_function_in_microseconds(F.scaled_dot_product_attention, query, key, value):.3f} microseconds")

from torch.nn.attention import SDPBackend, sdpa_kernel


with sdpa_kernel(SDPBackend.MATH):
    math_time=benchmark_torch_function_in_microseconds(F.scaled_dot_product_attention, query, key, value)
    print(f"The math implementation runs in {math_time:.3f} microseconds")

with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
    try:
        flash_time=benchmark_torch_function_in_microseconds(F.scaled_dot_product_attention, query, key, value)
        print(f"The flash attention implementation runs in {flash_time:.3f} microseconds")
    except RuntimeError:
        print("FlashAttention is not supported. See warnings for reasons.")

with sdpa_kernel(SDPBackend.EFFICIENT_ATTENTION):
    try:
        efficient_time=benchmark_torch_function_in_microseconds(F.scaled_dot_product_attention, query, key, value)
        print(f"The memory efficient implementation runs in {efficient_time:.3f} microseconds")
    except RuntimeError:
        print("EfficientAttention is not supported. See warnings for reasons.")

class CausalSelfAttention(nn.Module):

    def __init__(self, num_heads: int, embed_dimension: int, bias: bool=False, is_causal: bool=False, dropout:float=0.0):
        super().__init__()
        assert embed_dimension % num_heads == 0
        self.c_attn = nn.Linear(embed_dimension, 3 * embed_dimension, bias=bias)
        self.c_proj = nn.Linear(embed_dimension, embed_dimension, bias=bias)
        self.dropout = dropout
        self.resid_dropout = nn.Dropout(dropout)
        self.num_heads = num_heads
        self.embed_dimension = embed_dimension
        self.is_causal = is_causal

    def forward(self, x):
        query_projected = self.c_attn(x)

        batch_size = query_projected.size(0)
        embed_dim = query_projected.size(2)
        head_dim = embed_dim // (self.num_heads * 3)

        query, key, value = query_projected.chunk(3, -1)
        query = query.view(batch_size, -1, self.num_heads, head_dim).transpose(1, 2)
        key = key.view(batch_size, -1, self.num_heads, head_dim).transpose(1, 2)
        value = value.view(batch_size, -1, self.num_heads, head_dim).transpose(1, 2)

        if self.training:
            dropout = self.dropout
            is_causal = self.is_causal
        else:
            dropout = 0.0
            is_causal = False

        y = F.scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=dropout, is_causal=is_causal)
        y = y.transpose(1, 2).view(batch_size, -1, self.num_heads * head_dim)

        y = self.resid_dropout(self.c_proj(y))
        return y


num_heads = 2
heads_per_dim = 8
embed_dimension = num_heads * heads_per_dim
dtype = torch.float16
model = CausalSelfAttention(num_heads=num_heads, embed_dimension=embed_dimension, bias=False, is_causal=True, dropout=0.1).to(device).to(dtype).eval()
print(model)

batch_size = 2
max_sequence_len = 16
x = torch.rand(batch_size, max_sequence_len,
               embed_dimension, device=device, dtype=dtype)
print(
    f"The non compiled module runs in  {benchmark_torch_function_in_microseconds(model, x):.3f} microseconds")


compiled_model = torch.compile(model)
compiled_model(x)
print(
    f"The compiled module runs in  {benchmark_torch_function_in_microseconds(compiled_model, x):.3f} microseconds")

from torch.profiler import profile, record_function, ProfilerActivity
activities = [ProfilerActivity.CPU]
if device == 'cuda':
    activities.append(ProfilerActivity.CUDA)

with profile(activities=activities, record_shapes=False) as prof:
    with record_function(" Non-Compilied Causal Attention"):
        for _ in range(25):
            model(x)
print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=10))


with profile(activities=activities, record_shapes=False) as prof:
    with record_function("Compiled Causal Attention"):
        for _ in range(25):
            compiled_model(x)
print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=10))
'''


def _softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_sdpa_tutorial_cpu_parts():
    ns = run(SDPA)
    out = ns["_stdout"]
    assert "The math implementation runs in" in out
    assert "The flash attention implementation runs in" in out
    assert "EfficientAttention is not supported." in out  # PyTorch has no such CPU kernel
    assert out.count("Non-Compilied Causal Attention") == 1
    # the eval-mode model against NumPy attention (float16 weights, float32 math)
    model, x = ns["model"], ns["x"]
    w_attn = model.c_attn.weight.detach().float().numpy()
    w_proj = model.c_proj.weight.detach().float().numpy()
    xs = x.float().numpy()
    q, k, v = np.split(xs @ w_attn.T, 3, axis=-1)
    heads = [t.reshape(2, 16, 2, 8).transpose(0, 2, 1, 3) for t in (q, k, v)]
    att = _softmax(heads[0] @ heads[1].transpose(0, 1, 3, 2) / np.sqrt(8)) @ heads[2]
    expected = att.transpose(0, 2, 1, 3).reshape(2, 16, 16) @ w_proj.T
    got = ns["compiled_model"](x)
    assert got.dtype == ns["torch"].float16 and tuple(got.shape) == (2, 16, 16)
    np.testing.assert_allclose(got.float().detach().numpy(), expected, rtol=2e-2, atol=2e-3)
