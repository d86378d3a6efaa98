"""Checks of DTensor's sharding rules for matrix products, views and nn ops, and of
torch.distributed.tensor.parallel, run on every rank by test_dist_tensor_parallel.py through
dist_harness (2 ranks; 4 for the 2-d mesh). Oracles: the same computation on the whole tensors
with plain ember in float64 (values and gradients), and single-process training of the same
model."""
import copy

import numpy as np
from dist_harness import raises, run

import ember
import ember.distributed as dist
import ember.nn as nn
import ember.nn.functional as F
from ember.distributed.tensor import (
    DTensor,
    Partial,
    Replicate,
    Shard,
    distribute_tensor,
    init_device_mesh,
)
from ember.distributed.tensor.parallel import (
    ColwiseParallel,
    PrepareModuleInput,
    PrepareModuleInputOutput,
    PrepareModuleOutput,
    RowwiseParallel,
    SequenceParallel,
    loss_parallel,
    parallelize_module,
)

RANK = SIZE = None
S0, S1, S2, R = (Shard(0),), (Shard(1),), (Shard(2),), (Replicate(),)
P = (Partial(),)


def same_as_whole(fn, specs, want=None, mesh=None, seed=0):
    """``fn`` on DTensors laid out by ``specs`` ((shape or integer array, placements) each)
    gives the value and gradients of ``fn`` on the whole tensors, laid out as ``want``."""
    mesh = mesh or init_device_mesh("cpu", (SIZE,))
    rng = np.random.default_rng(seed)
    arrays = [s if isinstance(s, np.ndarray) else rng.standard_normal(s) for s, _ in specs]
    whole = [ember.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    expected = fn(*whole)
    weights = ember.tensor(rng.standard_normal(tuple(expected.shape)))
    (expected * weights).sum().backward()
    parts = [distribute_tensor(ember.tensor(a), mesh, p) for a, (_, p) in zip(arrays, specs)]
    for part, tensor in zip(parts, whole):
        part.requires_grad_(tensor.requires_grad)
    out = fn(*parts)
    assert isinstance(out, DTensor)
    if want is not None:
        assert out.placements == tuple(want), (out.placements, want)
    np.testing.assert_allclose(out.full_tensor().detach().numpy(), expected.detach().numpy(),
                               atol=1e-12)
    (out.full_tensor() * weights).sum().backward()
    for part, tensor in zip(parts, whole):
        if tensor.requires_grad:
            assert part.grad.placements == tuple(p if not p.is_partial() else Replicate()
                                                 for p in part.placements)
            np.testing.assert_allclose(part.grad.full_tensor().numpy(), tensor.grad.numpy(),
                                       atol=1e-12)


def check_matmul_rules():
    mm = ember.mm
    same_as_whole(mm, [((4, 6), S0), ((6, 8), R)], S0)
    same_as_whole(mm, [((4, 6), R), ((6, 8), S1)], S1)
    same_as_whole(mm, [((4, 6), S1), ((6, 8), S0)], P)
    same_as_whole(mm, [((4, 6), R), ((6, 8), R)], R)
    same_as_whole(mm, [((4, 6), S0), ((6, 8), S0)], S0)  # rhs gathered: the cheapest
    same_as_whole(lambda a, b: a @ b, [((4, 6), R), ((6, 8), S0)], P)  # lhs cut for free
    same_as_whole(ember.bmm, [((4, 3, 6), S0), ((4, 6, 2), S0)], S0)  # batch
    same_as_whole(lambda a, b: ember.matmul(a, b), [((2, 4, 3, 5), S1), ((2, 4, 5, 3), S1)], S1)
    same_as_whole(lambda a, b: a @ b, [((2, 3, 6), S0), ((6, 4), R)], S0)
    same_as_whole(lambda a, b: a @ b, [((6,), S0), ((6, 4), S0)], P)
    same_as_whole(lambda b, a, c: ember.addmm(b, a, c), [((8,), R), ((4, 6), S1), ((6, 8), S0)], P)
    same_as_whole(F.linear, [((2, 3, 6), R), ((8, 6), S0), ((8,), S0)], S2)  # colwise
    same_as_whole(F.linear, [((2, 3, 6), S2), ((8, 6), S1), ((8,), R)], P)  # rowwise
    same_as_whole(F.linear, [((2, 4, 6), S1), ((8, 6), R)], S1)  # sequence shards kept
    raises(lambda: ember.mm(distribute_tensor(ember.ones(2, 2), init_device_mesh(
        "cpu", (SIZE,))), ember.ones(2, 2)), RuntimeError, "mixed torch.Tensor and DTensor")


def check_view_rules():
    same_as_whole(lambda a: a.view(4, 6), [((2, 2, 6), S0)], S0)  # merged outermost
    same_as_whole(lambda a: a.view(4, 6), [((2, 2, 6), S1)], R)  # merged inner: gathered
    same_as_whole(lambda a: a.reshape(2, 2, 2, 3), [((2, 4, 3), S1)], S1)  # split, 2 % 2
    same_as_whole(lambda a: a.reshape(2, 12), [((2, 4, 3), S1)], S1)
    same_as_whole(lambda a: a.reshape(8, 3), [((2, 4, 3), S1)], R)
    same_as_whole(lambda a: a.view(2, 3, 4, 2).transpose(1, 2), [((2, 3, 8), S2)], S1)
    same_as_whole(lambda a: a.flatten(0, 1), [((4, 4, 2), S0)], S0)
    bits = distribute_tensor(ember.arange(8.0, dtype=ember.float64).view(2, 4),
                             init_device_mesh("cpu", (SIZE,)), [Shard(0)]).view(ember.int64)
    assert bits.placements == S0 and bits.dtype == ember.int64
    np.testing.assert_array_equal(bits.full_tensor().numpy(),
                                  np.arange(8.0).reshape(2, 4).view(np.int64))
    same_as_whole(lambda a: a.unflatten(1, (2, 2)), [((4, 4), S1)], S1)
    same_as_whole(lambda a: a.unsqueeze(0).squeeze(0).view_as(a), [((4, 2), S0)], S0)
    same_as_whole(lambda a: a.transpose(0, 2), [((2, 4, 3), S1)], S1)
    same_as_whole(lambda a: a.permute(2, 0, 1), [((2, 4, 3), S0)], S1)
    same_as_whole(lambda a: a.t(), [((4, 6), S0)], S1)
    same_as_whole(lambda a: a.movedim(0, -1), [((4, 6, 2), S0)], S2)
    same_as_whole(lambda a: a.expand(3, 4, 4), [((4, 4), S0)], S1)
    same_as_whole(lambda a: a.split(2, 1)[1], [((4, 4), S1)], R)
    same_as_whole(lambda a: a.chunk(2, -1)[0], [((4, 4), S0)], S0)
    same_as_whole(lambda a: a.narrow(1, 1, 2), [((4, 4), S0)], S0)
    same_as_whole(lambda a: a.unbind(0)[1], [((4, 4), S1)], S0)
    same_as_whole(lambda a: a[:, 1:3], [((4, 4, 3), S0)], S0)
    same_as_whole(lambda a: a[1, :, None], [((4, 4, 3), S1)], S0)
    same_as_whole(lambda a: a[..., 0], [((4, 4, 3), S0)], S0)
    same_as_whole(lambda a: a[ember.tensor([0, 2])], [((4, 4), S1)], R)  # advanced: gathered
    same_as_whole(lambda a: a.index_select(1, ember.tensor([0, 2])), [((4, 4), S0)], S0)


def check_nn_rules():
    same_as_whole(lambda a: F.softmax(a, -1), [((4, 6), S0)], S0)
    same_as_whole(lambda a: a.log_softmax(-1), [((4, 6), S1)], R)
    same_as_whole(lambda a, w, b: F.layer_norm(a, (6,), w, b), [((4, 3, 6), S1), ((6,), R),
                                                               ((6,), R)], S1)
    same_as_whole(lambda a, w: F.rms_norm(a, (6,), w, 1e-6), [((4, 6), S0), ((6,), R)], S0)
    same_as_whole(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
                  [((2, 4, 3, 5), S1)] * 3, S1)
    same_as_whole(lambda q, k, v: F.scaled_dot_product_attention(q, k, v),
                  [((2, 4, 3, 5), S0), ((2, 4, 3, 5), R), ((2, 4, 3, 5), S0)], S0)
    ids = np.array([[0, 5, 3], [7, 1, 1]])
    ids_dt = ember.tensor(ids)
    same_as_whole(lambda w: F.embedding(ids_dt, w), [((8, 4), S0)], P)  # row-wise: masked
    same_as_whole(lambda w: F.embedding(ids_dt, w, padding_idx=5), [((8, 4), S0)], P)
    same_as_whole(lambda w: F.embedding(ids_dt, w), [((8, 4), S1)], S2)  # column-wise
    same_as_whole(lambda i, w: F.embedding(i, w), [(ids, S0), ((8, 4), R)], S0)
    target = ember.tensor([0, 5, 2, 3])
    same_as_whole(lambda a: F.cross_entropy(a, target), [((4, 6), S1)], R)
    with loss_parallel():
        same_as_whole(lambda a: F.cross_entropy(a, target), [((4, 6), S1)], R)
        same_as_whole(lambda a: F.cross_entropy(a, ember.tensor([0, 5, -100, 3]),
                                                reduction="sum"), [((4, 6), S1)], R)
    same_as_whole(lambda a, b: ember.where(a > 0, a, b), [((4, 4), S0), ((4, 4), S0)], S0)
    same_as_whole(lambda a: a.masked_fill(a > 0, 0.5), [((4, 4), S1)], S1)
    same_as_whole(lambda a, b: a.type_as(b) * b, [((4, 4), S0), ((4, 4), S0)], S0)
    same_as_whole(lambda a: a.to(ember.float32).to(ember.float64), [((4, 4), S0)], S0)


def check_two_dim_mesh_rules():
    mesh = init_device_mesh("cpu", (2, SIZE // 2), mesh_dim_names=("dp", "tp"))
    same_as_whole(ember.mm, [((4, 6), (Shard(0), Replicate())), ((6, 8), (Replicate(),
                                                                          Shard(1)))],
                  (Shard(0), Shard(1)), mesh=mesh)
    same_as_whole(F.linear, [((2, 4, 6), (Shard(0), Shard(2))), ((8, 6), (Replicate(),
                                                                          Shard(1)))],
                  (Shard(0), Partial()), mesh=mesh)
    same_as_whole(lambda a: a.view(4, 2, 6).transpose(0, 1), [((4, 12), (Shard(0), Shard(1)))],
                  (Shard(1), Shard(0)), mesh=mesh)


def check_parameter_of_dtensor():
    mesh = init_device_mesh("cpu", (SIZE,))
    dt = distribute_tensor(ember.arange(4.0 * SIZE), mesh, [Shard(0)])
    param = nn.Parameter(dt)
    assert isinstance(param, DTensor) and isinstance(param, nn.Parameter)
    assert param.is_leaf and param.requires_grad and param.placements == S0
    assert param.to_local().data_ptr() == dt.to_local().data_ptr()  # shares the storage
    frozen = nn.Parameter(dt, requires_grad=False)
    assert not frozen.requires_grad
    layer = nn.Linear(2, 2)
    layer.weight = nn.Parameter(distribute_tensor(layer.weight.detach(), mesh, [Replicate()]))
    assert dict(layer.named_parameters())["weight"] is layer.weight


# ------------------------------------------------------------------------------------------------
# Tensor-parallel modules against single-process training

class MLP(nn.Module):
    def __init__(self, dim=6, hidden=8):
        super().__init__()
        self.up = nn.Linear(dim, hidden)
        self.down = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.down(F.gelu(self.up(x)))


class Attention(nn.Module):
    """Self-attention whose projections see either local heads (plain tensors) or all heads
    (DTensors): the heads dimension is inferred."""

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


def _whole(param):
    return (param.full_tensor() if isinstance(param, DTensor) else param).detach().numpy()


def train_alike(model, plan, shape, optimizer, steps=3):
    """Train ``model`` and its tensor-parallel copy (``plan``) on the same batches; their
    outputs, gradients and parameters must agree at every step."""
    mesh = init_device_mesh("cpu", (SIZE,))
    model = model.double()  # built after ember.manual_seed: the same on every rank
    parallel = parallelize_module(copy.deepcopy(model), mesh, plan)
    opts = [optimizer(m.parameters()) for m in (model, parallel)]
    rng = np.random.default_rng(1)
    for _ in range(steps):
        batch = ember.tensor(rng.standard_normal(shape))
        outs = [m(batch) for m in (model, parallel)]
        got = outs[1].full_tensor() if isinstance(outs[1], DTensor) else outs[1]
        np.testing.assert_allclose(got.detach().numpy(), outs[0].detach().numpy(), atol=1e-12)
        for out in outs:
            (out ** 2).mean().backward()
        for (name, want), got in zip(model.named_parameters(), parallel.parameters()):
            np.testing.assert_allclose(_whole(got.grad), want.grad.numpy(), atol=1e-12,
                                       err_msg=name)
        for opt in opts:
            opt.step()
            opt.zero_grad()
    for (name, want), got in zip(model.named_parameters(), parallel.parameters()):
        np.testing.assert_allclose(_whole(got), want.detach().numpy(), atol=1e-12, err_msg=name)
    return parallel


def check_megatron_mlp():
    for optimizer in (lambda p: ember.optim.SGD(p, lr=0.1, momentum=0.9),
                      lambda p: ember.optim.AdamW(p, lr=0.01)):
        ember.manual_seed(0)
        parallel = train_alike(MLP(), {"up": ColwiseParallel(), "down": RowwiseParallel()},
                               (3, 6), optimizer)
    assert parallel.up.weight.placements == S0 and parallel.up.bias.placements == S0
    assert parallel.down.weight.placements == S1 and parallel.down.bias.placements == R
    assert parallel.up.weight.to_local().shape == (8 // SIZE, 6)


def check_attention_block():
    plan = {"attn.q": ColwiseParallel(use_local_output=False),
            "attn.k": ColwiseParallel(use_local_output=False),
            "attn.v": ColwiseParallel(use_local_output=False), "attn.o": RowwiseParallel(),
            "mlp.up": ColwiseParallel(), "mlp.down": RowwiseParallel()}
    ember.manual_seed(0)
    train_alike(Block(), plan, (2, 5, 8), lambda p: ember.optim.AdamW(p, lr=0.01))
    local_plan = {"attn.[qkv]": ColwiseParallel(), "attn.o": RowwiseParallel()}  # local heads
    ember.manual_seed(0)
    train_alike(Block(), local_plan, (2, 5, 8), lambda p: ember.optim.SGD(p, lr=0.1), steps=2)


def check_tensor_parallel_on_submesh():
    """A (dp, tp) mesh: the MLP parallelized over "tp", each dp group on its own batch."""
    mesh = init_device_mesh("cpu", (2, SIZE // 2), mesh_dim_names=("dp", "tp"))
    ember.manual_seed(0)
    model = MLP().double()
    parallel = parallelize_module(copy.deepcopy(model), mesh["tp"],
                                  {"up": ColwiseParallel(), "down": RowwiseParallel()})
    assert parallel.up.weight.device_mesh == mesh["tp"]
    dp = mesh.get_coordinate()[0]
    batch = ember.tensor(np.random.default_rng(dp).standard_normal((3, 6)))
    for m in (model, parallel):
        (m(batch) ** 2).sum().backward()
    for (name, want), got in zip(model.named_parameters(), parallel.parameters()):
        np.testing.assert_allclose(_whole(got.grad), want.grad.numpy(), atol=1e-12, err_msg=name)


class Echo(nn.Module):
    def forward(self, a, b):
        return a, b


def check_sequence_parallel_and_prepare_styles():
    mesh = init_device_mesh("cpu", (SIZE,))
    ember.manual_seed(0)
    norm = nn.LayerNorm(4).double()
    parallel = parallelize_module(copy.deepcopy(norm), mesh, SequenceParallel())
    assert parallel.weight.placements == R
    x = ember.tensor(np.random.default_rng(2).standard_normal((2, 2 * SIZE, 4)))
    out = parallel(x[:, 2 * RANK:2 * RANK + 2])  # this rank's part of the sequence
    assert out.placements == S1
    np.testing.assert_allclose(out.full_tensor().detach().numpy(), norm(x).detach().numpy(),
                               atol=1e-12)
    out.full_tensor().sum().backward()
    norm(x).sum().backward()
    np.testing.assert_allclose(_whole(parallel.weight.grad), norm.weight.grad.numpy(), atol=1e-12)
    # PrepareModuleInput / Output: a sequence-sharded input gathered, the output sharded back
    mlp = MLP(4, 4).double()
    plan = {"": PrepareModuleInputOutput(input_layouts=S1, desired_input_layouts=R,
                                         output_layouts=R, desired_output_layouts=S1),
            "up": ColwiseParallel(input_layouts=Replicate()),
            "down": RowwiseParallel(use_local_output=False)}
    tp = parallelize_module(copy.deepcopy(mlp), mesh, plan)
    out = tp(x[:, 2 * RANK:2 * RANK + 2])
    want = mlp(x)[:, 2 * RANK:2 * RANK + 2]
    np.testing.assert_allclose(out.detach().numpy(), want.detach().numpy(), atol=1e-12)
    echo = parallelize_module(Echo(), mesh, PrepareModuleInput(
        input_layouts=(Shard(0), None), desired_input_layouts=(Replicate(), None)))
    a, b = echo(ember.full((2,), float(RANK)), 3)
    assert a.placements == R and b == 3 and a.full_tensor().tolist() == [0, 0] + [1, 1] * (
        SIZE > 1) + [2, 2] * (SIZE > 2)
    kwargs_echo = parallelize_module(Echo(), mesh, PrepareModuleInput(
        input_kwarg_layouts={"b": Shard(0)}, desired_input_kwarg_layouts={"b": Replicate()},
        use_local_output=True))
    _, b = kwargs_echo(1, b=ember.ones(2))
    assert not isinstance(b, DTensor) and b.shape == (2 * SIZE,)
    out_echo = parallelize_module(Echo(), mesh, PrepareModuleOutput(
        output_layouts=(Shard(0), None), desired_output_layouts=(Replicate(), None)))
    a, b = out_echo(ember.ones(2), "x")
    assert not isinstance(a, DTensor) and a.shape == (2 * SIZE,) and b == "x"
    rowwise_out = parallelize_module(nn.Linear(4, 2).double(), mesh,
                                     RowwiseParallel(output_layouts=Shard(0)))
    result = rowwise_out(ember.ones(4 * SIZE, 4 // SIZE, dtype=ember.float64))
    assert result.shape == (4, 2)  # this rank's rows of the reduce-scattered output


def _setup():
    global RANK, SIZE
    RANK, SIZE = dist.get_rank(), dist.get_world_size()


if __name__ == "__main__":
    run(globals(), _setup)
