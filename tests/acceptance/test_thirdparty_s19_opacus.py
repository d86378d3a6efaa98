"""Opacus on ember, where opacus is installed (it is not a test dependency: its package requires
PyTorch; .ci/run installs it without dependencies). Its README path in float64 on a tiny model
(Embedding, Conv2d, GroupNorm, Linear, LayerNorm): ModuleValidator fixing a BatchNorm,
per-sample gradients of GradSampleModule (hooks and functorch modes) and of DPLSTM,
PrivacyEngine.make_private with Poisson sampling and DP-SGD steps (without noise, with noise,
and with ghost clipping), the RDP accountant's epsilon and make_private_with_epsilon, run with
``torch`` resolved to ember in a fresh interpreter. Per-sample gradients are checked here
against gradients taken one sample at a time, DP-SGD's clipped and averaged updates and the
accountant's epsilon against NumPy (the sampled Gaussian mechanism's RDP in closed form at
integer orders). tests/conformance/test_thirdparty_s19_captum_opacus_vs_torch.py compares
every number with real PyTorch's, whose random streams ember's reproduce (the Poisson batches
and the noise)."""
from __future__ import annotations

import functools
import importlib.util
import math
import textwrap

import numpy as np
import pytest

from tests.acceptance import script_report

if importlib.util.find_spec("opacus") is None:  # (importing it would import torch)
    pytest.skip("opacus is not installed", allow_module_level=True)

SCRIPT = script_report.OUT_SOURCE + textwrap.dedent('''
    import json
    import warnings
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset
    from opacus import GradSampleModule, PrivacyEngine
    from opacus.layers import DPLSTM
    from opacus.validators import ModuleValidator

    warnings.simplefilter("ignore")  # opacus warns about its insecure RNG and full hooks
    torch.set_default_dtype(torch.float64)
    torch.manual_seed(0)


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(10, 4)
            self.conv = nn.Conv2d(1, 2, 3, padding=1)
            self.norm = nn.GroupNorm(1, 2)
            self.fc = nn.Linear(4 + 2 * 4 * 4, 6)
            self.layer_norm = nn.LayerNorm(6)
            self.head = nn.Linear(6, 3)

        def forward(self, images, tokens):
            seen = self.norm(self.conv(images)).relu().flatten(1)
            read = self.embedding(tokens).mean(1)
            return self.head(self.layer_norm(self.fc(torch.cat([seen, read], 1))).tanh())


    N = 12
    images = torch.randn(N, 1, 4, 4)
    tokens = torch.randint(0, 10, (N, 3))
    labels = torch.randint(0, 3, (N,))
    report = {}

    with_batch_norm = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    fixed = ModuleValidator.fix(with_batch_norm)
    report["validator"] = {"errors": len(ModuleValidator.validate(with_batch_norm)),
                           "fixed": [type(m).__name__ for m in fixed],
                           "fixed_errors": len(ModuleValidator.validate(fixed))}


    def one_at_a_time(model, loss_of):
        """every parameter's gradient of each sample's loss, taken alone"""
        grads = {}
        for i in range(N):
            model.zero_grad()
            loss_of(model, i).backward()
            for name, p in model.named_parameters():
                grads.setdefault(name, []).append(p.grad.clone())
        return {name: out(torch.stack(g)) for name, g in grads.items()}


    def net_loss(model, i):
        return nn.functional.cross_entropy(model(images[i:i + 1], tokens[i:i + 1]),
                                           labels[i:i + 1], reduction="sum")


    model = Net()
    report["per_sample"] = {"loop": one_at_a_time(model, net_loss)}
    for mode, force_functorch in (("hooks", False), ("functorch", True)):
        wrapped = GradSampleModule(model, loss_reduction="sum", force_functorch=force_functorch)
        wrapped.zero_grad()
        loss = nn.functional.cross_entropy(wrapped(images, tokens), labels, reduction="sum")
        loss.backward()
        report["per_sample"][mode] = out({name[len("_module."):]: p.grad_sample
                                          for name, p in wrapped.named_parameters()})
        wrapped._close()

    lstm = nn.LSTM(3, 4, batch_first=True)
    dp_lstm = DPLSTM(3, 4, batch_first=True)
    dp_lstm.load_state_dict(lstm.state_dict())
    sequences = torch.randn(N, 5, 3)
    same = (dp_lstm(sequences)[0] - lstm(sequences)[0]).abs().max()
    report["lstm"] = {"max_output_difference": same.item(),
                      "loop": one_at_a_time(dp_lstm, lambda m, i: m(sequences[i:i + 1])[0].sum())}
    wrapped = GradSampleModule(dp_lstm, loss_reduction="sum")
    wrapped.zero_grad()
    wrapped(sequences)[0].sum().backward()
    report["lstm"]["hooks"] = out({name[len("_module."):]: p.grad_sample
                                   for name, p in wrapped.named_parameters()})
    wrapped._close()


    def train(noise_multiplier, grad_sample_mode="hooks"):
        """An epoch of DP-SGD steps on Poisson batches, recording each step's batch,
        per-sample gradients (when materialised), privatised gradient and parameters"""
        torch.manual_seed(1)
        model = Net()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
        loader = DataLoader(TensorDataset(torch.arange(N), images, tokens, labels), batch_size=4)
        engine = PrivacyEngine(accountant="rdp")
        criterion = nn.CrossEntropyLoss()
        private = engine.make_private(module=model, optimizer=optimizer, data_loader=loader,
                                      noise_multiplier=noise_multiplier, max_grad_norm=0.5,
                                      grad_sample_mode=grad_sample_mode, criterion=criterion)
        if grad_sample_mode == "ghost":  # its criterion runs the second backward pass
            model, optimizer, criterion, loader = private
        else:
            model, optimizer, loader = private
        record = {"start": out({n: p for n, p in model.named_parameters()}), "steps": []}
        for indices, x, t, y in loader:
            optimizer.zero_grad()
            loss = criterion(model(x, t), y)
            loss.backward()
            step = {"indices": out(indices), "loss": loss.item()}
            if grad_sample_mode == "hooks":
                step["grad_sample"] = out({n: p.grad_sample for n, p in model.named_parameters()})
            optimizer.step()
            step["grad"] = out({n: p.grad for n, p in model.named_parameters()})
            step["params"] = out({n: p for n, p in model.named_parameters()})
            record["steps"].append(step)
        record["sample_rate"] = optimizer.expected_batch_size / N
        record["expected_batch_size"] = optimizer.expected_batch_size
        record["epsilon"] = engine.get_epsilon(delta=1e-5)
        record["rdp_integer_orders"] = list(engine.accountant.get_privacy_spent(
            delta=1e-5, alphas=list(range(2, 40))))
        record["history"] = [list(h) for h in engine.accountant.history]
        return record


    report["dp_sgd"] = train(0.0)
    report["dp_sgd_noisy"] = train(1.3)
    report["dp_sgd_ghost"] = train(0.0, "ghost")

    engine = PrivacyEngine(accountant="rdp")
    model = Net()
    _, optimizer, loader = engine.make_private_with_epsilon(
        module=model, optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        data_loader=DataLoader(TensorDataset(images, tokens, labels), batch_size=3),
        target_epsilon=3.0, target_delta=1e-5, epochs=5, max_grad_norm=1.0,
        epsilon_tolerance=0.05, alphas=list(range(2, 64)))
    report["with_epsilon"] = {"noise_multiplier": optimizer.noise_multiplier,
                              "sample_rate": loader.sample_rate}
    print(json.dumps(report))
''')

