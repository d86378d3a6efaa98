"""Checkpoints with globals marked safe (``add_safe_globals``), and the archive reader
(``PyTorchFileReader``), against PyTorch: each loads what the other saves under the same
allowlist, and both readers see the same records at the same offsets."""
import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")


class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y


def _numpy_globals(array):
    return [np.ndarray.__reduce__(array)[0], np.ndarray, np.dtype, type(array.dtype)]


@pytest.mark.parametrize("saver, loader", [(torch, ember), (ember, torch)])
def test_marked_globals_load_across_libraries(tmp_path, saver, loader):
    array = np.arange(5, dtype=np.uint32)
    path = tmp_path / "checkpoint.pt"
    saver.save({"point": Point(1, 2), "array": array, "w": saver.ones(2)}, path)
    with pytest.raises(Exception, match="Point"):
        loader.load(path, weights_only=True)
    marked_before = set(loader.serialization.get_safe_globals())
    with loader.serialization.safe_globals([Point, *_numpy_globals(array)]):
        loaded = loader.load(path, weights_only=True)
    assert (loaded["point"].x, loaded["point"].y) == (1, 2)
    assert np.array_equal(loaded["array"], array) and loaded["w"].tolist() == [1.0, 1.0]
    assert set(loader.serialization.get_safe_globals()) == marked_before  # (a set: unordered)


@pytest.mark.parametrize("saver", [torch, ember])
def test_archive_readers_agree(tmp_path, saver):
    path = tmp_path / "weights.pt"
    saver.save({"w": saver.arange(6.0), "b": saver.zeros(3, dtype=saver.int64)}, path)
    ours, theirs = ember.PyTorchFileReader(str(path)), torch.PyTorchFileReader(str(path))
    assert ours.get_all_records() == theirs.get_all_records()
    assert ours.serialization_id() == theirs.serialization_id()
    for name in ("data.pkl", "data/0", "data/1"):
        assert ours.get_record(name) == theirs.get_record(name)
        assert ours.get_record_offset(name) == theirs.get_record_offset(name)
        assert ours.get_record_size(name) == theirs.get_record_size(name)
    ours_storage = ours.get_storage_from_record("data/0", 24, ember.UntypedStorage)
    theirs_storage = theirs.get_storage_from_record("data/0", 24, torch.UntypedStorage)
    assert ours_storage.shape == theirs_storage.shape == (0,)
    assert bytes(ours_storage.untyped_storage()) == bytes(theirs_storage.untyped_storage())
