"""``ember.PyTorchFileReader`` (``torch.PyTorchFileReader``): a checkpoint archive's records by
the names PyTorch's reader gives them (without the archive's folder), their bytes, offsets and
sizes, and a record's storage as a tensor."""
import io
import zipfile

import numpy as np
import pytest

import ember


@pytest.fixture
def checkpoint(tmp_path):
    path = tmp_path / "weights.pt"
    ember.save({"w": ember.arange(6.0).reshape(2, 3), "step": 7}, path)
    return path


def test_records_by_name(checkpoint):
    reader = ember.PyTorchFileReader(str(checkpoint))
    with zipfile.ZipFile(checkpoint) as archive:
        names = archive.namelist()
        folder = names[0].split("/")[0] + "/"
        assert reader.get_all_records() == [n[len(folder):] for n in names]
        assert reader.get_record("data.pkl") == archive.read(folder + "data.pkl")
        info = archive.getinfo(folder + "data/0")
    assert reader.has_record("data/0") and not reader.has_record(folder + "data/0")
    assert reader.get_record_size("data/0") == info.file_size == 24
    raw = checkpoint.read_bytes()
    offset = reader.get_record_offset("data/0")
    assert np.frombuffer(raw[offset:offset + 24], np.float32).tolist() == [0, 1, 2, 3, 4, 5]
    with pytest.raises(RuntimeError, match="failed locating file nope"):
        reader.get_record("nope")


def test_storage_from_record_and_file_objects(checkpoint):
    reader = ember.PyTorchFileReader(io.BytesIO(checkpoint.read_bytes()))
    as_bytes = reader.get_storage_from_record("data/0", 24, ember.UntypedStorage)
    assert as_bytes.dtype is ember.uint8 and as_bytes.shape == (0,)
    assert as_bytes.untyped_storage().nbytes() == 24
    as_floats = reader.get_storage_from_record("data/0", 6, ember.float32)
    assert list(as_floats.storage()) == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
