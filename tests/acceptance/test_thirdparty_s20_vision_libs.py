"""Vision libraries on ember, each where it is installed (none is a test dependency: their packages
require PyTorch; .ci/run installs them without dependencies, with ftfy, which open_clip's tokenizer
imports): vit-pytorch (ViT, SimpleViT, CaiT, DeepViT, CCT, T2T-ViT, LeViT, NaViT, MAE, the
Recorder and Extractor wrappers, Adam steps), piq and pytorch-msssim (PSNR, SSIM, MS-SSIM and
piq's other full-reference metrics with their gradients, total variation, FID/KID/PR/MSID/IS on
features), lpips (its packaged linear heads on a randomly initialised SqueezeNet trunk, no
download) and open_clip (tiny ViT, ModifiedResNet, SigLIP-style and CoCa configurations
registered with ``add_model_config``; tokenizer, transforms, encoders, zero-shot classifier,
intermediates, ClipLoss / SigLipLoss / CoCaLoss training steps, gradient checkpointing). Each
library's script runs with ``torch`` resolved to ember in a fresh interpreter; its values are
checked here against NumPy (ViT's forward pass, PSNR, SSIM, total variation, FID, LPIPS from its
features, CLIP's and SigLIP's losses, Adam's first step) or against closed forms (a metric of an
image against itself, central differences of each gradient).
tests/conformance/test_thirdparty_s20_vision_libs_vs_torch.py compares every number with real
PyTorch's."""
from __future__ import annotations

import functools
import importlib.util
import math
import textwrap

import numpy as np
import pytest

from tests.acceptance import script_report


def _library(name: str) -> None:
    """Skip the calling test where ``name`` is not installed (importing it would import torch)."""
    if importlib.util.find_spec(name) is None:
        pytest.skip(f"{name} is not installed")


# Directional derivative of ``loss`` at ``x`` along a random ``v``: autograd's against a float64
# central difference.
GRADIENT_CHECK_SOURCE = textwrap.dedent('''
    def directional(loss, x, step=1e-6):
        x = x.detach().clone().requires_grad_()
        v = torch.randn_like(x)
        loss(x).backward()
        with torch.no_grad():
            central = (loss(x + step * v) - loss(x - step * v)) / (2 * step)
        return {"autograd": (x.grad * v).sum().item(), "central": central.item()}
''')

VIT_SCRIPT = script_report.OUT_SOURCE + textwrap.dedent('''
    import json
    import torch
    from vit_pytorch import SimpleViT, ViT
    from vit_pytorch.cait import CaiT
    from vit_pytorch.cct import CCT
    from vit_pytorch.deepvit import DeepViT
    from vit_pytorch.extractor import Extractor
    from vit_pytorch.levit import LeViT
    from vit_pytorch.mae import MAE
    from vit_pytorch.na_vit import NaViT
    from vit_pytorch.recorder import Recorder
    from vit_pytorch.t2t import T2TViT

    torch.manual_seed(0)
    small = dict(image_size=16, patch_size=4, num_classes=5, dim=16, depth=2, heads=2,
                 mlp_dim=32, dim_head=8)
    torch.set_default_dtype(torch.float64)  # its tokens drawn with randn in float64 directly
    image = torch.randn(2, 3, 16, 16)
    vit = ViT(**small).eval()
    torch.set_default_dtype(torch.float32)
    report = {"image": out(image), "weights": out(dict(vit.state_dict())),
              "logits": out(vit(image))}
    recorder = Recorder(vit)
    logits, attention = recorder(image)
    report["recorder"] = {"logits": out(logits), "attention": out(attention)}
    extractor = Extractor(recorder.eject())
    logits, embeddings = extractor(image)
    report["extractor"] = {"logits": out(logits), "embeddings": out(embeddings)}

    image = image.float()
    variants = {
        "simple_vit": SimpleViT(**small),
        "cait": CaiT(**small, cls_depth=1, dropout=0.1, emb_dropout=0.1, layer_dropout=0.05),
        "deep_vit": DeepViT(**small),
        "cct": CCT(img_size=16, embedding_dim=16, n_conv_layers=1, kernel_size=3, stride=1,
                   padding=1, pooling_kernel_size=3, pooling_stride=2, pooling_padding=1,
                   num_layers=1, num_heads=2, mlp_ratio=2.0, num_classes=5,
                   positional_embedding="learnable"),
        "t2t": T2TViT(dim=16, image_size=16, depth=1, heads=2, mlp_dim=32, num_classes=5,
                      t2t_layers=((3, 2), (3, 2))),
        "levit": LeViT(image_size=16, num_classes=5, stages=2, dim=(16, 32), depth=1,
                       heads=(2, 2), mlp_mult=2, dropout=0.0),
    }
    report["variants"] = {name: out(model.eval()(image)) for name, model in variants.items()}
    navit = NaViT(**{**small, "depth": 1}, token_dropout_prob=0.0).eval()
    images = [[torch.randn(3, 8, 16), torch.randn(3, 16, 8)], [torch.randn(3, 16, 16)]]
    report["navit"] = out(navit(images))

    def train(model, bias, loss_of, steps=4):
        """Adam on ``loss_of(model)``: the losses, and ``bias`` around the first step."""
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        losses = []
        for step in range(steps):
            loss = loss_of(model)
            optimizer.zero_grad()
            loss.backward()
            if step == 0:
                first = {"before": out(bias), "grad": out(bias.grad)}
            optimizer.step()
            if step == 0:
                first["after"] = out(bias)
            losses.append(loss.item())
        return {"losses": losses, "first_step": first}

    labels = torch.tensor([1, 3])
    classify = lambda m: torch.nn.functional.cross_entropy(m(image), labels)  # noqa: E731
    vit, simple_vit = ViT(**small), SimpleViT(**small)
    mae = MAE(encoder=ViT(**small, pool="mean"), masking_ratio=0.75, decoder_dim=16,
              decoder_depth=1, decoder_heads=2, decoder_dim_head=8)
    report["train"] = {"vit": train(vit, vit.mlp_head.bias, classify),
                       "simple_vit": train(simple_vit, simple_vit.linear_head.bias, classify),
                       # the same patches masked at every step, so that the loss falls
                       "mae": train(mae, mae.to_pixels.bias,
                                    lambda m: (torch.manual_seed(1), m(image))[1])}
    print(json.dumps(report))
''')

