"""Op-table rows: movement (views, joins, splits) and indexing (getitem, gather/scatter,
index_*, masked_*)."""
from __future__ import annotations

import numpy as np
from samples import BOOL, F32, FLOAT, I64, NUM, OpInfo, S, arr, m, meth, nc, perm_index

ALL = NUM + (BOOL,)


def _x(dt, rng, shape=(2, 3, 4)):
    return arr(rng, shape, dt)


def _each(*shaped):
    """Samples from (shape, args...) tuples, the first argument a fresh array of shape."""
    def gen(dt, rng):
        out = []
        for shape, *rest in shaped:
            if isinstance(shape, str):  # "nc" marks a non-contiguous input
                out.append(S(nc(rng, rest[0], dt), *rest[1:]))
            else:
                out.append(S(arr(rng, shape, dt), *rest))
        return out
    return gen


def _unfold_ref(x, d, size, step):
    win = np.lib.stride_tricks.sliding_window_view(x, size, axis=d)
    return np.take(win, np.arange(0, win.shape[d], step), axis=d)


def _as_strided_ref(x, size, stride, offset=0):
    """Strides over the storage, in memory order (a transposed input reads its base)."""
    flat = x.ravel(order="K")[offset:]
    return np.lib.stride_tricks.as_strided(flat, size, [s * x.itemsize for s in stride])


def _split_ref(x, size, dim=0):
    n = x.shape[dim]
    sizes = [min(size, n - i) for i in range(0, n, size)] if isinstance(size, int) else size
    return np.split(x, np.cumsum(sizes)[:-1], axis=dim)


