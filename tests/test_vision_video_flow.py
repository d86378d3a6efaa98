"""ember.vision.models.video and .optical_flow against NumPy: the factorised (2+1)-D
convolution, the RAFT correlation pyramid and its lookup, the coordinate grid, flow
upsampling, the presets, and the builders' sizes and registry entries."""
import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

import ember
from ember.vision import models
from ember.vision.models import optical_flow, video
from ember.vision.models.optical_flow._utils import grid_sample, make_coords_grid, upsample_flow
from ember.vision.models.optical_flow.raft import CorrBlock
from ember.vision.models.video.resnet import Conv2Plus1D, Conv3DNoTemporal, Conv3DSimple
from ember.vision.transforms._presets import OpticalFlow, VideoClassification


def conv3d_np(x, w, stride, padding):
    """Cross-correlation of (N, C, T, H, W) with (O, C, kt, kh, kw), zero padding."""
    x = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in padding])
    windows = sliding_window_view(x, w.shape[2:], axis=(2, 3, 4))
    windows = windows[:, :, ::stride[0], ::stride[1], ::stride[2]]
    return np.einsum("ncdhwabe,ocabe->nodhw", windows, w)


def bilinear_np(img, x, y):
    """img (H, W) sampled at pixel (x, y), zero outside (grid_sample, align_corners=True)."""
    h, w = img.shape
    x0, y0 = int(np.floor(x)), int(np.floor(y))
    total = 0.0
    for xi, wx in ((x0, 1 - (x - x0)), (x0 + 1, x - x0)):
        for yi, wy in ((y0, 1 - (y - y0)), (y0 + 1, y - y0)):
            if 0 <= xi < w and 0 <= yi < h:
                total += wx * wy * img[yi, xi]
    return total


def test_conv2plus1d_is_spatial_then_temporal_convolution():
    rng = np.random.default_rng(0)
    conv = Conv2Plus1D(4, 8, 6, stride=2).double().eval()
    assert conv[0].weight.shape == (6, 4, 1, 3, 3) and conv[3].weight.shape == (8, 6, 3, 1, 1)
    assert conv.get_downsample_stride(2) == (2, 2, 2)
    x = rng.normal(size=(1, 4, 4, 8, 8))
    out = conv(ember.tensor(x)).detach().numpy()
    bn = conv[1]
    mid = conv3d_np(x, conv[0].weight.detach().numpy(), (1, 2, 2), (0, 1, 1))
    mid = np.maximum(mid / np.sqrt(1 + bn.eps), 0)  # fresh BatchNorm in eval: x / sqrt(1 + eps)
    expected = conv3d_np(mid, conv[3].weight.detach().numpy(), (2, 1, 1), (1, 0, 0))
    assert out.shape == (1, 8, 2, 4, 4)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


def test_video_convolution_strides():
    x = ember.zeros(1, 4, 4, 8, 8)
    assert Conv3DSimple(4, 8, stride=2)(x).shape == (1, 8, 2, 4, 4)
    assert Conv3DNoTemporal(4, 8, stride=2)(x).shape == (1, 8, 4, 4, 4)
    assert Conv3DNoTemporal.get_downsample_stride(2) == (1, 2, 2)


@pytest.mark.parametrize("builder", [video.mc3_18, video.r2plus1d_18])
def test_video_resnet_output_and_midplanes(builder):
    model = builder(num_classes=5).eval()
    assert model(ember.rand(1, 3, 4, 32, 32)).shape == (1, 5)
    if builder is video.r2plus1d_18:
        # midplanes = 64 * 64 * 27 // (64 * 9 + 3 * 64) = 144
        assert model.layer1[0].conv1[0][0].weight.shape == (144, 64, 1, 3, 3)
        assert model.stem[0].weight.shape == (45, 3, 1, 7, 7)


@pytest.mark.parametrize("builder,weights", [
    (video.mc3_18, video.MC3_18_Weights.DEFAULT),
    (video.mvit_v1_b, video.MViT_V1_B_Weights.DEFAULT),
    (video.mvit_v2_s, video.MViT_V2_S_Weights.DEFAULT),
    (video.swin3d_t, video.Swin3D_T_Weights.DEFAULT),
    (video.s3d, video.S3D_Weights.DEFAULT),
    (optical_flow.raft_large, optical_flow.Raft_Large_Weights.DEFAULT),
    (optical_flow.raft_small, optical_flow.Raft_Small_Weights.DEFAULT),
])
def test_parameter_counts_match_weights_meta(builder, weights):
    assert sum(p.numel() for p in builder().parameters()) == weights.meta["num_params"]


def test_registry_and_weights():
    assert models.list_models(video) == ["mc3_18", "mvit_v1_b", "mvit_v2_s", "r2plus1d_18",
                                         "r3d_18", "s3d", "swin3d_b", "swin3d_s", "swin3d_t"]
    assert models.list_models(optical_flow) == ["raft_large", "raft_small"]
    assert models.get_model_weights("r3d_18") is video.R3D_18_Weights
    assert models.get_weight("Raft_Small_Weights.DEFAULT") is optical_flow.Raft_Small_Weights.C_T_V2
    meta = video.R2Plus1D_18_Weights.KINETICS400_V1.meta
    assert len(meta["categories"]) == 400 and meta["categories"][0] == "abseiling"
    assert video.S3D_Weights.DEFAULT.meta["min_temporal_size"] == 14
    with pytest.raises(ValueError):
        video.r3d_18(weights="KINETICS400_V1", num_classes=10)