PIQ_SCRIPT = script_report.OUT_SOURCE + GRADIENT_CHECK_SOURCE + textwrap.dedent('''
    import json
    import numpy as np
    import torch
    import piq
    import pytorch_msssim

    torch.manual_seed(0)
    np.random.seed(0)  # MSID draws its starting vectors from NumPy
    x = torch.rand(2, 3, 48, 48, dtype=torch.float64)
    y = (x + 0.1 * torch.randn_like(x)).clamp(0, 1)
    report = {"x": out(x), "y": out(y)}
    ssim, cs = piq.ssim(x, y, data_range=1.0, reduction="none", full=True)
    report["psnr"] = out(piq.psnr(x, y, reduction="none"))
    report["ssim"] = {"piq": out(ssim), "piq_cs": out(cs),
                      "msssim": out(pytorch_msssim.ssim(x, y, data_range=1.0,
                                                        size_average=False)),
                      "piq_self": piq.ssim(x, x).item(),
                      "msssim_self": pytorch_msssim.ssim(x, x, data_range=1.0).item()}
    for norm in ("l1", "l2", "l2_squared"):
        report["tv_" + norm] = out(piq.total_variation(x, reduction="none", norm_type=norm))
    metrics = {"gmsd": piq.gmsd, "ms_gmsd": piq.multi_scale_gmsd, "fsim": piq.fsim,
               "vif_p": piq.vif_p, "srsim": piq.srsim, "mdsi": piq.mdsi, "haarpsi": piq.haarpsi,
               "vsi": piq.vsi, "dss": piq.dss}
    report["metrics"] = {name: {"distorted": f(x, y).item(), "self": f(x, x).item()}
                         for name, f in metrics.items()}
    big_x = torch.rand(1, 3, 176, 176, dtype=torch.float64)
    big_y = (big_x + 0.05 * torch.randn_like(big_x)).clamp(0, 1)
    report["multi_scale"] = {
        "piq": piq.multi_scale_ssim(big_x, big_y, data_range=1.0).item(),
        "msssim": pytorch_msssim.ms_ssim(big_x, big_y, data_range=1.0).item(),
        "msssim_self": pytorch_msssim.ms_ssim(big_x, big_x, data_range=1.0).item(),
        "iw_ssim": piq.information_weighted_ssim(big_x, big_y).item()}

    target = y[:1, :, :24, :24]
    module = pytorch_msssim.SSIM(data_range=1.0, channel=3, win_size=7)
    losses = {"piq_ssim": lambda z: piq.SSIMLoss(data_range=1.0)(z, target),
              "msssim_ssim": lambda z: 1 - module(z, target),
              "gmsd": lambda z: piq.GMSDLoss()(z, target),
              "haarpsi": lambda z: piq.HaarPSILoss()(z, target),
              "psnr": lambda z: piq.psnr(z, target),
              "tv": lambda z: piq.TVLoss()(z)}
    report["gradients"] = {name: directional(loss, x[:1, :, :24, :24].clamp(0.1, 0.9))
                           for name, loss in losses.items()}

    features = torch.randn(40, 8, dtype=torch.float64)
    shifted = torch.randn(40, 8, dtype=torch.float64) * 1.2 + 0.3
    precision, recall = piq.PR()(features, shifted)
    report["features"] = {"x": out(features), "y": out(shifted),
                          "fid": piq.FID()(features, shifted).item(),
                          "fid_self": piq.FID()(features, features).item(),
                          "kid": piq.KID()(features, shifted).item(),
                          "precision": precision.item(), "recall": recall.item(),
                          "msid": piq.MSID()(features, shifted).item(),
                          "is": piq.IS()(features.softmax(-1), shifted.softmax(-1)).item()}
    print(json.dumps(report))
''')

