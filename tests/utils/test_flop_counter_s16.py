"""``ember.utils.flop_counter.FlopCounterMode`` and ``ember.utils.module_tracker``: the FLOPs of
matrix products, convolutions and attention by PyTorch's formulas (2mkn per product of an
m x k and a k x n matrix; matrix-vector products uncounted), per module by the names PyTorch's
ModuleTracker gives ("Linear", "Sequential.0", ...); a backward pass inside the mode adds a
product's count once per operand that needs a gradient."""
import pytest

import ember
import ember.nn.functional as F
from ember.utils.flop_counter import FlopCounterMode
from ember.utils.module_tracker import ModuleTracker

CASES = {
    "dot": (lambda: ember.randn(4) @ ember.randn(4), 0),
    "matrix-vector": (lambda: ember.randn(3, 4) @ ember.randn(4), 0),
    "vector-matrix": (lambda: ember.randn(4) @ ember.randn(4, 3), 2 * 4 * 3),
    "mm": (lambda: ember.mm(ember.randn(3, 4), ember.randn(4, 5)), 2 * 3 * 4 * 5),
    "batched @ matrix": (lambda: ember.randn(2, 3, 4) @ ember.randn(4, 5), 2 * 2 * 3 * 4 * 5),
    "broadcast batches": (lambda: ember.randn(2, 1, 3, 4).matmul(ember.randn(5, 4, 2)),
                          2 * 10 * 3 * 4 * 2),
    "rmatmul": (lambda: ember.randn(4, 5).__rmatmul__(ember.randn(3, 4)), 2 * 3 * 4 * 5),
    "addmm": (lambda: ember.addmm(ember.randn(3, 5), ember.randn(3, 4), ember.randn(4, 5)),
              2 * 3 * 4 * 5),
    "baddbmm": (lambda: ember.baddbmm(ember.randn(2, 3, 5), ember.randn(2, 3, 4),
                                      ember.randn(2, 4, 5)), 2 * 2 * 3 * 4 * 5),
    "linear": (lambda: F.linear(ember.randn(2, 3, 4), ember.randn(5, 4), ember.randn(5)),
               2 * 6 * 4 * 5),
    "linear of a vector": (lambda: F.linear(ember.randn(4), ember.randn(5, 4)), 2 * 4 * 5),
    # 2 flops per weight element per output position per sample
    "grouped strided conv2d": (lambda: F.conv2d(ember.randn(1, 4, 5, 5), ember.randn(6, 2, 3, 3),
                                                groups=2, stride=2), 2 * 4 * 6 * 2 * 9),
    "unbatched conv1d": (lambda: F.conv1d(ember.randn(2, 7), ember.randn(3, 2, 3)),
                         2 * 5 * 3 * 2 * 3),
    # per input position when transposed
    "conv_transpose2d": (lambda: F.conv_transpose2d(ember.randn(1, 2, 5, 5),
                                                    ember.randn(2, 3, 3, 3)), 2 * 25 * 2 * 27),
    "attention": (lambda: F.scaled_dot_product_attention(
        ember.randn(1, 2, 5, 4), ember.randn(1, 2, 6, 4), ember.randn(1, 2, 6, 3)),
        2 * 2 * 5 * 6 * (4 + 3)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_flops_of_one_call(case):
    run, flops = CASES[case]
    with FlopCounterMode(display=False) as counter:
        run()
    assert counter.get_total_flops() == flops


def test_flops_per_module_and_table(capsys):
    model = ember.nn.Sequential(ember.nn.Linear(4, 3),
                                ember.nn.Sequential(ember.nn.Conv1d(1, 2, 3)))
    with pytest.warns(UserWarning, match="mods argument is not needed"):
        FlopCounterMode(mods=model)
    with FlopCounterMode(depth=1) as counter:
        model[0](ember.randn(2, 4))
        model[1](ember.randn(2, 1, 3))
    counts = counter.get_flop_counts()
    assert counts == {"Global": {"linear": 48, "conv1d": 24}, "Linear": {"linear": 48},
                      "Sequential": {"conv1d": 24}, "Sequential.0": {"conv1d": 24}}
    table = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in table] == ["Module", "Global", "-", "-", "Linear", "-",
                                                   "Sequential", "-"]
    assert "Sequential.0" in counter.get_table(depth=2)


def test_module_tracker_names_parents_in_forward_and_backward():
    model = ember.nn.Sequential(ember.nn.Linear(2, 2), ember.nn.ReLU())
    seen = []
    model[1].register_forward_pre_hook(lambda *_: seen.append(sorted(tracker.parents)))
    x = ember.randn(3, 2, requires_grad=True)
    with ModuleTracker() as tracker:
        out = model(x)
        seen.append(sorted(tracker.parents))
        for t in (out, model[0].weight, x):
            t.register_hook(lambda g: seen.append(sorted(tracker.parents)) or g)
        out.sum().backward()
        assert not tracker.is_bw
    # the backward pass re-enters the modules at their output and leaves at their input
    inside = ["Global", "Sequential", "Sequential.1"]
    assert seen == [inside, ["Global"], inside, ["Global"], ["Global"]]
    assert tracker.parents == {"Global"}


def test_backward_adds_one_product_per_operand_needing_a_gradient():
    x, w = ember.randn(3, 4), ember.randn(5, 4, requires_grad=True)
    q = ember.randn(1, 2, 5, 4, requires_grad=True)
    with FlopCounterMode(display=False) as counter:
        F.linear(x, w).sum().backward()  # forward, then the weight's gradient only
        (ember.randn(3, 4, requires_grad=True) @ ember.randn(4, 2, requires_grad=True)).sum(
            ).backward()
        F.scaled_dot_product_attention(q, ember.randn(1, 2, 6, 4), ember.randn(1, 2, 6, 3)
                                       ).sum().backward()  # backward: twice the forward
    attention = 2 * 2 * 5 * 6 * (4 + 3)
    assert counter.get_flop_counts()["Global"] == {
        "linear": 2 * (2 * 3 * 4 * 5), "matmul": 3 * (2 * 3 * 4 * 2),
        "scaled_dot_product_attention": 3 * attention}
    graph_outside = F.linear(x, w).sum()
    with FlopCounterMode(display=False) as counter:
        graph_outside.backward()
    assert counter.get_total_flops() == 0  # only graphs recorded inside the mode are seen


def test_module_tracker_leaves_modules_whose_inputs_need_no_gradient_after_backward():
    model = ember.nn.Sequential(ember.nn.Linear(2, 2), ember.nn.ReLU())
    with ModuleTracker() as tracker:
        model(ember.randn(3, 2)).sum().backward()  # the input needs no gradient
        assert tracker.parents == {"Global"}
    with FlopCounterMode(display=False) as counter:
        model(ember.randn(3, 2)).sum().backward()
        ember.randn(2, 3) @ ember.randn(3, 2)  # outside the model again
    counts = counter.get_flop_counts()
    assert counts["Sequential"] == counts["Sequential.0"] == {"linear": 2 * 2 * (2 * 3 * 2)}
    assert counts["Global"] == {"linear": 48, "matmul": 24}
