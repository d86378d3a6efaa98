"""Activation checkpointing: the same outputs and gradients as the plain run, no graph kept
inside the checkpointed block, and dropout replayed with the forward's random numbers."""
import numpy as np
import pytest

import ember
from ember import nn
from ember.utils.checkpoint import (
    checkpoint,
    checkpoint_sequential,
    get_device_states,
    set_device_states,
)


def _block():
    ember.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Dropout(0.5), nn.Linear(8, 3))


def _grads(model, x):
    return [x.grad.numpy().copy()] + [p.grad.numpy().copy() for p in model.parameters()]


@pytest.mark.parametrize("use_reentrant", [True, False])
def test_gradients_equal_the_plain_run_with_dropout(use_reentrant):
    model = _block()
    x = ember.randn(5, 4, requires_grad=True)
    ember.manual_seed(1)
    plain = model(x)
    plain.square().sum().backward()
    expected = _grads(model, x)
    model.zero_grad()
    x.grad = None
    ember.manual_seed(1)
    out = checkpoint(model, x, use_reentrant=use_reentrant)
    np.testing.assert_allclose(out.detach().numpy(), plain.detach().numpy())
    out.square().sum().backward()
    for got, want in zip(_grads(model, x), expected):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def test_forward_keeps_no_graph_inside_the_block():
    grad_modes = []

    def block(t):
        grad_modes.append(ember.is_grad_enabled())
        return t.sin().exp()
    x = ember.randn(3, requires_grad=True)
    out = checkpoint(block, x, use_reentrant=False)
    assert type(out.grad_fn).__name__.startswith("CheckpointFunction")
    out.sum().backward()
    assert grad_modes == [False, True]  # forward without a graph, the replay with one
    np.testing.assert_allclose(x.grad.numpy(), (x.sin().exp() * x.cos()).detach().numpy(),
                               rtol=1e-6)


def test_without_preserved_rng_state_dropout_draws_anew():
    model = _block()
    x = ember.randn(64, 4, requires_grad=True)
    out = checkpoint(model, x, use_reentrant=False, preserve_rng_state=False)
    out.sum().backward()
    model.zero_grad()
    replay = x.grad.numpy().copy()
    x.grad = None
    ember.manual_seed(7)
    checkpoint(model, x, use_reentrant=False).sum().backward()
    assert not np.allclose(replay, x.grad.numpy())


def test_non_reentrant_reaches_parameters_when_inputs_need_no_grad():
    model = _block().eval()
    checkpoint(model, ember.randn(2, 4), use_reentrant=False).sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_kwargs_and_non_tensor_arguments():
    x = ember.randn(3, requires_grad=True)
    checkpoint(lambda t, k, scale=1.0: (t * k * scale).sum(), x, 2.0, scale=3.0,
               use_reentrant=False).backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full(3, 6.0))


def test_missing_use_reentrant_warns():
    with pytest.warns(UserWarning, match="use_reentrant"):
        checkpoint(ember.sin, ember.randn(2, requires_grad=True))


def test_checkpoint_sequential_matches_plain_run():
    model = nn.Sequential(*[nn.Linear(4, 4) for _ in range(5)])
    x = ember.randn(2, 4, requires_grad=True)
    model(x).sum().backward()
    expected = _grads(model, x)
    model.zero_grad()
    x.grad = None
    checkpoint_sequential(model, 2, x, use_reentrant=False).sum().backward()
    for got, want in zip(_grads(model, x), expected):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def test_device_states_skip_cpu_tensors():
    # (nested arguments searched, as a loss passes dicts of features)
    assert get_device_states(ember.ones(2), [{"ids": ember.zeros(3)}], 4.0) == ([], [])
    set_device_states([], [])
    set_device_states([0], [ember.zeros(0)], device_type="meta")  # no random state: a no-op


@pytest.mark.cuda
@pytest.mark.skipif(not ember.cuda.is_available(), reason="needs CuPy and an NVIDIA GPU")
def test_device_states_replay_gpu_draws():
    x = ember.ones(2, device="cuda")
    devices, states = get_device_states(ember.ones(1), {"a": x, "b": [x]})
    assert devices == [0, 0] and len(states) == 2  # one entry per GPU tensor, as PyTorch's
    first = ember.rand(4, device="cuda").cpu().numpy()
    set_device_states(devices, states)
    np.testing.assert_array_equal(ember.rand(4, device="cuda").cpu().numpy(), first)
