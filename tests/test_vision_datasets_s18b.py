"""CelebA, Kitti, WIDERFace, Caltech101/256, DTD, Food101, OxfordIIITPet, StanfordCars,
FGVCAircraft, GTSRB, Country211, SUN397, Imagenette, RenderedSST2, SBDataset, Cityscapes and
their wrap_dataset_for_transforms_v2 entries, on tiny fixtures written here in the real layouts
and formats (images are PNG bytes, lossless, under the data sets' own file names: PIL reads
the content, not the name). No network, no torch. The ``make_*`` writers are shared with
tests/conformance/test_vision_datasets_s18b_vs_torchvision.py."""
import hashlib
import json
import os

import numpy as np
import pytest

import ember
from ember.vision import datasets, tv_tensors

pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

_rng = np.random.default_rng(0)


def _image(path, shape=(4, 5, 3), fmt="PNG"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    pixels = _rng.integers(0, 256, shape, dtype=np.uint8)
    Image.fromarray(pixels).save(path, format=fmt)
    return pixels


def _write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def _md5(path):
    with open(path, "rb") as f:
        return hashlib.md5(f.read()).hexdigest()


def _pixels(img):
    return np.asarray(img)


# --------------------------------------------------------------------------------------------
# fixture writers: each returns what the samples must be


_CELEBA_PARTITION = [0, 1, 0, 2, 1, 2]


def make_celeba(root):
    folder = os.path.join(root, "celeba")
    names = [f"{i:06d}.jpg" for i in range(1, 7)]
    pixels = [_image(os.path.join(folder, "img_align_celeba", n), (5, 4, 3)) for n in names]
    attr = _rng.choice([-1, 1], (6, 5))
    identity = _rng.integers(1, 100, 6)
    bbox = _rng.integers(0, 300, (6, 4))
    landmarks = _rng.integers(0, 200, (6, 10))
    attr_names = ["5_o_Clock_Shadow", "Arched_Eyebrows", "Bald", "Smiling", "Young"]

    def table(values):  # the files pad numbers with runs of spaces
        return "".join(f"{n} " + "  ".join(f"{v:3d}" for v in row) + "\n"
                       for n, row in zip(names, values))
    _write(os.path.join(folder, "list_eval_partition.txt"),
           "".join(f"{n} {p}\n" for n, p in zip(names, _CELEBA_PARTITION)))
    _write(os.path.join(folder, "identity_CelebA.txt"), table(identity[:, None]))
    _write(os.path.join(folder, "list_bbox_celeba.txt"),
           "6\nimage_id x_1 y_1 width height\n" + table(bbox))
    _write(os.path.join(folder, "list_landmarks_align_celeba.txt"),
           "6\nlefteye_x lefteye_y righteye_x righteye_y nose_x nose_y leftmouth_x leftmouth_y "
           "rightmouth_x rightmouth_y\n" + table(landmarks))
    _write(os.path.join(folder, "list_attr_celeba.txt"),
           "6\n" + " ".join(attr_names) + " \n" + table(attr))
    return dict(pixels=pixels, attr=(attr + 1) // 2, identity=identity, bbox=bbox,
                landmarks=landmarks, attr_names=attr_names + [""])


def celeba_file_list(cls, root):
    """``cls.file_list`` with the fixture's MD5 sums (the real ones guard the real files)."""
    return [(file_id, md5 if name.endswith(".zip") else _md5(os.path.join(root, "celeba", name)),
             name) for file_id, md5, name in cls.file_list]


_KITTI_LINES = [
    "Car 0.00 0 -1.58 587.01 173.33 614.12 200.12 1.65 1.67 3.64 -0.65 1.71 46.70 -1.59",
    "Pedestrian 0.50 1 0.21 1.5 2.25 3.0 4.5 1.89 0.48 1.20 1.84 1.47 8.41 0.01",
    "DontCare -1 -1 -10 503.89 169.71 590.61 190.13 -1 -1 -1 -1000 -1000 -1000 -10",
]


def make_kitti(root):
    raw = os.path.join(root, "Kitti", "raw")
    pixels = {}
    for location, stems in (("training", ["000000", "000001"]), ("testing", ["000007"])):
        for stem in stems:
            pixels[stem] = _image(os.path.join(raw, location, "image_2", stem + ".png"))
    _write(os.path.join(raw, "training", "label_2", "000000.txt"),
           "\n".join(_KITTI_LINES[:2]) + "\n")
    _write(os.path.join(raw, "training", "label_2", "000001.txt"), _KITTI_LINES[2] + "\n")
    return pixels


def make_widerface(root):
    base = os.path.join(root, "widerface")
    for name in ("WIDER_train", "WIDER_val", "WIDER_test"):
        os.makedirs(os.path.join(base, name))
    pixels = {
        "0--Parade/0_a.jpg": _image(os.path.join(base, "WIDER_train", "images", "0--Parade",
                                                 "0_a.jpg")),
        "1--Handshaking/1_b.jpg": _image(os.path.join(base, "WIDER_train", "images",
                                                      "1--Handshaking", "1_b.jpg")),
        "2--Demo/2_c.jpg": _image(os.path.join(base, "WIDER_test", "images", "2--Demo",
                                               "2_c.jpg")),
    }
    # trailing spaces as in the real file; an image without faces has one line of zeros
    _write(os.path.join(base, "wider_face_split", "wider_face_train_bbx_gt.txt"),
           "0--Parade/0_a.jpg\n2\n1 2 3 4 2 0 0 0 0 0 \n0 1 2 2 0 1 0 1 2 0 \n"
           "1--Handshaking/1_b.jpg\n0\n0 0 0 0 0 0 0 0 0 0 \n")
    _write(os.path.join(base, "wider_face_split", "wider_face_val_bbx_gt.txt"), "")
    _write(os.path.join(base, "wider_face_split", "wider_face_test_filelist.txt"),
           "2--Demo/2_c.jpg\n")
    return pixels


def make_caltech101(root):
    import scipy.io
    base = os.path.join(root, "caltech101")
    cats = os.path.join(base, "101_ObjectCategories")
    pixels = {}
    for category, n, shape in (("accordion", 2, (4, 5, 3)), ("Faces", 1, (4, 5)),
                               ("BACKGROUND_Google", 1, (4, 5, 3))):
        for i in range(1, n + 1):
            pixels[category, i] = _image(os.path.join(cats, category, f"image_{i:04d}.jpg"),
                                         shape)
    contours = {}
    for folder, category, i in (("accordion", "accordion", 1), ("accordion", "accordion", 2),
                                ("Faces_2", "Faces", 1)):
        contours[category, i] = _rng.random((2, 3 + i))
        os.makedirs(os.path.join(base, "Annotations", folder), exist_ok=True)
        scipy.io.savemat(os.path.join(base, "Annotations", folder, f"annotation_{i:04d}.mat"),
                         {"obj_contour": contours[category, i], "box_coord": np.ones((1, 4))})
    return pixels, contours


def make_caltech256(root):
    cats = os.path.join(root, "caltech256", "256_ObjectCategories")
    pixels = {("001.ak47", 1): _image(os.path.join(cats, "001.ak47", "001_0001.jpg"), (4, 5))}
    for i in (1, 2):
        pixels["002.bat", i] = _image(os.path.join(cats, "002.bat", f"002_{i:04d}.jpg"))
    _write(os.path.join(cats, "002.bat", "notes.txt"), "not an image")
    return pixels


def make_dtd(root):
    data = os.path.join(root, "dtd", "dtd")
    pixels = {}
    for cls, name in (("banded", "banded_0001.jpg"), ("zigzagged", "zigzagged_0002.jpg"),
                      ("banded", "banded_0003.jpg")):
        pixels[cls, name] = _image(os.path.join(data, "images", cls, name))
    _write(os.path.join(data, "labels", "train1.txt"),
           "zigzagged/zigzagged_0002.jpg\nbanded/banded_0001.jpg\n")
    _write(os.path.join(data, "labels", "test2.txt"), "banded/banded_0003.jpg\n")
    return pixels


def make_food101(root):
    base = os.path.join(root, "food-101")
    meta = {"train": {"pizza": ["pizza/12", "pizza/3"], "apple_pie": ["apple_pie/7"]},
            "test": {"pizza": ["pizza/5"]}}
    pixels = {}
    for split, classes in meta.items():
        _write(os.path.join(base, "meta", f"{split}.json"), json.dumps(classes))
        for paths in classes.values():
            for path in paths:
                pixels[path] = _image(os.path.join(base, "images", path + ".jpg"))
    return meta, pixels


def make_oxford_pet(root):
    base = os.path.join(root, "oxford-iiit-pet")
    rows = {"trainval": [("american_bulldog_12", 2, 2, 1), ("Abyssinian_1", 1, 1, 1)],
            "test": [("yorkshire_terrier_9", 37, 2, 25)]}
    pixels, trimaps = {}, {}
    for split, entries in rows.items():
        _write(os.path.join(base, "annotations", f"{split}.txt"),
               "".join(" ".join(map(str, e)) + "\n" for e in entries))
        for image_id, *_ in entries:
            pixels[image_id] = _image(os.path.join(base, "images", image_id + ".jpg"))
            trimap = _rng.integers(1, 4, (4, 5), dtype=np.uint8)
            os.makedirs(os.path.join(base, "annotations", "trimaps"), exist_ok=True)
            Image.fromarray(trimap).save(os.path.join(base, "annotations", "trimaps",
                                                      image_id + ".png"))
            trimaps[image_id] = trimap
    return rows, pixels, trimaps


def _mat_struct_array(records, fields):
    array = np.empty((1, len(records)), dtype=[(f, "O") for f in fields])
    for i, record in enumerate(records):
        for field, value in zip(fields, record):
            array[0, i][field] = value
    return array


def make_stanford_cars(root):
    import scipy.io
    base = os.path.join(root, "stanford_cars")
    devkit = os.path.join(base, "devkit")
    os.makedirs(devkit)
    names = np.empty((1, 3), dtype=object)
    names[0, :] = ["AM General Hummer SUV 2000", "Acura RL Sedan 2012", "Audi TTS Coupe 2012"]
    scipy.io.savemat(os.path.join(devkit, "cars_meta.mat"), {"class_names": names})
    fields = ["bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2", "class", "fname"]
    train = [(1, 2, 3, 4, np.uint8(3), "00001.jpg"), (1, 2, 3, 4, np.uint8(1), "00002.jpg")]
    scipy.io.savemat(os.path.join(devkit, "cars_train_annos.mat"),
                     {"annotations": _mat_struct_array(train, fields)})
    scipy.io.savemat(os.path.join(base, "cars_test_annos_withlabels.mat"),
                     {"annotations": _mat_struct_array([(1, 2, 3, 4, np.uint8(2), "00009.jpg")],
                                                       fields)})
    pixels = {("cars_train", "00001.jpg"): _image(os.path.join(base, "cars_train", "00001.jpg")),
              ("cars_train", "00002.jpg"): _image(os.path.join(base, "cars_train", "00002.jpg")),
              ("cars_test", "00009.jpg"): _image(os.path.join(base, "cars_test", "00009.jpg"))}
    return pixels


def make_fgvc_aircraft(root):
    data = os.path.join(root, "fgvc-aircraft-2013b", "data")
    _write(os.path.join(data, "variants.txt"), "707-320\nBoeing 737-200\nA300B4\n")
    _write(os.path.join(data, "families.txt"), "Boeing 707\nBoeing 737\nA300\n")
    _write(os.path.join(data, "manufacturers.txt"), "Boeing\nAirbus\n")
    _write(os.path.join(data, "images_variant_trainval.txt"),
           "1025794 Boeing 737-200\n0034309 A300B4\n")
    _write(os.path.join(data, "images_manufacturer_test.txt"), "1025794 Boeing\n")
    return {name: _image(os.path.join(data, "images", name + ".jpg"))
            for name in ("1025794", "0034309")}


def make_gtsrb(root):
    base = os.path.join(root, "gtsrb", "GTSRB")
    pixels = {}
    for cls, name in (("00000", "00000_00000.ppm"), ("00000", "00000_00001.ppm"),
                      ("00002", "00000_00000.ppm")):
        pixels["train", cls, name] = _image(os.path.join(base, "Training", cls, name), fmt="PPM")
    _write(os.path.join(base, "Training", "00000", "GT-00000.csv"), "not an image")
    for name in ("00000.ppm", "00001.ppm"):
        pixels["test", name] = _image(os.path.join(base, "Final_Test", "Images", name),
                                      fmt="PPM")
    _write(os.path.join(root, "gtsrb", "GT-final_test.csv"),
           "Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId\n"
           "00000.ppm;5;4;0;0;4;3;16\n00001.ppm;5;4;0;0;4;3;1\n")
    return pixels


def make_country211(root):
    return {(split, cls, name): _image(os.path.join(root, "country211", split, cls, name))
            for split, cls, name in (("train", "AD", "1.jpg"), ("train", "ZW", "2.jpg"),
                                     ("train", "AD", "3.jpg"), ("test", "AE", "4.jpg"))}


def make_sun397(root):
    data = os.path.join(root, "SUN397")
    _write(os.path.join(data, "ClassName.txt"), "/a/abbey\n/b/bakery/shop\n/z/zoo\n")
    pixels = {rel: _image(os.path.join(data, *rel.split("/")))
              for rel in ("a/abbey/sun_aaa.jpg", "b/bakery/shop/sun_bbb.jpg",
                          "a/abbey/sun_ccc.jpg")}
    _write(os.path.join(data, "a", "abbey", "notes.jpg"), "not a sun_ file")
    return pixels


def make_imagenette(root):
    base = os.path.join(root, "imagenette2-160")
    return {(split, wnid, name): _image(os.path.join(base, split, wnid, name))
            for split, wnid, name in (("train", "n03888257", "a.JPEG"),
                                      ("train", "n01440764", "b.JPEG"),
                                      ("train", "n01440764", "c.JPEG"),
                                      ("val", "n02102040", "d.JPEG"))}


def make_rendered_sst2(root):
    base = os.path.join(root, "rendered-sst2")
    pixels = {}
    for folder, cls, name in (("train", "negative", "0.png"), ("train", "positive", "1.png"),
                              ("train", "negative", "2.png"), ("valid", "positive", "3.png"),
                              ("valid", "negative", "4.png")):
        pixels[folder, cls, name] = _image(os.path.join(base, folder, cls, name))
    return pixels


def make_sbd(root):
    import scipy.io
    import scipy.sparse
    names = ["2008_000002", "2008_000003"]
    pixels, segs, bounds = {}, {}, {}
    for name in names:
        pixels[name] = _image(os.path.join(root, "img", name + ".jpg"))
        segs[name] = _rng.integers(0, 21, (4, 5), dtype=np.uint8)
        bounds[name] = _rng.random((20, 4, 5)) < 0.2
        cell = np.empty((20, 1), dtype=object)
        for i in range(20):
            cell[i, 0] = scipy.sparse.csc_matrix(bounds[name][i])
        os.makedirs(os.path.join(root, "cls"), exist_ok=True)
        scipy.io.savemat(os.path.join(root, "cls", name + ".mat"),
                         {"GTcls": {"Segmentation": segs[name], "Boundaries": cell,
                                    "CategoriesPresent": np.array([[1]], np.uint8)}})
    _write(os.path.join(root, "train.txt"), "\n".join(names) + "\n")
    _write(os.path.join(root, "val.txt"), names[1] + "\n")
    return pixels, segs, bounds


def make_cityscapes(root):
    stems = [("aachen", "aachen_000000_000019"), ("aachen", "aachen_000001_000019"),
             ("bremen", "bremen_000000_000019")]
    expected = {}
    for city, stem in stems:
        image = _image(os.path.join(root, "leftImg8bit", "train", city,
                                    f"{stem}_leftImg8bit.png"))
        gt = os.path.join(root, "gtFine", "train", city, stem)
        os.makedirs(os.path.dirname(gt), exist_ok=True)
        instance = _rng.choice(np.array([0, 7, 26000, 26001, 24000], np.uint16), (4, 5))
        Image.fromarray(instance).save(f"{gt}_gtFine_instanceIds.png")
        semantic = _rng.integers(0, 34, (4, 5), dtype=np.uint8)
        Image.fromarray(semantic).save(f"{gt}_gtFine_labelIds.png")
        color = _image(f"{gt}_gtFine_color.png", (4, 5, 4))
        polygons = {"imgHeight": 4, "imgWidth": 5,
                    "objects": [{"label": "car", "polygon": [[0, 0], [3, 0], [3, 2]]}]}
        _write(f"{gt}_gtFine_polygons.json", json.dumps(polygons))
        expected[stem] = (image, instance, semantic, color, polygons)
    return expected


# --------------------------------------------------------------------------------------------
# CelebA


@pytest.fixture
def celeba(tmp_path, monkeypatch):
    expected = make_celeba(str(tmp_path))
    monkeypatch.setattr(datasets.CelebA, "file_list",
                        celeba_file_list(datasets.CelebA, str(tmp_path)))
    return str(tmp_path), expected


def test_celeba_splits_and_targets(celeba):
    root, want = celeba
    for split, rows in (("train", [0, 2]), ("valid", [1, 4]), ("test", [3, 5]),
                        ("all", range(6))):
        ds = datasets.CelebA(root, split=split,
                             target_type=["attr", "identity", "bbox", "landmarks"])
        assert len(ds) == len(rows) and ds.filename == [f"{r + 1:06d}.jpg" for r in rows]
        for index, row in enumerate(rows):
            img, (attr, identity, bbox, landmarks) = ds[index]
            np.testing.assert_array_equal(_pixels(img), want["pixels"][row])
            assert attr.dtype == ember.int64 and attr.tolist() == want["attr"][row].tolist()
            assert identity.shape == () and identity.item() == want["identity"][row]
            assert bbox.tolist() == want["bbox"][row].tolist()
            assert landmarks.tolist() == want["landmarks"][row].tolist()
    ds = datasets.CelebA(root, split="TEST")  # the split is matched case-insensitively
    assert ds.attr_names == want["attr_names"] and ds[1][1].tolist() == want["attr"][5].tolist()
    assert datasets.CelebA(root, target_type=[])[0][1] is None
    assert datasets.CelebA(root, target_type="identity", target_transform=int)[1][1] == \
        want["identity"][2]


def test_celeba_errors(celeba, tmp_path, monkeypatch):
    root, _ = celeba
    with pytest.raises(RuntimeError, match="target_type is empty"):
        datasets.CelebA(root, target_type=[], target_transform=int)
    with pytest.raises(ValueError, match="split"):
        datasets.CelebA(root, split="nope")
    with pytest.raises(ValueError, match='Target type "age" is not recognized'):
        datasets.CelebA(root, target_type="age")[0]
    monkeypatch.undo()  # the real MD5 sums: the fixture's files fail them
    with pytest.raises(RuntimeError, match="Dataset not found or corrupted"):
        datasets.CelebA(root)


def test_celeba_malformed_table_is_named(celeba, monkeypatch):
    root, _ = celeba
    path = os.path.join(root, "celeba", "identity_CelebA.txt")
    _write(path, "000001.jpg x\n")
    monkeypatch.setattr(datasets.CelebA, "file_list", celeba_file_list(datasets.CelebA, root))
    with pytest.raises(RuntimeError, match="identity_CelebA.txt"):
        datasets.CelebA(root)


# --------------------------------------------------------------------------------------------
# Kitti, WIDERFace


def test_kitti_train_and_test(tmp_path):
    pixels = make_kitti(str(tmp_path))
    ds = datasets.Kitti(str(tmp_path))
    assert len(ds) == 2
    stems = [os.path.basename(p)[:-4] for p in ds.images]
    assert sorted(stems) == ["000000", "000001"]
    img, target = ds[stems.index("000000")]
    np.testing.assert_array_equal(_pixels(img), pixels["000000"])
    assert target == [
        {"type": "Car", "truncated": 0.0, "occluded": 0, "alpha": -1.58,
         "bbox": [587.01, 173.33, 614.12, 200.12], "dimensions": [1.65, 1.67, 3.64],
         "location": [-0.65, 1.71, 46.7], "rotation_y": -1.59},
        {"type": "Pedestrian", "truncated": 0.5, "occluded": 1, "alpha": 0.21,
         "bbox": [1.5, 2.25, 3.0, 4.5], "dimensions": [1.89, 0.48, 1.2],
         "location": [1.84, 1.47, 8.41], "rotation_y": 0.01}]
    test = datasets.Kitti(str(tmp_path), train=False)
    img, target = test[0]
    assert len(test) == 1 and target is None
    np.testing.assert_array_equal(_pixels(img), pixels["000007"])
    with pytest.raises(RuntimeError, match="Dataset not found. You may use download=True"):
        datasets.Kitti(str(tmp_path / "nowhere"))
    _write(ds.targets[0], "Car 0.00 zero\n")
    with pytest.raises(RuntimeError, match=os.path.basename(ds.targets[0])):
        ds[0]


def test_widerface_splits(tmp_path):
    pixels = make_widerface(str(tmp_path))
    ds = datasets.WIDERFace(str(tmp_path), split="train")
    assert len(ds) == 2 and ds.root == os.path.join(str(tmp_path), "widerface")
    img, target = ds[0]
    np.testing.assert_array_equal(_pixels(img), pixels["0--Parade/0_a.jpg"])
    assert target["bbox"].dtype == ember.int64
    assert target["bbox"].tolist() == [[1, 2, 3, 4], [0, 1, 2, 2]]
    assert {k: v.tolist() for k, v in target.items() if k != "bbox"} == {
        "blur": [2, 0], "expression": [0, 1], "illumination": [0, 0], "occlusion": [0, 1],
        "pose": [0, 2], "invalid": [0, 0]}
    assert ds[1][1]["bbox"].tolist() == [[0, 0, 0, 0]]  # no faces: the line of zeros
    assert len(datasets.WIDERFace(str(tmp_path), split="val")) == 0
    test = datasets.WIDERFace(str(tmp_path), split="test")
    img, target = test[0]
    assert target is None
    np.testing.assert_array_equal(_pixels(img), pixels["2--Demo/2_c.jpg"])
    with pytest.raises(ValueError, match="split"):
        datasets.WIDERFace(str(tmp_path), split="all")
    gt = os.path.join(str(tmp_path), "widerface", "wider_face_split",
                      "wider_face_val_bbx_gt.txt")
    _write(gt, "0--Parade/0_a.jpg\n2\n1 2 3 4 2 0 0 0 0 0\n")
    with pytest.raises(RuntimeError, match="Error parsing annotation file .*val_bbx_gt"):
        datasets.WIDERFace(str(tmp_path), split="val")
    os.rename(os.path.join(str(tmp_path), "widerface", "WIDER_val"),
              os.path.join(str(tmp_path), "widerface", "moved"))
    with pytest.raises(RuntimeError, match="Dataset not found or corrupted"):
        datasets.WIDERFace(str(tmp_path))


# --------------------------------------------------------------------------------------------
# Caltech


def test_caltech101_categories_and_targets(tmp_path):
    pytest.importorskip("scipy")
    pixels, contours = make_caltech101(str(tmp_path))
    ds = datasets.Caltech101(str(tmp_path), target_type=["category", "annotation"])
    assert ds.categories == ["Faces", "accordion"]  # sorted, the background left out
    assert ds.annotation_categories == ["Faces_2", "accordion"]
    assert len(ds) == 3 and ds.y == [0, 1, 1] and ds.index == [1, 1, 2]
    for index, (category, number) in enumerate([("Faces", 1), ("accordion", 1),
                                                ("accordion", 2)]):
        img, (label, contour) = ds[index]
        assert img.mode == ("L" if category == "Faces" else "RGB")  # the file's own mode
        np.testing.assert_array_equal(_pixels(img), pixels[category, number])
        assert label == ds.categories.index(category)
        np.testing.assert_array_equal(contour, contours[category, number])
    assert datasets.Caltech101(str(tmp_path))[2][1] == 1
    with pytest.raises(ValueError, match="target_type"):
        datasets.Caltech101(str(tmp_path), target_type="bbox")
    empty = tmp_path / "empty"
    with pytest.raises(RuntimeError, match="Dataset not found or corrupted"):
        datasets.Caltech101(str(empty))
    assert (empty / "caltech101").is_dir()  # created, as torchvision does


def test_caltech256(tmp_path):
    pixels = make_caltech256(str(tmp_path))
    ds = datasets.Caltech256(str(tmp_path))
    assert ds.categories == ["001.ak47", "002.bat"] and len(ds) == 3
    for index, (category, number, label) in enumerate([("001.ak47", 1, 0), ("002.bat", 1, 1),
                                                       ("002.bat", 2, 1)]):
        img, target = ds[index]
        np.testing.assert_array_equal(_pixels(img), pixels[category, number])
        assert target == label
    with pytest.raises(RuntimeError, match="Dataset not found or corrupted"):
        datasets.Caltech256(str(tmp_path / "empty"))


# --------------------------------------------------------------------------------------------
# the classification sets


def test_dtd(tmp_path):
    pixels = make_dtd(str(tmp_path))
    ds = datasets.DTD(str(tmp_path))
    assert ds.classes == ["banded", "zigzagged"] and len(ds) == 2
    assert ds.class_to_idx == {"banded": 0, "zigzagged": 1}
    img, label = ds[0]
    assert img.mode == "RGB" and label == 1
    np.testing.assert_array_equal(_pixels(img), pixels["zigzagged", "zigzagged_0002.jpg"])
    test = datasets.DTD(str(tmp_path), split="test", partition=2, target_transform=str)
    assert test.classes == ["banded"] and test[0][1] == "0"
    assert datasets.DTD(str(tmp_path), loader=len)[1][0] == len(ds._image_files[1])
    with pytest.raises(ValueError, match="partition"):
        datasets.DTD(str(tmp_path), partition=11)
    with pytest.raises(ValueError, match="split"):
        datasets.DTD(str(tmp_path), split="trainval")
    with pytest.raises(RuntimeError, match="Dataset not found. You can use download=True"):
        datasets.DTD(str(tmp_path / "none"))


def test_food101(tmp_path):
    meta, pixels = make_food101(str(tmp_path))
    ds = datasets.Food101(str(tmp_path))
    assert ds.classes == ["apple_pie", "pizza"] and len(ds) == 3
    order = [(path, cls) for cls, paths in meta["train"].items() for path in paths]
    for index, (path, cls) in enumerate(order):  # the JSON's order
        img, label = ds[index]
        np.testing.assert_array_equal(_pixels(img), pixels[path])
        assert label == ds.class_to_idx[cls]
    assert len(datasets.Food101(str(tmp_path), split="test")) == 1
    _write(os.path.join(str(tmp_path), "food-101", "meta", "test.json"), "{oops")
    with pytest.raises(RuntimeError, match="test.json"):
        datasets.Food101(str(tmp_path), split="test")


def test_oxford_iiit_pet(tmp_path):
    rows, pixels, trimaps = make_oxford_pet(str(tmp_path))
    ds = datasets.OxfordIIITPet(str(tmp_path),
                                target_types=["category", "binary-category", "segmentation"])
    assert ds.classes == ["Abyssinian", "American Bulldog"]  # by label, title-cased
    assert ds.bin_classes == ["Cat", "Dog"] and ds.bin_class_to_idx == {"Cat": 0, "Dog": 1}
    img, (category, species, trimap) = ds[0]
    np.testing.assert_array_equal(_pixels(img), pixels["american_bulldog_12"])
    assert (category, species) == (1, 1) and trimap.mode == "L"
    np.testing.assert_array_equal(_pixels(trimap), trimaps["american_bulldog_12"])
    assert datasets.OxfordIIITPet(str(tmp_path))[1][1] == 0
    assert datasets.OxfordIIITPet(str(tmp_path), target_types=[])[1][1] is None
    test = datasets.OxfordIIITPet(str(tmp_path), split="test", target_types="binary-category")
    assert test.classes == ["Yorkshire Terrier"] and test[0][1] == 1
    with pytest.raises(ValueError, match="target_types"):
        datasets.OxfordIIITPet(str(tmp_path), target_types="breed")


def test_stanford_cars(tmp_path):
    pytest.importorskip("scipy")
    pixels = make_stanford_cars(str(tmp_path))
    ds = datasets.StanfordCars(str(tmp_path))
    assert ds.classes == ["AM General Hummer SUV 2000", "Acura RL Sedan 2012",
                          "Audi TTS Coupe 2012"]
    assert len(ds) == 2 and [ds[i][1] for i in range(2)] == [2, 0]
    np.testing.assert_array_equal(_pixels(ds[1][0]), pixels["cars_train", "00002.jpg"])
    test = datasets.StanfordCars(str(tmp_path), split="test")  # one annotation: still a list
    assert len(test) == 1 and test[0][1] == 1
    np.testing.assert_array_equal(_pixels(test[0][0]), pixels["cars_test", "00009.jpg"])
    with pytest.raises(ValueError, match="cannot be downloaded anymore"):
        datasets.StanfordCars(str(tmp_path), download=True)
    with pytest.raises(RuntimeError, match="Dataset not found."):
        datasets.StanfordCars(str(tmp_path / "none"))
    mat = os.path.join(str(tmp_path), "stanford_cars", "devkit", "cars_meta.mat")
    _write(mat, "MATLAB 5.0 MAT-file, truncated")
    with pytest.raises(RuntimeError, match="cars_meta.mat"):
        datasets.StanfordCars(str(tmp_path))


def test_fgvc_aircraft(tmp_path):
    pixels = make_fgvc_aircraft(str(tmp_path))
    ds = datasets.FGVCAircraft(str(tmp_path))
    assert ds.classes == ["707-320", "Boeing 737-200", "A300B4"]
    assert len(ds) == 2 and [ds[i][1] for i in range(2)] == [1, 2]
    np.testing.assert_array_equal(_pixels(ds[0][0]), pixels["1025794"])
    ds = datasets.FGVCAircraft(str(tmp_path), split="test", annotation_level="manufacturer")
    assert ds.class_to_idx == {"Boeing": 0, "Airbus": 1} and ds[0][1] == 0
    with pytest.raises(ValueError, match="annotation_level"):
        datasets.FGVCAircraft(str(tmp_path), annotation_level="model")


def test_gtsrb(tmp_path):
    pixels = make_gtsrb(str(tmp_path))
    ds = datasets.GTSRB(str(tmp_path))
    assert len(ds) == 3 and [ds[i][1] for i in range(3)] == [0, 0, 1]  # .ppm only
    img, _ = ds[2]
    assert img.mode == "RGB"
    np.testing.assert_array_equal(_pixels(img), pixels["train", "00002", "00000_00000.ppm"])
    test = datasets.GTSRB(str(tmp_path), split="test")
    assert [test[i][1] for i in range(2)] == [16, 1]
    np.testing.assert_array_equal(_pixels(test[1][0]), pixels["test", "00001.ppm"])
    _write(os.path.join(str(tmp_path), "gtsrb", "GT-final_test.csv"), "Filename;Id\na;1\n")
    with pytest.raises(RuntimeError, match="GT-final_test.csv"):
        datasets.GTSRB(str(tmp_path), split="test")


def test_country211(tmp_path):
    pixels = make_country211(str(tmp_path))
    ds = datasets.Country211(str(tmp_path))
    assert ds.classes == ["AD", "ZW"] and ds.root == str(tmp_path) and len(ds) == 3
    assert [ds[i][1] for i in range(3)] == [0, 0, 1]
    np.testing.assert_array_equal(_pixels(ds[1][0]), pixels["train", "AD", "3.jpg"])
    assert datasets.Country211(str(tmp_path), split="test").classes == ["AE"]
    with pytest.raises(ValueError, match="split"):
        datasets.Country211(str(tmp_path), split="val")


def test_sun397(tmp_path):
    pixels = make_sun397(str(tmp_path))
    ds = datasets.SUN397(str(tmp_path))
    assert ds.classes == ["abbey", "bakery/shop", "zoo"] and len(ds) == 3
    got = {os.path.relpath(path, os.path.join(str(tmp_path), "SUN397")): label
           for path, label in ds._samples}
    assert got == {"a/abbey/sun_aaa.jpg": 0, "b/bakery/shop/sun_bbb.jpg": 1,
                   "a/abbey/sun_ccc.jpg": 0}
    for index, (path, label) in enumerate(ds._samples):
        img, target = ds[index]
        rel = os.path.relpath(path, os.path.join(str(tmp_path), "SUN397"))
        np.testing.assert_array_equal(_pixels(img), pixels[rel])
        assert target == label


def test_imagenette(tmp_path):
    pixels = make_imagenette(str(tmp_path))
    ds = datasets.Imagenette(str(tmp_path), size="160px")
    assert ds.wnids == ["n01440764", "n03888257"] and len(ds) == 3
    assert ds.classes == [("tench", "Tinca tinca"), ("parachute", "chute")]
    assert ds.class_to_idx == {"tench": 0, "Tinca tinca": 0, "parachute": 1, "chute": 1}
    assert [ds[i][1] for i in range(3)] == [0, 0, 1]
    np.testing.assert_array_equal(_pixels(ds[1][0]), pixels["train", "n01440764", "c.JPEG"])
    assert len(datasets.Imagenette(str(tmp_path), split="val", size="160px")) == 1
    with pytest.raises(RuntimeError, match="Dataset not found. You can use download=True"):
        datasets.Imagenette(str(tmp_path))  # the full-size folder is missing
    with pytest.raises(ValueError, match="size"):
        datasets.Imagenette(str(tmp_path), size="64px")


def test_rendered_sst2(tmp_path):
    pixels = make_rendered_sst2(str(tmp_path))
    ds = datasets.RenderedSST2(str(tmp_path))
    assert ds.classes == ["negative", "positive"] and len(ds) == 3
    assert [ds[i][1] for i in range(3)] == [0, 0, 1]
    np.testing.assert_array_equal(_pixels(ds[2][0]), pixels["train", "positive", "1.png"])
    assert [label for _, label in datasets.RenderedSST2(str(tmp_path), split="val")] == [0, 1]
    with pytest.raises(RuntimeError, match="Dataset not found"):
        datasets.RenderedSST2(str(tmp_path), split="test")


def test_corrupt_image_is_named(tmp_path):
    make_dtd(str(tmp_path))
    ds = datasets.DTD(str(tmp_path))
    with open(ds._image_files[0], "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n truncated")
    with pytest.raises(RuntimeError, match="zigzagged_0002.jpg"):
        ds[0]


# --------------------------------------------------------------------------------------------
# SBDataset, Cityscapes


def test_sbd_modes(tmp_path):
    pytest.importorskip("scipy")
    pixels, segs, bounds = make_sbd(str(tmp_path))
    ds = datasets.SBDataset(str(tmp_path), mode="segmentation")
    assert len(ds) == 2
    img, target = ds[1]
    np.testing.assert_array_equal(_pixels(img), pixels["2008_000003"])
    assert target.mode == "L"
    np.testing.assert_array_equal(_pixels(target), segs["2008_000003"])
    val = datasets.SBDataset(str(tmp_path), image_set="val")  # boundaries by default
    img, target = val[0]
    assert target.shape == (20, 4, 5)
    np.testing.assert_array_equal(target, bounds["2008_000003"])
    with pytest.raises(ValueError, match="mode"):
        datasets.SBDataset(str(tmp_path), mode="instances")
    _write(ds.masks[0], "MATLAB 5.0 MAT-file, garbage")
    with pytest.raises(RuntimeError, match="2008_000002.mat"):
        ds[0]


def test_cityscapes_target_types(tmp_path):
    expected = make_cityscapes(str(tmp_path))
    ds = datasets.Cityscapes(str(tmp_path),
                             target_type=["instance", "semantic", "color", "polygon"])
    assert len(ds) == 3
    for index, path in enumerate(ds.images):
        stem = os.path.basename(path).split("_leftImg8bit")[0]
        image, instance, semantic, color, polygons = expected[stem]
        img, (inst, sem, col, poly) = ds[index]
        assert img.mode == "RGB" and sem.mode == "L" and col.mode == "RGBA"
        np.testing.assert_array_equal(_pixels(img), image)
        np.testing.assert_array_equal(_pixels(inst), instance)
        np.testing.assert_array_equal(_pixels(sem), semantic)
        np.testing.assert_array_equal(_pixels(col), color)
        assert poly == polygons
    assert datasets.Cityscapes.classes[26].name == "car" and len(ds.classes) == 35
    with pytest.raises(ValueError, match="if mode is 'fine'"):
        datasets.Cityscapes(str(tmp_path), split="train_extra")
    with pytest.raises(ValueError, match="target_type"):
        datasets.Cityscapes(str(tmp_path), target_type="depth")
    with pytest.raises(RuntimeError, match="Dataset not found or incomplete"):
        datasets.Cityscapes(str(tmp_path), split="val")


# --------------------------------------------------------------------------------------------
# wrap_dataset_for_transforms_v2


def test_wrap_celeba_bbox(celeba):
    root, want = celeba
    wrap = datasets.wrap_dataset_for_transforms_v2
    ds = wrap(datasets.CelebA(root, target_type=["identity", "bbox"]))
    img, (identity, boxes) = ds[1]
    assert identity.item() == want["identity"][2]
    assert isinstance(boxes, tv_tensors.BoundingBoxes) and boxes.canvas_size == (5, 4)
    x, y, w, h = want["bbox"][2]
    assert boxes.tolist() == [[x, y, x + w, y + h]]  # one box: a (1, 4) BoundingBoxes
    with pytest.raises(RuntimeError, match="not supported by this wrapper"):
        wrap(datasets.CelebA(root))


def test_wrap_kitti_and_widerface(tmp_path):
    make_kitti(str(tmp_path))
    make_widerface(str(tmp_path))
    wrap = datasets.wrap_dataset_for_transforms_v2
    kitti = datasets.Kitti(str(tmp_path))
    index = [os.path.basename(p) for p in kitti.images].index("000000.png")
    img, target = wrap(kitti)[index]
    assert target.keys() == {"boxes", "labels"} and target["labels"].tolist() == [0, 3]
    assert target["boxes"].format is tv_tensors.BoundingBoxFormat.XYXY
    np.testing.assert_allclose(target["boxes"].numpy(),
                               [[587.01, 173.33, 614.12, 200.12], [1.5, 2.25, 3.0, 4.5]],
                               rtol=1e-6)
    target = wrap(kitti, target_keys={"type", "labels"})[index][1]
    assert target == {"type": ["Car", "Pedestrian"], "labels": target["labels"]}
    assert wrap(datasets.Kitti(str(tmp_path), train=False))[0][1] is None
    faces = wrap(datasets.WIDERFace(str(tmp_path)))
    img, target = faces[0]
    assert set(target) == {"bbox", "blur", "expression", "illumination", "occlusion", "pose",
                           "invalid"}
    assert target["bbox"].tolist() == [[1, 2, 4, 6], [0, 1, 2, 3]]
    assert set(wrap(datasets.WIDERFace(str(tmp_path)), target_keys=["pose"])[0][1]) == {"pose"}
    with pytest.raises(ValueError, match="`Kitti`, and `WIDERFace`, but got Caltech256"):
        make_caltech256(str(tmp_path))
        wrap(datasets.Caltech256(str(tmp_path)), target_keys="all")


def test_wrap_segmentation_sets(tmp_path):
    pytest.importorskip("scipy")
    wrap = datasets.wrap_dataset_for_transforms_v2
    _, segs, _ = make_sbd(str(tmp_path / "sbd"))
    img, mask = wrap(datasets.SBDataset(str(tmp_path / "sbd"), mode="segmentation"))[0]
    assert isinstance(mask, tv_tensors.Mask)  # (1, H, W), as a PIL image becomes
    np.testing.assert_array_equal(mask.numpy(), segs["2008_000002"][None])
    with pytest.raises(RuntimeError, match="mode='boundaries'"):
        wrap(datasets.SBDataset(str(tmp_path / "sbd")))
    expected = make_cityscapes(str(tmp_path / "city"))
    city = datasets.Cityscapes(str(tmp_path / "city"), target_type=["instance", "semantic"])
    stem = os.path.basename(city.images[0]).split("_leftImg8bit")[0]
    img, (instances, semantic) = wrap(city)[0]
    ids = np.unique(expected[stem][1])
    assert isinstance(instances["masks"], tv_tensors.Mask)
    np.testing.assert_array_equal(instances["masks"].numpy(),
                                  (expected[stem][1] == ids[:, None, None])[:, None])
    assert instances["labels"].tolist() == [i // 1000 if i >= 1000 else i for i in ids]
    np.testing.assert_array_equal(semantic.numpy(), expected[stem][2][None])
    with pytest.raises(RuntimeError, match="polygon"):
        wrap(datasets.Cityscapes(str(tmp_path / "city"), target_type="color"))
    _, _, trimaps = make_oxford_pet(str(tmp_path / "pet"))
    pet = wrap(datasets.OxfordIIITPet(str(tmp_path / "pet"),
                                      target_types=["segmentation", "category"]))
    img, (trimap, category) = pet[1]
    assert isinstance(trimap, tv_tensors.Mask) and category == 0
    np.testing.assert_array_equal(trimap.numpy(), trimaps["Abyssinian_1"][None])


def test_wrap_classification_sets(tmp_path):
    pytest.importorskip("scipy")
    wrap = datasets.wrap_dataset_for_transforms_v2
    make_caltech101(str(tmp_path))
    make_caltech256(str(tmp_path))
    make_gtsrb(str(tmp_path))
    make_imagenette(str(tmp_path))
    assert wrap(datasets.Caltech101(str(tmp_path)))[2][1] == 1
    with pytest.raises(RuntimeError, match="annotation"):
        wrap(datasets.Caltech101(str(tmp_path), target_type="annotation"))
    assert wrap(datasets.Caltech256(str(tmp_path)))[2][1] == 1
    assert wrap(datasets.GTSRB(str(tmp_path)))[2][1] == 1
    assert wrap(datasets.Imagenette(str(tmp_path), size="160px"))[2][1] == 1