LPIPS_SCRIPT = script_report.OUT_SOURCE + GRADIENT_CHECK_SOURCE + textwrap.dedent('''
    import json
    import torch
    import lpips

    torch.manual_seed(0)
    # linear heads from the package's weights file, SqueezeNet trunk randomly initialised
    model = lpips.LPIPS(net="squeeze", pretrained=True, pnet_rand=True, verbose=False).double()
    torch.manual_seed(0)  # the same trunk again, without the linear heads
    baseline = lpips.LPIPS(net="squeeze", lpips=False, pnet_rand=True, verbose=False).double()
    x = torch.rand(2, 3, 32, 32, dtype=torch.float64) * 2 - 1
    y = (x + 0.2 * torch.randn_like(x)).clamp(-1, 1)
    distance, per_layer = model(x, y, retPerLayer=True)
    report = {
        "heads": [out(lin.model[-1].weight) for lin in model.lins],
        "features_x": [out(f) for f in model.net(model.scaling_layer(x))],
        "features_y": [out(f) for f in model.net(model.scaling_layer(y))],
        "distance": out(distance), "per_layer": out(per_layer),
        "self": out(model(x, x)), "baseline": out(baseline(x, y)),
        "normalized": out(model((x + 1) / 2, (y + 1) / 2, normalize=True)),
        "spatial_shape": list(lpips.LPIPS(net="squeeze", pnet_rand=True, spatial=True,
                                          verbose=False).double()(x, y).shape),
        "gradient": directional(lambda z: model(z, y[:1]).sum(), x[:1] * 0.9),
    }
    print(json.dumps(report))
''')

