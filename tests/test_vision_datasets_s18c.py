"""KittiFlow, Sintel, FlyingChairs, FlyingThings3D, HD1K, FER2013, CLEVRClassification,
LFWPeople/LFWPairs, Flickr8k/Flickr30k, SBU, PhotoTour and MovingMNIST on tiny fixtures written
here in the real layouts and formats (.flo, .pfm, 16-bit PNGs written byte by byte with every
PNG row filter, CSV, JSON, HTML, BMP sheets, .npy). No network, no torch. The ``make_*``
writers are shared with tests/conformance/test_vision_datasets_s18c_vs_torchvision.py; each
returns what the samples must be. Data sets that check files by MD5 get the fixture's sums
through ``patch_md5``."""
import hashlib
import json
import os
import struct
import zlib

import numpy as np
import pytest

import ember
from ember.vision import datasets
from ember.vision.datasets._flow_files import (
    _read_16bits_png_with_flow_and_valid_mask,
    _read_flo,
    _read_pfm,
)

pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

_rng = np.random.default_rng(0)


def _image(path, shape=(4, 5, 3), fmt="PNG"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    pixels = _rng.integers(0, 256, shape, dtype=np.uint8)
    Image.fromarray(pixels).save(path, format=fmt)
    return pixels


def _write(path, content):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb" if isinstance(content, bytes) else "w") as f:
        f.write(content)


def _md5(path):
    with open(path, "rb") as f:
        return hashlib.md5(f.read()).hexdigest()


def write_flo(path, flow):
    """Middlebury .flo: magic, width, height, then (H, W, 2) little-endian float32."""
    _, height, width = flow.shape
    _write(path, b"PIEH" + struct.pack("<ii", width, height)
           + flow.transpose(1, 2, 0).astype("<f4").tobytes())


def write_pfm(path, data, little_endian=True):
    """PFM: 'PF' (3 channels) or 'Pf' (1), rows stored bottom first."""
    channels, height, width = data.shape
    header = b"PF\n" if channels == 3 else b"Pf\n"
    scale = b"-1.0\n" if little_endian else b"1.0\n"
    rows = data[:, ::-1].transpose(1, 2, 0).astype("<f4" if little_endian else ">f4")
    _write(path, header + f"{width} {height}\n".encode() + scale + rows.tobytes())


def _paeth(left, up, up_left):
    p = left + up - up_left
    pa, pb, pc = np.abs(p - left), np.abs(p - up), np.abs(p - up_left)
    return np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, up, up_left))


def write_png16(path, samples):
    """A 16-bit RGB (3 channels) or RGBA (4) PNG of ``samples`` (H, W, C) uint16, row r
    filtered with filter type r % 5 (None, Sub, Up, Average, Paeth)."""
    height, width, channels = samples.shape
    rows = samples.astype(">u2").view(np.uint8).reshape(height, -1).astype(np.int64)
    bpp = 2 * channels
    filtered = []
    for r, row in enumerate(rows):
        up = rows[r - 1] if r else np.zeros_like(row)
        left = np.concatenate([np.zeros(bpp, np.int64), row[:-bpp]])
        up_left = np.concatenate([np.zeros(bpp, np.int64), up[:-bpp]])
        kind = r % 5
        predictor = [0, left, up, (left + up) // 2, _paeth(left, up, up_left)][kind]
        filtered.append(bytes([kind]) + ((row - predictor) % 256).astype(np.uint8).tobytes())

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I",
                                                                       zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 16, {3: 2, 4: 6}[channels], 0, 0, 0)
    _write(path, b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
           + chunk(b"IDAT", zlib.compress(b"".join(filtered))) + chunk(b"IEND", b""))


def _flow_png(path, shape=(3, 4), channels=3):
    samples = _rng.integers(0, 65536, shape + (channels,), dtype=np.uint16)
    samples[0, 0, 2] = 0  # one invalid pixel at least
    write_png16(path, samples)
    flow = (samples[:, :, :2].transpose(2, 0, 1).astype(np.float32) - 2 ** 15) / 64
    return flow, samples[:, :, 2] != 0


def _random_flow(shape=(3, 4)):
    return _rng.standard_normal((2,) + shape).astype(np.float32)


# --------------------------------------------------------------------------------------------
# fixture writers


def make_kitti_flow(root):
    """{split: [(img1, img2, flow, valid)]}; flow and valid None for test."""
    out = {"train": [], "test": []}
    for split, folder in (("train", "training"), ("test", "testing")):
        base = os.path.join(root, "KittiFlow", folder)
        for k in range(2):
            img1 = _image(os.path.join(base, "image_2", f"{k:06d}_10.png"), (3, 4, 3))
            img2 = _image(os.path.join(base, "image_2", f"{k:06d}_11.png"), (3, 4, 3))
            flow = valid = None
            if split == "train":
                flow, valid = _flow_png(os.path.join(base, "flow_occ", f"{k:06d}_10.png"))
            out[split].append((img1, img2, flow, valid))
    return out


def make_sintel(root):
    """{(split, pass_name): [(img1, img2, flow)]} with the scenes in listing order."""
    base = os.path.join(root, "Sintel")
    frames, flows = {}, {}
    for split_dir, scenes in (("training", ("alley", "bamboo")), ("test", ("cave",))):
        for pass_name in ("clean", "final"):
            for scene in scenes:
                frames[split_dir, pass_name, scene] = [
                    _image(os.path.join(base, split_dir, pass_name, scene, f"frame_{i:04d}.png"),
                           (3, 4, 3)) for i in range(1, 4)]
    for scene in ("alley", "bamboo"):
        flows[scene] = [_random_flow() for _ in range(2)]
        for i, flow in enumerate(flows[scene]):
            write_flo(os.path.join(base, "training", "flow", scene, f"frame_{i + 1:04d}.flo"), flow)
    out = {}
    for split, split_dir in (("train", "training"), ("test", "test")):
        for pass_name in ("clean", "final", "both"):
            samples = []
            for name in (["clean", "final"] if pass_name == "both" else [pass_name]):
                for scene in os.listdir(os.path.join(base, split_dir, name)):
                    imgs = frames[split_dir, name, scene]
                    samples += [(imgs[i], imgs[i + 1], flows[scene][i] if split == "train"
                                 else None) for i in range(2)]
            out[split, pass_name] = samples
    return out


