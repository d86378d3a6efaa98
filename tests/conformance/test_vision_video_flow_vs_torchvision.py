"""ember.vision.models.video and .optical_flow against real torchvision: the same state_dict
(keys loaded strictly) and the same inputs give the same outputs in eval and train mode, the
same gradients and the same updated BatchNorm statistics; the presets agree too."""
import dataclasses

import numpy as np
import pytest

import ember
from ember.vision.models import optical_flow, video
from ember.vision.models.optical_flow import _utils as flow_utils
from ember.vision.models.optical_flow.raft import CorrBlock
from ember.vision.models.video import mvit
from ember.vision.transforms import functional as TF
from ember.vision.transforms._presets import OpticalFlow, VideoClassification
from tests.conformance.real_torchvision import real_torchvision
from tests.conformance.torchvision_model_pairs import (
    assert_buffers_close,
    assert_gradients_close,
    assert_outputs_close,
    ember_twin,
    randomize_batchnorm_statistics,
    without_dropout,
)

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def tv():
    return real_torchvision()


def _pair(tv_builder, ember_builder, **kwargs):
    torch.manual_seed(0)
    torch_model = tv_builder(**kwargs)
    randomize_batchnorm_statistics(torch_model)
    return torch_model, ember_twin(torch_model, ember_builder(**kwargs))


def _eval_and_train(torch_model, ember_model, inputs, rtol, atol, modes=(False, True),
                    **forward_kwargs):
    for training in modes:
        torch_model.train(training)
        ember_model.train(training)
        torch_out = torch_model(*(torch.tensor(x) for x in inputs), **forward_kwargs)
        ember_out = ember_model(*(ember.tensor(x) for x in inputs), **forward_kwargs)
        if isinstance(torch_out, list):
            assert len(torch_out) == len(ember_out)
        else:
            torch_out, ember_out = [torch_out], [ember_out]
        for t, e in zip(torch_out, ember_out):
            assert_outputs_close(t, e, rtol=rtol, atol=atol)
    assert_buffers_close(torch_model, ember_model, rtol=rtol, atol=atol)


@pytest.mark.parametrize("name", ["r3d_18", "mc3_18", "r2plus1d_18"])
def test_video_resnet(tv, name):
    torch_model, ember_model = _pair(getattr(tv.models.video, name), getattr(video, name),
                                     num_classes=7)
    # layer4 keeps 2x2 positions: train-mode BatchNorm over fewer is ill-conditioned
    clip = np.random.default_rng(0).normal(size=(1, 3, 4, 32, 32))
    # r3d_18's blocks are mc3_18's first stage: its train mode adds nothing but time
    modes = (False,) if name == "r3d_18" else (False, True)
    _eval_and_train(torch_model, ember_model, [clip], rtol=1e-10, atol=1e-10, modes=modes)
    if name == "mc3_18":
        torch_model.eval()
        ember_model.eval()
        assert_gradients_close(torch_model, ember_model, clip, rtol=1e-9, atol=1e-10)


