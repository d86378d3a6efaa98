"""Captum on ember, where captum is installed (it is not a test dependency: its package requires
PyTorch; .ci/run installs it without dependencies, with matplotlib, which ``captum.attr`` imports,
and matplotlib's own few). Captum's README paths in float64 on a tiny MLP, a tiny CNN and a
tiny embedding model: IntegratedGradients, Saliency, InputXGradient, DeepLift, GradientShap,
NoiseTunnel, LayerConductance, LayerIntegratedGradients (on a Linear and on an Embedding),
FeatureAblation (with a feature mask), Occlusion, GuidedBackprop and LayerGradCam, with their
convergence deltas, run with ``torch`` resolved to ember in a fresh interpreter. The values are
checked here against the networks written in NumPy: completeness (attributions sum to
f(x) - f(baseline) up to the reported delta), IntegratedGradients against a fine NumPy Riemann
sum, Saliency and InputXGradient against the analytic gradient, ablations and occlusions against
NumPy forward passes with the features zeroed.
tests/conformance/test_thirdparty_s19_captum_opacus_vs_torch.py compares every number with real
PyTorch's."""
from __future__ import annotations

import functools
import importlib.util
import textwrap

import numpy as np
import pytest

from tests.acceptance import script_report

if importlib.util.find_spec("captum") is None:  # (importing it would import torch)
    pytest.skip("captum is not installed", allow_module_level=True)
if importlib.util.find_spec("matplotlib") is None:  # captum.attr imports it
    pytest.skip("matplotlib is not installed", allow_module_level=True)

