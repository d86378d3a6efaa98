"""Stable-Baselines3 on ember, where stable_baselines3 and gymnasium are installed (not test
dependencies: SB3 requires PyTorch; .ci/run installs both without dependencies, with
farama-notifications, which gymnasium imports). SB3's documented paths on tiny budgets, run with
``torch`` resolved to ember in a fresh interpreter: PPO, A2C and DQN on CartPole-v1, SAC and TD3
on Pendulum-v1, gSDE exploration (PPO, SAC), NatureCNN with the TF-like RMSprop on images, dict
observations, multi-discrete and multi-binary actions, HER, a custom BaseFeaturesExtractor,
DummyVecEnv / VecNormalize / SubprocVecEnv (whose default start method runs the environments in
fresh interpreters, where ``torch`` must be ember too), evaluation and checkpoint callbacks,
``predict``, ``evaluate_policy``, ``save`` / ``load`` and ``set_random_seed``. Checked here:
the networks' outputs against NumPy forward passes of their saved weights, the save / load round
trip, the SubprocVecEnv run against the same run on a DummyVecEnv, seeding against NumPy.
tests/conformance/test_thirdparty_s20_sb3_vs_torch.py compares every number with real
PyTorch's."""
from __future__ import annotations

import functools
import importlib.util
import math
import textwrap

import numpy as np
import pytest

from tests.acceptance import script_report

for _library in ("stable_baselines3", "gymnasium"):
    if importlib.util.find_spec(_library) is None:  # (importing SB3 would import torch)
        pytest.skip(f"{_library} is not installed", allow_module_level=True)

