"""Box utilities and detection losses against NumPy oracles written from the definitions, plus
float64 gradcheck of the differentiable ones."""
import math

import numpy as np
import pytest

import ember
from ember.vision import ops


def _boxes(rng, n):
    xy = rng.uniform(0, 10, (n, 2))
    return np.concatenate([xy, xy + rng.uniform(0.5, 6, (n, 2))], axis=1)


@pytest.fixture
def pair():
    rng = np.random.default_rng(0)
    return _boxes(rng, 5), _boxes(rng, 4)


def _np_parts(a, b):
    """Pairwise intersection, union, enclosing box width/height and centre distance squared."""
    area = lambda t: (t[:, 2] - t[:, 0]) * (t[:, 3] - t[:, 1])  # noqa: E731
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.clip(rb - lt, 0, None)
    inter = wh[..., 0] * wh[..., 1]
    union = area(a)[:, None] + area(b)[None] - inter
    enc = np.maximum(a[:, None, 2:], b[None, :, 2:]) - np.minimum(a[:, None, :2], b[None, :, :2])
    ca, cb = (a[:, :2] + a[:, 2:]) / 2, (b[:, :2] + b[:, 2:]) / 2
    dist = ((ca[:, None] - cb[None]) ** 2).sum(-1)
    return inter, union, enc, dist


def _np_ciou(a, b, eps=1e-7):
    inter, union, enc, dist = _np_parts(a, b)
    iou = inter / union
    diou = iou - dist / ((enc ** 2).sum(-1) + eps)
    wa, ha = a[:, 2] - a[:, 0], a[:, 3] - a[:, 1]
    wb, hb = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    v = 4 / math.pi ** 2 * (np.arctan(wb / hb)[None] - np.arctan(wa / ha)[:, None]) ** 2
    return diou - v / (1 - iou + v + eps) * v


def test_area_and_iou_variants(pair):
    a, b = pair
    inter, union, enc, dist = _np_parts(a, b)
    ta, tb = ember.tensor(a), ember.tensor(b)
    np.testing.assert_allclose(ops.box_area(ta).numpy(), (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]))
    np.testing.assert_allclose(ops.box_iou(ta, tb).numpy(), inter / union)
    area_c = enc[..., 0] * enc[..., 1]
    np.testing.assert_allclose(ops.generalized_box_iou(ta, tb).numpy(),
                               inter / union - (area_c - union) / area_c)
    np.testing.assert_allclose(ops.distance_box_iou(ta, tb).numpy(),
                               inter / union - dist / ((enc ** 2).sum(-1) + 1e-7))
    np.testing.assert_allclose(ops.complete_box_iou(ta, tb).numpy(), _np_ciou(a, b))


def test_integer_boxes_upcast():
    a = ember.tensor([[0, 0, 2, 2], [1, 1, 3, 4]], dtype=ember.int16)
    assert ops.box_area(a).dtype == ember.int32
    iou = ops.box_iou(a, a)
    assert iou.dtype == ember.float32
    np.testing.assert_allclose(iou.numpy(), [[1, 1 / 9], [1 / 9, 1]], rtol=1e-6)
    assert ops.box_area(ember.tensor([[0, 0, 2, 3]], dtype=ember.float16)).dtype == ember.float32


@pytest.mark.parametrize("fn", [ops.box_iou, ops.generalized_box_iou, ops.distance_box_iou])
def test_pairwise_gradcheck(pair, fn):
    a, b = pair
    ta = ember.tensor(a, requires_grad=True)
    tb = ember.tensor(b, requires_grad=True)
    assert ember.autograd.gradcheck(fn, (ta, tb))


def _aspect(a, b):
    wa, ha = a[..., 2] - a[..., 0], a[..., 3] - a[..., 1]
    wb, hb = b[..., 2] - b[..., 0], b[..., 3] - b[..., 1]
    return 4 / math.pi ** 2 * (ember.atan(wb / hb) - ember.atan(wa / ha)) ** 2