def make_flying_chairs(root):
    """{split: [(img1, img2, flow)]}: pairs 1 and 3 train, 2 val."""
    base = os.path.join(root, "FlyingChairs")
    out = {"train": [], "val": []}
    for i, split in enumerate(["train", "val", "train"], 1):
        img1 = _image(os.path.join(base, "data", f"{i:05d}_img1.ppm"), (3, 4, 3), "PPM")
        img2 = _image(os.path.join(base, "data", f"{i:05d}_img2.ppm"), (3, 4, 3), "PPM")
        flow = _random_flow()
        write_flo(os.path.join(base, "data", f"{i:05d}_flow.flo"), flow)
        out[split].append((img1, img2, flow))
    _write(os.path.join(base, "FlyingChairs_train_val.txt"), "1\n2\n1\n")
    return out


def make_flying_things(root):
    """{(split, pass_name, camera): [(img1, img2, flow)]} (one sequence, three frames)."""
    base = os.path.join(root, "FlyingThings3D")
    frames, flows = {}, {}
    for split in ("TRAIN", "TEST"):
        for frames_dir in ("frames_cleanpass", "frames_finalpass"):
            for cam in ("left", "right"):
                frames[split, frames_dir, cam] = [
                    _image(os.path.join(base, frames_dir, split, "A", "0000", cam,
                                        f"{i:04d}.png"), (3, 4, 3)) for i in range(6, 9)]
        for direction in ("into_future", "into_past"):
            for cam in ("left", "right"):
                data = [_rng.standard_normal((3, 3, 4)).astype(np.float32) for _ in range(3)]
                flows[split, direction, cam] = [d[:2] for d in data]
                for i, d in enumerate(data):
                    write_pfm(os.path.join(base, "optical_flow", split, "A", "0000", direction,
                                           cam, f"OpticalFlow_{i + 6:04d}.pfm"), d,
                              little_endian=i % 2 == 0)
    out = {}
    for split in ("train", "test"):
        for pass_name, dirs in (("clean", ["frames_cleanpass"]), ("final", ["frames_finalpass"]),
                                ("both", ["frames_cleanpass", "frames_finalpass"])):
            for camera in ("left", "right", "both"):
                samples = []
                for frames_dir in dirs:
                    for cam in (["left", "right"] if camera == "both" else [camera]):
                        imgs = frames[split.upper(), frames_dir, cam]
                        future = flows[split.upper(), "into_future", cam]
                        past = flows[split.upper(), "into_past", cam]
                        samples += [(imgs[i], imgs[i + 1], future[i]) for i in range(2)]
                        samples += [(imgs[i + 1], imgs[i], past[i + 1]) for i in range(2)]
                out[split, pass_name, camera] = samples
    return out


def make_hd1k(root):
    """{split: [(img1, img2, flow, valid)]}: sequences 0 (3 frames) and 1 (2 frames)."""
    base = os.path.join(root, "hd1k")
    out = {"train": [], "test": []}
    for seq, count in ((0, 3), (1, 2)):
        imgs = [_image(os.path.join(base, "hd1k_input", "image_2", f"{seq:06d}_{i:04d}.png"),
                       (3, 4, 3)) for i in range(count)]
        flows = [_flow_png(os.path.join(base, "hd1k_flow_gt", "flow_occ",
                                        f"{seq:06d}_{i:04d}.png"), channels=3 + i % 2)
                 for i in range(count)]
        out["train"] += [(imgs[i], imgs[i + 1]) + flows[i] for i in range(count - 1)]
    img1 = _image(os.path.join(base, "hd1k_challenge", "image_2", "000000_10.png"), (3, 4, 3))
    img2 = _image(os.path.join(base, "hd1k_challenge", "image_2", "000000_11.png"), (3, 4, 3))
    out["test"] = [(img1, img2, None, None)]
    return out


_FER_USAGES = ["Training", "PublicTest", "Training", "PrivateTest"]


def make_fer2013(root, kind="split"):
    """kind ``"split"`` (train.csv + test.csv), ``"fer"`` or ``"icml"``. Returns (md5s for
    _RESOURCES, {split: [(pixels, label)]})."""
    folder = os.path.join(root, "fer2013")
    faces = [_rng.integers(0, 256, (48, 48), dtype=np.uint8) for _ in _FER_USAGES]
    labels = [int(v) for v in _rng.integers(0, 7, len(faces))]
    text = [" ".join(str(v) for v in face.ravel()) for face in faces]
    md5s = {}
    if kind == "split":
        train = [i for i, u in enumerate(_FER_USAGES) if u == "Training"]
        test = [i for i, u in enumerate(_FER_USAGES) if u != "Training"]
        _write(os.path.join(folder, "train.csv"),
               "emotion,pixels\n" + "".join(f'{labels[i]},"{text[i]}"\n' for i in train))
        _write(os.path.join(folder, "test.csv"),
               "pixels\n" + "".join(f'"{text[i]}"\n' for i in test))
        md5s = {"train": ("train.csv", _md5(os.path.join(folder, "train.csv"))),
                "test": ("test.csv", _md5(os.path.join(folder, "test.csv")))}
        return md5s, {"train": [(faces[i], labels[i]) for i in train],
                      "test": [(faces[i], None) for i in test]}
    if kind == "fer":
        body = "emotion,pixels,Usage\n" + "".join(
            f'{labels[i]},"{text[i]}",{u}\n' for i, u in enumerate(_FER_USAGES))
        name = "fer2013.csv"
    else:
        body = "emotion, Usage, pixels\n" + "".join(
            f'{labels[i]},{u},"{text[i]}"\n' for i, u in enumerate(_FER_USAGES))
        name = "icml_face_data.csv"
    _write(os.path.join(folder, name), body)
    md5s = {kind: (name, _md5(os.path.join(folder, name)))}
    return md5s, {"train": [(faces[i], labels[i]) for i, u in enumerate(_FER_USAGES)
                            if u == "Training"],
                  "test": [(faces[i], labels[i]) for i, u in enumerate(_FER_USAGES)
                           if u != "Training"]}