OPEN_CLIP_SCRIPT = script_report.OUT_SOURCE + textwrap.dedent('''
    import json
    import os
    import tempfile
    import numpy as np
    import torch
    import open_clip
    from open_clip.loss import SigLipLoss
    from PIL import Image

    vision = dict(image_size=32, layers=2, width=32, head_width=16, patch_size=8, mlp_ratio=2.0)
    text = dict(context_length=12, vocab_size=49408, width=32, heads=2, layers=1, mlp_ratio=2.0)
    configs = {
        "tiny-vit": dict(embed_dim=16, vision_cfg=vision, text_cfg={**text, "layers": 2}),
        "tiny-rn": dict(embed_dim=16, vision_cfg=dict(image_size=32, layers=[1, 1, 1, 1],
                                                      width=8, patch_size=None),
                        text_cfg=text),
        "tiny-siglip": dict(embed_dim=16, init_logit_bias=-10, custom_text=True,
                            vision_cfg={**vision, "layers": 1, "no_ln_pre": True,
                                        "final_ln_after_pool": True, "pool_type": "avg"},
                            text_cfg={**text, "no_causal_mask": True, "proj_bias": True,
                                      "pool_type": "last", "norm_kwargs": {"eps": 1e-6}}),
        "tiny-coca": dict(embed_dim=32, custom_text=True,
                          vision_cfg={**vision, "layers": 1, "attentional_pool": True,
                                      "attn_pooler_heads": 2, "attn_pooler_queries": 4,
                                      "output_tokens": True},
                          text_cfg={**text, "embed_cls": True, "output_tokens": True},
                          multimodal_cfg={**text, "attn_pooler_heads": 2}),
    }
    config_dir = tempfile.mkdtemp()
    for name, config in configs.items():
        with open(os.path.join(config_dir, name + ".json"), "w") as f:
            json.dump(config, f)
    open_clip.add_model_config(config_dir)

    torch.manual_seed(0)
    model, preprocess_train, preprocess_val = open_clip.create_model_and_transforms(
        "tiny-vit", pretrained=None)
    tokenizer = open_clip.get_tokenizer("tiny-vit")
    tokens = tokenizer(["a diagram", "a dog", "a cat"])
    picture = Image.fromarray((np.random.RandomState(0).rand(40, 48, 3) * 255).astype(np.uint8))
    image = torch.rand(3, 3, 32, 32)
    report = {"models": sorted(m for m in open_clip.list_models() if m.startswith("tiny-")),
              "tokens": out(tokens), "decoded": tokenizer.decode(tokens[1].tolist()),
              "preprocess_val": out(preprocess_val(picture)),
              "preprocess_train": out(preprocess_train(picture))}

    model.eval()
    with torch.no_grad():
        image_features = model.encode_image(image, normalize=True)
        text_features = model.encode_text(tokens, normalize=True)
        templates = ["a photo of a {}.", "a {}"]
        report["eval"] = {
            "image_features": out(image_features), "text_features": out(text_features),
            "raw_image_norms": out(model.encode_image(image).norm(dim=-1)),
            "template_features": out(model.encode_text(
                tokenizer([t.format(c) for c in ("dog", "cat") for t in templates]),
                normalize=True)),
            "zero_shot": out(open_clip.build_zero_shot_classifier(
                model, tokenizer, ["dog", "cat"], templates, num_classes_per_batch=1)),
            "logits": out(model.get_logits(image, tokens))}
        intermediates = model.forward_intermediates(image, tokens, image_indices=2,
                                                    text_indices=1)
        report["intermediates"] = {k: [list(t.shape) for t in v] if isinstance(v, list)
                                   else out(v) for k, v in intermediates.items()}
        with torch.autocast("cpu", dtype=torch.bfloat16):
            report["autocast"] = {"image_features": out(model.encode_image(image).float()),
                                  "text_features": out(model.encode_text(tokens).float())}
        torch.manual_seed(0)  # the same weights, cast to bfloat16
        bf16 = open_clip.create_model("tiny-vit", pretrained=None, precision="pure_bf16").eval()
        report["bf16"] = {
            "image_features": out(bf16.encode_image(image.bfloat16(), normalize=True).float()),
            "text_features": out(bf16.encode_text(tokens, normalize=True).float())}

    def clip_step(model, loss, steps=3):
        """AdamW steps on ``loss`` of the model's dict output: the outputs, losses, and the
        loss after the steps."""
        model.train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
        losses = []
        for step in range(steps):
            output = model(image, tokens)
            value = loss(output)
            if step == 0:
                first = {k: out(v) for k, v in output.items()
                         if k in ("image_features", "text_features", "logit_scale",
                                  "logit_bias")}
            optimizer.zero_grad()
            value.backward()
            optimizer.step()
            losses.append(value.item())
        return {"output": first, "losses": losses}

    model.output_dict = True
    report["clip"] = clip_step(model, lambda o: open_clip.ClipLoss()(**o))
    model.set_grad_checkpointing(True)
    model.zero_grad()
    open_clip.ClipLoss()(**model(image, tokens)).backward()
    checkpointed = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.set_grad_checkpointing(False)
    model.zero_grad()
    open_clip.ClipLoss()(**model(image, tokens)).backward()
    report["checkpointing_grad_difference"] = max(
        (p.grad - checkpointed[n]).abs().max().item() for n, p in model.named_parameters())
    model.lock_image_tower()
    report["trainable_visual_after_lock"] = sum(p.requires_grad
                                                for p in model.visual.parameters())

    coca_loss = open_clip.CoCaLoss(caption_loss_weight=2.0, clip_loss_weight=1.0)
    losses = {"tiny-rn": lambda o: open_clip.ClipLoss()(**o),
              "tiny-siglip": lambda o: SigLipLoss()(o["image_features"], o["text_features"],
                                                    o["logit_scale"], o["logit_bias"]),
              "tiny-coca": lambda o: sum(coca_loss(**o))}
    for name, loss in losses.items():
        torch.manual_seed(1)
        model = open_clip.create_model(name, pretrained=None, output_dict=True)
        if name == "tiny-coca":  # open_clip leaves its decoder's projection uninitialised
            torch.nn.init.normal_(model.text_decoder.text_projection, std=32 ** -0.5)
        report[name] = clip_step(model, loss)
    print(json.dumps(report))
''')

