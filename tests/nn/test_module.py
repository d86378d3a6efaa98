"""Module: registration, attribute protocol, iteration, state_dict, modes, conversion, hooks."""
import copy
import pickle
import warnings
from collections import OrderedDict

import numpy as np
import pytest

import ember
import ember.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(3, 4)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(4, 2, bias=False)
        self.register_buffer("steps", ember.zeros(()))
        self.register_buffer("scratch", ember.ones(2), persistent=False)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


def test_parameter_is_a_tensor_that_requires_grad():
    p = nn.Parameter(ember.ones(2))
    assert isinstance(p, ember.Tensor) and p.requires_grad and p.is_leaf
    assert repr(p) == "Parameter containing:\ntensor([1., 1.], requires_grad=True)"
    q = nn.Parameter(ember.ones(2), requires_grad=False)
    assert not q.requires_grad
    assert nn.Parameter().shape == (0,)
    with pytest.raises(RuntimeError, match="floating point and complex dtype"):
        nn.Parameter(ember.tensor([1, 2]))
    assert not nn.Parameter(ember.tensor([1, 2]), requires_grad=False).requires_grad
    base = ember.zeros(3)
    shared = nn.Parameter(base)
    with ember.no_grad():
        shared.add_(1)
    np.testing.assert_array_equal(base.numpy(), [1, 1, 1])  # shares storage with its data
    c = copy.deepcopy(p)
    assert isinstance(c, nn.Parameter) and c.requires_grad and c is not p


def test_registration_and_named_members():
    net = Net()
    assert [n for n, _ in net.named_parameters()] == ["fc1.weight", "fc1.bias", "fc2.weight"]
    assert [n for n, _ in net.named_buffers()] == ["steps", "scratch"]
    assert [n for n, _ in net.named_children()] == ["fc1", "act", "fc2"]
    assert [n for n, _ in net.named_modules()] == ["", "fc1", "act", "fc2"]
    assert [n for n, _ in net.named_parameters(prefix="m", recurse=False)] == []
    assert [n for n, _ in net.fc1.named_parameters(prefix="m")] == ["m.weight", "m.bias"]
    assert len(list(net.parameters())) == 3
    assert net.get_submodule("fc1") is net.fc1
    assert net.get_parameter("fc1.bias") is net.fc1.bias
    assert net.get_buffer("steps") is net.steps
    with pytest.raises(AttributeError, match="has no attribute `nope`"):
        net.get_submodule("nope")
    assert "fc1" in dir(net) and "steps" in dir(net)


def test_shared_parameters_listed_once_unless_asked():
    net = nn.Sequential(nn.Linear(2, 2))
    net.add_module("tied", net[0])
    assert len(list(net.parameters())) == 2
    assert len(list(net.named_parameters(remove_duplicate=False))) == 4
    assert [n for n, _ in net.named_modules()] == ["", "0"]


def test_setattr_semantics():
    m = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="cannot assign 'torch.FloatTensor' as parameter "
                                        "'weight'"):
        m.weight = ember.zeros(2, 2)
    m.bias = None
    assert m.bias is None and "bias" in m._parameters
    m.extra = nn.Parameter(ember.zeros(1))
    assert "extra" in m._parameters
    with pytest.raises(TypeError, match="cannot assign 'ember.nn.modules.activation.ReLU' "
                                        "as parameter 'extra'"):
        m.extra = nn.ReLU()
    m.sub = nn.ReLU()
    m.sub = nn.Parameter(ember.zeros(1))  # a Parameter replaces the module of that name
    assert "sub" in m._parameters and "sub" not in m._modules
    del m.extra
    assert "extra" not in m._parameters
    with pytest.raises(AttributeError, match="'Linear' object has no attribute 'extra'"):
        _ = m.extra
    m.register_buffer("buf", ember.zeros(1))
    m.buf = ember.ones(1)
    assert m._buffers["buf"].item() == 1
    with pytest.raises(TypeError, match="as buffer 'buf'"):
        m.buf = 3
    with pytest.raises(KeyError, match="attribute 'weight' already exists"):
        m.register_buffer("weight", None)
    with pytest.raises(KeyError, match="contain"):
        m.register_parameter("a.b", None)
    with pytest.raises(TypeError, match="is not a Module subclass"):
        m.add_module("x", 3)
    with pytest.raises(ValueError, match="Cannot assign non-leaf Tensor"):
        m.register_parameter("nonleaf", _nonleaf_parameter())

    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(ember.ones(1))

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Early()