# the script's report, run under ``command_prefix`` (``-m ember.compat``: on ember)
run_script = functools.partial(script_report.run_script, SCRIPT, "opacus_script.py")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    return run_script("-m", "ember.compat", tmp_path=tmp_path_factory.mktemp("opacus"))


def _flat(named: dict, batch: bool = False) -> np.ndarray:
    """The named arrays as one vector (one row per sample when ``batch``), in the report's
    parameter order."""
    arrays = [np.array(value) for value in named.values()]
    if batch:
        return np.concatenate([a.reshape(len(a), -1) for a in arrays], 1)
    return np.concatenate([a.ravel() for a in arrays])


def _sgm_rdp(q: float, sigma: float, order: int) -> float:
    """The sampled Gaussian mechanism's RDP at an integer order (Mironov et al. 2019, the
    binomial expansion), summed in log space."""
    terms = [math.lgamma(order + 1) - math.lgamma(k + 1) - math.lgamma(order - k + 1)
             + k * math.log(q) + (order - k) * math.log1p(-q) + (k * k - k) / (2 * sigma ** 2)
             for k in range(order + 1)]
    top = max(terms)
    return (top + math.log(sum(math.exp(t - top) for t in terms))) / (order - 1)


def _epsilon(q: float, sigma: float, steps: int, delta: float, orders) -> tuple[float, int]:
    """(epsilon, best order): RDP composed over ``steps`` and converted to (epsilon, delta)-DP
    as Balle et al. 2020 (Theorem 21), the conversion opacus uses."""
    candidates = [(steps * _sgm_rdp(q, sigma, a) - (math.log(delta) + math.log(a)) / (a - 1)
                   + math.log((a - 1) / a), a) for a in orders]
    return min(candidates)


def test_module_validator_replaces_batch_norm(report):
    assert report["validator"] == {"errors": 1, "fixed": ["Conv2d", "GroupNorm"],
                                   "fixed_errors": 0}


