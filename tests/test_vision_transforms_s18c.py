"""torchvision's arithmetic in ember's image transforms, against NumPy oracles: tensor warps
through grid_sample (pixel-centre sampling, zeros outside, fill by a sampled mask), fused
multiply-adds, v2's colour blends, key points as pixel indices under flips, rotated boxes
with expand, torch's float32 linspace and integer boxes truncated."""
from fractions import Fraction

import numpy as np

import ember
from ember.vision import tv_tensors as etv
from ember.vision.transforms import _grid_warp
from ember.vision.transforms import autoaugment as EA
from ember.vision.transforms import functional as E1
from ember.vision.transforms.v2 import functional as E2

_RNG = np.random.default_rng(3)
_UINT8 = _RNG.integers(0, 256, (3, 9, 12), dtype=np.uint8)
_FLOAT = _RNG.random((3, 9, 12), dtype=np.float32)


def test_fma_rounds_once():
    a = np.array([1 + 2.0 ** -12, 3.0], np.float32)
    b = np.float32(1 + 2.0 ** -12)
    c = np.array([-1.0, 0.25], np.float32)
    exact = [Fraction(float(x)) * Fraction(float(b)) + Fraction(float(z)) for x, z in zip(a, c)]
    np.testing.assert_array_equal(_grid_warp.fma(a, b, c), np.array([float(e) for e in exact],
                                                                   np.float32))
    assert _grid_warp.fma(a, b, c)[0] != (a * b + c)[0]  # the unfused sum loses 2**-24


def _bilinear_oracle(plane, x, y):
    """Bilinear reads of ``plane`` at pixel coordinates (centres at integers), zero outside."""
    h, w = plane.shape
    out = np.zeros(x.shape)
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    for dy in (0, 1):
        for dx in (0, 1):
            xx, yy = x0 + dx, y0 + dy
            weight = (1 - np.abs(x - xx)) * (1 - np.abs(y - yy))
            inside = (xx >= 0) & (xx < w) & (yy >= 0) & (yy < h)
            out += np.where(inside, plane[np.clip(yy, 0, h - 1), np.clip(xx, 0, w - 1)], 0) * weight
    return out


def test_grid_sampling_reads_pixel_centres_with_zeros_outside():
    gx = _RNG.uniform(-1.3, 1.3, (5, 7)).astype(np.float32)
    gy = _RNG.uniform(-1.3, 1.3, (5, 7)).astype(np.float32)
    out = _grid_warp.apply_grid(ember.tensor(_FLOAT), gx, gy, "bilinear", None, v2=True)
    x = (gx.astype(np.float64) + 1) * 12 / 2 - 0.5
    y = (gy.astype(np.float64) + 1) * 9 / 2 - 0.5
    expected = np.stack([_bilinear_oracle(p.astype(np.float64), x, y) for p in _FLOAT])
    np.testing.assert_allclose(out.numpy(), expected, atol=1e-5)
    nearest = _grid_warp.apply_grid(ember.tensor(_UINT8), gx, gy, "nearest", None, v2=True)
    xi, yi = np.rint(x).astype(int), np.rint(y).astype(int)
    inside = (xi >= 0) & (xi < 12) & (yi >= 0) & (yi < 9)
    expected = np.where(inside, _UINT8[:, np.clip(yi, 0, 8), np.clip(xi, 0, 11)], 0)
    np.testing.assert_array_equal(nearest.numpy(), expected)


def test_fill_blends_by_the_sampled_mask_v1_and_v2():
    # a shift by half a pixel: the first column is half image, half outside
    shifted = {}
    for v2 in (False, True):
        shifted[v2] = _grid_warp.warp_affine(ember.tensor(_FLOAT), [1, 0, -0.5, 0, 1, 0],
                                             "bilinear", [1.0, 2.0, 3.0], v2=v2).numpy()
    fills = np.array([1.0, 2.0, 3.0])[:, None]
    sampled = 0.5 * _FLOAT[:, :, 0]  # zeros outside
    # v1: img * m + (1 - m) * fill, v2: (img - fill) * m + fill, with m = 0.5
    np.testing.assert_allclose(shifted[False][:, :, 0], sampled * 0.5 + 0.5 * fills, atol=1e-6)
    np.testing.assert_allclose(shifted[True][:, :, 0], (sampled - fills) * 0.5 + fills, atol=1e-6)
    inner = (_FLOAT[:, :, :-1] + _FLOAT[:, :, 1:]) / 2
    np.testing.assert_allclose(shifted[True][:, :, 1:], inner, atol=1e-6)


def test_tensor_rotations_and_shifts_against_numpy():
    image = ember.tensor(_UINT8)
    np.testing.assert_array_equal(E1.rotate(image, 180.0).numpy(), _UINT8[:, ::-1, ::-1])
    # v2 turns quarter turns by rot90 (v1's grid path sizes this canvas 13 x 10 from float32
    # corners, as torchvision's: left to the conformance tests)
    turned = np.rot90(_UINT8, 1, axes=(1, 2))
    np.testing.assert_array_equal(E2.rotate(image, 90.0, expand=True).numpy(), turned)
    moved = E1.affine(image, 0.0, [2, -1], 1.0, [0.0, 0.0], fill=[7, 8, 9]).numpy()
    expected = np.empty_like(_UINT8)
    expected[...] = np.array([7, 8, 9], np.uint8)[:, None, None]
    expected[:, :-1, 2:] = _UINT8[:, 1:, :-2]
    np.testing.assert_array_equal(moved, expected)


