"""ember.nested: nested tensors against NumPy on their components, gradients by gradcheck."""
import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember.autograd import gradcheck

# ember.nested is reached as an attribute, loading on first use rather than at collection:
# defining NestedTensor turns on __torch_function__ dispatch for the whole process.

RNG = np.random.default_rng(0)


def _arrays(lengths=(2, 3, 1), rest=(4,)):
    return [RNG.standard_normal((n,) + rest) for n in lengths]


def _nested(arrays, layout=ember.jagged, **kw):
    return ember.nested.nested_tensor([ember.tensor(a) for a in arrays], layout=layout, **kw)


def _check(nt, expected, atol=1e-6):
    got = [c.detach().numpy() for c in nt.unbind()]
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, atol=atol, rtol=1e-6)


LAYOUTS = [ember.jagged, ember.strided]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_construction_and_metadata(layout):
    arrays = _arrays()
    nt = _nested(arrays, layout)
    assert nt.is_nested and not ember.ones(2).is_nested
    assert nt.layout is layout and nt.dim() == 3 and nt.size(0) == 3 and nt.size(2) == 4
    assert nt.dtype == ember.float64 and nt.numel() == 24
    assert isinstance(nt, ember.Tensor)
    _check(nt, arrays)
    np.testing.assert_allclose(nt[1].numpy(), arrays[1])
    np.testing.assert_allclose(nt[1, :, -1].numpy(), arrays[1][:, -1])
    np.testing.assert_allclose(nt.values().numpy().reshape(-1),
                               np.concatenate(arrays).reshape(-1))


def test_jagged_shape_and_offsets():
    nt = _nested(_arrays())
    j = nt.shape[1]
    assert tuple(nt.shape) == (3, j, 4) and repr(j).startswith("j")
    assert nt.size(1) is j and nt.offsets().tolist() == [0, 2, 5, 6]
    other = _nested(_arrays())
    assert other.shape[1] != j  # a new nested tensor gets a new ragged size
    assert (nt * 2).shape[1] is j
    assert repr(nt).startswith(f"NestedTensor(size=(3, {j!r}, 4), offsets=tensor([0, 2, 5, 6])")


def test_strided_irregular_sizes():
    nt = ember.nested.nested_tensor([ember.ones(2, 5), ember.ones(3, 4)])
    with pytest.raises(RuntimeError, match="irregular"):
        nt.size(1)
    with pytest.raises(RuntimeError, match="sizes"):
        _ = nt.shape
    with pytest.raises(AttributeError):
        nt.offsets()
    assert repr(nt).startswith("nested_tensor([\n  tensor([[1., 1., 1., 1., 1.],")


