"""CocoDetection/CocoCaptions, VOCDetection/VOCSegmentation, ImageNet and
wrap_dataset_for_transforms_v2 on tiny fixtures written here in the real file formats (COCO
JSON, VOC XML + palette PNG, ImageNet devkit .mat + tars); no network, no torch."""
import hashlib
import json
import os
import tarfile

import numpy as np
import pytest

import ember
from ember.vision import datasets, tv_tensors

pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

_rng = np.random.default_rng(0)


def _png(path, shape):
    pixels = _rng.integers(0, 256, shape, dtype=np.uint8)
    Image.fromarray(pixels).save(path, format="PNG")  # lossless: samples compare exactly
    return pixels


# --------------------------------------------------------------------------------------------
# COCO

def _coco(root):
    images = os.path.join(root, "images")
    os.makedirs(images)
    pixels, entries = {}, []
    for image_id, (h, w) in [(7, (10, 12)), (3, (8, 9)), (5, (6, 6))]:
        name = f"{image_id:012d}.png"
        pixels[image_id] = _png(os.path.join(images, name), (h, w, 3))
        entries.append({"id": image_id, "file_name": name, "height": h, "width": w})
    annotations = [
        {"id": 1, "image_id": 7, "category_id": 3, "bbox": [1.0, 2.0, 4.0, 5.0], "area": 20.0,
         "iscrowd": 0, "segmentation": [[1, 2, 5, 2, 5, 7, 1, 7]], "caption": "a red box"},
        {"id": 2, "image_id": 7, "category_id": 1, "bbox": [0.5, 0.0, 3.0, 2.0], "area": 6.0,
         "iscrowd": 1, "segmentation": {"size": [10, 12], "counts": [5, 3, 112]},
         "caption": "a crowd"},
        {"id": 3, "image_id": 3, "category_id": 2, "bbox": [2.0, 1.0, 3.0, 3.0], "area": 9.0,
         "iscrowd": 0, "segmentation": [[2, 1, 5, 1, 5, 4, 2, 4]], "caption": "one"},
    ]
    ann_file = os.path.join(root, "instances.json")
    with open(ann_file, "w") as f:
        json.dump({"images": entries, "annotations": annotations,
                   "categories": [{"id": c, "name": str(c)} for c in (1, 2, 3)]}, f)
    return images, ann_file, pixels, annotations


@pytest.fixture
def coco(tmp_path):
    pytest.importorskip("pycocotools")
    return _coco(str(tmp_path))


def test_coco_detection_samples_in_id_order(coco):
    images, ann_file, pixels, annotations = coco
    ds = datasets.CocoDetection(images, ann_file)
    assert len(ds) == 3 and ds.ids == [3, 5, 7]
    for index, image_id in enumerate([3, 5, 7]):
        img, target = ds[index]
        assert img.mode == "RGB"
        np.testing.assert_array_equal(np.asarray(img), pixels[image_id])
        assert target == [a for a in annotations if a["image_id"] == image_id]
    with pytest.raises(ValueError, match="integer"):
        ds[np.int64(0)]


def test_coco_captions_and_transforms(coco):
    images, ann_file, pixels, _ = coco
    ds = datasets.CocoCaptions(images, ann_file, transform=lambda im: np.asarray(im)[0, 0],
                               target_transform=len)
    assert datasets.CocoCaptions(images, ann_file)[2][1] == ["a red box", "a crowd"]
    first, count = ds[2]
    np.testing.assert_array_equal(first, pixels[7][0, 0])
    assert count == 2


def test_coco_corrupt_annotation_file_is_named(tmp_path):
    pytest.importorskip("pycocotools")
    path = tmp_path / "bad.json"
    path.write_bytes(b"\x80\x04not json")
    with pytest.raises(RuntimeError, match="bad.json"):
        datasets.CocoDetection(str(tmp_path), str(path))


