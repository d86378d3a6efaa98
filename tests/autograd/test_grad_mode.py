"""no_grad / enable_grad / set_grad_enabled / inference_mode as context managers and
decorators."""
import pytest

import ember


def x():
    return ember.ones(2, requires_grad=True)


def test_no_grad_context_and_decorator():
    a = x()
    with ember.no_grad():
        assert not ember.is_grad_enabled()
        y = a * 2
    assert ember.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None

    @ember.no_grad()
    def f(t):
        return t * 2

    assert not f(a).requires_grad
    assert f.__name__ == "f"
    assert (a * 2).requires_grad


def test_no_grad_decorator_without_call():
    @ember.no_grad
    def f(t):
        return t * 2

    assert not f(x()).requires_grad and ember.is_grad_enabled()


def test_enable_grad_inside_no_grad():
    a = x()
    with ember.no_grad():
        with ember.enable_grad():
            y = a * 2
        z = a * 2

        @ember.enable_grad()
        def f(t):
            return t * 2

        w = f(a)
    assert y.requires_grad and not z.requires_grad and w.requires_grad


def test_set_grad_enabled_function_context_decorator():
    a = x()
    with ember.set_grad_enabled(False):
        assert not (a * 2).requires_grad
    assert (a * 2).requires_grad
    ember.set_grad_enabled(False)
    try:
        assert not ember.is_grad_enabled()
    finally:
        ember.set_grad_enabled(True)
    assert ember.is_grad_enabled()

    @ember.set_grad_enabled(False)
    def f(t):
        return t * 2

    assert ember.is_grad_enabled()
    assert not f(a).requires_grad
    assert ember.is_grad_enabled()


def test_inference_mode():
    a = x()
    with ember.inference_mode():
        y = a * 2
        assert ember.is_inference_mode_enabled()
    assert not ember.is_inference_mode_enabled()
    assert not y.requires_grad
    with ember.inference_mode(False):
        assert (a * 2).requires_grad

    @ember.inference_mode()
    def f(t):
        return t * 2

    assert not f(a).requires_grad

    @ember.inference_mode
    def g(t):
        return t * 2

    assert not g(a).requires_grad


def test_mode_restored_after_exception():
    with pytest.raises(ValueError):
        with ember.no_grad():
            raise ValueError
    assert ember.is_grad_enabled()


def test_no_grad_generator_function():
    @ember.no_grad()
    def gen(t):
        yield t * 2
        yield t * 3

    outs = list(gen(x()))
    assert not any(o.requires_grad for o in outs)


def test_autograd_namespace_aliases():
    assert ember.autograd.no_grad is ember.no_grad
    assert ember.autograd.grad_mode.no_grad is ember.no_grad
    assert ember.autograd.set_grad_enabled is ember.set_grad_enabled


def test_grad_mode_is_per_thread():
    """As in PyTorch: a thread starts with grad mode on, whatever another thread set, and its
    own no_grad leaves the other thread recording."""
    import threading
    a = x()
    seen = {}
    started, stepped = threading.Event(), threading.Event()

    def other_thread():
        seen["initial"] = ember.is_grad_enabled()
        with ember.no_grad():
            started.set()
            stepped.wait(10)
            seen["inside"] = (a * 2).requires_grad

    with ember.inference_mode():
        thread = threading.Thread(target=other_thread)
        thread.start()
        started.wait(10)
    y = a * 2  # recorded here while the other thread sits inside no_grad
    stepped.set()
    thread.join()
    assert seen == {"initial": True, "inside": False}
    assert y.requires_grad and y.grad_fn is not None
