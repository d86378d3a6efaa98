"""ember._dynamo as a package: TransformGetItemToIndex (``tensor[index_tensor]`` as advanced
indexing, so that vmapped mask functions index by their 0-d index tensors) against NumPy, and
the mark_* hints."""
import numpy as np
import pytest

import ember
import ember._dynamo as dynamo
from ember._dynamo._trace_wrapped_higher_order_op import TransformGetItemToIndex, mod_index


def test_scalar_and_int_indices_index_like_numpy():
    a = np.arange(12).reshape(3, 4)
    x = ember.tensor(a)
    with TransformGetItemToIndex():
        assert x[ember.tensor(2)].tolist() == a[2].tolist()
        assert x[1, ember.tensor(3)].tolist() == a[1, 3]
        assert x[[0, 2]].tolist() == a[0, 2]  # list entries are separate indices
        assert x[ember.tensor([2, 0])].tolist() == a[[2, 0]].tolist()
        assert x[1:].tolist() == a[1:].tolist()  # slices index as usual
        assert x[None].shape == (1, 3, 4)


def test_result_is_a_copy_and_grad_scatters_back():
    x = ember.arange(6.0).reshape(2, 3).requires_grad_()
    with TransformGetItemToIndex():
        row = x[ember.tensor(1)]
    with ember.no_grad():
        row.detach()[0] = 100.0
    assert x[1, 0].item() == 3.0
    (row * ember.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert x.grad.tolist() == [[0.0, 0.0, 0.0], [1.0, 2.0, 3.0]]
    assert mod_index(x.detach(), [ember.tensor(0), ember.tensor(2)]).item() == 2.0


def test_vmapped_mask_function_matches_numpy():
    padding = ember.tensor([[False, True, True, True], [True, True, True, False]])

    def mask(b, h, q, kv):
        return (kv <= q) & padding[b, kv]

    fn = mask
    for dims in [(None, None, None, 0), (None, None, 0, None), (None, 0, None, None),
                 (0, None, None, None)]:
        fn = ember.vmap(fn, in_dims=dims, out_dims=0)
    with TransformGetItemToIndex():
        got = fn(ember.arange(2), ember.arange(1), ember.arange(4), ember.arange(4))
    q, kv = np.arange(4)[:, None], np.arange(4)[None, :]
    want = (kv <= q)[None, None] & padding.numpy()[:, None, None, :]
    assert got.dtype == ember.bool and np.array_equal(got.numpy(), want)


def test_mark_hints_do_nothing_but_check_their_tensor():
    t = ember.ones(2, 3)
    assert dynamo.mark_dynamic(t, 0, min=1, max=8) is None
    assert dynamo.maybe_mark_dynamic(t, [0, 1]) is None
    assert dynamo.mark_static(t) is None
    assert dynamo.mark_static_address(t, guard=True) is None
    with pytest.raises(TypeError, match="expects a tensor"):
        dynamo.mark_static_address([1.0])
    f = dynamo.allow_in_graph(len)
    assert f is len and dynamo.assume_constant_result(len) is len
