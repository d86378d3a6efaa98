"""Acceptance: OpenAI's Whisper model (github.com/openai/whisper, ``whisper/model.py``, MIT
licence, (c) 2022 OpenAI) runs unchanged on ember.

``whisper/model.py`` is kept verbatim: the audio encoder (``Conv1d`` subclasses overriding
``_conv_forward`` to cast their weights, sinusoidal positions), the text decoder with
cross-attention, tied output embedding and a ``-inf`` causal mask buffer, attention through
``scaled_dot_product_attention`` or the manual path (``disable_sdpa``), the ``LayerNorm`` and
``Linear`` subclasses that let a float32 model run float16 audio, the sparse ``alignment_heads``
buffer, and ``install_kv_cache_hooks``: forward hooks on the key/value projections whose return
value replaces the module's output, which incremental decoding relies on. The model is imported
as a package, as ``whisper`` is; its ``decoding``/``transcribe`` siblings (tokenizer, audio
loading through ffmpeg) are replaced by stubs, since the model only re-exports their functions.
Every check runs the same code on real PyTorch with the same weights.
"""

# The project's code is kept verbatim, long lines and trailing spaces included.
# ruff: noqa: E501, W291, W293

import numpy as np
import pytest
from package_runner import import_on_both

torch = pytest.importorskip("torch")