def test_mvit_relative_positions_and_token_grid():
    from ember.vision.models.video.mvit import _V2_S_BLOCKS, MViT, _relative_index
    # query 4 positions against 2 pooled keys: key positions scale by 2 and shift to >= 0
    np.testing.assert_array_equal(_relative_index(4, 2).numpy(),
                                  [[2, 0], [3, 1], [4, 2], [5, 3]])
    # equal sizes: query i against key j reads entry i - j + (size - 1)
    np.testing.assert_array_equal(_relative_index(3, 3).numpy(),
                                  np.add.outer(np.arange(3), 2 - np.arange(3)))
    model = MViT(spatial_size=(16, 16), temporal_size=2, block_setting=_V2_S_BLOCKS[:4],
                 residual_pool=True, residual_with_cls_embed=False, rel_pos_embed=True,
                 proj_after_attn=True, num_classes=3).eval()
    assert model(ember.rand(1, 3, 2, 16, 16)).shape == (1, 3)
    # a 4x4 token grid: 2 * 4 - 1 relative offsets per spatial axis, 2 * 1 - 1 in time
    assert model.blocks[0].attn.rel_pos_h.shape == (7, 96)
    assert model.blocks[0].attn.rel_pos_t.shape == (1, 96)


def test_swin3d_shifted_window_mask():
    from ember.vision.models.video.swin_transformer import _shifted_window_mask_3d
    # a 2x4x4 map, 2x2x2 windows shifted by (1, 1, 1): label each token by the region of the
    # rolled map it came from (per axis: before size - window, up to size - shift, after)
    mask = _shifted_window_mask_3d((2, 4, 4), [2, 2, 2], [1, 1, 1], ember.zeros(1)).numpy()

    def region(i, size):
        return 0 if i < size - 2 else (1 if i < size - 1 else 2)

    labels = np.array([[[region(d, 2) * 9 + region(h, 4) * 3 + region(w, 4) for w in range(4)]
                        for h in range(4)] for d in range(2)])
    windows = labels.reshape(1, 2, 2, 2, 2, 2).transpose(0, 2, 4, 1, 3, 5).reshape(4, 8)
    expected = np.where(windows[:, None, :] != windows[:, :, None], -100.0, 0.0)
    np.testing.assert_array_equal(mask, expected)
    assert video.SwinTransformer3d([2, 4, 4], 8, [2, 2], [1, 2], [2, 3, 3], num_classes=3)(
        ember.rand(1, 3, 4, 24, 24)).shape == (1, 3)


def test_make_coords_grid():
    grid = make_coords_grid(2, 3, 4)
    ys, xs = np.meshgrid(np.arange(3), np.arange(4), indexing="ij")
    assert grid.shape == (2, 2, 3, 4) and grid.dtype == ember.float32
    np.testing.assert_array_equal(grid.numpy(), np.broadcast_to(np.stack([xs, ys]), (2, 2, 3, 4)))


def test_grid_sample_in_pixels_matches_bilinear():
    rng = np.random.default_rng(1)
    img = rng.normal(size=(1, 1, 5, 7))
    points = np.array([[0.0, 0.0], [6.0, 4.0], [2.25, 1.5], [-0.5, 3.0], [6.5, 4.25], [3, 2]])
    out = grid_sample(ember.tensor(img), ember.tensor(points.reshape(1, 1, -1, 2)),
                      align_corners=True).numpy()[0, 0, 0]
    expected = [bilinear_np(img[0, 0], x, y) for x, y in points]
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


def test_corr_pyramid_and_lookup_match_numpy():
    rng = np.random.default_rng(2)
    fmap1, fmap2 = rng.normal(size=(2, 1, 6, 4, 4))
    block = CorrBlock(num_levels=2, radius=1)
    block.build_pyramid(ember.tensor(fmap1), ember.tensor(fmap2))
    corr = np.einsum("bchw,bcij->bhwij", fmap1, fmap2) / np.sqrt(np.float32(6))
    np.testing.assert_allclose(block.corr_pyramid[0].numpy().reshape(1, 4, 4, 4, 4), corr,
                               rtol=1e-6)
    pooled = corr.reshape(1, 4, 4, 2, 2, 2, 2).mean(axis=(4, 6))
    np.testing.assert_allclose(block.corr_pyramid[1].numpy().reshape(1, 4, 4, 2, 2), pooled,
                               rtol=1e-6)

    coords = make_coords_grid(1, 4, 4).double() + ember.tensor(rng.uniform(-1, 1, (1, 2, 4, 4)))
    features = block.index_pyramid(coords).numpy()
    assert features.shape == (1, block.out_channels, 4, 4) == (1, 18, 4, 4)
    c = coords.numpy()
    for y in range(4):
        for x in range(4):
            expected = []
            for level, volume in enumerate((corr[0, y, x], pooled[0, y, x])):
                cx, cy = c[0, 0, y, x] / 2 ** level, c[0, 1, y, x] / 2 ** level
                # offset i moves x and j moves y, in that (row-major) order
                expected += [bilinear_np(volume, cx + i, cy + j) for i in (-1, 0, 1)
                             for j in (-1, 0, 1)]
            np.testing.assert_allclose(features[0, :, y, x], expected, rtol=1e-6, atol=1e-9)


