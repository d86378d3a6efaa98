"""Every example of the seed introduction's Tensors, Tensor Operations and Autograd sections
(/work/shared/seeds/000_acf8cbee75db59dc.txt), run through ``import ember as torch``."""
import numpy as np
import pytest

import ember as torch
from ember.autograd import Variable


def test_tensors_section():
    x = torch.Tensor(4, 3)
    assert x.size() == (4, 3) and x.dtype == torch.float32
    assert repr(x.size()) == "torch.Size([4, 3])"
    assert str(x).startswith("tensor([[")
    x = torch.rand(4, 3)
    assert x.size() == torch.Size([4, 3])
    data = x.numpy()
    assert ((data >= 0) & (data < 1)).all()


def test_tensor_operations_addition():
    x = torch.rand(4, 3)
    y = torch.rand(4, 3)
    expected = x.numpy() + y.numpy()
    np.testing.assert_allclose((x + y).numpy(), expected)
    np.testing.assert_allclose(torch.add(x, y).numpy(), expected)
    result = torch.Tensor(5, 3)
    with pytest.warns(UserWarning, match=r"An output with one or more elements was resized "
                                         r"since it had shape \[5, 3\]"):
        returned = torch.add(x, y, out=result)
    assert returned is result
    assert result.size() == (4, 3)  # resized to the result's shape
    np.testing.assert_allclose(result.numpy(), expected)
    y.add_(x)
    np.testing.assert_allclose(y.numpy(), expected)


def test_indexing_and_view():
    x = torch.rand(4, 3)
    col = x[:, 1]
    np.testing.assert_array_equal(col.numpy(), x.numpy()[:, 1])
    assert col.size() == (4,)
    x = torch.randn(4, 4)
    y = x.view(16)
    z = x.view(-1, 8)
    assert (x.size(), y.size(), z.size()) == ((4, 4), (16,), (2, 8))
    assert str((x.size(), y.size(), z.size())) == (
        "(torch.Size([4, 4]), torch.Size([16]), torch.Size([2, 8]))")
    y[0] = 42.0  # views share storage
    assert x[0, 0].item() == 42.0 and z[0, 0].item() == 42.0


def test_listed_operations():
    x = torch.randn(3, 4)
    assert torch.numel(x) == 12
    np.testing.assert_array_equal(torch.eye(3).numpy(), np.eye(3, dtype=np.float32))
    np.testing.assert_allclose(torch.linspace(0, 1, 5).numpy(), [0, 0.25, 0.5, 0.75, 1])
    assert torch.ones(2, 3).sum().item() == 6 and torch.zeros(2).sum().item() == 0
    assert torch.cat([x, x]).size() == (6, 4) and torch.cat([x, x], 1).size() == (3, 8)
    chunks = torch.chunk(x, 2, dim=1)
    assert len(chunks) == 2 and chunks[0].size() == (3, 2)


def test_from_numpy_shares_memory_both_ways():
    a = np.ones(5)
    b = torch.from_numpy(a)
    assert b.dtype == torch.float64
    np.add(a, 1, out=a)
    np.testing.assert_array_equal(b.numpy(), np.full(5, 2.0))
    b.add_(1)
    np.testing.assert_array_equal(a, np.full(5, 3.0))
    assert b.numpy() is a or np.shares_memory(b.numpy(), a)


def test_cuda_section_cpu_path():
    x = torch.rand(4, 3)
    y = torch.rand(4, 3)
    if torch.cuda.is_available():
        pytest.skip("the mismatch is exercised in tests/test_tensor.py on GPU machines")
    np.testing.assert_allclose((x + y).numpy(), x.numpy() + y.numpy())


def test_autograd_section():
    x = Variable(torch.ones(2, 2), requires_grad=True)
    assert x.requires_grad and x.grad_fn is None
    y = x + 2
    assert y.grad_fn.name() == "AddBackward0"
    assert repr(y.grad_fn).startswith("<AddBackward0 object at 0x")
    z = y * y * 3
    out = z.mean()
    assert repr(z) == ("tensor([[27., 27.],\n        [27., 27.]], grad_fn=<MulBackward0>)")
    assert repr(out) == "tensor(27., grad_fn=<MeanBackward0>)"
    with pytest.raises(AttributeError):
        out.backwards()  # the seed's typo: the method is backward()
    out.backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 2), 4.5))
    assert repr(x.grad) == "tensor([[4.5000, 4.5000],\n        [4.5000, 4.5000]])"
    assert isinstance(x, Variable)
    assert not x.data.requires_grad
    np.testing.assert_array_equal(x.data.numpy(), np.ones((2, 2)))
    np.testing.assert_array_equal(x.grad.data.numpy(), np.full((2, 2), 4.5))


def test_variable_wraps_without_copy():
    t = torch.ones(3)
    v = Variable(t)
    assert v is not t and not v.requires_grad
    v[0] = 5.0
    assert t[0].item() == 5.0
    w = Variable(t, requires_grad=True)
    assert w.requires_grad and not t.requires_grad
    y = w * 2
    assert Variable(y).grad_fn is None
    assert Variable().shape == (0,)
    with pytest.raises(TypeError):
        Variable([1.0, 2.0])


def test_sgd_update_via_data():
    w = torch.randn(3, requires_grad=True)
    (w * w).sum().backward()
    before = w.detach().numpy().copy()
    learning_rate = 0.01
    w.data.sub_(w.grad.data * learning_rate)
    np.testing.assert_allclose(w.detach().numpy(), before - 0.01 * 2 * before, rtol=1e-6)
