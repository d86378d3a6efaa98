"""Acceptance: two reinforcement-learning programs on CartPole run on ember.

- pytorch/tutorials intermediate_source/reinforcement_q_learning.py (BSD-3-Clause), the revision
  that learns from rendered screens: each frame is cropped around the cart, resized with
  ``torchvision.transforms`` (``ToPILImage``, ``Resize(40, interpolation=<Pillow constant>)``,
  ``ToTensor``), a Conv2d/BatchNorm2d DQN picks actions epsilon-greedily, and
  ``optimize_model`` trains it from a ``deque`` replay memory (``gather``, a boolean-mask
  assignment, ``SmoothL1Loss``, ``param.grad.data.clamp_``, RMSprop, a target network through
  ``load_state_dict``). Prose and comments removed; reduced: ``BATCH_SIZE`` 128 -> 8,
  ``num_episodes`` 50 -> 3. One change, for today's Pillow (with PyTorch too): ``Image.CUBIC``,
  removed in Pillow 10, is its alias ``Image.BICUBIC``.
- pytorch/examples reinforcement_learning/reinforce.py (BSD-3-Clause), the gym 0.26 revision
  (``reset(seed=)`` returning ``(state, info)``, five-value ``step``): REINFORCE with
  ``torch.distributions.Categorical``, normalised returns and Adam, run unchanged (with
  ``--seed 0`` on its command line) until its running reward passes the environment's
  threshold; one ``finish_episode`` is compared with PyTorch's from the same weights.

gym is not installed here: a stand-in ``gym`` module holds a CartPole with the classic dynamics
(12 degree / 2.4 unit limits), ``CartPole-v0`` with the classic API and a ``render`` that draws
the cart and pole into a 400x600 RGB frame, ``CartPole-v1`` with gym 0.26's API, 500-step
episodes and a reward threshold the test lowers so that "solved" comes in tens of episodes.
matplotlib is a stub.
"""
# The programs' code is kept verbatim, long lines and trailing spaces included.
# ruff: noqa: E501, W291, W293

import re
import sys

import numpy as np
import pytest
from acceptance_runner import PLOT_STUB, run
from PIL import Image
from torch_runner import run_torch

import ember

GYM = """
import math
import os

import numpy as np

made = []
MAX_EPISODES = 400


class _Discrete:
    def __init__(self, n):
        self.n = n


class _Box:
    def __init__(self, shape):
        self.shape = shape


class _Spec:
    def __init__(self, reward_threshold):
        self.reward_threshold = reward_threshold


class CartPoleEnv:
    gravity, masscart, masspole, length, force_mag, tau = 9.8, 1.0, 0.1, 0.5, 10.0, 0.02
    x_threshold, theta_threshold = 2.4, 12 * 2 * math.pi / 360

    def __init__(self, max_steps=200):
        self.action_space = _Discrete(2)
        self.observation_space = _Box((4,))
        self.spec = _Spec(195.0)
        self.unwrapped = self
        self.max_steps = max_steps
        self.rng = np.random.default_rng(0)
        self.state = None
        self.steps = 0
        self.closed = False

    def seed(self, seed=None):
        self.rng = np.random.default_rng(seed)
        return [seed]

    def reset(self):
        self.state = self.rng.uniform(-0.05, 0.05, 4)
        self.steps = 0
        return self.state.copy()

    def step(self, action):
        x, x_dot, theta, theta_dot = self.state
        force = self.force_mag if int(action) == 1 else -self.force_mag
        cos, sin = math.cos(theta), math.sin(theta)
        total = self.masscart + self.masspole
        pml = self.masspole * self.length
        temp = (force + pml * theta_dot ** 2 * sin) / total
        theta_acc = (self.gravity * sin - cos * temp) / (
            self.length * (4.0 / 3.0 - self.masspole * cos ** 2 / total))
        x_acc = temp - pml * theta_acc * cos / total
        x, x_dot = x + self.tau * x_dot, x_dot + self.tau * x_acc
        theta, theta_dot = theta + self.tau * theta_dot, theta_dot + self.tau * theta_acc
        self.state = np.array([x, x_dot, theta, theta_dot])
        self.steps += 1
        done = (abs(x) > self.x_threshold or abs(theta) > self.theta_threshold
                or self.steps >= self.max_steps)
        return self.state.copy(), 1.0, bool(done), {}

    def render(self, mode="human"):
        # A 400x600 RGB frame: white, a black cart on a track, a brown pole at its angle.
        screen = np.full((400, 600, 3), 255, dtype=np.uint8)
        scale = 600 / (self.x_threshold * 2)
        cart_x = int(self.state[0] * scale + 300)
        screen[295:300, :] = 0
        screen[270:300, max(cart_x - 25, 0):max(cart_x + 25, 0)] = 0
        for r in range(100):
            px = int(cart_x + r * math.sin(self.state[2]))
            py = int(270 - r * math.cos(self.state[2]))
            screen[py, max(px - 4, 0):max(px + 5, 0)] = (202, 152, 101)
        return screen if mode == "rgb_array" else None

    def close(self):
        self.closed = True


class CartPoleV1(CartPoleEnv):
    # gym 0.26's API: reset(seed=) returns (state, info), step five values

    def __init__(self):
        super().__init__(max_steps=500)
        self.episodes = 0
        self.spec = _Spec(float(os.environ.get("CARTPOLE_REWARD_THRESHOLD", "475")))

    def reset(self, seed=None):
        if seed is not None:
            self.seed(seed)
        self.episodes += 1
        if self.episodes > MAX_EPISODES:  # the example loops until solved: bound the test
            raise RuntimeError(f"not solved in {MAX_EPISODES} episodes")
        return super().reset(), {}

    def step(self, action):
        state, reward, done, info = super().step(action)
        truncated = self.steps >= self.max_steps
        return state, reward, done and not truncated, truncated, info


def make(name):
    made.append(name)
    return CartPoleV1() if name.endswith("v1") else CartPoleEnv()
"""

