"""ember.vision's smaller torchvision pieces: utils.flow_to_image (against a per-pixel
Middlebury colour wheel), io.decode_gif / decode_webp / decode_avif / decode_heic (round trips
through files Pillow writes), the top-level backend functions and version module,
tv_tensors.is_rotated_bounding_format and the models.mobilenet module."""
import io
import math
import warnings

import numpy as np
import pytest

import ember
import ember.vision as vision
from ember.vision import io as vio
from ember.vision import tv_tensors
from ember.vision.utils import flow_to_image

Image = pytest.importorskip("PIL.Image")


def _wheel():
    """Baker et al.'s wheel, arc by arc: (red, yellow), (yellow, green), ... as RGB rows."""
    rows = []
    arcs = [(15, lambda t: (255, t, 0)), (6, lambda t: (255 - t, 255, 0)),
            (4, lambda t: (0, 255, t)), (11, lambda t: (0, 255 - t, 255)),
            (13, lambda t: (t, 0, 255)), (6, lambda t: (255, 0, 255 - t))]
    for length, colour in arcs:
        rows += [colour(math.floor(255 * i / length)) for i in range(length)]
    return np.array(rows, float)


def _flow_colour(u, v, max_norm):
    """One pixel: the hue of the direction of (-u, -v) on the wheel, desaturated towards white
    as its magnitude falls below the largest one."""
    wheel = _wheel()
    u, v = u / max_norm, v / max_norm
    position = (math.atan2(-v, -u) / math.pi + 1) / 2 * (len(wheel) - 1)
    k0 = math.floor(position)
    k1 = (k0 + 1) % len(wheel)
    f = position - k0
    hue = ((1 - f) * wheel[k0] + f * wheel[k1]) / 255
    return np.floor(255 * (1 - math.hypot(u, v) * (1 - hue)))


def test_flow_to_image_matches_colour_wheel():
    rng = np.random.default_rng(0)
    flow = rng.standard_normal((2, 2, 6, 7)).astype(np.float32) * 3
    image = flow_to_image(ember.tensor(flow)).numpy()
    assert image.dtype == np.uint8 and image.shape == (2, 3, 6, 7)
    max_norm = float(np.sqrt((flow.astype(np.float64) ** 2).sum(1)).max())
    expected = np.zeros(image.shape)
    for n, y, x in np.ndindex(2, 6, 7):
        expected[n, :, y, x] = _flow_colour(flow[n, 0, y, x], flow[n, 1, y, x], max_norm)
    # float32 against float64: a floor may land one step apart
    assert np.abs(image - expected).max() <= 1
    assert (image == expected).mean() > 0.9


def test_flow_to_image_closed_forms():
    flow = np.zeros((2, 1, 4), np.float32)
    flow[:, 0, 1] = (-1, 0)  # (-u, -v) = (1, 0): angle 0, the middle of the wheel, cyan
    flow[:, 0, 2] = (-0.5, 0)  # same hue, half saturated
    flow[:, 0, 3] = (0, 0)
    image = flow_to_image(ember.tensor(flow)).numpy()
    assert image.shape == (3, 1, 4)
    cyan = _wheel()[27]
    np.testing.assert_allclose(image[:, 0, 1], cyan, atol=1)
    np.testing.assert_allclose(image[:, 0, 2], np.floor(255 - 0.5 * (255 - cyan)), atol=1)
    np.testing.assert_array_equal(image[:, 0, 3], [255, 255, 255])  # no motion: white
    with pytest.raises(ValueError, match="dtype torch.float"):
        flow_to_image(ember.zeros(2, 3, 3, dtype=ember.float64))
    with pytest.raises(ValueError, match="should have shape"):
        flow_to_image(ember.zeros(3, 3, 3))


def _bytes(buffer) -> ember.Tensor:
    return ember.tensor(np.frombuffer(buffer.getvalue(), np.uint8).copy())


def _palette_frames(seed=0, frames=3, colours=16):
    rng = np.random.default_rng(seed)
    palette = rng.integers(0, 256, (colours, 3)).astype(np.uint8)
    indices = [rng.integers(0, colours, (5, 7)).astype(np.uint8) for _ in range(frames)]
    images = []
    for index in indices:
        image = Image.fromarray(index, "P")
        image.putpalette(palette.reshape(-1).tolist())
        images.append(image)
    return palette, indices, images


def test_decode_gif_single_and_animated():
    palette, indices, images = _palette_frames()
    single = io.BytesIO()
    images[0].save(single, format="GIF")
    out = vio.decode_gif(_bytes(single))
    assert out.dtype == ember.uint8 and out.shape == (3, 5, 7)
    np.testing.assert_array_equal(out.numpy(), palette[indices[0]].transpose(2, 0, 1))
    animated = io.BytesIO()
    images[0].save(animated, format="GIF", save_all=True, append_images=images[1:], disposal=1,
                   optimize=False)
    out = vio.decode_gif(_bytes(animated))
    assert out.shape == (3, 3, 5, 7)
    np.testing.assert_array_equal(out.numpy(),
                                  np.stack([palette[i].transpose(2, 0, 1) for i in indices]))


