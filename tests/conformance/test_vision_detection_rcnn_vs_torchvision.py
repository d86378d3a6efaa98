"""Faster / Mask / Keypoint R-CNN against real torchvision: the builders' state_dict keys are
torchvision's (so its checkpoints load strictly); with the same state_dict and inputs (float64)
the eval detections (boxes, scores, labels, masks, keypoints) and the training losses, under
the same seed, agree, and so do the losses' gradients."""
import numpy as np
import pytest

import ember
from ember.vision.models import resnet
from ember.vision.models.detection import backbone_utils, faster_rcnn, keypoint_rcnn, mask_rcnn
from tests.conformance.torchvision_model_pairs import ember_twin, randomize_batchnorm_statistics

torch = pytest.importorskip("torch")

BUILDERS = [
    (faster_rcnn, "fasterrcnn_resnet50_fpn"), (faster_rcnn, "fasterrcnn_resnet50_fpn_v2"),
    (faster_rcnn, "fasterrcnn_mobilenet_v3_large_fpn"),
    (faster_rcnn, "fasterrcnn_mobilenet_v3_large_320_fpn"),
    (mask_rcnn, "maskrcnn_resnet50_fpn"), (mask_rcnn, "maskrcnn_resnet50_fpn_v2"),
    (keypoint_rcnn, "keypointrcnn_resnet50_fpn"),
]


def _tv():
    from tests.conformance.real_torchvision import real_torchvision
    return real_torchvision()


@pytest.mark.parametrize("module,name", BUILDERS, ids=[b[1] for b in BUILDERS])
def test_builder_state_dict_keys_and_shapes_are_torchvisions(module, name):
    tv = _tv()
    expected = getattr(tv.models.detection, name)(weights=None, weights_backbone=None,
                                                   num_classes=5).state_dict()
    got = getattr(module, name)(weights=None, weights_backbone=None, num_classes=5).state_dict()
    assert list(got) == list(expected)
    assert [tuple(v.shape) for v in got.values()] == [tuple(v.shape) for v in expected.values()]


def _tiny(det, models, kind: str):
    """A resnet18-FPN (16 channels) R-CNN with small mask / keypoint heads, on 64-96 px."""
    backbone = det.backbone_utils.BackboneWithFPN(
        models.resnet18(), {f"layer{i + 1}": str(i) for i in range(4)}, [64, 128, 256, 512], 16)
    kwargs = dict(min_size=64, max_size=96, box_detections_per_img=10,
                  rpn_post_nms_top_n_test=50, rpn_post_nms_top_n_train=100,
                  rpn_batch_size_per_image=64, box_batch_size_per_image=32)
    if kind == "FasterRCNN":
        return det.faster_rcnn.FasterRCNN(backbone, num_classes=3, **kwargs)
    kwargs["box_predictor"] = det.faster_rcnn.FastRCNNPredictor(1024, 3)
    if kind == "MaskRCNN":
        return det.mask_rcnn.MaskRCNN(
            backbone, mask_head=det.mask_rcnn.MaskRCNNHeads(16, (8, 8), 1),
            mask_predictor=det.mask_rcnn.MaskRCNNPredictor(8, 8, 3), **kwargs)
    return det.keypoint_rcnn.KeypointRCNN(
        backbone, keypoint_head=det.keypoint_rcnn.KeypointRCNNHeads(16, (8,)),
        keypoint_predictor=det.keypoint_rcnn.KeypointRCNNPredictor(8, 5), **kwargs)


class _EmberDetection:  # ember's modules under torchvision's attribute names
    backbone_utils = backbone_utils
    faster_rcnn = faster_rcnn
    mask_rcnn = mask_rcnn
    keypoint_rcnn = keypoint_rcnn


KINDS = ["FasterRCNN", "MaskRCNN", "KeypointRCNN"]


def _pair(kind):
    tv = _tv()
    torch.manual_seed(0)
    t = _tiny(tv.models.detection, tv.models, kind)
    randomize_batchnorm_statistics(t)
    return t, ember_twin(t, _tiny(_EmberDetection, resnet, kind))


def _image(seed=0):
    return np.random.default_rng(seed).uniform(size=(3, 60, 80))


def _targets():
    masks = np.zeros((2, 60, 80), np.uint8)
    masks[0, 12:50, 10:40] = 1
    masks[1, 5:30, 45:75] = 1
    keypoints = np.random.default_rng(1).uniform(10, 50, size=(2, 5, 3)).astype(np.float32)
    keypoints[..., 2] = 1
    return {"boxes": np.array([[10.0, 12.0, 40.0, 50.0], [45.0, 5.0, 75.0, 30.0]]),
            "labels": np.array([1, 2]), "masks": masks, "keypoints": keypoints}


@pytest.mark.parametrize("kind", KINDS)
def test_eval_detections_match(kind):
    t, e = _pair(kind)
    t.eval()
    e.eval()
    images = [_image(0), _image(1)[:, :50, :70]]
    with torch.no_grad():
        expected = t([torch.tensor(x) for x in images])
    with ember.no_grad():
        got = e([ember.tensor(x) for x in images])
    for exp, out in zip(expected, got):
        assert list(out) == list(exp)
        assert len(exp["boxes"]) > 0
        for key in exp:
            assert out[key].dtype == getattr(ember, str(exp[key].dtype).split(".")[1]), key
            np.testing.assert_allclose(out[key].numpy(), exp[key].numpy(), rtol=1e-9,
                                       atol=1e-9, err_msg=key)


@pytest.mark.parametrize("kind", KINDS)
def test_training_losses_and_gradients_match(kind):
    t, e = _pair(kind)
    t.train()
    e.train()
    x = _image()
    target = _targets()
    torch.manual_seed(5)  # the samplers' randperm draws agree for the same seed
    expected = t([torch.tensor(x)], [{k: torch.tensor(v) for k, v in target.items()}])
    ember.manual_seed(5)
    got = e([ember.tensor(x)], [{k: ember.tensor(v) for k, v in target.items()}])
    assert list(got) == list(expected)
    for key in expected:
        # the RPN's objectness loss is float32 in both (its labels are)
        np.testing.assert_allclose(got[key].item(), expected[key].item(), rtol=1e-6, atol=1e-9,
                                   err_msg=key)
    sum(expected.values()).backward()
    sum(got.values()).backward()
    params = dict(e.named_parameters())
    for name, p in t.named_parameters():
        np.testing.assert_allclose(params[name].grad.numpy(), p.grad.numpy(), rtol=1e-5,
                                   atol=1e-7, err_msg=name)
