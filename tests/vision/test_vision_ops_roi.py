"""RoI pooling against NumPy loops written from the kernels' definitions, plus float64
gradcheck w.r.t. the input."""
import math
from collections import OrderedDict

import numpy as np
import pytest

import ember
from ember.vision import ops


def _bilinear(img, y, x):
    h, w = img.shape[-2:]
    if not (-1.0 <= y <= h and -1.0 <= x <= w):
        return np.zeros(img.shape[:-2])
    y, x = max(y, 0.0), max(x, 0.0)
    yl, xl = int(y), int(x)
    if yl >= h - 1:
        yh = yl = h - 1
        y = float(yl)
    else:
        yh = yl + 1
    if xl >= w - 1:
        xh = xl = w - 1
        x = float(xl)
    else:
        xh = xl + 1
    ly, lx = y - yl, x - xl
    hy, hx = 1 - ly, 1 - lx
    return (hy * hx * img[..., yl, xl] + hy * lx * img[..., yl, xh]
            + ly * hx * img[..., yh, xl] + ly * lx * img[..., yh, xh])


def _ref_align(x, rois, ph, pw, scale, ratio, aligned, ps=False):
    k = len(rois)
    c = x.shape[1] // (ph * pw) if ps else x.shape[1]
    out = np.zeros((k, c, ph, pw))
    off = 0.5 if aligned or ps else 0.0
    for n, (b, x1, y1, x2, y2) in enumerate(rois):
        sw, sh = x1 * scale - off, y1 * scale - off
        rw, rh = x2 * scale - off - sw, y2 * scale - off - sh
        if not aligned and not ps:
            rw, rh = max(rw, 1.0), max(rh, 1.0)
        bh, bw = rh / ph, rw / pw
        gh = ratio if ratio > 0 else math.ceil(rh / ph)
        gw = ratio if ratio > 0 else math.ceil(rw / pw)
        count = max(gh * gw, 1)
        for i in range(ph):
            for j in range(pw):
                img = x[int(b)]
                if ps:
                    img = img[[(co * ph + i) * pw + j for co in range(c)]]
                acc = np.zeros(c)
                for iy in range(gh):
                    yy = sh + i * bh + (iy + 0.5) * bh / gh
                    for ix in range(gw):
                        acc += _bilinear(img, yy, sw + j * bw + (ix + 0.5) * bw / gw)
                out[n, :, i, j] = acc / count
    return out


def _round(v):
    return math.floor(abs(v) + 0.5) * (1 if v >= 0 else -1)


def _ref_pool(x, rois, ph, pw, scale, ps=False):
    k, (h, w) = len(rois), x.shape[-2:]
    c = x.shape[1] // (ph * pw) if ps else x.shape[1]
    out = np.zeros((k, c, ph, pw))
    for n, (b, *box) in enumerate(rois):
        x1, y1, x2, y2 = (_round(v * scale) for v in box)
        extra = 0 if ps else 1
        rw, rh = max(x2 - x1 + extra, 1), max(y2 - y1 + extra, 1)
        for i in range(ph):
            for j in range(pw):
                hs = min(max(math.floor(i * rh / ph) + y1, 0), h)
                he = min(max(math.ceil((i + 1) * rh / ph) + y1, 0), h)
                ws = min(max(math.floor(j * rw / pw) + x1, 0), w)
                we = min(max(math.ceil((j + 1) * rw / pw) + x1, 0), w)
                if he <= hs or we <= ws:
                    continue
                img = x[int(b)]
                if ps:
                    img = img[[(co * ph + i) * pw + j for co in range(c)]]
                win = img[:, hs:he, ws:we]
                out[n, :, i, j] = win.mean((1, 2)) if ps else win.max((1, 2))
    return out


