"""vector-quantize-pytorch, rotary-embedding-torch and ema-pytorch on ember, where they are
installed (none is a test dependency: their packages require PyTorch; .ci/run installs them,
with einx, loguru and torch-einops-utils, without dependencies). On tiny inputs: VectorQuantize's
training step (nearest codes, commitment loss, rotation-trick gradients, the EMA codebook update)
and a few steps of a small autoencoder, ResidualVQ, FSQ and LFQ (with its entropy loss);
RotaryEmbedding on queries and keys (with an offset, learned frequencies, xPos and axial pixel
frequencies) inside scaled dot-product attention; EMA of a small network with a warmup schedule
and PostHocEMA's checkpoints and synthesis, with ``torch`` resolved to ember in a fresh
interpreter. The values are checked here against NumPy: nearest-code search, the quantizers'
closed forms, rotations and their gradients, the EMA recursions and the post-hoc solve.
tests/conformance/test_thirdparty_s19_lucidrains_optimizers_vs_torch.py compares every number
with real PyTorch's."""
from __future__ import annotations

import functools
import importlib.util
import textwrap

import numpy as np
import pytest

from tests.acceptance import script_report

if any(importlib.util.find_spec(name) is None  # (importing them would import torch)
       for name in ("vector_quantize_pytorch", "rotary_embedding_torch", "ema_pytorch")):
    pytest.skip("vector-quantize-pytorch, rotary-embedding-torch or ema-pytorch is not installed",
                allow_module_level=True)