def _nonleaf_parameter():
    p = nn.Parameter(ember.ones(1))
    p.grad_fn = (p * 2).grad_fn  # forge a history: register_parameter must reject it
    return p


def test_state_dict_roundtrip_and_persistence():
    net = Net()
    sd = net.state_dict()
    # own parameters and buffers first, then the children's (PyTorch's order)
    assert list(sd) == ["steps", "fc1.weight", "fc1.bias", "fc2.weight"]
    assert not sd["fc1.weight"].requires_grad  # detached unless keep_vars
    assert net.state_dict(keep_vars=True)["fc1.weight"] is net.fc1.weight
    other = Net()
    result = other.load_state_dict(sd)
    assert repr(result) == "<All keys matched successfully>"
    assert result.missing_keys == [] and result.unexpected_keys == []
    np.testing.assert_array_equal(other.fc1.weight.detach().numpy(),
                                  net.fc1.weight.detach().numpy())


def test_load_state_dict_errors():
    net = Net()
    sd = net.state_dict()
    del sd["fc1.bias"]
    sd["fc3.weight"] = ember.zeros(1)
    with pytest.raises(RuntimeError) as err:
        net.load_state_dict(sd)
    assert str(err.value) == ('Error(s) in loading state_dict for Net:\n\tMissing key(s) in '
                              'state_dict: "fc1.bias". \n\tUnexpected key(s) in state_dict: '
                              '"fc3.weight". ')
    res = net.load_state_dict(sd, strict=False)
    assert res.missing_keys == ["fc1.bias"] and res.unexpected_keys == ["fc3.weight"]
    sd = net.state_dict()
    sd["fc2.weight"] = ember.zeros(3, 3)
    with pytest.raises(RuntimeError, match="size mismatch for fc2.weight: copying a param with "
                                           r"shape torch.Size\(\[3, 3\]\)"):
        net.load_state_dict(sd)
    with pytest.raises(TypeError, match="Expected state_dict to be dict-like"):
        net.load_state_dict([1])


def test_load_state_dict_assign_keeps_parameter_type():
    net = nn.Linear(2, 2)
    new = {"weight": ember.ones(2, 2), "bias": ember.zeros(2)}
    net.load_state_dict(new, assign=True)
    assert isinstance(net.weight, nn.Parameter) and net.weight.requires_grad
    assert net.weight.sum().item() == 4


def test_train_eval_zero_grad_requires_grad():
    net = Net()
    assert net.training and net.fc1.training
    assert net.eval() is net and not net.fc1.training
    net.train()
    assert net.act.training
    with pytest.raises(ValueError, match="training mode is expected to be boolean"):
        net.train("yes")
    net(ember.randn(2, 3)).sum().backward()
    assert net.fc1.weight.grad is not None
    net.zero_grad(set_to_none=False)
    assert net.fc1.weight.grad.abs().sum().item() == 0
    net.zero_grad()
    assert net.fc1.weight.grad is None
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())


def test_conversion_keeps_parameter_identity():
    net = Net()
    w = net.fc1.weight
    net(ember.randn(2, 3)).sum().backward()
    assert net.double() is net
    assert net.fc1.weight is w and w.dtype is ember.float64 and w.grad.dtype is ember.float64
    assert net.steps.dtype is ember.float64
    net.to(ember.float32)
    assert w.dtype is ember.float32
    net.float().cpu().to("cpu")
    assert w.device.type == "cpu"
    with pytest.raises(TypeError, match="only accepts floating point"):
        net.to(ember.int64)
    bn = nn.BatchNorm1d(2).double()
    assert bn.num_batches_tracked.dtype is ember.int64  # integers are left alone
    assert net.half().fc1.weight.dtype is ember.float16
    net.type(ember.float64)
    assert w.dtype is ember.float64


def test_apply_visits_every_module_children_first():
    seen = []
    Net().apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "ReLU", "Linear", "Net"]


