"""Acceptance: the "PyTorch Profiler" recipe in its ``torch.autograd.profiler`` revision
(recipes_source/recipes/profiler.py) runs on ember.

Code from pytorch/tutorials (BSD-3-Clause), prose and comments removed; otherwise unchanged: a
torchvision ResNet-18 on a batch of 5 images at 224x224, profiled three times (with
``record_function`` and input shapes, with memory, and for a Chrome trace). Timings differ
from PyTorch's, so the tables are checked for PyTorch's layout and for the operators a
ResNet-18 runs rather than compared line by line.
"""

import json
import re

from acceptance_runner import run

PROFILER_RECIPE = r"""
import torch
import torchvision.models as models
import torch.autograd.profiler as profiler

model = models.resnet18()
inputs = torch.randn(5, 3, 224, 224)

with profiler.profile(record_shapes=True) as prof:
    with profiler.record_function("model_inference"):
        model(inputs)

print(prof.key_averages().table(sort_by="cpu_time_total", row_limit=10))

print(prof.key_averages(group_by_input_shape=True).table(sort_by="cpu_time_total", row_limit=10))

with profiler.profile(profile_memory=True, record_shapes=True) as prof:
    model(inputs)

print(prof.key_averages().table(sort_by="self_cpu_memory_usage", row_limit=10))

print(prof.key_averages().table(sort_by="cpu_memory_usage", row_limit=10))

with profiler.profile() as prof:
    with profiler.record_function("model_inference"):
        model(inputs)

prof.export_chrome_trace("trace.json")
"""

# The header rows of PyTorch's ``key_averages().table()`` for these three kinds of table (the
# column widths follow the longest name and shape, so the words are compared).
TIME_HEADER = ("Name Self CPU % Self CPU CPU total % CPU total CPU time avg # of Calls").split()
SHAPES_HEADER = TIME_HEADER + ["Input", "Shapes"]
MEMORY_HEADER = ("Name Self CPU % Self CPU CPU total % CPU total CPU time avg CPU Mem "
                 "Self CPU Mem # of Calls").split()


def _rows(table: str) -> list:
    """The (name, cells...) rows of one printed table."""
    lines = table.strip("\n").splitlines()
    return [re.split(r"\s{2,}", line.strip()) for line in lines[3:-2]]


def test_autograd_profiler_recipe(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = run(PROFILER_RECIPE)["_stdout"]
    tables = [t for t in out.split("\n\n") if t.strip()]
    assert len(tables) == 4
    headers = [t.strip("\n").splitlines()[1].split() for t in tables]
    assert headers == [TIME_HEADER, SHAPES_HEADER, MEMORY_HEADER, MEMORY_HEADER]
    for table in tables:
        assert len(_rows(table)) == 10  # row_limit=10
        assert re.search(r"Self CPU time total: \d+(\.\d+)?(us|ms|s)$", table.strip())

    by_time = _rows(tables[0])
    assert by_time[0][0] == "model_inference" and by_time[0][3] == "100.00%"
    names = {row[0] for row in by_time}
    assert {"aten::conv2d", "aten::convolution"} <= names
    calls = {row[0]: int(row[-1]) for row in by_time}
    assert calls["aten::conv2d"] == 20  # ResNet-18's twenty convolutions

    shapes = {(row[0], row[-1]) for row in _rows(tables[1])}
    assert ("model_inference", "[]") in shapes
    # which convolutions make the top ten depends on timings; each has a batch of 5 and 4-d
    # weights
    conv = re.compile(r"\[\[5, \d+, \d+, \d+\], \[\d+, \d+, \d+, \d+\], ")
    assert any(name == "aten::conv2d" and conv.match(shape) for name, shape in shapes)

    # sorted by self memory, then by total memory: the column is non-increasing
    def megabytes(cell: str) -> float:
        value, unit = cell.split()
        return float(value) * {"b": 1e-6, "B": 1e-6, "KB": 1e-3, "Kb": 1e-3, "MB": 1,
                                "Mb": 1, "GB": 1e3, "Gb": 1e3}[unit]

    for table, column in ((tables[2], -2), (tables[3], -3)):
        sizes = [megabytes(row[column]) for row in _rows(table)]
        assert sizes == sorted(sizes, reverse=True) and sizes[0] > 1

    with open(tmp_path / "trace.json") as f:
        trace = json.load(f)
    names = {event.get("name") for event in trace["traceEvents"]}
    assert "model_inference" in names and "aten::conv2d" in names