def test_decode_gif_transparency_and_disposal():
    """torchvision's rule: a frame whose own disposal is 1 (do not dispose) is drawn over the
    previous frame, any other over the background colour; transparent pixels let it show."""
    palette, indices, images = _palette_frames(seed=1)
    buffer = io.BytesIO()
    disposals = [0, 1, 2]
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:],
                   disposal=disposals, transparency=3, background=5, optimize=False)
    data = buffer.getvalue()
    background = palette[data[11]]  # the logical screen descriptor's background index
    out = vio.decode_gif(_bytes(buffer)).numpy()
    previous = None
    for k, (index, disposal) in enumerate(zip(indices, disposals)):
        canvas = (previous.copy() if k and disposal == 1
                  else np.broadcast_to(background, (5, 7, 3)).copy())
        shown = index != 3
        canvas[shown] = palette[index[shown]]
        np.testing.assert_array_equal(out[k], canvas.transpose(2, 0, 1), err_msg=str(k))
        previous = canvas


def test_decode_gif_rejects_other_data():
    with pytest.raises(RuntimeError):
        vio.decode_gif(ember.tensor(np.frombuffer(b"not a gif at all", np.uint8).copy()))


def _webp(array, mode, **options):
    buffer = io.BytesIO()
    Image.fromarray(array, mode).save(buffer, format="WEBP", lossless=True, **options)
    return _bytes(buffer)


def test_decode_webp_modes():
    rng = np.random.default_rng(2)
    rgb = rng.integers(0, 256, (6, 5, 3)).astype(np.uint8)
    rgba = rng.integers(0, 256, (6, 5, 4)).astype(np.uint8)
    rgba[..., 3] = np.where(rgba[..., 3] < 40, 40, rgba[..., 3])  # no fully transparent pixel
    out = vio.decode_webp(_webp(rgb, "RGB"))
    assert out.dtype == ember.uint8
    np.testing.assert_array_equal(out.numpy(), rgb.transpose(2, 0, 1))
    np.testing.assert_array_equal(vio.decode_webp(_webp(rgba, "RGBA")).numpy(),
                                  rgba.transpose(2, 0, 1))
    forced = vio.decode_webp(_webp(rgb, "RGB"), mode=vio.ImageReadMode.RGB_ALPHA).numpy()
    np.testing.assert_array_equal(forced[:3], rgb.transpose(2, 0, 1))
    np.testing.assert_array_equal(forced[3], 255)
    assert vio.decode_webp(_webp(rgba, "RGBA"), mode="RGB").shape == (3, 6, 5)
    with pytest.warns(UserWarning, match="grayscale"):
        grey = vio.decode_webp(_webp(rgb, "RGB"), mode=vio.ImageReadMode.GRAY)
    assert grey.shape == (3, 6, 5)


def test_decode_webp_rejects_animation():
    frames = [Image.fromarray(np.full((4, 4, 3), v, np.uint8)) for v in (0, 200)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="WEBP", save_all=True, append_images=frames[1:])
    with pytest.raises(RuntimeError, match="Animated webp files are not supported"):
        vio.decode_webp(_bytes(buffer))


def test_decode_avif_and_heic():
    from PIL import features
    Image.init()
    if "HEIF" not in Image.OPEN:
        with pytest.raises(RuntimeError, match="torchvision-extra-decoders"):
            vio.decode_heic(ember.zeros(4, dtype=ember.uint8))
    if not features.check("avif"):
        with pytest.raises(RuntimeError, match="torchvision-extra-decoders"):
            vio.decode_avif(ember.zeros(4, dtype=ember.uint8))
        return
    rgb = np.random.default_rng(3).integers(0, 256, (8, 8, 3)).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="AVIF")
    out = vio.decode_avif(_bytes(buffer))
    expected = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))
    np.testing.assert_array_equal(out.numpy(), expected.transpose(2, 0, 1))


def test_backends_and_version():
    assert vision.get_image_backend() == "PIL"
    with pytest.raises(ValueError, match="Invalid backend 'cv2'"):
        vision.set_image_backend("cv2")
    vision.set_image_backend("accimage")
    try:
        assert vision.get_image_backend() == "accimage"
    finally:
        vision.set_image_backend("PIL")
    vision.set_video_backend("video_reader")
    assert vision.get_video_backend() == "pyav"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert vision.disable_beta_transforms_warning() is None
    assert vision.version.__version__ == vision.__version__ == "0.28.0"
    assert vision.__version__ >= "0.15"
    assert isinstance(vision.version.git_version, str)
    assert vision.version.cuda == ember.version.cuda


def test_is_rotated_bounding_format():
    for name in ("XYWHR", "CXCYWHR", "XYXYXYXY"):
        assert tv_tensors.is_rotated_bounding_format(name)
    for fmt in tv_tensors.BoundingBoxFormat:
        assert not tv_tensors.is_rotated_bounding_format(fmt)
        assert not tv_tensors.is_rotated_bounding_format(fmt.value)
    with pytest.raises(ValueError, match="format should be str or BoundingBoxFormat"):
        tv_tensors.is_rotated_bounding_format(3)


def test_models_mobilenet_module():
    from ember.vision.models import mobilenet, mobilenetv2, mobilenetv3
    assert mobilenet.__all__ == mobilenetv2.__all__ + mobilenetv3.__all__
    assert mobilenet.mobilenet_v3_small is mobilenetv3.mobilenet_v3_small
    assert vision.models.mobilenet.MobileNet_V2_Weights is mobilenetv2.MobileNet_V2_Weights