def make_clevr(root):
    """{split: [(pixels, label)]} (images sorted by name)."""
    base = os.path.join(root, "clevr", "CLEVR_v1.0")
    out = {}
    for split in ("train", "val", "test"):
        samples, scenes = [], []
        for i in (1, 0):  # written out of order: the data set sorts
            name = f"CLEVR_{split}_{i:06d}.png"
            pixels = _image(os.path.join(base, "images", split, name))
            count = int(_rng.integers(1, 6))
            scenes.append({"image_filename": name, "objects": [{"shape": "cube"}] * count})
            samples.append((name, pixels, None if split == "test" else count))
        if split != "test":
            _write(os.path.join(base, "scenes", f"CLEVR_{split}_scenes.json"),
                   json.dumps({"info": {}, "scenes": scenes}))
        out[split] = [(p, c) for _, p, c in sorted(samples, key=lambda s: s[0])]
    return out


_LFW_PEOPLE = {"Alice_A": 2, "Bob_B": 1, "Carol_C": 3}


def make_lfw(root):
    """Returns (checksums, file_dict entry for 'funneled', {name: {index: pixels}})."""
    base = os.path.join(root, "lfw-py")
    images = {name: {i: _image(os.path.join(base, "lfw_funneled", name, f"{name}_{i:04d}.jpg"))
                     for i in range(1, n + 1)} for name, n in _LFW_PEOPLE.items()}
    _write(os.path.join(base, "lfw-funneled.tgz"), b"not really an archive")
    files = {
        "lfw-names.txt": "".join(f"{name}\t{n}\n" for name, n in _LFW_PEOPLE.items()),
        "people.txt": "2\n1\nCarol_C\t3\n2\nAlice_A\t2\nBob_B\t1\n",
        "peopleDevTrain.txt": "2\nBob_B\t1\nAlice_A\t1\n",
        "peopleDevTest.txt": "1\nCarol_C\t2\n",
        "pairs.txt": "2\t1\nAlice_A\t1\t2\nAlice_A\t2\tBob_B\t1\n"
                     "Carol_C\t1\t3\nCarol_C\t2\tAlice_A\t1\n",
        "pairsDevTrain.txt": "2\nCarol_C\t2\t3\nAlice_A\t1\t2\nBob_B\t1\tCarol_C\t1\n"
                             "Alice_A\t2\tCarol_C\t3\n",
        "pairsDevTest.txt": "1\nAlice_A\t2\t1\nBob_B\t1\tAlice_A\t1\n",
    }
    for name, text in files.items():
        _write(os.path.join(base, name), text)
    checksums = {name: _md5(os.path.join(base, name)) for name in files}
    entry = ("lfw_funneled", "lfw-funneled.tgz", _md5(os.path.join(base, "lfw-funneled.tgz")))
    return checksums, entry, images


def make_flickr8k(root):
    """Returns (annotation file, [(pixels, captions)] sorted by path)."""
    images = os.path.join(root, "Flicker8k_Dataset")
    found = {}
    rows = []
    for image_id, captions in (("333", ["a dog", "a brown dog "]), ("111", ["two cats"]),
                               ("222", ["a boat", "on a lake", "at dawn"])):
        path = os.path.join(images, f"{image_id}_abc{image_id}.jpg")
        found[path] = (_image(path), [c.strip() for c in captions])
        items = "".join(f"<li>{c}</li>" for c in captions)
        rows.append(f'<tr><td><a href="http://x/{image_id}/">http://www.flickr.com/photos/u/'
                    f"{image_id}/</a></td><td><ul>{items}</ul></td></tr>")
    rows.append("<tr><td>Image Not Found</td><td><ul><li>lost</li></ul></td></tr>")
    ann = os.path.join(root, "Flickr8k.html")
    _write(ann, "<html><body><p>intro</p><table>" + "".join(rows) + "</table></body></html>")
    return ann, [found[p] for p in sorted(found)]


def make_flickr30k(root):
    images = os.path.join(root, "flickr30k-images")
    lines, captions = [], {}
    for name in ("20.jpg", "10.jpg"):
        captions[name] = [f"caption {k} of {name}" for k in range(2)]
        lines += [f"{name}#{k}\t{c}" for k, c in enumerate(captions[name])]
    pixels = {name: _image(os.path.join(images, name)) for name in captions}
    ann = os.path.join(root, "results_20130124.token")
    _write(ann, "\n".join(lines) + "\n")
    return ann, [(pixels[n], captions[n]) for n in sorted(captions)]


def make_sbu(root):
    """Returns (md5 of the archive, [(pixels, caption)]): the 2nd photo is missing."""
    _write(os.path.join(root, "SBUCaptionedPhotoDataset.tar.gz"), b"archive bytes")
    folder = os.path.join(root, "dataset")
    names = ["1_a.jpg", "2_b.jpg", "3_c.jpg"]
    captions = ["a red car", "lost photo", "a tree in snow"]
    _write(os.path.join(folder, "SBU_captioned_photo_dataset_urls.txt"),
           "".join(f"http://static.flickr.com/x/{n}\n" for n in names))
    _write(os.path.join(folder, "SBU_captioned_photo_dataset_captions.txt"),
           "".join(c + " \n" for c in captions))
    samples = []
    for i, (name, caption) in enumerate(zip(names, captions)):
        if i != 1:
            samples.append((_image(os.path.join(folder, name)), caption))
    return _md5(os.path.join(root, "SBUCaptionedPhotoDataset.tar.gz")), samples