# each library's report, run under ``command_prefix`` (``-m ember.compat``: on ember)
run_vit_script = functools.partial(script_report.run_script, VIT_SCRIPT, "vit_script.py")
run_piq_script = functools.partial(script_report.run_script, PIQ_SCRIPT, "piq_script.py")
run_lpips_script = functools.partial(script_report.run_script, LPIPS_SCRIPT, "lpips_script.py")
run_open_clip_script = functools.partial(script_report.run_script, OPEN_CLIP_SCRIPT,
                                         "open_clip_script.py")


def _erf(x: np.ndarray) -> np.ndarray:
    return np.vectorize(math.erf)(x)


def _layer_norm(x: np.ndarray, weight, bias, eps: float = 1e-5) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    variance = x.var(-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + eps) * np.asarray(weight) + np.asarray(bias)


def _linear(x: np.ndarray, weights: dict, name: str) -> np.ndarray:
    y = x @ np.asarray(weights[name + ".weight"]).T
    return y + np.asarray(weights[name + ".bias"]) if name + ".bias" in weights else y


def _softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    e = np.exp(x - x.max(axis, keepdims=True))
    return e / e.sum(axis, keepdims=True)


def _vit_numpy(image: np.ndarray, w: dict, patch: int = 4, heads: int = 2, depth: int = 2):
    """vit-pytorch's ViT (pre-norm blocks, class token, exact GELU): (logits, attention maps
    (batch, depth, heads, tokens, tokens), final normed tokens)."""
    b, c, height, width = image.shape
    patches = image.reshape(b, c, height // patch, patch, width // patch, patch)
    patches = patches.transpose(0, 2, 4, 3, 5, 1).reshape(b, -1, patch * patch * c)
    x = _layer_norm(patches, w["to_patch_embedding.1.weight"], w["to_patch_embedding.1.bias"])
    x = _linear(x, w, "to_patch_embedding.2")
    x = _layer_norm(x, w["to_patch_embedding.3.weight"], w["to_patch_embedding.3.bias"])
    cls = np.broadcast_to(np.asarray(w["cls_token"]), (b, 1, x.shape[-1]))
    x = np.concatenate([cls, x], 1) + np.asarray(w["pos_embedding"])
    attentions = []
    for i in range(depth):
        p = f"transformer.layers.{i}."
        h = _layer_norm(x, w[p + "0.norm.weight"], w[p + "0.norm.bias"])
        q, k, v = np.split(h @ np.asarray(w[p + "0.to_qkv.weight"]).T, 3, -1)
        q, k, v = (t.reshape(b, -1, heads, t.shape[-1] // heads).transpose(0, 2, 1, 3)
                   for t in (q, k, v))
        attention = _softmax(q @ k.transpose(0, 1, 3, 2) / math.sqrt(q.shape[-1]))
        attentions.append(attention)
        mixed = (attention @ v).transpose(0, 2, 1, 3).reshape(b, -1, q.shape[-1] * heads)
        x = x + _linear(mixed, w, p + "0.to_out.0")
        h = _layer_norm(x, w[p + "1.net.0.weight"], w[p + "1.net.0.bias"])
        h = _linear(h, w, p + "1.net.1")
        h = 0.5 * h * (1 + _erf(h / math.sqrt(2)))
        x = x + _linear(h, w, p + "1.net.4")
    x = _layer_norm(x, w["transformer.norm.weight"], w["transformer.norm.bias"])
    return _linear(x[:, 0], w, "mlp_head"), np.stack(attentions, 1), x


def _assert_adam_first_step(first: dict, lr: float = 1e-3, eps: float = 1e-8) -> None:
    """Adam's bias-corrected first step moves each weight by lr * g / (|g| + eps)."""
    grad = np.asarray(first["grad"])
    expected = np.asarray(first["before"]) - lr * grad / (np.abs(grad) + eps)
    np.testing.assert_allclose(first["after"], expected, rtol=1e-5, atol=1e-7)


def test_vit_pytorch_models_on_ember(tmp_path):
    _library("vit_pytorch")
    report = run_vit_script("-m", "ember.compat", tmp_path=tmp_path)
    logits, attention, tokens = _vit_numpy(np.asarray(report["image"]), report["weights"])
    np.testing.assert_allclose(report["logits"], logits, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(report["recorder"]["logits"], logits, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(report["recorder"]["attention"], attention, rtol=1e-10,
                               atol=1e-12)
    np.testing.assert_allclose(report["extractor"]["logits"], logits, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(report["extractor"]["embeddings"], tokens, rtol=1e-10,
                               atol=1e-12)
    for name, variant_logits in report["variants"].items():
        assert np.asarray(variant_logits).shape == (2, 5), name
        assert np.isfinite(variant_logits).all(), name
    assert np.asarray(report["navit"]).shape == (3, 5)  # one row per image, packed
    for name, run in report["train"].items():
        _assert_adam_first_step(run["first_step"])
        assert np.isfinite(run["losses"]).all() and min(run["losses"]) > 0, name
        assert run["losses"][-1] < run["losses"][0], name


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    coords = np.arange(size) - (size - 1) / 2
    g = np.exp(-coords ** 2 / (2 * sigma ** 2))
    return g / g.sum()


def _filter_valid(image: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Separable 'valid' Gaussian filter over the last two axes."""
    k = len(g)
    rows = sum(g[i] * image[..., i:image.shape[-2] - k + 1 + i, :] for i in range(k))
    return sum(g[i] * rows[..., i:rows.shape[-1] - k + 1 + i] for i in range(k))


def _ssim_numpy(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """SSIM and contrast-structure per image (Wang et al. 2004, 11x11 Gaussian window,
    sigma 1.5, K = (0.01, 0.03), data range 1), averaged over positions and channels."""
    g = _gaussian_window()
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    mu_x, mu_y = _filter_valid(x, g), _filter_valid(y, g)
    var_x = _filter_valid(x * x, g) - mu_x ** 2
    var_y = _filter_valid(y * y, g) - mu_y ** 2
    cov = _filter_valid(x * y, g) - mu_x * mu_y
    cs = (2 * cov + c2) / (var_x + var_y + c2)
    ssim = (2 * mu_x * mu_y + c1) / (mu_x ** 2 + mu_y ** 2 + c1) * cs
    return ssim.mean((1, 2, 3)), cs.mean((1, 2, 3))


def _sqrtm_psd(a: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh(a)
    return vectors @ np.diag(np.sqrt(np.clip(values, 0, None))) @ vectors.T


def _fid_numpy(x: np.ndarray, y: np.ndarray) -> float:
    """|mu_x - mu_y|^2 + tr(S_x + S_y - 2 (S_x S_y)^(1/2)), with
    tr((S_x S_y)^(1/2)) = tr((S_x^(1/2) S_y S_x^(1/2))^(1/2)) for symmetric PSD S."""
    sx, sy = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    root = _sqrtm_psd(sx)
    cross = np.trace(_sqrtm_psd(root @ sy @ root))
    return float(((x.mean(0) - y.mean(0)) ** 2).sum() + np.trace(sx + sy) - 2 * cross)


def _assert_gradients(gradients: dict, rtol: float = 1e-5) -> None:
    for name, check in gradients.items():
        assert check["autograd"] == pytest.approx(check["central"], rel=rtol, abs=1e-8), name


def test_piq_and_pytorch_msssim_metrics_on_ember(tmp_path):
    _library("piq")
    _library("pytorch_msssim")
    report = run_piq_script("-m", "ember.compat", tmp_path=tmp_path)
    x, y = np.asarray(report["x"]), np.asarray(report["y"])
    mse = ((x - y) ** 2).mean((1, 2, 3))
    np.testing.assert_allclose(report["psnr"], 10 * np.log10(1 / (mse + 1e-8)), rtol=1e-12)
    ssim, cs = _ssim_numpy(x, y)
    # both build their Gaussian windows in float32
    for key in ("piq", "msssim"):
        np.testing.assert_allclose(report["ssim"][key], ssim, rtol=1e-7)
    np.testing.assert_allclose(report["ssim"]["piq_cs"], cs, rtol=1e-7)
    assert report["ssim"]["piq_self"] == pytest.approx(1.0, abs=1e-12)
    assert report["ssim"]["msssim_self"] == pytest.approx(1.0, abs=1e-12)
    dh, dw = np.diff(x, axis=2), np.diff(x, axis=3)
    squares = (dh ** 2).sum((1, 2, 3)) + (dw ** 2).sum((1, 2, 3))
    np.testing.assert_allclose(report["tv_l1"], np.abs(dh).sum((1, 2, 3))
                               + np.abs(dw).sum((1, 2, 3)), rtol=1e-12)
    np.testing.assert_allclose(report["tv_l2"], np.sqrt(squares), rtol=1e-12)
    np.testing.assert_allclose(report["tv_l2_squared"], squares, rtol=1e-12)
    # distances are 0 for identical images, similarities 1; the noise moves each the right way
    for name, values in report["metrics"].items():
        if name in ("gmsd", "ms_gmsd", "mdsi"):
            assert values["self"] == pytest.approx(0.0, abs=1e-6), name
            assert values["distorted"] > 1e-3, name
        else:
            assert values["self"] == pytest.approx(1.0, abs=1e-6), name
            assert 0 < values["distorted"] < 1 - 1e-3, name
    multi = report["multi_scale"]
    assert multi["piq"] == pytest.approx(multi["msssim"], rel=1e-3)  # (their scales' pooling)
    assert multi["msssim_self"] == pytest.approx(1.0, abs=1e-12)
    assert 0 < multi["msssim"] < 1 and 0 < multi["iw_ssim"] < 1
    _assert_gradients(report["gradients"])
    features = report["features"]
    fx, fy = np.asarray(features["x"]), np.asarray(features["y"])
    # piq's matrix square root stops its Newton-Schulz iterations at a residual under 1e-5
    assert features["fid"] == pytest.approx(_fid_numpy(fx, fy), rel=1e-5)
    assert features["fid_self"] == pytest.approx(0.0, abs=1e-6)
    assert 0 <= features["precision"] <= 1 and 0 <= features["recall"] <= 1
    assert features["kid"] > 0 and features["msid"] > 0 and features["is"] > 0


def test_lpips_on_ember(tmp_path):
    _library("lpips")
    report = run_lpips_script("-m", "ember.compat", tmp_path=tmp_path)
    per_layer, baseline = [], []
    for head, fx, fy in zip(report["heads"], report["features_x"], report["features_y"]):
        fx, fy = np.asarray(fx), np.asarray(fy)
        nx = fx / (np.sqrt((fx ** 2).sum(1, keepdims=True)) + 1e-10)
        ny = fy / (np.sqrt((fy ** 2).sum(1, keepdims=True)) + 1e-10)
        squared = (nx - ny) ** 2  # a 1x1 convolution with the head, then a spatial mean
        weighted = np.einsum("bchw,c->bhw", squared, np.asarray(head).reshape(-1))
        per_layer.append(weighted.mean((1, 2)))
        baseline.append(squared.sum(1).mean((1, 2)))
    np.testing.assert_allclose(np.asarray(report["per_layer"]).reshape(7, 2), per_layer,
                               rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(np.asarray(report["distance"]).reshape(2), sum(per_layer),
                               rtol=1e-10)
    np.testing.assert_allclose(np.asarray(report["baseline"]).reshape(2), sum(baseline),
                               rtol=1e-10)
    np.testing.assert_allclose(report["normalized"], report["distance"], rtol=1e-10)
    np.testing.assert_allclose(report["self"], 0.0, atol=1e-20)
    assert report["spatial_shape"] == [2, 1, 32, 32]
    # SqueezeNet's ReLUs and max-pools put kinks near the central difference's steps
    _assert_gradients({"lpips": report["gradient"]}, rtol=1e-5)


def _cross_entropy_of_diagonal(logits: np.ndarray) -> float:
    shifted = logits - logits.max(1, keepdims=True)
    log_probabilities = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
    return -float(np.diag(log_probabilities).mean())


def _clip_loss_numpy(output: dict) -> float:
    """Symmetric InfoNCE: the image->text and text->image cross entropies of the matching
    pairs, averaged."""
    logits = output["logit_scale"] * (np.asarray(output["image_features"])
                                      @ np.asarray(output["text_features"]).T)
    return (_cross_entropy_of_diagonal(logits) + _cross_entropy_of_diagonal(logits.T)) / 2


def _siglip_loss_numpy(output: dict) -> float:
    """-sum log sigmoid(label * (scale * f_i . g_j + bias)) / batch, label +1 on the diagonal,
    -1 elsewhere."""
    logits = (output["logit_scale"] * np.asarray(output["image_features"])
              @ np.asarray(output["text_features"]).T + output["logit_bias"])
    labels = 2 * np.eye(len(logits)) - 1
    return float(np.logaddexp(0, -labels * logits).sum() / len(logits))


def test_open_clip_on_ember(tmp_path):
    _library("open_clip")
    _library("ftfy")
    report = run_open_clip_script("-m", "ember.compat", tmp_path=tmp_path)
    assert report["models"] == ["tiny-coca", "tiny-rn", "tiny-siglip", "tiny-vit"]
    start, end = 49406, 49407
    assert [row[0] for row in report["tokens"]] == [start] * 3
    assert [row[:4] for row in report["tokens"]][1] == [start, 320, 1929, end]  # "a dog"
    assert report["decoded"].startswith("<start_of_text>a dog <end_of_text>")

    evaluation = report["eval"]
    image_features = np.asarray(evaluation["image_features"])
    text_features = np.asarray(evaluation["text_features"])
    np.testing.assert_allclose(np.linalg.norm(image_features, axis=1), 1, rtol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(text_features, axis=1), 1, rtol=1e-6)
    assert all(norm > 0 for norm in evaluation["raw_image_norms"])
    templates = np.asarray(evaluation["template_features"]).reshape(2, 2, -1).mean(1)
    templates /= np.linalg.norm(templates, axis=1, keepdims=True)
    np.testing.assert_allclose(evaluation["zero_shot"], templates.T, rtol=1e-5, atol=1e-6)
    image_logits, text_logits = (np.asarray(v) for v in evaluation["logits"])
    np.testing.assert_allclose(image_logits, text_logits.T, rtol=1e-6)
    np.testing.assert_allclose(image_logits / image_logits[0, 0],
                               (image_features @ text_features.T)
                               / (image_features[0] @ text_features[0]), rtol=1e-4, atol=1e-5)
    intermediates = report["intermediates"]
    assert intermediates["image_intermediates"] == [[3, 32, 4, 4]] * 2
    assert intermediates["text_intermediates"] == [[3, 12, 32]]
    np.testing.assert_allclose(intermediates["image_features"], image_features, rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(intermediates["text_features"], text_features, rtol=1e-5,
                               atol=1e-6)
    # bfloat16 towers (autocast's or the weights cast) within a few bfloat16 ulps
    for name, features in (("image_features", image_features),
                           ("text_features", text_features)):
        np.testing.assert_allclose(report["bf16"][name], features, atol=0.05)
        raw = np.asarray(report["autocast"][name])
        np.testing.assert_allclose(raw / np.linalg.norm(raw, axis=1, keepdims=True), features,
                                   atol=0.05)

    preprocessed = np.asarray(report["preprocess_val"])
    assert preprocessed.shape == (3, 32, 32) == np.asarray(report["preprocess_train"]).shape
    # Resize(32) -> 32x38 bicubic, CenterCrop(32), then OpenAI's mean and std
    from PIL import Image
    pixels = (np.random.RandomState(0).rand(40, 48, 3) * 255).astype(np.uint8)
    resized = np.asarray(Image.fromarray(pixels).resize((38, 32), Image.BICUBIC))[:, 3:35]
    mean = np.array([0.48145466, 0.4578275, 0.40821073])
    std = np.array([0.26862954, 0.26130258, 0.27577711])
    expected = ((resized / 255.0 - mean) / std).transpose(2, 0, 1)
    np.testing.assert_allclose(preprocessed, expected, rtol=1e-5, atol=1e-5)

    for name in ("clip", "tiny-rn", "tiny-coca"):
        run = report[name]
        loss = _clip_loss_numpy(run["output"])
        if name == "tiny-coca":  # plus twice the captioning cross entropy
            assert run["losses"][0] > loss
        else:
            assert run["losses"][0] == pytest.approx(loss, rel=1e-5)
    siglip = report["tiny-siglip"]
    assert siglip["losses"][0] == pytest.approx(_siglip_loss_numpy(siglip["output"]), rel=1e-5)
    for name in ("clip", "tiny-rn", "tiny-siglip", "tiny-coca"):
        losses = report[name]["losses"]
        assert np.isfinite(losses).all() and losses[-1] < losses[0], name
    assert report["checkpointing_grad_difference"] < 1e-6
    assert report["trainable_visual_after_lock"] == 0
