"""HuggingFace transformers' tensor parallelism on ember: on 2 MPI ranks, a tiny Llama saved
by ``save_pretrained`` is loaded with ``from_pretrained(..., tp_plan="auto")`` (its linear
layers sharded as DTensors by transformers' own plan, over ember.distributed.tensor.parallel)
and must give the unsharded model's logits, greedy generation and gradients (the oracle: the
same model unsharded, in the same run)."""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

transformers = pytest.importorskip("transformers")
pytest.importorskip("mpi4py")
# transformers' tp_plan loading needs accelerate, whose package requires torch: .ci/run
# installs it without torch and runs this test in its third-party stage
if importlib.util.find_spec("accelerate") is None:
    pytest.skip("accelerate is not installed", allow_module_level=True)

# transformers releases whose tensor-parallel loading this was run against
TESTED = ("5.24",)

SCRIPT = textwrap.dedent('''
    import json, os, sys
    import torch
    import torch.distributed as dist
    from transformers import AutoModelForCausalLM, LlamaConfig

    out = sys.argv[1]
    dist.init_process_group("mpi")
    rank = dist.get_rank()
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(dist.get_world_size()),
                      LOCAL_RANK=str(rank))
    config = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=64)
    torch.manual_seed(0)
    whole = AutoModelForCausalLM.from_config(config).double().eval()
    saved = os.path.join(out, "saved")
    if rank == 0:
        whole.save_pretrained(saved)
    dist.barrier()
    sharded = AutoModelForCausalLM.from_pretrained(saved, tp_plan="auto",
                                                   dtype=torch.float64).eval()
    ids = torch.tensor([[1, 5, 9, 3, 7, 2]])
    logits = sharded(ids).logits
    report = {
        "sharded": sum(hasattr(p, "placements") for p in sharded.parameters()),
        "logits_diff": (logits - whole(ids).logits).abs().max().item(),
        "generate_equal": bool((whole.generate(ids, max_new_tokens=4, do_sample=False)
                                == sharded.generate(ids, max_new_tokens=4,
                                                    do_sample=False)).all()),
    }
    whole.train(); sharded.train()
    whole(ids, labels=ids).loss.backward()
    sharded(ids, labels=ids).loss.backward()
    reference = dict(whole.named_parameters())
    report["grad_diff"] = max(
        ((p.grad.full_tensor() if hasattr(p.grad, "full_tensor") else p.grad)
         - reference[name].grad).abs().max().item() for name, p in sharded.named_parameters())
    with open(os.path.join(out, f"rank{rank}.json"), "w") as f:
        json.dump(report, f)
''')


def _mpiexec() -> str | None:
    here = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    return here if os.path.exists(here) else shutil.which("mpiexec")


def test_tp_plan_auto_matches_the_unsharded_model(tmp_path):
    if not transformers.__version__.startswith(TESTED):
        pytest.skip(f"transformers {transformers.__version__}: checked with {TESTED} only")
    if _mpiexec() is None:
        pytest.skip("mpiexec is not installed")
    script = tmp_path / "tp.py"
    script.write_text(SCRIPT)
    done = subprocess.run([_mpiexec(), "-n", "2", sys.executable, "-m", "ember.compat",
                           str(script), str(tmp_path)], capture_output=True, text=True,
                          timeout=300, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    for rank in range(2):
        report = json.loads((tmp_path / f"rank{rank}.json").read_text())
        assert report["sharded"] > 0  # transformers' plan made DTensor parameters
        assert report["logits_diff"] == 0.0
        assert report["generate_equal"]
        assert report["grad_diff"] < 1e-12