# ``matplotlib.get_backend()`` answers a non-inline backend; ``plt.plot`` records its arguments.
PLOTS = {"matplotlib": "def get_backend():\n    return 'agg'\n", "matplotlib.pyplot": PLOT_STUB}

# intermediate_source/reinforcement_q_learning.py
DQN_TUTORIAL = r'''
import gym
import math
import random
import numpy as np
import matplotlib
import matplotlib.pyplot as plt
from collections import namedtuple, deque
from itertools import count
from PIL import Image

import torch
import torch.nn as nn
import torch.optim as optim
import torch.nn.functional as F
import torchvision.transforms as T


env = gym.make('CartPole-v0').unwrapped

is_ipython = 'inline' in matplotlib.get_backend()
if is_ipython:
    from IPython import display

plt.ion()

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

Transition = namedtuple('Transition',
                        ('state', 'action', 'next_state', 'reward'))


class ReplayMemory(object):

    def __init__(self, capacity):
        self.memory = deque([],maxlen=capacity)

    def push(self, *args):
        """Save a transition"""
        self.memory.append(Transition(*args))

    def sample(self, batch_size):
        return random.sample(self.memory, batch_size)

    def __len__(self):
        return len(self.memory)

class DQN(nn.Module):

    def __init__(self, h, w, outputs):
        super(DQN, self).__init__()
        self.conv1 = nn.Conv2d(3, 16, kernel_size=5, stride=2)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, kernel_size=5, stride=2)
        self.bn2 = nn.BatchNorm2d(32)
        self.conv3 = nn.Conv2d(32, 32, kernel_size=5, stride=2)
        self.bn3 = nn.BatchNorm2d(32)

        def conv2d_size_out(size, kernel_size = 5, stride = 2):
            return (size - (kernel_size - 1) - 1) // stride  + 1
        convw = conv2d_size_out(conv2d_size_out(conv2d_size_out(w)))
        convh = conv2d_size_out(conv2d_size_out(conv2d_size_out(h)))
        linear_input_size = convw * convh * 32
        self.head = nn.Linear(linear_input_size, outputs)

    def forward(self, x):
        x = x.to(device)
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        x = F.relu(self.bn3(self.conv3(x)))
        return self.head(x.view(x.size(0), -1))

resize = T.Compose([T.ToPILImage(),
                    T.Resize(40, interpolation=Image.BICUBIC),
                    T.ToTensor()])


def get_cart_location(screen_width):
    world_width = env.x_threshold * 2
    scale = screen_width / world_width
    return int(env.state[0] * scale + screen_width / 2.0)  # MIDDLE OF CART

def get_screen():
    screen = env.render(mode='rgb_array').transpose((2, 0, 1))
    _, screen_height, screen_width = screen.shape
    screen = screen[:, int(screen_height*0.4):int(screen_height * 0.8)]
    view_width = int(screen_width * 0.6)
    cart_location = get_cart_location(screen_width)
    if cart_location < view_width // 2:
        slice_range = slice(view_width)
    elif cart_location > (screen_width - view_width // 2):
        slice_range = slice(-view_width, None)
    else:
        slice_range = slice(cart_location - view_width // 2,
                            cart_location + view_width // 2)
    screen = screen[:, :, slice_range]
    screen = np.ascontiguousarray(screen, dtype=np.float32) / 255
    screen = torch.from_numpy(screen)
    return resize(screen).unsqueeze(0)


env.reset()
plt.figure()
plt.imshow(get_screen().cpu().squeeze(0).permute(1, 2, 0).numpy(),
           interpolation='none')
plt.title('Example extracted screen')
plt.show()

BATCH_SIZE = 8
GAMMA = 0.999
EPS_START = 0.9
EPS_END = 0.05
EPS_DECAY = 200
TARGET_UPDATE = 10

init_screen = get_screen()
_, _, screen_height, screen_width = init_screen.shape

n_actions = env.action_space.n

policy_net = DQN(screen_height, screen_width, n_actions).to(device)
target_net = DQN(screen_height, screen_width, n_actions).to(device)
target_net.load_state_dict(policy_net.state_dict())
target_net.eval()

optimizer = optim.RMSprop(policy_net.parameters())
memory = ReplayMemory(10000)


steps_done = 0


def select_action(state):
    global steps_done
    sample = random.random()
    eps_threshold = EPS_END + (EPS_START - EPS_END) * \
        math.exp(-1. * steps_done / EPS_DECAY)
    steps_done += 1
    if sample > eps_threshold:
        with torch.no_grad():
            return policy_net(state).max(1)[1].view(1, 1)
    else:
        return torch.tensor([[random.randrange(n_actions)]], device=device, dtype=torch.long)


episode_durations = []


def plot_durations():
    plt.figure(2)
    plt.clf()
    durations_t = torch.tensor(episode_durations, dtype=torch.float)
    plt.title('Training...')
    plt.xlabel('Episode')
    plt.ylabel('Duration')
    plt.plot(durations_t.numpy())
    if len(durations_t) >= 100:
        means = durations_t.unfold(0, 100, 1).mean(1).view(-1)
        means = torch.cat((torch.zeros(99), means))
        plt.plot(means.numpy())

    plt.pause(0.001)  # pause a bit so that plots are updated
    if is_ipython:
        display.clear_output(wait=True)
        display.display(plt.gcf())

def optimize_model():
    if len(memory) < BATCH_SIZE:
        return
    transitions = memory.sample(BATCH_SIZE)
    batch = Transition(*zip(*transitions))

    non_final_mask = torch.tensor(tuple(map(lambda s: s is not None,
                                          batch.next_state)), device=device, dtype=torch.bool)
    non_final_next_states = torch.cat([s for s in batch.next_state
                                                if s is not None])
    state_batch = torch.cat(batch.state)
    action_batch = torch.cat(batch.action)
    reward_batch = torch.cat(batch.reward)

    state_action_values = policy_net(state_batch).gather(1, action_batch)

    next_state_values = torch.zeros(BATCH_SIZE, device=device)
    next_state_values[non_final_mask] = target_net(non_final_next_states).max(1)[0].detach()
    expected_state_action_values = (next_state_values * GAMMA) + reward_batch

    criterion = nn.SmoothL1Loss()
    loss = criterion(state_action_values, expected_state_action_values.unsqueeze(1))

    optimizer.zero_grad()
    loss.backward()
    for param in policy_net.parameters():
        param.grad.data.clamp_(-1, 1)
    optimizer.step()

num_episodes = 3
for i_episode in range(num_episodes):
    env.reset()
    last_screen = get_screen()
    current_screen = get_screen()
    state = current_screen - last_screen
    for t in count():
        action = select_action(state)
        _, reward, done, _ = env.step(action.item())
        reward = torch.tensor([reward], device=device)

        last_screen = current_screen
        current_screen = get_screen()
        if not done:
            next_state = current_screen - last_screen
        else:
            next_state = None

        memory.push(state, action, next_state, reward)

        state = next_state

        optimize_model()
        if done:
            episode_durations.append(t + 1)
            plot_durations()
            break
    if i_episode % TARGET_UPDATE == 0:
        target_net.load_state_dict(policy_net.state_dict())

print('Complete')
env.render()
env.close()
plt.ioff()
plt.show()
'''