def test_v2_blend_and_sharpness_arithmetic():
    out = E2.adjust_saturation(ember.tensor(_UINT8), 1.5).numpy()
    x = _UINT8.astype(np.float32)
    gray = np.floor(_grid_warp.fma(x[2], np.float32(0.114), _grid_warp.fma(
        x[1], np.float32(0.587), x[0] * np.float32(0.2989))))
    expected = _grid_warp.fma(gray, np.float32(-0.5), x * np.float32(1.5))
    np.testing.assert_array_equal(out, np.clip(expected, 0, 255).astype(np.uint8))
    sharp = E2.adjust_sharpness(ember.tensor(_UINT8), 0.25).numpy().astype(np.float64)
    total = sum(x[:, dy:dy + 7, dx:dx + 10] for dy in range(3) for dx in range(3))
    blurred = np.round((total + 4 * x[:, 1:-1, 1:-1]) / 13)
    inner = x[:, 1:-1, 1:-1]
    np.testing.assert_array_equal(sharp[:, 1:-1, 1:-1],
                                  np.trunc(np.clip(inner + 0.75 * (blurred - inner), 0, 255)))
    np.testing.assert_array_equal(sharp[:, 0], _UINT8[:, 0])


def test_key_points_flip_as_pixel_indices_and_boxes_as_borders():
    points = etv.KeyPoints([[0.0, 0.0], [11.0, 8.0], [2.5, 3.0]], canvas_size=(9, 12))
    np.testing.assert_array_equal(E2.horizontal_flip(points).numpy(),
                                  [[11, 0], [0, 8], [8.5, 3]])
    np.testing.assert_array_equal(E2.vertical_flip(points).numpy(), [[0, 8], [11, 0], [2.5, 5]])
    boxes = etv.BoundingBoxes([[0, 1, 4, 9]], format="XYXY", canvas_size=(9, 12))
    np.testing.assert_array_equal(E2.horizontal_flip(boxes).numpy(), [[8, 1, 12, 9]])


def test_rotated_boxes_with_expand_start_at_the_turned_canvas_corner():
    boxes = ember.tensor([[1.0, 2.0, 5.0, 4.0]])
    out, size = E2.rotate_bounding_boxes(boxes, etv.BoundingBoxFormat.XYXY, (9, 12), 90.0,
                                         expand=True)
    assert tuple(size) == (12, 9)
    # counter-clockwise quarter turn: (x, y) -> (y, W - x)
    np.testing.assert_allclose(out.numpy(), [[2.0, 7.0, 4.0, 11.0]], atol=1e-5)
    out, size = E2.rotate_bounding_boxes(boxes, etv.BoundingBoxFormat.XYXY, (9, 12), 30.0,
                                         expand=True)
    c, s = np.cos(np.radians(30)), np.sin(np.radians(30))
    corners = np.array([[0, 0], [12, 0], [12, 9], [0, 9]]) - [6, 4.5]
    turned = corners @ np.array([[c, -s], [s, c]])  # y down: counter-clockwise on screen
    assert tuple(size) == (14, 16)  # torchvision's float32 corner rounding (conformance)
    box = np.array([[1, 2], [5, 2], [5, 4], [1, 4]]) - [6, 4.5]
    moved = box @ np.array([[c, -s], [s, c]]) - turned.min(axis=0)
    np.testing.assert_allclose(out.numpy()[0], [*moved.min(axis=0), *moved.max(axis=0)],
                               atol=1e-5)


def test_integer_boxes_and_points_are_truncated():
    shift = [1, 0, -0.6, 0, 1, -0.6, 0, 0]  # output (x, y) reads input (x - 0.6, y - 0.6)
    boxes = etv.BoundingBoxes([[1, 1, 5, 6]], format="XYXY", canvas_size=(9, 12))
    out = E2.perspective(boxes, None, None, coefficients=shift)
    np.testing.assert_array_equal(out.numpy(), [[1, 1, 5, 6]])  # 1.6 -> 1, 5.6 -> 5
    points = etv.KeyPoints(ember.tensor([[2, 3]]), canvas_size=(9, 12))
    rotated = E2.rotate(points, 3.0)
    expected = np.trunc(_rotate_point([2, 3], 3.0, (6, 4.5)))
    np.testing.assert_array_equal(rotated.numpy(), [expected])


def _rotate_point(p, angle, centre):
    c, s = np.cos(np.radians(angle)), np.sin(np.radians(angle))
    x, y = np.subtract(p, centre)
    return np.array([c * x + s * y, -s * x + c * y]) + centre


def test_linspace_is_torchs_float32():
    got = EA._linspace(0.0, 0.9, 10)
    step = np.float32(np.float32(0.9) / np.float32(9))
    expected = [np.float32(i * float(step)) if i < 5 else
                np.float32(float(np.float32(0.9)) - (9 - i) * float(step)) for i in range(10)]
    np.testing.assert_array_equal(got, np.array(expected, np.float32))
    assert got[4] != np.float32(0.4)  # one ulp below: a uint8 blend can truncate differently
