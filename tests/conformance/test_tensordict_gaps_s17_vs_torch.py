"""The torch internals tensordict and TorchRL use, on ember and on PyTorch side by side: worker
seed states, pytree prefix broadcasting and struct sequences, ``swap_tensor``, the legacy
``Tensor(tensor)`` alias, module registration hooks, ``make_functional``, shared ``from_file``,
the collate function map, ``_is_alias_of`` and ``WeakIdKeyDictionary``."""
from __future__ import annotations

import gc
import importlib
import os
import time

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")


def _both(name: str):
    """(ember's module, PyTorch's module) of a dotted ``torch`` submodule."""
    return (importlib.import_module("ember" + name[len("torch"):]),
            importlib.import_module(name))


@pytest.mark.parametrize("base_seed,worker_id", [(0, 0), (1, 5), (2**32 + 7, 2),
                                                 (2**63 - 1, 7)])
def test_worker_seed_state(base_seed, worker_id):
    ours, theirs = _both("torch.utils.data._utils.worker")
    assert ours._generate_state(base_seed, worker_id) == \
        theirs._generate_state(base_seed, worker_id)


@pytest.mark.parametrize("prefix", [0, (0, None, 1), (0, (1, 2), {"a": 3}), (0, 1),
                                    (0, [1, 2], 3), (0, 1, {"b": 3}), [0, 1, 2]])
def test_broadcast_to_and_flatten(prefix):
    tree = (1, (2, 3), {"a": 4})
    results = [p._broadcast_to_and_flatten(prefix, p.tree_flatten(tree)[1])
               for p in _both("torch.utils._pytree")]
    assert results[0] == results[1]


def test_structseq_checks():
    ours, theirs = _both("torch.utils._pytree")
    for obj in (os.stat("."), time.gmtime(), (1, 2), time.struct_time, tuple):
        for check in ("is_structseq", "is_structseq_instance", "is_structseq_class"):
            assert getattr(ours, check)(obj) == getattr(theirs, check)(obj), (check, obj)


def _swap_tensor_trace(lib):
    from importlib import import_module
    swap_tensor = import_module(lib.__name__ + ".nn.utils._named_member_accessor").swap_tensor
    lin = lib.nn.Linear(2, 2)
    lin.register_buffer("stat", lib.zeros(2))
    old = swap_tensor(lin, "bias", lib.zeros(2))
    trace = [type(old).__name__, type(lin._parameters["bias"]).__name__,
             swap_tensor(lin, "stat", lib.ones(2)).tolist(), lin.stat.tolist()]
    for name, value in (("missing", lib.zeros(1)), ("a.b", lib.zeros(1)), ("bias", 3)):
        try:
            swap_tensor(lin, name, value)
        except Exception as exc:
            trace.append(type(exc).__name__)
    swap_tensor(lin, "missing", lib.zeros(1), allow_missing=True)
    return trace + [lin.missing.tolist()]


def test_swap_tensor():
    assert _swap_tensor_trace(ember) == _swap_tensor_trace(torch)


def _legacy_alias_trace(lib):
    class Marked(lib.Tensor):
        pass

    flags = lib.tensor([True, False])
    marked = Marked(flags)
    x = lib.ones(2, requires_grad=True)
    alias = lib.Tensor(x)
    (alias * 3).sum().backward()
    return [str(marked.dtype), marked.data_ptr() == flags.data_ptr(),
            str(lib.Tensor(lib.arange(3)).dtype), alias is x, alias.requires_grad,
            x.grad.tolist()]


def test_legacy_constructor_aliases():
    assert _legacy_alias_trace(ember) == _legacy_alias_trace(torch)


def _registration_trace(lib):
    module_module = importlib.import_module(lib.__name__ + ".nn.modules.module")
    seen = []

    def record(kind):
        def hook(module, name, value):
            seen.append((kind, name))
        return hook

    handles = [module_module.register_module_parameter_registration_hook(record("param")),
               module_module.register_module_buffer_registration_hook(record("buffer")),
               module_module.register_module_module_registration_hook(record("module"))]
    try:
        outer = lib.nn.Module()
        outer.inner = lib.nn.Linear(1, 1)
        outer.register_buffer("count", lib.ones(1))
        outer.add_module("extra", lib.nn.Identity())
        outer.w = lib.nn.Parameter(lib.ones(1))
        outer.count = lib.zeros(1)
        outer.inner = None
    finally:
        for handle in handles:
            handle.remove()
    return seen


