"""Checks of FSDP2 (``fully_shard``), run on every rank by test_dist_fsdp2.py through
dist_harness (2 ranks, or 3 for uneven shards). The oracle is single-process training of the
same model on the whole batch in float64: each rank trains on its half, FSDP averages the
gradients, so parameters must match to rounding."""
import copy

import numpy as np
from dist_harness import raises, run

import ember
import ember.distributed as dist
import ember.nn as nn
from ember.distributed.fsdp import (
    CPUOffloadPolicy,
    FSDPModule,
    MixedPrecisionPolicy,
    UnshardHandle,
    fully_shard,
    register_fsdp_forward_method,
)
from ember.distributed.tensor import DTensor, Shard, init_device_mesh

RANK = SIZE = MESH = None


def mlp() -> nn.Module:
    ember.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3), nn.Tanh(),
                         nn.Linear(3, 2)).double()


def block() -> nn.Module:
    ember.manual_seed(0)
    return nn.Sequential(nn.TransformerEncoderLayer(8, 2, 12, dropout=0.0, batch_first=True),
                         nn.TransformerEncoderLayer(8, 2, 12, dropout=0.0, batch_first=True)
                         ).double()


def shard_layers(model: nn.Module, **kwargs) -> nn.Module:
    for layer in model:
        if any(True for _ in layer.parameters()):
            fully_shard(layer, mesh=MESH, **kwargs)
    return fully_shard(model, mesh=MESH, **kwargs)


def batches(shape_x: tuple, shape_y: tuple, steps: int = 3):
    g = ember.Generator().manual_seed(1)
    return [(ember.randn(*shape_x, generator=g, dtype=ember.float64),
             ember.randn(*shape_y, generator=g, dtype=ember.float64)) for _ in range(steps)]


