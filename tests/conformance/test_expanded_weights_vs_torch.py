"""Per-sample gradients against PyTorch's ExpandedWeights: the same ``grad_sample`` for every
handled layer function and the same input gradients (float64, but the float32 initialisation
draws of the two libraries may differ in the last bit, which sums that nearly cancel grow to
3e-6 relative: hence 1e-5), and the same errors.

Not compared: an embedding's ``padding_idx``. PyTorch's per-sample embedding gradients ignore
it (the padding row gets each sample's gradient, though ``embedding``'s own gradient there is
zero); ember's are each sample's true gradient, zero there (tests/nn/test_expanded_weights.py)."""
import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")


def _run(lib, reduction):
    from importlib import import_module
    per_sample = import_module(f"{lib.__name__}.nn.utils._per_sample_grad")
    nn = lib.nn
    lib.manual_seed(0)

    class Mixed(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(10, 4)
            self.conv = nn.Conv1d(4, 6, 3, padding=1, groups=2)
            self.conv3 = nn.Conv3d(1, 2, 2, dilation=(1, 2, 1))
            self.gn = nn.GroupNorm(3, 6)
            self.inorm = nn.InstanceNorm1d(6, affine=True)
            self.ln = nn.LayerNorm(6)
            self.lin = nn.Linear(6, 3)

        def forward(self, idx, vol):
            h = self.inorm(self.gn(self.conv(self.emb(idx).transpose(1, 2))))
            y = self.lin(self.ln(h.transpose(1, 2))).mean(1)
            return y + self.conv3(vol).mean((1, 2, 3, 4))[:, None]

    net = Mixed().double()
    idx = lib.randint(0, 10, (4, 5))
    vol = lib.randn(4, 1, 3, 5, 3, dtype=lib.float64, requires_grad=True)
    y = per_sample.call_for_per_sample_grads(net, loss_reduction=reduction)(idx, vol)
    ((y ** 2).sum() if reduction == "sum" else (y ** 2).mean()).backward()
    grads = {name: p.grad_sample.detach().numpy() for name, p in net.named_parameters()}
    return grads, vol.grad.numpy()


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_grad_samples_match(reduction):
    (got, got_input), (want, want_input) = _run(ember, reduction), _run(torch, reduction)
    assert got.keys() == want.keys()
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-5, atol=1e-8, err_msg=name)
    np.testing.assert_allclose(got_input, want_input, rtol=1e-5, atol=1e-8)


def _error(lib, make_call):
    from importlib import import_module
    per_sample = import_module(f"{lib.__name__}.nn.utils._per_sample_grad")
    with pytest.raises(RuntimeError) as info:
        make_call(lib, per_sample.call_for_per_sample_grads)
    return str(info.value)


@pytest.mark.parametrize("make_call", [
    lambda lib, call: call(lib.nn.Bilinear(3, 3, 2))(lib.randn(4, 3), lib.randn(4, 3)),
    lambda lib, call: call(lib.nn.Linear(3, 2))(lib.randn(4, 3), lib.randn(5, 3)),
    lambda lib, call: call(lib.nn.Linear(3, 2), batch_size=3)(lib.randn(4, 3)),
    lambda lib, call: call(lib.nn.Linear(3, 2), loss_reduction="none"),
])
def test_errors_match(make_call):
    assert _error(ember, make_call) == _error(torch, make_call)