def test_construction_errors():
    with pytest.raises(RuntimeError, match="same dimension"):
        ember.nested.nested_tensor([ember.ones(2), ember.ones(2, 2)])
    with pytest.raises(RuntimeError, match="one ragged"):
        ember.nested.nested_tensor([ember.ones(2, 3), ember.ones(3, 4)], layout=ember.jagged)
    nt = ember.nested.nested_tensor([ember.ones(2, 3), ember.ones(2, 1)], layout=ember.jagged)
    assert nt._ragged_idx == 2 and nt.offsets().tolist() == [0, 3, 4]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("op,ref", [
    (lambda x: x.relu(), lambda a: np.maximum(a, 0)),
    (lambda x: F.gelu(x), None),
    (lambda x: ember.exp(x) * 2 - 1, lambda a: np.exp(a) * 2 - 1),
    (lambda x: 1 - x, lambda a: 1 - a),
    (lambda x: x / ember.tensor(2.0, dtype=ember.float64), lambda a: a / 2),
    (lambda x: F.softmax(x, -1), lambda a: np.exp(a) / np.exp(a).sum(-1, keepdims=True)),
    (lambda x: F.dropout(x, 0.3, training=False), lambda a: a),
    (lambda x: x.sum(-1, keepdim=True), lambda a: a.sum(-1, keepdims=True)),
    (lambda x: F.linear(x, ember.ones(3, 4, dtype=ember.float64)),
     lambda a: a @ np.ones((4, 3))),
    (lambda x: ember.matmul(x, ember.ones(4, 2, dtype=ember.float64)),
     lambda a: a @ np.ones((4, 2))),
    (lambda x: F.layer_norm(x, (4,)),
     lambda a: (a - a.mean(-1, keepdims=True)) / np.sqrt(a.var(-1, keepdims=True) + 1e-5)),
    (lambda x: x.transpose(1, 2), lambda a: a.T),
    (lambda x: x.reshape(x.size(0), -1, 2, 2), lambda a: a.reshape(-1, 2, 2)),
    (lambda x: x[..., 1:3], lambda a: a[..., 1:3]),
    (lambda x: x.unsqueeze(-1).squeeze(-1).unsqueeze(1), lambda a: a[None]),
    (lambda x: x.narrow(2, 1, 2), lambda a: a[:, 1:3]),
    (lambda x: x.select(2, 1).unsqueeze(-1), lambda a: a[:, 1:2]),
    (lambda x: ember.where(x > 0, x, 0.0), lambda a: np.where(a > 0, a, 0.0)),
    (lambda x: x.amax(-1, keepdim=True), lambda a: a.max(-1, keepdims=True)),
    (lambda x: x.max(-1).indices.unsqueeze(-1), lambda a: a.argmax(-1)[:, None]),
    (lambda x: ember.cat([x, x * 2], -1), lambda a: np.concatenate([a, a * 2], -1)),
    (lambda x: ember.chunk(x, 2, -1)[1], lambda a: a[:, 2:]),
])
def test_ops_per_component(layout, op, ref):
    arrays = _arrays()
    nt = _nested(arrays, layout)
    out = op(nt)
    assert out.is_nested and out.layout is layout
    if ref is None:
        ref_out = [op(ember.tensor(a)).numpy() for a in arrays]
    else:
        ref_out = [ref(a) for a in arrays]
    _check(out, ref_out)


def test_binary_nested_nested():
    x, y = _arrays(), _arrays()
    a = _nested(x)
    b = ember.nested.nested_tensor_from_jagged(ember.tensor(np.concatenate(y)), a.offsets())
    assert b.shape[1] is a.shape[1]
    _check(a * b + a, [p * q + p for p, q in zip(x, y)])
    with pytest.raises(RuntimeError, match="cannot call binary pointwise function"):
        a + _nested(y)


def test_binary_jagged_dense_broadcast():
    x = _arrays()
    a = _nested(x)
    row = RNG.standard_normal(4)
    batch = RNG.standard_normal((3, 1, 4))
    _check(a + ember.tensor(row), [p + row for p in x])
    _check(ember.tensor(batch) * a, [batch[i] * p for i, p in enumerate(x)])
    with pytest.raises(RuntimeError, match="cannot call binary pointwise function"):
        a + ember.ones(3, 2, 4, dtype=ember.float64)
    with pytest.raises(RuntimeError, match="both self and other to be nested"):
        _nested(x, ember.strided) + ember.tensor(row)


def test_bmm_and_matmul_nested():
    x = [RNG.standard_normal((2, n, 3)) for n in (2, 4)]
    y = [RNG.standard_normal((2, 3, m)) for m in (5, 1)]
    a, b = _nested(x, ember.strided), _nested(y, ember.strided)
    _check(ember.matmul(a, b), [p @ q for p, q in zip(x, y)])
    j = _nested([p[0] for p in x])
    dense = RNG.standard_normal((2, 3, 2))
    _check(ember.bmm(j, ember.tensor(dense)), [p[0] @ dense[i] for i, p in enumerate(x)])


