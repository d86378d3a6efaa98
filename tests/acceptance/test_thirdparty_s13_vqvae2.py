"""Acceptance: rosinality/vq-vae-2-pytorch (github.com/rosinality/vq-vae-2-pytorch, MIT licence,
(c) 2019 Kim Seonghyeon) runs unchanged on ember.

``vqvae.py`` (commit 29e36e7a4b3cf477135578149813ee911ebf7c57; its CRLF line ends made LF) is
kept verbatim: the EMA vector quantiser (codebook buffers from ``torch.randn`` updated in place
through ``.data.mul_().add_(..., alpha=)`` and ``.data.copy_``, nearest codes by ``(-dist).max``,
``F.one_hot(...).type(dtype)``, ``F.embedding`` on a transposed buffer, the straight-through
``input + (quantize - input).detach()``), residual blocks adding in place (``out += input``)
after an in-place ReLU, strided Conv2d / ConvTranspose2d encoders and decoders, and the
two-level VQ-VAE with ``encode`` / ``decode`` / ``decode_code``. The repository's
``distributed`` package (not stored) is stood in by its single-process ``all_reduce``, which
returns the tensor unchanged. Training steps as ``train_vqvae.py`` takes them (MSE plus 0.25
times the latent loss, Adam) are compared with real PyTorch from the same weights and
codebooks, EMA buffers included.
"""

import numpy as np
import pytest
from acceptance_runner import _sibling_modules, run