SCRIPT = script_report.OUT_SOURCE + textwrap.dedent('''
    import json
    import os
    import sys
    import tempfile
    import warnings

    import gymnasium as gym
    import numpy as np
    import torch
    from torch import nn
    from stable_baselines3 import A2C, DQN, PPO, SAC, TD3
    from stable_baselines3.common.callbacks import CheckpointCallback, EvalCallback
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.envs import (BitFlippingEnv, FakeImageEnv, IdentityEnvMultiBinary,
                                               IdentityEnvMultiDiscrete, SimpleMultiObsEnv)
    from stable_baselines3.common.evaluation import evaluate_policy
    from stable_baselines3.common.logger import KVWriter, Logger
    from stable_baselines3.common.sb2_compat.rmsprop_tf_like import RMSpropTFLike
    from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
    from stable_baselines3.common.utils import set_random_seed
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecNormalize
    from stable_baselines3.her.her_replay_buffer import HerReplayBuffer


    class Collector(KVWriter):
        """Keeps every logged train/ value (SB3's logger forgets them at each dump)."""
        def __init__(self):
            self.rows = []

        def write(self, key_values, key_excluded, step=0):
            self.rows.append({k: float(v) for k, v in key_values.items() if k.startswith("train/")})


    class SmallExtractor(BaseFeaturesExtractor):
        """A custom features extractor: one Linear + ReLU in front of the policy heads."""
        def __init__(self, observation_space, features_dim=8):
            super().__init__(observation_space, features_dim)
            self.net = nn.Sequential(nn.Linear(observation_space.shape[0], features_dim), nn.ReLU())

        def forward(self, observations):
            return self.net(observations)


    class TorchProbe(gym.Wrapper):
        """Tells which torch the process stepping the environment imported."""
        def torch_origin(self):
            return sys.modules["torch"].__file__


    def probed_cartpole():
        return TorchProbe(gym.make("CartPole-v1"))


    def seeded(env):
        """SB3's test environments draw states from their spaces (gymnasium seeds those from the
        OS unless told)."""
        env.observation_space.seed(0)
        env.action_space.seed(0)
        return env


    def param_sums(model):
        return {name: float(p.detach().double().sum())
                for name, p in model.policy.named_parameters()}


    def trained(algo, policy, env, steps, **kwargs):
        set_random_seed(0)
        model = algo(policy, env, seed=0, device="cpu", **kwargs)
        collector = Collector()
        model.set_logger(Logger(folder=None, output_formats=[collector]))
        model.learn(total_timesteps=steps)
        model.logger.dump(model.num_timesteps)  # the last update's values, logged or not
        return model, {"params": param_sums(model), "logs": collector.rows,
                       "timesteps": model.num_timesteps}


    def main():
        warnings.simplefilter("ignore")
        torch.set_num_threads(1)
        report = {}
        cartpole_obs = np.array([[0.01, -0.02, 0.03, 0.04], [0.1, 0.2, -0.05, -0.3]], np.float32)
        pendulum_obs = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, -1.0]], np.float32)

        for name, algo, kwargs in (
                ("ppo", PPO, dict(n_steps=64, batch_size=32, n_epochs=2)),
                ("a2c", A2C, dict(n_steps=8)),
                ("dqn", DQN, dict(learning_starts=50, train_freq=4, buffer_size=1000,
                                  target_update_interval=50, batch_size=16))):
            model, report[name] = trained(algo, "MlpPolicy", "CartPole-v1", 256, **kwargs)
            report[name]["actions"] = model.predict(cartpole_obs, deterministic=True)[0].tolist()
        report["dqn"]["q_net"] = out(dict(model.q_net.state_dict()))
        report["dqn"]["q_values"] = out(model.q_net(torch.as_tensor(cartpole_obs)))
        for name, algo in (("sac", SAC), ("td3", TD3)):
            model, report[name] = trained(algo, "MlpPolicy", "Pendulum-v1", 120, learning_starts=40,
                                          batch_size=16, buffer_size=1000,
                                          policy_kwargs=dict(net_arch=[16, 16]))
            report[name]["actions"] = model.predict(pendulum_obs, deterministic=True)[0].tolist()

        # VecEnv with two environments, evaluate_policy, save / load round trip
        set_random_seed(0)
        vec = make_vec_env("CartPole-v1", n_envs=2, seed=0, vec_env_cls=DummyVecEnv)
        model = PPO("MlpPolicy", vec, n_steps=32, batch_size=32, n_epochs=1, seed=0, device="cpu")
        model.learn(total_timesteps=128)
        mean_reward, std_reward = evaluate_policy(model, vec, n_eval_episodes=4, deterministic=True)
        with tempfile.TemporaryDirectory() as folder:
            model.save(os.path.join(folder, "ppo_cartpole"))
            loaded = PPO.load(os.path.join(folder, "ppo_cartpole"), device="cpu")
        saved, restored = model.policy.state_dict(), loaded.policy.state_dict()
        observations = vec.reset()
        report["vec_ppo"] = {
            "n_envs": model.n_envs, "timesteps": model.num_timesteps,
            "eval": [float(mean_reward), float(std_reward)],
            "state": out(dict(saved)),
            "loaded_equal": sorted(saved) == sorted(restored) and all(
                torch.equal(saved[k], restored[k]) for k in saved),
            "loaded_predictions_agree": bool(np.array_equal(
                model.predict(observations, deterministic=True)[0],
                loaded.predict(observations, deterministic=True)[0])),
            "actions": model.predict(cartpole_obs, deterministic=True)[0].tolist(),
            "values": out(model.policy.predict_values(torch.as_tensor(cartpole_obs)).flatten())}

        model, report["custom_extractor"] = trained(
            PPO, "MlpPolicy", "CartPole-v1", 128, n_steps=64, batch_size=64, n_epochs=1,
            policy_kwargs=dict(features_extractor_class=SmallExtractor,
                               features_extractor_kwargs=dict(features_dim=8),
                               net_arch=dict(pi=[8], vf=[8])))
        report["custom_extractor"]["extractor"] = type(model.policy.features_extractor).__name__

        # gSDE exploration, NatureCNN with the TF-like RMSprop, dict observations, multi-discrete
        # and multi-binary actions, hindsight experience replay
        _, report["ppo_sde"] = trained(PPO, "MlpPolicy", "Pendulum-v1", 64, n_steps=32,
                                       batch_size=16, n_epochs=1, use_sde=True, sde_sample_freq=4,
                                       policy_kwargs=dict(net_arch=[8]))
        _, report["sac_sde"] = trained(SAC, "MlpPolicy", "Pendulum-v1", 80, learning_starts=40,
                                       batch_size=8, use_sde=True, policy_kwargs=dict(net_arch=[8]))
        _, report["cnn"] = trained(A2C, "CnnPolicy", seeded(FakeImageEnv(36, 36)), 20, n_steps=5,
                                   policy_kwargs=dict(optimizer_class=RMSpropTFLike,
                                                      features_extractor_kwargs=dict(features_dim=16)))
        _, report["multi_input"] = trained(PPO, "MultiInputPolicy",
                                           seeded(SimpleMultiObsEnv(random_start=False)), 64,
                                           n_steps=32, batch_size=16, n_epochs=1)
        _, report["multi_discrete"] = trained(A2C, "MlpPolicy", seeded(IdentityEnvMultiDiscrete(2)),
                                              40, n_steps=5)
        _, report["multi_binary"] = trained(A2C, "MlpPolicy", seeded(IdentityEnvMultiBinary(3)), 40,
                                            n_steps=5)
        _, report["her_dqn"] = trained(DQN, "MultiInputPolicy",
                                       seeded(BitFlippingEnv(n_bits=4, max_steps=4)), 48,
                                       learning_starts=16, batch_size=8,
                                       replay_buffer_class=HerReplayBuffer,
                                       replay_buffer_kwargs=dict(n_sampled_goal=2))

        # VecNormalize with evaluation and checkpoint callbacks
        with tempfile.TemporaryDirectory() as folder:
            set_random_seed(0)
            venv = VecNormalize(make_vec_env("CartPole-v1", n_envs=2, seed=0))
            eval_env = VecNormalize(make_vec_env("CartPole-v1", n_envs=1, seed=1), training=False)
            model = PPO("MlpPolicy", venv, n_steps=16, batch_size=16, n_epochs=1, seed=0,
                        device="cpu")
            model.learn(64, callback=[EvalCallback(eval_env, eval_freq=16, n_eval_episodes=1),
                                      CheckpointCallback(save_freq=16, save_path=folder)])
            report["vec_normalize"] = {"params": param_sums(model),
                                       "checkpoints": len(os.listdir(folder)),
                                       "obs_mean": venv.obs_rms.mean.tolist()}

        # SubprocVecEnv (its default start method runs the environments in fresh interpreters),
        # trained as on a DummyVecEnv with the same seeds
        subprocess_env = make_vec_env(probed_cartpole, n_envs=2, seed=0, vec_env_cls=SubprocVecEnv)
        report["subproc"] = {"children_torch_is_parents": [
            origin == torch.__file__ for origin in subprocess_env.env_method("torch_origin")]}
        for name, env in (("subproc", subprocess_env),
                          ("dummy", make_vec_env(probed_cartpole, n_envs=2, seed=0))):
            _, run = trained(A2C, "MlpPolicy", env, 40, n_steps=5)
            report["subproc"][name] = run["params"]
            env.close()

        report["seeded"] = []
        for _ in range(2):
            set_random_seed(7)
            report["seeded"].append({"torch": out(torch.rand(3)),
                                     "numpy": np.random.rand(2).tolist()})
        print(json.dumps(report))


    if __name__ == "__main__":  # SubprocVecEnv's children import this script again
        main()
''')