def test_wrap_coco_detection_boxes_masks_labels(coco):
    images, ann_file, _, _ = coco
    ds = datasets.wrap_dataset_for_transforms_v2(datasets.CocoDetection(images, ann_file),
                                                 target_keys="all")
    assert isinstance(ds, datasets.CocoDetection) and len(ds) == 3
    img, target = ds[2]
    assert target.keys() == {"image_id", "boxes", "masks", "labels", "segmentation", "area",
                             "iscrowd", "bbox", "category_id"}
    assert target["image_id"] == 7 and target["iscrowd"] == [0, 1]
    boxes = target["boxes"]
    assert isinstance(boxes, tv_tensors.BoundingBoxes) and boxes.canvas_size == (10, 12)
    assert boxes.format is tv_tensors.BoundingBoxFormat.XYXY and boxes.dtype == ember.float32
    np.testing.assert_array_equal(boxes.numpy(), [[1, 2, 5, 7], [0.5, 0, 3.5, 2]])  # XYWH->XYXY
    assert target["labels"].dtype == ember.int64 and target["labels"].tolist() == [3, 1]
    masks = target["masks"]
    assert isinstance(masks, tv_tensors.Mask) and masks.dtype == ember.uint8
    want = np.zeros((2, 10, 12), np.uint8)
    want[0, 2:7, 1:5] = 1  # the polygon's pixels
    want[1, 5:8, 0] = 1  # the RLE runs go down the columns: 5 off, 3 on
    np.testing.assert_array_equal(masks.numpy(), want)
    assert ds[1][1] == {"image_id": 5}  # no annotations


def test_wrap_default_keys_and_transforms_move_to_wrapper(coco):
    images, ann_file, _, _ = coco
    from ember.vision.transforms import v2
    base = datasets.CocoDetection(images, ann_file, transforms=v2.RandomHorizontalFlip(p=1.0))
    ds = datasets.wrap_dataset_for_transforms_v2(base)
    assert base.transforms is None and ds.transforms is not None
    img, target = ds[2]
    assert target.keys() == {"image_id", "boxes", "labels"}
    np.testing.assert_array_equal(target["boxes"].numpy(), [[7, 2, 11, 7], [8.5, 0, 11.5, 2]])
    with pytest.raises(ValueError, match="not available"):
        datasets.wrap_dataset_for_transforms_v2(base, target_keys={"nope"})
    with pytest.raises(ValueError, match="target_keys"):
        datasets.wrap_dataset_for_transforms_v2(base, target_keys=3)


def test_wrap_rejects_unsupported(tmp_path):
    with pytest.raises(TypeError, match="VisionDataset"):
        datasets.wrap_dataset_for_transforms_v2([1, 2])
    with pytest.raises(TypeError, match="No wrapper"):
        datasets.wrap_dataset_for_transforms_v2(datasets.FakeData(size=1))
    with pytest.raises(ValueError, match="only supported"):
        datasets.wrap_dataset_for_transforms_v2(_image_folder(tmp_path), target_keys="all")


def _image_folder(root):
    os.makedirs(os.path.join(root, "cls"))
    _png(os.path.join(root, "cls", "a.png"), (3, 3, 3))
    return datasets.ImageFolder(str(root))


# --------------------------------------------------------------------------------------------
# VOC

_VOC_OBJECT = ("<object><name>{}</name><pose>Unspecified</pose><truncated>0</truncated>"
               "<difficult>{}</difficult><bndbox><xmin>{}</xmin><ymin>{}</ymin><xmax>{}</xmax>"
               "<ymax>{}</ymax></bndbox></object>")
_VOC_SAMPLES = {"2008_000001": ((9, 11), [("dog", 0, 1, 2, 6, 8), ("person", 1, 0, 0, 10, 5)]),
                "2008_000002": ((7, 8), [("tvmonitor", 0, 2, 1, 7, 6)])}


