"""torch.distributed.tensor.parallel and DTensor's sharding rules against real PyTorch: the API
surface of the parallel styles, ``parallelize_module``, ``distribute_module`` and
``loss_parallel``; and on 2 ranks the placements and values of matrix products, views and nn
ops, their gradients' values, and a Megatron-style MLP (tensor_parallel_placements_script.py
run with PyTorch over gloo and with ember over MPI).

Gradient placements are not compared: ember lays a gradient out as its tensor (a replicated
gradient where PyTorch may leave a Partial, or the input's layout where PyTorch leaves the one
its strategy redistributed the input to; NOTE [ DTensor autograd ])."""
import inspect
import os

import pytest

torch = pytest.importorskip("torch")

import ember.distributed.tensor as etensor  # noqa: E402
import ember.distributed.tensor.parallel as eparallel  # noqa: E402
from tests.conformance.gloo_vs_mpi import reports_on_both  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def test_parallel_api_surface():
    import torch.distributed.tensor as ttensor
    import torch.distributed.tensor.parallel as tparallel
    assert sorted(eparallel.__all__) == sorted(tparallel.__all__)
    for name in tparallel.__all__:
        if name == "ParallelStyle":
            continue
        ours = inspect.signature(getattr(eparallel, name)).parameters
        theirs = inspect.signature(getattr(tparallel, name)).parameters
        assert list(ours) == list(theirs), name
        for key in ours:
            assert ours[key].kind == theirs[key].kind, (name, key)
            assert ours[key].default == theirs[key].default, (name, key)
    ours = inspect.signature(etensor.distribute_module).parameters
    assert list(ours) == list(inspect.signature(ttensor.distribute_module).parameters)
    for style in ("ColwiseParallel", "RowwiseParallel"):
        mine, theirs = getattr(eparallel, style)(), getattr(tparallel, style)()
        assert repr(mine.input_layouts) == repr(theirs.input_layouts)
        assert repr(mine.output_layouts) == repr(theirs.output_layouts)


def test_sharding_rules_and_tensor_parallel_match_torch(tmp_path):
    script = os.path.join(HERE, "tensor_parallel_placements_script.py")
    for ours, theirs in reports_on_both(script, tmp_path):
        assert ours.keys() == theirs.keys()
        for name, want in theirs.items():
            if "grad" not in name:
                assert ours[name]["placements"] == want["placements"], name
            assert ours[name]["value"] == pytest.approx(want["value"], rel=1e-10,
                                                        abs=1e-12), name