def _check_ciou_grad(ciou, diou, a, b, pairwise):
    """CIoU's alpha carries no gradient: its gradient is that of ``DIoU - alpha0 * v`` with
    alpha frozen at the evaluation point, which is what gradcheck can check."""
    ta, tb = ember.tensor(a, requires_grad=True), ember.tensor(b, requires_grad=True)
    pa, pb = (ta[:, None], tb[None]) if pairwise else (ta, tb)
    with ember.no_grad():
        alpha = ((diou(ta, tb) - ciou(ta, tb)) / _aspect(pa, pb)).detach()

    def frozen(x, y):
        px, py = (x[:, None], y[None]) if pairwise else (x, y)
        return diou(x, y) - alpha * _aspect(px, py)

    assert ember.autograd.gradcheck(frozen, (ta, tb))
    got = ember.autograd.grad(ciou(ta, tb).sum(), (ta, tb))
    want = ember.autograd.grad(frozen(ta, tb).sum(), (ta, tb))
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-9, atol=1e-12)


def test_complete_box_iou_gradient(pair):
    _check_ciou_grad(ops.complete_box_iou, ops.distance_box_iou, *pair, pairwise=True)


def test_box_convert_round_trips():
    xyxy = np.array([[1.0, 2.0, 4.0, 8.0], [0.0, 0.5, 3.0, 1.5]])
    t = ember.tensor(xyxy)
    xywh = ops.box_convert(t, "xyxy", "xywh")
    np.testing.assert_allclose(xywh.numpy(), [[1, 2, 3, 6], [0, 0.5, 3, 1]])
    cxcywh = ops.box_convert(xywh, "xywh", "cxcywh")
    np.testing.assert_allclose(cxcywh.numpy(), [[2.5, 5, 3, 6], [1.5, 1, 3, 1]])
    np.testing.assert_allclose(ops.box_convert(cxcywh, "cxcywh", "xyxy").numpy(), xyxy)
    same = ops.box_convert(t, "xyxy", "xyxy")
    assert same is not t and np.array_equal(same.numpy(), xyxy)
    with pytest.raises(ValueError):
        ops.box_convert(t, "xyxy", "yxyx")


def test_clip_and_remove_small():
    boxes = ember.tensor([[[-1.0, 2.0, 12.0, 30.0], [3.0, -4.0, 5.0, 5.0]]])
    np.testing.assert_array_equal(ops.clip_boxes_to_image(boxes, (20, 10)).numpy(),
                                  [[[0, 2, 10, 20], [3, 0, 5, 5]]])
    keep = ops.remove_small_boxes(ember.tensor([[0, 0, 1, 5.0], [0, 0, 2, 2], [1, 1, 5, 1.5]]),
                                  2.0)
    assert keep.dtype == ember.int64 and keep.tolist() == [1]


def _np_nms(boxes, scores, thr):
    order = sorted(range(len(scores)), key=lambda i: -scores[i])  # stable on ties
    keep = []
    for i in order:
        inter, union = _np_parts(boxes[[i]], boxes[keep])[:2]
        if (inter / union <= thr).all():
            keep.append(i)
    return keep


@pytest.mark.parametrize("thr", [0.0, 0.3, 0.7])
def test_nms_matches_greedy_reference(thr):
    rng = np.random.default_rng(1)
    boxes = _boxes(rng, 40)
    scores = rng.integers(0, 6, 40).astype(np.float32)  # many ties
    got = ops.nms(ember.tensor(boxes), ember.tensor(scores), thr)
    assert got.dtype == ember.int64
    assert got.tolist() == _np_nms(boxes, scores, thr)


@pytest.mark.parametrize("thr", [0.1, 0.5])
def test_nms_many_boxes_matches_greedy_reference(thr):
    # more boxes than one block of the blocked implementation, spread so that many are kept
    rng = np.random.default_rng(3)
    boxes = _boxes(rng, 3000) * [8.0, 8.0, 8.0, 8.0]
    boxes[:, 2:] = boxes[:, :2] + (boxes[:, 2:] - boxes[:, :2]) / 2
    scores = np.round(rng.uniform(size=3000), 2)  # ties
    got = ops.nms(ember.tensor(boxes), ember.tensor(scores), thr)
    assert got.tolist() == _np_nms(boxes, scores, thr)


def test_batched_nms_keeps_categories_apart():
    rng = np.random.default_rng(2)
    boxes = _boxes(rng, 30)
    scores = rng.uniform(size=30)
    idxs = rng.integers(0, 3, 30)
    got = ops.batched_nms(ember.tensor(boxes), ember.tensor(scores), ember.tensor(idxs), 0.4)
    want = []
    for c in range(3):
        sel = np.flatnonzero(idxs == c)
        want += [sel[i] for i in _np_nms(boxes[sel], scores[sel], 0.4)]
    assert got.tolist() == sorted(want, key=lambda i: -scores[i])
    empty = ops.batched_nms(ember.zeros(0, 4), ember.zeros(0), ember.zeros(0), 0.5)
    assert empty.shape == (0,) and empty.dtype == ember.int64
    assert ops.nms(ember.zeros(0, 4), ember.zeros(0), 0.5).shape == (0,)