def test_corr_pyramid_rejects_small_maps():
    with pytest.raises(ValueError, match="too small"):
        CorrBlock(num_levels=3).build_pyramid(ember.zeros(1, 2, 4, 4), ember.zeros(1, 2, 4, 4))


def test_upsample_flow_convex_combination():
    rng = np.random.default_rng(3)
    factor, h, w = 2, 3, 4
    flow = rng.normal(size=(1, 2, h, w))
    mask = rng.normal(size=(1, 9 * factor * factor, h, w))
    out = upsample_flow(ember.tensor(flow), ember.tensor(mask), factor=factor).numpy()
    weights = mask.reshape(9, factor, factor, h, w)
    weights = np.exp(weights) / np.exp(weights).sum(axis=0)
    padded = np.pad(factor * flow[0], [(0, 0), (1, 1), (1, 1)])
    expected = np.zeros((2, h * factor, w * factor))
    for i in range(h):
        for j in range(w):
            neighbours = padded[:, i:i + 3, j:j + 3].reshape(2, 9)
            for a in range(factor):
                for b in range(factor):
                    fine = neighbours @ weights[:, a, b, i, j]
                    expected[:, i * factor + a, j * factor + b] = fine
    np.testing.assert_allclose(out[0], expected, rtol=1e-12, atol=1e-12)


def test_upsample_flow_bilinear_without_mask():
    flow = np.arange(8.0).reshape(1, 2, 2, 2)
    out = upsample_flow(ember.tensor(flow), factor=2).numpy()
    # align_corners=True: the corners keep their values, the inside interpolates linearly
    line = np.linspace(0, 1, 4)
    expected = flow[0, :, :1, :1] + line[:, None] * 2 + line[None, :] * 1  # rows +2, cols +1
    np.testing.assert_allclose(out[0], 2 * expected, rtol=1e-12)


def test_raft_small_returns_one_flow_per_update():
    ember.manual_seed(0)
    model = optical_flow.raft_small(corr_block=CorrBlock(num_levels=2, radius=3)).eval()
    image1, image2 = ember.rand(1, 3, 64, 64) * 2 - 1, ember.rand(1, 3, 64, 64) * 2 - 1
    with ember.no_grad():
        flows = model(image1, image2, num_flow_updates=2)
    assert len(flows) == 2 and all(f.shape == (1, 2, 64, 64) for f in flows)
    assert all(np.isfinite(f.numpy()).all() for f in flows)
    with pytest.raises(ValueError, match="divisible by 8"):
        model(ember.rand(1, 3, 60, 64), ember.rand(1, 3, 60, 64))


def test_video_classification_preset():
    rng = np.random.default_rng(4)
    vid = rng.integers(0, 256, size=(2, 3, 3, 10, 12), dtype=np.uint8)
    preset = VideoClassification(crop_size=(8, 8), resize_size=(10, 12))  # no resize needed
    out = preset(ember.tensor(vid)).numpy()
    mean, std = np.array(preset.mean), np.array(preset.std)
    crop = vid[..., 1:9, 2:10] / 255.0
    expected = ((crop - mean[:, None, None]) / std[:, None, None]).transpose(0, 2, 1, 3, 4)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    assert preset(ember.tensor(vid[0])).shape == (3, 3, 8, 8)


def test_resize_without_antialias_interpolates_like_torch():
    from ember.vision.transforms import functional as TF
    rng = np.random.default_rng(6)
    frames = rng.integers(0, 256, size=(2, 3, 9, 14), dtype=np.uint8)
    out = TF.resize(ember.tensor(frames), [5, 6], antialias=False)
    # downscaling by 9/5 and 14/6 without a low-pass filter: plain bilinear taps
    expected = ember.nn.functional.interpolate(ember.tensor(frames.reshape(1, 6, 9, 14) * 1.0),
                                               size=(5, 6), mode="bilinear",
                                               align_corners=False)
    assert out.dtype == ember.uint8
    np.testing.assert_array_equal(out.numpy(), np.round(expected.numpy()).reshape(2, 3, 5, 6))
    # the antialiased (PIL) path averages more source pixels: it differs
    assert not np.array_equal(TF.resize(ember.tensor(frames), [5, 6]).numpy(), out.numpy())


def test_optical_flow_preset():
    img = np.array([[[0, 51, 255]]], dtype=np.uint8).repeat(3, axis=0)
    a, b = OpticalFlow()(ember.tensor(img), ember.tensor(img))
    np.testing.assert_allclose(a.numpy(), img / 127.5 - 1, rtol=1e-6, atol=1e-6)
    assert a.dtype == ember.float32 and b.shape == (3, 1, 3)
