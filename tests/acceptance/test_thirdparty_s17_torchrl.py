"""TorchRL on ember, where torchrl is installed (it is not a test dependency: its package
requires PyTorch; .ci/run installs it without). The core of PyTorch's tutorial "Pendulum:
Writing your environment and transforms with TorchRL" (Vincent Moens, pytorch/tutorials
advanced_source/pendulum.py, BSD-3-Clause), at small sizes: a stateless pendulum ``EnvBase``
written in torch, ``check_env_specs``, a step, a hand-written rollout with ``step_mdp``, a
batched ``rollout``, a ``TransformedEnv`` (``UnsqueezeTransform``, the tutorial's sin/cos
transforms, ``CatTensors``) and four training steps of a policy through the differentiable
simulator (Adam, gradient clipping, cosine schedule). torchrl's compiled extension
``torchrl._torchrl`` (built against libtorch) is never loaded: ``import torchrl`` only checks
that it exists, and only the prioritized replay buffers need it. The dynamics are checked here
against NumPy; tests/conformance/test_thirdparty_s17_tensordict_vs_torch.py compares every
value with real PyTorch's."""
from __future__ import annotations

import functools
import importlib.util
import textwrap

import numpy as np
import pytest

from tests.acceptance import script_report

if importlib.util.find_spec("torchrl") is None:  # (importing it would import torch)
    pytest.skip("torchrl is not installed", allow_module_level=True)

