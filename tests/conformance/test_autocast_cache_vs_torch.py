"""Autocast's cast cache: a leaf that requires grad is cast once per autocast region, as in
PyTorch. Each case runs the same code on ember and torch and compares what it observes."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import ember  # noqa: E402


def _leaves(lib, requires_grad=True):
    rng = np.random.default_rng(0)
    w = lib.tensor(rng.standard_normal((4, 4)).astype(np.float32), requires_grad=requires_grad)
    x = lib.tensor(rng.standard_normal((2, 4)).astype(np.float32))
    return w, x


def _cast_node(y):
    return y.grad_fn.next_functions[1][0]  # mm's edge to its (cast) second operand


def _region(lib, **kwargs):
    return lib.autocast("cpu", dtype=lib.bfloat16, **kwargs)


def _reuse_and_scope(lib):
    w, x = _leaves(lib)
    with _region(lib):
        first = _cast_node(lib.mm(x, w))
        same = _cast_node(lib.mm(x, w)) is first
        with _region(lib):
            nested = _cast_node(lib.mm(x, w)) is first
        after_nested_exit = _cast_node(lib.mm(x, w)) is first
    with _region(lib):
        after_exit = _cast_node(lib.mm(x, w)) is first
    return same, nested, after_nested_exit, after_exit


def _disabled(lib):
    w, x = _leaves(lib)
    with _region(lib, cache_enabled=False):
        inside = lib.is_autocast_cache_enabled()
        same = _cast_node(lib.mm(x, w)) is _cast_node(lib.mm(x, w))
    return inside, lib.is_autocast_cache_enabled(), same


def _views_not_cached(lib):
    w, x = _leaves(lib)
    with _region(lib):
        a = lib.mm(x, w.t()).grad_fn.next_functions[1][0]
        b = lib.mm(x, w.t()).grad_fn.next_functions[1][0]
    return a is b, a.name()


def _stale_after_inplace(lib, requires_grad):
    """A cached cast does not see an in-place change made inside the region."""
    w, x = _leaves(lib, requires_grad)
    with _region(lib):
        before = lib.mm(x, w)
        with lib.no_grad():
            w.add_(1.0)
        after = lib.mm(x, w)
    return bool((before == after).all())


def _no_grad_first(lib):
    """A cast made under no_grad is not cached: a later use in grad mode records its graph."""
    w, x = _leaves(lib)
    with _region(lib):
        with lib.no_grad():
            lib.mm(x, w)
        y = lib.mm(x, w)
        z = lib.mm(x, w)
    return y.requires_grad, _cast_node(y) is _cast_node(z)


def _grads(lib):
    w, x = _leaves(lib)
    with _region(lib):
        loss = lib.mm(x, w).float().sum() + (lib.mm(x, w) * 2).float().sum()
    loss.backward()
    return w.grad.detach().numpy() if lib is torch else w.grad.numpy()


@pytest.mark.parametrize("case", [_reuse_and_scope, _disabled, _views_not_cached, _no_grad_first])
def test_cache_semantics_match_torch(case):
    assert case(ember) == case(torch)


@pytest.mark.parametrize("requires_grad", [True, False])
def test_cache_holds_only_leaves_that_require_grad(requires_grad):
    assert _stale_after_inplace(ember, requires_grad) == _stale_after_inplace(torch, requires_grad)
    assert _stale_after_inplace(ember, requires_grad) is requires_grad


def test_gradients_through_a_cached_cast_match_torch():
    np.testing.assert_allclose(_grads(ember), _grads(torch), rtol=1e-2)


def test_cache_is_dropped_when_the_outermost_region_exits():
    from ember.amp.autocast_mode import _State
    w, x = _leaves(ember)
    with _region(ember):
        ember.mm(x, w)
        with _region(ember):
            ember.mm(x, w)
        assert len(_State.cache) == 1
    assert not _State.cache


def test_linear_arguments_cast_as_one_op_share_the_weight_cast():
    """``cast_args_as("LinearBackward0", ...)`` casts linear's arguments as aten::linear's
    autocast does: the weight (a parameter) before its transpose, so its cast is cached, as
    ``torch.nn.functional.linear`` under autocast shares it with an ``mm`` of the weight."""
    from ember.amp.autocast_mode import cast_args_as
    w, x = _leaves(ember)
    b = ember.zeros(4, requires_grad=True)
    with _region(ember):
        xc, wc, bc = cast_args_as("LinearBackward0", (x, w, b))
        assert {t.dtype for t in (xc, wc, bc)} == {ember.bfloat16}
        assert wc is cast_args_as("LinearBackward0", (x, w, None))[1]
        assert wc.grad_fn is _cast_node(ember.mm(x, w))



def test_clear_autocast_cache_casts_afresh():
    def reused_after_clear(lib):
        w, x = _leaves(lib)
        with _region(lib):
            first = _cast_node(lib.mm(x, w))
            lib.clear_autocast_cache()
            return _cast_node(lib.mm(x, w)) is first
    assert reused_after_clear(ember) is reused_after_clear(torch) is False
