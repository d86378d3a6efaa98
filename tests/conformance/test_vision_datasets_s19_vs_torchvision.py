"""PCAM and LSUN against real torchvision on the same on-disk fixtures (written by
tests/test_vision_datasets_s19): the same samples, targets and order."""
import numpy as np
import pytest

from ember.vision import datasets
from tests import test_vision_datasets_s19 as fixtures

pytest.importorskip("torch")
pytest.importorskip("PIL")


@pytest.fixture(scope="module")
def tv():
    from tests.conformance.real_torchvision import real_torchvision
    return real_torchvision()


def samples(dataset) -> list:
    return [dataset[i] for i in range(len(dataset))]


def assert_same_samples(ours: list, theirs: list):
    assert len(ours) == len(theirs)
    for (image, target), (tv_image, tv_target) in zip(ours, theirs):
        assert image.mode == tv_image.mode and target == tv_target
        assert type(target) is type(tv_target)
        np.testing.assert_array_equal(np.asarray(image), np.asarray(tv_image))


def test_pcam_matches_torchvision(tv, tmp_path):
    fixtures.make_pcam(tmp_path, "test", n=4)
    assert_same_samples(samples(datasets.PCAM(str(tmp_path), split="test")),
                        samples(tv.datasets.PCAM(str(tmp_path), split="test")))


def test_lsun_matches_torchvision(tv, tmp_path, monkeypatch):
    fixtures.make_lsun(tmp_path / "data", ("church_outdoor_train", "bridge_train"), (2, 3))
    monkeypatch.chdir(tmp_path)  # torchvision pickles each database's keys into the cwd
    classes = ["bridge_train", "church_outdoor_train"]
    # one at a time: LMDB opens a database once per process (the first closes when dropped)
    theirs = samples(tv.datasets.LSUN(str(tmp_path / "data"), classes=classes))
    assert_same_samples(samples(datasets.LSUN(str(tmp_path / "data"), classes=classes)), theirs)
