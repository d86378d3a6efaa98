"""The ``meta`` device as torch's: tensors moved there keep shape and dtype but no data, ops
on them give meta results of the right shape, copying out of them raises, ``repr`` shows the
size; a module moved to meta still runs under ``functional_call`` (model ensembling)."""
import numpy as np
import pytest

import ember
from ember.func import functional_call

torch = pytest.importorskip("torch")


def _both(fn):
    return fn(ember), fn(torch)


def test_to_meta_keeps_shape_and_dtype():
    got, want = _both(lambda lib: lib.ones(2, 3, dtype=lib.float64).to("meta"))
    assert str(got.device) == str(want.device) == "meta"
    assert tuple(got.shape) == tuple(want.shape) and str(got.dtype) == str(want.dtype)
    assert repr(got) == repr(want) == "tensor(..., device='meta', size=(2, 3), dtype=torch.float64)"


def test_ops_on_meta_tensors_are_meta():
    got, want = _both(lambda lib: (lib.randn(2, 3).to("meta") @ lib.randn(3, 5).to("meta"))
                      .relu().sum(0))
    assert str(got.device) == str(want.device) == "meta"
    assert tuple(got.shape) == tuple(want.shape) == (5,)


def test_copy_out_of_meta_raises():
    for lib in (ember, torch):
        with pytest.raises(NotImplementedError, match="Cannot copy out of meta tensor"):
            lib.ones(2).to("meta").to("cpu")


def test_meta_tensor_holds_no_memory():
    x = ember.ones(1000, 1000).to("meta")
    root = x._data
    while root.base is not None:
        root = root.base
    assert root.size == 1  # every element of the view is that one zero


def test_module_to_meta_runs_with_functional_call():
    ember.manual_seed(0)
    model = ember.nn.Linear(4, 3)
    params = {k: v.detach().clone() for k, v in model.named_parameters()}
    base = model.to("meta")
    assert all(p.device.type == "meta" for p in base.parameters())
    x = ember.randn(5, 4)
    out = functional_call(base, params, (x,))
    np.testing.assert_allclose(out.numpy(), (x.numpy() @ params["weight"].numpy().T
                                             + params["bias"].numpy()), rtol=1e-5, atol=1e-6)


def test_modules_built_on_meta_and_in_place_ops():
    got, want = _both(lambda lib: lib.nn.Linear(3, 4, device="meta"))
    assert got.weight.device.type == want.weight.device.type == "meta"
    assert repr(got.bias) == repr(want.bias)  # "Parameter containing:\ntensor(..., ...)"
    for lib, layer in ((ember, got), (torch, want)):
        with lib.no_grad():
            layer.weight.mul_(2)  # in place on meta: nothing to write, no error
        assert layer.weight.device.type == "meta"