MODEL = r'''import base64
import gzip
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Dict, Iterable, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .decoding import decode as decode_function
from .decoding import detect_language as detect_language_function
from .transcribe import transcribe as transcribe_function

try:
    from torch.nn.functional import scaled_dot_product_attention

    SDPA_AVAILABLE = True
except (ImportError, RuntimeError, OSError):
    scaled_dot_product_attention = None
    SDPA_AVAILABLE = False


@dataclass
class ModelDimensions:
    n_mels: int
    n_audio_ctx: int
    n_audio_state: int
    n_audio_head: int
    n_audio_layer: int
    n_vocab: int
    n_text_ctx: int
    n_text_state: int
    n_text_head: int
    n_text_layer: int


class LayerNorm(nn.LayerNorm):
    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x.float()).type(x.dtype)


class Linear(nn.Linear):
    def forward(self, x: Tensor) -> Tensor:
        return F.linear(
            x,
            self.weight.to(x.dtype),
            None if self.bias is None else self.bias.to(x.dtype),
        )


class Conv1d(nn.Conv1d):
    def _conv_forward(
        self, x: Tensor, weight: Tensor, bias: Optional[Tensor]
    ) -> Tensor:
        return super()._conv_forward(
            x, weight.to(x.dtype), None if bias is None else bias.to(x.dtype)
        )


def sinusoids(length, channels, max_timescale=10000):
    """Returns sinusoids for positional embedding"""
    assert channels % 2 == 0
    log_timescale_increment = np.log(max_timescale) / (channels // 2 - 1)
    inv_timescales = torch.exp(-log_timescale_increment * torch.arange(channels // 2))
    scaled_time = torch.arange(length)[:, np.newaxis] * inv_timescales[np.newaxis, :]
    return torch.cat([torch.sin(scaled_time), torch.cos(scaled_time)], dim=1)


@contextmanager
def disable_sdpa():
    prev_state = MultiHeadAttention.use_sdpa
    try:
        MultiHeadAttention.use_sdpa = False
        yield
    finally:
        MultiHeadAttention.use_sdpa = prev_state


class MultiHeadAttention(nn.Module):
    use_sdpa = True

    def __init__(self, n_state: int, n_head: int):
        super().__init__()
        self.n_head = n_head
        self.query = Linear(n_state, n_state)
        self.key = Linear(n_state, n_state, bias=False)
        self.value = Linear(n_state, n_state)
        self.out = Linear(n_state, n_state)

    def forward(
        self,
        x: Tensor,
        xa: Optional[Tensor] = None,
        mask: Optional[Tensor] = None,
        kv_cache: Optional[dict] = None,
    ):
        q = self.query(x)

        if kv_cache is None or xa is None or self.key not in kv_cache:
            # hooks, if installed (i.e. kv_cache is not None), will prepend the cached kv tensors;
            # otherwise, perform key/value projections for self- or cross-attention as usual.
            k = self.key(x if xa is None else xa)
            v = self.value(x if xa is None else xa)
        else:
            # for cross-attention, calculate keys and values once and reuse in subsequent calls.
            k = kv_cache[self.key]
            v = kv_cache[self.value]

        wv, qk = self.qkv_attention(q, k, v, mask)
        return self.out(wv), qk

    def qkv_attention(
        self, q: Tensor, k: Tensor, v: Tensor, mask: Optional[Tensor] = None
    ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        n_batch, n_ctx, n_state = q.shape
        scale = (n_state // self.n_head) ** -0.25
        q = q.view(*q.shape[:2], self.n_head, -1).permute(0, 2, 1, 3)
        k = k.view(*k.shape[:2], self.n_head, -1).permute(0, 2, 1, 3)
        v = v.view(*v.shape[:2], self.n_head, -1).permute(0, 2, 1, 3)

        if SDPA_AVAILABLE and MultiHeadAttention.use_sdpa:
            a = scaled_dot_product_attention(
                q, k, v, is_causal=mask is not None and n_ctx > 1
            )
            out = a.permute(0, 2, 1, 3).flatten(start_dim=2)
            qk = None
        else:
            qk = (q * scale) @ (k * scale).transpose(-1, -2)
            if mask is not None:
                qk = qk + mask[:n_ctx, :n_ctx]
            qk = qk.float()

            w = F.softmax(qk, dim=-1).to(q.dtype)
            out = (w @ v).permute(0, 2, 1, 3).flatten(start_dim=2)
            qk = qk.detach()

        return out, qk


class ResidualAttentionBlock(nn.Module):
    def __init__(self, n_state: int, n_head: int, cross_attention: bool = False):
        super().__init__()

        self.attn = MultiHeadAttention(n_state, n_head)
        self.attn_ln = LayerNorm(n_state)

        self.cross_attn = (
            MultiHeadAttention(n_state, n_head) if cross_attention else None
        )
        self.cross_attn_ln = LayerNorm(n_state) if cross_attention else None

        n_mlp = n_state * 4
        self.mlp = nn.Sequential(
            Linear(n_state, n_mlp), nn.GELU(), Linear(n_mlp, n_state)
        )
        self.mlp_ln = LayerNorm(n_state)

    def forward(
        self,
        x: Tensor,
        xa: Optional[Tensor] = None,
        mask: Optional[Tensor] = None,
        kv_cache: Optional[dict] = None,
    ):
        x = x + self.attn(self.attn_ln(x), mask=mask, kv_cache=kv_cache)[0]
        if self.cross_attn:
            x = x + self.cross_attn(self.cross_attn_ln(x), xa, kv_cache=kv_cache)[0]
        x = x + self.mlp(self.mlp_ln(x))
        return x


class AudioEncoder(nn.Module):
    def __init__(
        self, n_mels: int, n_ctx: int, n_state: int, n_head: int, n_layer: int
    ):
        super().__init__()
        self.conv1 = Conv1d(n_mels, n_state, kernel_size=3, padding=1)
        self.conv2 = Conv1d(n_state, n_state, kernel_size=3, stride=2, padding=1)
        self.register_buffer("positional_embedding", sinusoids(n_ctx, n_state))

        self.blocks: Iterable[ResidualAttentionBlock] = nn.ModuleList(
            [ResidualAttentionBlock(n_state, n_head) for _ in range(n_layer)]
        )
        self.ln_post = LayerNorm(n_state)

    def forward(self, x: Tensor):
        """
        x : torch.Tensor, shape = (batch_size, n_mels, n_ctx)
            the mel spectrogram of the audio
        """
        x = F.gelu(self.conv1(x))
        x = F.gelu(self.conv2(x))
        x = x.permute(0, 2, 1)

        assert x.shape[1:] == self.positional_embedding.shape, "incorrect audio shape"
        x = (x + self.positional_embedding).to(x.dtype)

        for block in self.blocks:
            x = block(x)

        x = self.ln_post(x)
        return x


class TextDecoder(nn.Module):
    def __init__(
        self, n_vocab: int, n_ctx: int, n_state: int, n_head: int, n_layer: int
    ):
        super().__init__()

        self.token_embedding = nn.Embedding(n_vocab, n_state)
        self.positional_embedding = nn.Parameter(torch.empty(n_ctx, n_state))

        self.blocks: Iterable[ResidualAttentionBlock] = nn.ModuleList(
            [
                ResidualAttentionBlock(n_state, n_head, cross_attention=True)
                for _ in range(n_layer)
            ]
        )
        self.ln = LayerNorm(n_state)

        mask = torch.empty(n_ctx, n_ctx).fill_(-np.inf).triu_(1)
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, x: Tensor, xa: Tensor, kv_cache: Optional[dict] = None):
        """
        x : torch.LongTensor, shape = (batch_size, <= n_ctx)
            the text tokens
        xa : torch.Tensor, shape = (batch_size, n_audio_ctx, n_audio_state)
            the encoded audio features to be attended on
        """
        offset = next(iter(kv_cache.values())).shape[1] if kv_cache else 0
        x = (
            self.token_embedding(x)
            + self.positional_embedding[offset : offset + x.shape[-1]]
        )
        x = x.to(xa.dtype)

        for block in self.blocks:
            x = block(x, xa, mask=self.mask, kv_cache=kv_cache)

        x = self.ln(x)
        logits = (
            x @ torch.transpose(self.token_embedding.weight.to(x.dtype), 0, 1)
        ).float()

        return logits


class Whisper(nn.Module):
    def __init__(self, dims: ModelDimensions):
        super().__init__()
        self.dims = dims
        self.encoder = AudioEncoder(
            self.dims.n_mels,
            self.dims.n_audio_ctx,
            self.dims.n_audio_state,
            self.dims.n_audio_head,
            self.dims.n_audio_layer,
        )
        self.decoder = TextDecoder(
            self.dims.n_vocab,
            self.dims.n_text_ctx,
            self.dims.n_text_state,
            self.dims.n_text_head,
            self.dims.n_text_layer,
        )
        # use the last half among the decoder layers for time alignment by default;
        # to use a specific set of heads, see `set_alignment_heads()` below.
        all_heads = torch.zeros(
            self.dims.n_text_layer, self.dims.n_text_head, dtype=torch.bool
        )
        all_heads[self.dims.n_text_layer // 2 :] = True
        self.register_buffer("alignment_heads", all_heads.to_sparse(), persistent=False)

    def set_alignment_heads(self, dump: bytes):
        array = np.frombuffer(
            gzip.decompress(base64.b85decode(dump)), dtype=bool
        ).copy()
        mask = torch.from_numpy(array).reshape(
            self.dims.n_text_layer, self.dims.n_text_head
        )
        self.register_buffer("alignment_heads", mask.to_sparse(), persistent=False)

    def embed_audio(self, mel: torch.Tensor):
        return self.encoder(mel)

    def logits(self, tokens: torch.Tensor, audio_features: torch.Tensor):
        return self.decoder(tokens, audio_features)

    def forward(
        self, mel: torch.Tensor, tokens: torch.Tensor
    ) -> Dict[str, torch.Tensor]:
        return self.decoder(tokens, self.encoder(mel))

    @property
    def device(self):
        return next(self.parameters()).device

    @property
    def is_multilingual(self):
        return self.dims.n_vocab >= 51865

    @property
    def num_languages(self):
        return self.dims.n_vocab - 51765 - int(self.is_multilingual)

    def install_kv_cache_hooks(self, cache: Optional[dict] = None):
        """
        The `MultiHeadAttention` module optionally accepts `kv_cache` which stores the key and value
        tensors calculated for the previous positions. This method returns a dictionary that stores
        all caches, and the necessary hooks for the key and value projection modules that save the
        intermediate tensors to be reused during later calculations.

        Returns
        -------
        cache : Dict[nn.Module, torch.Tensor]
            A dictionary object mapping the key/value projection modules to its cache
        hooks : List[RemovableHandle]
            List of PyTorch RemovableHandle objects to stop the hooks to be called
        """
        cache = {**cache} if cache is not None else {}
        hooks = []

        def save_to_cache(module, _, output):
            if module not in cache or output.shape[1] > self.dims.n_text_ctx:
                # save as-is, for the first token or cross attention
                cache[module] = output
            else:
                cache[module] = torch.cat([cache[module], output], dim=1).detach()
            return cache[module]

        def install_hooks(layer: nn.Module):
            if isinstance(layer, MultiHeadAttention):
                hooks.append(layer.key.register_forward_hook(save_to_cache))
                hooks.append(layer.value.register_forward_hook(save_to_cache))

        self.decoder.apply(install_hooks)
        return cache, hooks

    detect_language = detect_language_function
    transcribe = transcribe_function
    decode = decode_function
'''

