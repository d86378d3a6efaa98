"""ember.vision.models.segmentation against real torchvision: the same state_dict (loaded
strictly, so the keys match) and input give the same "out" / "aux" logits in eval mode (float64,
BatchNorm with non-trivial running statistics) and in train mode with dropout off (outputs,
updated running statistics, gradients w.r.t. the input and every parameter)."""
import numpy as np
import pytest

import ember
from ember.vision.models import segmentation
from tests.conformance.torchvision_model_pairs import (
    assert_buffers_close,
    assert_gradients_close,
    assert_outputs_close,
    ember_twin,
    randomize_batchnorm_statistics,
    without_dropout,
)

torch = pytest.importorskip("torch")

# (builder, its keyword arguments, input side): small inputs (the ResNets' output stride is 8)
CASES = [
    ("deeplabv3_mobilenet_v3_large", {"aux_loss": True}, 40),
    ("lraspp_mobilenet_v3_large", {}, 40),
    ("fcn_resnet50", {"aux_loss": True}, 16),
    ("deeplabv3_resnet50", {}, 16),
]


def _pair(name, kwargs, num_classes=5):
    from tests.conformance.real_torchvision import real_torchvision
    tv = real_torchvision()
    torch.manual_seed(0)
    t = getattr(tv.models.segmentation, name)(weights=None, weights_backbone=None,
                                               num_classes=num_classes, **kwargs)
    randomize_batchnorm_statistics(t)
    e = getattr(segmentation, name)(weights=None, weights_backbone=None,
                                    num_classes=num_classes, **kwargs)
    return t, ember_twin(t, e)


@pytest.mark.parametrize("name,kwargs,side", CASES, ids=[c[0] for c in CASES])
def test_eval_outputs_match(name, kwargs, side):
    t, e = _pair(name, kwargs)
    t.eval()
    e.eval()
    x = np.random.default_rng(0).normal(size=(2, 3, side, side + 3))
    with torch.no_grad():
        expected = t(torch.tensor(x))
    got = e(ember.tensor(x))
    assert list(got) == (["out", "aux"] if kwargs.get("aux_loss") else ["out"])
    assert tuple(got["out"].shape) == (2, 5, side, side + 3)
    assert_outputs_close(expected, got, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name,kwargs,side", CASES[:3], ids=[c[0] for c in CASES[:3]])
def test_train_outputs_statistics_and_gradients_match(name, kwargs, side):
    t, e = _pair(name, kwargs)
    without_dropout(t, e)
    t.train()
    e.train()
    x = np.random.default_rng(1).normal(size=(2, 3, side, side))
    with torch.no_grad():
        expected = t(torch.tensor(x))
    assert_outputs_close(expected, e(ember.tensor(x)), rtol=1e-8, atol=1e-8)
    assert_buffers_close(t, e, rtol=1e-9, atol=1e-9)
    assert_gradients_close(t, e, x, rtol=1e-7, atol=1e-8)
