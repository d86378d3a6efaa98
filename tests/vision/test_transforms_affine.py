"""affine / RandomAffine: exact pixel moves (quarter turns, integer shifts, scale, shear) checked
against NumPy, in torchvision's conventions (angles clockwise on the screen, y down)."""
import math

import numpy as np
import pytest

import ember
from ember.vision import transforms as T
from ember.vision.transforms import functional as F

Image = pytest.importorskip("PIL.Image")


def _dot(x: int, y: int, size: int = 9) -> np.ndarray:
    a = np.zeros((size, size), np.uint8)
    a[y, x] = 255
    return a


def _where(img) -> tuple:
    (y, x), = np.argwhere(np.asarray(img))
    return int(x), int(y)


def test_quarter_turns_are_clockwise_rotations():
    rng = np.random.default_rng(0)
    a = (rng.random((9, 9)) * 255).astype(np.uint8)
    img = Image.fromarray(a)
    np.testing.assert_array_equal(np.asarray(F.affine(img, 90, [0, 0], 1.0, 0)), np.rot90(a, -1))
    np.testing.assert_array_equal(np.asarray(F.affine(img, 180, [0, 0], 1.0, 0)), a[::-1, ::-1])


def test_translation_scale_and_shear_move_a_dot_where_the_matrix_says():
    img = Image.fromarray(_dot(6, 4))  # 2 pixels right of the centre (4.5, 4.5)
    assert _where(F.affine(img, 0, [1, 2], 1.0, 0)) == (7, 6)
    # scale 2 about the centre (4.5, 4.5): pixel [5, 6) x [4, 5) covers [5.5, 7.5) x [3.5, 5.5),
    # which holds the pixel centres of columns 5, 6 and rows 3, 4
    lit = np.argwhere(np.asarray(F.affine(Image.fromarray(_dot(5, 4)), 0, [0, 0], 2.0, 0)))
    assert lit.tolist() == [[3, 5], [3, 6], [4, 5], [4, 6]]
    # x-shear by 45 degrees: x' = x - tan(45) * (y - cy); a dot 2 rows below the centre moves left 2
    assert _where(F.affine(Image.fromarray(_dot(4, 6)), 0, [0, 0], 1.0, [45.0, 0.0])) == (2, 6)
    with pytest.raises(ValueError, match="scale"):
        F.affine(img, 0, [0, 0], 0.0, 0)


def test_tensor_images_take_the_same_map():
    a = np.random.default_rng(1).random((2, 9, 9)).astype(np.float32)
    out = F.affine(ember.tensor(a), 90, [0, 0], 1.0, 0)
    np.testing.assert_array_equal(out.numpy(), np.rot90(a, -1, axes=(1, 2)))


def test_random_affine_draws_within_its_ranges():
    ember.manual_seed(0)
    t = T.RandomAffine(10, translate=(0.2, 0.1), scale=(0.8, 1.2), shear=(-3, 3, -4, 4))
    for _ in range(20):
        angle, (tx, ty), scale, (sx, sy) = t.get_params(t.degrees, t.translate, t.scale,
                                                        t.shear, [30, 20])
        assert -10 <= angle <= 10 and abs(tx) <= 6 and abs(ty) <= 2 and 0.8 <= scale <= 1.2
        assert -3 <= sx <= 3 and -4 <= sy <= 4
    assert repr(T.RandomAffine(5, shear=2)) == \
        "RandomAffine(degrees=[-5.0, 5.0], shear=[-2.0, 2.0])"
    assert T.RandomAffine(30)(ember.rand(3, 8, 8)).shape == (3, 8, 8)
    with pytest.raises(ValueError):
        T.RandomAffine(-1)
    with pytest.raises(ValueError):
        T.RandomAffine(0, translate=(1.5, 0))
    assert math.isclose(F._inverse_affine([0, 0], 0, [0, 0], 2.0, [0, 0])[0], 0.5)
