"""ember.utils.benchmark.Fuzzer: parameters within their bounds and distributions, tensors of
the drawn sizes inside their element limits, discontiguous layouts, reproducible seeds."""
import numpy as np
import pytest

import ember
from ember.utils.benchmark import FuzzedParameter, FuzzedTensor, Fuzzer, ParameterAlias


def _fuzzer(seed=0, **tensor_kwargs):
    return Fuzzer(
        parameters=[FuzzedParameter("k0", minval=1, maxval=64, distribution="loguniform"),
                    [FuzzedParameter("k1", minval=2, maxval=9, distribution="uniform")],
                    FuzzedParameter("s", distribution={1: 0.5, 2: 0.5}),
                    FuzzedParameter("k2", distribution={ParameterAlias("k1"): 1.0})],
        tensors=[FuzzedTensor("x", size=("k0", "k1"), steps=(1, "s"), **tensor_kwargs)],
        seed=seed)


def test_parameters_and_tensors_follow_their_specs():
    cases = list(_fuzzer(min_elements=16, max_elements=256, probability_contiguous=0.5)
                 .take(40))
    layouts = set()
    for tensors, props, params in cases:
        x = tensors["x"]
        assert 1 <= params["k0"] <= 64 and 2 <= params["k1"] <= 9 and params["s"] in (1, 2)
        assert params["k2"] == params["k1"]  # the alias takes k1's value
        assert tuple(x.shape) == (params["k0"], params["k1"]) and x.dtype == ember.float32
        assert 16 <= x.numel() <= 256 and props["x"]["numel"] == x.numel()
        assert props["x"]["steps"] == (1, params["s"])
        assert props["x"]["is_contiguous"] == x.is_contiguous()
        layouts.add((props["x"]["order"], params["s"]))
    # every layout shows up: contiguous, dims stored transposed, strided by the step
    assert layouts >= {((0, 1), 1), ((1, 0), 1), ((0, 1), 2)}


def test_discontiguous_tensor_matches_its_strides():
    for tensors, props, _ in _fuzzer(probability_contiguous=0.0).take(10):
        x = tensors["x"]
        if props["x"]["order"] == (1, 0) and x.shape[0] > 1 and x.shape[1] > 1:
            assert not x.is_contiguous()
            assert x.stride()[0] < x.stride()[1]  # dim 1 is outermost in memory
        np.testing.assert_array_equal(x.contiguous().numpy(), x.numpy())


def test_seed_reproduces_cases_and_constraints_reject():
    first = [(p, t["x"].numpy()) for t, _, p in _fuzzer(seed=3).take(5)]
    again = [(p, t["x"].numpy()) for t, _, p in _fuzzer(seed=3).take(5)]
    for (p1, x1), (p2, x2) in zip(first, again):
        assert p1 == p2
        np.testing.assert_array_equal(x1, x2)
    fuzzer = Fuzzer(parameters=[FuzzedParameter("k", minval=1, maxval=10,
                                                 distribution="uniform")],
                    constraints=[lambda p: p["k"] % 2 == 0], seed=0)
    assert all(p["k"] % 2 == 0 for _, _, p in fuzzer.take(20))
    assert 0 < fuzzer.rejection_rate < 1


def test_invalid_specs_raise():
    with pytest.raises(ValueError, match="not normalized"):
        FuzzedParameter("k", distribution={1: 0.5, 2: 0.4})
    with pytest.raises(ValueError, match="loguniform"):
        FuzzedParameter("k", minval=0, maxval=4, distribution="loguniform")
    impossible = Fuzzer(parameters=[FuzzedParameter("k", minval=1, maxval=4,
                                                    distribution="uniform")],
                        tensors=[FuzzedTensor("x", size=("k",), min_elements=100)], seed=0)
    with pytest.raises(ValueError, match="constraints"):
        next(impossible.take(1))
