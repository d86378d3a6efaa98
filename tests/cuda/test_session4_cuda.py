"""This session's additions on a GPU, against the same code on the CPU: the dropout primitive,
channels-last convolution, saved-tensor hooks that offload to the CPU, Adafactor and SWA."""
import numpy as np
import pytest

import ember

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not ember.cuda.is_available(), reason="needs CuPy and a GPU")]


def test_dropout_mask_scale_and_gradient():
    ember.manual_seed(0)
    x = ember.randn(64, 257, device="cuda", requires_grad=True)
    y = ember.nn.functional.dropout(x, 0.3)
    y.backward(ember.ones_like(y))
    kept = (y != 0).cpu().numpy()
    assert 0.6 < kept.mean() < 0.8
    np.testing.assert_allclose(y.detach().cpu().numpy()[kept],
                               x.detach().cpu().numpy()[kept] / 0.7, rtol=1e-6)
    np.testing.assert_array_equal(x.grad.cpu().numpy() != 0, kept)


def test_channels_last_convolution_matches_cpu():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 32, 9, 9)).astype(np.float32)
    w = rng.standard_normal((16, 32, 3, 3)).astype(np.float32)
    out = {}
    for device in ("cpu", "cuda"):
        xt = ember.tensor(x, device=device).to(memory_format=ember.channels_last)
        y = ember.nn.functional.conv2d(xt, ember.tensor(w, device=device), padding=1)
        assert y.is_contiguous(memory_format=ember.channels_last)
        out[device] = y.cpu().numpy()
    np.testing.assert_allclose(out["cuda"], out["cpu"], rtol=1e-4, atol=1e-4)


def test_save_on_cpu_offloads_and_restores():
    a = ember.randn(5, device="cuda", requires_grad=True)
    with ember.autograd.graph.save_on_cpu(pin_memory=True):
        y = (a * a).exp().sum()
    y.backward()
    expected = (2 * a * (a * a).exp()).detach().cpu().numpy()
    np.testing.assert_allclose(a.grad.cpu().numpy(), expected, rtol=1e-5)
    assert a.grad.device.type == "cuda"


def test_adafactor_and_swa_on_cuda_match_cpu():
    rng = np.random.default_rng(2)
    w0 = rng.standard_normal((6, 5))
    grads = [rng.standard_normal((6, 5)) for _ in range(5)]
    final = {}
    for device in ("cpu", "cuda"):
        p = ember.nn.Parameter(ember.tensor(w0, device=device))
        opt = ember.optim.Adafactor([p], lr=0.1)
        swa = ember.optim.swa_utils.AveragedModel(ember.nn.ParameterList([p]))
        for g in grads:
            p.grad = ember.tensor(g, device=device)
            opt.step()
            swa.update_parameters(ember.nn.ParameterList([p]))
        final[device] = (p.detach().cpu().numpy(),
                         next(swa.parameters()).detach().cpu().numpy())
    for c, g in zip(final["cpu"], final["cuda"]):
        np.testing.assert_allclose(g, c, rtol=1e-10, atol=1e-12)
