"""Checks of FSDP2 (``fully_shard``) on 2-d meshes, run on every rank by
test_dist_fsdp2_2d.py through dist_harness (4 ranks): HSDP over a (replicate, shard) mesh,
and FSDP over tensor-parallel parameters on a (dp, tp) mesh. The oracle is single-process
training of the same model on the whole batch in float64 (plain ember): each data-parallel
rank trains on its part of the batch, so gradients averaged over those ranks and the
parameters after each step must match to rounding."""
import copy

import numpy as np
from dist_harness import raises, run

import ember
import ember.distributed as dist
import ember.nn as nn
import ember.nn.functional as F
from ember.distributed.fsdp import FSDPModule, fully_shard
from ember.distributed.tensor import (
    DTensor,
    Replicate,
    Shard,
    distribute_tensor,
    init_device_mesh,
)
from ember.distributed.tensor.parallel import (
    ColwiseParallel,
    RowwiseParallel,
    parallelize_module,
)
from ember.distributed.tensor.placement_types import _StridedShard

RANK = None


def sgd(params):
    return ember.optim.SGD(params, lr=0.1, momentum=0.9)


def adamw(params):
    return ember.optim.AdamW(params, lr=0.02)


def hsdp_mesh():
    return init_device_mesh("cpu", (2, 2), mesh_dim_names=("replicate", "shard"))


def dp_tp_mesh():
    return init_device_mesh("cpu", (2, 2), mesh_dim_names=("dp", "tp"))


def mlp() -> nn.Module:
    ember.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3), nn.Tanh(),
                         nn.Linear(3, 2)).double()


class MLP(nn.Module):
    """Megatron-style: ``up`` column-parallel, ``down`` row-parallel."""

    def __init__(self, dim=6, hidden=8):
        super().__init__()
        self.up = nn.Linear(dim, hidden)
        self.down = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.down(F.gelu(self.up(x)))


class Attention(nn.Module):
    """Self-attention over the local heads of column-parallel projections."""

    def __init__(self, dim=8, heads=4):
        super().__init__()
        self.head_dim = dim // heads
        self.q, self.k, self.v = (nn.Linear(dim, dim, bias=False) for _ in range(3))
        self.o = nn.Linear(dim, dim)

    def forward(self, x):
        batch, seq, _ = x.shape
        q, k, v = (proj(x).view(batch, seq, -1, self.head_dim).transpose(1, 2)
                   for proj in (self.q, self.k, self.v))
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.o(out.transpose(1, 2).reshape(batch, seq, -1))


class Block(nn.Module):
    def __init__(self, dim=8):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.attn = Attention(dim)
        self.mlp = MLP(dim, 2 * dim)

    def forward(self, x):
        x = x + self.attn(self.norm(x))
        return x + self.mlp(x)


MLP_PLAN = {"up": ColwiseParallel(), "down": RowwiseParallel()}
BLOCK_PLAN = {"attn.q": ColwiseParallel(), "attn.k": ColwiseParallel(),
              "attn.v": ColwiseParallel(), "attn.o": RowwiseParallel(),
              "mlp.up": ColwiseParallel(), "mlp.down": RowwiseParallel()}


def hsdp_model(**kwargs) -> nn.Module:
    model, mesh = mlp(), hsdp_mesh()
    for layer in model:
        if any(True for _ in layer.parameters()):
            fully_shard(layer, mesh=mesh, **kwargs)
    return fully_shard(model, mesh=mesh, **kwargs)


def fsdp_tp_mlp() -> nn.Module:
    ember.manual_seed(0)
    mesh = dp_tp_mesh()
    model = parallelize_module(MLP().double(), mesh["tp"], MLP_PLAN)
    return fully_shard(model, mesh=mesh["dp"])


def fsdp_tp_block() -> nn.Module:
    ember.manual_seed(0)
    mesh = dp_tp_mesh()
    model = parallelize_module(Block().double(), mesh["tp"], BLOCK_PLAN)
    fully_shard(model.attn, mesh=mesh["dp"])
    fully_shard(model.mlp, mesh=mesh["dp"])
    return fully_shard(model, mesh=mesh["dp"])


def batches(shape_x: tuple, shape_y: tuple, steps: int = 2):
    g = ember.Generator().manual_seed(1)
    return [(ember.randn(*shape_x, generator=g, dtype=ember.float64),
             ember.randn(*shape_y, generator=g, dtype=ember.float64)) for _ in range(steps)]