def make_phototour(root, name="notredame"):
    """Returns (patches (N, 64, 64), labels, matches (M, 3))."""
    folder = os.path.join(root, name)
    sheets = [_rng.integers(0, 256, (128, 64), dtype=np.uint8),
              _rng.integers(0, 256, (64, 100), dtype=np.uint8)]  # a partial column: zero-fill
    for i, sheet in enumerate(sheets):
        os.makedirs(folder, exist_ok=True)
        Image.fromarray(sheet).save(os.path.join(folder, f"patches{i:04d}.bmp"))
    wide = np.zeros((64, 128), np.uint8)
    wide[:, :100] = sheets[1]
    patches = np.stack([sheets[0][:64], sheets[0][64:], wide[:, :64], wide[:, 64:]])
    labels = np.array([7, 7, 9, 11])
    _write(os.path.join(folder, "info.txt"), "".join(f"{v} 0\n" for v in labels))
    rows = [(0, 7, 0, 1, 7, 0), (2, 9, 0, 3, 11, 0), (3, 11, 0, 0, 7, 0)]
    _write(os.path.join(folder, "m50_100000_100000_0.txt"),
           "".join(" ".join(str(v) for v in r) + "\n" for r in rows))
    matches = np.array([[a, d, int(b == e)] for a, b, _, d, e, _ in rows])
    return patches, labels, matches


def make_moving_mnist(root):
    data = _rng.integers(0, 256, (20, 3, 4, 5), dtype=np.uint8)
    os.makedirs(os.path.join(root, "MovingMNIST"))
    np.save(os.path.join(root, "MovingMNIST", "mnist_test_seq.npy"), data)
    return data


# --------------------------------------------------------------------------------------------
# file readers


def test_read_flo_and_pfm(tmp_path):
    flow = _random_flow((2, 3))
    write_flo(tmp_path / "a.flo", flow)
    got = _read_flo(str(tmp_path / "a.flo"))
    assert got.dtype == np.float32 and got.shape == (2, 2, 3)
    np.testing.assert_array_equal(got, flow)
    for channels, little in ((3, True), (1, False)):
        data = _rng.standard_normal((channels, 2, 3)).astype(np.float32)
        write_pfm(tmp_path / "b.pfm", data, little)
        np.testing.assert_array_equal(_read_pfm(str(tmp_path / "b.pfm")), data[:2])
        np.testing.assert_array_equal(_read_pfm(str(tmp_path / "b.pfm"), 1), data[:1])


def test_read_16bit_png_every_filter(tmp_path):
    for channels in (3, 4):
        flow, valid = _flow_png(str(tmp_path / f"f{channels}.png"), (7, 5), channels)
        got_flow, got_valid = _read_16bits_png_with_flow_and_valid_mask(
            str(tmp_path / f"f{channels}.png"))
        assert got_flow.dtype == np.float32 and got_valid.dtype == bool
        np.testing.assert_array_equal(got_flow, flow)
        np.testing.assert_array_equal(got_valid, valid)
    pixels = _image(str(tmp_path / "eight.png"), (2, 3, 3))  # 8-bit samples, as decode_png
    got_flow, got_valid = _read_16bits_png_with_flow_and_valid_mask(str(tmp_path / "eight.png"))
    np.testing.assert_array_equal(got_flow, (pixels[..., :2].transpose(2, 0, 1) - 2.0 ** 15) / 64)
    np.testing.assert_array_equal(got_valid, pixels[..., 2] != 0)


def test_corrupt_flow_files_name_the_file(tmp_path):
    write_flo(tmp_path / "a.flo", _random_flow())
    data = (tmp_path / "a.flo").read_bytes()
    for name, content, reader in (
            ("magic.flo", b"XXXX" + data[4:], _read_flo), ("short.flo", data[:-4], _read_flo),
            ("head.flo", data[:6], _read_flo),
            ("bad.pfm", b"P6\n1 1\n-1\n" + bytes(12), _read_pfm),
            ("dims.pfm", b"PF\n1 x\n-1\n" + bytes(12), _read_pfm),
            ("short.pfm", b"PF\n2 2\n-1\n" + bytes(12), _read_pfm),
            ("flow.png", b"\x89PNG\r\n\x1a\n" + bytes(20),
             _read_16bits_png_with_flow_and_valid_mask)):
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ValueError, match=name):
            reader(str(tmp_path / name))
    Image.fromarray(np.zeros((2, 2), np.uint8)).save(tmp_path / "grey.png")
    with pytest.raises(ValueError, match="grey.png.*3 or 4 channels"):
        _read_16bits_png_with_flow_and_valid_mask(str(tmp_path / "grey.png"))


# --------------------------------------------------------------------------------------------
# optical flow


def _check_flow_samples(dataset, expected):
    assert len(dataset) == len(expected)
    for sample, want in zip(dataset, expected):
        assert len(sample) == len(want)
        img1, img2 = sample[:2]
        assert img1.mode == "RGB" and img2.mode == "RGB"
        np.testing.assert_array_equal(np.asarray(img1), want[0])
        np.testing.assert_array_equal(np.asarray(img2), want[1])
        for got, exp in zip(sample[2:], want[2:]):
            if exp is None:
                assert got is None
            else:
                assert got.dtype == exp.dtype and got.shape == exp.shape
                np.testing.assert_array_equal(got, exp)


def test_kitti_flow(tmp_path):
    expected = make_kitti_flow(str(tmp_path))
    for split in ("train", "test"):
        _check_flow_samples(datasets.KittiFlow(str(tmp_path), split=split), expected[split])
    with pytest.raises(FileNotFoundError, match="Could not find the Kitti flow images"):
        datasets.KittiFlow(str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="Unknown value 'val' for argument split"):
        datasets.KittiFlow(str(tmp_path), split="val")