# reinforcement_learning/reinforce.py
REINFORCE = r'''
import argparse
import gym
import numpy as np
from itertools import count
from collections import deque
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.distributions import Categorical


parser = argparse.ArgumentParser(description='PyTorch REINFORCE example')
parser.add_argument('--gamma', type=float, default=0.99, metavar='G',
                    help='discount factor (default: 0.99)')
parser.add_argument('--seed', type=int, default=543, metavar='N',
                    help='random seed (default: 543)')
parser.add_argument('--render', action='store_true',
                    help='render the environment')
parser.add_argument('--log-interval', type=int, default=10, metavar='N',
                    help='interval between training status logs (default: 10)')
args = parser.parse_args()


env = gym.make('CartPole-v1')
env.reset(seed=args.seed)
torch.manual_seed(args.seed)


class Policy(nn.Module):
    def __init__(self):
        super(Policy, self).__init__()
        self.affine1 = nn.Linear(4, 128)
        self.dropout = nn.Dropout(p=0.6)
        self.affine2 = nn.Linear(128, 2)

        self.saved_log_probs = []
        self.rewards = []

    def forward(self, x):
        x = self.affine1(x)
        x = self.dropout(x)
        x = F.relu(x)
        action_scores = self.affine2(x)
        return F.softmax(action_scores, dim=1)


policy = Policy()
optimizer = optim.Adam(policy.parameters(), lr=1e-2)
eps = np.finfo(np.float32).eps.item()


def select_action(state):
    state = torch.from_numpy(state).float().unsqueeze(0)
    probs = policy(state)
    m = Categorical(probs)
    action = m.sample()
    policy.saved_log_probs.append(m.log_prob(action))
    return action.item()


def finish_episode():
    R = 0
    policy_loss = []
    returns = deque()
    for r in policy.rewards[::-1]:
        R = r + args.gamma * R
        returns.appendleft(R)
    returns = torch.tensor(returns)
    returns = (returns - returns.mean()) / (returns.std() + eps)
    for log_prob, R in zip(policy.saved_log_probs, returns):
        policy_loss.append(-log_prob * R)
    optimizer.zero_grad()
    policy_loss = torch.cat(policy_loss).sum()
    policy_loss.backward()
    optimizer.step()
    del policy.rewards[:]
    del policy.saved_log_probs[:]


def main():
    running_reward = 10
    for i_episode in count(1):
        state, _ = env.reset()
        ep_reward = 0
        for t in range(1, 10000):  # Don't infinite loop while learning
            action = select_action(state)
            state, reward, done, _, _ = env.step(action)
            if args.render:
                env.render()
            policy.rewards.append(reward)
            ep_reward += reward
            if done:
                break

        running_reward = 0.05 * ep_reward + (1 - 0.05) * running_reward
        finish_episode()
        if i_episode % args.log_interval == 0:
            print('Episode {}\tLast reward: {:.2f}\tAverage reward: {:.2f}'.format(
                  i_episode, ep_reward, running_reward))
        if running_reward > env.spec.reward_threshold:
            print("Solved! Running reward is now {} and "
                  "the last episode runs to {} time steps!".format(running_reward, t))
            break


if __name__ == '__main__':
    main()
'''