# the script's report, run under ``command_prefix`` (``-m ember.compat``: on ember)
run_script = functools.partial(script_report.run_script, SCRIPT, "sb3_script.py")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    return run_script("-m", "ember.compat", tmp_path=tmp_path_factory.mktemp("sb3"))


CARTPOLE_OBS = np.array([[0.01, -0.02, 0.03, 0.04], [0.1, 0.2, -0.05, -0.3]], np.float32)


def _linear(state: dict, name: str, x: np.ndarray) -> np.ndarray:
    return x @ np.array(state[f"{name}.weight"]).T + np.array(state[f"{name}.bias"])


def _hidden(state: dict, net: str, x: np.ndarray, activation, layers: int) -> np.ndarray:
    """SB3's ``net_arch`` stack ``net`` (Linear layers ``net.0``, ``net.2``, ...), each followed
    by ``activation``, in float64."""
    for i in range(layers):
        x = activation(_linear(state, f"{net}.{2 * i}", x))
    return x


def test_actor_critic_outputs_match_numpy_and_survive_save_load(report):
    vec = report["vec_ppo"]
    state = vec["state"]
    pi = _hidden(state, "mlp_extractor.policy_net", CARTPOLE_OBS, np.tanh, 2)
    vf = _hidden(state, "mlp_extractor.value_net", CARTPOLE_OBS, np.tanh, 2)
    logits, values = _linear(state, "action_net", pi), _linear(state, "value_net", vf)
    np.testing.assert_allclose(vec["values"], values[:, 0], rtol=1e-5, atol=1e-6)
    assert vec["actions"] == logits.argmax(1).tolist()  # deterministic: the likeliest action
    assert vec["loaded_equal"] and vec["loaded_predictions_agree"]
    assert (vec["n_envs"], vec["timesteps"]) == (2, 128)
    mean_reward, std_reward = vec["eval"]
    assert mean_reward >= 8 and std_reward >= 0  # a CartPole episode lasts at least 8 steps


