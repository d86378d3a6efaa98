"""Small mismatches with PyTorch, each against real torch: ops without an integer kernel,
einsum's dtype rule, where's and reshape's graph nodes, relu on a quantized tensor, and a
negative gather/scatter index."""
import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")

INT_DTYPES = ["int64", "int32", "int16", "int8", "uint8", "bool"]


def _outcome(lib, fn, *arrays, dtypes):
    """fn's result as (dtype name, values), or its exception as (type name, message)."""
    tensors = [lib.tensor(a).to(getattr(lib, d)) for a, d in zip(arrays, dtypes)]
    try:
        out = fn(lib, *tensors)
    except Exception as exc:  # noqa: BLE001 - the exception is what is compared
        return type(exc).__name__, str(exc)
    return str(out.dtype), out.detach().to(lib.complex128).numpy().tolist()


def _same(fn, *arrays, dtypes):
    expected = _outcome(torch, fn, *arrays, dtypes=dtypes)
    got = _outcome(ember, fn, *arrays, dtypes=dtypes)
    assert got[0] == expected[0]
    if isinstance(expected[1], str):
        assert got[1] == expected[1]
    else:
        np.testing.assert_allclose(got[1], expected[1], rtol=1e-6)


A = np.array([[1, 2, 3], [4, 5, 6]])
B = np.array([[2, 1, 3], [1, 2, 1]])

UNARY = {
    "lerp-scalar": lambda L, x: x.lerp(x, 0.5),
    "lerp-int-weight": lambda L, x: L.lerp(x, x, 1),
    "lerp-tensor": lambda L, x: x.lerp(x, x),
    "lerp_": lambda L, x: x.clone().lerp_(x, 0.5),
    "addcdiv": lambda L, x: L.addcdiv(x, x, x),
    "addcdiv_": lambda L, x: x.clone().addcdiv_(x, x),
    "frac": lambda L, x: L.frac(x),
    "frac-0d": lambda L, x: L.frac(x[0, 0]),
    "frac_": lambda L, x: x.clone().frac_(),
    "hypot": lambda L, x: L.hypot(x, x),
    "hypot_": lambda L, x: x.clone().hypot_(x),
    "logaddexp": lambda L, x: L.logaddexp(x, x),
    "softmax-last": lambda L, x: L.softmax(x, 1),
    "softmax-first": lambda L, x: L.softmax(x, 0),
    "softmax-0d": lambda L, x: L.softmax(x[0, 0], 0),
    "F.softmax": lambda L, x: L.nn.functional.softmax(x, -1),
    "log_softmax-first": lambda L, x: x.log_softmax(0),
    "softmax-dtype": lambda L, x: L.softmax(x, 1, dtype=L.float64),
    "round-decimals": lambda L, x: L.round(x, decimals=1),
    "round-neg-decimals": lambda L, x: x.round(decimals=-1),
    "round_-decimals": lambda L, x: x.clone().round_(decimals=2),
    "round": lambda L, x: L.round(x),
}


@pytest.mark.parametrize("dtype", INT_DTYPES)
@pytest.mark.parametrize("name", list(UNARY))
def test_integer_inputs_match_torch(name, dtype):
    _same(UNARY[name], A, dtypes=[dtype])


MIXED = {
    "hypot(int,float)": lambda L, x, y: L.hypot(x, y),
    "logaddexp(int,float)": lambda L, x, y: L.logaddexp(x, y),
    "addcdiv(int,int,float)": lambda L, x, y: L.addcdiv(y, x, y),
    "addcdiv(int,float,int)": lambda L, x, y: L.addcdiv(y, y, x),
    "lerp(float,int end)": lambda L, x, y: y.lerp(x, 0.5),
    "lerp(int,float end)": lambda L, x, y: x.lerp(y, 0.5),
    "lerp(float,float,int weight)": lambda L, x, y: y.lerp(y, x),
    "lerp(float,float,0-d int weight)": lambda L, x, y: y.lerp(y, x[0, 0]),
    "lerp(float,double end)": lambda L, x, y: y.lerp(y.double(), 0.5),
    "lerp(float,complex end)": lambda L, x, y: y.lerp(y.cfloat(), 0.5),
    "lerp(float,float,double weight)": lambda L, x, y: y.lerp(y, y.double()),
}


@pytest.mark.parametrize("name", list(MIXED))
def test_mixed_dtypes_match_torch(name):
    _same(MIXED[name], A, B * 0.5, dtypes=["int64", "float32"])


EINSUM = ["ij,kj->ik", "ij,ij->ij", "ij,kl->ijkl", "ij,ij->", "ij,ij,ij->", "ij,jk->ik"]
EINSUM_DTYPES = [("complex64", "float32"), ("float32", "complex64"), ("complex64", "float64"),
                 ("complex128", "float32"), ("float32", "float64"), ("int64", "float32"),
                 ("float16", "float32"), ("complex64", "complex128"), ("int64", "int64")]


