"""ember.utils.checkpoint against torch.utils.checkpoint on the same weights."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import ember  # noqa: E402
from ember.utils.checkpoint import checkpoint, checkpoint_sequential  # noqa: E402


def _pair():
    ours = ember.nn.Sequential(ember.nn.Linear(4, 6), ember.nn.GELU(), ember.nn.Linear(6, 2))
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.GELU(), torch.nn.Linear(6, 2))
    with torch.no_grad():
        for p, q in zip(ours.parameters(), theirs.parameters()):
            q.copy_(torch.from_numpy(p.detach().numpy()))
    return ours, theirs


@pytest.mark.parametrize("use_reentrant", [True, False])
@pytest.mark.parametrize("sequential", [False, True])
def test_gradients_match_torch(use_reentrant, sequential):
    ours, theirs = _pair()
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    xe = ember.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    if sequential:
        ye = checkpoint_sequential(ours, 2, xe, use_reentrant=use_reentrant)
        yt = torch.utils.checkpoint.checkpoint_sequential(theirs, 2, xt,
                                                          use_reentrant=use_reentrant)
    else:
        ye = checkpoint(ours, xe, use_reentrant=use_reentrant)
        yt = torch.utils.checkpoint.checkpoint(theirs, xt, use_reentrant=use_reentrant)
    ye.square().sum().backward()
    yt.square().sum().backward()
    np.testing.assert_allclose(ye.detach().numpy(), yt.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-6)
    for p, q in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_non_reentrant_autograd_grad_and_second_order_match_torch():
    ours, theirs = (m.double() for m in _pair())
    x = np.random.default_rng(1).standard_normal((3, 4))
    results = []
    for lib, model, ckpt in ((ember, ours, checkpoint),
                             (torch, theirs, torch.utils.checkpoint.checkpoint)):
        xt = lib.tensor(x, requires_grad=True)
        out = ckpt(model, xt, use_reentrant=False).tanh().sum()
        (g,) = lib.autograd.grad(out, xt, create_graph=True)
        grads = lib.autograd.grad(g.square().sum(), [xt, *model.parameters()])
        assert all(p.grad is None for p in model.parameters())
        results.append([g.detach().numpy()] + [a.numpy() for a in grads])
    for got, want in zip(*results):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def _shrinking_on_replay():
    calls = []

    def block(t):
        calls.append(1)
        return (t if len(calls) == 1 else t[:2]).exp().sum()
    return block


def test_non_reentrant_retain_graph_and_errors_match_torch():
    x = np.random.default_rng(2).standard_normal(5)
    grads, errors = [], []
    for lib, ckpt in ((ember, checkpoint), (torch, torch.utils.checkpoint.checkpoint)):
        xt = lib.tensor(x, requires_grad=True)
        y = ckpt(lambda t: t.sin().exp(), xt, use_reentrant=False).sum()
        y.backward(retain_graph=True)
        y.backward()
        grads.append(xt.grad.numpy())
        with pytest.raises(RuntimeError) as info:
            ckpt(_shrinking_on_replay(), xt, use_reentrant=False).backward()
        errors.append((type(info.value).__name__, str(info.value).split("\n")[0]))
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-12)
    assert errors[0] == errors[1]


def _checkpointed_encoder_run(lib, cw, impl: str, weights=None):
    """A 2-layer encoder whose layers ``cw.apply_activation_checkpointing`` wrapped: its state
    dict keys, parameter names, and the input and parameter gradients of one backward."""
    lib.manual_seed(0)
    model = lib.nn.TransformerEncoder(
        lib.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True), 2).double()
    if weights is not None:
        model.load_state_dict({k: lib.tensor(v.numpy()) for k, v in weights.items()})
    cw.apply_activation_checkpointing(
        model, checkpoint_wrapper_fn=lambda m: cw.checkpoint_wrapper(
            m, checkpoint_impl=getattr(cw.CheckpointImpl, impl)),
        check_fn=lambda m: isinstance(m, lib.nn.TransformerEncoderLayer))
    x = lib.tensor(np.random.default_rng(3).standard_normal((2, 5, 8)), requires_grad=True)
    model(x).square().sum().backward()
    return (list(model.state_dict()), [n for n, _ in model.named_parameters()],
            [x.grad.numpy()] + [p.grad.numpy() for p in model.parameters()])


@pytest.mark.parametrize("impl", ["REENTRANT", "NO_REENTRANT"])
def test_checkpoint_wrapper_on_transformer_layers_matches_torch(impl):
    from torch.distributed.algorithms._checkpoint import checkpoint_wrapper as theirs

    from ember.distributed.algorithms._checkpoint import checkpoint_wrapper as ours
    want = _checkpointed_encoder_run(torch, theirs, impl)
    torch.manual_seed(0)
    weights = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(
        8, 2, 16, dropout=0.0, batch_first=True), 2).double().state_dict()
    got = _checkpointed_encoder_run(ember, ours, impl, weights)
    assert got[:2] == want[:2]
    for g, w in zip(got[2], want[2]):
        np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-12)
