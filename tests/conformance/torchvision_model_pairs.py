"""A real torchvision model and its ember twin with the same weights: the comparisons the
model conformance tests share (outputs in eval and train mode, gradients w.r.t. the input and
every parameter, and the BatchNorm statistics a training step updates)."""
from __future__ import annotations

import numpy as np

import ember


def ember_twin(torch_model, ember_model):
    """``ember_model`` in float64 holding ``torch_model``'s state_dict (loaded strictly, so the
    keys must match); ``torch_model`` is turned to float64 as well."""
    torch_model.double()
    ember_model.double()
    state = {k: ember.tensor(v.detach().numpy().copy()) for k, v in
             torch_model.state_dict().items()}
    ember_model.load_state_dict(state, strict=True)
    return ember_model


def randomize_batchnorm_statistics(torch_model, seed: int = 0) -> None:
    """Running means and variances away from 0 and 1, so that eval mode tests them."""
    import torch
    rng = np.random.default_rng(seed)
    for module in torch_model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            n = module.running_mean.numel()
            module.running_mean.copy_(torch.from_numpy(rng.normal(0, 0.5, n)))
            module.running_var.copy_(torch.from_numpy(rng.uniform(0.5, 2.0, n)))


def without_dropout(*models) -> None:
    """Dropout's (and stochastic depth's) draws differ between the libraries: p = 0."""
    for model in models:
        for module in model.modules():
            if type(module).__name__ in ("Dropout", "StochasticDepth"):
                module.p = 0.0


def _as_list(out):
    if isinstance(out, dict):
        return list(out.values())
    return [out]


def assert_outputs_close(torch_out, ember_out, rtol: float, atol: float) -> None:
    if isinstance(torch_out, dict):
        assert list(torch_out) == list(ember_out)
    for t, e in zip(_as_list(torch_out), _as_list(ember_out)):
        np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), rtol=rtol, atol=atol)


def assert_gradients_close(torch_model, ember_model, x: np.ndarray, rtol: float,
                           atol: float, seed: int = 1) -> None:
    """The gradients of ``sum(w * output)`` (summed over every output of the model, with one
    fixed random ``w`` each) w.r.t. the input and each parameter agree."""
    import torch
    tx = torch.tensor(x, requires_grad=True)
    ex = ember.tensor(x, requires_grad=True)
    t_outs = _as_list(torch_model(tx))
    e_outs = _as_list(ember_model(ex))
    rng = np.random.default_rng(seed)
    weights = [rng.normal(size=tuple(o.shape)) for o in t_outs]
    sum((o * torch.tensor(w)).sum() for o, w in zip(t_outs, weights)).backward()
    sum((o * ember.tensor(w)).sum() for o, w in zip(e_outs, weights)).backward()
    np.testing.assert_allclose(ex.grad.numpy(), tx.grad.numpy(), rtol=rtol, atol=atol)
    e_params = dict(ember_model.named_parameters())
    for name, p in torch_model.named_parameters():
        np.testing.assert_allclose(e_params[name].grad.numpy(), p.grad.numpy(), rtol=rtol,
                                   atol=atol, err_msg=name)


def assert_buffers_close(torch_model, ember_model, rtol: float, atol: float) -> None:
    e_buffers = dict(ember_model.named_buffers())
    for name, b in torch_model.named_buffers():
        np.testing.assert_allclose(e_buffers[name].numpy(), b.numpy(), rtol=rtol, atol=atol,
                                   err_msg=name)
