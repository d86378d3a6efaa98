"""Autograd against real PyTorch: gradients (also through in-place ops and views), graph
structure (grad_fn names, next_functions), higher-order gradients, hooks and error messages."""
import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")


def _inputs(lib, seed=0, shapes=((3, 4),)):
    rng = np.random.default_rng(seed)
    return [lib.tensor(rng.standard_normal(s), dtype=lib.float64, requires_grad=True)
            for s in shapes]


def _graph(fn, depth=4):
    """Names of grad_fn and of its next_functions, a few levels deep."""
    if fn is None or depth == 0:
        return None
    return (fn.name(), tuple(_graph(n, depth - 1) if n is not None else None
                             for n, _ in fn.next_functions))


def _run(lib, f, shapes, graph):
    xs = _inputs(lib, shapes=shapes)
    try:
        out = f(lib, *xs)
        g = _graph(out.grad_fn) if graph else None
        seed = lib.tensor(np.linspace(-1, 1, out.numel()).reshape(tuple(out.shape)),
                          dtype=out.dtype)
        out.backward(seed)
    except RuntimeError as exc:  # e.g. a saved tensor modified in place: both must raise it
        return "error", str(exc)
    return out.detach().numpy().copy(), [None if x.grad is None else x.grad.numpy().copy()
                                         for x in xs], g


def compare_grads(f, shapes=((3, 4),), graph: bool = True):
    results = [_run(lib, f, shapes, graph) for lib in (torch, ember)]
    errors = [r[1] if isinstance(r[0], str) else None for r in results]
    if errors != [None, None]:
        assert errors[1] == errors[0]
        return
    (t_out, t_grads, t_graph), (e_out, e_grads, e_graph) = results
    np.testing.assert_allclose(e_out, t_out, rtol=1e-10, atol=1e-12)
    for tg, eg in zip(t_grads, e_grads):
        assert (tg is None) == (eg is None)
        if tg is not None:
            np.testing.assert_allclose(eg, tg, rtol=1e-10, atol=1e-12)
    if graph:
        assert e_graph == t_graph


GRAPHS = [
    lambda L, x: (x + 2) * (x - 1) / 3,
    lambda L, x: (2 - x) * x.exp(),
    lambda L, x: (x * x).mean(),
    lambda L, x: x.sum(),
    lambda L, x: x.tanh().sigmoid(),
    lambda L, x: x.relu() ** 2,
    lambda L, x: x @ x.t(),
    lambda L, x: x.t().view(-1) if False else x.view(-1) * 2,
    lambda L, x: x[0] * x[1],
    lambda L, x: x[:, 1:].abs(),
    lambda L, x: -x.clone(),
    lambda L, x: x.unsqueeze(0).transpose(1, 2),
    lambda L, x: L.cat([x, x * 2]),
    lambda L, x: x.log_softmax(-1) if hasattr(x, "log_softmax") else x,
    lambda L, x: x.softmax(0),
    lambda L, x: x.max(),
    lambda L, x: x.max(1)[0],
    lambda L, x: x.pow(3),
    lambda L, x: 2 ** x,
    lambda L, x: x.sqrt() if False else (x * x + 1).sqrt(),
    lambda L, x: x.expand(2, 3, 4) * 1,
    lambda L, x: x.permute(1, 0).reshape(2, 6),
    lambda L, x: L.where(x > 0, x, x * 0.1),
]


_GRAPH_KNOWN: dict[int, str] = {}  # index in GRAPHS -> why ember's graph differs


@pytest.mark.parametrize("i", [pytest.param(i, marks=pytest.mark.xfail(
    strict=True, reason=_GRAPH_KNOWN[i])) if i in _GRAPH_KNOWN else i
    for i in range(len(GRAPHS))])
def test_gradients_and_graph_match(i):
    compare_grads(GRAPHS[i])


@pytest.mark.parametrize("i", sorted(_GRAPH_KNOWN))
def test_gradients_match_where_graph_differs(i):
    compare_grads(GRAPHS[i], graph=False)


INPLACE = [
    lambda L, x: (x * 1).add_(2).mul_(x),
    lambda L, x: (x * 1).exp_().sub_(x, alpha=0.5),
    lambda L, x: (x * 1).tanh_().sigmoid_(),
    lambda L, x: (x * 1).relu_(),
    lambda L, x: (x * 1).clamp_(-0.5, 0.5),
    lambda L, x: (x * 1).div_(x.detach() + 3).pow_(2),
]


@pytest.mark.parametrize("i", range(len(INPLACE)))
def test_inplace_gradients_match(i):
    compare_grads(INPLACE[i], graph=False)