def test_sintel(tmp_path):
    expected = make_sintel(str(tmp_path))
    for (split, pass_name), samples in expected.items():
        _check_flow_samples(datasets.Sintel(str(tmp_path), split, pass_name), samples)
    assert len(datasets.Sintel(str(tmp_path))) == 4
    with pytest.raises(ValueError, match="pass_name"):
        datasets.Sintel(str(tmp_path), pass_name="albedo")


def test_flow_transforms_and_mask_from_transform(tmp_path):
    expected = make_sintel(str(tmp_path))["train", "clean"]
    calls = []

    def transforms(img1, img2, flow, valid):
        calls.append(valid)
        return img1, img2, flow * 2, np.ones(flow.shape[1:], bool)

    sample = datasets.Sintel(str(tmp_path), transforms=transforms)[0]
    assert calls == [None] and len(sample) == 4  # the mask the transform made is returned
    np.testing.assert_array_equal(sample[2], expected[0][2] * 2)
    doubled = 2 * datasets.Sintel(str(tmp_path))
    assert len(doubled) == 8


def test_flying_chairs(tmp_path):
    expected = make_flying_chairs(str(tmp_path))
    for split in ("train", "val"):
        _check_flow_samples(datasets.FlyingChairs(str(tmp_path), split=split), expected[split])
    os.remove(tmp_path / "FlyingChairs" / "FlyingChairs_train_val.txt")
    with pytest.raises(FileNotFoundError, match="FlyingChairs_train_val.txt file was not found"):
        datasets.FlyingChairs(str(tmp_path))


def test_flying_things3d(tmp_path):
    expected = make_flying_things(str(tmp_path))
    for (split, pass_name, camera), samples in expected.items():
        _check_flow_samples(datasets.FlyingThings3D(str(tmp_path), split, pass_name, camera),
                            samples)
    with pytest.raises(FileNotFoundError, match="Could not find the FlyingThings3D"):
        datasets.FlyingThings3D(str(tmp_path / "missing"))


def test_hd1k(tmp_path):
    expected = make_hd1k(str(tmp_path))
    for split in ("train", "test"):
        _check_flow_samples(datasets.HD1K(str(tmp_path), split=split), expected[split])
    with pytest.raises(FileNotFoundError, match="Could not find the HD1K images"):
        datasets.HD1K(str(tmp_path / "missing"))


# --------------------------------------------------------------------------------------------
# classification, captions, patches, videos


def _check_image_samples(dataset, expected, mode="RGB"):
    assert len(dataset) == len(expected)
    for (img, target), (pixels, want) in zip(dataset, expected):
        assert img.mode == mode
        np.testing.assert_array_equal(np.asarray(img), pixels)
        assert target == want and type(target) is type(want)


@pytest.mark.parametrize("kind", ["split", "fer", "icml"])
def test_fer2013(tmp_path, monkeypatch, kind):
    md5s, expected = make_fer2013(str(tmp_path), kind)
    monkeypatch.setattr(datasets.FER2013, "_RESOURCES", {**datasets.FER2013._RESOURCES, **md5s})
    for split in ("train", "test"):
        _check_image_samples(datasets.FER2013(str(tmp_path), split), expected[split], "L")


def test_fer2013_errors(tmp_path, monkeypatch):
    with pytest.raises(RuntimeError, match="train.csv not found in .*fer2013 or corrupted"):
        datasets.FER2013(str(tmp_path))
    md5s, _ = make_fer2013(str(tmp_path))
    with pytest.raises(RuntimeError, match="train.csv not found"):  # the real MD5 differs
        datasets.FER2013(str(tmp_path))
    path = tmp_path / "fer2013" / "train.csv"
    path.write_text("emotion,pixels\n3,\"1 2 3\"\n")
    monkeypatch.setattr(datasets.FER2013, "_RESOURCES",
                        {**datasets.FER2013._RESOURCES, "train": ("train.csv", _md5(path))})
    with pytest.raises(RuntimeError, match="train.csv.*48x48"):
        datasets.FER2013(str(tmp_path))


def test_clevr(tmp_path):
    expected = make_clevr(str(tmp_path))
    for split in ("train", "val", "test"):
        _check_image_samples(datasets.CLEVRClassification(str(tmp_path), split), expected[split])
    with pytest.raises(RuntimeError, match="Dataset not found or corrupted"):
        datasets.CLEVRClassification(str(tmp_path / "missing"))
    _write(str(tmp_path / "clevr" / "CLEVR_v1.0" / "scenes" / "CLEVR_val_scenes.json"), "{}")
    with pytest.raises(RuntimeError, match="CLEVR_val_scenes.json"):
        datasets.CLEVRClassification(str(tmp_path), "val")


@pytest.fixture
def lfw_root(tmp_path, monkeypatch):
    checksums, entry, images = make_lfw(str(tmp_path))
    monkeypatch.setattr(datasets.lfw._LFW, "checksums", checksums)
    monkeypatch.setattr(datasets.lfw._LFW, "file_dict", {"funneled": entry})
    return str(tmp_path), images


def test_lfw_people(lfw_root):
    root, images = lfw_root
    index = {name: i for i, name in enumerate(_LFW_PEOPLE)}
    people = {"10fold": [("Carol_C", 3), ("Alice_A", 2), ("Bob_B", 1)],
              "train": [("Bob_B", 1), ("Alice_A", 1)], "test": [("Carol_C", 2)]}
    for split, listed in people.items():
        expected = [(images[name][i], index[name]) for name, n in listed for i in range(1, n + 1)]
        dataset = datasets.LFWPeople(root, split=split)
        _check_image_samples(dataset, expected)
        assert dataset.class_to_idx == index
    assert "Classes (identities): 3" in repr(datasets.LFWPeople(root))


