"""A script for ember.distributed.run / launch: ``dist_worker_run.py [--local-rank=R] OUTDIR
[fail] [args]`` (launch without --use-env passes ``--local-rank`` first).

Each rank writes OUTDIR/rankR.txt: its rank and size from MPI, the torchrun variables, the sum
of all ranks' ``rank + 1`` and its command-line arguments. With ``fail``, rank 1 exits with
code 3 while rank 0 waits in a collective.
"""
import os
import sys

import ember
import ember.distributed as dist

local = [a for a in sys.argv[1:] if a.startswith("--local-rank=")]
out, *args = [a for a in sys.argv[1:] if a not in local]
dist.init_process_group("gloo")
rank = dist.get_rank()
if "fail" in args and rank == 1:
    sys.exit(3)
t = ember.full((2,), float(rank + 1))
dist.all_reduce(t)
env = {name: os.environ.get(name) for name in ("RANK", "LOCAL_RANK", "WORLD_SIZE",
                                               "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")}
with open(os.path.join(out, f"rank{rank}.txt"), "w") as f:
    f.write(repr({"rank": rank, "size": dist.get_world_size(), "env": env, "sum": t.tolist(),
                  "args": args, "local": local, "elastic": dist.is_torchelastic_launched()}))
dist.destroy_process_group()