SCRIPT = script_report.OUT_SOURCE + textwrap.dedent('''
    import json
    import tempfile
    import torch
    from torch import nn
    import torch.nn.functional as F
    from vector_quantize_pytorch import VectorQuantize, ResidualVQ, FSQ, LFQ
    from rotary_embedding_torch import RotaryEmbedding, apply_rotary_emb
    from ema_pytorch import EMA, PostHocEMA

    torch.manual_seed(0)
    report = {}

    # VectorQuantize: one training step, then the updated codebook in eval mode
    vq = VectorQuantize(dim=4, codebook_size=8, decay=0.8, commitment_weight=0.5)
    codebook = vq.codebook.clone()
    x = torch.randn(2, 5, 4, requires_grad=True)
    upstream = torch.randn(2, 5, 4)
    quantized, indices, loss = vq(x)
    ((quantized * upstream).sum() + loss).backward()
    report["vq"] = {"codebook": out(codebook), "x": out(x), "upstream": out(upstream),
                    "quantized": out(quantized), "indices": out(indices), "loss": loss.item(),
                    "grad": out(x.grad), "codebook_after": out(vq.codebook),
                    "cluster_size": out(vq._codebook.cluster_size[0])}
    vq.eval()
    quantized, indices, loss = vq(x.detach())
    report["vq"]["eval"] = {"quantized": out(quantized), "indices": out(indices),
                            "codes": out(vq.get_output_from_indices(indices))}

    # a small autoencoder through a straight-through VectorQuantize, trained by Adam
    torch.manual_seed(1)
    encoder, decoder = nn.Linear(6, 4), nn.Linear(4, 6)
    vq = VectorQuantize(dim=4, codebook_size=8, decay=0.8, rotation_trick=False,
                        commitment_weight=0.25)
    optimizer = torch.optim.Adam([*encoder.parameters(), *decoder.parameters()], lr=0.01)
    data = torch.randn(3, 4, 6)
    losses, cluster_sizes = [], []
    for _ in range(4):
        optimizer.zero_grad()
        quantized, indices, commit = vq(encoder(data))
        loss = F.mse_loss(decoder(quantized), data) + commit
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        cluster_sizes.append(vq._codebook.cluster_size.sum().item())
    report["autoencoder"] = {"loss": losses, "cluster_size_sum": cluster_sizes}

    # ResidualVQ (eval: no codebook updates) and one training step's losses
    torch.manual_seed(2)
    residual_vq = ResidualVQ(dim=4, num_quantizers=3, codebook_size=8).eval()
    x = torch.randn(2, 5, 4)
    quantized, indices, _ = residual_vq(x)
    report["residual_vq"] = {"codebooks": out(residual_vq.codebooks), "x": out(x),
                             "quantized": out(quantized), "indices": out(indices),
                             "from_indices": out(residual_vq.get_output_from_indices(indices))}
    residual_vq.train()
    report["residual_vq"]["train_losses"] = out(residual_vq(x)[2])

    # FSQ: bounded, rounded levels with straight-through gradients
    fsq = FSQ(levels=[8, 5, 5])
    z = (2 * torch.randn(2, 6, 3)).requires_grad_()
    upstream = torch.randn(2, 6, 3)
    codes, indices = fsq(z)
    (codes * upstream).sum().backward()
    report["fsq"] = {"z": out(z), "upstream": out(upstream), "codes": out(codes),
                     "indices": out(indices), "grad": out(z.grad),
                     "from_indices": out(fsq.indices_to_codes(indices))}

    # LFQ: signs as codes, an entropy loss (soft assignments at inverse temperature 1)
    lfq = LFQ(codebook_size=16, dim=4, entropy_loss_weight=0.1, diversity_gamma=1.0)
    x = (0.5 * torch.randn(2, 5, 4)).requires_grad_()
    upstream = torch.randn(2, 5, 4)
    quantized, indices, aux_loss = lfq(x, inv_temperature=1.0)
    ((quantized * upstream).sum() + aux_loss).backward()
    report["lfq"] = {"x": out(x), "upstream": out(upstream), "quantized": out(quantized),
                     "indices": out(indices), "aux_loss": aux_loss.item(), "grad": out(x.grad)}

    # rotary embeddings on 8 of 16 features of (batch, heads, seq, dim) queries and keys
    torch.manual_seed(3)
    q, k, v = torch.randn(3, 1, 2, 5, 16).unbind(0)
    rotary = RotaryEmbedding(dim=8)
    rq, rk = rotary.rotate_queries_or_keys(q), rotary.rotate_queries_or_keys(k)
    attended = F.scaled_dot_product_attention(rq, rk, v, is_causal=True)
    shifted_q = rotary.rotate_queries_or_keys(q, offset=3)
    shifted_k = rotary.rotate_queries_or_keys(k, offset=3)
    xpos = RotaryEmbedding(dim=8, use_xpos=True)
    xq, xk = xpos.rotate_queries_and_keys(q, k)
    learned = RotaryEmbedding(dim=8, learned_freq=True)
    upstream = torch.randn(1, 2, 5, 16)
    (learned.rotate_queries_or_keys(q) * upstream).sum().backward()
    pixel = RotaryEmbedding(dim=4, freqs_for="pixel", max_freq=10)
    axial = pixel.get_axial_freqs(3, 4)
    image = torch.randn(1, 3, 4, 8)
    report["rotary"] = {"q": out(q), "k": out(k), "v": out(v), "rq": out(rq), "rk": out(rk),
                        "attended": out(attended), "shifted_q": out(shifted_q),
                        "shifted_k": out(shifted_k), "xq": out(xq), "xk": out(xk),
                        "upstream": out(upstream), "freqs_grad": out(learned.freqs.grad),
                        "axial": out(axial), "image": out(image),
                        "rotated_image": out(apply_rotary_emb(axial, image))}

    # EMA of a small network trained by SGD: warmup schedule, updates every second step
    torch.manual_seed(4)
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    ema = EMA(net, beta=0.9, update_after_step=1, update_every=2, power=3 / 4)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    online, averaged, decays = [], [], []
    for _ in range(7):
        optimizer.zero_grad()
        net(torch.randn(5, 3)).pow(2).sum().backward()
        optimizer.step()
        ema.update()
        online.append(out(dict(net.state_dict())))
        averaged.append(out(dict(ema.ema_model.state_dict())))
        decays.append(ema.get_current_decay())
    ema.ema_model.eval()
    probe = torch.randn(2, 3)
    report["ema"] = {"online": online, "averaged": averaged, "decays": decays,
                     "probe": out(probe), "ema_output": out(ema(probe))}

    # PostHocEMA: two Karras EMAs, checkpoints every second step, one synthesized in between
    net = nn.Linear(2, 2)
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[1.0, -1.0], [0.5, 2.0]]))
        net.bias.zero_()
    with tempfile.TemporaryDirectory() as folder:
        post_hoc = PostHocEMA(net, sigma_rels=(0.05, 0.28), update_every=1,
                              checkpoint_every_num_steps=2, checkpoint_folder=folder,
                              checkpoint_dtype=torch.float32)
        for step in range(6):
            with torch.no_grad():
                net.weight.add_(0.1 * (step + 1))
                net.bias.sub_(0.2)
            post_hoc.update()
        synthesized = post_hoc.synthesize_ema_model(sigma_rel=0.15)
    report["post_hoc_ema"] = {
        "gammas": list(post_hoc.gammas), "synthesized_gamma": synthesized.gamma,
        "tracked": [out(dict(e.ema_model.state_dict())) for e in post_hoc.ema_models],
        "synthesized": out(dict(synthesized.ema_model.state_dict()))}
    print(json.dumps(report))
''')