def test_forward_hooks():
    lin = nn.Linear(2, 2)
    calls = []
    h1 = lin.register_forward_pre_hook(lambda m, args: (args[0] * 0,))
    h2 = lin.register_forward_hook(lambda m, args, out: out + 1)
    out = lin(ember.ones(1, 2))
    np.testing.assert_allclose(out.detach().numpy(), lin.bias.detach().numpy()[None] + 1,
                               rtol=1e-6)
    h1.remove()
    h2.remove()
    lin.register_forward_pre_hook(lambda m, args, kwargs: calls.append(("pre", kwargs)),
                                  with_kwargs=True)
    lin.register_forward_hook(lambda m, args, kwargs, out: calls.append(("post", kwargs)),
                              with_kwargs=True, prepend=True)
    lin(input=ember.ones(1, 2))
    assert calls == [("pre", {"input": calls[0][1]["input"]}),
                     ("post", {"input": calls[0][1]["input"]})]
    global_calls = []
    handle = nn.modules.module.register_module_forward_hook(
        lambda m, a, o: global_calls.append(type(m).__name__))
    try:
        nn.Sequential(nn.ReLU())(ember.ones(1))
    finally:
        handle.remove()
    assert global_calls == ["ReLU", "Sequential"]


def test_forward_hook_always_call_runs_on_error():
    class Boom(nn.Module):
        def forward(self, x):
            raise ValueError("boom")

    m = Boom()
    seen = []
    m.register_forward_hook(lambda mod, args, out: seen.append(out), always_call=True)
    with pytest.raises(ValueError, match="boom"):
        m(ember.ones(1))
    assert seen == [None]


def test_full_backward_hooks_see_closed_form_grads():
    lin = nn.Linear(3, 2)
    with ember.no_grad():
        lin.weight.fill_(1.0)
    log = []
    lin.register_full_backward_pre_hook(lambda m, go: log.append(("pre", go[0].tolist())))
    lin.register_full_backward_hook(
        lambda m, gi, go: log.append(("bw", gi[0] if gi[0] is None else gi[0].tolist(),
                                      go[0].tolist())))
    x = ember.ones(1, 3, requires_grad=True)
    (lin(x) * 2).sum().backward()
    # d(2 * sum(W x + b))/dy = 2; dx = W^T 2 = [4, 4, 4]
    assert log == [("pre", [[2.0, 2.0]]), ("bw", [[4.0, 4.0, 4.0]], [[2.0, 2.0]])]
    log.clear()
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        (lin(ember.ones(1, 3)) * 3).sum().backward()
    assert log == [("pre", [[3.0, 3.0]]), ("bw", None, [[3.0, 3.0]])]


def test_full_backward_hook_can_replace_grad_input():
    act = nn.Tanh()
    act.register_full_backward_hook(lambda m, gi, go: (gi[0] * 0 + 7,))
    x = ember.zeros(2, requires_grad=True)
    act(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [7.0, 7.0])


def test_repr_nested_matches_pytorch_layout():
    net = Net()
    assert repr(net) == ("Net(\n"
                         "  (fc1): Linear(in_features=3, out_features=4, bias=True)\n"
                         "  (act): ReLU()\n"
                         "  (fc2): Linear(in_features=4, out_features=2, bias=False)\n"
                         ")")

    class WithExtra(nn.Module):
        def extra_repr(self):
            return "a=1\nb=2"

    assert repr(WithExtra()) == "WithExtra(\n  a=1\n  b=2\n)"


def test_forward_missing_and_init_arguments():
    with pytest.raises(NotImplementedError, match='missing the required "forward" function'):
        nn.Module()(1)
    with pytest.raises(TypeError):
        nn.Module(3)


def test_pickle_and_deepcopy_module():
    net = Net()
    clone = copy.deepcopy(net)
    assert clone.fc1.weight is not net.fc1.weight
    np.testing.assert_array_equal(clone.fc1.weight.detach().numpy(),
                                  net.fc1.weight.detach().numpy())
    assert isinstance(clone.fc1.weight, nn.Parameter)
    restored = pickle.loads(pickle.dumps(net))
    assert isinstance(restored.fc1.weight, nn.Parameter)


