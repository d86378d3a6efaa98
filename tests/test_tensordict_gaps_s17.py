"""What tensordict and TorchRL reach for in torch, on ember: ``torch._C._functorch`` and
``torch._functorch`` (ember's vmap makes no batched tensors), ``torch._C._is_alias_of``,
``torch._guards``, ``torch._utils``' device helpers, ``torch.StorageBase``, ``from_file``
creating and growing a shared file, ``Tensor(tensor)`` as an alias, pytree's sequence
functions, struct sequences and prefix broadcasting, ``torch.utils.weak``,
``torch.utils._contextlib``, the collate function map, worker seeds, ``swap_tensor``, module
registration hooks, ``Parameter``'s metaclass and the ``functorch`` package."""
from __future__ import annotations

import collections
import gc
import os
import time

import numpy as np
import pytest

import ember
from ember import nn
from ember.utils import _pytree as pytree


def test_functorch_queries_and_wrappers():
    from ember._C import _functorch
    t = ember.ones(2)
    assert ember._C._functorch is _functorch
    assert _functorch.is_batchedtensor(t) is False and _functorch.maybe_get_level(t) == -1
    for call in (lambda: _functorch._add_batch_dim(t, 0, 1),
                 lambda: _functorch._remove_batch_dim(t, 1, 2, 0),
                 lambda: _functorch.get_unwrapped(t)):
        with pytest.raises(RuntimeError, match="BatchedTensors"):
            call()


def test_functorch_vmap_helpers():
    from ember._functorch import vmap as vmap_src
    assert vmap_src._get_name(np.sum) == "sum"
    assert vmap_src._get_name(nn.Linear(1, 1)).startswith("Linear(")
    t = ember.ones(2)
    assert vmap_src._maybe_remove_batch_dim("f", t, 1, 3, None) is t
    assert vmap_src._maybe_remove_batch_dim("f", 5, 1, 3, None) == 5
    with pytest.raises(ValueError, match="must only return Tensors"):
        vmap_src._maybe_remove_batch_dim("f", 5, 1, 3, 0)


def test_is_alias_of_compares_storages():
    a = ember.arange(6.0)
    assert ember._C._is_alias_of(a, a[2:]) and ember._C._is_alias_of(a[:2], a.view(2, 3)[1])
    assert not ember._C._is_alias_of(a, a.clone())


def test_guards_and_device_helpers():
    from ember import _guards, _utils
    assert _guards.active_fake_mode() is None
    expected = "cuda" if ember.cuda.is_available() else None
    assert _utils._get_available_device_type() == expected
    assert _utils._get_device_module("cuda") is ember.cuda
    assert _utils._get_device_module("cpu") is ember.cpu
    with pytest.raises(RuntimeError, match="torch.nope"):
        _utils._get_device_module("nope")


def test_storage_base():
    assert isinstance(ember.ones(2).untyped_storage(), ember.StorageBase)
    assert not isinstance(ember.ones(2).untyped_storage(), ember.Tensor)


def test_from_file_shared_creates_and_grows_the_file(tmp_path):
    path = tmp_path / "new.bin"
    t = ember.from_file(str(path), shared=True, size=3, dtype=ember.float32)
    assert os.path.getsize(path) == 12 and t.tolist() == [0.0, 0.0, 0.0]
    t[1] = 2.5
    del t
    gc.collect()
    np.testing.assert_array_equal(np.fromfile(path, np.float32), [0.0, 2.5, 0.0])
    grown = ember.from_file(str(path), shared=True, size=4, dtype=ember.float32)
    assert os.path.getsize(path) == 16 and grown.tolist() == [0.0, 2.5, 0.0, 0.0]
    assert type(grown.numpy()) is np.ndarray  # a plain array over the mapping
    with pytest.raises(RuntimeError, match="smaller than the required"):
        ember.from_file(str(path), shared=False, size=5, dtype=ember.float32)
    with pytest.raises(RuntimeError, match="No such file"):
        ember.from_file(str(tmp_path / "absent.bin"), shared=False, size=1)


def test_tensor_constructor_aliases_a_tensor_of_any_dtype():
    class Marked(ember.Tensor):
        pass

    flags = ember.tensor([True, False])
    marked = Marked(flags)
    assert type(marked) is Marked and marked.dtype == ember.bool
    assert marked.data_ptr() == flags.data_ptr()
    assert ember.Tensor(ember.arange(3)).dtype == ember.int64
    x = ember.ones(2, requires_grad=True)
    alias = ember.Tensor(x)
    assert alias is not x and alias.requires_grad
    (alias * 3).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]