# the script's report, run under ``command_prefix`` (``-m ember.compat``: on ember)
run_script = functools.partial(script_report.run_script, SCRIPT, "lucidrains_script.py")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    return run_script("-m", "ember.compat", tmp_path=tmp_path_factory.mktemp("lucidrains"))


def _nearest(x: np.ndarray, codebook: np.ndarray) -> np.ndarray:
    """The index of each vector's nearest code (Euclidean)."""
    return ((x[..., None, :] - codebook) ** 2).sum(-1).argmin(-1)


def test_vector_quantize_training_step(report):
    vq = report["vq"]
    codebook, x, upstream = (np.array(vq[key]) for key in ("codebook", "x", "upstream"))
    indices = _nearest(x, codebook)
    np.testing.assert_array_equal(vq["indices"], indices)
    codes = codebook[indices]
    np.testing.assert_allclose(vq["quantized"], codes, rtol=1e-5, atol=1e-6)
    assert np.isclose(vq["loss"], 0.5 * ((x - codes) ** 2).mean(), rtol=1e-5)
    # the rotation trick: the output is lambda R x, R turning x onto its code, detached
    u = x / np.linalg.norm(x, axis=-1, keepdims=True)
    q = codes / np.linalg.norm(codes, axis=-1, keepdims=True)
    w = (u + q) / np.linalg.norm(u + q, axis=-1, keepdims=True)
    scale = np.linalg.norm(codes, axis=-1, keepdims=True) / np.linalg.norm(x, axis=-1,
                                                                          keepdims=True)
    dot = lambda a, b: (a * b).sum(-1, keepdims=True)  # noqa: E731
    rotated_grad = scale * (upstream - 2 * dot(upstream, w) * w + 2 * dot(upstream, q) * u)
    np.testing.assert_allclose(vq["grad"], rotated_grad + 0.5 * 2 * (x - codes) / x.size,
                               rtol=1e-4, atol=1e-6)
    # the EMA update: cluster sizes and code sums decay by 0.8 from ones and the initial codes
    onehot = np.eye(8)[indices.ravel()]
    cluster_size = 0.8 + 0.2 * onehot.sum(0)
    embed_avg = 0.8 * codebook + 0.2 * onehot.T @ x.reshape(-1, 4)
    total = cluster_size.sum()
    smoothed = (cluster_size + 1e-5) / (total + 8e-5) * total
    np.testing.assert_allclose(vq["cluster_size"], cluster_size, rtol=1e-6)
    codebook_after = embed_avg / smoothed[:, None]
    np.testing.assert_allclose(vq["codebook_after"], codebook_after, rtol=1e-5, atol=1e-6)
    # eval: the nearest of the updated codes, no further update
    eval_indices = _nearest(x, codebook_after)
    np.testing.assert_array_equal(vq["eval"]["indices"], eval_indices)
    np.testing.assert_allclose(vq["eval"]["quantized"], codebook_after[eval_indices], rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(vq["eval"]["codes"], vq["eval"]["quantized"], atol=1e-7)


def test_autoencoder_trains_and_cluster_sizes_follow_their_ema(report):
    run = report["autoencoder"]
    assert run["loss"][-1] < run["loss"][0]
    # sizes start at 1 per code (8 in all) and move by 0.2 towards the 12 assignments per step
    expected = [12 - 4 * 0.8 ** t for t in range(1, 5)]
    np.testing.assert_allclose(run["cluster_size_sum"], expected, rtol=1e-5)


def test_residual_vq_quantizes_the_residuals(report):
    rvq = report["residual_vq"]
    codebooks, x = np.array(rvq["codebooks"]), np.array(rvq["x"])
    residual, total, indices = x, np.zeros_like(x), []
    for codebook in codebooks:
        index = _nearest(residual, codebook)
        indices.append(index)
        total = total + codebook[index]
        residual = residual - codebook[index]
    np.testing.assert_array_equal(rvq["indices"], np.stack(indices, -1))
    np.testing.assert_allclose(rvq["quantized"], total, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(rvq["from_indices"], total, rtol=1e-5, atol=1e-6)
    assert len(rvq["train_losses"]) == 3 and all(v >= 0 for v in rvq["train_losses"])


def test_fsq_closed_form(report):
    fsq = report["fsq"]
    z, upstream = np.array(fsq["z"]), np.array(fsq["upstream"])
    levels = np.array([8, 5, 5])
    half_l = (levels - 1) * (1 + 1e-3) / 2
    offset = np.where(levels % 2 == 0, 0.5, 0.0)
    shift = np.arctanh(offset / half_l)
    bounded = np.tanh(z + shift) * half_l - offset
    half_width = levels // 2
    codes = np.round(bounded) / half_width
    np.testing.assert_allclose(fsq["codes"], codes, atol=1e-6)
    basis = np.array([1, 8, 40])
    np.testing.assert_array_equal(fsq["indices"], ((codes * half_width + half_width) * basis)
                                  .sum(-1).round().astype(int))
    np.testing.assert_allclose(fsq["from_indices"], codes, atol=1e-6)
    # rounding passes gradients straight through the bound
    derivative = (1 - np.tanh(z + shift) ** 2) * half_l / half_width
    np.testing.assert_allclose(fsq["grad"], upstream * derivative, rtol=1e-5, atol=1e-6)


def _lfq_entropy_loss(x: np.ndarray) -> float:
    """LFQ's auxiliary loss at inverse temperature 1: per-sample entropy minus codebook
    entropy of the soft assignments over the 16 sign codes, times 0.1."""
    codebook = np.array([[1.0 if j & (8 >> i) else -1.0 for i in range(4)] for j in range(16)])
    logits = 2 * x.reshape(-1, 4) @ codebook.T
    prob = np.exp(logits - logits.max(-1, keepdims=True))
    prob /= prob.sum(-1, keepdims=True)
    entropy = lambda p: -(p * np.log(np.maximum(p, 1e-5))).sum(-1)  # noqa: E731
    return 0.1 * (entropy(prob).mean() - entropy(prob.mean(0)))


def test_lfq_signs_indices_and_entropy_loss(report):
    lfq = report["lfq"]
    x, upstream = np.array(lfq["x"]), np.array(lfq["upstream"])
    np.testing.assert_array_equal(lfq["quantized"], np.where(x > 0, 1.0, -1.0))
    np.testing.assert_array_equal(lfq["indices"], ((x > 0) * [8, 4, 2, 1]).sum(-1))
    assert np.isclose(lfq["aux_loss"], _lfq_entropy_loss(x), rtol=1e-5)
    numeric = np.zeros_like(x)
    for index in np.ndindex(*x.shape):
        delta = np.zeros_like(x)
        delta[index] = 1e-6
        numeric[index] = (_lfq_entropy_loss(x + delta) - _lfq_entropy_loss(x - delta)) / 2e-6
    np.testing.assert_allclose(lfq["grad"], upstream + numeric, rtol=1e-4, atol=1e-6)


def _rotate(t: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """Rotates each pair (2i, 2i + 1) of the first 2 * angles.shape[-1] features by the angles
    (seq, pairs)."""
    rotated = t.copy()
    even, odd = t[..., 0:2 * angles.shape[-1]:2], t[..., 1:2 * angles.shape[-1]:2]
    cos, sin = np.cos(angles), np.sin(angles)
    rotated[..., 0:2 * angles.shape[-1]:2] = even * cos - odd * sin
    rotated[..., 1:2 * angles.shape[-1]:2] = odd * cos + even * sin
    return rotated


FREQS = 1 / 10000 ** (np.arange(0, 8, 2) / 8)


def test_rotary_embedding_rotates_pairs(report):
    rotary = report["rotary"]
    q, k, v = (np.array(rotary[key]) for key in ("q", "k", "v"))
    angles = np.arange(5)[:, None] * FREQS
    np.testing.assert_allclose(rotary["rq"], _rotate(q, angles), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(rotary["rk"], _rotate(k, angles), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(rotary["shifted_q"], _rotate(q, angles + 3 * FREQS), rtol=1e-5,
                               atol=1e-6)
    # attention scores depend on relative positions only
    scores = np.einsum("bhid,bhjd->bhij", np.array(rotary["rq"]), np.array(rotary["rk"]))
    shifted = np.einsum("bhid,bhjd->bhij", np.array(rotary["shifted_q"]),
                        np.array(rotary["shifted_k"]))
    np.testing.assert_allclose(shifted, scores, rtol=1e-4, atol=1e-5)
    scores = scores / 4 + np.triu(np.full((5, 5), -np.inf), 1)
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    np.testing.assert_allclose(rotary["attended"], weights @ v, rtol=1e-5, atol=1e-6)


def test_rotary_xpos_learned_freqs_and_axial(report):
    rotary = report["rotary"]
    q, k, upstream = (np.array(rotary[key]) for key in ("q", "k", "upstream"))
    angles = np.arange(5)[:, None] * FREQS
    # xPos: queries scaled by scale ** ((t - n // 2) / 512), keys by its inverse
    scale = ((np.arange(0, 8, 2) + 0.4 * 8) / (1.4 * 8)) ** ((np.arange(5)[:, None] - 2) / 512)
    scale = np.concatenate([np.repeat(scale, 2, -1), np.ones((5, 8))], -1)
    np.testing.assert_allclose(rotary["xq"], _rotate(q, angles) * scale, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(rotary["xk"], _rotate(k, angles) / scale, rtol=1e-5, atol=1e-6)
    # d/d freq_i of sum(upstream * rotated): t times the rotated-by-90-degrees pair
    even, odd = q[..., 0:8:2], q[..., 1:8:2]
    cos, sin = np.cos(angles), np.sin(angles)
    t = np.arange(5)[:, None]
    freqs_grad = (t * (upstream[..., 0:8:2] * (-even * sin - odd * cos)
                       + upstream[..., 1:8:2] * (even * cos - odd * sin))).sum((0, 1, 2))
    np.testing.assert_allclose(rotary["freqs_grad"], freqs_grad, rtol=1e-4, atol=1e-5)
    # pixel frequencies along each axis over positions in [-1, 1], concatenated
    freqs = np.linspace(1.0, 5.0, 2) * np.pi
    rows = np.repeat(np.linspace(-1, 1, 3)[:, None] * freqs, 2, -1)
    cols = np.repeat(np.linspace(-1, 1, 4)[:, None] * freqs, 2, -1)
    axial = np.concatenate([np.broadcast_to(rows[:, None], (3, 4, 4)),
                            np.broadcast_to(cols[None], (3, 4, 4))], -1)
    np.testing.assert_allclose(rotary["axial"], axial, rtol=1e-5, atol=1e-6)
    image = np.array(rotary["image"])
    np.testing.assert_allclose(rotary["rotated_image"], _rotate(image, axial[..., ::2]),
                               rtol=1e-5, atol=1e-5)


def test_ema_follows_the_warmup_schedule(report):
    ema = report["ema"]
    averaged, decays = None, []
    for step, online in enumerate(ema["online"]):  # the step before each update
        online = {key: np.array(value) for key, value in online.items()
                  if key != "1.num_batches_tracked"}
        epoch = max(step + 1 - 1 - 1, 0)
        decay = 0.0 if epoch == 0 else min(1 - (1 + epoch) ** -0.75, 0.9)
        decays.append(decay)
        if averaged is None:  # the first update copies
            averaged = dict(online)
        elif step % 2 == 0:
            averaged = {key: averaged[key] + (1 - decay) * (online[key] - averaged[key])
                        for key in averaged}
        for key, value in averaged.items():
            np.testing.assert_allclose(ema["averaged"][step][key], value, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ema["decays"], decays, rtol=1e-6)
    final = {key: np.array(value) for key, value in ema["averaged"][-1].items()}
    hidden = np.array(ema["probe"]) @ final["0.weight"].T + final["0.bias"]
    expected = ((hidden - final["1.running_mean"]) / np.sqrt(final["1.running_var"] + 1e-5)
                * final["1.weight"] + final["1.bias"])
    np.testing.assert_allclose(ema["ema_output"], expected, rtol=1e-5, atol=1e-6)


def _p_dot_p(t_a, gamma_a, t_b, gamma_b):
    """The inner product of two power-function EMA profiles (Karras et al. 2024, Algorithm 3)."""
    exponent = np.where(t_a < t_b, gamma_b, -gamma_a)
    return ((gamma_a + 1) * (gamma_b + 1) * (t_a / t_b) ** exponent
            / ((gamma_a + gamma_b + 1) * np.maximum(t_a, t_b)))


def test_post_hoc_ema_tracks_and_synthesizes(report):
    post_hoc = report["post_hoc_ema"]
    gammas = np.array(post_hoc["gammas"])
    weight, bias = np.array([[1.0, -1.0], [0.5, 2.0]]), np.zeros(2)
    tracked = [None] * len(gammas)
    checkpoints = []  # (gamma, step, weight, bias)
    for step in range(1, 7):
        weight, bias = weight + 0.1 * step, bias - 0.2
        for i, gamma in enumerate(gammas):
            averaged = tracked[i] or (weight, bias)
            beta = (1 - 1 / (step + 1)) ** (1 + gamma)
            tracked[i] = tuple(beta * a + (1 - beta) * b
                               for a, b in zip(averaged, (weight, bias)))
            if step % 2 == 0:
                checkpoints.append((gamma, step, *tracked[i]))
    for got, (weight, bias) in zip(post_hoc["tracked"], tracked):
        np.testing.assert_allclose(got["weight"], weight, rtol=1e-5)
        np.testing.assert_allclose(got["bias"], bias, rtol=1e-5)
    gamma_i = np.array([c[0] for c in checkpoints])
    t_i = np.array([c[1] for c in checkpoints], dtype=float)
    gamma_r = post_hoc["synthesized_gamma"]
    mix = np.linalg.solve(_p_dot_p(t_i[:, None], gamma_i[:, None], t_i[None], gamma_i[None]),
                          _p_dot_p(t_i, gamma_i, 6.0, gamma_r))
    synthesized = post_hoc["synthesized"]
    np.testing.assert_allclose(synthesized["weight"],
                               sum(m * c[2] for m, c in zip(mix, checkpoints)), rtol=1e-4)
    np.testing.assert_allclose(synthesized["bias"],
                               sum(m * c[3] for m, c in zip(mix, checkpoints)), rtol=1e-4)