SCRIPT = script_report.OUT_SOURCE + textwrap.dedent('''
    import json
    import sys
    import warnings
    from typing import Optional

    import torch
    from tensordict import TensorDict, TensorDictBase
    from tensordict.nn import TensorDictModule
    from torch import nn
    from torchrl.data import Bounded, Composite, Unbounded
    from torchrl.envs import CatTensors, EnvBase, Transform, TransformedEnv, UnsqueezeTransform
    from torchrl.envs.transforms.transforms import _apply_to_composite
    from torchrl.envs.utils import check_env_specs, step_mdp

    warnings.filterwarnings("ignore")
    DEFAULT_X = torch.pi
    DEFAULT_Y = 1.0




    def angle_normalize(x):
        return ((x + torch.pi) % (2 * torch.pi)) - torch.pi


    def _step(tensordict):
        th, thdot = tensordict["th"], tensordict["thdot"]
        g_force = tensordict["params", "g"]
        mass = tensordict["params", "m"]
        length = tensordict["params", "l"]
        dt = tensordict["params", "dt"]
        u = tensordict["action"].squeeze(-1)
        u = u.clamp(-tensordict["params", "max_torque"], tensordict["params", "max_torque"])
        costs = angle_normalize(th) ** 2 + 0.1 * thdot**2 + 0.001 * (u**2)
        new_thdot = thdot + (3 * g_force / (2 * length) * th.sin()
                             + 3.0 / (mass * length**2) * u) * dt
        new_thdot = new_thdot.clamp(-tensordict["params", "max_speed"],
                                    tensordict["params", "max_speed"])
        new_th = th + new_thdot * dt
        reward = -costs.view(*tensordict.shape, 1)
        done = torch.zeros_like(reward, dtype=torch.bool)
        return TensorDict({"th": new_th, "thdot": new_thdot, "params": tensordict["params"],
                           "reward": reward, "done": done}, tensordict.shape)


    def _reset(self, tensordict):
        if tensordict is None or tensordict.is_empty():
            tensordict = self.gen_params(batch_size=self.batch_size)
        high_th = torch.tensor(DEFAULT_X, device=self.device)
        high_thdot = torch.tensor(DEFAULT_Y, device=self.device)
        low_th, low_thdot = -high_th, -high_thdot
        th = (torch.rand(tensordict.shape, generator=self.rng, device=self.device)
              * (high_th - low_th) + low_th)
        thdot = (torch.rand(tensordict.shape, generator=self.rng, device=self.device)
                 * (high_thdot - low_thdot) + low_thdot)
        return TensorDict({"th": th, "thdot": thdot, "params": tensordict["params"]},
                          batch_size=tensordict.shape)


    def make_composite_from_td(td):
        return Composite({key: make_composite_from_td(tensor) if isinstance(tensor, TensorDictBase)
                          else Unbounded(dtype=tensor.dtype, device=tensor.device,
                                         shape=tensor.shape)
                          for key, tensor in td.items()}, shape=td.shape)


    def _make_spec(self, td_params):
        self.observation_spec = Composite(
            th=Bounded(low=-torch.pi, high=torch.pi, shape=(), dtype=torch.float32),
            thdot=Bounded(low=-td_params["params", "max_speed"],
                          high=td_params["params", "max_speed"], shape=(), dtype=torch.float32),
            params=make_composite_from_td(td_params["params"]), shape=())
        self.state_spec = self.observation_spec.clone()
        self.action_spec = Bounded(low=-td_params["params", "max_torque"],
                                   high=td_params["params", "max_torque"], shape=(1,),
                                   dtype=torch.float32)
        self.reward_spec = Unbounded(shape=(*td_params.shape, 1))


    def _set_seed(self, seed: Optional[int]):
        self.rng = torch.manual_seed(seed)


    def gen_params(g=10.0, batch_size=None) -> TensorDictBase:
        if batch_size is None:
            batch_size = []
        td = TensorDict({"params": TensorDict({"max_speed": 8, "max_torque": 2.0, "dt": 0.05,
                                               "g": g, "m": 1.0, "l": 1.0}, [])}, [])
        if batch_size:
            td = td.expand(batch_size).contiguous()
        return td


    class PendulumEnv(EnvBase):
        batch_locked = False

        def __init__(self, td_params=None, seed=None, device="cpu"):
            if td_params is None:
                td_params = self.gen_params()
            super().__init__(device=device, batch_size=[])
            self._make_spec(td_params)
            if seed is None:
                seed = torch.empty((), dtype=torch.int64).random_().item()
            self.set_seed(seed)

        gen_params = staticmethod(gen_params)
        _make_spec = _make_spec
        _reset = _reset
        _step = staticmethod(_step)
        _set_seed = _set_seed


    class SinTransform(Transform):
        def _apply_transform(self, obs):
            return obs.sin()

        def _reset(self, tensordict, tensordict_reset):
            return self._call(tensordict_reset)

        @_apply_to_composite
        def transform_observation_spec(self, observation_spec):
            return Bounded(low=-1, high=1, shape=observation_spec.shape,
                           dtype=observation_spec.dtype, device=observation_spec.device)


    class CosTransform(SinTransform):
        def _apply_transform(self, obs):
            return obs.cos()


    report = {}
    torch.manual_seed(0)
    env = PendulumEnv(seed=0)
    check_env_specs(env)
    report["specs"] = {"observation": sorted(str(k) for k in env.observation_spec.keys(True, True)),
                       "action_low": out(env.action_spec.space.low),
                       "action_high": out(env.action_spec.space.high),
                       "reward_shape": list(env.reward_spec.shape)}
    td = env.reset()
    report["reset"] = {"th": out(td["th"]), "thdot": out(td["thdot"]),
                       "keys": sorted(str(k) for k in td.keys(True, True))}
    td["action"] = torch.tensor([0.5])
    td = env.step(td)
    report["step"] = {k: out(td["next", k]) for k in ("th", "thdot", "reward", "done")}

    env = TransformedEnv(env, UnsqueezeTransform(dim=-1, in_keys=["th", "thdot"],
                                                 in_keys_inv=["th", "thdot"]))
    env.append_transform(SinTransform(in_keys=["th"], out_keys=["sin"]))
    env.append_transform(CosTransform(in_keys=["th"], out_keys=["cos"]))
    env.append_transform(CatTensors(in_keys=["sin", "cos", "thdot"], dim=-1, out_key="observation",
                                    del_keys=False))
    check_env_specs(env)
    report["transformed_observation_shape"] = list(env.observation_spec["observation"].shape)


    def simple_rollout(steps):
        data = TensorDict({}, [steps])
        _data = env.reset()
        for i in range(steps):
            _data["action"] = env.action_spec.rand()
            _data = env.step(_data)
            data[i] = _data
            _data = step_mdp(_data, keep_other=True)
        return data


    torch.manual_seed(1)
    env.set_seed(1)
    data = simple_rollout(5)
    report["simple_rollout"] = {"action": out(data["action"]), "obs": out(data["observation"]),
                                "next_obs": out(data["next", "observation"]),
                                "reward": out(data["next", "reward"])}
    rollout = env.rollout(3, auto_reset=False, tensordict=env.reset(env.gen_params(batch_size=[4])))
    report["batched_rollout"] = {"batch_size": list(rollout.batch_size),
                                 "reward": out(rollout["next", "reward"]),
                                 "th": out(rollout["next", "th"])}

    torch.manual_seed(0)
    env.set_seed(0)
    net = nn.Sequential(nn.LazyLinear(16), nn.Tanh(), nn.LazyLinear(16), nn.Tanh(),
                        nn.LazyLinear(1))
    policy = TensorDictModule(net, in_keys=["observation"], out_keys=["action"])
    env.rollout(1, policy, tensordict=env.reset(env.gen_params(batch_size=[2])), auto_reset=False)
    optim = torch.optim.Adam(policy.parameters(), lr=2e-3)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optim, 100)
    logs = {"return": [], "last_reward": [], "grad_norm": []}
    for _ in range(4):
        init_td = env.reset(env.gen_params(batch_size=[8]))
        rollout = env.rollout(10, policy, tensordict=init_td, auto_reset=False)
        traj_return = rollout["next", "reward"].mean()
        (-traj_return).backward()
        gn = torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        optim.step()
        optim.zero_grad()
        logs["return"].append(traj_return.item())
        logs["last_reward"].append(rollout[..., -1]["next", "reward"].mean().item())
        logs["grad_norm"].append(gn.item())
        scheduler.step()
    report["training"] = logs
    report["final_weight_sum"] = sum(p.detach().sum().item() for p in net.parameters())
    report["extension_loaded"] = "torchrl._torchrl" in sys.modules
    print(json.dumps(report))
''')