def test_pytree_sequence_functions_and_structseqs():
    assert pytree._list_flatten([1, 2]) == ([1, 2], None)
    assert pytree._list_unflatten((1, 2), None) == [1, 2]
    assert pytree._tuple_unflatten([1, 2], None) == (1, 2)
    keys, _ = pytree._tuple_flatten_with_keys((5,))
    assert keys == [(pytree.SequenceKey(0), 5)]
    assert pytree.is_structseq_instance(os.stat("."))
    assert pytree.is_structseq(time.struct_time) and pytree.is_structseq(time.gmtime())
    assert not pytree.is_structseq_instance(ember.max(ember.ones(2), 0))  # a namedtuple here
    assert not pytree.is_structseq_class(tuple)


def test_broadcast_to_and_flatten():
    _, spec = pytree.tree_flatten((1, (2, 3), {"a": 4}))
    assert pytree._broadcast_to_and_flatten(0, spec) == [0, 0, 0, 0]
    assert pytree._broadcast_to_and_flatten((0, None, 1), spec) == [0, None, None, 1]
    assert pytree._broadcast_to_and_flatten((0, (1, 2), {"a": 3}), spec) == [0, 1, 2, 3]
    assert pytree._broadcast_to_and_flatten((0, 1), spec) is None
    assert pytree._broadcast_to_and_flatten((0, [1, 2], 3), spec) is None
    assert pytree._broadcast_to_and_flatten((0, 1, {"b": 3}), spec) is None


def test_weak_id_key_dictionary():
    from ember.utils.weak import WeakIdKeyDictionary, WeakIdRef
    a, b = ember.ones(2), ember.ones(2)  # equal values, distinct keys
    cache = WeakIdKeyDictionary({a: "a"})
    cache[b] = "b"
    assert len(cache) == 2 and cache[a] == "a" and cache.get(b) == "b"
    assert a in cache and ember.ones(2) not in cache and 3 not in cache
    assert WeakIdRef(a) == WeakIdRef(a) and WeakIdRef(a) != WeakIdRef(b)
    del b
    gc.collect()
    assert list(cache) == [a] and len(cache) == 1
    del cache[a]
    assert len(cache) == 0


def test_decorator_context_manager():
    from ember.utils._contextlib import _DecoratorContextManager
    log = []

    class traced(_DecoratorContextManager):
        def __enter__(self):
            log.append("enter")

        def __exit__(self, *exc):
            log.append("exit")

    @traced()
    def add(x, y):
        log.append("call")
        return x + y

    @traced()
    def count(n):
        yield from range(n)

    assert add(1, 2) == 3 and log == ["enter", "call", "exit"]
    log.clear()
    assert list(count(2)) == [0, 1] and log.count("enter") == 3 and log.count("exit") == 3
    with pytest.raises(NotImplementedError):
        _DecoratorContextManager().__enter__()


def test_collate_function_map():
    from ember.utils.data import default_collate
    from ember.utils.data._utils import collate as collate_module

    class Point(collections.namedtuple("Point", "x y")):
        pass

    class Box:
        def __init__(self, v):
            self.v = v

    assert isinstance(default_collate([Point(1, 2.0), Point(3, 4.0)]), Point)
    assert default_collate([True, False]).dtype == ember.bool
    assert default_collate([1, 2]).dtype == ember.int64
    assert default_collate([np.float32(1), np.float32(2)]).dtype == ember.float32
    with pytest.raises(TypeError, match="found"):
        default_collate([Box(1), Box(2)])
    collate_module.default_collate_fn_map[Box] = lambda batch, *, collate_fn_map=None: sum(
        b.v for b in batch)
    try:
        assert default_collate([{"k": Box(1)}, {"k": Box(2)}]) == {"k": 3}
    finally:
        del collate_module.default_collate_fn_map[Box]
    only_floats = {float: collate_module.collate_float_fn}
    assert collate_module.collate([(1.0,), (2.0,)], collate_fn_map=only_floats)[0].tolist() == \
        [1.0, 2.0]


def test_worker_seed_state():
    from ember.utils.data._utils.worker import _generate_state
    # PyTorch's values for these seeds
    assert _generate_state(0, 0) == [2968811710, 3677149159, 745650761, 2884920346]
    assert _generate_state(12345678901234, 3) == [2677634501, 810098766, 226270600, 4115140591]