@pytest.mark.parametrize("dtypes", EINSUM_DTYPES, ids="-".join)
@pytest.mark.parametrize("eq", EINSUM)
def test_einsum_mixed_dtypes_match_torch(eq, dtypes):
    x, y = np.arange(1.0, 7.0).reshape(2, 3), np.arange(2.0, 8.0).reshape(2, 3)
    if eq == "ij,jk->ik":
        y = y.T.copy()

    def fn(L, a, b):
        return L.einsum(eq, a, b, b) if eq.count(",") == 2 else L.einsum(eq, a, b)
    _same(fn, x, y, dtypes=list(dtypes))


def test_einsum_size_one_contraction_promotes():
    """A summed letter of size 1 on one side is squeezed, not contracted: torch multiplies."""
    _same(lambda L, a, b: L.einsum("ij,kj->ik", a, b), np.ones((2, 1)), np.ones((3, 1)),
          dtypes=["complex64", "float32"])


def test_einsum_mixed_gradients_match_torch():
    x = np.arange(6.0).reshape(2, 3) + 1j
    y = np.arange(6.0).reshape(2, 3)
    grads = []
    for L in (torch, ember):
        a = L.tensor(x, dtype=L.complex128, requires_grad=True)
        b = L.tensor(y, dtype=L.float64, requires_grad=True)
        L.einsum("ij,ij->ij", a, b).abs().sum().backward()
        grads.append((a.grad.numpy(), b.grad.numpy(), str(b.grad.dtype)))
    np.testing.assert_allclose(grads[1][0], grads[0][0])
    np.testing.assert_allclose(grads[1][1], grads[0][1])
    assert grads[1][2] == grads[0][2]


def _names(fn):
    return fn.name(), [None if n is None else n.name() for n, _ in fn.next_functions]


@pytest.mark.parametrize("case", [
    lambda L, x: L.where(x > 0, x, 0.5),
    lambda L, x: L.where(x > 0, 0.5, x),
    lambda L, x: L.where(x > 0, x, x.detach()),
    lambda L, x: L.where(x.detach() > 0, x * 2, x),
])
def test_where_graph_has_no_condition_edge(case):
    graphs = []
    for L in (torch, ember):
        x = L.tensor([-1.0, 2.0, 3.0], requires_grad=True)
        graphs.append(_names(case(L, x).grad_fn))
    assert graphs[1] == graphs[0]


def test_reshape_copy_is_unsafe_view_of_clone():
    results = []
    for L in (torch, ember):
        x = L.tensor(np.arange(12.0).reshape(3, 4), requires_grad=True)
        y = x.t().reshape(12)
        y.backward(L.arange(12.0, dtype=L.float64))
        results.append((_names(y.grad_fn), _names(y.grad_fn.next_functions[0][0]),
                        y._base is None, x.grad.numpy().tolist()))
    assert results[1] == results[0]


@pytest.mark.filterwarnings("ignore:torch.quantize_per_tensor")
@pytest.mark.parametrize("inplace", [False, True])
def test_relu_keeps_quantized(inplace):
    outs = []
    for L in (torch, ember):
        q = L.quantize_per_tensor(L.tensor([-1.0, 0.25, 2.0]), 0.05, 10, L.quint8)
        r = L.relu_(q.clone()) if inplace else L.relu(q)
        outs.append((str(r.dtype), r.q_scale(), r.q_zero_point(), r.int_repr().tolist()))
    assert outs[1] == outs[0]


INDEX_OPS = {
    "gather": lambda L, x, i: L.gather(x, 0, i),
    "gather-dim1": lambda L, x, i: L.gather(x, 1, i.t()),
    "scatter": lambda L, x, i: x.scatter(0, i, x),
    "scatter-value": lambda L, x, i: x.scatter(0, i, 1.0),
    "scatter_": lambda L, x, i: x.clone().scatter_(0, i, x),
    "scatter-reduce-add": lambda L, x, i: x.scatter(0, i, x, reduce="add"),
    "scatter_add": lambda L, x, i: x.scatter_add(0, i, x),
    "scatter_add_": lambda L, x, i: x.clone().scatter_add_(0, i, x),
    "scatter_reduce": lambda L, x, i: x.scatter_reduce(0, i, x, "amax"),
}


@pytest.mark.filterwarnings("ignore:The reduce argument")
@pytest.mark.parametrize("index", [[[-1, 0, 1]], [[0, -3, 1]], [[3, 0, -1]], [[0, 2, 1]]],
                         ids=["neg-first", "neg-min", "big-before-neg", "valid"])
@pytest.mark.parametrize("name", list(INDEX_OPS))
def test_negative_index_raises_as_torch(name, index):
    _same(INDEX_OPS[name], np.arange(9.0).reshape(3, 3), np.array(index),
          dtypes=["float32", "int64"])