def _screen_oracle(env) -> np.ndarray:
    """``get_screen`` done with NumPy and Pillow: the crop around the cart, converted to bytes
    as ``ToPILImage`` converts floats (``mul(255).byte()``), resized bicubically to 40 rows."""
    screen = env.render(mode="rgb_array").transpose((2, 0, 1))[:, 160:320]
    cart = int(env.state[0] * 600 / (env.x_threshold * 2) + 300)
    columns = (slice(360) if cart < 180 else slice(-360, None) if cart > 420
               else slice(cart - 180, cart + 180))
    crop = screen[:, :, columns].astype(np.float32) / 255
    image = Image.fromarray((crop * 255).astype(np.uint8).transpose(1, 2, 0))
    resized = image.resize((90, 40), Image.BICUBIC)
    return np.asarray(resized, dtype=np.float32).transpose(2, 0, 1)[None] / 255


@pytest.fixture(scope="module")
def dqn():
    return run(DQN_TUTORIAL, modules={"gym": GYM, **PLOTS})


def test_dqn_tutorial_trains_on_rendered_screens(dqn):
    ns = dqn
    env, gym = ns["env"], ns["gym"]
    assert gym.made == ["CartPole-v0"] and env.closed
    assert ns["_stdout"].strip().endswith("Complete")
    assert ns["init_screen"].shape == (1, 3, 40, 90)
    np.testing.assert_allclose(ns["get_screen"]().numpy(), _screen_oracle(env), atol=1e-6)
    durations = ns["episode_durations"]
    assert len(durations) == 3 and all(d >= 1 for d in durations)
    memory = list(ns["memory"].memory)
    assert len(memory) == sum(durations) and memory[-1].next_state is None
    assert all(t.state.shape == (1, 3, 40, 90) and t.action.dtype == ember.int64
               for t in memory)
    assert ns["steps_done"] == sum(durations)
    # optimize_model ran (the memory outgrew BATCH_SIZE) with clamped gradients; the target
    # network, last loaded after episode 0, no longer equals the trained policy
    policy, target = ns["policy_net"], ns["target_net"]
    for p in policy.parameters():
        assert p.grad is not None and float(p.grad.abs().max()) <= 1
    assert not target.training and policy.training
    assert any(not ember.equal(a, b) for a, b in zip(policy.parameters(),
                                                     target.parameters()))
    assert all(np.isfinite(p.detach().numpy()).all() for p in policy.parameters())
    assert int(ns["select_action"](ns["init_screen"]).item()) in (0, 1)


