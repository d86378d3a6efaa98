"""ember.vision's flow_to_image, decode_gif / decode_webp / decode_heic, backend functions,
is_rotated_bounding_format and models.mobilenet against real torchvision. torchvision's image
decoders are compiled ops: where they do not load, those comparisons skip."""
from __future__ import annotations

import io

import numpy as np
import pytest

import ember
import ember.vision as vision
from ember.vision import io as vio
from ember.vision import tv_tensors
from ember.vision.utils import flow_to_image
from tests.conformance.real_torchvision import real_torchvision

torch = pytest.importorskip("torch")
Image = pytest.importorskip("PIL.Image")


@pytest.fixture(scope="module")
def tv():
    return real_torchvision()


@pytest.mark.parametrize("shape,scale", [((2, 2, 32, 40), 1.0), ((2, 24, 24), 50.0),
                                         ((1, 2, 16, 16), 1e-3)])
def test_flow_to_image(tv, shape, scale):
    flow = (np.random.default_rng(0).standard_normal(shape) * scale).astype(np.float32)
    flow[..., 0, 0] = 0  # a still pixel
    expected = tv.utils.flow_to_image(torch.tensor(flow)).numpy()
    np.testing.assert_array_equal(flow_to_image(ember.tensor(flow)).numpy(), expected)


def _decoded_by_torchvision(decode, data: bytes, *args):
    try:
        return decode(torch.tensor(np.frombuffer(data, np.uint8).copy()), *args).numpy()
    except RuntimeError as exc:
        if "Couldn't load the image extension" in str(exc):
            pytest.skip("torchvision's image decoders do not load here")
        raise


def _ember_bytes(data: bytes) -> ember.Tensor:
    return ember.tensor(np.frombuffer(data, np.uint8).copy())


def test_decode_gif(tv):
    rng = np.random.default_rng(1)
    palette = rng.integers(0, 256, 48).tolist()
    images = []
    for _ in range(3):
        image = Image.fromarray(rng.integers(0, 16, (6, 5)).astype(np.uint8), "P")
        image.putpalette(palette)
        images.append(image)
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:],
                   disposal=[0, 1, 2], transparency=2, optimize=False)
    data = buffer.getvalue()
    expected = _decoded_by_torchvision(tv.io.decode_gif, data)
    np.testing.assert_array_equal(vio.decode_gif(_ember_bytes(data)).numpy(), expected)


@pytest.mark.parametrize("mode", ["UNCHANGED", "RGB", "RGB_ALPHA"])
@pytest.mark.parametrize("channels", [3, 4])
def test_decode_webp(tv, mode, channels):
    array = np.random.default_rng(2).integers(0, 256, (7, 6, channels)).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="WEBP", lossless=True)
    data = buffer.getvalue()
    expected = _decoded_by_torchvision(tv.io.decode_webp, data, tv.io.ImageReadMode[mode])
    got = vio.decode_webp(_ember_bytes(data), vio.ImageReadMode[mode]).numpy()
    np.testing.assert_array_equal(got, expected)


def test_decode_heic_without_decoder(tv):
    import importlib.util
    Image.init()
    if importlib.util.find_spec("torchvision_extra_decoders") or "HEIF" in Image.OPEN:
        pytest.skip("a HEIC decoder is installed")
    with pytest.raises(RuntimeError) as expected:
        tv.io.decode_heic(torch.zeros(4, dtype=torch.uint8))
    with pytest.raises(RuntimeError) as got:
        vio.decode_heic(ember.zeros(4, dtype=ember.uint8))
    assert str(got.value) == str(expected.value)


def test_top_level_functions(tv):
    assert vision.get_image_backend() == tv.get_image_backend()
    assert vision.get_video_backend() == tv.get_video_backend()
    with pytest.raises(ValueError) as expected:
        tv.set_image_backend("cv2")
    with pytest.raises(ValueError) as got:
        vision.set_image_backend("cv2")
    assert str(got.value) == str(expected.value)
    assert vision.disable_beta_transforms_warning() is tv.disable_beta_transforms_warning()
    assert tv.version.__version__.split("+")[0] == str(vision.version.__version__)


def test_is_rotated_bounding_format(tv):
    import torchvision.tv_tensors as theirs
    names = ["XYXY", "XYWH", "CXCYWH", "XYWHR", "CXCYWHR", "XYXYXYXY", "xyxy"]
    assert ([tv_tensors.is_rotated_bounding_format(n) for n in names]
            == [theirs.is_rotated_bounding_format(n) for n in names])
    for fmt in tv_tensors.BoundingBoxFormat:
        assert (tv_tensors.is_rotated_bounding_format(fmt)
                == theirs.is_rotated_bounding_format(theirs.BoundingBoxFormat[fmt.name]))


def test_models_mobilenet(tv):
    import torchvision.models.mobilenet as theirs

    from ember.vision.models import mobilenet as ours
    assert ours.__all__ == theirs.__all__
