"""Box losses and layers against the same definitions written in real PyTorch (values and
gradients), since torchvision itself is not installed."""
import math

import numpy as np
import pytest

import ember
from ember.vision import ops

torch = pytest.importorskip("torch")


def _torch_ciou_loss(b1, b2, eps=1e-7):
    x1, y1, x2, y2 = b1.unbind(-1)
    x1g, y1g, x2g, y2g = b2.unbind(-1)
    inter = ((torch.min(x2, x2g) - torch.max(x1, x1g)).clamp(min=0)
             * (torch.min(y2, y2g) - torch.max(y1, y1g)).clamp(min=0))
    union = (x2 - x1) * (y2 - y1) + (x2g - x1g) * (y2g - y1g) - inter
    iou = inter / (union + eps)
    diag = ((torch.max(x2, x2g) - torch.min(x1, x1g)) ** 2
            + (torch.max(y2, y2g) - torch.min(y1, y1g)) ** 2 + eps)
    dist = ((x1 + x2) / 2 - (x1g + x2g) / 2) ** 2 + ((y1 + y2) / 2 - (y1g + y2g) / 2) ** 2
    v = 4 / math.pi ** 2 * (torch.atan((x2g - x1g) / (y2g - y1g))
                            - torch.atan((x2 - x1) / (y2 - y1))) ** 2
    with torch.no_grad():
        alpha = v / (1 - iou + v + eps)
    return 1 - iou + dist / diag + alpha * v


def _torch_focal(x, t, alpha=0.25, gamma=2.0):
    p = torch.sigmoid(x)
    ce = torch.nn.functional.binary_cross_entropy_with_logits(x, t, reduction="none")
    p_t = p * t + (1 - p) * (1 - t)
    return (alpha * t + (1 - alpha) * (1 - t)) * ce * (1 - p_t) ** gamma


def _grads(fn, arrays, lib):
    ts = [lib.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*ts)
    out.sum().backward()
    return out.detach().numpy(), [t.grad.numpy() for t in ts]


def test_complete_box_iou_loss_and_grad_vs_torch():
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 10, (6, 2))
    b1 = np.concatenate([xy, xy + rng.uniform(1, 5, (6, 2))], 1)
    b2 = b1 + rng.uniform(-2, 2, (6, 4))
    b2[:, 2:] = np.maximum(b2[:, 2:], b2[:, :2] + 0.5)
    got = _grads(ops.complete_box_iou_loss, (b1, b2), ember)
    want = _grads(_torch_ciou_loss, (b1, b2), torch)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-10)
    for g, w in zip(got[1], want[1]):
        np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-12)


def test_sigmoid_focal_loss_and_grad_vs_torch():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 3)) * 3
    t = (rng.uniform(size=(5, 3)) > 0.5).astype(np.float64)
    got = _grads(lambda a: ops.sigmoid_focal_loss(a, ember.tensor(t)), (x,), ember)
    want = _grads(lambda a: _torch_focal(a, torch.tensor(t)), (x,), torch)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-10)
    np.testing.assert_allclose(got[1][0], want[1][0], rtol=1e-9, atol=1e-14)


def test_mlp_and_conv_norm_activation_run_like_torch_layers():
    mlp = ops.MLP(4, [8, 3], norm_layer=ember.nn.LayerNorm)
    ref = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.LayerNorm(8), torch.nn.ReLU(),
                              torch.nn.Dropout(0.0), torch.nn.Linear(8, 3), torch.nn.Dropout(0.0))
    ref.load_state_dict({k: torch.tensor(v.numpy()) for k, v in mlp.state_dict().items()})
    x = np.random.default_rng(2).standard_normal((2, 4)).astype(np.float32)
    np.testing.assert_allclose(mlp(ember.tensor(x)).detach().numpy(),
                               ref(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)
    conv = ops.Conv2dNormActivation(3, 5, kernel_size=3, stride=2).eval()
    ref = torch.nn.Sequential(torch.nn.Conv2d(3, 5, 3, 2, 1, bias=False), torch.nn.BatchNorm2d(5),
                              torch.nn.ReLU()).eval()
    ref.load_state_dict({k: torch.tensor(v.numpy()) for k, v in conv.state_dict().items()})
    x = np.random.default_rng(3).standard_normal((1, 3, 7, 7)).astype(np.float32)
    np.testing.assert_allclose(conv(ember.tensor(x)).detach().numpy(),
                               ref(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-5)