# the script's report, run under ``command_prefix`` (``-m ember.compat``: on ember)
run_script = functools.partial(script_report.run_script, SCRIPT, "torchrl_script.py")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    return run_script("-m", "ember.compat", tmp_path=tmp_path_factory.mktemp("torchrl"))


def _dynamics(th, thdot, u):
    """The tutorial's pendulum step (g=10, m=l=1, dt=0.05) in NumPy: (th, thdot, reward)."""
    u = np.clip(u, -2.0, 2.0)
    cost = (((th + np.pi) % (2 * np.pi)) - np.pi) ** 2 + 0.1 * thdot ** 2 + 0.001 * u ** 2
    new_thdot = np.clip(thdot + (15.0 * np.sin(th) + 3.0 * u) * 0.05, -8.0, 8.0)
    return th + new_thdot * 0.05, new_thdot, -cost


def test_env_specs_reset_and_step(report):
    assert report["specs"]["observation"] == sorted(
        ["th", "thdot", "('params', 'max_speed')", "('params', 'max_torque')",
         "('params', 'dt')", "('params', 'g')", "('params', 'm')", "('params', 'l')"])
    assert report["specs"]["action_low"] == [-2.0] and report["specs"]["action_high"] == [2.0]
    assert report["specs"]["reward_shape"] == [1]
    th, thdot = report["reset"]["th"], report["reset"]["thdot"]
    assert -np.pi <= th <= np.pi and -1.0 <= thdot <= 1.0
    new_th, new_thdot, reward = _dynamics(np.float64(th), np.float64(thdot), 0.5)
    step = report["step"]
    np.testing.assert_allclose([step["th"], step["thdot"]], [new_th, new_thdot], rtol=1e-5)
    np.testing.assert_allclose(step["reward"], [reward], rtol=1e-5)
    assert step["done"] == [False]
    assert report["transformed_observation_shape"] == [3]
    assert report["extension_loaded"] is False


def test_rollouts_follow_the_dynamics(report):
    rollout = report["simple_rollout"]
    obs, next_obs = np.array(rollout["obs"]), np.array(rollout["next_obs"])
    action = np.array(rollout["action"])[:, 0]
    assert obs.shape == (5, 3) and np.all(np.abs(action) <= 2.0)
    np.testing.assert_allclose(obs[1:], next_obs[:-1])  # step_mdp carries "next" forward
    # CatTensors sorts its in_keys: the observation is [cos th, sin th, thdot]
    np.testing.assert_allclose(obs[:, 0] ** 2 + obs[:, 1] ** 2, 1.0, rtol=1e-5)
    th = np.arctan2(obs[:, 1], obs[:, 0])
    new_th, new_thdot, reward = _dynamics(th, obs[:, 2], action)
    np.testing.assert_allclose(next_obs[:, 2], new_thdot, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(next_obs[:, :2], np.stack([np.cos(new_th), np.sin(new_th)], 1),
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.array(rollout["reward"])[:, 0], reward, rtol=1e-4, atol=1e-5)
    batched = report["batched_rollout"]
    assert batched["batch_size"] == [4, 3]
    assert np.all(np.array(batched["reward"]) <= 0)


def test_training_through_the_simulator(report):
    logs = report["training"]
    assert all(len(v) == 4 for v in logs.values())
    assert all(r < 0 for r in logs["return"] + logs["last_reward"])
    assert all(0 < g < np.inf for g in logs["grad_norm"])
    assert np.isfinite(report["final_weight_sum"])
