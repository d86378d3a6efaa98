"""ember.vision.models.swin_transformer against real torchvision: with the same state_dict
(loaded strictly) and input, small Swin V1 and V2 models give the same logits in eval and in
train mode (dropout and stochastic depth at 0), and the same gradients w.r.t. the input and
every parameter; the shapes exercise padding to whole windows, the shifted-window mask and a
stage whose map fits in one window (no shift). The full builders have torchvision's keys."""
import numpy as np
import pytest

import ember
from ember.vision.models import swin_transformer
from tests.conformance.torchvision_model_pairs import (
    assert_gradients_close,
    assert_outputs_close,
    ember_twin,
)

torch = pytest.importorskip("torch")

# 14x14 images, 2x2 patches: stage maps 7x7 (padded to 9), 4x4 (padded to 6), 2x2 (< window)
SMALL = {"patch_size": [2, 2], "embed_dim": 8, "depths": [2, 2, 2], "num_heads": [2, 2, 4],
         "window_size": [3, 3], "num_classes": 5, "stochastic_depth_prob": 0.0}


def _tv():
    from tests.conformance.real_torchvision import real_torchvision
    return real_torchvision().models.swin_transformer


def _pair(version):
    tv = _tv()
    kwargs = dict(SMALL)
    if version == 2:
        kwargs.update(block=tv.SwinTransformerBlockV2, downsample_layer=tv.PatchMergingV2)
    torch.manual_seed(0)
    t = tv.SwinTransformer(**kwargs)
    if version == 2:
        kwargs.update(block=swin_transformer.SwinTransformerBlockV2,
                      downsample_layer=swin_transformer.PatchMergingV2)
    e = swin_transformer.SwinTransformer(**kwargs)
    return t, ember_twin(t, e)


@pytest.mark.parametrize("version", [1, 2])
def test_eval_and_train_outputs_and_gradients_match(version):
    t, e = _pair(version)
    x = np.random.default_rng(version).normal(size=(2, 3, 14, 14))
    for training in (False, True):
        t.train(training)
        e.train(training)
        with torch.no_grad():
            expected = t(torch.tensor(x))
        assert_outputs_close(expected, e(ember.tensor(x)), rtol=1e-9, atol=1e-10)
    assert_gradients_close(t, e, x, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("window,shift,size", [([3, 3], [1, 1], (7, 5)), ([4, 2], [2, 1], (8, 4)),
                                               ([3, 3], [0, 1], (6, 6))])
def test_shifted_window_attention_matches(window, shift, size):
    """The functional form alone, V1 and cosine (V2) attention, uneven windows and shifts."""
    tv = _tv()
    rng = np.random.default_rng(0)
    c, heads = 6, 2
    arrays = {"input": rng.normal(size=(2, *size, c)), "qkv_weight": rng.normal(size=(3 * c, c)),
              "proj_weight": rng.normal(size=(c, c)), "qkv_bias": rng.normal(size=3 * c),
              "proj_bias": rng.normal(size=c),
              "relative_position_bias": rng.normal(size=(1, heads, window[0] * window[1],
                                                         window[0] * window[1])),
              "logit_scale": rng.normal(size=(heads, 1, 1))}
    for cosine in (False, True):
        names = [n for n in arrays if cosine or n != "logit_scale"]
        t_in = {n: torch.tensor(arrays[n], requires_grad=True) for n in names}
        e_in = {n: ember.tensor(arrays[n], requires_grad=True) for n in names}
        t_out = tv.shifted_window_attention(window_size=window, num_heads=heads,
                                            shift_size=shift, training=False, **t_in)
        e_out = swin_transformer.shifted_window_attention(window_size=window, num_heads=heads,
                                                          shift_size=shift, training=False,
                                                          **e_in)
        np.testing.assert_allclose(e_out.detach().numpy(), t_out.detach().numpy(),
                                   rtol=1e-9, atol=1e-10)
        w = rng.normal(size=tuple(t_out.shape))
        (t_out * torch.tensor(w)).sum().backward()
        (e_out * ember.tensor(w)).sum().backward()
        for n in names:
            np.testing.assert_allclose(e_in[n].grad.numpy(), t_in[n].grad.numpy(), rtol=1e-8,
                                       atol=1e-9, err_msg=n)


@pytest.mark.parametrize("name", ["swin_t", "swin_v2_t"])
def test_builders_state_dict_keys_and_shapes_match(name):
    t = getattr(_tv(), name)().state_dict()
    e = getattr(swin_transformer, name)().state_dict()
    assert list(e) == list(t)
    for k, v in t.items():
        assert tuple(e[k].shape) == tuple(v.shape), k
        assert e[k].dtype.is_floating_point == v.dtype.is_floating_point, k
    np.testing.assert_array_equal(e["features.1.0.attn.relative_position_index"].numpy(),
                                  t["features.1.0.attn.relative_position_index"].numpy())
    if name == "swin_v2_t":
        np.testing.assert_array_equal(e["features.1.0.attn.relative_coords_table"].numpy(),
                                      t["features.1.0.attn.relative_coords_table"].numpy())
