"""Gaps kornia found (tests/acceptance/test_thirdparty_s17_kornia.py): ``torch.torch`` (the
module itself, as kornia annotates with ``torch.torch.Tensor``), ``torch.SymInt`` and its
siblings at the top level (kornia's integer checks accept them), and the tracing queries kornia
asks before an in-place fast path: ``torch._subclasses.fake_tensor.is_fake``,
``torch.fx.experimental.proxy_tensor.get_proxy_mode`` and
``torch._C._are_functorch_transforms_active``."""
from __future__ import annotations

import pytest

import ember
from ember._subclasses.fake_tensor import is_fake
from ember.export import _symbolic
from ember.fx.experimental.proxy_tensor import get_proxy_mode


def test_torch_torch_is_the_module_itself():
    assert ember.torch is ember
    assert ember.torch.torch.Tensor is ember.Tensor


def test_symbolic_scalar_types_at_the_top_level():
    assert ember.SymInt is _symbolic.SymInt
    assert ember.SymFloat is _symbolic.SymFloat
    assert ember.SymBool is _symbolic.SymBool
    assert not isinstance(3, ember.SymInt)
    with pytest.raises(AttributeError):
        ember.SymComplex  # noqa: B018


def test_no_tensor_is_fake_and_no_proxy_mode_is_active():
    assert not is_fake(ember.ones(2))
    assert not is_fake(ember.empty(2, device="meta"))  # meta tensors are not fake ones
    assert not is_fake(3.0)
    assert get_proxy_mode() is None


def test_functorch_transforms_are_active_inside_vmap_only():
    seen = []

    def record(x):
        seen.append(ember._C._are_functorch_transforms_active())
        return x * 2

    assert not ember._C._are_functorch_transforms_active()
    ember.func.vmap(record)(ember.ones(3, 2))
    assert seen == [True] * 3
    assert not ember._C._are_functorch_transforms_active()
    with pytest.raises(ZeroDivisionError):
        ember.func.vmap(lambda x: 1 / 0)(ember.ones(2))
    assert not ember._C._are_functorch_transforms_active()  # the depth unwinds on errors