def test_lfw_pairs(lfw_root):
    root, images = lfw_root
    pairs = {"10fold": [("Alice_A", 1, "Alice_A", 2, 1), ("Alice_A", 2, "Bob_B", 1, 0),
                        ("Carol_C", 1, "Carol_C", 3, 1), ("Carol_C", 2, "Alice_A", 1, 0)],
             "train": [("Carol_C", 2, "Carol_C", 3, 1), ("Alice_A", 1, "Alice_A", 2, 1),
                       ("Bob_B", 1, "Carol_C", 1, 0), ("Alice_A", 2, "Carol_C", 3, 0)],
             "test": [("Alice_A", 2, "Alice_A", 1, 1), ("Bob_B", 1, "Alice_A", 1, 0)]}
    for split, listed in pairs.items():
        dataset = datasets.LFWPairs(root, split=split)
        assert len(dataset) == len(listed)
        assert dataset.pair_names == [(a, b) for a, _, b, _, _ in listed]
        for (img1, img2, same), (a, i, b, j, want) in zip(dataset, listed):
            np.testing.assert_array_equal(np.asarray(img1), images[a][i])
            np.testing.assert_array_equal(np.asarray(img2), images[b][j])
            assert same == want


def test_lfw_errors(lfw_root, tmp_path):
    root, _ = lfw_root
    with pytest.raises(ValueError, match="no longer available for automatic download"):
        datasets.LFWPeople(root, download=True)
    with pytest.raises(RuntimeError, match="Dataset not found or corrupted"):
        datasets.LFWPairs(str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="image_set"):
        datasets.LFWPairs(root, image_set="aligned")


def test_flickr(tmp_path):
    ann, expected = make_flickr8k(str(tmp_path))
    _check_image_samples(datasets.Flickr8k(str(tmp_path / "Flicker8k_Dataset"), ann), expected)
    ann, expected = make_flickr30k(str(tmp_path))
    _check_image_samples(datasets.Flickr30k(str(tmp_path / "flickr30k-images"), ann), expected)
    _write(ann, "10.jpg#0 no tab here\n")
    with pytest.raises(ValueError, match="results_20130124.token, line 1"):
        datasets.Flickr30k(str(tmp_path / "flickr30k-images"), ann)


def test_sbu(tmp_path, monkeypatch):
    md5, expected = make_sbu(str(tmp_path))
    with pytest.raises(RuntimeError, match="Dataset not found or corrupted"):
        datasets.SBU(str(tmp_path), download=False)  # the real MD5 differs
    monkeypatch.setattr(datasets.SBU, "md5_checksum", md5)
    dataset = datasets.SBU(str(tmp_path))  # download=True finds the verified archive
    _check_image_samples(dataset, expected)
    assert dataset.photos == ["1_a.jpg", "3_c.jpg"]


def test_phototour_builds_and_reuses_its_cache(tmp_path):
    patches, labels, matches = make_phototour(str(tmp_path))
    train = datasets.PhotoTour(str(tmp_path), "notredame")
    assert os.path.exists(tmp_path / "notredame.pt")
    assert len(train) == 4 and (train.mean, train.std) == (0.4854, 0.1864)
    for i in range(4):
        patch = train[i]
        assert patch.dtype == ember.uint8 and tuple(patch.shape) == (64, 64)
        np.testing.assert_array_equal(patch.numpy(), patches[i])
    np.testing.assert_array_equal(train.labels.numpy(), labels)
    test = datasets.PhotoTour(str(tmp_path), "notredame", train=False)  # from the cache
    assert len(test) == 3
    for (p1, p2, same), (a, b, want) in zip(test, matches):
        np.testing.assert_array_equal(p1.numpy(), patches[a])
        np.testing.assert_array_equal(p2.numpy(), patches[b])
        assert same.item() == want and same.dtype == ember.int64


def test_phototour_refuses_a_hostile_cache(tmp_path):
    import pickle

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    (tmp_path / "liberty.pt").write_bytes(pickle.dumps(Evil()))
    with pytest.raises(RuntimeError, match="liberty.pt: not a PhotoTour cache"):
        datasets.PhotoTour(str(tmp_path), "liberty")


def test_moving_mnist(tmp_path):
    data = make_moving_mnist(str(tmp_path))
    videos = data.transpose(1, 0, 2, 3)[:, :, None]
    for split, ratio, want in ((None, 10, videos), ("train", 7, videos[:, :7]),
                               ("test", 7, videos[:, 7:])):
        dataset = datasets.MovingMNIST(str(tmp_path), split=split, split_ratio=ratio)
        assert len(dataset) == 3
        for i in range(3):
            assert dataset[i].dtype == ember.uint8
            np.testing.assert_array_equal(dataset[i].numpy(), want[i])
    with pytest.raises(ValueError, match="1 <= split_ratio <= 19"):
        datasets.MovingMNIST(str(tmp_path), split="train", split_ratio=20)
    with pytest.raises(RuntimeError, match="Dataset not found. You can use download=True"):
        datasets.MovingMNIST(str(tmp_path / "missing"))


def test_moving_mnist_never_unpickles(tmp_path):
    os.makedirs(tmp_path / "MovingMNIST")
    np.save(tmp_path / "MovingMNIST" / "mnist_test_seq.npy", np.array([{"a": 1}], dtype=object))
    with pytest.raises(RuntimeError, match="mnist_test_seq.npy: not a valid .npy"):
        datasets.MovingMNIST(str(tmp_path))


# --------------------------------------------------------------------------------------------
# stereo matching: each writer returns [(left, right, disparity[, mask])] as the samples


def _grey16(path, shape=(3, 4), high=65536):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    values = _rng.integers(1, high, shape, dtype=np.uint16)
    Image.fromarray(values).save(path)  # a 16-bit greyscale PNG
    return values


def _mask(path, shape=(3, 4)):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    values = _rng.choice(np.array([0, 255], np.uint8), shape)
    Image.fromarray(values).save(path, format="PNG")
    return values


