"""In-place ops inside graphs: gradients, CopySlices, version counters and PyTorch's errors."""
import numpy as np
import pytest

import ember
from ember.autograd import gradcheck


def leaf(*shape):
    return ember.randn(*shape, dtype=ember.float64, requires_grad=True)


def npy(t):
    return t.detach().numpy()


@pytest.mark.parametrize("inplace, outofplace", [
    (lambda h: h.add_(2), lambda h: h + 2),
    (lambda h: h.mul_(h.detach() + 1), lambda h: h * (h.detach() + 1)),
    (lambda h: h.sub_(3, alpha=2), lambda h: h - 6),
    (lambda h: h.div_(4), lambda h: h / 4),
    (lambda h: h.pow_(2), lambda h: h ** 2),
    (lambda h: h.exp_(), lambda h: h.exp()),
    (lambda h: h.tanh_(), lambda h: h.tanh()),
    (lambda h: h.sigmoid_(), lambda h: h.sigmoid()),
    (lambda h: h.relu_(), lambda h: h.relu()),
    (lambda h: h.clamp_(-0.5, 0.5), lambda h: h.clamp(-0.5, 0.5)),
    (lambda h: h.neg_(), lambda h: -h),
    (lambda h: h.zero_(), lambda h: h * 0),
    (lambda h: h.fill_(3.0), lambda h: h * 0 + 3),
    (lambda h: h.copy_(ember.ones(4, dtype=ember.float64)), lambda h: h * 0 + 1),
])
def test_inplace_gradients_match_out_of_place(inplace, outofplace):
    x1 = leaf(4)
    x2 = x1.detach().clone().requires_grad_()
    h1 = x1 * 1.5
    r1 = inplace(h1)
    assert r1 is h1 and h1._version == 1
    (r1 * ember.arange(4, dtype=ember.float64)).sum().backward()
    r2 = outofplace(x2 * 1.5)
    (r2 * ember.arange(4, dtype=ember.float64)).sum().backward()
    np.testing.assert_allclose(npy(r1), npy(r2))
    np.testing.assert_allclose(npy(x1.grad), npy(x2.grad))


def test_inplace_chain_gradcheck():
    def f(x):
        h = x * 1
        h.mul_(x)
        h.add_(x, alpha=2)
        h.sin_() if hasattr(h, "sin_") else None
        return h
    assert gradcheck(f, (leaf(4),))


def test_copy_into_other_tensor_gradient_flows_to_source():
    x = leaf(3)
    buf = ember.zeros(3, dtype=ember.float64)
    buf.copy_(x * 2)
    assert buf.requires_grad and buf.grad_fn is not None
    buf.sum().backward()
    np.testing.assert_allclose(npy(x.grad), np.full(3, 2.0))


def test_rnn_like_index_assignment():
    """out[:, t] = h in a loop, as a simple RNN writes its outputs."""
    steps = 4
    w = leaf(3, 3)
    x0 = leaf(2, 3)

    def run(w, x0):
        out = ember.zeros(2, steps, 3, dtype=ember.float64)
        h = x0
        for t in range(steps):
            h = (h @ w).tanh()
            out[:, t] = h
        return out

    out = run(w, x0)
    assert type(out.grad_fn).__name__ == "CopySlices"
    out.sum().backward()
    w2 = w.detach().clone().requires_grad_()
    x2 = x0.detach().clone().requires_grad_()
    hs = []
    h = x2
    for _ in range(steps):
        h = (h @ w2).tanh()
        hs.append(h)
    ember.stack(hs, 1).sum().backward()
    np.testing.assert_allclose(npy(w.grad), npy(w2.grad))
    np.testing.assert_allclose(npy(x0.grad), npy(x2.grad))
    assert gradcheck(run, (leaf(3, 3), leaf(2, 3)))


def test_inplace_on_view_of_non_leaf_copyslices():
    x = leaf(4, 3)
    h = x * 2
    v = h[1]
    v.mul_(10)
    assert h.grad_fn.name() == "torch::autograd::CopySlices"
    assert v.grad_fn is not None and v._version == h._version == 1
    h.sum().backward()
    expected = np.full((4, 3), 2.0)
    expected[1] = 20.0
    np.testing.assert_allclose(npy(x.grad), expected)

    def f(x):
        h = x * 1
        h[:, 1:].mul_(x[:, :2])
        h.t()[0].exp_()
        return h
    assert gradcheck(f, (leaf(3, 3),))


def test_setitem_gradients_to_value_and_target():
    def f(x, v):
        h = x * 1
        h[1:, ::2] = v
        h[0, 0] = 5.0
        return h
    assert gradcheck(f, (leaf(3, 4), leaf(2, 2)))
    assert gradcheck(lambda x, v: x.clone().index_put_((ember.tensor([0, 2]),), v),
                     (leaf(3, 2), leaf(2)))


