"""tensordict on ember, where tensordict is installed (it is not a test dependency: its package
requires PyTorch; .ci/run installs it without). A TensorDict with nested keys is built, indexed,
sliced, stacked, concatenated, mapped with ``apply``, cast, cloned, unbound, split, reshaped,
updated, filtered and memory-mapped to a folder and loaded back; ``TensorDictModule``,
``TensorDictSequential`` and ``ProbabilisticTensorDictSequential`` (a ``NormalParamExtractor``
and a Normal distribution) run a small network; ``TensorDict.from_module`` / ``to_module`` swap
a module's parameters; a ``@tensorclass`` is indexed and stacked. All runs with ``torch``
resolved to ember in a fresh interpreter; the values are checked here against NumPy and for
consistency. tests/conformance/test_thirdparty_s17_tensordict_vs_torch.py compares every value
with real PyTorch's."""
from __future__ import annotations

import functools
import importlib.util
import textwrap

import numpy as np
import pytest

from tests.acceptance import script_report

if importlib.util.find_spec("tensordict") is None:  # (importing it would import torch)
    pytest.skip("tensordict is not installed", allow_module_level=True)

SCRIPT = script_report.OUT_SOURCE + textwrap.dedent('''
    import json
    import tempfile

    import torch
    from tensordict import TensorDict, tensorclass
    from tensordict.nn import (NormalParamExtractor, ProbabilisticTensorDictModule,
                               ProbabilisticTensorDictSequential,
                               TensorDictModule, TensorDictSequential)
    from torch import nn
    from torch.distributions import Normal




    def leaves(td):
        """{"a.b": values} of a tensordict, sorted by key"""
        return {".".join(k) if isinstance(k, tuple) else k: out(v)
                for k, v in sorted(td.items(include_nested=True, leaves_only=True),
                                   key=lambda kv: str(kv[0]))}


    torch.manual_seed(0)
    report = {}
    td = TensorDict({"obs": torch.randn(4, 3), "reward": torch.arange(4.).unsqueeze(-1),
                     "next": {"obs": torch.randn(4, 3),
                              "done": torch.zeros(4, 1, dtype=torch.bool)}},
                    batch_size=[4])
    report["construct"] = {"batch_size": out(td.batch_size), "keys": sorted(
        str(k) for k in td.keys(include_nested=True)), "nested": out(td["next", "obs"]),
        "leaves": leaves(td)}
    report["index"] = {"row": leaves(td[1]), "slice": leaves(td[1:3]),
                       "mask": leaves(td[torch.tensor([True, False, True, False])]),
                       "fancy": leaves(td[torch.tensor([3, 0])]),
                       "slice_batch": out(td[::2].batch_size)}
    stacked = torch.stack([td, td.apply(lambda x: x * 2)], 0)
    catted = torch.cat([td, td[:2]], 0)
    report["stack_cat"] = {"stack_bs": out(stacked.batch_size), "stack": leaves(stacked[1]),
                           "cat_bs": out(catted.batch_size), "cat": leaves(catted[-2:])}
    report["apply"] = leaves(td.apply(lambda x: x.float() + 1))
    report["apply2"] = leaves(td.exclude(("next", "done")).apply(lambda x, y: x - y,
                                                                   td.exclude(("next", "done"))))
    moved = td.to(torch.float64)
    clone = td.clone()
    clone["obs"].add_(1.0)
    report["to_clone"] = {"dtype": str(moved["obs"].dtype), "orig_unchanged": out(td["obs"][0]),
                          "clone": out(clone["obs"][0])}
    report["unbind"] = [leaves(t) for t in td[:2].unbind(0)]
    report["split"] = [out(t.batch_size) for t in td.split([1, 3], 0)]
    report["reshape"] = {"bs": out(td.reshape(2, 2).batch_size),
                         "obs": out(td.reshape(2, 2)["obs"].shape),
                         "view": out(td.view(-1, 2).batch_size)}
    upd = td.clone().update({"extra": torch.ones(4, 2), "obs": torch.zeros(4, 3)})
    report["update_select_exclude"] = {
        "update": sorted(str(k) for k in upd.keys()), "upd_obs": out(upd["obs"].sum()),
        "select": sorted(str(k) for k in td.select("obs", ("next", "obs")).keys(True)),
        "exclude": sorted(str(k) for k in td.exclude("obs", ("next", "done")).keys(True))}
    with tempfile.TemporaryDirectory() as tmp:
        mm = td.clone().memmap_(tmp)
        loaded = TensorDict.load_memmap(tmp)
        report["memmap"] = {"is_memmap": mm.is_memmap(), "loaded": leaves(loaded),
                            "bs": out(loaded.batch_size)}
        del mm, loaded

    torch.manual_seed(1)
    net = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 4))
    actor = ProbabilisticTensorDictSequential(
        TensorDictModule(net, in_keys=["obs"], out_keys=["param"]),
        TensorDictModule(NormalParamExtractor(), in_keys=["param"], out_keys=["loc", "scale"]),
        ProbabilisticTensorDictModule(in_keys=["loc", "scale"], out_keys=["action"],
                                      distribution_class=Normal, return_log_prob=True,
                                      default_interaction_type="mean"))
    report["net"] = {k: out(v) for k, v in net.state_dict().items()}
    res = actor(td.select("obs").clone())
    report["modules"] = {k: out(res[k]) for k in ["loc", "scale", "action", "action_log_prob"]}
    dist = actor.get_dist(td.select("obs").clone())
    report["dist_entropy"] = out(dist.entropy())
    encoder = TensorDictSequential(
        TensorDictModule(nn.Linear(3, 2), in_keys=["obs"], out_keys=["hidden"]),
        TensorDictModule(lambda h: h.relu().sum(-1, keepdim=True), in_keys=["hidden"],
                         out_keys=["value"]))
    report["encoder"] = {k: out(v) for k, v in encoder.state_dict().items()}
    encoded = encoder(td.clone())
    report["sequential"] = {"value": out(encoded["value"]), "in_keys": encoder.in_keys,
                            "out_keys": encoder.out_keys}

    params = TensorDict.from_module(net)
    report["params_keys"] = sorted(".".join(k) for k in params.keys(True, True))
    zeros = params.apply(torch.zeros_like)
    with zeros.to_module(net):
        inside = net(td["obs"])
    after = net(td["obs"])
    report["functional"] = {"zeros": out(inside), "restored": out(after)}
    doubled = params.apply(lambda p: p.detach() * 2)
    old = doubled.to_module(net, return_swap=True)
    report["functional"]["doubled"] = out(net(td["obs"]))
    old.to_module(net)
    report["functional"]["back"] = out(net(td["obs"])) == out(after)


    @tensorclass
    class Batch:
        x: torch.Tensor
        y: torch.Tensor
        name: str


    b = Batch(x=torch.arange(6.).reshape(3, 2), y=torch.tensor([0, 1, 2]), name="tiny",
              batch_size=[3])
    b2 = b[1:]
    bs = torch.stack([b, b], 0)
    report["tensorclass"] = {"x": out(b2.x), "y": out(b2.y), "name": b2.name,
                             "stack_bs": out(bs.batch_size), "stack_y": out(bs.y),
                             "apply": out(b.apply(lambda t: t * 10).x),
                             "to_td": sorted(b.to_tensordict().keys())}
    print(json.dumps(report))
''')