SCRIPT = script_report.OUT_SOURCE + textwrap.dedent('''
    import json
    import warnings
    import numpy as np
    import torch
    from torch import nn
    from captum.attr import (DeepLift, FeatureAblation, GradientShap, GuidedBackprop,
                             InputXGradient, IntegratedGradients, LayerConductance, LayerGradCam,
                             LayerIntegratedGradients, NoiseTunnel, Occlusion, Saliency)

    warnings.simplefilter("ignore")  # captum warns that it sets requires_grad and hooks
    torch.manual_seed(0)
    np.random.seed(0)  # GradientShap draws its interpolation points from NumPy
    mlp = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3)).double().eval()
    x = torch.randn(3, 4, dtype=torch.float64)
    baseline = torch.zeros_like(x)
    report = {"mlp": out(dict(mlp.state_dict())), "x": out(x)}

    ig = IntegratedGradients(mlp)
    attributions, delta = ig.attribute(x, baselines=baseline, target=1, n_steps=64,
                                       return_convergence_delta=True)
    riemann = ig.attribute(x, baselines=baseline, target=1, n_steps=64, method="riemann_trapezoid")
    report["ig"] = {"attr": out(attributions), "delta": out(delta), "riemann": out(riemann)}
    report["saliency"] = out(Saliency(mlp).attribute(x, target=2))
    report["saliency_signed"] = out(Saliency(mlp).attribute(x, target=2, abs=False))
    report["input_x_gradient"] = out(InputXGradient(mlp).attribute(x, target=0))
    attributions, delta = DeepLift(mlp).attribute(x, baselines=baseline, target=1,
                                                  return_convergence_delta=True)
    report["deeplift"] = {"attr": out(attributions), "delta": out(delta)}
    references = torch.randn(5, 4, dtype=torch.float64)
    attributions, delta = GradientShap(mlp).attribute(x, baselines=references, target=1,
                                                      n_samples=4, stdevs=0.1,
                                                      return_convergence_delta=True)
    report["gradient_shap"] = {"attr": out(attributions), "delta": out(delta),
                               "references": out(references)}
    noisy = NoiseTunnel(ig).attribute(x, baselines=baseline, target=1, nt_type="smoothgrad",
                                      nt_samples=3, stdevs=0.1, n_steps=16)
    noiseless = NoiseTunnel(ig).attribute(x, baselines=baseline, target=1, nt_samples=2,
                                          stdevs=0.0, n_steps=64)
    report["noise_tunnel"] = {"noisy": out(noisy), "noiseless": out(noiseless)}
    attributions, delta = LayerConductance(mlp, mlp[1]).attribute(
        x, baselines=baseline, target=1, n_steps=64, return_convergence_delta=True)
    report["layer_conductance"] = {"attr": out(attributions), "delta": out(delta)}
    attributions, delta = LayerIntegratedGradients(mlp, mlp[0]).attribute(
        x, baselines=baseline, target=1, n_steps=64, return_convergence_delta=True)
    report["layer_ig"] = {"attr": out(attributions), "delta": out(delta)}
    ablation = FeatureAblation(mlp)
    report["ablation"] = {
        "single": out(ablation.attribute(x, target=1)),
        "grouped": out(ablation.attribute(x, target=1, baselines=0.5,
                                          feature_mask=torch.tensor([[0, 0, 1, 1]])))}

    cnn = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                        nn.Linear(2 * 3 * 3, 3)).double().eval()
    image = torch.randn(2, 1, 6, 6, dtype=torch.float64)
    report["cnn"] = out(dict(cnn.state_dict()))
    report["image"] = out(image)
    report["occlusion"] = out(Occlusion(cnn).attribute(image, target=0,
                                                       sliding_window_shapes=(1, 2, 2),
                                                       strides=(1, 2, 2)))
    attributions, delta = IntegratedGradients(cnn).attribute(image, target=2, n_steps=64,
                                                             return_convergence_delta=True)
    report["cnn_ig"] = {"attr": out(attributions), "delta": out(delta)}
    attributions, delta = DeepLift(cnn).attribute(image, target=0, return_convergence_delta=True)
    report["cnn_deeplift"] = {"attr": out(attributions), "delta": out(delta)}
    report["guided_backprop"] = out(GuidedBackprop(cnn).attribute(image, target=1))
    report["grad_cam"] = out(LayerGradCam(cnn, cnn[0]).attribute(image, target=1))

    class BagOfWords(nn.Module):
        """token ids -> mean embedding -> two logits (captum's text tutorials in miniature)"""
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(10, 4)
            self.head = nn.Linear(4, 2)

        def forward(self, tokens):
            return self.head(self.embedding(tokens).mean(1))

    text = BagOfWords().double().eval()
    tokens = torch.tensor([[1, 5, 7], [2, 2, 9]])
    padding = torch.zeros_like(tokens)
    attributions, delta = LayerIntegratedGradients(text, text.embedding).attribute(
        tokens, baselines=padding, target=1, n_steps=32, return_convergence_delta=True)
    report["text"] = {"attr": out(attributions), "delta": out(delta),
                      "weights": out(dict(text.state_dict())), "tokens": out(tokens),
                      "logits": out(text(tokens)), "padding_logits": out(text(padding))}
    print(json.dumps(report))
''')

# the script's report, run under ``command_prefix`` (``-m ember.compat``: on ember)
run_script = functools.partial(script_report.run_script, SCRIPT, "captum_script.py")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    return run_script("-m", "ember.compat", tmp_path=tmp_path_factory.mktemp("captum"))


def _arrays(state: dict) -> dict:
    return {name: np.array(value) for name, value in state.items()}


def _mlp(report):
    """The MLP as NumPy functions: logits of (n, 4) inputs, and the gradient of logit
    ``target`` with respect to the inputs."""
    w = _arrays(report["mlp"])

    def hidden(x):
        return np.tanh(x @ w["0.weight"].T + w["0.bias"])

    def logits(x):
        return hidden(x) @ w["2.weight"].T + w["2.bias"]

    def gradient(x, target):
        return (w["2.weight"][target] * (1 - hidden(x) ** 2)) @ w["0.weight"]
    return logits, gradient, w


