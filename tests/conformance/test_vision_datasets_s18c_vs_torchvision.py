"""KittiFlow, Sintel, FlyingChairs, FlyingThings3D, HD1K, FER2013, CLEVRClassification,
LFWPeople/LFWPairs, Flickr8k/Flickr30k, SBU, PhotoTour and MovingMNIST against real torchvision
on the same on-disk fixtures (written by tests/test_vision_datasets_s18c): the same samples in
the same order (images, flows, masks, targets, dtypes, shapes).

torchvision's 16-bit PNG flow reader calls its compiled image decoder, which does not load on
this CPU-only build: here it is given a reference PNG decoder written below in plain Python
(every row filter; independent of ember's Pillow-based reader)."""
import os
import struct
import zlib

import numpy as np
import pytest

from ember.vision import datasets
from tests import test_vision_datasets_s18c as fixtures

torch = pytest.importorskip("torch")
pytest.importorskip("PIL")
from PIL import Image  # noqa: E402


@pytest.fixture(scope="module")
def tv():
    from tests.conformance.real_torchvision import real_torchvision
    return real_torchvision()


def _reference_decode_png(path):
    """A PNG of 8- or 16-bit RGB(A) samples as torchvision's decode_png gives it: (C, H, W),
    uint8 or uint16."""
    with open(path, "rb") as f:
        data = f.read()
    pos, idat = 8, b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", body[:10])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    channels = {2: 3, 6: 4}[color]
    bpp, stride = channels * depth // 8, width * channels * depth // 8
    raw, rows, prev = zlib.decompress(idat), [], [0] * stride
    for r in range(height):
        kind, line = raw[r * (stride + 1)], list(raw[r * (stride + 1) + 1:(r + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up, up_left = prev[i], prev[i - bpp] if i >= bpp else 0
            p = left + up - up_left
            paeth = (left if abs(p - left) <= abs(p - up) and abs(p - left) <= abs(p - up_left)
                     else up if abs(p - up) <= abs(p - up_left) else up_left)
            line[i] = (line[i] + [0, left, up, (left + up) // 2, paeth][kind]) % 256
        rows.append(line)
        prev = line
    samples = np.array(rows, np.uint8).reshape(height, width, -1)
    if depth == 16:
        samples = samples.reshape(height, width, channels, 2).astype(np.int32)
        return torch.from_numpy(samples[..., 0] * 256 + samples[..., 1]).to(torch.uint16) \
            .permute(2, 0, 1)
    return torch.from_numpy(samples).permute(2, 0, 1)


@pytest.fixture
def tv_flow(tv, monkeypatch):
    module = tv.datasets._optical_flow
    monkeypatch.setattr(module, "read_file", lambda path: path)
    monkeypatch.setattr(module, "decode_png", _reference_decode_png)
    return tv


def _assert_same(ours, theirs, where="sample"):
    if isinstance(theirs, Image.Image):
        assert isinstance(ours, Image.Image), where
        assert (ours.mode, ours.size) == (theirs.mode, theirs.size), where
        np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs), err_msg=where)
    elif isinstance(theirs, torch.Tensor):
        ours, theirs = ours.numpy(), theirs.numpy()
        assert (ours.dtype, ours.shape) == (theirs.dtype, theirs.shape), where
        np.testing.assert_array_equal(ours, theirs, err_msg=where)
    elif isinstance(theirs, np.ndarray):
        assert isinstance(ours, np.ndarray), where
        assert (ours.dtype, ours.shape) == (theirs.dtype, theirs.shape), where
        np.testing.assert_array_equal(ours, theirs, err_msg=where)
    elif isinstance(theirs, (list, tuple)):
        assert type(ours) is type(theirs) and len(ours) == len(theirs), where
        for i, (a, b) in enumerate(zip(ours, theirs)):
            _assert_same(a, b, f"{where}[{i}]")
    else:
        assert ours == theirs and type(ours) is type(theirs), where


def _assert_same_dataset(ours, theirs):
    assert len(ours) == len(theirs) > 0
    for index in range(len(theirs)):
        _assert_same(ours[index], theirs[index], f"{type(ours).__name__}[{index}]")


def _with_mask(img1, img2, flow, valid):
    return img1, img2, flow, np.ones((3, 4), bool) if valid is None else ~valid


FLOW_CASES = [
    ("make_kitti_flow", "KittiFlow", [{}, {"split": "test"}, {"transforms": _with_mask}]),
    ("make_sintel", "Sintel", [{"split": s, "pass_name": p} for s in ("train", "test")
                               for p in ("clean", "final", "both")] + [{"transforms": _with_mask}]),
    ("make_flying_chairs", "FlyingChairs", [{}, {"split": "val"}]),
    ("make_flying_things", "FlyingThings3D",
     [{}, {"split": "test", "pass_name": "both", "camera": "both"},
      {"pass_name": "final", "camera": "right", "transforms": _with_mask}]),
    ("make_hd1k", "HD1K", [{}, {"split": "test"}, {"transforms": _with_mask}]),
]


@pytest.mark.parametrize("writer, name, variants", FLOW_CASES, ids=[c[1] for c in FLOW_CASES])
def test_flow_datasets_match_torchvision(tv_flow, tmp_path, writer, name, variants):
    getattr(fixtures, writer)(str(tmp_path))
    for kwargs in variants:
        _assert_same_dataset(getattr(datasets, name)(str(tmp_path), **kwargs),
                             getattr(tv_flow.datasets, name)(str(tmp_path), **kwargs))


@pytest.mark.parametrize("kind", ["split", "fer", "icml"])
def test_fer2013_matches_torchvision(tv, tmp_path, monkeypatch, kind):
    md5s, _ = fixtures.make_fer2013(str(tmp_path), kind)
    for cls in (datasets.FER2013, tv.datasets.FER2013):
        monkeypatch.setattr(cls, "_RESOURCES", {**cls._RESOURCES, **md5s})
    for split in ("train", "test"):
        _assert_same_dataset(datasets.FER2013(str(tmp_path), split),
                             tv.datasets.FER2013(str(tmp_path), split))


def test_clevr_matches_torchvision(tv, tmp_path):
    fixtures.make_clevr(str(tmp_path))
    for split in ("train", "val", "test"):
        _assert_same_dataset(datasets.CLEVRClassification(str(tmp_path), split),
                             tv.datasets.CLEVRClassification(str(tmp_path), split))


def test_lfw_matches_torchvision(tv, tmp_path, monkeypatch):
    checksums, entry, _ = fixtures.make_lfw(str(tmp_path))
    for cls in (datasets.lfw._LFW, tv.datasets.lfw._LFW):
        monkeypatch.setattr(cls, "checksums", checksums)
        monkeypatch.setattr(cls, "file_dict", {"funneled": entry})
    for split in ("10fold", "train", "test"):
        ours, theirs = (datasets.LFWPeople(str(tmp_path), split),
                        tv.datasets.LFWPeople(str(tmp_path), split))
        assert ours.class_to_idx == theirs.class_to_idx
        _assert_same_dataset(ours, theirs)
        ours, theirs = (datasets.LFWPairs(str(tmp_path), split),
                        tv.datasets.LFWPairs(str(tmp_path), split))
        assert ours.pair_names == theirs.pair_names
        _assert_same_dataset(ours, theirs)


def test_flickr_matches_torchvision(tv, tmp_path):
    ann, _ = fixtures.make_flickr8k(str(tmp_path))
    images = str(tmp_path / "Flicker8k_Dataset")
    _assert_same_dataset(datasets.Flickr8k(images, ann), tv.datasets.Flickr8k(images, ann))
    ann, _ = fixtures.make_flickr30k(str(tmp_path))
    images = str(tmp_path / "flickr30k-images")
    _assert_same_dataset(datasets.Flickr30k(images, ann), tv.datasets.Flickr30k(images, ann))


def test_sbu_matches_torchvision(tv, tmp_path, monkeypatch):
    md5, _ = fixtures.make_sbu(str(tmp_path))
    for cls in (datasets.SBU, tv.datasets.SBU):
        monkeypatch.setattr(cls, "md5_checksum", md5)
    _assert_same_dataset(datasets.SBU(str(tmp_path)), tv.datasets.SBU(str(tmp_path)))


def test_phototour_caches_are_interchangeable(tv, tmp_path):
    """ember's cache file read by torchvision and torchvision's read by ember, both giving
    the samples each builds itself."""
    for who in ("ember", "torchvision"):
        root = tmp_path / who
        fixtures.make_phototour(str(root))
        first = (datasets if who == "ember" else tv.datasets).PhotoTour(str(root), "notredame")
        assert os.path.exists(root / "notredame.pt")
        for train in (True, False):
            _assert_same_dataset(datasets.PhotoTour(str(root), "notredame", train),
                                 tv.datasets.PhotoTour(str(root), "notredame", train))
        assert len(first) == 4


def test_moving_mnist_matches_torchvision(tv, tmp_path):
    fixtures.make_moving_mnist(str(tmp_path))
    for split, ratio in ((None, 10), ("train", 3), ("test", 3)):
        _assert_same_dataset(datasets.MovingMNIST(str(tmp_path), split, ratio),
                             tv.datasets.MovingMNIST(str(tmp_path), split, ratio))


@pytest.mark.parametrize("writer, name, variants", fixtures.STEREO_CASES,
                         ids=[c[1] for c in fixtures.STEREO_CASES])
def test_stereo_datasets_match_torchvision(tv, tmp_path, writer, name, variants):
    writer(str(tmp_path))
    for kwargs, _ in variants:
        _assert_same_dataset(getattr(datasets, name)(str(tmp_path), **kwargs),
                             getattr(tv.datasets, name)(str(tmp_path), **kwargs))


def test_stereo_transforms_and_ambient_views_match_torchvision(tv, tmp_path):
    import random
    fixtures.make_middlebury(str(tmp_path))

    def transforms(images, disparities, masks):
        return images[::-1], disparities, (~masks[0], masks[1])

    samples = []
    for lib in (datasets, tv.datasets):
        random.seed(3)  # the right view is drawn with Python's RNG
        dataset = lib.Middlebury2014Stereo(str(tmp_path), use_ambient_views=True,
                                           transforms=transforms)
        samples.append([dataset[i] for i in range(len(dataset))])
    _assert_same(*samples)