DECODING = """
def decode(*args, **kwargs):
    raise NotImplementedError("the test's stand-in for whisper/decoding.py")


def detect_language(*args, **kwargs):
    raise NotImplementedError("the test's stand-in for whisper/decoding.py")
"""

TRANSCRIBE = """
def transcribe(*args, **kwargs):
    raise NotImplementedError("the test's stand-in for whisper/transcribe.py")
"""

DIMS = dict(n_mels=8, n_audio_ctx=10, n_audio_state=16, n_audio_head=2, n_audio_layer=2,
            n_vocab=40, n_text_ctx=8, n_text_state=16, n_text_head=2, n_text_layer=2)


@pytest.fixture
def whisper(tmp_path):
    """whisper/model.py imported as a package module: on ember, and on real PyTorch."""
    files = {"__init__.py": "", "model.py": MODEL, "decoding.py": DECODING,
             "transcribe.py": TRANSCRIBE}
    with import_on_both(tmp_path, files, "model") as (on_ember, on_torch):
        assert on_torch["model"].torch is torch and on_ember["model"].torch is not torch
        yield {"ember": on_ember["model"], "torch": on_torch["model"]}


def _models(whisper):
    E, T = whisper["ember"], whisper["torch"]
    et = E.torch
    et.manual_seed(0)
    model = E.Whisper(E.ModelDimensions(**DIMS))
    et.nn.init.normal_(model.decoder.positional_embedding, std=0.02)  # torch.empty in __init__
    ref = T.Whisper(T.ModelDimensions(**DIMS))
    ref.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in model.state_dict().items()})
    rng = np.random.default_rng(0)
    mel = rng.standard_normal((2, DIMS["n_mels"], 2 * DIMS["n_audio_ctx"])).astype(np.float32)
    tokens = rng.integers(0, DIMS["n_vocab"], (2, 6))
    return et, model, ref, mel, tokens