def _pfm_map(path, shape=(3, 4)):
    """A one-channel PFM with negative and infinite entries; returns what it holds."""
    values = _rng.standard_normal((1,) + shape).astype(np.float32)
    values[0, 0, 0] = -np.inf
    write_pfm(path, values, little_endian=bool(_rng.integers(2)))
    return values


def make_kitti2012(root):
    out = {}
    for split in ("train", "test"):
        base = os.path.join(root, "Kitti2012", split + "ing")
        samples = []
        for k in range(2):
            left = _image(os.path.join(base, "colored_0", f"{k:06d}_10.png"), (3, 4, 3))
            right = _image(os.path.join(base, "colored_1", f"{k:06d}_10.png"), (3, 4, 3))
            _image(os.path.join(base, "colored_0", f"{k:06d}_11.png"), (3, 4, 3))  # not listed
            disp = None
            if split == "train":
                disp = (_grey16(os.path.join(base, "disp_noc", f"{k:06d}_10.png")) / 256.0)[None]
            samples.append((left, right, disp, None))
        out[split] = samples
    return out


def make_kitti2015(root):
    out = {}
    for split in ("train", "test"):
        base = os.path.join(root, "Kitti2015", split + "ing")
        samples = []
        for k in range(2):
            grey = _image(os.path.join(base, "image_2", f"{k:06d}_10.png"), (3, 4))
            left = np.repeat(grey[..., None], 3, axis=2)  # read as RGB
            right = _image(os.path.join(base, "image_3", f"{k:06d}_10.png"), (3, 4, 3))
            disp = None
            if split == "train":
                disp = (_grey16(os.path.join(base, "disp_occ_0", f"{k:06d}_10.png")) / 256.0)[None]
                _grey16(os.path.join(base, "disp_occ_1", f"{k:06d}_10.png"))
            samples.append((left, right, disp, None))
        out[split] = samples
    return out


def make_carla(root):
    samples = []
    for scene in ("a", "b"):
        base = os.path.join(root, "carla-highres", "trainingF", scene)
        left, right = (_image(os.path.join(base, f"im{i}.png"), (3, 4, 3)) for i in (0, 1))
        disp = np.abs(_pfm_map(os.path.join(base, "disp0GT.pfm")))
        _pfm_map(os.path.join(base, "disp1GT.pfm"))
        samples.append((left, right, disp))
    return samples


def make_middlebury(root):
    out = {"perfect": [], "imperfect": []}
    for calibration in ("perfect", "imperfect"):
        for scene in ("Adirondack", "Piano"):
            base = os.path.join(root, "Middlebury2014", "train", f"{scene}-{calibration}")
            left, right = (_image(os.path.join(base, f"im{i}.png"), (3, 4, 3)) for i in (0, 1))
            _image(os.path.join(base, "im1E.png"), (3, 4, 3))
            disp = np.abs(_pfm_map(os.path.join(base, "disp0.pfm")))
            disp[np.isinf(disp)] = 0
            _pfm_map(os.path.join(base, "disp1.pfm"))
            out[calibration].append((left, right, disp, disp[0] > 0))
    out["both"] = out["perfect"] + out["imperfect"]
    base = os.path.join(root, "Middlebury2014", "test", "Plants")
    out["test"] = [tuple(_image(os.path.join(base, f"im{i}.png"), (3, 4, 3)) for i in (0, 1))
                   + (None, None)]
    return out


def make_crestereo(root):
    samples = []
    for folder in ("shapenet", "reflective", "tree", "hole"):
        base = os.path.join(root, "CREStereo", folder)
        left = _image(os.path.join(base, "0_left.jpg"), (3, 4, 3))  # PNG bytes: lossless
        right = _image(os.path.join(base, "0_right.jpg"), (3, 4, 3))
        disp = _grey16(os.path.join(base, "0_left.disp.png")).astype(np.float32)[None] / 32.0
        _grey16(os.path.join(base, "0_right.disp.png"))
        samples.append((left, right, disp, None))
    return samples


def make_falling_things(root):
    out = {}
    for variant, folder in (("single", os.path.join("single", "mug", "kitchen")),
                            ("mixed", os.path.join("mixed", "kitchen"))):
        base = os.path.join(root, "FallingThings", folder)
        fx = float(_rng.integers(700, 800))
        _write(os.path.join(base, "_camera_settings.json"), json.dumps(
            {"camera_settings": [{"intrinsic_settings": {"fx": fx, "fy": fx}}]}))
        samples = []
        for k in range(2):
            left = _image(os.path.join(base, f"{k:06d}.left.jpg"), (3, 4, 3))
            right = _image(os.path.join(base, f"{k:06d}.right.jpg"), (3, 4, 3))
            depth = _grey16(os.path.join(base, f"{k:06d}.left.depth.png"))
            _grey16(os.path.join(base, f"{k:06d}.right.depth.png"))
            samples.append((left, right, ((6 * fx * 100) / depth.astype(np.float32))[None]))
        out[variant] = samples
    out["both"] = out["single"] + out["mixed"]
    return out


def make_sceneflow(root):
    out = {}
    for variant, prefix in (("FlyingThings3D", os.path.join("TRAIN", "A", "0000")),
                            ("Monkaa", "funnyworld")):
        base = os.path.join(root, "SceneFlow", variant)
        disps = [np.abs(_pfm_map(os.path.join(base, "disparity", prefix, "left", f"{i:04d}.pfm")))
                 for i in range(2)]
        for i in range(2):
            _pfm_map(os.path.join(base, "disparity", prefix, "right", f"{i:04d}.pfm"))
        for frames in ("frames_cleanpass", "frames_finalpass"):
            out[variant, frames] = [
                tuple(_image(os.path.join(base, frames, prefix, side, f"{i:04d}.png"), (3, 4, 3))
                      for side in ("left", "right")) + (disps[i],) for i in range(2)]
    return out


