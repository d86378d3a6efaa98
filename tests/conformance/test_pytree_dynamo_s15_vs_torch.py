"""Against real PyTorch: pytree key paths (``tree_flatten_with_path``, the key entries,
``keystr``), ``torch.fx._pytree.tree_flatten_spec``, ``TransformGetItemToIndex`` under nested
vmap (the attention masks libraries build that way), the placement types of
``torch.distributed.tensor``, and ``load(map_location="meta")``."""
import collections
import io

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import torch.fx._pytree as tfx_pytree  # noqa: E402
import torch.utils._pytree as tpytree  # noqa: E402
from torch._dynamo._trace_wrapped_higher_order_op import (  # noqa: E402
    TransformGetItemToIndex as TorchTransform,
)

import ember  # noqa: E402
import ember.fx._pytree as efx_pytree  # noqa: E402
import ember.utils._pytree as epytree  # noqa: E402
from ember._dynamo._trace_wrapped_higher_order_op import (  # noqa: E402
    TransformGetItemToIndex as EmberTransform,
)

Point = collections.namedtuple("Point", "x y")


def _tree():
    return {"a": [1, (2, Point(3, 4))], "b": None, "c": collections.OrderedDict(k=5),
            "d": collections.defaultdict(int, {7: 6}), "e": collections.deque([8])}


def test_key_paths_match_torch():
    got, _ = epytree.tree_flatten_with_path(_tree())
    want, _ = tpytree.tree_flatten_with_path(_tree())
    assert [(epytree.keystr(p), x) for p, x in got] == [(tpytree.keystr(p), x) for p, x in want]
    assert [[repr(k) for k in p] for p, _ in got] == [[repr(k) for k in p] for p, _ in want]
    for p, x in want:
        assert tpytree.key_get(_tree(), p) == x
    assert [x for _, x in got] == tpytree.tree_leaves(_tree())


def test_flatten_with_keys_helpers_match_torch():
    d = {"q": 1, "r": [2]}
    got, got_ctx = epytree._dict_flatten_with_keys(d)
    want, want_ctx = tpytree._dict_flatten_with_keys(d)
    assert [(str(k), v) for k, v in got] == [(str(k), v) for k, v in want]
    assert got_ctx == want_ctx
    assert epytree._dict_unflatten([5, 6], got_ctx) == tpytree._dict_unflatten([5, 6], want_ctx)


def test_map_with_path_matches_torch():
    def fn(keystr):
        return lambda path, x: f"{keystr(path)}:{x}"
    assert (epytree.tree_map_with_path(fn(epytree.keystr), _tree())
            == tpytree.tree_map_with_path(fn(tpytree.keystr), _tree()))


def test_tree_flatten_spec_matches_torch():
    tree = {"a": 1, "b": (2, [3, 4])}
    other = {"b": (20, [30, 40]), "z": 0, "a": 10}
    got = efx_pytree.tree_flatten_spec(other, epytree.tree_structure(tree))
    assert got == tfx_pytree.tree_flatten_spec(other, tpytree.tree_structure(tree))


@pytest.mark.parametrize("index", [
    lambda lib: lib.tensor(1), lambda lib: 1, lambda lib: (1, lib.tensor(2)),
    lambda lib: [0, 2], lambda lib: lib.tensor([2, 0]), lambda lib: (slice(1, None),),
    lambda lib: lib.tensor([True, False, True]), lambda lib: True, lambda lib: None])
def test_getitem_to_index_matches_torch(index):
    a = np.arange(12).reshape(3, 4)
    with EmberTransform():
        got = ember.tensor(a)[index(ember)]
    with TorchTransform():
        want = torch.tensor(a)[index(torch)]
    assert tuple(got.shape) == tuple(want.shape) and got.tolist() == want.tolist()


def _vmap_bhqkv(lib, mask_fn):
    for dims in [(None, None, None, 0), (None, None, 0, None), (None, 0, None, None),
                 (0, None, None, None)]:
        mask_fn = lib.vmap(mask_fn, in_dims=dims, out_dims=0)
    return mask_fn


def _masks(lib, transform):
    """Causal, sliding-window and chunked masks ANDed with a padding mask, each indexed by
    the vmapped 0-d index tensors (as attention libraries build them)."""
    padding = lib.tensor([[0, 1, 1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1, 0, 0]]).bool()
    left = lib.tensor([1, 0])
    masks = {
        "causal": lambda b, h, q, kv: kv <= q,
        "sliding": lambda b, h, q, kv: (kv <= q) & (q - kv < 3),
        "chunked": lambda b, h, q, kv: (kv - left[b]) // 4 == (q - left[b]) // 4,
    }
    out = {}
    for name, fn in masks.items():
        def with_padding(b, h, q, kv, fn=fn):
            return q.new_ones((), dtype=lib.bool) & fn(b, h, q, kv) & padding[b, kv]
        with transform():
            m = _vmap_bhqkv(lib, with_padding)(lib.arange(2), lib.arange(1), lib.arange(3, 9),
                                               lib.arange(9))
        out[name] = (tuple(m.shape), str(m.dtype).rpartition(".")[2], m.tolist())
    return out


def test_vmapped_masks_match_torch():
    assert _masks(ember, EmberTransform) == _masks(torch, TorchTransform)


def test_placement_types_match_torch():
    from torch.distributed import tensor as tdt

    from ember.distributed import tensor as edt
    for make in [lambda m: m.Shard(0), lambda m: m.Shard(1), lambda m: m.Replicate(),
                 lambda m: m.Partial(), lambda m: m.Partial("max")]:
        e, t = make(edt), make(tdt)
        assert (repr(e), str(e)) == (repr(t), str(t))
        assert (e.is_shard(), e.is_shard(0), e.is_replicate(), e.is_partial(),
                e.is_partial("sum")) == (t.is_shard(), t.is_shard(0), t.is_replicate(),
                                         t.is_partial(), t.is_partial("sum"))


def test_load_meta_matches_torch():
    buf = io.BytesIO()
    torch.save({"w": torch.arange(6.0).view(2, 3)[:, 1:], "i": torch.ones(4, dtype=torch.int64)},
               buf)
    want = torch.load(io.BytesIO(buf.getvalue()), map_location="meta")
    got = ember.load(io.BytesIO(buf.getvalue()), map_location="meta")
    for k, t in want.items():
        assert got[k].is_meta and t.is_meta
        assert tuple(got[k].shape) == tuple(t.shape) and str(got[k].dtype) == str(t.dtype)
