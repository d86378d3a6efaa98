"""ember.vision.tv_tensors: which ops keep the TVTensor type (torchvision's unwrapping rules),
the boxes' metadata, and construction. Oracles: torchvision's documented rules and plain-tensor
results computed without any TVTensor."""
import copy

import numpy as np
import pytest

import ember
from ember.vision import tv_tensors
from ember.vision.tv_tensors import BoundingBoxes, BoundingBoxFormat, Image, Mask, Video


@pytest.fixture(autouse=True)
def dispatch_installed():
    """TVTensors need ``__torch_function__`` dispatch, which other tests undo
    (ember.overrides._uninstall); it is undone again afterwards, so that the rest of the run
    sees the plain functions."""
    ember.overrides._install()
    yield
    ember.overrides._uninstall()


def _boxes():
    return BoundingBoxes([[1.0, 2.0, 5.0, 7.0], [0.0, 0.0, 3.0, 3.0]], format="XYXY",
                         canvas_size=(10, 12))


def test_construction():
    img = Image(ember.arange(20.0).reshape(4, 5))
    assert type(img) is Image and img.shape == (1, 4, 5)
    with pytest.raises(ValueError):
        Image(ember.zeros(3))
    with pytest.raises(ValueError):
        Video(ember.zeros(3, 4, 4))
    assert Video(ember.zeros(2, 3, 4, 4)).shape == (2, 3, 4, 4)
    mask = Mask([[0, 1], [1, 0]])
    assert type(mask) is Mask and mask.dtype == ember.int64
    one = BoundingBoxes([1, 2, 3, 4], format=BoundingBoxFormat.XYWH, canvas_size=[8, 9])
    assert one.shape == (1, 4) and one.format is BoundingBoxFormat.XYWH
    assert one.canvas_size == (8, 9)
    assert _boxes().format is BoundingBoxFormat.XYXY
    with pytest.raises(ValueError):
        BoundingBoxes(ember.zeros(1, 1, 4), format="XYXY", canvas_size=(2, 2))


def test_pil_construction():
    PIL = pytest.importorskip("PIL.Image")
    arr = np.random.default_rng(0).integers(0, 256, (4, 5, 3), dtype=np.uint8)
    img = Image(PIL.fromarray(arr))
    np.testing.assert_array_equal(img.numpy(), arr.transpose(2, 0, 1))
    mask = Mask(PIL.fromarray(arr[:, :, 0]))  # torchvision keeps the band dimension
    np.testing.assert_array_equal(mask.numpy(), arr[None, :, :, 0])


def test_ops_return_plain_tensors():
    img = Image(ember.arange(12.0).reshape(1, 3, 4))
    plain = ember.arange(12.0).reshape(1, 3, 4)
    for got, want in [(img + 1, plain + 1), (img * img, plain * plain), (img.sum(), plain.sum()),
                      (ember.flip(img, [-1]), ember.flip(plain, [-1])), (img[0], plain[0]),
                      (img.float(), plain.float())]:
        assert type(got) is ember.Tensor
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    assert all(type(p) is ember.Tensor for p in img.split(1, dim=-1))


def test_kept_types_and_metadata():
    img = Image(ember.zeros(3, 2, 2))
    assert type(img.clone()) is Image
    assert type(img.to(ember.float64)) is Image and img.to(ember.float64).dtype == ember.float64
    assert type(img.detach()) is Image
    assert type(img.requires_grad_(True)) is Image and img.requires_grad
    boxes = _boxes()
    for kept in (boxes.clone(), boxes.to(ember.int64), boxes.detach()):
        assert type(kept) is BoundingBoxes
        assert kept.format is BoundingBoxFormat.XYXY and kept.canvas_size == (10, 12)
    deep = copy.deepcopy(boxes)
    assert type(deep) is BoundingBoxes and deep.canvas_size == (10, 12)
    np.testing.assert_array_equal(deep.numpy(), boxes.numpy())


def test_in_place_ops_change_the_tvtensor_and_return_plain():
    img = Image(ember.zeros(1, 2, 2))
    out = img.add_(1)
    assert type(out) is ember.Tensor and type(img) is Image
    np.testing.assert_array_equal(img.numpy(), np.ones((1, 2, 2)))


def test_set_return_type():
    boxes = _boxes()
    with tv_tensors.set_return_type("TVTensor"):
        doubled = boxes * 2
        assert type(doubled) is BoundingBoxes and doubled.canvas_size == (10, 12)
        assert type(Image(ember.zeros(1, 2, 2)) + 1) is Image
    assert type(boxes * 2) is ember.Tensor
    tv_tensors.set_return_type("TVTensor")
    try:
        assert type(boxes + 0) is BoundingBoxes
    finally:
        tv_tensors.set_return_type("Tensor")
    assert type(boxes + 0) is ember.Tensor
    with pytest.raises(ValueError):
        tv_tensors.set_return_type("array")


def test_wrap():
    boxes = _boxes()
    plain = ember.ones(3, 4)
    wrapped = tv_tensors.wrap(plain, like=boxes)
    assert type(wrapped) is BoundingBoxes and wrapped.canvas_size == (10, 12)
    resized = tv_tensors.wrap(plain, like=boxes, canvas_size=(5, 6), format="CXCYWH")
    assert resized.canvas_size == (5, 6) and resized.format is BoundingBoxFormat.CXCYWH
    assert type(tv_tensors.wrap(plain, like=Mask(ember.zeros(2, 2)))) is Mask


def test_gradients_flow_through_an_image():
    leaf = ember.arange(4.0).reshape(1, 2, 2).requires_grad_()
    img = Image(leaf)
    (img * img).sum().backward()
    np.testing.assert_array_equal(leaf.grad.numpy(), 2 * np.arange(4.0).reshape(1, 2, 2))


def test_repr_names_the_type_and_metadata():
    text = repr(_boxes())
    assert text.startswith("BoundingBoxes(") and "canvas_size=(10, 12)" in text
    assert "format=BoundingBoxFormat.XYXY" in text
    assert repr(Image(ember.zeros(1, 1, 1))).startswith("Image(")