@pytest.mark.parametrize("sdpa", [True, False])
def test_whisper_forward_and_backward_match_torch(whisper, sdpa):
    et, model, ref, mel, tokens = _models(whisper)
    assert model.alignment_heads.is_sparse
    assert model.alignment_heads.to_dense().tolist() == [[False, False], [True, True]]
    assert not model.is_multilingual and model.num_languages == DIMS["n_vocab"] - 51765
    context = whisper["ember"].disable_sdpa if not sdpa else None
    if context is not None:
        with context():
            assert not whisper["ember"].MultiHeadAttention.use_sdpa
            logits = model(et.tensor(mel), et.tensor(tokens))
        assert whisper["ember"].MultiHeadAttention.use_sdpa
    else:
        logits = model(et.tensor(mel), et.tensor(tokens))
    ref_logits = ref(torch.tensor(mel), torch.tensor(tokens))
    assert logits.dtype == et.float32 and logits.shape == (2, 6, DIMS["n_vocab"])
    np.testing.assert_allclose(logits.detach().numpy(), ref_logits.detach().numpy(), atol=2e-5)
    et.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, DIMS["n_vocab"]),
                                   et.tensor(tokens[:, 1:].reshape(-1))).backward()
    torch.nn.functional.cross_entropy(ref_logits[:, :-1].reshape(-1, DIMS["n_vocab"]),
                                      torch.tensor(tokens[:, 1:].reshape(-1))).backward()
    ref_params = dict(ref.named_parameters())
    for name, p in model.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), ref_params[name].grad.numpy(), atol=2e-5,
                                   err_msg=name)


def test_whisper_kv_cache_greedy_decoding_matches_torch(whisper):
    et, model, ref, mel, tokens = _models(whisper)
    model.eval()
    ref.eval()

    def greedy(T, net, audio_mel, prompt):
        with T.no_grad():
            audio = net.embed_audio(audio_mel)
            cache, hooks = net.install_kv_cache_hooks()
            seq = prompt
            logits = net.decoder(seq, audio, kv_cache=cache)
            for _ in range(DIMS["n_text_ctx"] - prompt.shape[1]):
                step = logits[:, -1].argmax(-1, keepdim=True)
                seq = T.cat([seq, step], 1)
                logits = net.decoder(step, audio, kv_cache=cache)
            for hook in hooks:
                hook.remove()
            # The last step's logits from the cache equal a full forward of the sequence.
            full = net.decoder(seq, audio)[:, -1]
        return seq, logits[:, -1], full, len(cache)

    seq, last, full, n_cached = greedy(et, model, et.tensor(mel), et.tensor(tokens[:, :2]))
    ref_seq, ref_last, _, _ = greedy(torch, ref, torch.tensor(mel), torch.tensor(tokens[:, :2]))
    assert n_cached == 4 * DIMS["n_text_layer"]  # self- and cross-attention keys and values
    assert seq.tolist() == ref_seq.tolist()
    np.testing.assert_allclose(last.numpy(), full.numpy(), atol=2e-5)
    np.testing.assert_allclose(last.numpy(), ref_last.numpy(), atol=2e-5)


def test_whisper_float16_audio_through_a_float32_model(whisper):
    """decode(fp16=True) feeds half-precision mels to float32 weights: Linear/Conv1d cast
    their weights to the input's dtype, LayerNorm computes in float32."""
    et, model, ref, mel, tokens = _models(whisper)
    with et.no_grad():
        audio = model.embed_audio(et.tensor(mel).half())
        logits = model.logits(et.tensor(tokens), audio)
    with torch.no_grad():
        ref_logits = ref.logits(torch.tensor(tokens), ref.embed_audio(torch.tensor(mel).half()))
    assert audio.dtype == et.float16 and logits.dtype == et.float32
    assert model.encoder.conv1.weight.dtype == et.float32
    np.testing.assert_allclose(logits.numpy(), ref_logits.numpy(), atol=5e-2, rtol=1e-2)