def test_reductions():
    x = _arrays()
    a = _nested(x)
    np.testing.assert_allclose(a.sum().item(), sum(p.sum() for p in x))
    _check(a.mean(-1), [p.mean(-1) for p in x])
    np.testing.assert_allclose(a.sum(1).numpy(), np.stack([p.sum(0) for p in x]))
    np.testing.assert_allclose(a.mean(1).numpy(), np.stack([p.mean(0) for p in x]))
    with pytest.raises(RuntimeError, match="ragged and non-batch"):
        a.sum((1, 2))
    with pytest.raises(RuntimeError, match="batch dimension"):
        a.sum(0)


def test_transpose_reshape_rules():
    x = _arrays(rest=(6,))
    a = _nested(x)
    t = a.reshape(3, -1, 2, 3).transpose(1, 2)
    assert tuple(t.shape) == (3, 2, a.shape[1], 3) and not t.is_contiguous()
    _check(t, [p.reshape(-1, 2, 3).transpose(1, 0, 2) for p in x])
    _check(t.transpose(1, 2).reshape(3, -1, 6), x)
    with pytest.raises(ValueError, match="batch dimension"):  # PyTorch's type for jagged
        a.transpose(0, 1)
    with pytest.raises(RuntimeError, match="batch dimension"):
        _nested(x, ember.strided).transpose(0, 1)
    with pytest.raises(RuntimeError, match="cannot view"):
        a.view(3, 5, 6)
    with pytest.raises(RuntimeError, match="batch dimension"):
        F.softmax(a, 0)


def test_to_padded_tensor():
    x = _arrays()
    for layout in LAYOUTS:
        pad = ember.nested.to_padded_tensor(_nested(x, layout), -1.0).numpy()
        expected = np.full((3, 3, 4), -1.0)
        for i, p in enumerate(x):
            expected[i, :len(p)] = p
        np.testing.assert_allclose(pad, expected)
    nt = ember.nested.nested_tensor([ember.ones(2, 5), ember.ones(3, 4)])
    out = nt.to_padded_tensor(0.0, (2, 4, 6))
    assert out.shape == (2, 4, 6) and out.sum().item() == 22
    with pytest.raises(RuntimeError, match="Truncation"):
        nt.to_padded_tensor(0.0, (2, 2, 5))


def test_from_jagged_lengths_narrow_masked_select():
    values = ember.arange(12.0).reshape(6, 2)
    nt = ember.nested.nested_tensor_from_jagged(values, ember.tensor([0, 2, 6]),
                                                lengths=ember.tensor([1, 3]))
    assert not nt.is_contiguous()
    _check(nt, [np.arange(2.0).reshape(1, 2), np.arange(4.0, 10.0).reshape(3, 2)])
    assert ember.nested.nested_tensor_from_jagged(
        values, lengths=ember.tensor([2, 4])).offsets().tolist() == [0, 2, 6]
    dense = ember.arange(12.0).reshape(3, 4)
    n = ember.nested.narrow(dense, 1, ember.tensor([0, 1, 2]), ember.tensor([2, 2, 1]),
                            layout=ember.jagged)
    _check(n, [[0.0, 1.0], [5.0, 6.0], [10.0]])
    assert n.offsets().tolist() == [0, 5, 10, 11]
    mask = ember.tensor([[True, False, True, True], [False] * 4, [True] * 4])
    _check(ember.nested.masked_select(dense, mask), [[0.0, 2.0, 3.0], [], [8, 9, 10, 11]])


def test_unsupported_ops_name_the_op():
    a = _nested(_arrays())
    with pytest.raises(NotImplementedError, match=r"cumsum\(\): not supported for nested"):
        ember.cumsum(a, 2)
    with pytest.raises(NotImplementedError, match="sort"):
        a.sort()


def test_to_detach_requires_grad():
    a = _nested(_arrays())
    assert a.to(ember.float32).dtype == ember.float32
    assert a.double() is a or a.double().dtype == ember.float64
    assert not a.requires_grad
    a.requires_grad_()
    assert a.requires_grad and a.is_leaf and not a.detach().requires_grad
    assert "requires_grad=True" in repr(a)