def train_and_compare(reference, sharded, make_opt, data, part: int, parts: int,
                      clip: bool = True) -> nn.Module:
    """Train ``reference`` on whole batches and ``sharded`` on part ``part`` of ``parts``;
    the clipped norms and the parameters after each step must match."""
    opt_ref, opt = make_opt(reference.parameters()), make_opt(sharded.parameters())
    for x, y in data:
        ((reference(x) - y) ** 2).mean().backward()
        mine = slice(part * x.shape[0] // parts, (part + 1) * x.shape[0] // parts)
        ((sharded(x[mine]) - y[mine]) ** 2).mean().backward()
        if clip:
            want = nn.utils.clip_grad_norm_(reference.parameters(), 0.5)
            got = nn.utils.clip_grad_norm_(sharded.parameters(), 0.5)
            np.testing.assert_allclose(got.full_tensor().item(), want.item(), rtol=1e-10)
        for opt_ in (opt_ref, opt):
            opt_.step()
            opt_.zero_grad()
        for (name, want), got in zip(reference.named_parameters(), sharded.parameters()):
            np.testing.assert_allclose(got.full_tensor().detach().numpy(),
                                       want.detach().numpy(), rtol=1e-9, atol=1e-11,
                                       err_msg=name)
    return sharded


# ------------------------------------------------------------------------------------------------
# HSDP: (replicate, shard)

def check_hsdp_mlp_sgd_matches_single_process():
    data = batches((8, 4), (8, 2))
    for reshard in (True, False):
        train_and_compare(mlp(), hsdp_model(reshard_after_forward=reshard), sgd, data, RANK, 4)


def check_hsdp_mlp_adamw_matches_single_process():
    train_and_compare(mlp(), hsdp_model(), adamw, batches((8, 4), (8, 2)), RANK, 4)


def check_hsdp_placements_and_all_reduce_switch():
    model, full = hsdp_model(), mlp()
    shard = RANK % 2
    for (name, p), q in zip(model.named_parameters(), full.parameters()):
        assert isinstance(p, DTensor) and isinstance(p, nn.Parameter), name
        assert p.placements == (Replicate(), Shard(0)) and p.device_mesh == hsdp_mesh()
        rows = np.array_split(np.arange(q.shape[0]), 2)[shard] if q.shape[0] % 2 == 0 else \
            range(*[(0, 2), (2, 3)][shard])
        np.testing.assert_array_equal(p.to_local().detach().numpy(),
                                      q.detach().numpy()[list(rows)])
    # gradient accumulation without all-reduce: two micro-batches, all-reduced once
    (x, y), = batches((8, 4), (8, 2), steps=1)
    ((full(x) - y) ** 2).sum().backward()
    mine = [slice(2 * RANK, 2 * RANK + 1), slice(2 * RANK + 1, 2 * RANK + 2)]
    for i, part in enumerate(mine):
        model.set_requires_all_reduce(i == 1)
        ((model(x[part]) - y[part]) ** 2).sum().backward()
        if i == 0:
            assert all(p.grad is None for p in model.parameters())
    for p, q in zip(model.parameters(), full.parameters()):
        assert p.grad.placements == (Replicate(), Shard(0))
        np.testing.assert_allclose(p.grad.full_tensor().numpy() * 4, q.grad.numpy(), rtol=1e-10)
    summed = hsdp_model()
    for module in summed.modules():  # summed over all 4 ranks, as the whole batch's loss
        if isinstance(module, FSDPModule):
            module.set_gradient_divide_factor(1.0)
    ((summed(x[2 * RANK:2 * RANK + 2]) - y[2 * RANK:2 * RANK + 2]) ** 2).sum().backward()
    for p, q in zip(summed.parameters(), full.parameters()):
        np.testing.assert_allclose(p.grad.full_tensor().numpy(), q.grad.numpy(), rtol=1e-10)
    three = init_device_mesh("cpu", (2, 2, 1), mesh_dim_names=("a", "b", "c"))
    raises(lambda: fully_shard(nn.Linear(2, 2), mesh=three), ValueError, "1D or 2D")
    unnamed = init_device_mesh("cpu", (2, 2))
    raises(lambda: fully_shard(nn.Linear(2, 2), mesh=unnamed), AssertionError, "mesh_dim_names")


# ------------------------------------------------------------------------------------------------
# FSDP over tensor parallelism: (dp, tp)

def check_fsdp_tp_mlp_matches_single_process():
    dp = RANK // 2
    for make_opt in (sgd, adamw):
        ember.manual_seed(0)
        train_and_compare(MLP().double(), fsdp_tp_mlp(), make_opt,
                          batches((4, 6), (4, 6)), dp, 2)


def check_fsdp1_over_tp_mlp_matches_single_process():
    """FSDP1 (``FullyShardedDataParallel`` over the dp mesh, ``use_orig_params``) of a
    tensor-parallel MLP flattens the TP-local tensors; forward sees the TP DTensors, and
    training matches one process (as pytorch/examples' fsdp_tp_example)."""
    from ember.distributed.fsdp import FullyShardedDataParallel
    dp = RANK // 2
    for make_opt in (sgd, adamw):
        ember.manual_seed(0)
        reference = MLP().double()
        ember.manual_seed(0)
        mesh = dp_tp_mesh()
        sharded = FullyShardedDataParallel(parallelize_module(MLP().double(), mesh["tp"],
                                                              MLP_PLAN),
                                           device_mesh=mesh["dp"], use_orig_params=True)
        opt_ref, opt = make_opt(reference.parameters()), make_opt(sharded.parameters())
        for x, y in batches((4, 6), (4, 6)):
            ((reference(x) - y) ** 2).mean().backward()
            ((sharded(x[2 * dp:2 * dp + 2]) - y[2 * dp:2 * dp + 2]) ** 2).mean().backward()
            for optimizer in (opt_ref, opt):
                optimizer.step()
                optimizer.zero_grad()
            with ember.no_grad():
                np.testing.assert_allclose(sharded(x).numpy(), reference(x).numpy(),
                                           rtol=1e-9, atol=1e-11)


def check_fsdp_tp_placements():
    model, mesh = fsdp_tp_mlp(), dp_tp_mesh()
    ember.manual_seed(0)
    full = MLP().double()
    strided = (_StridedShard(0, split_factor=2), Shard(0))
    want = {"up.weight": (strided, (2, 6)), "up.bias": (strided, (2,)),
            "down.weight": ((Shard(0), Shard(1)), (3, 4)),
            "down.bias": ((Shard(0), Replicate()), (3,))}
    dp, tp = RANK // 2, RANK % 2
    for name, p in model.named_parameters():
        placements, local_shape = want[name]
        assert p.placements == placements and p.device_mesh == mesh, (name, p.placements)
        assert tuple(p.to_local().shape) == local_shape, (name, p.to_local().shape)
        whole = dict(full.named_parameters())[name].detach().numpy()
        np.testing.assert_array_equal(p.full_tensor().detach().numpy(), whole)
        if name == "up.weight":  # TP takes rows 4tp..4tp+3, FSDP its half of them
            np.testing.assert_array_equal(p.to_local().detach().numpy(),
                                          whole[4 * tp + 2 * dp:4 * tp + 2 * dp + 2])
    seen = {}
    model.down.register_forward_pre_hook(lambda m, a: seen.update(w=m.weight))
    model(ember.ones(2, 6, dtype=ember.float64)).sum().backward()
    # gathered over dp only: the TP DTensor, each rank holding its TP shard
    assert isinstance(seen["w"], DTensor) and seen["w"].placements == (Shard(1),)
    assert seen["w"].device_mesh == mesh["tp"] and tuple(seen["w"].to_local().shape) == (6, 4)
    for name, p in model.named_parameters():
        assert p.grad.placements == want[name][0] and p.grad.to_local().shape == p.to_local().shape
    other_root = hsdp_mesh()
    tp_only = parallelize_module(MLP().double(), mesh["tp"], MLP_PLAN)
    raises(lambda: fully_shard(tp_only, mesh=other_root["shard"]), RuntimeError, "root mesh")
    on_2d = nn.Linear(2, 2).double()
    on_2d.weight = nn.Parameter(distribute_tensor(on_2d.weight.detach(), mesh,
                                                  [Shard(0), Shard(1)]))
    raises(lambda: fully_shard(on_2d, mesh=mesh["dp"]), NotImplementedError, "1-d mesh")


def check_fsdp_tp_attention_block_matches_single_process():
    ember.manual_seed(0)
    reference = Block().double()
    train_and_compare(reference, fsdp_tp_block(), adamw, batches((4, 3, 8), (4, 3, 8)),
                      RANK // 2, 2, clip=False)


# ------------------------------------------------------------------------------------------------
# State dicts

def check_state_dict_round_trip():
    for make, make_full in ((hsdp_model, mlp), (fsdp_tp_mlp, lambda: _seeded(MLP))):
        model = make()
        with ember.no_grad():
            for p in model.parameters():
                p.mul_(2)
        sd = model.state_dict()
        assert all(isinstance(v, DTensor) and v.device_mesh.ndim == 2 for v in sd.values())
        full = {k: v.full_tensor() for k, v in sd.items()}
        again, other, plain = make(), make(), make_full()
        again.load_state_dict(sd)
        other.load_state_dict(full)  # whole tensors: each rank keeps its shard
        plain.load_state_dict(full)
        x = ember.randn(3, plain.state_dict()[next(iter(full))].shape[-1], dtype=ember.float64)
        want = plain(x).detach().numpy()
        for m in (model, again, other):
            out = m(x)
            out = out.full_tensor() if isinstance(out, DTensor) else out
            np.testing.assert_allclose(out.detach().numpy(), want, rtol=1e-12)
            for k, v in m.state_dict().items():
                assert v.placements == sd[k].placements
                np.testing.assert_array_equal(v.full_tensor().numpy(), full[k].numpy())
                np.testing.assert_array_equal(v.to_local().numpy(), sd[k].to_local().numpy())
    raises(lambda: copy.deepcopy(fsdp_tp_mlp()), AssertionError, "deepcopy")


def _seeded(cls) -> nn.Module:
    ember.manual_seed(0)
    return cls().double()


def _setup():
    global RANK
    RANK = dist.get_rank()
    assert dist.get_world_size() == 4


if __name__ == "__main__":
    run(globals(), _setup)
