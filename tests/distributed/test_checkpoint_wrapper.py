"""Activation-checkpointing wrappers (``torch.distributed.algorithms._checkpoint``): wrapped
models give the plain model's outputs and gradients, wrappers stay out of state dicts and
attribute lookups, and ``apply_activation_checkpointing`` wraps the submodules chosen, children
first, never the root. Single process: the wrappers need no process group."""
import numpy as np
import pytest

import ember
from ember import nn
from ember.distributed.algorithms._checkpoint.checkpoint_wrapper import (
    ActivationWrapper,
    CheckpointImpl,
    CheckpointWrapper,
    OffloadWrapper,
    apply_activation_checkpointing,
    checkpoint_wrapper,
    offload_wrapper,
)
from ember.distributed.fsdp.wrap import ModuleWrapPolicy


def _model():
    ember.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Sequential(nn.Linear(4, 4), nn.Tanh()),
                         nn.Linear(4, 2)).double()


def _grads(model, x):
    model.zero_grad()
    x.grad = None
    model(x).square().sum().backward()
    return [x.grad.numpy().copy()] + [p.grad.numpy().copy() for p in model.parameters()]


@pytest.mark.parametrize("wrap", [
    lambda m: checkpoint_wrapper(m),
    lambda m: checkpoint_wrapper(m, checkpoint_impl=CheckpointImpl.REENTRANT),
    offload_wrapper,
])
def test_wrapped_submodules_give_the_plain_gradients(wrap):
    x = ember.randn(5, 3, dtype=ember.float64, requires_grad=True)
    expected = _grads(_model(), x)
    model = _model()
    apply_activation_checkpointing(model, checkpoint_wrapper_fn=wrap,
                                   check_fn=lambda m: isinstance(m, nn.Linear))
    assert [type(model[i]).__name__ for i in (0, 3)] == [type(wrap(nn.Linear(1, 1))).__name__] * 2
    for got, want in zip(_grads(model, x), expected):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_state_dicts_and_attributes_see_through_the_wrapper():
    model = _model()
    plain_keys = list(model.state_dict())
    apply_activation_checkpointing(model, check_fn=lambda m: isinstance(m, nn.Linear))
    assert list(model.state_dict()) == plain_keys
    assert [n for n, _ in model.named_parameters()][:2] == [
        "0._checkpoint_wrapped_module.weight", "0._checkpoint_wrapped_module.bias"]
    plain = _model()
    with ember.no_grad():
        for p in plain.parameters():
            p.mul_(2)
    assert not model.load_state_dict(plain.state_dict()).missing_keys
    np.testing.assert_array_equal(model[0].weight.detach().numpy(),
                                  plain[0].weight.detach().numpy())
    assert not _model().load_state_dict(model.state_dict()).unexpected_keys
    wrapped_keys = {k: v.detach() for k, v in model.named_parameters()}  # prefixed names load too
    assert not model.load_state_dict(wrapped_keys, strict=False).unexpected_keys
    assert model[0].in_features == 3 and model[0].checkpoint_impl is CheckpointImpl.NO_REENTRANT
    wrapped = checkpoint_wrapper(nn.Sequential(nn.Linear(2, 2), nn.ReLU()))
    assert isinstance(wrapped[1], nn.ReLU) and list(wrapped.state_dict()) == ["0.weight",
                                                                              "0.bias"]
    with pytest.raises(TypeError):
        len(wrapped)  # indexing falls through, len() does not (as in PyTorch)


def test_apply_wraps_children_first_and_never_the_root():
    root = nn.Linear(2, 2)
    apply_activation_checkpointing(root)
    assert type(root) is nn.Linear
    model = nn.Sequential(nn.Sequential(nn.Linear(4, 4)), nn.Linear(4, 4))
    apply_activation_checkpointing(model, check_fn=lambda m: isinstance(m, (nn.Sequential,
                                                                              nn.Linear)))
    outer = model[0]
    assert isinstance(outer, CheckpointWrapper)
    assert isinstance(outer._checkpoint_wrapped_module[0], CheckpointWrapper)
    apply_activation_checkpointing(model)  # wrappers are not wrapped again
    assert isinstance(model[0]._checkpoint_wrapped_module, nn.Sequential)
    policy_model = nn.Sequential(nn.Linear(3, 4), nn.Sequential(nn.Linear(4, 4)))
    apply_activation_checkpointing(policy_model, auto_wrap_policy=ModuleWrapPolicy({nn.Linear}))
    assert isinstance(policy_model[1][0], CheckpointWrapper)


def test_keyword_arguments_and_custom_checkpoint_fn():
    class Scale(nn.Module):
        def forward(self, x, scale=1.0):
            return x * scale
    calls = []

    def recording_checkpoint(fn, *args, marker, **kwargs):
        calls.append(marker)
        return fn(*args, **kwargs)
    for wrapper in (checkpoint_wrapper(Scale(), checkpoint_impl=CheckpointImpl.REENTRANT),
                    checkpoint_wrapper(Scale()),
                    checkpoint_wrapper(Scale(), checkpoint_fn=recording_checkpoint, marker=7)):
        x = ember.ones(2, requires_grad=True)
        wrapper(x, scale=3.0).sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])
    assert calls == [7]
    with pytest.raises(TypeError):
        ActivationWrapper(nn.Linear(2, 2))  # forward is abstract
    assert "_checkpoint_wrapped_module" in repr(OffloadWrapper(nn.Linear(2, 2)))
