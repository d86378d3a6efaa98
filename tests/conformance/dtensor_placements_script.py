"""Run by test_fsdp2_dtensor_vs_torch.py on 2 ranks, once with real PyTorch (gloo) and once
with ember (mpiexec, ``torch`` being ember): the placements and values of DTensor ops and of
gradients, and an FSDP2 training step (sharded shapes, gradient placements, values), written
as JSON to OUTDIR/rankR.json for the test to compare."""
import json
import os
import sys

framework, out = sys.argv[1], sys.argv[2]
if framework == "ember":
    import ember.compat
    ember.compat.install()
import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402
from torch.distributed.tensor import (  # noqa: E402
    DTensor,
    Partial,
    Replicate,
    Shard,
    distribute_tensor,
    init_device_mesh,
)

dist.init_process_group("mpi" if framework == "ember" else "gloo")
rank = dist.get_rank()
mesh = init_device_mesh("cpu", (2,))


def describe(p) -> str:
    if p.is_shard():
        return f"S({p.dim})"
    if p.is_partial():
        return f"P({p.reduce_op})"
    return "R"


results = {}


def record(name, dt) -> None:
    results[name] = {"placements": [describe(p) for p in dt.placements],
                     "value": dt.full_tensor().detach().double().reshape(-1).tolist()}


x = distribute_tensor(torch.arange(24.0, dtype=torch.float64).view(8, 3).sin(), mesh, [Shard(0)])
row = distribute_tensor(torch.arange(1.0, 4.0, dtype=torch.float64), mesh, [Replicate()])
same = distribute_tensor(torch.ones(8, 3, dtype=torch.float64), mesh, [Replicate()])
for name, op in [("exp", lambda: x.exp()), ("scale", lambda: x * 2), ("add", lambda: x + x),
                 ("times_replicate", lambda: x * same), ("times_row", lambda: x * row),
                 ("sum", lambda: x.sum()), ("sum0", lambda: x.sum(0)),
                 ("sum1", lambda: x.sum(1)), ("sum0_keepdim", lambda: x.sum(0, keepdim=True)),
                 ("mean", lambda: x.mean()), ("mean0", lambda: x.mean(0)),
                 ("norm", lambda: x.norm()), ("norm1", lambda: torch.linalg.vector_norm(x, 1)),
                 ("norm_inf", lambda: torch.linalg.vector_norm(x, float("inf"))),
                 ("amax", lambda: x.amax()), ("max", lambda: x.max()),
                 ("amin1", lambda: x.amin(1)), ("zeros_like", lambda: torch.zeros_like(x)),
                 ("clone", lambda: x.clone()), ("detach", lambda: x.detach()),
                 ("float", lambda: x.float())]:
    record(name, op())
p = DTensor.from_local(torch.full((2,), rank + 1.0, dtype=torch.float64), mesh, [Partial()])
for name, op in [("p_scale", lambda: p * 2), ("p_add", lambda: p + p),
                 ("p_plus_one", lambda: p + 1), ("p_exp", lambda: p.exp()),
                 ("p_neg", lambda: -p), ("p_div", lambda: p / 2),
                 ("p_float", lambda: p.float()), ("p_zeros_like", lambda: torch.zeros_like(p)),
                 ("p_ones_like", lambda: torch.ones_like(p)), ("p_sum", lambda: p.sum()),
                 ("p_clone", lambda: p.clone()), ("p_detach", lambda: p.detach()),
                 ("p_stack", lambda: torch.stack([p, p])),
                 ("norm_of_norms", lambda: torch.stack([x.norm(), (x * 2).norm()]).norm())]:
    record(name, op())
w = distribute_tensor(torch.arange(24.0, dtype=torch.float64).view(8, 3).cos(), mesh,
                      [Shard(0)])
w.requires_grad_()
(w * x).sin().sum().backward()
record("grad_of_shard", w.grad)
leaf = torch.full((4, 3), rank + 1.0, dtype=torch.float64, requires_grad=True)
(DTensor.from_local(leaf, mesh, [Shard(0)]).full_tensor() ** 2).sum().backward()
results["from_local_grad"] = {"placements": [], "value": leaf.grad.reshape(-1).tolist()}
# FSDP2: a 2-layer MLP with each layer and the root sharded, one SGD step on this rank's half
from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard  # noqa: E402

for name, policy in [("fsdp", MixedPrecisionPolicy()),
                     ("fsdp_mp", MixedPrecisionPolicy(param_dtype=torch.float32))]:
    model = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3))
    model = model.double()
    with torch.no_grad():
        for i, p_ in enumerate(model.parameters()):
            p_.copy_(torch.arange(p_.numel(), dtype=torch.float64).view(p_.shape).mul(0.1 + i)
                     .cos())
    for layer in (model[0], model[2]):
        fully_shard(layer, mesh=mesh, mp_policy=policy)
    fully_shard(model, mesh=mesh, mp_policy=policy)
    data = torch.arange(12.0, dtype=torch.float64).view(4, 3).sin()[2 * rank:2 * rank + 2]
    out_ = model(data)
    results[name + "_out_dtype"] = {"placements": [], "value": [out_.dtype.itemsize]}
    (out_.double() ** 2).sum().backward()
    for key, p_ in model.named_parameters():
        results[f"{name}_local_shape_{key}"] = {"placements": [], "value": list(p_.to_local()
                                                                              .shape)}
        record(f"{name}_grad_{key}", p_.grad)
    torch.optim.SGD(model.parameters(), lr=0.1).step()
    for key, value in model.state_dict().items():
        record(f"{name}_param_{key}", value)
with open(os.path.join(out, f"rank{rank}.json"), "w") as f:
    json.dump(results, f)
dist.barrier()
if framework == "torch":
    os._exit(0)  # gloo's teardown sometimes aborts at exit ("terminate called ...")
dist.destroy_process_group()