def test_dqn_acts_greedily_on_its_q_network(report):
    dqn = report["dqn"]
    hidden = _hidden(dqn["q_net"], "q_net", CARTPOLE_OBS, lambda x: np.maximum(x, 0), 2)
    q_values = _linear(dqn["q_net"], "q_net.4", hidden)
    np.testing.assert_allclose(dqn["q_values"], q_values, rtol=1e-5, atol=1e-6)
    assert dqn["actions"] == q_values.argmax(1).tolist()


def test_every_algorithm_trains_and_logs_finite_losses(report):
    expected_steps = {"ppo": 256, "a2c": 256, "dqn": 256, "sac": 120, "td3": 120,
                      "custom_extractor": 128, "ppo_sde": 64, "sac_sde": 80, "cnn": 20,
                      "multi_input": 64, "multi_discrete": 40, "multi_binary": 40, "her_dqn": 48}
    losses = {"ppo": "train/value_loss", "a2c": "train/policy_loss", "dqn": "train/loss",
              "sac": "train/critic_loss", "td3": "train/actor_loss", "sac_sde": "train/ent_coef",
              "ppo_sde": "train/std", "cnn": "train/value_loss", "her_dqn": "train/loss"}
    for name, steps in expected_steps.items():
        run = report[name]
        assert run["timesteps"] == steps, name
        assert all(math.isfinite(v) for v in run["params"].values()), name
        values = [v for row in run["logs"] for v in row.values()]
        assert all(math.isfinite(v) for v in values), name
        if name in losses:
            assert any(losses[name] in row for row in run["logs"]), name
    for name in ("sac", "td3"):  # Pendulum's torque bounds
        assert np.abs(report[name]["actions"]).max() <= 2
    assert report["custom_extractor"]["extractor"] == "SmallExtractor"
    assert report["vec_normalize"]["checkpoints"] == 2  # every 16 steps of 2 envs, 64 steps


def test_subprocess_environments_run_on_ember_and_train_as_in_process(report):
    subproc = report["subproc"]
    assert subproc["children_torch_is_parents"] == [True, True]
    assert subproc["subproc"] == subproc["dummy"]


def test_set_random_seed_seeds_numpy_and_torch(report):
    first, again = report["seeded"]
    assert first == again
    np.random.seed(7)
    assert first["numpy"] == np.random.rand(2).tolist()
