"""SummaryWriter: what it writes, read back with TensorBoard's own event reader."""
import io

import numpy as np
import pytest

import ember

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

from ember.utils.tensorboard import SummaryWriter  # noqa: E402


def _read(folder) -> EventAccumulator:
    acc = EventAccumulator(str(folder), size_guidance={"tensors": 0, "images": 0})
    acc.Reload()
    return acc


def test_scalars_and_scalar_groups(tmp_path):
    with SummaryWriter(tmp_path) as w:
        for step in range(3):
            w.add_scalar("loss/train", ember.tensor(1.0 / (step + 1)), step)
        w.add_scalars("acc", {"train": 0.5, "val": 0.25}, 7)
    assert [(e.step, round(e.value, 6)) for e in _read(tmp_path).Scalars("loss/train")] == \
        [(0, 1.0), (1, 0.5), (2, 0.333333)]
    assert [e.value for e in _read(tmp_path / "acc_val").Scalars("acc")] == [0.25]
    with pytest.raises(ValueError, match="one value"):
        SummaryWriter(tmp_path).add_scalar("x", ember.ones(2))


def test_histogram_counts_every_value(tmp_path):
    values = np.random.default_rng(0).standard_normal(1000)
    with SummaryWriter(tmp_path) as w:
        w.add_histogram("w", ember.tensor(values), 3)
        w.add_histogram("w10", values, 3, bins=10)
    h = _read(tmp_path).Histograms("w")[0].histogram_value
    assert (h.num, h.min, h.max) == (1000, values.min(), values.max())
    assert h.sum == pytest.approx(values.sum()) and sum(h.bucket) == 1000
    h10 = _read(tmp_path).Histograms("w10")[0].histogram_value
    counts, edges = np.histogram(values, 10)
    assert list(h10.bucket) == counts.tolist()
    np.testing.assert_allclose(h10.bucket_limit, edges[1:])


def test_images_round_trip_through_png(tmp_path):
    from PIL import Image
    rng = np.random.default_rng(1)
    chw = rng.random((3, 5, 7)).astype(np.float32)
    with SummaryWriter(tmp_path) as w:
        w.add_image("chw", ember.tensor(chw), 0)
        w.add_image("hw", (chw[0] * 255).astype(np.uint8), 0, dataformats="HW")
    event = _read(tmp_path).Images("chw")[0]
    decoded = np.asarray(Image.open(io.BytesIO(event.encoded_image_string)))
    np.testing.assert_array_equal(decoded, (chw.transpose(1, 2, 0) * 255 + 0.5).astype(np.uint8))
    assert (event.width, event.height) == (7, 5)
    gray = _read(tmp_path).Images("hw")[0]
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(gray.encoded_image_string))),
                                  (chw[0] * 255).astype(np.uint8))


def test_text_and_pr_curve(tmp_path):
    rng = np.random.default_rng(2)
    labels, predictions = rng.integers(0, 2, 200), rng.random(200)
    with SummaryWriter(tmp_path) as w:
        w.add_text("note", "hello *world*", 1)
        w.add_pr_curve("pr", labels, predictions, 1, num_thresholds=11)
    acc = _read(tmp_path)
    assert acc.Tensors("note/text_summary")[0].tensor_proto.string_val == [b"hello *world*"]
    proto = acc.Tensors("pr")[0].tensor_proto
    data = np.array(proto.float_val).reshape(6, 11)
    thresholds = np.arange(11) / 10  # predictions at or above a threshold count positive
    tp = [(labels.astype(bool) & (predictions >= t)).sum() for t in thresholds]
    fp = [(~labels.astype(bool) & (predictions >= t)).sum() for t in thresholds]
    np.testing.assert_allclose(data[0], tp)
    np.testing.assert_allclose(data[1], fp)
    np.testing.assert_allclose(data[4], np.array(tp) / np.maximum(1e-7, np.add(tp, fp)),
                               rtol=1e-6)
    np.testing.assert_allclose(data[0] + data[3], labels.sum())  # tp + fn = all positives


def test_embedding_writes_the_projector_files(tmp_path):
    mat = np.arange(12.0).reshape(4, 3)
    with SummaryWriter(tmp_path) as w:
        w.add_embedding(ember.tensor(mat), metadata=["a", "b", "c", "d"],
                        label_img=ember.rand(4, 1, 2, 2), global_step=2, tag="emb")
    folder = tmp_path / "00002" / "emb"
    np.testing.assert_array_equal(np.loadtxt(folder / "tensors.tsv"), mat)
    assert (folder / "metadata.tsv").read_text().split() == ["a", "b", "c", "d"]
    assert (folder / "sprite.png").exists()
    config = (tmp_path / "projector_config.pbtxt").read_text()
    assert 'tensor_path: "00002/emb/tensors.tsv"' in config and "single_image_dim: 2" in config