def _voc(root, year="2012"):
    base = os.path.join(root, "VOCdevkit", f"VOC{year}")
    for sub in ["JPEGImages", "Annotations", "SegmentationClass", "ImageSets/Main",
                "ImageSets/Segmentation"]:
        os.makedirs(os.path.join(base, sub))
    pixels, masks = {}, {}
    palette = [v for i in range(256) for v in (i, 255 - i, i // 2)]
    for name, ((h, w), objects) in _VOC_SAMPLES.items():
        # PNG bytes under the .jpg name: PIL reads by content, and the pixels stay exact
        pixels[name] = _png(os.path.join(base, "JPEGImages", name + ".jpg"), (h, w, 3))
        body = "".join(_VOC_OBJECT.format(*obj) for obj in objects)
        with open(os.path.join(base, "Annotations", name + ".xml"), "w") as f:
            f.write(f"<annotation>\n  <folder>VOC{year}</folder><filename>{name}.jpg</filename>"
                    f"<size><width>{w}</width><height>{h}</height><depth>3</depth></size>"
                    f"<segmented>1</segmented>{body}\n</annotation>\n")
        mask = _rng.integers(0, 21, (h, w), dtype=np.uint8)
        mask[0, 0] = 255
        png = Image.fromarray(mask, mode="P")
        png.putpalette(palette)
        png.save(os.path.join(base, "SegmentationClass", name + ".png"))
        masks[name] = mask
    for split in ["Main", "Segmentation"]:
        with open(os.path.join(base, "ImageSets", split, "train.txt"), "w") as f:
            f.write("2008_000002\n2008_000001\n")
    return base, pixels, masks


def test_voc_detection_parses_xml(tmp_path):
    _, pixels, _ = _voc(str(tmp_path))
    ds = datasets.VOCDetection(str(tmp_path))
    assert len(ds) == 2
    img, target = ds[1]
    np.testing.assert_array_equal(np.asarray(img), pixels["2008_000001"])
    annotation = target["annotation"]
    assert annotation["size"] == {"width": "11", "height": "9", "depth": "3"}
    assert annotation["segmented"] == "1" and annotation["filename"] == "2008_000001.jpg"
    assert [o["name"] for o in annotation["object"]] == ["dog", "person"]
    assert annotation["object"][1]["bndbox"] == {"xmin": "0", "ymin": "0", "xmax": "10",
                                                 "ymax": "5"}
    assert annotation["object"][1]["difficult"] == "1"
    single = ds[0][1]["annotation"]["object"]  # one object is still a list
    assert isinstance(single, list) and single[0]["name"] == "tvmonitor"


def test_voc_segmentation_palette_mask(tmp_path):
    _, pixels, masks = _voc(str(tmp_path))
    ds = datasets.VOCSegmentation(str(tmp_path), image_set="train")
    img, mask = ds[0]
    np.testing.assert_array_equal(np.asarray(img), pixels["2008_000002"])
    assert mask.mode == "P" and mask.getpalette()[3:6] == [1, 254, 0]
    np.testing.assert_array_equal(np.asarray(mask), masks["2008_000002"])
    wrapped = datasets.wrap_dataset_for_transforms_v2(ds)
    img, mask = wrapped[1]
    assert isinstance(mask, tv_tensors.Mask) and mask.dtype == ember.uint8
    np.testing.assert_array_equal(mask.numpy(), masks["2008_000001"][None])


def test_wrap_voc_detection(tmp_path):
    _voc(str(tmp_path))
    ds = datasets.wrap_dataset_for_transforms_v2(datasets.VOCDetection(str(tmp_path)))
    img, target = ds[1]
    assert target.keys() == {"boxes", "labels"}
    assert target["boxes"].canvas_size == (9, 11) and target["boxes"].dtype == ember.int64
    np.testing.assert_array_equal(target["boxes"].numpy(), [[1, 2, 6, 8], [0, 0, 10, 5]])
    assert target["labels"].tolist() == [12, 15]  # dog, person after __background__
    full = datasets.wrap_dataset_for_transforms_v2(datasets.VOCDetection(str(tmp_path)),
                                                   target_keys="all")[0][1]
    assert full.keys() == {"annotation", "boxes", "labels"} and full["labels"].tolist() == [20]


def test_voc_arguments_and_corrupt_files(tmp_path):
    base, _, _ = _voc(str(tmp_path))
    with pytest.raises(ValueError, match="image_set"):
        datasets.VOCDetection(str(tmp_path), image_set="test")  # only 2007 has a test split
    with pytest.raises(ValueError, match="year"):
        datasets.VOCDetection(str(tmp_path), year="2013")
    with pytest.raises(RuntimeError, match="Dataset not found"):
        datasets.VOCDetection(str(tmp_path), year="2007")
    with open(os.path.join(base, "Annotations", "2008_000002.xml"), "w") as f:
        f.write("<annotation><object>")
    with pytest.raises(RuntimeError, match="2008_000002.xml"):
        datasets.VOCDetection(str(tmp_path))[0]
    with open(os.path.join(base, "SegmentationClass", "2008_000002.png"), "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\nbroken")
    with pytest.raises(RuntimeError, match="2008_000002.png"):
        datasets.VOCSegmentation(str(tmp_path))[0]


def test_voc_xml_entities_are_not_resolved(tmp_path):
    base, _, _ = _voc(str(tmp_path))
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET")
    with open(os.path.join(base, "Annotations", "2008_000002.xml"), "w") as f:
        f.write(f'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file://{secret}">]>'
                "<annotation><folder>&x;</folder></annotation>")
    try:
        target = datasets.VOCDetection(str(tmp_path))[0][1]
    except RuntimeError:
        return  # refused outright (defusedxml)
    assert "SECRET" not in json.dumps(target)


# --------------------------------------------------------------------------------------------
# ImageNet

_WNIDS = ["n01440764", "n01443537"]
_NAMES = ["tench, Tinca tinca", "goldfish, Carassius auratus"]


def _md5(path) -> str:
    return hashlib.md5(open(path, "rb").read()).hexdigest()


def _tar(path, members: dict):
    with tarfile.open(path, "w") as tar:
        for name, file in members.items():
            tar.add(file, arcname=name)


def _imagenet(root, monkeypatch):
    """The three archives of ILSVRC2012 in miniature, with the module's checksums set to
    theirs; returns the validation images' pixels in file order."""
    scipy_io = pytest.importorskip("scipy.io")

    from ember.vision.datasets import imagenet
    scratch = os.path.join(root, "scratch")
    data = os.path.join(scratch, "ILSVRC2012_devkit_t12", "data")
    os.makedirs(data)
    fields = [("ILSVRC2012_ID", "O"), ("WNID", "O"), ("words", "O"), ("gloss", "O"),
              ("num_children", "O"), ("children", "O"), ("wordnet_height", "O"),
              ("num_train_images", "O")]
    synsets = np.zeros((3,), dtype=fields)
    for i, (idx, wnid, words, children) in enumerate(
            [(1, _WNIDS[0], _NAMES[0], 0), (2, _WNIDS[1], _NAMES[1], 0),
             (3, "n00000001", "fish", 2)]):  # a parent synset, dropped
        synsets[i] = (idx, wnid, words, "", children, np.zeros((0,)), 0, 3)
    scipy_io.savemat(os.path.join(data, "meta.mat"), {"synsets": synsets})
    with open(os.path.join(data, "ILSVRC2012_validation_ground_truth.txt"), "w") as f:
        f.write("2\n1\n2\n")
    devkit = os.path.join(root, "ILSVRC2012_devkit_t12.tar.gz")
    with tarfile.open(devkit, "w:gz") as tar:
        tar.add(os.path.join(scratch, "ILSVRC2012_devkit_t12"), arcname="ILSVRC2012_devkit_t12")
    val_pixels, val_files = [], {}
    for i in range(3):
        path = os.path.join(scratch, f"ILSVRC2012_val_{i + 1:08d}.png")
        val_pixels.append(_png(path, (4, 5, 3)))
        val_files[os.path.basename(path)] = path
    _tar(os.path.join(root, "ILSVRC2012_img_val.tar"), val_files)
    inner = {}
    for wnid in _WNIDS:
        path = os.path.join(scratch, f"{wnid}_1.png")
        _png(path, (3, 3, 3))
        _tar(os.path.join(scratch, wnid + ".tar"), {os.path.basename(path): path})
        inner[wnid + ".tar"] = os.path.join(scratch, wnid + ".tar")
    _tar(os.path.join(root, "ILSVRC2012_img_train.tar"), inner)
    monkeypatch.setattr(imagenet, "ARCHIVE_META", {
        key: (name, _md5(os.path.join(root, name)))
        for key, (name, _) in imagenet.ARCHIVE_META.items()})
    return val_pixels


def test_imagenet_from_archives(tmp_path, monkeypatch):
    val_pixels = _imagenet(str(tmp_path), monkeypatch)
    val = datasets.ImageNet(str(tmp_path), split="val")
    assert os.path.isfile(tmp_path / "meta.bin")
    assert val.wnids == _WNIDS and val.classes == [("tench", "Tinca tinca"),
                                                    ("goldfish", "Carassius auratus")]
    assert val.class_to_idx == {"tench": 0, "Tinca tinca": 0, "goldfish": 1,
                                "Carassius auratus": 1}
    assert val.wnid_to_idx == {_WNIDS[0]: 0, _WNIDS[1]: 1}
    # ground truth 2, 1, 2: images 1 and 3 are goldfish, image 2 a tench
    assert [t for _, t in val.samples] == [0, 1, 1]
    img, target = val[0]
    np.testing.assert_array_equal(np.asarray(img), val_pixels[1])
    assert target == 0
    train = datasets.ImageNet(str(tmp_path), split="train")
    assert len(train) == 2 and [t for _, t in train.samples] == [0, 1]
    assert "Split: train" in repr(train)


def test_imagenet_meta_file_is_read_safely(tmp_path):
    os.makedirs(tmp_path / "val" / _WNIDS[0])
    _png(str(tmp_path / "val" / _WNIDS[0] / "a.png"), (2, 2, 3))
    ember.save(({_WNIDS[0]: ("tench",)}, [_WNIDS[0]]), str(tmp_path / "meta.bin"))
    assert datasets.ImageNet(str(tmp_path), split="val").classes == [("tench",)]

    class Payload:
        def __reduce__(self):
            return (os.system, ("echo pwned",))
    import pickle
    (tmp_path / "meta.bin").write_bytes(pickle.dumps(Payload()))
    with pytest.raises(RuntimeError, match="meta.bin"):
        datasets.ImageNet(str(tmp_path), split="val")
    with pytest.raises(ValueError, match="split"):
        datasets.ImageNet(str(tmp_path), split="test")


def test_imagenet_missing_archive(tmp_path):
    with pytest.raises(RuntimeError, match="ILSVRC2012_devkit_t12.tar.gz"):
        datasets.ImageNet(str(tmp_path))


# --------------------------------------------------------------------------------------------
# Places365 and iNaturalist

def _places365(root, split):
    pixels = {}
    with open(os.path.join(root, "categories_places365.txt"), "w") as f:
        f.write("/a/airfield 0\n/b/bakery/shop 1\n/a/alley 2\n")
    folder = os.path.join(root, "val_large" if split == "val" else "data_large_standard")
    lines = []
    for name, label in [("x1.png", 2), ("x2.png", 0)]:
        sub = "" if split == "val" else "a/alley/" if label == 2 else "a/airfield/"
        os.makedirs(os.path.join(folder, sub), exist_ok=True)
        pixels[name] = _png(os.path.join(folder, sub, name), (4, 6, 3))
        lines.append(f"/{sub}{name} {label}")
    list_file = os.path.join(root, f"places365_{split.replace('-', '_')}.txt")
    with open(list_file, "w") as f:
        f.write("\n".join(lines) + "\n")
    cls = datasets.Places365
    split_lists = dict(cls._FILE_LIST_META)
    split_lists[split] = (os.path.basename(list_file), _md5(list_file))
    local = type("Places365", (cls,), {
        "_CATEGORIES_META": ("categories_places365.txt",
                             _md5(os.path.join(root, "categories_places365.txt"))),
        "_FILE_LIST_META": split_lists})
    return local, pixels


@pytest.mark.parametrize("split", ["val", "train-standard"])
def test_places365(tmp_path, split):
    local, pixels = _places365(str(tmp_path), split)
    ds = local(str(tmp_path), split=split)
    assert ds.classes == ["/a/airfield", "/a/alley", "/b/bakery/shop"]
    assert ds.class_to_idx == {"/a/airfield": 0, "/b/bakery/shop": 1, "/a/alley": 2}
    assert ds.targets == [2, 0] and len(ds) == 2
    img, target = ds[0]
    np.testing.assert_array_equal(np.asarray(img), pixels["x1.png"])
    assert target == 2
    with open(os.path.join(str(tmp_path), "categories_places365.txt"), "a") as f:
        f.write("/z/zoo 3\n")  # the checksum no longer holds
    with pytest.raises(RuntimeError, match="corrupted"):
        local(str(tmp_path), split=split)


def test_inaturalist_2021(tmp_path):
    root = os.path.join(str(tmp_path), "2021_valid")
    species = ["00000_Animalia_Chordata_Aves_Passeriformes_Corvidae_Corvus_corax",
               "00001_Animalia_Chordata_Aves_Passeriformes_Paridae_Parus_major",
               "00002_Plantae_Tracheophyta_Magnoliopsida_Rosales_Rosaceae_Rosa_canina"]
    pixels = {}
    for i, name in enumerate(species):
        os.makedirs(os.path.join(root, name))
        pixels[i] = _png(os.path.join(root, name, f"{i}.png"), (3, 4, 3))
    ds = datasets.INaturalist(str(tmp_path), version="2021_valid",
                              target_type=["full", "kingdom", "family"])
    assert len(ds) == 3
    samples = {ds.index[i][0]: ds[i] for i in range(3)}
    assert {k: v[1] for k, v in samples.items()} == {0: (0, 0, 0), 1: (1, 0, 1), 2: (2, 1, 2)}
    np.testing.assert_array_equal(np.asarray(samples[2][0]), pixels[2])
    assert ds.category_name("family", 1) == "Paridae" and ds.category_name("full", 0) == species[0]
    os.makedirs(os.path.join(root, "00003_bad"))
    with pytest.raises(RuntimeError, match="wrong number of pieces"):
        datasets.INaturalist(str(tmp_path), version="2021_valid")
    with pytest.raises(RuntimeError, match="Dataset not found"):
        datasets.INaturalist(str(tmp_path), version="2019")


@pytest.mark.parametrize("version", ["2017", "2018"])
def test_inaturalist_pre2021(tmp_path, version):
    root = os.path.join(str(tmp_path), version)
    names = ({"Aves": ["Corvus", "Parus"], "Plantae": ["Rosa"]} if version == "2017"
             else {"Aves": ["2", "0"], "Plantae": ["1"]})
    for super_name, subs in names.items():
        for sub in subs:
            os.makedirs(os.path.join(root, super_name, sub))
            _png(os.path.join(root, super_name, sub, "a.png"), (2, 2, 3))
    ds = datasets.INaturalist(str(tmp_path), version=version, target_type=["full", "super"])
    if version == "2017":
        assert ds.all_categories == [os.path.join("Aves", "Corvus"),
                                     os.path.join("Aves", "Parus"), os.path.join("Plantae", "Rosa")]
    else:
        assert ds.all_categories == [os.path.join("Aves", "0"), os.path.join("Plantae", "1"),
                                     os.path.join("Aves", "2")]
    assert sorted(ds[i][1] for i in range(3)) == sorted(
        (i, 0 if c.startswith("Aves") else 1) for i, c in enumerate(ds.all_categories))
