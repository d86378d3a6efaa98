"""``torch.distributed.elastic.multiprocessing.errors``: ``@record`` writes the exception that
ends a worker (message, traceback, time) as JSON where TORCHELASTIC_ERROR_FILE says and
re-raises it; ProcessFailure reads such files back; ChildFailedError reports the first one."""
import json
import signal

import pytest

from ember.distributed.elastic.multiprocessing.errors import (
    ChildFailedError,
    ErrorHandler,
    ProcessFailure,
    record,
)


def test_record_writes_the_error_file_and_reraises(tmp_path, monkeypatch):
    error_file = tmp_path / "error.json"
    monkeypatch.setenv("TORCHELASTIC_ERROR_FILE", str(error_file))

    @record
    def main(x):
        raise ValueError(f"bad batch {x}")
    with pytest.raises(ValueError, match="bad batch 3"):
        main(3)
    data = json.loads(error_file.read_text())
    assert data["message"]["message"] == "ValueError: bad batch 3"
    assert "raise ValueError" in data["message"]["extraInfo"]["py_callstack"]
    assert int(data["message"]["extraInfo"]["timestamp"]) > 0
    assert main.__name__ == "main"


def test_record_passes_results_and_clean_exits(tmp_path, monkeypatch):
    monkeypatch.delenv("TORCHELASTIC_ERROR_FILE", raising=False)
    assert record(lambda: 5)() == 5

    def exits(code):
        raise SystemExit(code)
    assert record(exits)(0) is None
    with pytest.raises(SystemExit):
        record(exits)(2)
    with pytest.raises(KeyError):  # no launcher file: nothing written, still raised
        record(lambda: {}["x"])()


def test_process_failures_and_child_failed_error(tmp_path, monkeypatch):
    first, second = tmp_path / "0.json", tmp_path / "1.json"
    for path, message, when in ((first, "boom", 100), (second, "later", 200)):
        path.write_text(json.dumps({"message": {"message": f"RuntimeError: {message}",
                                                "extraInfo": {"py_callstack": f"Trace {message}",
                                                              "timestamp": str(when)}}}))
    failures = {1: ProcessFailure(1, 11, 1, str(second)), 0: ProcessFailure(0, 10, 1, str(first))}
    assert failures[0].timestamp == 100 and failures[0].message["message"] == "RuntimeError: boom"
    error = ChildFailedError("train.py", failures)
    assert error.get_first_failure() == (0, failures[0])
    text = str(error)
    assert "train.py FAILED" in text and text.index("Trace later") < text.index("Root Cause")
    assert "Trace boom" in text.split("Root Cause")[1]
    killed = ProcessFailure(2, 12, -signal.SIGKILL, str(tmp_path / "missing.json"))
    assert killed.error_file == "<N/A>" and killed.signal_name() == "SIGKILL"
    assert killed.message == "Signal 9 (SIGKILL) received by PID 12"
    assert "errors.html" in ProcessFailure(3, 13, 1, "missing").message
    with pytest.raises(ValueError):
        ChildFailedError("x", {})
    # a launcher's own @record passes the child's root cause up, with the child's exit code
    parent_file = tmp_path / "parent.json"
    monkeypatch.setenv("TORCHELASTIC_ERROR_FILE", str(parent_file))

    @record
    def launcher():
        raise ChildFailedError("train.py", {0: ProcessFailure(0, 10, 7, str(first))})
    with pytest.raises(ChildFailedError):
        launcher()
    copied = json.loads(parent_file.read_text())
    assert copied["message"]["message"] == "RuntimeError: boom"
    assert copied["message"]["errorCode"] == 7


def test_a_malformed_error_file_raises_clearly(tmp_path):
    path = tmp_path / "error.json"
    path.write_text("{not json")
    with pytest.raises(RuntimeError, match="not an error file"):
        ProcessFailure(0, 1, 1, str(path))
    path.write_text(json.dumps({"other": 1}))
    with pytest.raises(RuntimeError, match="not an error file"):
        ProcessFailure(0, 1, 1, str(path))
    ErrorHandler().initialize()  # faulthandler on: no error