def test_extra_state_roundtrip():
    class Stateful(nn.Module):
        def __init__(self):
            super().__init__()
            self.value = 1

        def get_extra_state(self):
            return {"value": self.value}

        def set_extra_state(self, state):
            self.value = state["value"]

    a, b = Stateful(), Stateful()
    a.value = 5
    sd = a.state_dict()
    assert sd["_extra_state"] == {"value": 5}
    # the key's suffix is public to libraries that load state dicts themselves (transformers 5)
    assert ember.nn.modules.module._EXTRA_STATE_KEY_SUFFIX == "_extra_state"
    b.load_state_dict(sd)
    assert b.value == 5


def test_state_dict_is_ordered_dict_with_metadata():
    sd = Net().state_dict()
    assert isinstance(sd, OrderedDict)
    assert sd._metadata[""] == {"version": 1}
    assert sd._metadata["fc1"] == {"version": 1}


def test_batchnorm_loads_checkpoint_without_num_batches_tracked():
    bn = nn.BatchNorm1d(2)
    sd = bn.state_dict()
    del sd["num_batches_tracked"]
    sd._metadata[""] = {"version": 1}
    bn.load_state_dict(sd)  # old checkpoints lack the counter: filled in, not reported missing


def _noop_hook(*args):
    return None


def test_hook_handles_survive_pickle_and_deepcopy():
    """A handle pickled or copied with its module still removes the copy's hook only."""
    model = nn.Linear(2, 2)
    state = {"model": model, "handle": model.register_forward_hook(_noop_hook)}
    for clone in (pickle.loads(pickle.dumps(state)), copy.deepcopy(state)):
        assert len(clone["model"]._forward_hooks) == 1
        clone["handle"].remove()
        assert len(clone["model"]._forward_hooks) == 0
    assert len(model._forward_hooks) == 1


def test_load_state_dict_pre_hooks_see_and_rewrite_entries():
    calls = []

    def rename_old_keys(state_dict, prefix, local_metadata, strict, missing, unexpected,
                        error_msgs):
        calls.append(("private", prefix, sorted(state_dict)))
        if prefix + "old_weight" in state_dict:  # an older checkpoint's name
            state_dict[prefix + "weight"] = state_dict.pop(prefix + "old_weight")

    def public(module, state_dict, prefix, *rest):
        calls.append(("public", type(module).__name__, prefix))

    net = nn.Sequential(nn.Linear(2, 2))
    net[0]._register_load_state_dict_pre_hook(rename_old_keys)
    handle = net[0].register_load_state_dict_pre_hook(public)
    with_module = net[0]._register_load_state_dict_pre_hook(
        lambda module, *args: calls.append(("with_module", type(module).__name__)),
        with_module=True)
    old = {"0.old_weight": ember.ones(2, 2), "0.bias": ember.zeros(2)}
    net.load_state_dict(old)
    np.testing.assert_array_equal(net[0].weight.detach().numpy(), np.ones((2, 2)))
    assert calls == [("private", "0.", ["0.bias", "0.old_weight"]), ("public", "Linear", "0."),
                     ("with_module", "Linear")]
    handle.remove()
    with_module.remove()
    calls.clear()
    net.load_state_dict({"0.weight": ember.zeros(2, 2), "0.bias": ember.zeros(2)})
    assert [c[0] for c in calls] == ["private"]


def test_linear_checks_its_input_against_the_weight_it_holds():
    # transformers' tensor parallelism swaps a shard of the weight in under no_grad
    layer = nn.Linear(4, 3)
    layer.weight = nn.Parameter(layer.weight.detach()[:, :2].clone())
    np.testing.assert_allclose(layer(ember.ones(5, 2)).detach().numpy(),
                               (ember.ones(5, 2) @ layer.weight.T + layer.bias).detach().numpy())
    with pytest.raises(RuntimeError, match="in_features=2 in its last dimension"):
        layer(ember.ones(5, 4))


def test_linear_reads_a_parametrized_weight_once_per_forward():
    # spectral_norm's power iteration runs on every read of the weight
    calls = []

    class Counted(nn.Module):
        def forward(self, w):
            calls.append(1)
            return w

    layer = nn.Linear(3, 2)
    nn.utils.parametrize.register_parametrization(layer, "weight", Counted())
    calls.clear()  # (registering checks the parametrization once)
    layer(ember.ones(4, 3))
    assert len(calls) == 1