def _chunk_ref(x, chunks, dim=0):
    n = x.shape[dim]
    return _split_ref(x, -(-n // chunks), dim)


def _repeat_ref(x, *sizes):
    return np.tile(x.reshape((1,) * (len(sizes) - x.ndim) + x.shape), sizes)


def _diag_ref(x, offset=0, dim1=0, dim2=1):
    return np.diagonal(x, offset, dim1, dim2)


def _cat_samples(dt, rng):
    return [S([arr(rng, (2, 3), dt), arr(rng, (4, 3), dt)]),
            S([arr(rng, (2, 3), dt), nc(rng, (2, 1), dt), arr(rng, (2, 2), dt)], 1),
            S([arr(rng, (2, 3), dt), arr(rng, (0,), dt)]),
            S([arr(rng, (2, 3, 4), dt)], -1)]


def _stack_samples(dt, rng):
    return [S([arr(rng, (2, 3), dt), arr(rng, (2, 3), dt)]),
            S([arr(rng, (2, 3), dt), nc(rng, (2, 3), dt), arr(rng, (2, 3), dt)], 2),
            S([arr(rng, (), dt), arr(rng, (), dt)], 0),
            S([arr(rng, (3,), dt)], -1)]


def _stack_ref(xs, dim=0):
    return np.stack(xs, axis=dim)


def _cat_ref(xs, dim=0):
    return np.concatenate([x for x in xs if not (x.ndim == 1 and x.shape[0] == 0)], axis=dim)


MOVEMENT = [
    OpInfo("view", meth("view"), lambda x, *s: x.reshape(*s),
           _each(((2, 3, 4), 4, 6), ((2, 3, 4), -1), ((2, 3, 4), (3, -1)), ((), 1),
                 ((6,), 1, 2, 3, 1)), ALL),
    OpInfo("reshape", m("reshape"), np.reshape,
           _each(((2, 3, 4), (4, 6)), ((2, 3, 4), (-1,)), ("nc", (3, 4), (2, 6)),
                 ("nc", (3, 4), (-1,)), ((), (1, 1))), ALL),
    OpInfo("flatten", m("flatten"), lambda x, s=0, e=-1: x.reshape(
        x.shape[:s] + (-1,) + x.shape[e % max(x.ndim, 1) + 1:]) if x.ndim else x.reshape(1),
        _each(((2, 3, 4),), ((2, 3, 4), 1), ((2, 3, 4), 0, 1), ((),), ("nc", (3, 4)),
              ((2, 3, 4), -2, -1)), ALL),
    OpInfo("unflatten", m("unflatten"), lambda x, d, s: x.reshape(
        x.shape[:d] + tuple(s) + x.shape[d + 1:] if d >= 0 else None),
        _each(((2, 6), 1, (3, 2)), ((6, 2), 0, (2, -1))), FLOAT),
    OpInfo("squeeze", m("squeeze"),
           lambda x, d=None: np.squeeze(x, d if d is None or isinstance(d, tuple) or
                                        x.shape[d] == 1 else ()),
           _each(((2, 1, 3, 1),), ((2, 1, 3, 1), 1), ((2, 1, 3, 1), 0), ((2, 1, 3, 1), (1, 3)),
                 ((),), ((1,), 0)), ALL),
    OpInfo("unsqueeze", m("unsqueeze"), np.expand_dims,
           _each(((2, 3), 0), ((2, 3), -1), ((2, 3), 1), ((), 0), ("nc", (2, 3), 2)), ALL),
    OpInfo("permute", m("permute"), np.transpose,
           _each(((2, 3, 4), (2, 0, 1)), ((2, 3, 4), (-1, 1, 0)), ((), ())), ALL),
    OpInfo("permute_varargs", lambda lib, x: x.permute(1, 2, 0), lambda x: x.transpose(1, 2, 0),
           _each(((2, 3, 4),)), FLOAT),
    OpInfo("transpose", m("transpose"), np.swapaxes,
           _each(((2, 3, 4), 0, 2), ((2, 3, 4), -1, 1), ("nc", (3, 4), 0, 1)), ALL),
    OpInfo("t", m("t"), lambda x: x.T, _each(((3, 4),), ((3,),), ((),), ("nc", (3, 4))), ALL),
    OpInfo("T", lambda lib, x: x.T, lambda x: x.T, _each(((3, 4),), ("nc", (2, 5))), FLOAT),
    OpInfo("mT", lambda lib, x: x.mT, lambda x: np.swapaxes(x, -1, -2),
           _each(((2, 3, 4),), ((3, 4),)), FLOAT),
    OpInfo("expand", meth("expand"), lambda x, *s: np.broadcast_to(
        x, tuple(x.shape[i - len(s) + x.ndim] if v == -1 else v for i, v in enumerate(s))),
        _each(((3, 1), 3, 4), ((3, 1), 2, 3, 5), ((3, 1), -1, 4), ((), 2, 2)), ALL),
    OpInfo("expand_as", lambda lib, x, y: x.expand_as(y), lambda x, y: np.broadcast_to(
        x, y.shape), lambda dt, rng: [S(arr(rng, (3, 1), dt), arr(rng, (2, 3, 4), dt))], FLOAT,
        grad=False),
    OpInfo("narrow", m("narrow"), lambda x, d, s, n: np.take(x, np.arange(s, s + n), axis=d),
           _each(((4, 5), 0, 1, 2), ((4, 5), 1, 2, 3), ((4, 5), -1, 0, 5), ("nc", (4, 5), 1, 1,
                                                                               2)), ALL),
    OpInfo("select", m("select"), lambda x, d, i: np.take(x, i, axis=d),
           _each(((2, 3, 4), 0, 1), ((2, 3, 4), 2, -1), ("nc", (3, 4), 1, 2)), ALL),
    OpInfo("unfold", meth("unfold"), _unfold_ref,
           _each(((3, 7), 1, 3, 2), ((6, 2), 0, 2, 2), ((5,), 0, 5, 1), ("nc", (4, 6), 1, 2, 1)),
           FLOAT),
    OpInfo("as_strided", m("as_strided"), _as_strided_ref,
           _each(((3, 4), (2, 2), (4, 1)), ((3, 4), (3, 3), (1, 4), 1), ((12,), (4, 3), (2, 1)),
                 ((3, 4), (2, 3), (0, 1), 2), ("nc", (3, 4), (2, 3), (1, 3), 1)), FLOAT),
    OpInfo("flip", m("flip"), np.flip,
           _each(((2, 3, 4), (0,)), ((2, 3, 4), (0, 2)), ((2, 3, 4), (-1,)), ("nc", (3, 4), (1,))),
           ALL),
    OpInfo("roll", m("roll"), lambda x, s, d=None: np.roll(x, s, d),
           _each(((3, 4), 1), ((3, 4), -2, 1), ((3, 4), (1, 2), (0, 1)), ("nc", (3, 4), 5, 0)),
           ALL),
    OpInfo("repeat", meth("repeat"), _repeat_ref,
           _each(((2, 3), 2, 1), ((2, 3), 1, 2, 3), ((), 3), ("nc", (2, 3), 2, 2)), ALL),
    OpInfo("tile", m("tile"), np.tile, _each(((2, 3), (2,)), ((2, 3), (2, 1, 2)), ((3,), (2, 2))),
           ALL),
    OpInfo("repeat_interleave", m("repeat_interleave"),
           lambda x, r, dim=None: np.repeat(x, r, axis=dim),
           lambda dt, rng: [S(arr(rng, (2, 3), dt), 2), S(arr(rng, (2, 3), dt), 2, dim=1),
                            S(arr(rng, (3, 2), dt), np.array([1, 0, 2]), dim=0)], FLOAT),
    OpInfo("cat", m("cat"), _cat_ref, _cat_samples, ALL),
    OpInfo("stack", m("stack"), _stack_ref, _stack_samples, ALL),
    OpInfo("chunk", m("chunk"), _chunk_ref,
           _each(((5, 2), 2), ((2, 6), 3, 1), ((2, 6), 4, 1), ((2, 6), 5, -1)), FLOAT),
    OpInfo("split", m("split"), _split_ref,
           _each(((5, 2), 2), ((2, 6), 4, 1), ((2, 6), [1, 5], 1), ((2, 6), [2, 0, 4], -1)),
           FLOAT),
    OpInfo("unbind", m("unbind"), lambda x, d=0: [np.take(x, i, d) for i in range(x.shape[d])],
           _each(((2, 3),), ((2, 3), 1), ("nc", (3, 2), -1)), FLOAT),
    OpInfo("movedim", m("movedim"), np.moveaxis,
           _each(((2, 3, 4), 0, -1), ((2, 3, 4), (0, 1), (2, 0)), ((2, 3, 4), -1, 0)), FLOAT),
    OpInfo("diagonal", m("diagonal"), _diag_ref,
           _each(((3, 4),), ((3, 4), 1), ((3, 4), -1), ((2, 3, 4), 0, 1, 2), ((2, 3, 4), 1, -1, 0),
                 ("nc", (4, 4), 0)), FLOAT),
    OpInfo("tril", m("tril"), np.tril, _each(((3, 4),), ((3, 4), 1), ((2, 3, 4), -1),
                                             ("nc", (4, 3), 0)), NUM),
    OpInfo("triu", m("triu"), np.triu, _each(((3, 4),), ((3, 4), 1), ((2, 3, 4), -1),
                                             ("nc", (4, 3), 0)), NUM),
]


def _getitem_samples(dt, rng):
    x = arr(rng, (4, 3, 5), dt)
    idx = np.array([0, 2, -1, 2], np.int64)
    return [S(x, 1), S(x, -1), S(x, slice(1, 3)), S(x, (slice(None), 1)), S(x, (Ellipsis, 1)),
            S(x, None), S(x, (slice(None), None, slice(1, None))), S(x, (1, Ellipsis, None)),
            S(x, slice(None, None, 2)), S(x, (0, 1, 2)), S(x, [0, 2]), S(x, idx),
            S(x, arr(rng, (4, 3, 5), BOOL)), S(x, np.array([True, False, True, True])),
            S(x, (idx, slice(None), np.array([0, 1, 4, 4]))), S(x, (slice(None), idx[:2])),
            S(x, np.array([[0, 1], [3, 3]])), S(x, (1, idx)),
            S(x, (Ellipsis, np.array([1, 1, 0]))), S(x, (None, idx, 1)),
            S(nc(rng, (3, 4), dt), (slice(None), 1)), S(nc(rng, (3, 4), dt), idx[:2]),
            S(arr(rng, (), dt), None), S(arr(rng, (), dt), Ellipsis),
            S(x, (slice(1, 3), arr(rng, (3,), BOOL)))]


def _loop_scatter(x, dim, index, src, reduce=None, include_self=True):
    """Reference scatter, one element at a time."""
    out = x.copy()
    hits = {}
    for i in np.ndindex(index.shape):
        pos = list(i)
        pos[dim] = index[i]
        pos = tuple(pos)
        v = src[i] if isinstance(src, np.ndarray) else src
        hits.setdefault(pos, []).append(v)
    for pos, vals in hits.items():
        base = [x[pos]] if include_self else []
        allv = np.array(base + vals)
        if reduce is None:
            out[pos] = vals[-1]
        elif reduce in ("sum", "add"):
            out[pos] = allv.sum()
        elif reduce in ("prod", "multiply"):
            out[pos] = allv.prod()
        elif reduce == "mean":
            out[pos] = allv.mean() if x.dtype.kind == "f" else allv.sum() // len(allv)
        elif reduce == "amax":
            out[pos] = allv.max()
        elif reduce == "amin":
            out[pos] = allv.min()
    return out


def _gather_ref(x, dim, index):
    grids = list(np.indices(index.shape, sparse=True))
    grids[dim] = index
    return x[tuple(grids)]


def _gather_samples(dt, rng):
    x = arr(rng, (3, 4), dt)
    return [S(x, 0, rng.integers(0, 3, (2, 4))), S(x, 1, rng.integers(0, 4, (3, 6))),
            S(x, -1, rng.integers(0, 4, (2, 2))), S(nc(rng, (3, 4), dt), 0,
                                                    rng.integers(0, 3, (5, 4)))]


def _unique_index(rng, shape, n, dim):
    """An index of ``shape`` whose entries are distinct along ``dim`` (values below n)."""
    cols = [perm_index(rng, n, shape[dim]) for _ in range(int(np.prod(shape)) // shape[dim])]
    return np.moveaxis(np.array(cols).reshape(tuple(s for k, s in enumerate(shape) if k != dim)
                                              + (shape[dim],)), -1, dim).copy()


def _scatter_samples(dt, rng):
    x = arr(rng, (3, 5), dt)
    return [S(x, 0, _unique_index(rng, (2, 5), 3, 0), arr(rng, (2, 5), dt)),
            S(x, 1, _unique_index(rng, (3, 2), 5, 1), arr(rng, (3, 2), dt)),
            S(nc(rng, (3, 5), dt), -1, _unique_index(rng, (2, 3), 5, 1), arr(rng, (2, 3), dt))]


def _scatter_add_samples(dt, rng):
    x = arr(rng, (3, 5), dt)
    return [S(x, 0, rng.integers(0, 3, (4, 5)), arr(rng, (4, 5), dt)),
            S(x, 1, rng.integers(0, 5, (3, 6)), arr(rng, (3, 6), dt)),
            S(nc(rng, (3, 5), dt), -1, rng.integers(0, 5, (2, 3)), nc(rng, (2, 3), dt))]


def _scatter_reduce_samples(reduce):
    def gen(dt, rng):
        x = arr(rng, (3, 5), dt, (0.5, 2.0))
        return [S(x, 0, rng.integers(0, 3, (4, 5)), arr(rng, (4, 5), dt, (0.5, 2.0)), reduce),
                S(x, 1, rng.integers(0, 5, (3, 3)), arr(rng, (3, 3), dt, (0.5, 2.0)), reduce,
                  include_self=False)]
    return gen


def _index_samples(kind):
    def gen(dt, rng):
        x = arr(rng, (4, 3), dt)
        if kind == "select":
            return [S(x, 0, np.array([0, 3, 3, 1])), S(x, 1, np.array([2, 0])),
                    S(nc(rng, (4, 3), dt), -1, np.array([1])), S(arr(rng, (5,), dt), 0,
                                                                 np.array([4, 0]))]
        if kind == "add":
            return [S(x, 0, np.array([0, 3, 3]), arr(rng, (3, 3), dt)),
                    S(x, 1, np.array([2, 0]), arr(rng, (4, 2), dt), alpha=2),
                    S(nc(rng, (4, 3), dt), -1, np.array([1, 1]), arr(rng, (4, 2), dt))]
        if kind == "copy":
            return [S(x, 0, perm_index(rng, 4, 2), arr(rng, (2, 3), dt)),
                    S(x, 1, perm_index(rng, 3, 3), nc(rng, (4, 3), dt))]
        return [S(x, 0, np.array([0, 2]), -1.5), S(x, 1, np.array([2]), 3.0),
                S(x, -1, np.array([0, 0]), arr(rng, (), dt))]
    return gen


def _index_select_ref(x, dim, index):
    return np.take(x, index, axis=dim)


def _index_add_ref(x, dim, index, src, alpha=1):
    out = x.copy()
    np.add.at(np.moveaxis(out, dim, 0), index, np.moveaxis(src * alpha, dim, 0))
    return out


def _index_copy_ref(x, dim, index, src):
    out = x.copy()
    np.moveaxis(out, dim, 0)[index] = np.moveaxis(src, dim, 0)
    return out


def _index_fill_ref(x, dim, index, value):
    out = x.copy()
    np.moveaxis(out, dim, 0)[index] = value
    return out


def _index_put_ref(x, indices, values, accumulate=False):
    out = x.copy()
    if accumulate:
        np.add.at(out, indices, values)
    else:
        out[indices] = values
    return out


def _index_put_samples(dt, rng):
    x = arr(rng, (4, 3), dt)
    return [S(x, (np.array([0, 2, 3]), np.array([1, 1, 0])), arr(rng, (3,), dt)),
            S(x, (np.array([0, 0, 3]),), arr(rng, (3, 3), dt), True),
            S(x, (arr(rng, (4, 3), BOOL),), arr(rng, (), dt)),
            S(x, (np.array([1, 1]), np.array([2, 2])), arr(rng, (2,), dt), True),
            S(x, (np.array([2, 0]),), arr(rng, (3,), dt))]


def _masked_fill_samples(dt, rng):
    x = arr(rng, (3, 4), dt)
    return [S(x, arr(rng, (3, 4), BOOL), -1.0 if dt.kind == "f" else -1),
            S(x, arr(rng, (4,), BOOL), arr(rng, (), dt)),
            S(nc(rng, (3, 4), dt), arr(rng, (3, 1), BOOL), 2)]


def _masked_scatter_ref(x, mask, src):
    mask = np.broadcast_to(mask, x.shape)
    out = x.copy()
    out[mask] = src.reshape(-1)[:mask.sum()]
    return out


INDEXING = [
    OpInfo("getitem", lambda lib, x, i: x[i], lambda x, i: x[i], _getitem_samples, ALL),
    OpInfo("gather", m("gather"), _gather_ref, _gather_samples, NUM),
    OpInfo("take_along_dim", m("take_along_dim"), lambda x, i, d=None: np.take_along_axis(
        x.reshape(-1) if d is None else x, i.reshape(-1) if d is None else i, 0 if d is None
        else d), lambda dt, rng: [S(arr(rng, (3, 4), dt), rng.integers(0, 4, (3, 2)), 1),
                                  S(arr(rng, (3, 4), dt), rng.integers(0, 12, (5,))),
                                  S(arr(rng, (3, 4), dt), rng.integers(0, 3, (1, 4)), 0)], FLOAT),
    OpInfo("scatter", m("scatter"), _loop_scatter, _scatter_samples, NUM),
    OpInfo("scatter_value", lambda lib, x, d, i: lib.scatter(x, d, i, value=2.5),
           lambda x, d, i: _loop_scatter(x, d, i, 2.5),
           lambda dt, rng: [S(arr(rng, (3, 5), dt), 1, rng.integers(0, 5, (3, 2)))], FLOAT),
    OpInfo("scatter_reduce_kw", lambda lib, x, d, i, s: lib.scatter(x, d, i, s, reduce="add"),
           lambda x, d, i, s: _loop_scatter(x, d, i, s, "add"),
           lambda dt, rng: _scatter_add_samples(dt, rng)[:1], FLOAT, grad=False),
    OpInfo("scatter_add", m("scatter_add"),
           lambda x, d, i, s: _loop_scatter(x, d, i, s, "sum"), _scatter_add_samples, NUM),
    # PyTorch reads only src[:index.shape] and has no gradient for a larger src.
    OpInfo("scatter_add_larger_src", m("scatter_add"),
           lambda x, d, i, s: _loop_scatter(x, d, i, s[:i.shape[0], :i.shape[1]], "sum"),
           lambda dt, rng: [S(arr(rng, (3, 5), dt), 1, rng.integers(0, 5, (3, 2)),
                              arr(rng, (4, 6), dt))], NUM, grad=False),
    OpInfo("scatter_larger_src", m("scatter"),
           lambda x, d, i, s: _loop_scatter(x, d, i, s[:i.shape[0], :i.shape[1]]),
           lambda dt, rng: [S(arr(rng, (3, 5), dt), 1, _unique_index(rng, (3, 2), 5, 1),
                              arr(rng, (3, 4), dt))], NUM, grad=False),
] + [
    OpInfo(f"scatter_reduce_{r}", m("scatter_reduce"), _loop_scatter,
           _scatter_reduce_samples(r), FLOAT)
    for r in ("sum", "prod", "mean", "amax", "amin")
] + [
    OpInfo("index_select", m("index_select"), _index_select_ref, _index_samples("select"), ALL),
    OpInfo("index_add", m("index_add"), _index_add_ref, _index_samples("add"), NUM),
    OpInfo("index_copy", m("index_copy"), _index_copy_ref, _index_samples("copy"), NUM),
    OpInfo("index_fill", m("index_fill"), _index_fill_ref, _index_samples("fill"), FLOAT),
    OpInfo("index_put", m("index_put"), _index_put_ref, _index_put_samples, NUM),
    OpInfo("masked_fill", m("masked_fill"), lambda x, mk, v: np.where(mk, v, x),
           _masked_fill_samples, NUM),
    OpInfo("masked_select", m("masked_select"),
           lambda x, mk: np.broadcast_to(x, np.broadcast_shapes(x.shape, mk.shape))[
               np.broadcast_to(mk, np.broadcast_shapes(x.shape, mk.shape))],
           lambda dt, rng: [S(arr(rng, (3, 4), dt), arr(rng, (3, 4), BOOL)),
                            S(nc(rng, (3, 4), dt), arr(rng, (4,), BOOL)),
                            S(arr(rng, (4,), dt), arr(rng, (3, 1), BOOL))], NUM),
    OpInfo("masked_scatter", m("masked_scatter"), _masked_scatter_ref,
           lambda dt, rng: [S(arr(rng, (3, 4), dt), arr(rng, (3, 4), BOOL),
                              arr(rng, (3, 5), dt)),
                            S(arr(rng, (3, 4), dt), arr(rng, (4,), BOOL), arr(rng, (12,), dt))],
           FLOAT),
    OpInfo("take", m("take"), lambda x, i: np.take(x, i),
           lambda dt, rng: [S(arr(rng, (3, 4), dt), rng.integers(-12, 12, (2, 3))),
                            S(nc(rng, (3, 4), dt), rng.integers(0, 12, (5,)))], NUM),
    OpInfo("nonzero", m("nonzero"), lambda x: np.argwhere(x),
           lambda dt, rng: [S(arr(rng, (3, 4), dt, (-1, 1))), S(arr(rng, (5,), dt, (0, 1))),
                            S(nc(rng, (3, 4), dt, (-1, 1)))], (F32, I64, BOOL), grad=False),
    OpInfo("nonzero_tuple", lambda lib, x: lib.nonzero(x, as_tuple=True), np.nonzero,
           lambda dt, rng: [S(arr(rng, (3, 4), dt, (-1, 1)))], (I64, BOOL), grad=False),
]

ROWS = MOVEMENT + INDEXING


def _kw(dt, rng):
    return [S(arr(rng, (2, 3, 4), dt)), S(nc(rng, (4, 3, 2), dt))]


# Keyword and method forms of the movement ops.
METHODS = [
    OpInfo("view_method", lambda lib, x: x.contiguous().view(-1, 4),
           lambda x: x.reshape(-1, 4), _kw),
    OpInfo("reshape_method", lambda lib, x: x.reshape(4, -1), lambda x: x.reshape(4, -1), _kw),
    OpInfo("flatten_kw", lambda lib, x: x.flatten(start_dim=1),
           lambda x: x.reshape(x.shape[0], -1), _kw),
    OpInfo("transpose_method", lambda lib, x: x.transpose(0, 1),
           lambda x: x.swapaxes(0, 1), _kw),
    OpInfo("unsqueeze_method", lambda lib, x: x.unsqueeze(1).squeeze(1), lambda x: x, _kw),
    OpInfo("cat_kw", lambda lib, x: lib.cat(tensors=[x, x], dim=1),
           lambda x: np.concatenate([x, x], 1), _kw),
    OpInfo("stack_neg_dim", lambda lib, x: lib.stack([x, x * 2], dim=-1),
           lambda x: np.stack([x, x * 2], -1), _kw),
    OpInfo("chunk_method", lambda lib, x: x.chunk(2, dim=-1), lambda x: _chunk_ref(x, 2, -1),
           _kw),
    OpInfo("split_method", lambda lib, x: x.split([1, 2], dim=1),
           lambda x: np.split(x, [1], 1), _kw),
    OpInfo("unbind_method", lambda lib, x: x.unbind(1), lambda x: [x[:, i] for i in range(3)],
           _kw),
    OpInfo("flip_method", lambda lib, x: x.flip(0, 2), lambda x: np.flip(x, (0, 2)), _kw),
    OpInfo("expand_method", lambda lib, x: x[:, :1].expand(-1, 5, -1),
           lambda x: np.broadcast_to(x[:, :1], (x.shape[0], 5, x.shape[2])), _kw),
    OpInfo("contiguous_method", lambda lib, x: x.contiguous(), lambda x: x, _kw),
    OpInfo("scatter_add_method", lambda lib, x, d, i, s: x.scatter_add(d, i, s),
           lambda x, d, i, s: _loop_scatter(x, d, i, s, "sum"),
           lambda dt, rng: _scatter_add_samples(dt, rng)[:1]),
    OpInfo("scatter_method", lambda lib, x, d, i, s: x.scatter(d, i, s),
           lambda x, d, i, s: _loop_scatter(x, d, i, s),
           lambda dt, rng: _scatter_samples(dt, rng)[:1]),
    OpInfo("index_add_method", lambda lib, x, d, i, s: x.index_add(d, i, s, alpha=2),
           lambda x, d, i, s: _index_add_ref(x, d, i, s, 2),
           lambda dt, rng: _index_samples("add")(dt, rng)[:1]),
    OpInfo("index_put_method", lambda lib, x, i, v: x.index_put((i,), v, accumulate=True),
           lambda x, i, v: _index_put_ref(x, (i,), v, True),
           lambda dt, rng: [S(arr(rng, (4, 3), dt), np.array([0, 0, 3]), arr(rng, (3, 3), dt))]),
    OpInfo("masked_scatter_method", lambda lib, x, mk, s: x.masked_scatter(mk, s),
           _masked_scatter_ref, lambda dt, rng: [S(arr(rng, (3, 4), dt), arr(rng, (3, 4), BOOL),
                                                   arr(rng, (12,), dt))]),
    OpInfo("take_along_dim_method", lambda lib, x, i: x.take_along_dim(i, 1),
           lambda x, i: np.take_along_axis(x, i, 1),
           lambda dt, rng: [S(arr(rng, (3, 4), dt), rng.integers(0, 4, (3, 2)))]),
    OpInfo("gather_method", lambda lib, x, i: x.gather(1, i),
           lambda x, i: np.take_along_axis(x, i, 1),
           lambda dt, rng: [S(arr(rng, (3, 4), dt), rng.integers(0, 4, (3, 5)))]),
    OpInfo("masked_fill_method", lambda lib, x: x.masked_fill(x > 0, 0.0),
           lambda x: np.where(x > 0, 0.0, x).astype(x.dtype), _kw),
    OpInfo("index_select_method", lambda lib, x: x.index_select(-1, lib.tensor([1, 0, 1])),
           lambda x: x[..., [1, 0, 1]], _kw),
    OpInfo("nonzero_method", lambda lib, x: (x > 0).nonzero(),
           lambda x: np.argwhere(x > 0), _kw, grad=False),
]

ROWS += METHODS