def test_gradient_to_leaf_nested():
    x = _arrays()
    a = _nested(x, requires_grad=True)
    loss = (F.softmax(a, -1) * ember.tensor(np.arange(4.0))).to_padded_tensor(0.0).sum()
    loss.backward()
    assert a.grad.is_nested
    for g, p in zip(a.grad.unbind(), x):
        s = np.exp(p) / np.exp(p).sum(-1, keepdims=True)
        w = np.arange(4.0)
        np.testing.assert_allclose(g.numpy(), s * (w - (s * w).sum(-1, keepdims=True)),
                                   atol=1e-10)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_gradcheck_through_components(layout):
    comps = [ember.tensor(a, requires_grad=True) for a in _arrays((2, 1, 3), (3,))]
    w = ember.tensor(RNG.standard_normal((2, 3)), requires_grad=True)

    def fn(*args):
        nt = ember.nested.as_nested_tensor(list(args[:3]), layout=layout)
        out = F.layer_norm(F.linear(nt, args[3]).relu() * 2 + 1, (2,))
        return out.to_padded_tensor(0.0)

    assert gradcheck(fn, (*comps, w))


def test_gradcheck_sdpa_from_jagged():
    values = ember.tensor(RNG.standard_normal((7, 2, 3)), requires_grad=True)
    offsets = ember.tensor([0, 3, 7])

    def fn(v):
        nt = ember.nested.nested_tensor_from_jagged(v, offsets).transpose(1, 2)
        out = F.scaled_dot_product_attention(nt, nt * 0.5, nt)
        return out.transpose(1, 2).values()

    assert gradcheck(fn, (values,))


def test_sdpa_matches_per_sequence():
    x = [RNG.standard_normal((n, 2, 4)) for n in (3, 5)]
    q = _nested(x).transpose(1, 2)
    out = F.scaled_dot_product_attention(q, q, q)
    assert out.shape[2] is q.shape[2]
    for o, p in zip(out.unbind(), x):
        h = p.transpose(1, 0, 2)
        s = h @ h.transpose(0, 2, 1) / 2.0
        s = np.exp(s - s.max(-1, keepdims=True))
        np.testing.assert_allclose(o.numpy(), s / s.sum(-1, keepdims=True) @ h, atol=1e-10)


def test_multi_head_attention_forward_nested():
    ember.manual_seed(0)
    mha = ember.nn.MultiheadAttention(8, 2, batch_first=True, dtype=ember.float64).eval()
    x = [RNG.standard_normal((n, 8)) for n in (3, 5)]
    nt = _nested(x, ember.strided)
    out, weights = F.multi_head_attention_forward(
        nt, nt, nt, 8, 2, mha.in_proj_weight, mha.in_proj_bias, None, None, False, 0.0,
        mha.out_proj.weight, mha.out_proj.bias, training=False, need_weights=False)
    assert weights is None
    for o, p in zip(out.unbind(), x):
        ref, _ = mha(ember.tensor(p)[None], ember.tensor(p)[None], ember.tensor(p)[None],
                     need_weights=False)
        np.testing.assert_allclose(o.detach().numpy(), ref[0].detach().numpy(), atol=1e-10)


def test_embedding_of_nested_ids():
    weight = ember.tensor(RNG.standard_normal((5, 3)), requires_grad=True)
    ids = ember.nested.nested_tensor([ember.tensor([1, 2]), ember.tensor([3, 4, 0])],
                                     layout=ember.jagged)
    out = F.embedding(ids, weight)
    assert out.shape[1] is ids.shape[1]
    _check(out, [weight.detach().numpy()[[1, 2]], weight.detach().numpy()[[3, 4, 0]]])
    out.values().sum().backward()
    np.testing.assert_allclose(weight.grad.numpy(), np.ones((5, 3)))
