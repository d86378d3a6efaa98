"""Session 11 API gaps against real PyTorch: jit's ``code``/``graph``/``save`` round trip,
``compiler.is_compiling`` inside ``compile``d code and ``OptimizedModule``, loss nodes'
``next_functions``, products of two sparse matrices and sparse leaves' gradients."""
import functools
import warnings

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")

LIBS = (ember, torch)


def _np(t):
    return t.detach().cpu().numpy() if not getattr(t, "is_sparse", False) else \
        t.detach().to_dense().numpy()


# --- jit ---------------------------------------------------------------------------------------

class EmberScale(ember.nn.Module):
    def forward(self, x):
        return x * 2


class TorchScale(torch.nn.Module):
    def forward(self, x):
        return x * 2


def _cell(lib):
    """The TorchScript tutorial's cell, at module level (so ember can pickle it)."""
    return (EmberCell if lib is ember else TorchCell)()


class EmberCell(ember.nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = EmberScale()
        self.linear = ember.nn.Linear(4, 4)

    def forward(self, x, h):
        new_h = ember.tanh(self.inner(self.linear(x)) + h)
        return new_h, new_h


class TorchCell(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = TorchScale()
        self.linear = torch.nn.Linear(4, 4)

    def forward(self, x, h):
        new_h = torch.tanh(self.inner(self.linear(x)) + h)
        return new_h, new_h


@pytest.mark.parametrize("how", ["script", "trace"])
def test_jit_modules_show_code_and_graphs_and_round_trip(how, tmp_path):
    for lib in LIBS:
        lib.manual_seed(0)
        cell = _cell(lib)
        x, h = lib.rand(3, 4), lib.rand(3, 4)
        jitted = lib.jit.script(cell) if how == "script" else lib.jit.trace(cell, (x, h))
        assert isinstance(jitted, lib.jit.ScriptModule)
        assert jitted.original_name == type(cell).__name__
        assert isinstance(jitted.code, str) and jitted.code.startswith("def forward(self,")
        assert isinstance(jitted.inner.code, str)
        assert jitted.inner.original_name == ("EmberScale" if lib is ember else "TorchScale")
        for graph in (jitted.graph, jitted.inlined_graph):
            assert str(graph).startswith("graph(")
        path = str(tmp_path / f"{lib.__name__}.pt")
        jitted.save(path)
        loaded = lib.jit.load(path)
        assert isinstance(loaded, lib.jit.ScriptModule) and loaded.code == jitted.code
        np.testing.assert_allclose(_np(loaded(x, h)[0]), _np(cell(x, h)[0]), rtol=1e-6)


def test_jit_functions_are_script_functions():
    def f(x, y):
        return x * y + 1

    for lib in LIBS:
        for sf in (lib.jit.script(f), lib.jit.trace(f, (lib.ones(2), lib.ones(2)))):
            assert type(sf).__name__ == "ScriptFunction" and sf.name == "f"
            assert sf.code.startswith("def f(x")
            assert str(sf.graph).startswith("graph(")
            assert sf(lib.full((2,), 3.0), lib.ones(2)).tolist() == [4.0, 4.0]


# --- compiler ----------------------------------------------------------------------------------

def _compile(lib, model):
    # torch's eager backend: TorchDynamo traces, nothing is code-generated
    return lib.compile(model, backend="eager") if lib is torch else lib.compile(model)


def _compiling_probe(lib):
    """Whether a compiled function, and a disabled function it calls, see compilation."""
    def probe():
        return lib.compiler.is_compiling(), lib._dynamo.is_compiling()

    def f(x):
        return x + 1, probe()

    eager = lib.compiler.disable(lambda: lib.compiler.is_compiling())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out, inside = _compile(lib, f)(lib.ones(2))
        in_disabled = _compile(lib, lambda: eager())()
    return inside, out.tolist(), probe(), f(lib.ones(2))[1], in_disabled


def test_is_compiling_inside_compiled_code_only():
    mine, theirs = (_compiling_probe(lib) for lib in LIBS)
    assert mine == theirs == ((True, True), [2.0, 2.0], (False, False), (False, False), False)


def _optimized_module(lib):
    lib.manual_seed(0)
    seen = []

    class Net(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = lib.nn.Linear(3, 2)

        def forward(self, x):
            seen.append(lib.compiler.is_compiling())
            return self.lin(x)

    net = Net()
    opt = _compile(lib, net)
    out = opt(lib.ones(1, 3))
    opt.extra = 1
    net.eval()
    return (type(opt).__name__, opt._orig_mod is net, list(opt.state_dict()), seen,
            opt.lin is net.lin, net.extra, opt.training, repr(opt).splitlines()[:2],
            _np(out).shape)


def test_compiled_module_is_an_optimized_module():
    mine, theirs = (_optimized_module(lib) for lib in LIBS)
    assert mine == theirs


# --- loss nodes --------------------------------------------------------------------------------

def _loss_cases(lib):
    F = lib.nn.functional
    rng = np.random.default_rng(0)
    x = lib.tensor(rng.standard_normal((4, 5)), requires_grad=True)
    y = lib.tensor(rng.random((4, 5)) * 0.8 + 0.1)
    w = lib.tensor(rng.random(5) + 0.5)
    t = lib.tensor([0, 1, 2, 3])
    t2 = lib.tensor([[0, 1], [4, 3]])
    return {
        "nll": lambda: F.nll_loss(x, t),
        "nll weight": lambda: F.nll_loss(x, t, weight=w),
        "nll none": lambda: F.nll_loss(x, t, reduction="none"),
        "nll 2d": lambda: F.nll_loss(x.reshape(1, 5, 2, 2), t2.reshape(1, 2, 2), weight=w),
        "nll 3d": lambda: F.nll_loss(x.reshape(2, 5, 2), t2, weight=w),
        "nll 3d none": lambda: F.nll_loss(x.reshape(2, 5, 2), t2, reduction="none"),
        "nll 5d none": lambda: F.nll_loss(x.reshape(1, 5, 2, 2, 1), t2.reshape(1, 2, 2, 1),
                                          reduction="none"),
        "mse": lambda: F.mse_loss(x, y),
        "l1": lambda: F.l1_loss(x, y),
        "bce": lambda: F.binary_cross_entropy(x.sigmoid(), y),
        "bce weight": lambda: F.binary_cross_entropy(x.sigmoid(), y, weight=y),
        "bce target grad": lambda: F.binary_cross_entropy(x.sigmoid(), x.sigmoid().detach()
                                                          .requires_grad_()),
        "bce logits": lambda: F.binary_cross_entropy_with_logits(x, y),
        "bce logits weights": lambda: F.binary_cross_entropy_with_logits(x, y, weight=w,
                                                                         pos_weight=w),
        "kl": lambda: F.kl_div(x, y, reduction="batchmean"),
        "poisson": lambda: F.poisson_nll_loss(x, y),
        "gaussian": lambda: F.gaussian_nll_loss(x, y, lib.ones(4, 5)),
        "cosine": lambda: F.cosine_embedding_loss(x, y, lib.ones(4)),
        "ctc": lambda: F.ctc_loss(x.log_softmax(1).reshape(4, 1, 5), lib.tensor([[1, 2]]),
                                  lib.tensor([4]), lib.tensor([2])),
    }
# Known differences, kept out: cross_entropy with class indices is one fused node in ember
# (PyTorch's NllLossBackward0 follows a LogSoftmaxBackward0); smooth_l1, huber, soft_margin,
# multi_margin and multilabel_margin are composed in ember (one named node in PyTorch); clamp_min
# is ClampBackward1 in ember (ClampMinBackward0); PyTorch's internal scalar ops are MulBackward1
# and DivBackward1 (ember's Python-level ``x * 2.0`` is MulBackward0, as PyTorch's is).


def _structure(fn, depth=2):
    if fn is None:
        return None
    if depth == 0:
        return fn.name()
    return fn.name(), [(_structure(n, depth - 1), i) for n, i in fn.next_functions]


@pytest.mark.parametrize("name", list(_loss_cases(ember)))
def test_loss_nodes_match_torch(name):
    mine, theirs = (_structure(_loss_cases(lib)[name]().grad_fn) for lib in LIBS)
    assert mine == theirs


@pytest.mark.parametrize("call", [
    lambda lib, w: lib.nn.functional.nll_loss(lib.zeros(2, 5), lib.tensor([0, 1]), weight=w),
    lambda lib, w: lib.nn.functional.cross_entropy(lib.zeros(2, 5, 3), lib.zeros(2, 3).long(),
                                                   weight=w),
    lambda lib, w: lib.nn.functional.cross_entropy(lib.zeros(2, 5), lib.tensor([0, 1]),
                                                   weight=w, label_smoothing=0.1),
    lambda lib, w: lib.nn.functional.binary_cross_entropy(lib.full((5,), 0.5),
                                                          lib.full((5,), 0.5), weight=w),
    lambda lib, w: lib.nn.functional.binary_cross_entropy_with_logits(lib.zeros(5),
                                                                      lib.zeros(5), weight=w),
    lambda lib, w: lib.nn.functional.binary_cross_entropy_with_logits(lib.zeros(5),
                                                                      lib.zeros(5), pos_weight=w),
])
def test_weight_requiring_grad_is_refused_like_torch(call):
    messages = []
    for lib in LIBS:
        w = lib.ones(5, requires_grad=True)
        with pytest.raises(RuntimeError) as info:
            call(lib, w)
        messages.append(str(info.value))
        with lib.no_grad():
            call(lib, w)
    assert messages[0] == messages[1]


# --- sparse products ---------------------------------------------------------------------------

IDX_A = [[0, 0, 1, 2, 3], [0, 2, 1, 0, 3]]
VAL_A = [1.0, 2.0, 0.0, 4.0, -1.0]  # an explicit zero
IDX_B = [[0, 1, 2, 2, 3], [1, 2, 0, 3, 3]]
VAL_B = [3.0, -2.0, 1.0, 5.0, 2.0]


def _pair(lib, layouts=("coo", "coo"), requires_grad=False):
    out = []
    for idx, val, layout in ((IDX_A, VAL_A, layouts[0]), (IDX_B, VAL_B, layouts[1])):
        t = lib.sparse_coo_tensor(lib.tensor(idx), lib.tensor(val, dtype=lib.float64), (4, 4))
        t = t if layout == "coo" else getattr(t, f"to_sparse_{layout}")()
        out.append(t.requires_grad_(requires_grad))
    return out


def _described(t, pattern=True, coalesced=True):
    """Layout, then stored entries in (row, column) order (PyTorch's sparse products leave a
    row's columns unsorted) or the dense values."""
    if t.layout == ember.strided or t.layout == torch.strided:
        return "strided", _np(t).tolist()
    name = str(t.layout).split(".")[-1]
    if not pattern:
        return name, _np(t.to_dense()).tolist()
    if name == "sparse_coo":
        t = t.detach().coalesce() if not coalesced else t.detach()
        head = (name, t.is_coalesced()) if coalesced else (name,)
        return head + (t.indices().tolist(), t.values().tolist())
    if name == "sparse_csr":
        compressed, plain = t.crow_indices().numpy(), t.col_indices().numpy()
    else:
        compressed, plain = t.ccol_indices().numpy(), t.row_indices().numpy()
    outer = np.repeat(np.arange(len(compressed) - 1), np.diff(compressed))
    rows, cols = (outer, plain) if name == "sparse_csr" else (plain, outer)
    order = np.lexsort((cols, rows))
    return (name, rows[order].tolist(), cols[order].tolist(),
            t.values().detach().numpy()[order].tolist())


PRODUCTS = {
    "sparse.mm": lambda lib, a, b: lib.sparse.mm(a, b),
    "operator": lambda lib, a, b: a @ b,
    "Tensor.matmul": lambda lib, a, b: a.matmul(b),
    "Tensor.mm": lambda lib, a, b: a.mm(b),
}


def _outcome(fn):
    """What a call gives: its result described, or its error's type and message."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's beta-state warnings for CSR
        try:
            return _described(fn())
        except RuntimeError as exc:
            return type(exc).__name__, str(exc)


@pytest.mark.parametrize("layouts", [("coo", "coo"), ("csr", "csr"), ("csc", "csc"),
                                     ("csr", "csc"), ("csc", "csr")])
@pytest.mark.parametrize("product", PRODUCTS.values(), ids=PRODUCTS.keys())
def test_sparse_times_sparse_matches_torch(product, layouts):
    if product is PRODUCTS["sparse.mm"] and layouts == ("csc", "csc"):
        pytest.skip("torch 2.13's sparse.mm(CSC, CSC) stores no row_indices for its entries")
    mine, theirs = (_outcome(functools.partial(product, lib, *_pair(lib, layouts)))
                    for lib in LIBS)
    assert mine == theirs


@pytest.mark.parametrize("layouts", [("coo", "csr"), ("csr", "coo")])
def test_mixed_layouts_raise_like_torch(layouts):
    messages = []
    for lib in LIBS:
        with pytest.raises(RuntimeError) as info:
            lib.sparse.mm(*_pair(lib, layouts))
        messages.append(str(info.value))
    assert messages[0] == messages[1]


@pytest.mark.parametrize("layout", ["coo", "csr"])
@pytest.mark.parametrize("product", PRODUCTS.values(), ids=PRODUCTS.keys())
def test_sparse_leaf_gradients_match_torch(product, layout):
    if product is PRODUCTS["sparse.mm"] and layout == "csr":
        pytest.skip("torch has no backward for sparse.mm of two CSR matrices (ember keeps "
                    "the gradients to the operands' entries, as for COO)")
    results = []
    for lib in LIBS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            a, b = _pair(lib, (layout, layout), requires_grad=True)
            out = product(lib, a, b)
            out.to_dense().mul(lib.arange(16.0, dtype=lib.float64).reshape(4, 4)).sum() \
                .backward()
            # torch.sparse.mm's gradients hold PyTorch's explicit zeros off the operand's
            # entries where ember's stores only those entries: compared by value there
            pattern = product is not PRODUCTS["sparse.mm"]
            results.append((out.grad_fn.name(), len(out.grad_fn.next_functions),
                            _described(a.grad, pattern, coalesced=False),
                            _described(b.grad, pattern, coalesced=False)))
    assert results[0] == results[1]


@pytest.mark.parametrize("product", [
    lambda lib, s, d: lib.sparse.mm(s, d), lambda lib, s, d: s @ d,
    lambda lib, s, d: lib.mm(s, d), lambda lib, s, d: lib.matmul(s, d),
    lambda lib, s, d: s.mm(d)])
@pytest.mark.parametrize("layout", ["coo", "csr"])
def test_sparse_dense_leaf_gradients_match_torch(product, layout):
    results = []
    for lib in LIBS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            s = _pair(lib, (layout, layout))[0].requires_grad_()
            d = lib.tensor(np.linspace(-1, 1, 12).reshape(4, 3), requires_grad=True)
            out = product(lib, s, d)
            out.sum().backward()
            results.append((str(out.layout), out.grad_fn.name(),
                            _described(s.grad, coalesced=False),
                            _np(d.grad).tolist(), _np(out).tolist()))
    assert results[0] == results[1]


def test_coo_transpose_and_its_product_match_torch():
    results = []
    for lib in LIBS:
        a = _pair(lib, requires_grad=True)[0]
        t = a.t()
        out = a @ t
        out.to_dense().sum().backward()
        results.append((str(t.layout), t.is_coalesced(), t.grad_fn.name(), _described(out),
                        _described(a.grad, coalesced=False)))
    assert results[0] == results[1]