def test_per_sample_gradients_match_one_sample_at_a_time(report):
    per_sample = report["per_sample"]
    assert sorted(per_sample["hooks"]) == sorted(per_sample["loop"])
    for mode in ("hooks", "functorch"):
        for name, grads in per_sample["loop"].items():
            np.testing.assert_allclose(per_sample[mode][name], grads, atol=1e-12,
                                       err_msg=f"{mode} {name}")
    lstm = report["lstm"]
    assert lstm["max_output_difference"] < 1e-12  # DPLSTM computes nn.LSTM's function
    assert sorted(lstm["hooks"]) == sorted(lstm["loop"])
    for name, grads in lstm["loop"].items():
        np.testing.assert_allclose(lstm["hooks"][name], grads, atol=1e-12, err_msg=name)


def _privatised(step: dict, expected_batch_size: int, max_grad_norm: float = 0.5):
    """DP-SGD's gradient without noise: each sample's gradient scaled to norm at most
    ``max_grad_norm`` (opacus adds 1e-6 to the norm), summed, divided by the expected batch."""
    per_sample = _flat(step["grad_sample"], batch=True)
    norms = np.linalg.norm(per_sample, axis=1)
    factors = np.minimum(max_grad_norm / (norms + 1e-6), 1.0)
    return (factors[:, None] * per_sample).sum(0) / expected_batch_size


def test_dp_sgd_steps_clip_average_and_descend(report):
    run = report["dp_sgd"]
    assert run["expected_batch_size"] == 4 and math.isclose(run["sample_rate"], 1 / 3)
    assert run["history"] == [[0.0, 1 / 3, 3]] and run["epsilon"] == math.inf
    params = _flat(run["start"])
    clipped_somewhere = False
    for step in run["steps"]:
        indices = step["indices"]  # a Poisson sample: distinct, sorted, of any size
        assert indices == sorted(set(indices)) and all(0 <= i < 12 for i in indices)
        assert len(np.array(next(iter(step["grad_sample"].values())))) == len(indices)
        grad = _privatised(step, 4)
        np.testing.assert_allclose(_flat(step["grad"]), grad, atol=1e-12)
        params = params - 0.5 * grad
        np.testing.assert_allclose(_flat(step["params"]), params, atol=1e-12)
        norms = np.linalg.norm(_flat(step["grad_sample"], batch=True), axis=1)
        clipped_somewhere |= bool((norms > 0.5).any())
    assert clipped_somewhere
    # ghost clipping finds the same per-sample norms without materialising the gradients
    ghost = report["dp_sgd_ghost"]
    assert [s["indices"] for s in ghost["steps"]] == [s["indices"] for s in run["steps"]]
    for got, expected in zip(ghost["steps"], run["steps"]):
        np.testing.assert_allclose(_flat(got["grad"]), _flat(expected["grad"]), atol=1e-12)
        np.testing.assert_allclose(_flat(got["params"]), _flat(expected["params"]), atol=1e-12)


def test_noisy_dp_sgd_adds_gaussian_noise_of_the_set_scale(report):
    run = report["dp_sgd_noisy"]
    params = _flat(run["start"])
    noise = []
    for step in run["steps"]:
        grad = _flat(step["grad"])
        noise.append(grad * 4 - _privatised(step, 4) * 4)  # the noise on the summed gradient
        params = params - 0.5 * grad
        np.testing.assert_allclose(_flat(step["params"]), params, atol=1e-12)
    noise = np.concatenate(noise)  # ~960 draws of N(0, (1.3 * 0.5)^2)
    assert abs(noise.std() / 0.65 - 1) < 0.1 and abs(noise.mean()) < 0.1


def test_rdp_epsilon_matches_the_sampled_gaussian_mechanism(report):
    run = report["dp_sgd_noisy"]
    assert run["history"] == [[1.3, 1 / 3, 3]]
    epsilon, order = _epsilon(1 / 3, 1.3, 3, 1e-5, range(2, 40))
    assert math.isclose(run["rdp_integer_orders"][0], epsilon, rel_tol=1e-9)
    assert run["rdp_integer_orders"][1] == order
    # opacus's default orders add fractional ones: never a looser bound
    assert run["epsilon"] <= epsilon + 1e-9 and run["epsilon"] > 0.8 * epsilon
    # make_private_with_epsilon: a noise that meets 3.0 within the tolerance over 5 epochs
    # of 4 steps
    chosen = report["with_epsilon"]
    assert chosen["sample_rate"] == 0.25
    assert 2.95 < _epsilon(0.25, chosen["noise_multiplier"], 20, 1e-5, range(2, 64))[0] <= 3.0
