"""ember.vision.ops' box and RoI operators against real torchvision's (their kernels as
tests/conformance/real_torchvision.py stands them in): values and gradients in float64, with
boxes reaching past the feature map and degenerate ones."""
import numpy as np
import pytest

import ember
from ember.vision import ops
from tests.conformance.real_torchvision import real_torchvision


@pytest.fixture(scope="module")
def tv():
    return real_torchvision()


def _rois(torch, count, generator):
    boxes = torch.rand(count, 4, dtype=torch.float64, generator=generator) * 60 - 10
    boxes[:, 2:] += boxes[:, :2] + torch.rand(count, 2, dtype=torch.float64, generator=generator)
    batch = torch.randint(0, 2, (count, 1), generator=generator).double()
    return torch.cat([batch, boxes], 1)


@pytest.mark.parametrize("aligned", [False, True])
@pytest.mark.parametrize("sampling_ratio", [-1, 2, 3])
def test_roi_align_values_and_gradients(tv, aligned, sampling_ratio):
    import torch
    generator = torch.Generator().manual_seed(sampling_ratio + 10 * aligned)
    x = torch.randn(2, 3, 20, 24, dtype=torch.float64, generator=generator, requires_grad=True)
    rois = _rois(torch, 25, generator)
    expected = tv.ops.roi_align(x, rois, (5, 4), 0.5, sampling_ratio, aligned)
    grad = torch.randn(expected.shape, dtype=torch.float64, generator=generator)
    expected.backward(grad)
    x_ember = ember.tensor(x.detach().numpy(), requires_grad=True)
    got = ops.roi_align(x_ember, ember.tensor(rois.numpy()), (5, 4), 0.5, sampling_ratio, aligned)
    got.backward(ember.tensor(grad.numpy()))
    np.testing.assert_allclose(got.detach().numpy(), expected.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(x_ember.grad.numpy(), x.grad.numpy(), atol=1e-12)


def test_roi_pool_values(tv):
    import torch
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(2, 3, 20, 24, dtype=torch.float64, generator=generator)
    rois = _rois(torch, 25, generator)
    expected = tv.ops.roi_pool(x, rois, (3, 4), 0.5)
    got = ops.roi_pool(ember.tensor(x.numpy()), ember.tensor(rois.numpy()), (3, 4), 0.5)
    np.testing.assert_array_equal(got.numpy(), expected.numpy())


@pytest.mark.parametrize("iou_threshold", [0.1, 0.5, 0.8])
def test_nms_and_batched_nms_keep_the_same_boxes(tv, iou_threshold):
    import torch
    generator = torch.Generator().manual_seed(2)
    boxes = _rois(torch, 200, generator)[:, 1:].float()
    scores = torch.rand(200, generator=generator)
    scores[::7] = scores[0]  # ties keep the original order
    labels = torch.randint(0, 4, (200,), generator=generator)
    e_boxes, e_scores = ember.tensor(boxes.numpy()), ember.tensor(scores.numpy())
    assert (ops.nms(e_boxes, e_scores, iou_threshold).tolist()
            == tv.ops.nms(boxes, scores, iou_threshold).tolist())
    assert (ops.batched_nms(e_boxes, e_scores, ember.tensor(labels.numpy()), iou_threshold).tolist()
            == tv.ops.batched_nms(boxes, scores, labels, iou_threshold).tolist())