# the script's report, run under ``command_prefix`` (``-m ember.compat``: on ember)
run_script = functools.partial(script_report.run_script, SCRIPT, "tensordict_script.py")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    return run_script("-m", "ember.compat", tmp_path=tmp_path_factory.mktemp("tensordict"))


def _mlp(x: np.ndarray, params: dict) -> np.ndarray:
    """The script's ``Linear(3, 8) -> Tanh -> Linear(8, 4)`` in NumPy."""
    h = np.tanh(x @ np.array(params["0.weight"]).T + params["0.bias"])
    return h @ np.array(params["2.weight"]).T + params["2.bias"]


def test_structure_indexing_and_reshaping(report):
    leaves = report["construct"]["leaves"]
    obs, next_obs = np.array(leaves["obs"]), np.array(leaves["next.obs"])
    assert report["construct"]["batch_size"] == [4]
    assert report["construct"]["keys"] == sorted(["obs", "reward", "next", "('next', 'obs')",
                                                  "('next', 'done')"])
    assert report["construct"]["nested"] == leaves["next.obs"]
    index = report["index"]
    assert index["row"]["obs"] == leaves["obs"][1]
    assert index["slice"]["next.obs"] == next_obs[1:3].tolist()
    assert index["mask"]["obs"] == obs[[0, 2]].tolist()
    assert index["fancy"]["reward"] == [[3.0], [0.0]] and index["slice_batch"] == [2]
    stack_cat = report["stack_cat"]
    assert stack_cat["stack_bs"] == [2, 4] and stack_cat["cat_bs"] == [6]
    np.testing.assert_allclose(stack_cat["stack"]["obs"], obs * 2, rtol=1e-6)
    assert stack_cat["stack"]["next.done"] == [[False]] * 4  # bool * 2 stays bool
    assert stack_cat["cat"]["obs"] == obs[:2].tolist()
    np.testing.assert_allclose(report["apply"]["next.obs"], next_obs + 1, rtol=1e-6)
    assert report["apply"]["next.done"] == [[1.0]] * 4
    assert report["apply2"]["obs"] == [[0.0] * 3] * 4
    to_clone = report["to_clone"]
    assert to_clone["dtype"] == "torch.float64" and to_clone["orig_unchanged"] == obs[0].tolist()
    np.testing.assert_allclose(to_clone["clone"], obs[0] + 1, rtol=1e-6)
    assert [u["obs"] for u in report["unbind"]] == obs[:2].tolist()
    assert report["split"] == [[1], [3]]
    assert report["reshape"] == {"bs": [2, 2], "obs": [2, 2, 3], "view": [2, 2]}
    selected = report["update_select_exclude"]
    assert selected["update"] == ["extra", "next", "obs", "reward"] and selected["upd_obs"] == 0
    assert selected["select"] == ["('next', 'obs')", "next", "obs"]
    assert selected["exclude"] == ["('next', 'obs')", "next", "reward"]


