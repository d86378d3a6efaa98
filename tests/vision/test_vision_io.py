"""ember.vision.io: encode/decode/read/write of images as tensors, against Pillow's own
decoding of the same bytes; corrupt input raises a clear RuntimeError."""
import io

import numpy as np
import pytest

import ember
import ember.vision
from ember.vision.io import (
    ImageReadMode,
    decode_image,
    decode_jpeg,
    decode_png,
    encode_jpeg,
    encode_png,
    read_file,
    read_image,
    write_file,
    write_jpeg,
    write_png,
)

Image = pytest.importorskip("PIL.Image")


def _u8(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def _chw(img):
    a = np.asarray(img)
    return a[None] if a.ndim == 2 else a.transpose(2, 0, 1)


def _save(img, path, **options):
    img.save(path, **options)
    return str(path)


@pytest.mark.parametrize("channels,mode", [(1, "L"), (2, "LA"), (3, "RGB"), (4, "RGBA")])
def test_png_round_trip_is_exact(tmp_path, channels, mode):
    a = _u8((channels, 5, 7))
    x = ember.from_numpy(a)
    path = tmp_path / "img.png"
    write_png(x, path)
    assert Image.open(path).mode == mode
    back = read_image(path)
    assert back.dtype == ember.uint8 and back.shape == (channels, 5, 7)
    np.testing.assert_array_equal(back.numpy(), a)
    np.testing.assert_array_equal(decode_png(encode_png(x, compression_level=0)).numpy(), a)


@pytest.mark.parametrize("mode,pil_mode", [(ImageReadMode.GRAY, "L"),
                                           (ImageReadMode.GRAY_ALPHA, "LA"),
                                           (ImageReadMode.RGB, "RGB"),
                                           (ImageReadMode.RGB_ALPHA, "RGBA"), ("gray", "L"),
                                           ("RGB", "RGB")])
def test_read_modes_convert_as_pillow_does(tmp_path, mode, pil_mode):
    img = Image.fromarray(_u8((6, 4, 4), seed=1), "RGBA")
    path = _save(img, tmp_path / "img.png")
    got = read_image(path, mode)
    np.testing.assert_array_equal(got.numpy(), _chw(img.convert(pil_mode)))


def test_palette_bilevel_and_sixteen_bit_pngs(tmp_path):
    rgb = Image.fromarray(_u8((6, 5, 3), seed=2))
    pal = rgb.convert("P", palette=Image.ADAPTIVE, colors=8)
    got = read_image(_save(pal, tmp_path / "p.png"))
    np.testing.assert_array_equal(got.numpy(), _chw(pal.convert("RGB")))
    pal.info["transparency"] = 0
    assert read_image(_save(pal, tmp_path / "pt.png", transparency=0)).shape[0] == 4
    bits = Image.fromarray(_u8((4, 6), seed=3) > 127)
    np.testing.assert_array_equal(read_image(_save(bits, tmp_path / "b.png")).numpy(),
                                  _chw(bits.convert("L")))
    wide = np.random.default_rng(4).integers(0, 65536, (3, 5), dtype=np.uint16)
    path = _save(Image.fromarray(wide), tmp_path / "w.png")
    got = read_image(path)
    assert got.dtype == ember.uint16
    np.testing.assert_array_equal(got.numpy()[0], wide)
    np.testing.assert_array_equal(read_image(path, ImageReadMode.RGB).numpy(),
                                  np.repeat((wide >> 8).astype(np.uint8)[None], 3, 0))


def test_jpeg_encode_decode_agree_with_pillow():
    a = _u8((3, 16, 16), seed=5)
    a = np.sort(a, axis=2).copy()  # smoother content compresses sensibly
    x = ember.from_numpy(a)
    data = encode_jpeg(x, quality=95)
    assert data.dtype == ember.uint8 and data.ndim == 1
    assert bytes(data.numpy()[:2]) == b"\xff\xd8"
    decoded = decode_jpeg(data)
    np.testing.assert_array_equal(decoded.numpy(),
                                  _chw(Image.open(io.BytesIO(data.numpy().tobytes()))))
    err_hi = np.abs(decoded.numpy().astype(int) - a).mean()
    err_lo = np.abs(decode_jpeg(encode_jpeg(x, quality=5)).numpy().astype(int) - a).mean()
    assert err_hi < err_lo
    gray = decode_jpeg(data, mode=ImageReadMode.GRAY)
    assert gray.shape == (1, 16, 16)
    batch = decode_jpeg(encode_jpeg([x, x[:1]]))
    assert [tuple(b.shape) for b in batch] == [(3, 16, 16), (1, 16, 16)]


def test_read_write_file_and_jpeg_files(tmp_path):
    payload = ember.from_numpy(np.frombuffer(b"\x00\x01hello\xff", np.uint8).copy())
    write_file(tmp_path / "raw.bin", payload)
    assert (tmp_path / "raw.bin").read_bytes() == b"\x00\x01hello\xff"
    np.testing.assert_array_equal(read_file(tmp_path / "raw.bin").numpy(), payload.numpy())
    x = ember.from_numpy(_u8((3, 8, 8), seed=6))
    write_jpeg(x, str(tmp_path / "a.jpg"), quality=90)
    assert Image.open(tmp_path / "a.jpg").format == "JPEG"
    assert read_image(tmp_path / "a.jpg").shape == (3, 8, 8)
    np.testing.assert_array_equal(decode_image(str(tmp_path / "a.jpg")).numpy(),
                                  read_image(tmp_path / "a.jpg").numpy())
    with pytest.raises(ValueError, match="1-D uint8"):
        write_file(tmp_path / "bad.bin", ember.zeros(3))


def test_exif_orientation(tmp_path):
    img = Image.fromarray(_u8((4, 10, 3), seed=7))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    path = _save(img, tmp_path / "o.jpg", exif=exif)
    assert read_image(path).shape == (3, 4, 10)
    assert read_image(path, apply_exif_orientation=True).shape == (3, 10, 4)


def test_corrupt_or_non_image_input_raises_a_clear_error(tmp_path):
    good = encode_png(ember.from_numpy(_u8((3, 20, 20), seed=8)))
    cases = {"truncated.png": good.numpy()[: good.shape[0] // 2].tobytes(),
             "noise.png": _u8((300,), seed=9).tobytes(), "empty.png": b"",
             "text.jpg": b"this is not an image\n"}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(RuntimeError, match=f"could not decode file .*{name}"):
            read_image(tmp_path / name)
        with pytest.raises(RuntimeError, match="could not decode"):
            decode_image(ember.from_numpy(np.frombuffer(data, np.uint8).copy()))
    jpeg = encode_jpeg(ember.from_numpy(_u8((3, 4, 4))))
    with pytest.raises(RuntimeError, match="as PNG"):
        decode_png(jpeg)
    with pytest.raises(RuntimeError, match="as JPEG"):
        decode_jpeg(good)
    with pytest.raises(FileNotFoundError):
        read_image(tmp_path / "missing.png")


def test_argument_checks():
    x = ember.from_numpy(_u8((3, 4, 4)))
    with pytest.raises(ValueError, match="uint8"):
        encode_png(x.float())
    with pytest.raises(ValueError, match="C in"):
        encode_jpeg(ember.from_numpy(_u8((4, 4, 4))))
    with pytest.raises(ValueError, match="between 0 and 9"):
        encode_png(x, compression_level=10)
    with pytest.raises(ValueError, match="between 1 and 100"):
        encode_jpeg(x, quality=0)
    with pytest.raises(ValueError, match="1-D uint8"):
        decode_image(x)
    with pytest.raises(TypeError):
        decode_image(b"\x89PNG")


def test_exposed_on_ember_vision_and_usable_in_a_dataset(tmp_path):
    from ember.vision import transforms as T
    assert ember.vision.io.read_image is read_image
    assert ImageReadMode.RGBA is ImageReadMode.RGB_ALPHA
    path = tmp_path / "x.png"
    write_png(ember.from_numpy(_u8((3, 6, 6), seed=10)), path)
    image = ember.vision.io.read_image(str(path))
    out = T.Compose([T.ConvertImageDtype(ember.float32), T.RandomHorizontalFlip(p=1.0)])(image)
    np.testing.assert_allclose(out.numpy(), _u8((3, 6, 6), seed=10)[:, :, ::-1] / 255.0,
                               rtol=1e-6)
