"""Run by test_tensor_parallel_vs_torch.py on 2 ranks, once with real PyTorch (gloo) and once
with ember (mpiexec, ``torch`` being ember): the placements and values of DTensor matrix
products, views and nn ops and of their gradients, and of a Megatron-style MLP parallelized
with ``parallelize_module``, written as JSON to OUTDIR/rankR.json for the test to compare."""
import json
import os
import sys

framework, out = sys.argv[1], sys.argv[2]
if framework == "ember":
    import ember.compat
    ember.compat.install()
import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.distributed.tensor import (  # noqa: E402
    DTensor,
    Replicate,
    Shard,
    distribute_tensor,
    init_device_mesh,
)
from torch.distributed.tensor.parallel import (  # noqa: E402
    ColwiseParallel,
    RowwiseParallel,
    loss_parallel,
    parallelize_module,
)

dist.init_process_group("mpi" if framework == "ember" else "gloo")
rank = dist.get_rank()
mesh = init_device_mesh("cpu", (2,))
S0, S1, S2, R = [Shard(0)], [Shard(1)], [Shard(2)], [Replicate()]


def describe(p) -> str:
    if p.is_shard():
        return f"S({p.dim})"
    if p.is_partial():
        return f"P({p.reduce_op})"
    return "R" if p.is_replicate() else repr(p)


results = {}


def record(name, dt):
    """Record ``dt``'s placements and value; returns its full tensor (gathered once: a
    masked Partial of PyTorch's embedding reduces only once)."""
    whole = dt.full_tensor()
    results[name] = {"placements": [describe(p) for p in dt.placements],
                     "value": whole.detach().double().reshape(-1).tolist()}
    return whole


def tensor(shape, placements, grad=True, seed=0):
    n = 1
    for s in shape:
        n *= s
    full = (torch.arange(n, dtype=torch.float64) * (0.37 + seed)).sin().view(shape)
    return distribute_tensor(full, mesh, placements).requires_grad_(grad)


def case(name, fn, *specs, backward=True):
    """Record ``fn``'s result on DTensors of ``specs`` and each input's gradient (PyTorch's
    backward of split and chunk fails on DTensors: ``backward=False``)."""
    inputs = [tensor(shape, p, seed=i) for i, (shape, p) in enumerate(specs)]
    whole = record(name, fn(*inputs))
    if not backward:
        return
    (whole * 1.5).sin().sum().backward()
    for i, x in enumerate(inputs):
        record(f"{name}_grad{i}", x.grad)


ids = torch.tensor([[0, 5, 3], [7, 1, 1]])
case("mm_s0_r", torch.mm, ((4, 6), S0), ((6, 8), R))
case("mm_r_s1", torch.mm, ((4, 6), R), ((6, 8), S1))
case("mm_s1_s0", torch.mm, ((4, 6), S1), ((6, 8), S0))
case("mm_r_r", torch.mm, ((4, 6), R), ((6, 8), R))
case("mm_r_s0", torch.mm, ((4, 6), R), ((6, 8), S0))
case("bmm_batch", torch.bmm, ((4, 3, 6), S0), ((4, 6, 2), S0))
case("matmul_heads", torch.matmul, ((2, 4, 3, 5), S1), ((2, 4, 5, 3), S1))
case("addmm_partial", torch.addmm, ((8,), R), ((4, 6), S1), ((6, 8), S0))
case("linear_colwise", F.linear, ((2, 3, 6), R), ((8, 6), S0), ((8,), S0))
case("linear_rowwise", F.linear, ((4, 6), S1), ((8, 6), S1), ((8,), R))
case("linear_rows", F.linear, ((4, 6), S0), ((8, 6), R))
case("view_merge", lambda a: a.view(4, 6), ((2, 2, 6), S0))
case("view_split", lambda a: a.view(2, 2, 2, 3), ((2, 4, 3), S1))
case("reshape_heads", lambda a: a.reshape(2, 3, 4, 2).transpose(1, 2), ((2, 3, 8), S2))
case("flatten", lambda a: a.flatten(0, 1), ((4, 4, 2), S0))
case("unflatten", lambda a: a.unflatten(1, (2, 2)), ((4, 4), S1))
case("unsqueeze", lambda a: a.unsqueeze(0), ((4, 2), S0))
case("transpose", lambda a: a.transpose(0, 2), ((2, 4, 3), S1))
case("permute", lambda a: a.permute(2, 0, 1), ((2, 4, 3), S0))
case("t", lambda a: a.t(), ((4, 6), S0))
case("split", lambda a: a.split(2, 1)[1], ((4, 4), S0), backward=False)
case("chunk", lambda a: a.chunk(2, -1)[0], ((4, 4), S0), backward=False)
case("narrow", lambda a: a.narrow(1, 1, 2), ((4, 4), S0))
case("getitem", lambda a: a[:, 1:3], ((4, 4, 3), S0))
case("softmax", lambda a: F.softmax(a, -1), ((4, 6), S0))
case("softmax_sharded", lambda a: F.softmax(a, -1), ((4, 6), S1))
case("log_softmax", lambda a: a.log_softmax(0), ((4, 6), S1))
case("layer_norm", lambda a, w, b: F.layer_norm(a, (6,), w, b), ((4, 3, 6), S1), ((6,), R),
     ((6,), R))
case("embedding_rowwise", lambda w: F.embedding(distribute_tensor(ids, mesh, R), w),
     ((8, 4), S0))
case("embedding_colwise", lambda w: F.embedding(distribute_tensor(ids, mesh, R), w),
     ((8, 4), S1))
case("index_select", lambda a: a.index_select(1, distribute_tensor(torch.tensor([0, 2]),
                                                                    mesh, R)), ((4, 4), S0))
case("where", lambda a, b: torch.where(a > 0, a, b), ((4, 4), S0), ((4, 4), S0))
case("type_as", lambda a, b: a.type_as(b) * b, ((4, 4), S0), ((4, 4), S0))
labels = distribute_tensor(torch.tensor([0, 5, 2, 3]), mesh, R)
with loss_parallel():
    logits = tensor((4, 6), S1)
    loss = F.cross_entropy(logits, labels)
    record("loss_parallel", loss)
    loss.backward()
    record("loss_parallel_grad", logits.grad)

# a Megatron-style MLP: colwise then rowwise, one backward
torch.manual_seed(0)
mlp = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.GELU(), torch.nn.Linear(8, 6)).double()
with torch.no_grad():
    for i, p in enumerate(mlp.parameters()):
        p.copy_(torch.arange(p.numel(), dtype=torch.float64).view(p.shape).mul(0.1 + i).cos())
mlp = parallelize_module(mlp, mesh, {"0": ColwiseParallel(), "2": RowwiseParallel()})
data = torch.arange(18.0, dtype=torch.float64).view(3, 6).sin()
result = mlp(data)
results["mlp_out"] = {"placements": [str(isinstance(result, DTensor))],
                      "value": result.detach().reshape(-1).tolist()}
(result ** 2).sum().backward()
for key, p in mlp.named_parameters():
    record(f"mlp_param_{key}", p)
    record(f"mlp_grad_{key}", p.grad)
with open(os.path.join(out, f"rank{rank}.json"), "w") as f:
    json.dump(results, f)
dist.barrier()
if framework == "torch":
    os._exit(0)  # gloo's teardown sometimes aborts at exit ("terminate called ...")
dist.destroy_process_group()