def test_module_registration_hooks():
    assert _registration_trace(ember) == _registration_trace(torch)


def test_make_functional_matches_torch():
    from torch._functorch.make_functional import make_functional_with_buffers

    import ember.functorch as functorch
    torch.manual_seed(0)
    ember.manual_seed(0)
    theirs_model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    ours_model = ember.nn.Sequential(ember.nn.Linear(3, 2), ember.nn.BatchNorm1d(2))
    ours_model.load_state_dict({k: ember.tensor(v.numpy())
                                for k, v in theirs_model.state_dict().items()})
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3)).astype(np.float32)
    weights = rng.standard_normal((4, 2)).astype(np.float32)
    outs = []
    for make, lib, model in ((functorch.make_functional_with_buffers, ember, ours_model),
                             (make_functional_with_buffers, torch, theirs_model)):
        fmodel, params, buffers = make(model)
        out = fmodel(params, buffers, lib.tensor(x))
        (out * lib.tensor(weights)).sum().backward()
        outs.append([out.detach().numpy(), [p.grad.numpy() for p in params],
                     [b.numpy() for b in buffers]])
    np.testing.assert_allclose(outs[0][0], outs[1][0], rtol=1e-5, atol=1e-6)
    for a, b in zip(outs[0][1] + outs[0][2], outs[1][1] + outs[1][2]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_from_file_shared_creates_and_grows(tmp_path):
    sizes = []
    for lib in (ember, torch):
        path = str(tmp_path / f"{lib.__name__}.bin")
        t = lib.from_file(path, shared=True, size=3, dtype=lib.float32)
        t[1] = 2.0
        grown = lib.from_file(path, shared=True, size=5, dtype=lib.float32)
        sizes.append([os.path.getsize(path), grown.tolist()])
        del t, grown
    assert sizes[0] == sizes[1]


def _collate_trace(lib):
    collate = importlib.import_module(lib.__name__ + ".utils.data._utils.collate")

    class Box:
        def __init__(self, v):
            self.v = v

    collate.default_collate_fn_map[Box] = lambda batch, *, collate_fn_map=None: sum(
        b.v for b in batch)
    try:
        boxed = collate.default_collate([{"k": Box(1)}, {"k": Box(2)}])
    finally:
        del collate.default_collate_fn_map[Box]
    batch = collate.default_collate([(True, 1, 1.5, np.float32(2), "a"),
                                     (False, 2, 2.5, np.float32(3), "b")])
    return [boxed, [str(b.dtype) if hasattr(b, "dtype") else b for b in batch],
            sorted(t.__name__ if isinstance(t, type) else str(t)
                   for t in collate.default_collate_fn_map)]


def test_collate_function_map():
    ours, theirs = _collate_trace(ember), _collate_trace(torch)
    assert ours[:2] == theirs[:2]
    assert set(ours[2]) <= set(theirs[2])


def test_is_alias_of():
    for lib in (ember, torch):
        a = lib.arange(6.0)
        assert [lib._C._is_alias_of(a, a[2:]), lib._C._is_alias_of(a[:2], a.view(2, 3)[1]),
                lib._C._is_alias_of(a, a.clone())] == [True, True, False]


def test_weak_id_key_dictionary():
    traces = []
    for lib in (ember, torch):
        weak = importlib.import_module(lib.__name__ + ".utils.weak")
        a, b = lib.ones(2), lib.ones(2)
        cache = weak.WeakIdKeyDictionary({a: "a"})
        cache[b] = "b"
        trace = [len(cache), cache[a], a in cache, lib.ones(2) in cache,
                 weak.WeakIdRef(a) == weak.WeakIdRef(a), weak.WeakIdRef(a) == weak.WeakIdRef(b)]
        del b
        gc.collect()
        traces.append(trace + [len(cache)])
    assert traces[0] == traces[1]