def _cnn_logits(report, images: np.ndarray) -> np.ndarray:
    """The CNN (3x3 convolution padded by 1, ReLU, 2x2 max pooling, linear) in NumPy."""
    w = _arrays(report["cnn"])
    padded = np.pad(images, ((0, 0), (0, 0), (1, 1), (1, 1)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (3, 3), axis=(2, 3))
    conv = np.einsum("ncijkl,ockl->noij", windows, w["0.weight"]) + w["0.bias"][:, None, None]
    n, c, h, width = conv.shape
    pooled = np.maximum(conv, 0).reshape(n, c, h // 2, 2, width // 2, 2).max(axis=(3, 5))
    return pooled.reshape(n, -1) @ w["4.weight"].T + w["4.bias"]


def _gauss_legendre_ig(gradient, x, baseline, steps: int) -> np.ndarray:
    """Integrated gradients by Gauss-Legendre quadrature on [0, 1] (captum's default)."""
    nodes, weights = np.polynomial.legendre.leggauss(steps)
    alphas, weights = (nodes + 1) / 2, weights / 2
    total = sum(wt * gradient(baseline + a * (x - baseline)) for a, wt in zip(alphas, weights))
    return (x - baseline) * total


def test_integrated_gradients_match_numpy_quadrature_and_are_complete(report):
    logits, gradient, _ = _mlp(report)
    x = np.array(report["x"])
    baseline = np.zeros_like(x)
    ig = report["ig"]
    np.testing.assert_allclose(ig["attr"], _gauss_legendre_ig(lambda p: gradient(p, 1), x,
                                                             baseline, 64), atol=1e-12)
    gain = logits(x)[:, 1] - logits(baseline)[:, 1]
    np.testing.assert_allclose(np.sum(ig["attr"], 1) - gain, ig["delta"], atol=1e-12)
    assert np.abs(ig["delta"]).max() < 1e-8
    # captum's trapezoid rule: 64 evenly spaced float32 points, steps of 1/64 halved at the ends
    alphas = np.linspace(0, 1, 64, dtype=np.float32).astype(np.float64)
    steps = np.full(64, 1 / 64)
    steps[[0, -1]] /= 2
    path = sum(step * gradient(a * x, 1) for a, step in zip(alphas, steps))
    np.testing.assert_allclose(ig["riemann"], x * path, atol=1e-9)
    # a noise tunnel with no noise averages identical integrated gradients
    np.testing.assert_allclose(report["noise_tunnel"]["noiseless"], ig["attr"], atol=1e-12)
    noisy = np.array(report["noise_tunnel"]["noisy"])
    assert noisy.shape == x.shape and np.abs(noisy - ig["attr"]).max() < 0.1


def test_gradient_attributions_match_the_analytic_gradient(report):
    _, gradient, _ = _mlp(report)
    x = np.array(report["x"])
    np.testing.assert_allclose(report["saliency_signed"], gradient(x, 2), atol=1e-14)
    np.testing.assert_allclose(report["saliency"], np.abs(gradient(x, 2)), atol=1e-14)
    np.testing.assert_allclose(report["input_x_gradient"], x * gradient(x, 0), atol=1e-14)


def test_deeplift_is_the_rescale_rule_and_complete(report):
    logits, _, w = _mlp(report)
    x = np.array(report["x"])
    # Rescale rule against the zero baseline: tanh's multiplier is its secant slope
    z, z0 = x @ w["0.weight"].T + w["0.bias"], w["0.bias"]
    multiplier = (np.tanh(z) - np.tanh(z0)) / (z - z0)
    expected = x * ((w["2.weight"][1] * multiplier) @ w["0.weight"])
    np.testing.assert_allclose(report["deeplift"]["attr"], expected, atol=1e-12)
    assert np.abs(report["deeplift"]["delta"]).max() < 1e-12
    gain = logits(x)[:, 1] - logits(np.zeros_like(x))[:, 1]
    np.testing.assert_allclose(np.sum(expected, 1), gain, atol=1e-12)


def test_layer_attributions_are_complete(report):
    logits, gradient, w = _mlp(report)
    x = np.array(report["x"])
    gain = logits(x)[:, 1] - logits(np.zeros_like(x))[:, 1]
    for name, tolerance in (("layer_conductance", 1e-3), ("layer_ig", 1e-8)):
        attributions, delta = np.array(report[name]["attr"]), np.array(report[name]["delta"])
        assert attributions.shape == (3, 8)
        np.testing.assert_allclose(attributions.sum(1) - gain, delta, atol=1e-12)
        assert np.abs(delta).max() < tolerance
    # integrated gradients in the Linear layer's output space, where the path is straight too
    z, z0 = x @ w["0.weight"].T + w["0.bias"], np.broadcast_to(w["0.bias"], (3, 8))
    expected = _gauss_legendre_ig(lambda p: w["2.weight"][1] * (1 - np.tanh(p) ** 2), z, z0, 64)
    np.testing.assert_allclose(report["layer_ig"]["attr"], expected, atol=1e-12)
    # an embedding feeding a linear head: the integrand is constant, the attribution exact
    text = report["text"]
    weights, tokens = _arrays(text["weights"]), np.array(text["tokens"])
    table, head = weights["embedding.weight"], weights["head.weight"][1]
    expected = (table[tokens] - table[0]) * head / tokens.shape[1]
    np.testing.assert_allclose(text["attr"], expected, atol=1e-12)
    gain = np.array(text["logits"])[:, 1] - np.array(text["padding_logits"])[:, 1]
    np.testing.assert_allclose(np.sum(text["attr"], (1, 2)) - gain, text["delta"], atol=1e-12)


def test_gradient_shap_reports_a_delta_per_sample(report):
    shap = report["gradient_shap"]
    assert np.array(shap["attr"]).shape == (3, 4) and np.isfinite(shap["attr"]).all()
    assert np.array(shap["delta"]).shape == (3 * 4,) and np.isfinite(shap["delta"]).all()


def test_ablations_match_numpy_forward_passes(report):
    logits, _, _ = _mlp(report)
    x = np.array(report["x"])
    for key, groups, value in (("single", [[0], [1], [2], [3]], 0.0),
                               ("grouped", [[0, 1], [2, 3]], 0.5)):
        expected = np.zeros_like(x)
        for group in groups:
            ablated = x.copy()
            ablated[:, group] = value
            expected[:, group] = (logits(x)[:, 1] - logits(ablated)[:, 1])[:, None]
        np.testing.assert_allclose(report["ablation"][key], expected, atol=1e-12)
    image = np.array(report["image"])
    expected = np.zeros_like(image)
    for i in range(0, 6, 2):
        for j in range(0, 6, 2):
            occluded = image.copy()
            occluded[:, :, i:i + 2, j:j + 2] = 0
            drop = _cnn_logits(report, image)[:, 0] - _cnn_logits(report, occluded)[:, 0]
            expected[:, :, i:i + 2, j:j + 2] = drop[:, None, None, None]
    np.testing.assert_allclose(report["occlusion"], expected, atol=1e-12)


def test_cnn_attributions_are_complete(report):
    image = np.array(report["image"])
    full, black = _cnn_logits(report, image), _cnn_logits(report, np.zeros_like(image))
    for key, target, tolerance in (("cnn_ig", 2, 0.05), ("cnn_deeplift", 0, 1e-12)):
        attributions, delta = np.array(report[key]["attr"]), np.array(report[key]["delta"])
        assert attributions.shape == image.shape
        gain = full[:, target] - black[:, target]
        np.testing.assert_allclose(attributions.sum((1, 2, 3)) - gain, delta, atol=1e-12)
        assert np.abs(delta).max() < tolerance * max(1.0, np.abs(gain).max())
    assert np.array(report["guided_backprop"]).shape == image.shape
    assert np.array(report["grad_cam"]).shape == (2, 1, 6, 6)
