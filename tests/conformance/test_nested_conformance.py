"""ember.nested against torch.nested: values, shapes, printing, errors and gradients."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import ember  # noqa: E402
import ember.nn.functional as EF  # noqa: E402

# ember.nested is reached as an attribute, loading on first use rather than at collection:
# defining NestedTensor turns on __torch_function__ dispatch for the whole process.

TF = torch.nn.functional
RNG = np.random.default_rng(1)
ARRAYS = [RNG.standard_normal((n, 2, 4)) for n in (3, 1, 5)]
LAYOUTS = ["jagged", "strided"]


def _pair(arrays=ARRAYS, layout="jagged", requires_grad=False):
    """The same nested tensor in ember and in torch, with the components they were made from
    (gradients flow to them)."""
    e_src = [ember.tensor(a, requires_grad=requires_grad) for a in arrays]
    t_src = [torch.tensor(a, requires_grad=requires_grad) for a in arrays]
    e = ember.nested.as_nested_tensor(e_src, layout=getattr(ember, layout))
    t = torch.nested.as_nested_tensor(t_src, layout=getattr(torch, layout))
    return e, t, e_src, t_src


def _same(e, t, atol=1e-10):
    if t.is_nested:
        assert e.is_nested
        e_comps, t_comps = e.unbind(), t.unbind()
        assert len(e_comps) == len(t_comps)
        for a, b in zip(e_comps, t_comps):
            np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), atol=atol)
    else:
        assert not e.is_nested
        np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), atol=atol)


OPS = {
    "relu": (lambda m, F, x: F.relu(x)),
    "gelu": (lambda m, F, x: F.gelu(x)),
    "tanh_mul_sub": (lambda m, F, x: m.tanh(x) * 3 - x),
    "rsub": (lambda m, F, x: 2 - x),
    "softmax": (lambda m, F, x: F.softmax(x, -1)),
    "log_softmax_dim2": (lambda m, F, x: F.log_softmax(x, 2)),
    "linear": (lambda m, F, x: F.linear(x, m.ones(3, 4, dtype=m.float64) / 4,
                                        m.arange(3, dtype=m.float64))),
    "layer_norm": (lambda m, F, x: F.layer_norm(x, (4,), m.ones(4, dtype=m.float64) * 2,
                                                m.zeros(4, dtype=m.float64))),
    "matmul_dense": (lambda m, F, x: m.matmul(x, m.ones(4, 2, dtype=m.float64))),
    "transpose_last": (lambda m, F, x: x.transpose(2, 3)),
    "reshape": (lambda m, F, x: x.reshape(x.size(0), -1, 8)),
    "dropout_eval": (lambda m, F, x: F.dropout(x, 0.5, training=False)),
    "mul_nested": (lambda m, F, x: x * x + x),
    "unsqueeze": (lambda m, F, x: x.unsqueeze(-1) * 2),
    "select": (lambda m, F, x: x.select(2, 1)),
    "narrow": (lambda m, F, x: x.narrow(3, 1, 2) * 1),
    "ellipsis_index": (lambda m, F, x: x[..., 1:3] + 0),
    "where": (lambda m, F, x: m.where(x > 0, x, x * 0.5)),
    "amax": (lambda m, F, x: x.amax(-1)),
    "cat": (lambda m, F, x: m.cat([x, x.exp()], dim=-1)),
    "chunk": (lambda m, F, x: x.chunk(2, dim=-1)[1] * 1),
}


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("name", sorted(OPS))
def test_op_values_and_gradients(layout, name):
    """Each component's values and gradients are those of the op on that component as a
    dense batch of one in torch; where torch.nested has the op, its result too."""
    op = OPS[name]
    e, t, e_src, t_src = _pair(layout=layout, requires_grad=True)
    e_out = op(ember, EF, e)
    try:
        _same(e_out, op(torch, TF, t))
    except (NotImplementedError, RuntimeError):
        pass  # torch.nested lacks the op for this layout; the dense oracle below decides
    t_outs = [op(torch, TF, c.unsqueeze(0))[0] for c in t_src]
    for a, b in zip(e_out.unbind(), t_outs):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), atol=1e-10)
    weights = [RNG.standard_normal(tuple(b.shape)) for b in t_outs]
    e_loss = sum((a * ember.tensor(w)).sum() for a, w in zip(e_out.unbind(), weights))
    e_loss.backward()
    sum((b * torch.tensor(w)).sum() for b, w in zip(t_outs, weights)).backward()
    for a, b in zip(e_src, t_src):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), atol=1e-10)


def test_jagged_sdpa_like_the_transformer_tutorial():
    """The "Accelerating PyTorch Transformers with Nested Tensors" pattern: projections on
    (B, j, E), heads split and transposed to (B, H, j, Eh), SDPA, merged back."""
    arrays = [RNG.standard_normal((n, 8)) for n in (4, 2, 6)]
    w = RNG.standard_normal((24, 8)) / 3

    def attend(m, F, x, weight):
        q, k, v = (F.linear(x, weight[i:i + 8]) for i in (0, 8, 16))
        q, k, v = (y.unflatten(-1, (2, 4)).transpose(1, 2) for y in (q, k, v))
        out = F.scaled_dot_product_attention(q, k, v, dropout_p=0.0)
        return out.transpose(1, 2).flatten(-2)

    e, t, e_src, t_src = _pair(arrays, requires_grad=True)
    ew, tw = ember.tensor(w, requires_grad=True), torch.tensor(w, requires_grad=True)
    e_out, t_out = attend(ember, EF, e, ew), attend(torch, TF, t, tw)
    _same(e_out, t_out)
    assert tuple(map(repr, e_out.shape)) == ("3", repr(e.shape[1]), "8")
    e_out.values().sum().backward()
    t_out.values().sum().backward()
    np.testing.assert_allclose(ew.grad.numpy(), tw.grad.numpy(), atol=1e-10)
    for a, b in zip(e_src, t_src):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), atol=1e-10)


@pytest.mark.parametrize("dims,keepdim", [(-1, False), (-1, True), (2, False), (1, False),
                                          ((0, 1), False), (None, False)])
def test_jagged_reductions(dims, keepdim):
    e, t, _, _ = _pair()
    for name in ("sum", "mean"):
        if dims is None:
            _same(getattr(e, name)(), getattr(t, name)())
        else:
            _same(getattr(e, name)(dims, keepdim), getattr(t, name)(dims, keepdim))


def test_dense_broadcast_matches_torch():
    e, t, _, _ = _pair()
    dense = RNG.standard_normal((3, 1, 1, 4))
    _same(e + ember.tensor(dense), t + torch.tensor(dense))
    _same(ember.tensor(dense[0, 0]) * e, torch.tensor(dense[0, 0]) * t)


def test_shapes_and_printing():
    a, b = np.arange(12.0).reshape(2, 6), np.arange(18.0).reshape(3, 6)
    for kw in ({}, {"requires_grad": True}):
        e = ember.nested.nested_tensor([ember.tensor(a), ember.tensor(b)], **kw)
        t = torch.nested.nested_tensor([torch.tensor(a), torch.tensor(b)], **kw)
        assert repr(e) == repr(t)
        assert repr(e * 2) == repr(t * 2)
    e = ember.nested.nested_tensor([ember.tensor(a), ember.tensor(b)])
    t = torch.nested.nested_tensor([torch.tensor(a), torch.tensor(b)])
    assert repr(e.reshape(2, -1, 2, 3).transpose(1, 2)) == repr(
        t.reshape(2, -1, 2, 3).transpose(1, 2))
    e = ember.nested.nested_tensor([ember.tensor(a), ember.tensor(b)], layout=ember.jagged)
    t = torch.nested.nested_tensor([torch.tensor(a), torch.tensor(b)], layout=torch.jagged)
    j_e, j_t = e.shape[1], t.shape[1]
    assert repr(e).replace(repr(j_e), "J") == repr(t).replace(str(j_t), "J")
    e2 = e.transpose(1, 2)
    t2 = t.transpose(1, 2)
    assert repr(e2).replace(repr(j_e), "J") == repr(t2).replace(str(j_t), "J")
    assert e.dim() == t.dim() and e.size(0) == t.size(0) and e.size(2) == t.size(2)
    assert e2.values().shape == tuple(t2.values().shape)
    assert e.offsets().tolist() == t.offsets().tolist()


def test_errors_match_torch():
    a, b = np.ones((2, 5)), np.ones((3, 4))
    e = ember.nested.nested_tensor([ember.tensor(a), ember.tensor(b)])
    t = torch.nested.nested_tensor([torch.tensor(a), torch.tensor(b)])
    for f in (lambda x: x.size(1), lambda x: x.size(2), lambda x: x.shape):
        with pytest.raises(RuntimeError) as te:
            f(t)
        with pytest.raises(RuntimeError) as ee:
            f(e)
        assert str(ee.value) == str(te.value)
    ej, tj, _, _ = _pair()
    other_e, other_t, _, _ = _pair()
    for f in (lambda x, y: x + y, lambda x, y: x.transpose(0, 1), lambda x, y: x.sum(0),
              lambda x, y: x.sum((1, 2))):
        with pytest.raises((RuntimeError, ValueError)):
            f(tj, other_t)
        with pytest.raises((RuntimeError, ValueError)):
            f(ej, other_e)
    # a jagged nested tensor is cut to a smaller output_size; a strided one raises
    _same(ember.nested.to_padded_tensor(ej, 0.0, (3, 2, 2, 4)),
          torch.nested.to_padded_tensor(tj, 0.0, (3, 2, 2, 4)))
    with pytest.raises(RuntimeError, match="Truncation"):
        torch.nested.to_padded_tensor(t, 0.0, (2, 2, 2))
    with pytest.raises(RuntimeError, match="Truncation"):
        ember.nested.to_padded_tensor(e, 0.0, (2, 2, 2))
    with pytest.raises(NotImplementedError):
        torch.cumsum(tj, 2)
    with pytest.raises(NotImplementedError, match="cumsum"):
        ember.cumsum(ej, 2)


def test_constructors_match_torch():
    dense = np.arange(12.0).reshape(3, 4)
    start, length = [0, 1, 2], [2, 2, 1]
    e = ember.nested.narrow(ember.tensor(dense), 1, ember.tensor(start), ember.tensor(length),
                            layout=ember.jagged)
    t = torch.nested.narrow(torch.tensor(dense), 1, torch.tensor(start), torch.tensor(length),
                            layout=torch.jagged)
    _same(e, t)
    assert e.offsets().tolist() == t.offsets().tolist() and not e.is_contiguous()
    mask = dense % 3 != 0
    _same(ember.nested.masked_select(ember.tensor(dense), ember.tensor(mask)),
          torch.nested.masked_select(torch.tensor(dense), torch.tensor(mask)))
    values, offsets = RNG.standard_normal((6, 3)), [0, 2, 6]
    _same(ember.nested.nested_tensor_from_jagged(ember.tensor(values), ember.tensor(offsets)),
          torch.nested.nested_tensor_from_jagged(torch.tensor(values), torch.tensor(offsets)))
    ragged_last = [np.ones((2, 3)), np.ones((2, 1))]
    e = ember.nested.nested_tensor([ember.tensor(x) for x in ragged_last], layout=ember.jagged)
    t = torch.nested.nested_tensor([torch.tensor(x) for x in ragged_last], layout=torch.jagged)
    assert e._ragged_idx == t._ragged_idx and e.offsets().tolist() == t.offsets().tolist()
    padded_e = ember.nested.to_padded_tensor(e, -1.0)
    padded_t = torch.nested.to_padded_tensor(t, -1.0)
    np.testing.assert_allclose(padded_e.numpy(), padded_t.numpy())