def test_dqn_tutorial_plots_the_moving_average(dqn):
    ns = dqn
    ns["episode_durations"][:] = list(range(1, 121))
    plots = ns["plt"].plots
    plots.clear()
    ns["plot_durations"]()
    durations, means = plots
    np.testing.assert_array_equal(durations[0], np.arange(1, 121, dtype=np.float32))
    expected = np.concatenate([np.zeros(99), np.arange(1, 22) + 49.5])
    np.testing.assert_allclose(means[0], expected, rtol=1e-6)


def test_reinforce_example_solves_an_easier_cartpole(monkeypatch):
    monkeypatch.setenv("CARTPOLE_REWARD_THRESHOLD", "40")
    # seed 0 of the command line (the default 543 draws, on ember's generator, a start that
    # settles on one action; seeds 0-4 all solve, as they do on PyTorch)
    monkeypatch.setattr(sys, "argv", ["reinforce.py", "--seed", "0", "--log-interval", "5"])
    ns = run(REINFORCE, __name__="__main__", modules={"gym": GYM})
    out = ns["_stdout"]
    assert ns["gym"].made == ["CartPole-v1"]
    solved = re.search(r"Solved! Running reward is now ([0-9.]+)", out)
    assert solved and float(solved.group(1)) > 40, out
    averages = [float(x) for x in re.findall(r"Average reward: ([0-9.]+)", out)]
    assert averages and averages[0] < 30, out  # it started near random play (about 20 steps)
    assert ns["policy"].saved_log_probs == [] and ns["policy"].rewards == []
    probs = ns["policy"].eval()(ember.zeros(1, 4))
    np.testing.assert_allclose(float(probs.sum()), 1.0, rtol=1e-6)


def test_reinforce_finish_episode_matches_pytorch(monkeypatch):
    # Imported, not run as __main__: the example's definitions, the environment and the policy.
    monkeypatch.setattr(sys, "argv", ["reinforce.py"])
    ours = run(REINFORCE, modules={"gym": GYM})
    theirs = run_torch(REINFORCE, modules={"gym": GYM})
    torch = theirs["torch"]
    theirs["policy"].load_state_dict({k: torch.from_numpy(v.numpy().copy())
                                      for k, v in ours["policy"].state_dict().items()})
    rng = np.random.default_rng(0)
    states = rng.standard_normal((12, 4))
    actions = rng.integers(0, 2, 12)
    for ns in (ours, theirs):
        lib, policy = ns["torch"], ns["policy"].eval()  # eval: no dropout draws
        for state, action in zip(states, actions):
            m = ns["Categorical"](policy(lib.from_numpy(state).float().unsqueeze(0)))
            policy.saved_log_probs.append(m.log_prob(lib.tensor([int(action)])))
            policy.rewards.append(1.0)
        ns["finish_episode"]()
    for (name, p), q in zip(ours["policy"].named_parameters(), theirs["policy"].parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-4, atol=1e-6,
                                   err_msg=name)
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-5,
                                   atol=1e-6, err_msg=name)
