"""Run by test_fsdp2_2d_vs_torch.py on 4 ranks, once with real PyTorch (gloo) and once with
ember (mpiexec, ``torch`` being ember): FSDP2 on 2-d meshes, HSDP over (replicate, shard) and
FSDP over tensor-parallel parameters on (dp, tp), each for one SGD step on this rank's part of
a batch: the parameters' placements and local shapes, the gradients' placements and local
values, and the parameters after the step (local and whole), written as JSON to
OUTDIR/rankR.json for the test to compare."""
import json
import os
import sys

framework, out = sys.argv[1], sys.argv[2]
if framework == "ember":
    import ember.compat
    ember.compat.install()
import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402
from torch.distributed.fsdp import fully_shard  # noqa: E402
from torch.distributed.tensor import init_device_mesh  # noqa: E402
from torch.distributed.tensor.parallel import (  # noqa: E402
    ColwiseParallel,
    RowwiseParallel,
    parallelize_module,
)

dist.init_process_group("mpi" if framework == "ember" else "gloo")
rank = dist.get_rank()
results = {}


def describe(p) -> str:
    if type(p).__name__ == "_StridedShard":
        return f"_S({p.dim},{p.split_factor})"
    if p.is_shard():
        return f"S({p.dim})"
    if p.is_partial():
        return f"P({p.reduce_op})"
    return "R"


def record(name, dt) -> None:
    results[name] = {"placements": [describe(p) for p in dt.placements],
                     "local_shape": list(dt.to_local().shape),
                     "local": dt.to_local().detach().reshape(-1).tolist(),
                     "value": dt.full_tensor().detach().reshape(-1).tolist()}


def deterministic(model: torch.nn.Module) -> torch.nn.Module:
    model = model.double()
    with torch.no_grad():
        for i, p in enumerate(model.parameters()):
            p.copy_(torch.arange(p.numel(), dtype=torch.float64).view(p.shape).mul(0.1 + i)
                    .cos())
    return model


def step(name: str, model: torch.nn.Module, data: torch.Tensor) -> None:
    (model(data) ** 2).sum().backward()
    for key, p in model.named_parameters():
        record(f"{name}_grad_{key}", p.grad)
    torch.optim.SGD(model.parameters(), lr=0.1).step()
    for key, value in model.state_dict().items():
        record(f"{name}_param_{key}", value)


# HSDP: a 2-layer MLP, each layer and the root sharded; each rank trains on its 2 rows
hsdp = init_device_mesh("cpu", (2, 2), mesh_dim_names=("replicate", "shard"))
mlp = deterministic(torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(),
                                        torch.nn.Linear(5, 3)))
for layer in (mlp[0], mlp[2]):
    fully_shard(layer, mesh=hsdp)
fully_shard(mlp, mesh=hsdp)
step("hsdp", mlp, torch.arange(24.0, dtype=torch.float64).view(8, 3).sin()[2 * rank:2 * rank + 2])


class MLP(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.up = torch.nn.Linear(4, 8)
        self.down = torch.nn.Linear(8, 4)

    def forward(self, x):
        return self.down(torch.tanh(self.up(x)))


# FSDP over TP: column- then row-parallel over "tp", sharded over "dp"; each dp group trains
# on its 2 rows
mesh = init_device_mesh("cpu", (2, 2), mesh_dim_names=("dp", "tp"))
tp_mlp = parallelize_module(deterministic(MLP()), mesh["tp"],
                            {"up": ColwiseParallel(), "down": RowwiseParallel()})
fully_shard(tp_mlp, mesh=mesh["dp"])
dp = mesh.get_local_rank("dp")
step("fsdp_tp", tp_mlp,
     torch.arange(16.0, dtype=torch.float64).view(4, 4).sin()[2 * dp:2 * dp + 2])
with open(os.path.join(out, f"rank{rank}.json"), "w") as f:
    json.dump(results, f)
dist.barrier()
if framework == "torch":
    os._exit(0)  # gloo's teardown sometimes aborts at exit ("terminate called ...")
dist.destroy_process_group()
