"""Acceptance: "PyTorch Profiler With TensorBoard" (intermediate_source/
tensorboard_profiler_tutorial.py, stored verbatim under data/tutorials_s19/) runs on ember and
writes the trace files TensorBoard's profiler plugin reads.

Edits: the model and loss stay on the CPU (``device = torch.device("cpu")``, ``.to(device)``
for ``.cuda(device)``), the ResNet-18 starts untrained (``weights=None``: no download), CIFAR10
is a small synthetic copy the test writes (its MD5 sums patched in, as
test_blitz_cifar10_tutorial does), images are resized to 16 pixels instead of 224 and batches
hold 2 images instead of 32.
"""

import json
import os
import re
import socket

from acceptance_runner import run, write_cifar10
from tutorial_source import load

from ember.vision.datasets import CIFAR10

EDITS = (
    ("T.Resize(224)", "T.Resize(16)"),
    ("DataLoader(train_set, batch_size=32, shuffle=True)\n",
     "DataLoader(train_set, batch_size=2, shuffle=True)\n"),
    ('device = torch.device("cuda:0")', 'device = torch.device("cpu")'),
    ("resnet18(weights='IMAGENET1K_V1').cuda(device)", "resnet18(weights=None).to(device)"),
    ("CrossEntropyLoss().cuda(device)", "CrossEntropyLoss().to(device)"),
)


def test_profiler_writes_one_trace_per_cycle(tmp_path, monkeypatch):
    md5 = write_cifar10(tmp_path / "data", per_batch=4, n_test=4)
    monkeypatch.setattr(CIFAR10, "train_list", [[f"data_batch_{i}", md5[f"data_batch_{i}"]]
                                                for i in range(1, 6)])
    monkeypatch.setattr(CIFAR10, "test_list", [["test_batch", md5["test_batch"]]])
    monkeypatch.chdir(tmp_path)
    ns = run(load("tutorials_s19/tensorboard_profiler_tutorial.py.txt", *EDITS))
    assert ns["prof"].step_num == 6  # wait 1 + warmup 1 + active 3, then the step that stops

    folder = tmp_path / "log" / "resnet18"
    names = sorted(os.listdir(folder), key=lambda n: int(n.split(".")[1]))
    worker = re.escape(f"{socket.gethostname()}_{os.getpid()}")
    assert len(names) == 2 and all(re.fullmatch(worker + r"\.\d{19}\.pt\.trace\.json", n)
                                   for n in names)
    for name, with_memory in zip(names, (True, False)):
        doc = json.loads((folder / name).read_text())
        assert doc["record_shapes"] == doc["with_stack"] == 1
        assert ("profile_memory" in doc) is with_memory
        events = doc["traceEvents"]
        steps = [e["name"] for e in events if e["name"].startswith("ProfilerStep#")]
        assert steps == ["ProfilerStep#2", "ProfilerStep#3", "ProfilerStep#4"]
        convs = [e for e in events if e.get("cat") == "cpu_op" and e["name"] == "aten::conv2d"]
        assert len(convs) == 3 * 20  # ResNet-18's 20 convolutions in each active step
        assert convs[0]["args"]["Input Dims"][:2] == [[2, 3, 16, 16], [64, 3, 7, 7]]
        step_range = next(e for e in events if e["name"] == "ProfilerStep#2")
        assert step_range["ts"] <= convs[0]["ts"] <= step_range["ts"] + step_range["dur"]