def train_and_compare(make_model, make_opt, data, **shard_kwargs) -> None:
    """Train the reference on whole batches and the sharded model on this rank's part; the
    losses' gradients, clipped norms and parameters must match."""
    ref, model = make_model(), shard_layers(make_model(), **shard_kwargs)
    opt_ref, opt = make_opt(ref.parameters()), make_opt(model.parameters())
    for x, y in data:
        ((ref(x) - y) ** 2).mean().backward()
        want = nn.utils.clip_grad_norm_(ref.parameters(), 0.5)
        mine = slice(RANK * x.shape[0] // SIZE, (RANK + 1) * x.shape[0] // SIZE)
        ((model(x[mine]) - y[mine]) ** 2).mean().backward()
        got = nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        np.testing.assert_allclose(got.full_tensor().item(), want.item(), rtol=1e-10)
        opt_ref.step()
        opt.step()
        opt_ref.zero_grad()
        opt.zero_grad()
    for (k_ref, p_ref), (k, p) in zip(ref.state_dict().items(), model.state_dict().items()):
        assert k == k_ref and isinstance(p, DTensor), (k, type(p))
        np.testing.assert_allclose(p.full_tensor().numpy(), p_ref.numpy(), rtol=1e-9,
                                   atol=1e-10)


def check_mlp_sgd_matches_single_process():
    data = batches((6, 4), (6, 2))
    for reshard in (True, False):
        train_and_compare(mlp, lambda ps: ember.optim.SGD(ps, lr=0.1, momentum=0.9), data,
                          reshard_after_forward=reshard)


def check_mlp_adamw_matches_single_process():
    data = batches((6, 4), (6, 2))
    for foreach in (True, False):
        train_and_compare(mlp, lambda ps, f=foreach: ember.optim.AdamW(ps, lr=0.05, foreach=f),
                          data)


def check_transformer_block_matches_single_process():
    data = batches((4, 3, 8), (4, 3, 8), steps=2)
    train_and_compare(block, lambda ps: ember.optim.AdamW(ps, lr=0.01), data)


def check_frozen_parameter_trains_the_rest():
    def frozen():
        model = mlp()
        model[2].weight.requires_grad_(False)
        return model
    train_and_compare(frozen, lambda ps: ember.optim.SGD(ps, lr=0.1), batches((4, 4), (4, 2)))
    model = shard_layers(frozen())
    model(ember.ones(2, 4, dtype=ember.float64)).sum().backward()
    assert model[2].weight.grad is None and model[2].bias.grad is not None


def check_sharded_parameters_and_api():
    model = shard_layers(mlp())
    assert type(model).__name__ == "FSDPSequential" and isinstance(model, nn.Sequential)
    assert isinstance(model, FSDPModule) and isinstance(model[0], FSDPModule)
    assert not isinstance(model[1], FSDPModule)  # Tanh holds no parameters
    full = mlp()
    for (name, p), q in zip(model.named_parameters(), full.parameters()):
        assert isinstance(p, DTensor) and isinstance(p, nn.Parameter), name
        assert p.placements == (Shard(0),) and p.shape == q.shape and p.requires_grad
        np.testing.assert_array_equal(p.to_local().detach().numpy(),
                                      np.array_split(q.detach().numpy(), SIZE)[RANK]
                                      if q.shape[0] % SIZE == 0 else
                                      q.detach().numpy()[_chunk_rows(q.shape[0])])
    x = ember.randn(4, 4, dtype=ember.float64)
    seen = {}
    model[2].register_forward_pre_hook(lambda m, a: seen.update(w=m.weight))  # after FSDP's
    out = model(x)
    assert not isinstance(seen["w"], DTensor) and seen["w"].shape == (3, 5)
    assert isinstance(model[2].weight, DTensor)  # resharded after forward (not the root)
    np.testing.assert_allclose(out.detach().numpy(), full(x).detach().numpy(), rtol=1e-12)
    assert model[2].unshard() is None and not isinstance(model[2].weight, DTensor)
    handle = model[2].unshard(async_op=True)
    assert isinstance(handle, UnshardHandle) and handle.wait() is None
    model[2].reshard()
    assert isinstance(model[2].weight, DTensor)
    raises(lambda: copy.deepcopy(model), AssertionError, "deepcopy")
    clone = copy.deepcopy(model[0].weight)
    assert isinstance(clone, DTensor) and isinstance(clone, nn.Parameter)
    np.testing.assert_array_equal(clone.to_local().detach().numpy(),
                                  model[0].weight.to_local().detach().numpy())
    model.float()  # Module._apply on DTensor parameters: the shards change dtype
    assert model[0].weight.to_local().dtype == ember.float32
    np.testing.assert_allclose(model(x.float()).detach().numpy(),
                               full.float()(x.float()).detach().numpy(), rtol=1e-5)
    offloaded = fully_shard(nn.Linear(2, 2), mesh=MESH, offload_policy=CPUOffloadPolicy())
    assert offloaded.weight.to_local().device == ember.device("cpu")


def _chunk_rows(size: int) -> slice:
    step = -(-size // SIZE)
    return slice(min(RANK * step, size), min((RANK + 1) * step, size))


def check_root_keeps_parameters_gathered():
    model = shard_layers(mlp())  # reshard_after_forward=None: True but for the root
    root = fully_shard(nn.Linear(2, 2).double(), mesh=MESH)
    root(ember.ones(1, 2, dtype=ember.float64))
    assert not isinstance(root.weight, DTensor)
    model(ember.ones(1, 4, dtype=ember.float64)).sum().backward()
    assert isinstance(model[0].weight, DTensor) and model[0].weight.grad is not None
    kept = shard_layers(mlp(), reshard_after_forward=False)
    kept(ember.ones(1, 4, dtype=ember.float64))
    assert not isinstance(kept[0].weight, DTensor)
    kept.set_reshard_after_forward(True)
    kept(ember.ones(1, 4, dtype=ember.float64))
    assert isinstance(kept[0].weight, DTensor)


def check_gradient_accumulation_without_sync():
    (x, y), = batches((8, 4), (8, 2), steps=1)
    ref, model = mlp(), shard_layers(mlp())
    ((ref(x) - y) ** 2).sum().backward()
    half = x.shape[0] // SIZE
    parts = [slice(RANK * half, RANK * half + half // 2),
             slice(RANK * half + half // 2, (RANK + 1) * half)]
    for i, part in enumerate(parts):
        model.set_requires_gradient_sync(i == len(parts) - 1)
        ((model(x[part]) - y[part]) ** 2).sum().backward()
        if i == 0:
            assert all(p.grad is None for p in model.parameters())
    for p, q in zip(model.parameters(), ref.parameters()):
        np.testing.assert_allclose(p.grad.full_tensor().numpy() * SIZE, q.grad.numpy(),
                                   rtol=1e-10)


def check_mixed_precision():
    (x, y), = batches((4, 4), (4, 2), steps=1)
    policy = MixedPrecisionPolicy(param_dtype=ember.float32, reduce_dtype=ember.float32)
    model = shard_layers(mlp(), mp_policy=policy)
    seen = {}
    model[0].register_forward_pre_hook(lambda m, a: seen.update(w=m.weight.dtype, x=a[0].dtype))
    mine = slice(RANK * 2, RANK * 2 + 2)
    out = model(x[mine])
    assert seen == {"w": ember.float32, "x": ember.float32} and out.dtype == ember.float32
    ((out - y[mine].float()) ** 2).mean().backward()
    ref = mlp().float()
    ((ref(x.float()) - y.float()) ** 2).mean().backward()
    for p, q in zip(model.parameters(), ref.parameters()):
        assert p.dtype == ember.float64 and p.grad.dtype == ember.float64
        np.testing.assert_allclose(p.grad.full_tensor().numpy(), q.grad.numpy(), rtol=1e-4,
                                   atol=1e-6)
    cast_out = shard_layers(mlp(), mp_policy=MixedPrecisionPolicy(
        param_dtype=ember.float32, output_dtype=ember.float64))
    assert cast_out(x).dtype == ember.float64


def check_state_dict_round_trip():
    model = shard_layers(mlp())
    with ember.no_grad():
        for p in model.parameters():
            p.mul_(2)
    sd = model.state_dict()
    assert all(isinstance(v, DTensor) for v in sd.values())
    full = {k: v.full_tensor() for k, v in sd.items()}
    again = shard_layers(mlp())
    again.load_state_dict(sd)
    other = shard_layers(mlp())
    other.load_state_dict(full)  # full tensors: each rank keeps its shard
    plain = mlp()
    plain.load_state_dict(full)
    x = ember.randn(3, 4, dtype=ember.float64)
    want = plain(x).detach().numpy()
    for m in (model, again, other):
        np.testing.assert_allclose(m(x).detach().numpy(), want, rtol=1e-12)
        for k, v in m.state_dict().items():
            np.testing.assert_array_equal(v.full_tensor().numpy(), full[k].numpy())


def check_meta_device_init_and_full_state_loads():
    """A model built on the meta device and sharded stays meta until ``to_empty``, whose new
    parameters the groups then use; ``reset_parameters`` (``nn.init`` on DTensors) fills each
    rank's shard (from its own generator, as PyTorch on CPU) within the global fan's bounds,
    also for a ``Shard(1)`` weight, whose local fan is smaller; full state dicts load into
    meta-sharded models with ``load_state_dict(assign=True)`` and DCP's
    ``set_model_state_dict``, and these train as the plain model does."""
    from ember.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict
    from ember.distributed.tensor import distribute_tensor

    def meta_sharded():
        with ember.device("meta"):
            return shard_layers(mlp())
    model = meta_sharded()
    assert all(p.is_meta and isinstance(p, DTensor) for p in model.parameters())
    model.to_empty(device="cpu")
    for layer in (model[0], model[2], model[4]):
        layer.reset_parameters()
    for p in model.parameters():
        assert isinstance(p, DTensor) and not p.is_meta and p.placements == (Shard(0),)
    for layer in (model[0], model[2], model[4]):  # fan_in is the global weight's
        bound = 1 / layer.in_features ** 0.5
        local = layer.weight.to_local()
        assert 0 < local.abs().max().item() <= bound and local.std().item() > bound / 4
    columns = distribute_tensor(ember.zeros(40, 6), MESH, [Shard(1)])
    nn.init.kaiming_uniform_(columns, a=5 ** 0.5)  # the bound of the global fan_in, 6
    assert 1 / 12 ** 0.5 < columns.to_local().abs().max().item() <= 1 / 6 ** 0.5
    nn.init.normal_(columns, 3.0, 0.01)
    assert isinstance(columns, DTensor) and abs(columns.to_local().mean().item() - 3) < 0.01
    full = {k: v.full_tensor() for k, v in model.state_dict().items()}
    x, y = batches((4, 4), (4, 2), steps=1)[0]
    plain = mlp()
    plain.load_state_dict(full)
    ((plain(x) - y) ** 2).mean().backward()
    want = [p.grad for p in plain.parameters()]
    assigned = meta_sharded()
    assigned.load_state_dict({k: nn.Parameter(distribute_tensor(v, MESH, [Shard(0)]))
                              for k, v in full.items()}, assign=True)
    dcp = meta_sharded()
    set_model_state_dict(dcp, full, options=StateDictOptions(full_state_dict=True,
                                                             broadcast_from_rank0=True))
    for m in (model, assigned, dcp):
        assert not any(p.is_meta for p in m.parameters())
        mine = slice(RANK * 4 // SIZE, (RANK + 1) * 4 // SIZE)
        ((m(x[mine]) - y[mine]) ** 2).mean().backward()
        for p, g in zip(m.parameters(), want):
            np.testing.assert_allclose(p.grad.full_tensor().numpy(), g.numpy(), rtol=1e-10)


def check_forward_method_and_ignored_params():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 4).double()
            self.keep = nn.Linear(2, 2).double()

        def forward(self, x):
            return self.lin(x)

        def generate(self, x):
            return self.lin(x) * 2

    net = Net()
    full_w = net.lin.weight.detach().clone()
    fully_shard(net, mesh=MESH, reshard_after_forward=True,
                ignored_params=set(net.keep.parameters()))
    assert not isinstance(net.keep.weight, DTensor) and isinstance(net.lin.weight, DTensor)
    register_fsdp_forward_method(net, "generate")
    x = ember.ones(1, 3, dtype=ember.float64)
    out = net.generate(x)
    np.testing.assert_allclose(out.detach().numpy(), 2 * (x @ full_w.t() + net.lin.bias
                                                        .full_tensor()).detach().numpy())
    assert isinstance(net.lin.weight, DTensor)  # resharded after the method
    register_fsdp_forward_method(nn.Linear(1, 1), "forward")  # not sharded: a no-op


def check_uneven_shards_on_three_ranks():
    data = batches((6, 4), (6, 2), steps=2)
    train_and_compare(mlp, lambda ps: ember.optim.SGD(ps, lr=0.1), data)


def check_torch_compat_import():
    from ember.compat import torch_is_ember
    with torch_is_ember():  # the imports of HuggingFace transformers 5.x
        from torch.distributed._composable.fsdp import fully_shard as composable
        from torch.distributed.fsdp import CPUOffloadPolicy as Offload
        from torch.distributed.fsdp import MixedPrecisionPolicy as Policy
        from torch.distributed.tensor._utils import compute_local_shape_and_global_offset
        from torch.distributed.tensor.placement_types import _StridedShard
    assert composable is fully_shard and Offload is CPUOffloadPolicy
    assert Policy is MixedPrecisionPolicy and _StridedShard(0, sf=2).split_factor == 2
    assert compute_local_shape_and_global_offset((5,), MESH, [Shard(0)])[0] == \
        ((3,), (2,))[RANK]


def _setup():
    global RANK, SIZE, MESH
    RANK, SIZE = dist.get_rank(), dist.get_world_size()
    MESH = init_device_mesh("cpu", (SIZE,))


if __name__ == "__main__":
    run(globals(), _setup)
