"""ember.vision.models.maxvit against real torchvision: with the same state_dict (loaded
strictly) and input, a small MaxViT gives the same logits in eval mode (non-trivial BatchNorm
statistics) and in train mode (stochastic depth and dropout at 0), the same updated BatchNorm
statistics and the same gradients w.r.t. the input and every parameter."""
import numpy as np
import pytest

import ember
from ember.vision.models import maxvit
from tests.conformance.torchvision_model_pairs import (
    assert_buffers_close,
    assert_gradients_close,
    assert_outputs_close,
    ember_twin,
    randomize_batchnorm_statistics,
)

torch = pytest.importorskip("torch")

# 32x32 input: the stem gives 16x16, the blocks 8x8 and 4x4 (2x2 windows and grids)
SMALL = {"input_size": (32, 32), "stem_channels": 8, "partition_size": 2,
         "block_channels": [8, 16], "block_layers": [2, 1], "head_dim": 4,
         "stochastic_depth_prob": 0.0, "num_classes": 5}


def test_eval_train_and_gradients_match():
    from tests.conformance.real_torchvision import real_torchvision
    tv = real_torchvision()
    torch.manual_seed(0)
    t = tv.models.maxvit.MaxVit(**SMALL)
    randomize_batchnorm_statistics(t)
    e = ember_twin(t, maxvit.MaxVit(**SMALL))
    x = np.random.default_rng(0).normal(size=(2, 3, 32, 32))
    t.eval()
    e.eval()
    with torch.no_grad():
        expected = t(torch.tensor(x))
    assert_outputs_close(expected, e(ember.tensor(x)), rtol=1e-9, atol=1e-10)
    t.train()
    e.train()
    with torch.no_grad():
        expected = t(torch.tensor(x))
    assert_outputs_close(expected, e(ember.tensor(x)), rtol=1e-8, atol=1e-10)
    assert_buffers_close(t, e, rtol=1e-9, atol=1e-9)
    assert_gradients_close(t, e, x, rtol=1e-7, atol=1e-9)


def test_maxvit_t_state_dict_matches():
    from tests.conformance.real_torchvision import real_torchvision
    t = real_torchvision().models.maxvit_t().state_dict()
    e = maxvit.maxvit_t().state_dict()
    assert list(e) == list(t)
    for k, v in t.items():
        assert tuple(e[k].shape) == tuple(v.shape), k
    key = "blocks.0.layers.0.layers.grid_attention.attn_layer.1.relative_position_index"
    np.testing.assert_array_equal(e[key].numpy(), t[key].numpy())
