"""Per-sample gradients (``torch.nn.utils._per_sample_grad.call_for_per_sample_grads``): each
parameter's ``grad_sample`` equals the gradient of each sample's own loss, computed one sample
at a time (the oracle), for every layer function ExpandedWeight handles."""
import numpy as np
import pytest

import ember
from ember import nn
from ember.nn.utils._expanded_weights import ExpandedWeight
from ember.nn.utils._per_sample_grad import call_for_per_sample_grads


class Mixed(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(10, 4, padding_idx=0)
        self.conv = nn.Conv1d(4, 6, 3, padding=1)
        self.conv2 = nn.Conv2d(2, 3, 3, stride=2)
        self.gn = nn.GroupNorm(2, 6)
        self.inorm = nn.InstanceNorm1d(6, affine=True)
        self.ln = nn.LayerNorm(6)
        self.lin = nn.Linear(6, 3)

    def forward(self, idx, img):
        h = self.inorm(self.gn(self.conv(self.emb(idx).transpose(1, 2))))
        y = self.lin(self.ln(h.transpose(1, 2))).mean(1)
        return y + self.conv2(img).mean((1, 2, 3))[:, None]


def _inputs(batch=4):
    ember.manual_seed(0)
    return ember.randint(0, 10, (batch, 5)), ember.randn(batch, 2, 6, 6, dtype=ember.float64)


def _one_sample_at_a_time(net, idx, img, loss):
    grads = {name: [] for name, _ in net.named_parameters()}
    for n in range(idx.shape[0]):
        net.zero_grad()
        loss(net(idx[n:n + 1], img[n:n + 1])).backward()
        for name, p in net.named_parameters():
            grads[name].append(p.grad.numpy().copy())
    net.zero_grad(set_to_none=True)
    return {name: np.stack(g) for name, g in grads.items()}


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_grad_samples_equal_each_samples_gradient(reduction):
    ember.manual_seed(0)
    net = Mixed().double()
    idx, img = _inputs()
    loss = (lambda y: (y ** 2).sum()) if reduction == "sum" else (lambda y: (y ** 2).mean())
    want = _one_sample_at_a_time(net, idx, img, loss)
    loss(call_for_per_sample_grads(net, loss_reduction=reduction)(idx, img)).backward()
    for name, p in net.named_parameters():
        assert p.grad is None
        np.testing.assert_allclose(p.grad_sample.numpy(), want[name], rtol=1e-10, atol=1e-12,
                                   err_msg=name)


def test_linear_over_a_sequence_and_input_gradients():
    ember.manual_seed(0)
    lin = nn.Linear(3, 2).double()
    x = ember.randn(4, 5, 3, dtype=ember.float64, requires_grad=True)
    call_for_per_sample_grads(lin)(x).sum().backward()
    ones = np.ones((4, 5, 2))
    np.testing.assert_allclose(lin.weight.grad_sample.numpy(),
                               np.einsum("nti,ntj->nij", ones, x.detach().numpy()))
    np.testing.assert_allclose(lin.bias.grad_sample.numpy(), np.full((4, 2), 5.0))
    np.testing.assert_allclose(x.grad.numpy(), np.broadcast_to(
        lin.weight.detach().numpy().sum(0), (4, 5, 3)))


def test_grad_samples_accumulate_and_a_second_call_is_refused():
    lin = nn.Linear(3, 2)
    x = ember.randn(4, 3)
    forward = call_for_per_sample_grads(lin)
    out = forward(x).sum()
    out.backward(retain_graph=True)
    first = lin.weight.grad_sample.clone()
    out.backward()
    np.testing.assert_allclose(lin.weight.grad_sample.numpy(), 2 * first.numpy())
    with pytest.raises(RuntimeError, match="accumulates the gradients"):
        call_for_per_sample_grads(lin)


def test_errors():
    lin = nn.Linear(3, 2)
    with pytest.raises(RuntimeError, match="sum or mean"):
        call_for_per_sample_grads(lin, loss_reduction="max")
    with pytest.raises(RuntimeError, match="batch size 4 and one with batch size 5"):
        call_for_per_sample_grads(nn.Bilinear(3, 3, 2))(ember.randn(4, 3), ember.randn(5, 3))
    with pytest.raises(RuntimeError, match="cannot handle function"):
        call_for_per_sample_grads(nn.Bilinear(3, 3, 2))(ember.randn(4, 3), ember.randn(4, 3))
    with pytest.raises(RuntimeError, match="batch size matching input"):
        call_for_per_sample_grads(lin, batch_size=3)(ember.randn(4, 3))
    with pytest.raises(RuntimeError, match="requires_grad"):
        ExpandedWeight(ember.ones(2), 4, "sum")