def test_masks_to_boxes():
    masks = np.zeros((3, 6, 7), dtype=bool)
    masks[0, 1:4, 2:6] = True
    masks[1, 5, 0] = True
    masks[1, 0, 6] = True
    got = ops.masks_to_boxes(ember.tensor(masks))
    assert got.dtype == ember.float32
    np.testing.assert_array_equal(got.numpy(), [[2, 1, 5, 3], [0, 0, 6, 5], [0, 0, 0, 0]])
    assert ops.masks_to_boxes(ember.zeros(0, 4, 4)).shape == (0, 4)


def _np_focal(x, t, alpha, gamma):
    p = 1 / (1 + np.exp(-x))
    ce = -(t * np.log(p) + (1 - t) * np.log(1 - p))
    p_t = p * t + (1 - p) * (1 - t)
    loss = ce * (1 - p_t) ** gamma
    return loss if alpha < 0 else (alpha * t + (1 - alpha) * (1 - t)) * loss


@pytest.mark.parametrize("alpha,gamma", [(0.25, 2), (-1, 1.5), (0.5, 0)])
def test_sigmoid_focal_loss(alpha, gamma):
    rng = np.random.default_rng(3)
    x, t = rng.standard_normal((4, 5)), (rng.uniform(size=(4, 5)) > 0.5).astype(float)
    want = _np_focal(x, t, alpha, gamma)
    tx, tt = ember.tensor(x, requires_grad=True), ember.tensor(t)
    for red, ref in (("none", want), ("mean", want.mean()), ("sum", want.sum())):
        got = ops.sigmoid_focal_loss(tx, tt, alpha, gamma, red)
        np.testing.assert_allclose(got.detach().numpy(), ref)
    assert ember.autograd.gradcheck(lambda v: ops.sigmoid_focal_loss(v, tt, alpha, gamma), (tx,))
    with pytest.raises(ValueError):
        ops.sigmoid_focal_loss(tx, tt, reduction="avg")


@pytest.mark.parametrize("name", ["generalized", "distance", "complete"])
def test_box_iou_losses_are_one_minus_elementwise_iou(pair, name):
    a, b = pair
    a, b = a[:4], b
    loss_fn = getattr(ops, f"{name}_box_iou_loss")
    ta = ember.tensor(a, requires_grad=True)
    tb = ember.tensor(b, requires_grad=True)
    inter, union, enc, dist = (np.diagonal(v).T if v.ndim == 3 else np.diagonal(v)
                               for v in _np_parts(a, b))
    iou = inter / (union + 1e-7)
    if name == "generalized":
        area_c = enc[:, 0] * enc[:, 1]
        want = 1 - (iou - (area_c - union) / (area_c + 1e-7))
    else:
        want = 1 - iou + dist / ((enc ** 2).sum(-1) + 1e-7)
        if name == "complete":
            wa, ha = a[:, 2] - a[:, 0], a[:, 3] - a[:, 1]
            wb, hb = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
            v = 4 / math.pi ** 2 * (np.arctan(wb / hb) - np.arctan(wa / ha)) ** 2
            want = want + v / (1 - iou + v + 1e-7) * v
    np.testing.assert_allclose(loss_fn(ta, tb).detach().numpy(), want, rtol=1e-9)
    np.testing.assert_allclose(loss_fn(ta, tb, "sum").item(), want.sum(), rtol=1e-9)
    if name == "complete":
        _check_ciou_grad(lambda x, y: -ops.complete_box_iou_loss(x, y),
                         lambda x, y: -ops.distance_box_iou_loss(x, y), a, b, pairwise=False)
    else:
        assert ember.autograd.gradcheck(lambda x, y: loss_fn(x, y, "mean"), (ta, tb))
    assert loss_fn(ember.zeros(0, 4), ember.zeros(0, 4), "mean").item() == 0.0
    int_loss = loss_fn(ember.tensor([[0, 0, 2, 2]]), ember.tensor([[1, 1, 3, 3]]))
    assert int_loss.dtype == ember.float32
