"""Activation checkpointing: the same outputs and gradients as the plain run (first and second
order, through ``autograd.grad`` and ``retain_graph``), the block replayed once per backward
with the forward's random numbers, and clear errors where the replay differs."""
import itertools

import numpy as np
import pytest

import ember
from ember import nn
from ember.autograd.graph import saved_tensors_hooks
from ember.utils.checkpoint import (
    CheckpointError,
    check_backward_validity,
    checkpoint,
    checkpoint_sequential,
    detach_variable,
    get_device_states,
    set_checkpoint_early_stop,
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


def test_reentrant_forward_keeps_no_graph_inside_the_block():
    grad_modes = []

    def block(t):
        grad_modes.append(ember.is_grad_enabled())
        return t.sin().exp()
    x = ember.randn(3, requires_grad=True)
    out = checkpoint(block, x, use_reentrant=True)
    assert type(out.grad_fn).__name__.startswith("CheckpointFunction")
    out.sum().backward()
    assert grad_modes == [False, True]  # forward without a graph, the replay with one
    np.testing.assert_allclose(x.grad.numpy(), (x.sin().exp() * x.cos()).detach().numpy(),
                               rtol=1e-6)


def _counted(fn):
    calls = []

    def block(*args):
        calls.append(ember.is_grad_enabled())
        return fn(*args)
    return block, calls


def test_non_reentrant_keeps_indices_and_replays_once_per_backward():
    block, calls = _counted(lambda t: t.sin().exp())
    x = ember.randn(3, dtype=ember.float64, requires_grad=True)
    saved = []
    with saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t):  # an outer hook
        out = checkpoint(block, x, use_reentrant=False)
    assert saved == []  # the checkpoint's hooks are innermost: the block's ops saved indices
    assert type(out.grad_fn).__name__ == "ExpBackward0" and calls == [True]
    out.sum().backward(retain_graph=True)
    assert len(calls) == 2
    expected = (x.sin().exp() * x.cos()).detach().numpy()
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-12)
    out.sum().backward()  # the recomputed tensors were handed out: the block runs again
    assert len(calls) == 3
    np.testing.assert_allclose(x.grad.numpy(), 2 * expected, rtol=1e-12)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        out.sum().backward()


def test_non_reentrant_autograd_grad_leaves_parameter_grads_alone():
    model = _block().eval().double()
    x = ember.randn(5, 4, dtype=ember.float64, requires_grad=True)
    (gx,) = ember.autograd.grad(checkpoint(model, x, use_reentrant=False).square().sum(), x)
    assert all(p.grad is None for p in model.parameters())
    (want,) = ember.autograd.grad(model(x).square().sum(), x)
    np.testing.assert_allclose(gx.numpy(), want.numpy(), rtol=1e-12)


def test_non_reentrant_second_order_gradients_equal_the_plain_run():
    def f(t):
        return ember.tanh(t).sin() * 2
    x = ember.randn(4, dtype=ember.float64, requires_grad=True)
    results = []
    for run in (lambda t: checkpoint(f, t, use_reentrant=False), f):
        (g,) = ember.autograd.grad(run(x).sum(), x, create_graph=True)
        (gg,) = ember.autograd.grad(g.sum(), x)
        results.append((g.detach().numpy(), gg.numpy()))
    for got, want in zip(*results):
        np.testing.assert_allclose(got, want, rtol=1e-12)
    assert ember.autograd.gradcheck(lambda t: checkpoint(f, t, use_reentrant=False), (x,))
    assert ember.autograd.gradgradcheck(lambda t: checkpoint(f, t, use_reentrant=False), (x,))


def test_non_reentrant_stops_the_replay_early_unless_told_not_to():
    seen = []

    def block(t):
        y = t.exp()  # saves its output: the only saved tensor
        seen.append("after exp")
        return y + 1  # saves nothing
    for early, after in ((True, ["after exp"]), (False, ["after exp", "after exp"])):
        seen.clear()
        x = ember.randn(2, requires_grad=True)
        with set_checkpoint_early_stop(early):
            out = checkpoint(block, x, use_reentrant=False)
        out.sum().backward()
        assert seen == after
        np.testing.assert_allclose(x.grad.numpy(), x.exp().detach().numpy(), rtol=1e-6)


def test_non_reentrant_replay_differing_from_the_forward_raises():
    count = itertools.count()

    def shrinking(t):
        return (t if next(count) == 0 else t[:2]).exp().sum()
    x = ember.randn(3, requires_grad=True)
    with pytest.raises(CheckpointError, match="different metadata") as info:
        checkpoint(shrinking, x, use_reentrant=False, debug=True).backward()
    assert "saved during the forward at" in str(info.value) and "shrinking" in str(info.value)
    count = itertools.count()

    def fewer(t):
        return t.exp().exp() if next(count) == 0 else t.exp()  # saves two tensors, then one
    with pytest.raises(CheckpointError, match="saved 1 tensors, the forward 2"):
        checkpoint(fewer, x, use_reentrant=False).sum().backward()
    count = itertools.count()
    with pytest.raises(CheckpointError, match="not saved during recomputation"):
        checkpoint(fewer, x, use_reentrant=False, determinism_check="none").sum().backward()
    count = itertools.count()

    def growing(t):
        y = t.exp()
        return y.exp() if next(count) else y
    with pytest.raises(CheckpointError, match="more tensors"):
        with set_checkpoint_early_stop(False):
            out = checkpoint(growing, x, use_reentrant=False)
        out.sum().backward()


def test_context_fn_wraps_forward_and_recomputation():
    entered = []

    class Tag:
        def __init__(self, name):
            self.name = name

        def __enter__(self):
            entered.append(self.name)

        def __exit__(self, *exc):
            return False
    x = ember.randn(3, requires_grad=True)
    out = checkpoint(ember.sin, x, use_reentrant=False,
                     context_fn=lambda: (Tag("forward"), Tag("recompute")))
    assert entered == ["forward"]
    out.sum().backward()
    assert entered == ["forward", "recompute"]


def test_argument_checks_and_helpers():
    x = ember.randn(2, requires_grad=True)
    with pytest.raises(ValueError, match="only supported when use_reentrant=False"):
        checkpoint(ember.sin, x, use_reentrant=True, debug=True)
    with pytest.raises(ValueError, match="determinism_check"):
        checkpoint(ember.sin, x, use_reentrant=False, determinism_check="strict")
    with ember.no_grad():  # nothing would be saved: the block just runs
        assert checkpoint(ember.sin, x, use_reentrant=False).grad_fn is None
    a, b = detach_variable((x, 3))
    assert a is not x and a.requires_grad and a.grad_fn is None and b == 3
    with pytest.raises(RuntimeError, match="Only tuple"):
        detach_variable([x])
    with pytest.warns(UserWarning, match="None of the inputs"):
        check_backward_validity((ember.ones(2), 1))


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
