"""@record's error files and their reading back against torch.distributed.elastic's: each
library reads the other's files, and both write the same structure."""
import json

import pytest

pytest.importorskip("torch")
from torch.distributed.elastic.multiprocessing import errors as theirs  # noqa: E402

from ember.distributed.elastic.multiprocessing import errors as ours  # noqa: E402


def _failing_main(module):
    @module.record
    def main():
        raise ZeroDivisionError("step 12")
    return main


def test_error_files_read_across_libraries(tmp_path, monkeypatch):
    files = {}
    for name, module in (("ours", ours), ("theirs", theirs)):
        files[name] = tmp_path / f"{name}.json"
        monkeypatch.setenv("TORCHELASTIC_ERROR_FILE", str(files[name]))
        with pytest.raises(ZeroDivisionError):
            _failing_main(module)()
    written = {name: json.loads(path.read_text()) for name, path in files.items()}
    assert written["ours"]["message"]["message"] == written["theirs"]["message"]["message"]
    assert sorted(written["ours"]["message"]["extraInfo"]) == sorted(
        written["theirs"]["message"]["extraInfo"])
    for reader, writer in ((ours, "theirs"), (theirs, "ours")):
        failure = reader.ProcessFailure(0, 123, 1, str(files[writer]))
        assert failure.message == written[writer]["message"]
        assert failure.timestamp == int(written[writer]["message"]["extraInfo"]["timestamp"])
    monkeypatch.delenv("TORCHELASTIC_ERROR_FILE")
    for module in (ours, theirs):
        failure = module.ProcessFailure(1, 77, -9, str(tmp_path / "absent.json"))
        assert (failure.error_file, failure.message) == (
            "<N/A>", "Signal 9 (SIGKILL) received by PID 77")