def test_s3d(tv):
    torch_model, ember_model = _pair(tv.models.video.s3d, video.s3d, num_classes=5)
    without_dropout(torch_model, ember_model)
    # S3D pools 2x7x7 positions (inputs of 16x224x224); a smaller window keeps the clip tiny
    torch_model.avgpool = torch.nn.AvgPool3d((1, 2, 2), stride=1)
    ember_model.avgpool = ember.nn.AvgPool3d((1, 2, 2), stride=1)
    clip = np.random.default_rng(1).normal(size=(1, 3, 8, 64, 64))
    _eval_and_train(torch_model, ember_model, [clip], rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("version", ["v1_b", "v2_s"])
def test_mvit(tv, version):
    # the builders' blocks at 32x32x4 (the builders fix 224x224x16, too big to run here)
    blocks = {"v1_b": mvit._V1_B_BLOCKS, "v2_s": mvit._V2_S_BLOCKS}[version]
    flags = {"v1_b": dict(residual_pool=False, rel_pos_embed=False, proj_after_attn=False),
             "v2_s": dict(residual_pool=True, rel_pos_embed=True, proj_after_attn=True)}[version]
    tv_mvit = tv.models.video.mvit

    def build(lib_mvit, settings):
        kwargs = dict(spatial_size=(32, 32), temporal_size=4, num_classes=5,
                      residual_with_cls_embed=False, **flags)
        return lib_mvit.MViT(block_setting=[lib_mvit.MSBlockConfig(**dataclasses.asdict(c))
                                            for c in settings], **kwargs)

    torch.manual_seed(0)
    torch_model = build(tv_mvit, blocks)
    ember_model = ember_twin(torch_model, build(mvit, blocks))
    without_dropout(torch_model, ember_model)
    clip = np.random.default_rng(6).normal(size=(2, 3, 4, 32, 32))
    _eval_and_train(torch_model, ember_model, [clip], rtol=1e-9, atol=1e-10, modes=(False,))
    # gradients through the first stages only: the wide ones are slow
    torch_model = build(tv_mvit, blocks[:4])
    ember_model = ember_twin(torch_model, build(mvit, blocks[:4]))
    assert_gradients_close(torch_model, ember_model, clip, rtol=1e-8, atol=1e-10)


def test_swin3d_builder_layout(tv):
    torch_state = tv.models.video.swin3d_t().state_dict()
    ember_state = video.swin3d_t().state_dict()
    assert [(k, tuple(v.shape)) for k, v in torch_state.items()] == \
        [(k, tuple(v.shape)) for k, v in ember_state.items()]
    key = "features.0.1.attn.relative_position_index"
    np.testing.assert_array_equal(ember_state[key].numpy(), torch_state[key].numpy())


@pytest.mark.parametrize("size", [(1, 3, 4, 24, 24), (2, 3, 6, 20, 28), (1, 3, 2, 8, 8)])
def test_swin3d(tv, size):
    # shifted windows with a mask; padding to whole windows and patches; windows shrunk to
    # maps smaller than them
    config = dict(patch_size=[2, 4, 4], embed_dim=8, depths=[2, 2, 2], num_heads=[1, 2, 2],
                  window_size=[2, 3, 3], num_classes=5)
    torch_model, ember_model = _pair(tv.models.video.swin_transformer.SwinTransformer3d,
                                     video.SwinTransformer3d, **config)
    without_dropout(torch_model, ember_model)
    clip = np.random.default_rng(7).normal(size=size)
    _eval_and_train(torch_model, ember_model, [clip], rtol=1e-9, atol=1e-10)
    assert_gradients_close(torch_model, ember_model, clip, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("name,levels,radius", [("raft_small", 2, 3), ("raft_large", 3, 4)])
def test_raft(tv, name, levels, radius):
    # 64x64 images give 8x8 feature maps: at most 3 pyramid levels (the defaults need 128x128)
    torch.manual_seed(0)
    torch_model = getattr(tv.models.optical_flow, name)(
        corr_block=tv.models.optical_flow.raft.CorrBlock(num_levels=levels, radius=radius))
    randomize_batchnorm_statistics(torch_model)
    ember_model = ember_twin(torch_model,
                             getattr(optical_flow, name)(corr_block=CorrBlock(num_levels=levels,
                                                                              radius=radius)))
    # torchvision's RAFT runs in float32 only (its coordinate grids are float32)
    torch_model.float()
    ember_model.float()
    rng = np.random.default_rng(2)
    images = [rng.uniform(-1, 1, (1, 3, 64, 64)).astype(np.float32) for _ in range(2)]
    _eval_and_train(torch_model, ember_model, images, rtol=1e-4, atol=1e-4, num_flow_updates=2)


def test_corr_block_and_gradients_float64(tv):
    rng = np.random.default_rng(3)
    fmaps = [rng.normal(size=(2, 8, 8, 8)) for _ in range(2)]
    coords = rng.uniform(-2, 9, size=(2, 2, 8, 8))
    weights = rng.normal(size=(2, 3 * 25, 8, 8))
    grads = []
    for lib, block in ((torch, tv.models.optical_flow.raft.CorrBlock(num_levels=3, radius=2)),
                       (ember, CorrBlock(num_levels=3, radius=2))):
        inputs = [lib.tensor(f, requires_grad=True) for f in fmaps]
        block.build_pyramid(*inputs)
        features = block.index_pyramid(lib.tensor(coords))
        (features * lib.tensor(weights)).sum().backward()
        grads.append([features.detach().numpy()] + [x.grad.numpy() for x in inputs])
    for t, e in zip(*grads):
        np.testing.assert_allclose(e, t, rtol=1e-10, atol=1e-12)


def test_upsample_flow_and_update_block_float64(tv):
    rng = np.random.default_rng(4)
    flow = rng.normal(size=(1, 2, 3, 5))
    mask = rng.normal(size=(1, 576, 3, 5))
    for up_mask in (mask, None):
        t = tv.models.optical_flow._utils.upsample_flow(
            torch.tensor(flow), None if up_mask is None else torch.tensor(up_mask))
        e = flow_utils.upsample_flow(ember.tensor(flow),
                                     None if up_mask is None else ember.tensor(up_mask))
        np.testing.assert_allclose(e.numpy(), t.numpy(), rtol=1e-12, atol=1e-12)
    coords = tv.models.optical_flow._utils.make_coords_grid(2, 3, 4)
    np.testing.assert_array_equal(flow_utils.make_coords_grid(2, 3, 4).numpy(), coords.numpy())

    torch.manual_seed(0)
    torch_model = tv.models.optical_flow.raft_small()
    ember_model = ember_twin(torch_model, optical_flow.raft_small())
    t_block, e_block = torch_model.update_block, ember_model.update_block
    hidden, context = rng.normal(size=(1, 96, 4, 4)), rng.normal(size=(1, 64, 4, 4))
    corr, flow = rng.normal(size=(1, 196, 4, 4)), rng.normal(size=(1, 2, 4, 4))
    t_inputs = [torch.tensor(x, requires_grad=True) for x in (hidden, context, corr, flow)]
    e_inputs = [ember.tensor(x, requires_grad=True) for x in (hidden, context, corr, flow)]
    t_out, e_out = t_block(*t_inputs), e_block(*e_inputs)
    w = [rng.normal(size=tuple(o.shape)) for o in t_out]
    sum((o * torch.tensor(x)).sum() for o, x in zip(t_out, w)).backward()
    sum((o * ember.tensor(x)).sum() for o, x in zip(e_out, w)).backward()
    for t, e in zip(t_out, e_out):
        np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), rtol=1e-10,
                                   atol=1e-12)
    for t, e in zip(t_inputs, e_inputs):
        np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_presets(tv):
    presets = tv.transforms._presets
    rng = np.random.default_rng(5)
    vid = rng.integers(0, 256, size=(2, 3, 3, 20, 26), dtype=np.uint8)
    kwargs = {"crop_size": (8, 8), "resize_size": (11, 13)}
    # float frames compare tightly; uint8 ones may round a resized x.5 the other way (1 / 255)
    for frames, atol in ((vid / np.float32(255), 1e-5), (vid, 1 / 255 / 0.2 + 1e-5)):
        t = presets.VideoClassification(**kwargs)(torch.tensor(frames))
        e = VideoClassification(**kwargs)(ember.tensor(frames))
        assert e.shape == t.shape == (2, 3, 3, 8, 8)
        np.testing.assert_allclose(e.numpy(), t.numpy(), rtol=1e-5, atol=atol)
    # the resize behind it: tensors without antialiasing interpolate (PIL always filters)
    frames = rng.uniform(0, 1, size=(2, 3, 20, 26))
    for mode in ("bilinear", "bicubic"):
        t = tv.transforms.functional.resize(torch.tensor(frames), [11, 30],
                                            tv.transforms.InterpolationMode(mode), antialias=False)
        e = TF.resize(ember.tensor(frames), [11, 30], TF.InterpolationMode(mode), antialias=False)
        np.testing.assert_allclose(e.numpy(), t.numpy(), rtol=1e-12, atol=1e-12)
    img = rng.integers(0, 256, size=(3, 8, 8), dtype=np.uint8)
    for t, e in zip(presets.OpticalFlow()(torch.tensor(img), torch.tensor(img)),
                    OpticalFlow()(ember.tensor(img), ember.tensor(img))):
        np.testing.assert_allclose(e.numpy(), t.numpy(), rtol=1e-6, atol=1e-6)