def make_sintel_stereo(root):
    base = os.path.join(root, "Sintel", "training")
    disps = []
    for frame in ("frame_0001.png", "frame_0002.png"):
        rgb = _image(os.path.join(base, "disparities", "alley", frame), (3, 4, 3))
        rgb = rgb.astype(np.float32)
        occluded = _mask(os.path.join(base, "occlusions", "alley", frame))
        outside = _mask(os.path.join(base, "outofframe", "alley", frame))
        disp = rgb[..., 0] * 4 + rgb[..., 1] / 2 ** 6 + rgb[..., 2] / 2 ** 14
        disps.append((disp[None], (occluded == 0) & (outside == 0)))
    out = {}
    for name in ("final", "clean"):
        out[name] = [
            tuple(_image(os.path.join(base, f"{name}_{side}", "alley", f"frame_{i:04d}.png"),
                         (3, 4, 3)) for side in ("left", "right")) + disps[i - 1]
            for i in (1, 2)]
    out["both"] = out["final"] + out["clean"]
    return out


def make_instereo2k(root):
    out = {}
    for split in ("train", "test"):
        samples = []
        for scene in ("s1", "s2"):
            base = os.path.join(root, "InStereo2k", split, scene)
            left, right = (_image(os.path.join(base, f"{s}.png"), (3, 4, 3))
                           for s in ("left", "right"))
            disp = _grey16(os.path.join(base, "left_disp.png")).astype(np.float32)[None] / 1024.0
            _grey16(os.path.join(base, "right_disp.png"))
            samples.append((left, right, disp))
        out[split] = samples
    return out


def make_eth3d(root):
    base = os.path.join(root, "ETH3D")
    train = []
    for scene in ("delivery", "forest"):
        left, right = (_image(os.path.join(base, "two_view_training", scene, f"im{i}.png"),
                              (3, 4, 3)) for i in (0, 1))
        disp = np.abs(_pfm_map(os.path.join(base, "two_view_training_gt", scene, "disp0GT.pfm")))
        mask = _mask(os.path.join(base, "two_view_training_gt", scene, "mask0nocc.png"))
        train.append((left, right, disp, mask.astype(bool)))
    test = [tuple(_image(os.path.join(base, "two_view_test", "lake", f"im{i}.png"), (3, 4, 3))
                  for i in (0, 1)) + (None, None)]
    return {"train": train, "test": test}


STEREO_CASES = [  # (writer, class name, [(constructor kwargs, key of the expected samples)])
    (make_kitti2012, "Kitti2012Stereo", [({}, "train"), ({"split": "test"}, "test")]),
    (make_kitti2015, "Kitti2015Stereo", [({}, "train"), ({"split": "test"}, "test")]),
    (make_carla, "CarlaStereo", [({}, None)]),
    (make_middlebury, "Middlebury2014Stereo",
     [({}, "perfect"), ({"calibration": "imperfect"}, "imperfect"),
      ({"calibration": "both"}, "both"), ({"split": "test", "calibration": None}, "test")]),
    (make_crestereo, "CREStereo", [({}, None)]),
    (make_falling_things, "FallingThingsStereo",
     [({}, "single"), ({"variant": "mixed"}, "mixed"), ({"variant": "both"}, "both")]),
    (make_sceneflow, "SceneFlowStereo",
     [({}, ("FlyingThings3D", "frames_cleanpass")),
      ({"variant": "Monkaa", "pass_name": "final"}, ("Monkaa", "frames_finalpass"))]),
    (make_sintel_stereo, "SintelStereo",
     [({}, "final"), ({"pass_name": "clean"}, "clean"), ({"pass_name": "both"}, "both")]),
    (make_instereo2k, "InStereo2k", [({}, "train"), ({"split": "test"}, "test")]),
    (make_eth3d, "ETH3DStereo", [({}, "train"), ({"split": "test"}, "test")]),
]


@pytest.mark.parametrize("writer, name, variants", STEREO_CASES,
                         ids=[c[1] for c in STEREO_CASES])
def test_stereo_datasets(tmp_path, writer, name, variants):
    expected = writer(str(tmp_path))
    for kwargs, key in variants:
        _check_flow_samples(getattr(datasets, name)(str(tmp_path), **kwargs),
                            expected if key is None else expected[key])


def test_stereo_transforms_and_errors(tmp_path):
    expected = make_carla(str(tmp_path))
    seen = []

    def transforms(images, disparities, masks):
        seen.append((len(images), masks))
        return images, disparities, tuple(d[0] > 0 for d in disparities)

    sample = datasets.CarlaStereo(str(tmp_path), transforms=transforms)[1]
    assert seen == [(2, (None, None))] and len(sample) == 4
    np.testing.assert_array_equal(sample[3], expected[1][2][0] > 0)
    with pytest.raises(FileNotFoundError, match="Could not find any files matching"):
        datasets.CarlaStereo(str(tmp_path / "missing"))
    os.remove(tmp_path / "carla-highres" / "trainingF" / "b" / "im1.png")
    with pytest.raises(ValueError, match="Found 2 left files but 1 right files"):
        datasets.CarlaStereo(str(tmp_path))
    with pytest.raises(ValueError, match="Split 'test' has only no calibration"):
        datasets.Middlebury2014Stereo(str(tmp_path), split="test")
    with pytest.raises(FileNotFoundError, match="The train directory was not found"):
        datasets.Middlebury2014Stereo(str(tmp_path))


def test_stereo_corrupt_files_name_the_file(tmp_path):
    make_falling_things(str(tmp_path))
    settings = tmp_path / "FallingThings" / "mixed" / "kitchen" / "_camera_settings.json"
    settings.write_text("{}")
    with pytest.raises(RuntimeError, match="_camera_settings.json"):
        datasets.FallingThingsStereo(str(tmp_path), variant="mixed")[0]
    make_eth3d(str(tmp_path))
    (tmp_path / "ETH3D" / "two_view_training_gt" / "delivery" / "disp0GT.pfm").write_bytes(b"xx")
    with pytest.raises(ValueError, match="disp0GT.pfm"):
        datasets.ETH3DStereo(str(tmp_path))[0]