# vqvae.py at commit 29e36e7a4b3cf477135578149813ee911ebf7c57
VQVAE = r'''import torch
from torch import nn
from torch.nn import functional as F

import distributed as dist_fn


# Copyright 2018 The Sonnet Authors. All Rights Reserved.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#    http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or  implied.
# See the License for the specific language governing permissions and
# limitations under the License.
# ============================================================================


# Borrowed from https://github.com/deepmind/sonnet and ported it to PyTorch


class Quantize(nn.Module):
    def __init__(self, dim, n_embed, decay=0.99, eps=1e-5):
        super().__init__()

        self.dim = dim
        self.n_embed = n_embed
        self.decay = decay
        self.eps = eps

        embed = torch.randn(dim, n_embed)
        self.register_buffer("embed", embed)
        self.register_buffer("cluster_size", torch.ones(n_embed))
        self.register_buffer("embed_avg", embed.clone())

    def forward(self, input):
        flatten = input.reshape(-1, self.dim)
        dist = (
            flatten.pow(2).sum(1, keepdim=True)
            - 2 * flatten @ self.embed
            + self.embed.pow(2).sum(0, keepdim=True)
        )
        _, embed_ind = (-dist).max(1)
        embed_onehot = F.one_hot(embed_ind, self.n_embed).type(flatten.dtype)
        embed_ind = embed_ind.view(*input.shape[:-1])
        quantize = self.embed_code(embed_ind)

        if self.training:
            embed_onehot_sum = embed_onehot.sum(0)
            embed_sum = flatten.transpose(0, 1) @ embed_onehot

            dist_fn.all_reduce(embed_onehot_sum)
            dist_fn.all_reduce(embed_sum)

            self.cluster_size.data.mul_(self.decay).add_(
                embed_onehot_sum, alpha=1 - self.decay
            )
            self.embed_avg.data.mul_(self.decay).add_(embed_sum, alpha=1 - self.decay)
            n = self.cluster_size.sum()
            cluster_size = (
                (self.cluster_size + self.eps) / (n + self.n_embed * self.eps) * n
            )
            embed_normalized = self.embed_avg / cluster_size.unsqueeze(0)
            self.embed.data.copy_(embed_normalized)

        diff = (quantize.detach() - input).pow(2).mean()
        quantize = input + (quantize - input).detach()

        return quantize, diff, embed_ind

    def embed_code(self, embed_id):
        return F.embedding(embed_id, self.embed.transpose(0, 1))


class ResBlock(nn.Module):
    def __init__(self, in_channel, channel):
        super().__init__()

        self.conv = nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(in_channel, channel, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(channel, in_channel, 1),
        )

    def forward(self, input):
        out = self.conv(input)
        out += input

        return out


class Encoder(nn.Module):
    def __init__(self, in_channel, channel, n_res_block, n_res_channel, stride):
        super().__init__()

        if stride == 4:
            blocks = [
                nn.Conv2d(in_channel, channel // 2, 4, stride=2, padding=1),
                nn.ReLU(inplace=True),
                nn.Conv2d(channel // 2, channel, 4, stride=2, padding=1),
                nn.ReLU(inplace=True),
                nn.Conv2d(channel, channel, 3, padding=1),
            ]

        elif stride == 2:
            blocks = [
                nn.Conv2d(in_channel, channel // 2, 4, stride=2, padding=1),
                nn.ReLU(inplace=True),
                nn.Conv2d(channel // 2, channel, 3, padding=1),
            ]

        for i in range(n_res_block):
            blocks.append(ResBlock(channel, n_res_channel))

        blocks.append(nn.ReLU(inplace=True))

        self.blocks = nn.Sequential(*blocks)

    def forward(self, input):
        return self.blocks(input)


class Decoder(nn.Module):
    def __init__(
        self, in_channel, out_channel, channel, n_res_block, n_res_channel, stride
    ):
        super().__init__()

        blocks = [nn.Conv2d(in_channel, channel, 3, padding=1)]

        for i in range(n_res_block):
            blocks.append(ResBlock(channel, n_res_channel))

        blocks.append(nn.ReLU(inplace=True))

        if stride == 4:
            blocks.extend(
                [
                    nn.ConvTranspose2d(channel, channel // 2, 4, stride=2, padding=1),
                    nn.ReLU(inplace=True),
                    nn.ConvTranspose2d(
                        channel // 2, out_channel, 4, stride=2, padding=1
                    ),
                ]
            )

        elif stride == 2:
            blocks.append(
                nn.ConvTranspose2d(channel, out_channel, 4, stride=2, padding=1)
            )

        self.blocks = nn.Sequential(*blocks)

    def forward(self, input):
        return self.blocks(input)


class VQVAE(nn.Module):
    def __init__(
        self,
        in_channel=3,
        channel=128,
        n_res_block=2,
        n_res_channel=32,
        embed_dim=64,
        n_embed=512,
        decay=0.99,
    ):
        super().__init__()

        self.enc_b = Encoder(in_channel, channel, n_res_block, n_res_channel, stride=4)
        self.enc_t = Encoder(channel, channel, n_res_block, n_res_channel, stride=2)
        self.quantize_conv_t = nn.Conv2d(channel, embed_dim, 1)
        self.quantize_t = Quantize(embed_dim, n_embed)
        self.dec_t = Decoder(
            embed_dim, embed_dim, channel, n_res_block, n_res_channel, stride=2
        )
        self.quantize_conv_b = nn.Conv2d(embed_dim + channel, embed_dim, 1)
        self.quantize_b = Quantize(embed_dim, n_embed)
        self.upsample_t = nn.ConvTranspose2d(
            embed_dim, embed_dim, 4, stride=2, padding=1
        )
        self.dec = Decoder(
            embed_dim + embed_dim,
            in_channel,
            channel,
            n_res_block,
            n_res_channel,
            stride=4,
        )

    def forward(self, input):
        quant_t, quant_b, diff, _, _ = self.encode(input)
        dec = self.decode(quant_t, quant_b)

        return dec, diff

    def encode(self, input):
        enc_b = self.enc_b(input)
        enc_t = self.enc_t(enc_b)

        quant_t = self.quantize_conv_t(enc_t).permute(0, 2, 3, 1)
        quant_t, diff_t, id_t = self.quantize_t(quant_t)
        quant_t = quant_t.permute(0, 3, 1, 2)
        diff_t = diff_t.unsqueeze(0)

        dec_t = self.dec_t(quant_t)
        enc_b = torch.cat([dec_t, enc_b], 1)

        quant_b = self.quantize_conv_b(enc_b).permute(0, 2, 3, 1)
        quant_b, diff_b, id_b = self.quantize_b(quant_b)
        quant_b = quant_b.permute(0, 3, 1, 2)
        diff_b = diff_b.unsqueeze(0)

        return quant_t, quant_b, diff_t + diff_b, id_t, id_b

    def decode(self, quant_t, quant_b):
        upsample_t = self.upsample_t(quant_t)
        quant = torch.cat([upsample_t, quant_b], 1)
        dec = self.dec(quant)

        return dec

    def decode_code(self, code_t, code_b):
        quant_t = self.quantize_t.embed_code(code_t)
        quant_t = quant_t.permute(0, 3, 1, 2)
        quant_b = self.quantize_b.embed_code(code_b)
        quant_b = quant_b.permute(0, 3, 1, 2)

        dec = self.decode(quant_t, quant_b)

        return dec
'''

# Stand-in for the repository's distributed package: one process, nothing to reduce.
DISTRIBUTED = """
def all_reduce(tensor, op=None, async_op=False):
    return tensor
"""

MODULES = {"distributed": DISTRIBUTED, "vqvae": VQVAE}

