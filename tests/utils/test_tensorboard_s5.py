"""SummaryWriter, fifth tutorial sweep: add_graph (the autograd graph of one forward pass,
scoped by module) and writing after close(), read back with TensorBoard's own event reader."""
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

from ember.utils.tensorboard import SummaryWriter  # noqa: E402


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 2, 3)
        self.bn = nn.BatchNorm2d(2)
        self.head = nn.Sequential(nn.Linear(2 * 4 * 4, 3), nn.ReLU())

    def forward(self, x):
        x = F.relu(self.bn(self.conv1(x)))
        return self.head(x.flatten(1))


def _graph(tmp_path, model, inputs):
    with SummaryWriter(tmp_path) as w:
        w.add_graph(model, inputs)
    acc = EventAccumulator(str(tmp_path))
    acc.Reload()
    return {n.name: n for n in acc.Graph().node}


def test_add_graph_writes_the_scoped_autograd_graph(tmp_path):
    model = Net()
    nodes = _graph(tmp_path, model, ember.randn(2, 1, 6, 6))
    assert nodes["input/input.0"].op == "IO Node"
    assert list(nodes["output/output.0"].input) == ["Net/Sequential[head]/ReLU[1]/Relu"]
    conv = nodes["Net/Conv2d[conv1]/Convolution"]
    assert list(conv.input) == ["input/input.0", "Net/Conv2d[conv1]/weight",
                                "Net/Conv2d[conv1]/bias"]
    assert nodes["Net/Conv2d[conv1]/weight"].op == "prim::GetAttr"
    assert any(name.startswith("Net/BatchNorm2d[bn]/") for name in nodes)
    assert "Net/Relu" in nodes  # F.relu in Net.forward: the root module's scope
    # Every edge names a node of the graph.
    assert all(src in nodes for n in nodes.values() for src in n.input)


def test_add_graph_runs_in_eval_mode_and_leaves_the_model_alone(tmp_path):
    model = Net()
    x = ember.randn(2, 1, 6, 6)
    _graph(tmp_path, model, x)
    assert model.training and model.bn.training
    assert ember.equal(model.bn.running_mean, ember.zeros(2))  # eval: no statistics updated
    assert model.conv1.weight.grad is None and not x.requires_grad
    assert not model._forward_hooks and not model.conv1._forward_pre_hooks


def test_add_graph_of_several_inputs_and_outputs(tmp_path):
    class Pair(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 3)

        def forward(self, a, b):
            return self.lin(a) * b, a.sum()

    nodes = _graph(tmp_path, Pair(), (ember.randn(2, 3), ember.randn(2, 3)))
    assert {"input/input.0", "input/input.1", "output/output.0", "output/output.1"} <= set(nodes)
    assert list(nodes["output/output.1"].input) == ["Pair/Sum"]
    mul = nodes[nodes["output/output.0"].input[0]]
    assert mul.name == "Pair/Mul" and "input/input.1" in mul.input


def test_writing_after_close_opens_a_new_event_file(tmp_path):
    """PyTorch's writer reopens on the next write after ``close()`` (the TensorBoard tutorial
    closes, then logs its training); the events of both files are read back."""
    w = SummaryWriter(tmp_path)
    w.add_scalar("loss", 1.0, 0)
    w.add_scalars("acc", {"train": 0.5}, 0)
    w.close()
    w.add_scalar("loss", 0.5, 1)
    w.add_scalars("acc", {"train": 0.75}, 1)
    w.close()
    w.close()  # closing twice is harmless
    assert len(list(tmp_path.glob("events.out.tfevents.*"))) == 2
    acc = EventAccumulator(str(tmp_path))
    acc.Reload()
    assert [(e.step, e.value) for e in acc.Scalars("loss")] == [(0, 1.0), (1, 0.5)]
    child = EventAccumulator(str(tmp_path / "acc_train"))
    child.Reload()
    assert [e.value for e in child.Scalars("acc")] == [0.5, 0.75]