def test_swap_tensor():
    from ember.nn.utils._named_member_accessor import swap_tensor
    lin = nn.Linear(2, 2)
    lin.register_buffer("stat", ember.zeros(2))
    lin.plain = ember.ones(1)
    old = swap_tensor(lin, "bias", ember.zeros(2))
    assert isinstance(old, nn.Parameter) and type(lin._parameters["bias"]) is ember.Tensor
    assert swap_tensor(lin, "stat", ember.ones(2)).tolist() == [0.0, 0.0]
    assert lin._buffers["stat"].tolist() == [1.0, 1.0]
    assert swap_tensor(lin, "plain", ember.zeros(1)).tolist() == [1.0]
    with pytest.raises(AttributeError):
        swap_tensor(lin, "missing", ember.zeros(1))
    swap_tensor(lin, "missing", ember.zeros(1), allow_missing=True)
    assert lin.missing.tolist() == [0.0]
    with pytest.raises(KeyError):
        swap_tensor(lin, "a.b", ember.zeros(1))
    with pytest.raises(TypeError):
        swap_tensor(lin, "bias", 3)


def test_module_registration_hooks():
    from ember.nn.modules import module as module_module
    seen = []

    def on_param(module, name, value):
        seen.append(("param", name))
        return nn.Parameter(value.detach() * 0)

    def on_buffer(module, name, value):
        seen.append(("buffer", name))

    def on_module(module, name, value):
        seen.append(("module", name))

    handles = [module_module.register_module_parameter_registration_hook(on_param),
               module_module.register_module_buffer_registration_hook(on_buffer),
               module_module.register_module_module_registration_hook(on_module)]
    try:
        outer = nn.Module()
        outer.inner = nn.Linear(1, 1)
        outer.register_buffer("count", ember.ones(1))
        outer.add_module("extra", nn.Identity())
        outer.w = nn.Parameter(ember.ones(1))
    finally:
        for handle in handles:
            handle.remove()
    assert seen == [("param", "weight"), ("param", "bias"), ("module", "inner"),
                    ("buffer", "count"), ("module", "extra"), ("param", "w")]
    assert outer.w.tolist() == [0.0]  # the hook's replacement
    nn.Linear(1, 1)
    assert len(seen) == 6  # removed


def test_parameter_metaclass_counts_marked_tensors():
    from ember.nn.parameter import _ParameterMeta

    class ParamLike(ember.Tensor):
        _is_param = True

    assert type(nn.Parameter) is _ParameterMeta
    marked = ember.ones(1).as_subclass(ParamLike)
    assert isinstance(marked, nn.Parameter) and not isinstance(marked, nn.Buffer)
    assert isinstance(nn.Parameter(ember.ones(1)), nn.Parameter)
    assert not isinstance(ember.ones(1), nn.Parameter) and not isinstance(3, nn.Parameter)


def test_functorch_package_make_functional():
    import ember.functorch as functorch
    assert functorch.vmap is ember.func.vmap
    ember.manual_seed(0)
    lin = nn.Linear(3, 2)
    fmodel, params = functorch.make_functional(lin)
    x = ember.randn(4, 3)
    assert all(p.requires_grad and p.is_leaf for p in params)
    doubled = [p * 2 for p in params]
    expected = x @ (2 * lin.weight.detach()).T + 2 * lin.bias.detach()
    np.testing.assert_allclose(fmodel(doubled, x).detach().numpy(), expected.numpy(), rtol=1e-6)
    fmodel(params, x).sum().backward()
    np.testing.assert_allclose(params[1].grad.numpy(), [4.0, 4.0])
    with pytest.raises(RuntimeError, match="buffers"):
        functorch.make_functional(nn.BatchNorm1d(2))
    bn = nn.BatchNorm1d(2).eval()
    fbn, bn_params, buffers = functorch.make_functional_with_buffers(
        bn, disable_autograd_tracking=True)
    assert not any(p.requires_grad for p in bn_params) and len(buffers) == 3
    shifted = (buffers[0] + 1, buffers[1], buffers[2])
    np.testing.assert_allclose(fbn(bn_params, shifted, ember.ones(1, 2)).detach().numpy(),
                               [[0.0, 0.0]], atol=1e-6)


def test_functorch_is_aliased_under_compat():
    import importlib.metadata

    from ember import compat
    with compat.torch_is_ember():
        import functorch
        assert functorch.make_functional is ember.functorch.make_functional
        with pytest.raises(importlib.metadata.PackageNotFoundError):
            importlib.metadata.version("functorch")  # it ships inside torch's distribution