def _view_writes(L, x):
    h = x * 2
    h[0].mul_(3)
    h[:, 1] = x[:, 2] ** 2
    h.t()[0].exp_()
    h[1:, ::2] += 1
    h[h > 100] = 0.0
    return h


def _rnn_like(L, w, x):
    out = L.zeros(2, 3, 4, dtype=L.float64)
    h = x
    for t in range(3):
        h = (h @ w).tanh()
        out[:, t] = h
    return out


def test_inplace_on_views_match():
    compare_grads(_view_writes, graph=False)
    compare_grads(_rnn_like, shapes=((4, 4), (2, 4)), graph=False)


def test_zero_fill_copy_send_zero_grads():
    compare_grads(lambda L, x: (x * 1).zero_(), graph=False)
    compare_grads(lambda L, x: (x * 1).fill_(3.0), graph=False)
    compare_grads(lambda L, x: (x * 1).copy_(L.ones(3, 4, dtype=L.float64)), graph=False)


def test_second_order_matches():
    for f in (lambda L, x: (x ** 3).sum(), lambda L, x: x.tanh().sum(),
              lambda L, x: x.sigmoid().sum(), lambda L, x: x.softmax(-1)[:, 0].sum(),
              lambda L, x: (x @ x.t()).sum(), lambda L, x: (x.exp() * x.sin()).mean()):
        res = []
        for lib in (torch, ember):
            (x,) = _inputs(lib)
            (g,) = lib.autograd.grad(f(lib, x), x, create_graph=True)
            (gg,) = lib.autograd.grad((g * g).sum(), x)
            res.append((g.detach().numpy(), gg.numpy()))
        np.testing.assert_allclose(res[1][0], res[0][0], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(res[1][1], res[0][1], rtol=1e-10, atol=1e-12)


def _error(lib, f):
    try:
        f(lib)
    except Exception as exc:  # compared by the caller
        return type(exc).__name__, str(exc).split(" Hint:")[0]
    return None


ERRORS = [
    lambda L: (L.ones(2, requires_grad=True) * 2).backward(),
    lambda L: L.ones(2).sum().backward(),
    lambda L: L.ones(2, requires_grad=True).add_(1),
    lambda L: L.ones(2, requires_grad=True)[0].mul_(2),
    lambda L: L.ones(2, requires_grad=True).numpy(),
    lambda L: (L.ones(2, requires_grad=True) * 2).requires_grad_(False),
    lambda L: L.ones(2, dtype=L.int64).requires_grad_(),
    lambda L: L.ones(2).register_hook(lambda g: g),
    lambda L: L.ones(2).retain_grad(),
    lambda L: L.autograd.grad((L.ones(2, requires_grad=True) * 2).sum(), L.ones(2)),
    lambda L: (lambda x: L.autograd.grad((x * 2).sum(), [x, L.ones(2, requires_grad=True)]))(
        L.ones(2, requires_grad=True)),
    lambda L: (lambda y: (y.backward(), y.backward()))(
        (L.ones(2, requires_grad=True) * L.ones(2, requires_grad=True)).sum()),
    lambda L: (lambda x: (lambda y: (y.mul_(2), y.sum().backward()))(x.exp()))(
        L.ones(3, dtype=L.float64, requires_grad=True) * 1),
    lambda L: (lambda x: (lambda y: (y.detach().zero_(), y.sum().backward()))(x.sigmoid()))(
        L.ones(3, requires_grad=True)),
    lambda L: (lambda x: (lambda y: (x.mul_(2), y.sum().backward()))(x * L.ones(3)))(
        L.ones(3)),
    lambda L: (lambda x: (lambda y: (x.add_(1), y.sum().backward()))(
        L.ones(3, requires_grad=True) * x))(L.ones(3)),
    lambda L: (lambda x: (lambda y: (x.add_(1), y.sum().backward()))(x.sin()))(
        L.ones(2, 3, requires_grad=True) * 1),
    lambda L: (L.ones(2, requires_grad=True) * 2).backward(L.ones(3)),
    lambda L: L.mul(L.ones(2, requires_grad=True), 2, out=L.zeros(2)),
    lambda L: L.ones(2, requires_grad=True).backward(inputs=[]),
    lambda L: (lambda x: L.autograd.backward([x * 2, x * 3], [L.ones(2)]))(
        L.ones(2, requires_grad=True)),
    lambda L: (lambda x: L.autograd.grad([(x * 2).sum(), (x * 3).sum()], x, [L.tensor(1.0)]))(
        L.ones(2, requires_grad=True)),
    lambda L: L.autograd.grad((L.ones(2, requires_grad=True) * 2).sum(), []),
    lambda L: L.autograd.grad((L.ones(2, requires_grad=True) * 2).sum(), [1.0]),
    lambda L: (lambda x: L.autograd.grad(x * 2, x, L.ones(3)))(L.ones(2, requires_grad=True)),
    lambda L: L.ones(2, dtype=L.int64).sum().backward(),
]


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_error_types_and_messages(i):
    t = _error(torch, ERRORS[i])
    e = _error(ember, ERRORS[i])
    assert t is not None and e == t


def test_hooks_match():
    res = []
    for lib in (torch, ember):
        (x,) = _inputs(lib)
        seen = []
        x.register_hook(lambda g, seen=seen: seen.append(g.sum().item()))
        y = x * 3
        y.retain_grad()
        y.register_hook(lambda g: g * 2)
        z = (y * y).sum()
        z.grad_fn.register_prehook(lambda go: (go[0] * 0.5,))
        z.backward()
        res.append((x.grad.numpy(), y.grad.numpy(), seen))
    np.testing.assert_allclose(res[1][0], res[0][0])
    np.testing.assert_allclose(res[1][1], res[0][1])
    np.testing.assert_allclose(res[1][2], res[0][2])


def test_custom_function_matches():
    def make(lib):
        class Scale(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x, k):
                ctx.k = k
                ctx.save_for_backward(x)
                return x * k, x.sum()

            @staticmethod
            def backward(ctx, g1, g2):
                (x,) = ctx.saved_tensors
                return g1 * ctx.k + g2, None
        return Scale

    res = []
    for lib in (torch, ember):
        (x,) = _inputs(lib)
        a, b = make(lib).apply(x, 3.0)
        assert a.grad_fn.name() == "ScaleBackward" and a.grad_fn is b.grad_fn
        (a.sum() + b * 2).backward()
        res.append(x.grad.numpy())
    np.testing.assert_allclose(res[1], res[0])


def test_detach_and_data_semantics_match():
    for lib in (torch, ember):
        x = lib.ones(3, requires_grad=True)
        y = x * 2
        d = y.detach()
        d.add_(1)
        assert y._version == 1 and d._version == 1
        dd = y.data
        dd.add_(1)
        assert y._version == 1  # .data has its own version counter
        assert y.tolist() == [4.0, 4.0, 4.0]


def test_functional_matches():
    def cases(lib):
        F = lib.autograd.functional
        x = lib.tensor([0.5, -1.0, 2.0], dtype=lib.float64)
        v = lib.tensor([1.0, 0.5, -2.0], dtype=lib.float64)
        f = lambda a: (a.tanh() * a.sum()).exp()  # noqa: E731
        s = lambda a, b: (a * b.sin()).sum() + (a ** 3).sum()  # noqa: E731
        return [F.jacobian(f, x), F.jacobian(lambda a, b: a * b.exp(), (x, v)),
                F.hessian(s, (x, v)), F.vjp(f, x, v), F.jvp(f, x, v),
                F.hvp(lambda a: s(a, v), x, v), F.vhp(lambda a: s(a, v), x, v)]

    def flat(r):
        if isinstance(r, (tuple, list)):
            return [y for i in r for y in flat(i)]
        return [r.detach().numpy()]

    for t, e in zip(flat(cases(torch)), flat(cases(ember))):
        np.testing.assert_allclose(e, t, rtol=1e-10, atol=1e-12)


def _stale_view(L, x):
    h = x * 1
    v = h[:2]
    h.mul_(3)
    return v * 1


def _siblings(L, x):
    h = x * 2
    a, b = h[:2], h[1:3]
    a.mul_(3)
    b.exp_()
    return a + h[1:3] * b


def _view_of_view(L, x):
    h = x * 1
    v = h[1:3]
    w = v[:, 0:1]
    w.mul_(5)
    return h + v.sum()


def test_views_modified_after_creation_match():
    for f in (_stale_view, _siblings, _view_of_view):
        compare_grads(f, graph=False)


def _outcome(lib, case):
    """repr of what ``case(lib)`` returns (addresses removed), or its exception."""
    import re
    try:
        result = case(lib)
    except Exception as exc:  # compared by the caller
        return f"{type(exc).__name__}: {exc}"
    return re.sub(r" at 0x[0-9a-f]+", "", repr(result))


def _fn_cases():
    def inc(L):
        class Inc(L.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                x.add_(1)
                ctx.mark_dirty(x)
                return x

            @staticmethod
            def backward(ctx, g):
                return g
        return Inc

    def mixed(L):
        class NoneOut(L.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2, None, 3

            @staticmethod
            def backward(ctx, g, g2, g3):
                return g * 2
        x = L.ones(2, requires_grad=True)
        a, b, c = NoneOut.apply(x)
        a.sum().backward()
        return x.grad, b, c

    def once(L, double):
        class Sq(L.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x * x

            @staticmethod
            @L.autograd.function.once_differentiable
            def backward(ctx, g):
                (x,) = ctx.saved_tensors
                return 2 * x * g
        x = L.ones(2, requires_grad=True)
        (g,) = L.autograd.grad(Sq.apply(x).sum(), x, create_graph=True)
        return L.autograd.grad(g.sum(), x) if double else (g.requires_grad, g.grad_fn)

    def count(L, n_grads):
        class Count(L.autograd.Function):
            @staticmethod
            def forward(ctx, x, y):
                return x + y

            @staticmethod
            def backward(ctx, g):
                return (g,) * n_grads if n_grads != 3 else (g, g, None)
        x, y = L.ones(2, requires_grad=True), L.ones(2, requires_grad=True)
        Count.apply(x, y).sum().backward()
        return x.grad, y.grad

    def dirty_nonleaf(L):
        h = L.ones(2, requires_grad=True) * 1
        y = inc(L).apply(h)
        return y is h, h._version, y.grad_fn.name()

    return [
        lambda L: inc(L).apply(L.ones(2, requires_grad=True)),
        lambda L: (lambda x: (inc(L).apply(x) is x, x.requires_grad))(L.ones(2)),
        dirty_nonleaf, mixed, lambda L: once(L, False), lambda L: once(L, True),
        lambda L: count(L, 1), lambda L: count(L, 2), lambda L: count(L, 3),
        lambda L: count(L, 4),
    ]


@pytest.mark.parametrize("i", range(len(_fn_cases())))
def test_custom_function_semantics_match(i):
    case = _fn_cases()[i]
    assert _outcome(ember, case) == _outcome(torch, case)


def _probe_setitem_into_plain(L):
    x = L.zeros(3)
    w = L.ones(3, requires_grad=True)
    x[0:2] = w[0:2] * 2
    x.sum().backward()
    return type(x.grad_fn).__name__, w.grad, x.requires_grad, x.is_leaf


def _probe_no_grad_leaf(L):
    x = L.ones(2, requires_grad=True)
    with L.no_grad():
        y = x * 2
    return y.is_leaf, y.requires_grad, y.requires_grad_().is_leaf


def _probe_double_backward_inplace(L):
    x = L.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1
    y.mul_(y)
    (g,) = L.autograd.grad(y.sum(), x, create_graph=True)
    return g, L.autograd.grad(g.sum(), x)


PROBES = [
    lambda L: (lambda x: (x.backward(L.ones(2)), x.grad))(L.ones(2, requires_grad=True)),
    lambda L: (lambda x: L.autograd.grad(x, x, L.ones(2) * 3))(L.ones(2, requires_grad=True)),
    _probe_no_grad_leaf,
    lambda L: (lambda y: y.requires_grad_(True) is y)(L.ones(2, requires_grad=True) * 2),
    _probe_double_backward_inplace,
    lambda L: (lambda x: L.autograd.grad([(x * 2).sum(), (x * 3).sum()], [x],
                                         [None, L.tensor(2.0)]))(
        L.tensor([1.0, 2.0], requires_grad=True)),
    lambda L: (lambda y: (y.requires_grad, y.is_leaf, y._version))(
        L.tensor([1.0, 2.0], requires_grad=True).detach()),
    lambda L: (lambda x: (x[0].grad_fn.name(), x[0]._base is x, x[0].is_leaf))(
        L.tensor([1.0, 2.0], requires_grad=True)),
    lambda L: (lambda x: (x.sum().grad_fn.next_functions, (x / 2).grad_fn.next_functions,
                          (2 / x).grad_fn.name(), (2 ** x).grad_fn.name()))(
        L.ones(2, requires_grad=True)),
    lambda L: (lambda x: (x.float() is x, x.double().grad_fn.name(),
                          x.to(L.float32) is x))(L.ones(2, requires_grad=True)),
    _probe_setitem_into_plain,
    lambda L: (lambda a, b: (lambda out: (b.add_(1), out.sum().backward(), a.grad))(a + b))(
        L.ones(2, requires_grad=True), L.ones(2)),
    lambda L: (lambda x: (L.autograd.grad(x * 2, x, L.ones(2), retain_graph=True),
                          L.autograd.grad((x * 2).sum(), x, L.tensor(2.0))))(
        L.ones(2, requires_grad=True)),
    lambda L: (lambda x: L.autograd.grad((x * 2).sum(), x, create_graph=True)[0].grad_fn)(
        L.ones(2, requires_grad=True)),
    lambda L: (lambda x: (x.grad_fn, x.grad, (x * 2).grad_fn.next_functions[0][0].variable
                          is x))(L.ones(3, requires_grad=True)),
]


@pytest.mark.parametrize("i", range(len(PROBES)))
def test_autograd_probes_match(i):
    assert _outcome(ember, PROBES[i]) == _outcome(torch, PROBES[i])
