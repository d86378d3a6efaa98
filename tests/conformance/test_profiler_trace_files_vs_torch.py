"""tensorboard_trace_handler's files against PyTorch's: the name (worker and a nanosecond
time) and the top-level flags that record the profiler's options."""

import json
import os
import re

import pytest

torch = pytest.importorskip("torch")

import ember  # noqa: E402

FLAGS = ("record_shapes", "profile_memory", "with_stack")


def _trace(lib, folder, **options) -> tuple:
    with lib.profiler.profile(on_trace_ready=lib.profiler.tensorboard_trace_handler(
            str(folder), worker_name="w0"), **options):
        lib.ones(2) * 3
    (name,) = os.listdir(folder)
    doc = json.loads((folder / name).read_text())
    return re.sub(r"\d", "9", name), {flag: doc[flag] for flag in FLAGS if flag in doc}


@pytest.mark.parametrize("options", [{}, {"record_shapes": True},
                                     {"profile_memory": True, "with_stack": True}])
def test_trace_file_name_and_flags_match(tmp_path, options):
    (tmp_path / "ember").mkdir()
    (tmp_path / "torch").mkdir()
    assert _trace(ember, tmp_path / "ember", **options) == \
        _trace(torch, tmp_path / "torch", **options)