HARNESS = """
import torch
from torch import nn, optim
from vqvae import VQVAE


def train_step(model, optimizer, img, latent_loss_weight=0.25):
    model.train()
    model.zero_grad()
    out, latent_loss = model(img)
    recon_loss = nn.MSELoss()(out, img)
    latent_loss = latent_loss.mean()
    loss = recon_loss + latent_loss_weight * latent_loss
    loss.backward()
    optimizer.step()
    return recon_loss.item(), latent_loss.item()
"""


def test_vqvae_training_matches_torch():
    torch = pytest.importorskip("torch")
    ns = run(HARNESS, modules=MODULES)
    ref = {"__name__": "vqvae_harness"}
    with _sibling_modules(MODULES, print):
        exec(compile(HARNESS, "<harness>", "exec"), ref)
    assert ref["torch"] is torch
    et = ns["torch"]
    et.manual_seed(0)
    kwargs = dict(in_channel=3, channel=8, n_res_block=1, n_res_channel=4, embed_dim=4, n_embed=6)
    model, ref_model = ns["VQVAE"](**kwargs), ref["VQVAE"](**kwargs)
    ref_model.load_state_dict({k: torch.from_numpy(v.numpy().copy())
                               for k, v in model.state_dict().items()})
    img = np.random.default_rng(0).uniform(-1, 1, (2, 3, 16, 16)).astype(np.float32)
    results = []
    for side, lib, m in ((ns, et, model), (ref, torch, ref_model)):
        opt = lib.optim.Adam(m.parameters(), lr=3e-3)
        losses = [side["train_step"](m, opt, lib.tensor(img)) for _ in range(3)]
        grads = {n: p.grad.numpy().copy() for n, p in m.named_parameters()}
        m.eval()
        with lib.no_grad():
            quant_t, quant_b, diff, id_t, id_b = m.encode(lib.tensor(img))
            dec = m.decode_code(id_t, id_b)
        results.append((losses, grads, {k: v.numpy() for k, v in m.state_dict().items()},
                        id_t.numpy(), id_b.numpy(), dec.numpy(), diff.numpy()))
    (losses, grads, state, id_t, id_b, dec, diff), ref_results = results[0], results[1]
    r_losses, r_grads, r_state, r_id_t, r_id_b, r_dec, r_diff = ref_results
    assert id_t.shape == (2, 2, 2) and id_b.shape == (2, 4, 4) and id_t.dtype == np.int64
    np.testing.assert_allclose(losses, r_losses, rtol=1e-5)
    scale = max(np.abs(g).max() for g in r_grads.values())
    for name, g in r_grads.items():
        np.testing.assert_allclose(grads[name], g, atol=1e-5 * scale, err_msg=name)
    for name, v in r_state.items():  # weights after Adam, codebooks and their EMA statistics
        np.testing.assert_allclose(state[name], v, rtol=1e-4, atol=1e-5, err_msg=name)
    np.testing.assert_array_equal(id_t, r_id_t)
    np.testing.assert_array_equal(id_b, r_id_b)
    np.testing.assert_allclose(dec, r_dec, atol=1e-5)
    np.testing.assert_allclose(diff, r_diff, rtol=1e-5)


def test_quantize_straight_through_and_ema():
    """Quantize alone against a NumPy oracle: nearest codes, the EMA codebook update and a
    gradient that passes straight through to the input."""
    ns = run("import torch\nfrom vqvae import Quantize\n", modules=MODULES)
    et = ns["torch"]
    et.manual_seed(1)
    q = ns["Quantize"](3, 5, decay=0.9)
    embed = q.embed.numpy().copy()
    x = np.random.default_rng(1).standard_normal((2, 4, 3)).astype(np.float32)
    inp = et.tensor(x, requires_grad=True)
    out, diff, ind = q(inp)
    flat = x.reshape(-1, 3)
    want_ind = ((flat[:, :, None] - embed[None]) ** 2).sum(1).argmin(1)
    np.testing.assert_array_equal(ind.numpy().reshape(-1), want_ind)
    np.testing.assert_allclose(out.detach().numpy().reshape(-1, 3), embed[:, want_ind].T, rtol=1e-6)
    np.testing.assert_allclose(diff.item(), ((embed[:, want_ind].T - flat) ** 2).mean(), rtol=1e-5)
    onehot = np.eye(5, dtype=np.float32)[want_ind]
    size = 0.9 * 1 + 0.1 * onehot.sum(0)
    avg = 0.9 * embed + 0.1 * flat.T @ onehot
    n = size.sum()
    want_embed = avg / ((size + 1e-5) / (n + 5 * 1e-5) * n)[None]
    np.testing.assert_allclose(q.cluster_size.numpy(), size, rtol=1e-6)
    np.testing.assert_allclose(q.embed.numpy(), want_embed, rtol=1e-5)
    out.sum().backward()
    np.testing.assert_array_equal(inp.grad.numpy(), np.ones_like(x))