ROIS = np.array([[0, 1.0, 1.5, 6.3, 8.2], [1, 0.2, 3.0, 9.0, 9.9], [1, -2.0, -1.0, 3.0, 20.0],
                 [0, 4.0, 4.0, 4.2, 4.1], [1, 2.5, 0.5, 7.5, 5.5], [0, 11.0, 9.0, 30.0, 12.0]])


@pytest.fixture
def feature():
    return np.random.default_rng(0).standard_normal((2, 12, 10, 12))


@pytest.mark.parametrize("aligned", [False, True])
@pytest.mark.parametrize("ratio,scale,size", [(-1, 1.0, (3, 2)), (2, 0.5, (2, 2)),
                                              (0, 0.7, (1, 3))])
def test_roi_align_matches_reference(feature, aligned, ratio, scale, size):
    got = ops.roi_align(ember.tensor(feature), ember.tensor(ROIS), size, scale, ratio, aligned)
    want = _ref_align(feature, ROIS, *size, scale, ratio, aligned)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("ratio,scale,size", [(-1, 1.0, (3, 2)), (2, 0.5, (2, 2))])
def test_ps_roi_align_matches_reference(feature, ratio, scale, size):
    x = feature[:, : (12 // (size[0] * size[1])) * size[0] * size[1]]
    got = ops.ps_roi_align(ember.tensor(x), ember.tensor(ROIS), size, scale, ratio)
    want = _ref_align(x, ROIS, *size, scale, ratio, True, ps=True)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("scale,size", [(1.0, (3, 2)), (0.5, (2, 2)), (0.7, 4)])
def test_roi_pool_matches_reference(feature, scale, size):
    got = ops.roi_pool(ember.tensor(feature), ember.tensor(ROIS), size, scale)
    size = (size, size) if isinstance(size, int) else size
    np.testing.assert_allclose(got.numpy(), _ref_pool(feature, ROIS, *size, scale), rtol=1e-12)


@pytest.mark.parametrize("scale,size", [(1.0, (3, 2)), (0.5, (2, 2))])
def test_ps_roi_pool_matches_reference(feature, scale, size):
    got = ops.ps_roi_pool(ember.tensor(feature), ember.tensor(ROIS), size, scale)
    want = _ref_pool(feature, ROIS, *size, scale, ps=True)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)


@pytest.mark.parametrize("fn", [
    lambda x, b: ops.roi_align(x, b, (3, 2), 0.5, -1, False),
    lambda x, b: ops.roi_align(x, b, 2, 1.0, 2, True),
    lambda x, b: ops.roi_pool(x, b, (2, 3), 1.0),
    lambda x, b: ops.ps_roi_align(x, b, (2, 2), 0.8, -1),
    lambda x, b: ops.ps_roi_pool(x, b, (2, 3), 1.0),
])
def test_gradcheck_wrt_input(fn):
    x = ember.randn(2, 12, 6, 7, dtype=ember.float64, requires_grad=True)
    rois = ember.tensor(ROIS[:4] * 0.6)
    assert ember.autograd.gradcheck(lambda t: fn(t, rois), (x,))


def test_roi_align_gradgradcheck():
    x = ember.randn(1, 2, 5, 6, dtype=ember.float64, requires_grad=True)
    rois = ember.tensor(ROIS[:1] * 0.5)
    assert ember.autograd.gradgradcheck(lambda t: ops.roi_align(t, rois, 2, 1.0, 2, True) ** 2,
                                        (x,))


def test_list_of_boxes_equals_roi_tensor(feature):
    x = ember.tensor(feature)
    boxes = [ember.tensor(ROIS[ROIS[:, 0] == i, 1:]) for i in range(2)]
    rois = ops._utils.convert_boxes_to_roi_format(boxes)
    np.testing.assert_array_equal(rois[:, 0].numpy(), [0, 0, 0, 1, 1, 1])
    for fn in (ops.roi_align, ops.roi_pool):
        np.testing.assert_allclose(fn(x, boxes, 2).numpy(), fn(x, rois, 2).numpy())


def test_empty_rois_and_float32(feature):
    x = ember.tensor(feature, dtype=ember.float32)
    assert ops.roi_align(x, ember.zeros(0, 5), 2).shape == (0, 12, 2, 2)
    assert ops.roi_pool(x, [ember.zeros(0, 4), ember.zeros(0, 4)], 2).shape == (0, 12, 2, 2)
    assert ops.ps_roi_pool(x, ember.zeros(0, 5), 2).shape == (0, 3, 2, 2)
    assert ops.roi_align(x, ember.tensor(ROIS), 2).dtype == ember.float32
    with pytest.raises(AssertionError):
        ops.roi_align(x, ember.zeros(3, 4), 2)
    with pytest.raises(RuntimeError):
        ops.ps_roi_align(x, ember.tensor(ROIS), 3)


def test_modules_and_reprs(feature):
    x, rois = ember.tensor(feature), ember.tensor(ROIS)
    m = ops.RoIAlign((2, 2), spatial_scale=0.5, sampling_ratio=2, aligned=True)
    assert repr(m) == ("RoIAlign(output_size=(2, 2), spatial_scale=0.5, sampling_ratio=2, "
                       "aligned=True)")
    np.testing.assert_allclose(m(x, rois).numpy(),
                               ops.roi_align(x, rois, 2, 0.5, 2, True).numpy())
    assert repr(ops.RoIPool(3, 1.0)) == "RoIPool(output_size=3, spatial_scale=1.0)"
    assert repr(ops.PSRoIPool(2, 1.0)) == "PSRoIPool(output_size=2, spatial_scale=1.0)"
    assert repr(ops.PSRoIAlign(2, 1.0, -1)) == ("PSRoIAlign(output_size=2, spatial_scale=1.0, "
                                                "sampling_ratio=-1)")
    assert ops.PSRoIPool(2, 1.0)(x, rois).shape == (6, 3, 2, 2)
    assert ops.PSRoIAlign(2, 1.0, -1)(x, rois).shape == (6, 3, 2, 2)
    assert ops.RoIPool(3, 1.0)(x, rois).shape == (6, 12, 3, 3)


def test_multiscale_roi_align_picks_levels():
    rng = np.random.default_rng(4)
    feats = OrderedDict(feat1=ember.tensor(rng.standard_normal((2, 3, 64, 64))),
                        skip=ember.zeros(2, 3, 8, 8),
                        feat3=ember.tensor(rng.standard_normal((2, 3, 16, 16))))
    boxes = [ember.tensor([[0.0, 0.0, 40.0, 50.0], [10.0, 20.0, 400.0, 480.0]]),
             ember.tensor([[5.0, 5.0, 300.0, 200.0]])]
    m = ops.MultiScaleRoIAlign(["feat1", "feat3"], 3, 2)
    assert repr(m) == ("MultiScaleRoIAlign(featmap_names=['feat1', 'feat3'], "
                       "output_size=(3, 3), sampling_ratio=2)")
    got = m(feats, boxes, [(512, 512), (480, 500)])
    assert m.scales == [0.125, 0.03125]
    # sqrt(area) 44.7 -> level floor(4 + log2(44.7 / 224)) = 1, clamped to 3 (feat1); the
    # larger boxes map to level 4, clamped into [3, 5] and nearest to feat3's 5 -> feat3
    rois = ops._utils.convert_boxes_to_roi_format(boxes)
    want = [ops.roi_align(feats["feat1"], rois[:1], 3, 0.125, 2),
            ops.roi_align(feats["feat3"], rois[1:], 3, 0.03125, 2)]
    np.testing.assert_allclose(got.numpy(), ember.cat(want).numpy())
    x = feats["feat3"].clone().requires_grad_()
    single = ops.MultiScaleRoIAlign(["feat3"], (2, 3), -1)
    out = single({"feat3": x}, boxes, [(512, 512)])
    assert out.shape == (3, 3, 2, 3)
    out.sum().backward()
    assert x.grad is not None