def test_memmap_round_trip(report):
    memmap = report["memmap"]
    assert memmap["is_memmap"] and memmap["bs"] == [4]
    assert memmap["loaded"] == report["construct"]["leaves"]


def test_modules_match_numpy(report):
    obs = np.array(report["construct"]["leaves"]["obs"], np.float64)
    param = _mlp(obs, report["net"])
    loc = param[:, :2]
    scale = np.logaddexp(0, param[:, 2:] + np.log(np.expm1(0.99))) + 0.01  # biased softplus
    modules = report["modules"]
    np.testing.assert_allclose(modules["loc"], loc, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(modules["scale"], scale, rtol=1e-5, atol=1e-6)
    assert modules["action"] == modules["loc"]  # the "mean" interaction
    log_prob = -np.log(scale) - 0.5 * np.log(2 * np.pi)
    np.testing.assert_allclose(modules["action_log_prob"], log_prob, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(report["dist_entropy"], 0.5 + 0.5 * np.log(2 * np.pi)
                               + np.log(scale), rtol=1e-5, atol=1e-6)
    encoder = report["encoder"]
    hidden = obs @ np.array(encoder["module.0.module.weight"]).T + encoder["module.0.module.bias"]
    np.testing.assert_allclose(report["sequential"]["value"],
                               np.maximum(hidden, 0).sum(-1, keepdims=True), rtol=1e-5,
                               atol=1e-6)
    assert report["sequential"]["in_keys"] == ["obs"]
    assert report["sequential"]["out_keys"] == ["hidden", "value"]


def test_functional_parameters_swap(report):
    obs = np.array(report["construct"]["leaves"]["obs"], np.float64)
    assert report["params_keys"] == ["0.bias", "0.weight", "2.bias", "2.weight"]
    functional = report["functional"]
    assert functional["zeros"] == [[0.0] * 4] * 4
    np.testing.assert_allclose(functional["restored"], _mlp(obs, report["net"]), rtol=1e-5,
                               atol=1e-6)
    doubled = {k: 2 * np.array(v) for k, v in report["net"].items()}
    np.testing.assert_allclose(functional["doubled"], _mlp(obs, doubled), rtol=1e-5, atol=1e-6)
    assert functional["back"]


def test_tensorclass(report):
    tc = report["tensorclass"]
    assert tc["x"] == [[2.0, 3.0], [4.0, 5.0]] and tc["y"] == [1, 2] and tc["name"] == "tiny"
    assert tc["stack_bs"] == [2, 3] and tc["stack_y"] == [[0, 1, 2]] * 2
    assert tc["apply"] == (np.arange(6.0).reshape(3, 2) * 10).tolist()
    assert tc["to_td"] == ["name", "x", "y"]
