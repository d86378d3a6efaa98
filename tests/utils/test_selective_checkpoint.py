"""Selective activation checkpointing: gradients equal the plain run's whatever the policy
saves, the policy is asked once per op of the forward, and the store is used once."""
import functools

import numpy as np
import pytest

import ember
from ember.utils.checkpoint import (
    CheckpointPolicy,
    checkpoint,
    create_selective_checkpoint_contexts,
)

aten = ember.ops.aten


def _net():
    ember.manual_seed(0)
    return ember.nn.Sequential(ember.nn.Linear(6, 8), ember.nn.GELU(), ember.nn.Dropout(0.3),
                               ember.nn.Linear(8, 3)).double()


def _grads(net, x, run):
    net.zero_grad()
    x.grad = None
    ember.manual_seed(1)
    run(net, x).pow(2).sum().backward()
    return [x.grad.numpy().copy()] + [p.grad.numpy().copy() for p in net.parameters()]


def _sac(policy):
    return lambda net, x: checkpoint(
        net, x, use_reentrant=False,
        context_fn=functools.partial(create_selective_checkpoint_contexts, policy))


@pytest.mark.parametrize("policy", [
    [aten.addmm.default],
    [aten.gelu.default, aten.native_dropout.default],
    lambda ctx, op, *a, **k: CheckpointPolicy.PREFER_SAVE,
    lambda ctx, op, *a, **k: False,
])
def test_gradients_equal_the_plain_run(policy):
    net = _net()
    x = ember.randn(5, 6, dtype=ember.float64, requires_grad=True)
    want = _grads(net, x, lambda n, v: n(v))
    for got, expected in zip(_grads(net, x, _sac(policy)), want):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)


def test_policy_is_asked_once_per_forward_op_with_its_output():
    asked = []

    def policy(ctx, op, *args, **kwargs):
        asked.append((ctx.is_recompute, str(op), tuple(ctx.op_output.shape)))
        return op == aten.mm.default

    a = ember.randn(3, 4, requires_grad=True)
    b = ember.randn(4, 2, requires_grad=True)
    out = checkpoint(
        lambda u, v: (u @ v).sin(), a, b, use_reentrant=False,
        context_fn=functools.partial(create_selective_checkpoint_contexts, policy))
    out.sum().backward()
    assert asked == [(False, "aten.mm.default", (3, 2)), (False, "aten.sin.default", (3, 2))]
    np.testing.assert_allclose(b.grad.numpy(), a.detach().numpy().T @ np.cos(
        a.detach().numpy() @ b.detach().numpy()), rtol=1e-5)


def test_second_backward_raises():
    net = _net()
    x = ember.randn(2, 6, dtype=ember.float64, requires_grad=True)
    out = _sac([aten.addmm.default])(net, x)
    out.sum().backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="backward an extra time"):
        out.sum().backward()


@pytest.mark.parametrize("allow", [False, True])
def test_mutated_cached_output_raises_unless_allowed(allow):
    kept = []

    def policy(ctx, op, *args, **kwargs):
        if op == aten.mm.default:
            kept.append(ctx.op_output)
        return op == aten.mm.default

    a = ember.randn(3, 3, requires_grad=True)
    out = checkpoint(lambda u: (u @ u).sin(), a, use_reentrant=False, context_fn=lambda: (
        create_selective_checkpoint_contexts(policy, allow_cache_entry_mutation=allow)))
    kept[0].add_(1.0)  # the cache holds this output (the handler's alias of it)
    if allow:
        out.sum().backward()
    else:
        with pytest.raises(RuntimeError, match="has been mutated"):
            out.sum().backward()


def test_policy_arguments_are_checked():
    with pytest.raises(ValueError, match="OpOverload"):
        create_selective_checkpoint_contexts([aten.mm])
    with pytest.raises(TypeError, match="function or a list"):
        create_selective_checkpoint_contexts(3)