def test_view_version_counter_is_shared():
    a = ember.zeros(4)
    v = a[1:3]
    assert a._version == v._version == 0
    v.add_(1)
    assert a._version == v._version == 1
    a.mul_(2)
    assert v._version == 2 and v.tolist() == [2.0, 2.0]


def test_modified_saved_tensor_raises_version_error():
    x = leaf(3)
    y = x.exp()
    z = y * 2  # saves nothing of y for y's grad but ExpBackward saved y
    y.add_(1)
    with pytest.raises(RuntimeError) as err:
        z.sum().backward()
    msg = str(err.value)
    assert msg.startswith("one of the variables needed for gradient computation has been "
                          "modified by an inplace operation: [torch.DoubleTensor [3]], which is "
                          "output 0 of Exp, is at version 1; expected version 0 instead. Hint: "
                          "enable anomaly detection")
    a = leaf(3)
    h = a * 1
    s = h.sin()  # saves its input h
    h.zero_()
    with pytest.raises(RuntimeError, match="is at version 1; expected version 0"):
        s.sum().backward()
    r = (leaf(3) * 1).relu()  # relu's backward reads only the saved output's values
    r.add_(1)
    with pytest.raises(RuntimeError, match="output 0 of Relu, is at version 1; expected "
                                           "version 0"):
        r.sum().backward()


def test_leaf_inplace_errors():
    x = leaf(3)
    with pytest.raises(RuntimeError, match=r"^a leaf Variable that requires grad is being used "
                                           r"in an in-place operation.$"):
        x.add_(1)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        x += 1
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        x[0] = 1.0
    with pytest.raises(RuntimeError, match=r"^a view of a leaf Variable that requires grad is "
                                           r"being used in an in-place operation.$"):
        x[1:].mul_(2)
    assert x._version == 0


def test_optimizer_style_updates_allowed():
    p = leaf(3)
    (p * p).sum().backward()
    before = npy(p).copy()
    p.data.sub_(p.grad.data * 0.1)
    np.testing.assert_allclose(npy(p), before * 0.8)
    with ember.no_grad():
        p -= 0.1 * p.grad
        p[0] = 7.0
    assert p.is_leaf and p.requires_grad and p.grad_fn is None
    np.testing.assert_allclose(npy(p)[1:], (before * 0.8 - 0.1 * 2 * before)[1:])
    assert npy(p)[0] == 7.0
    p.grad.zero_()
    (p * 3).sum().backward()
    np.testing.assert_allclose(npy(p.grad), np.full(3, 3.0))


def test_inplace_on_tensor_not_requiring_grad_with_grad_operand():
    x = leaf(3)
    acc = ember.zeros(3, dtype=ember.float64)
    acc.add_(x * 2)
    acc.mul_(x)
    assert acc.requires_grad
    acc.sum().backward()
    np.testing.assert_allclose(npy(x.grad), 4 * npy(x))


def test_inplace_dtype_rules():
    a = ember.zeros(3, dtype=ember.int64)
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired "
                                           "output type Long"):
        a.add_(1.5)
    f = ember.zeros(3)
    f.add_(ember.ones(3, dtype=ember.int64))
    assert f.dtype == ember.float32 and f.tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(RuntimeError, match="output with shape \\[3\\] doesn't match the "
                                           "broadcast shape \\[2, 3\\]"):
        f.add_(ember.ones(2, 3))


def test_view_taken_before_base_inplace_sees_new_history():
    x = ember.ones(4, dtype=ember.float64, requires_grad=True)
    h = x * 1
    v = h[:2]
    h.mul_(3)  # v's values changed; so must its gradient
    np.testing.assert_allclose(npy(v), [3.0, 3.0])
    v.sum().backward()
    np.testing.assert_allclose(npy(x.grad), [3.0, 3.0, 0.0, 0.0])


def test_overlapping_sibling_views():
    x = ember.ones(4, dtype=ember.float64, requires_grad=True)
    h = x * 2
    a, b = h[:2], h[1:3]
    a.mul_(3)
    b.sum().backward()
    np.testing.assert_allclose(npy(x.grad), [0.0, 6.0, 2.0, 0.0])

    def f(x):
        h = x * 1
        a, b = h[:, :2], h[:, 1:]
        a.mul_(x[:, :2])
        b.exp_()
        return a * 2 + h[:, :2]
    assert gradcheck(f, (leaf(2, 3),))


def test_view_made_under_no_grad_cannot_be_modified_in_grad_mode():
    x = leaf(4)
    with ember.no_grad():
        v = x[:2]
    with pytest.raises(RuntimeError, match="^A view was created in no_grad mode and is being "
                                           "modified inplace with grad mode enabled."):
        v.mul_(2)
    with ember.no_grad():
        v.mul_(2)  # both inside no_grad: allowed
    plain = ember.ones(4)
    with ember.no_grad():
        w = plain[:2]
    w.mul_(2)  # the base does not require grad: allowed
    assert plain.tolist() == [2.0, 2.0, 1.0, 1.0]
