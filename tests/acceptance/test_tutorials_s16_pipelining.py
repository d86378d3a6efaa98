"""Acceptance: the "Introduction to Distributed Pipeline Parallelism" tutorial on ember.

Source (pytorch/tutorials, BSD-3-Clause): intermediate_source/pipelining_tutorial.rst, its code
blocks kept verbatim in order (the model, ``init_distributed``, ``manual_model_split``,
``tracer_model_split`` and the main block), launched as the tutorial says,
``torchrun --nnodes 1 --nproc_per_node 2`` (``python -m ember.distributed.run``) with torch =
ember (``-m ember.compat``).

Substitutions, all of them:
- sizes, so that a CPU runs it in seconds: ``ModelArgs`` ``dim: int = 512`` -> ``16``,
  ``n_heads: int = 8`` -> ``2``, ``vocab_size: int = 10000`` -> ``50`` (``n_layers`` stays 8,
  which the manual split hard-codes), and the dummy batch ``(32, 500)`` -> ``(8, 6)``.
- two lines added before ``model = Transformer(model_args)``: ``torch.manual_seed(0)`` (both
  ranks build the same weights, so that rank 1 knows the unsplit model) and, after it,
  ``model.eval()`` (dropout off: the split model draws its dropout masks in another order
  than the unsplit one, so only a dropout-free run compares exactly).
- for the tracer variant, the main block's "Option 2" line is uncommented and "Option 1"'s
  commented, as the tutorial invites.
- ``CHECK`` runs after the tutorial's code on rank 1: the unsplit model on each microbatch of
  the batch. The tutorial's layers are not batch-first, so a microbatch (rows of ``x``) is a
  chunk of the *sequence* dimension and the unsplit model on the whole batch computes another
  attention; the oracle is therefore the unsplit model on the same microbatches: each of
  ``losses``, the merged ``output``, and the gradients of rank 1's parameters (GPipe averages
  the microbatch gradients).
"""
# The tutorial's code is kept verbatim, long lines included.
# ruff: noqa: E501

import importlib.util
import os
import shutil
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    shutil.which("mpiexec") is None and not os.path.exists(
        os.path.join(os.path.dirname(sys.executable), "mpiexec"))
    or importlib.util.find_spec("mpi4py") is None,
    reason="mpi4py or mpiexec is not installed (pip install mpi4py mpich)")

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

MODEL = '''
import torch
import torch.nn as nn
from dataclasses import dataclass

@dataclass
class ModelArgs:
   dim: int = 16
   n_layers: int = 8
   n_heads: int = 2
   vocab_size: int = 50

class Transformer(nn.Module):
   def __init__(self, model_args: ModelArgs):
      super().__init__()

      self.tok_embeddings = nn.Embedding(model_args.vocab_size, model_args.dim)

      # Using a ModuleDict lets us delete layers witout affecting names,
      # ensuring checkpoints will correctly save and load.
      self.layers = torch.nn.ModuleDict()
      for layer_id in range(model_args.n_layers):
            self.layers[str(layer_id)] = nn.TransformerDecoderLayer(model_args.dim, model_args.n_heads)

      self.norm = nn.LayerNorm(model_args.dim)
      self.output = nn.Linear(model_args.dim, model_args.vocab_size)

   def forward(self, tokens: torch.Tensor):
      # Handling layers being 'None' at runtime enables easy pipeline splitting
      h = self.tok_embeddings(tokens) if self.tok_embeddings else tokens

      for layer in self.layers.values():
            h = layer(h, h)

      h = self.norm(h) if self.norm else h
      output = self.output(h).clone() if self.output else h
      return output
'''

SETUP = '''
import os
import torch.distributed as dist
from torch.distributed.pipelining import pipeline, SplitPoint, PipelineStage, ScheduleGPipe

global rank, device, pp_group, stage_index, num_stages
def init_distributed():
   global rank, device, pp_group, stage_index, num_stages
   rank = int(os.environ["LOCAL_RANK"])
   world_size = int(os.environ["WORLD_SIZE"])
   device = torch.device(f"cuda:{rank}") if torch.cuda.is_available() else torch.device("cpu")
   dist.init_process_group()

   # This group can be a sub-group in the N-D parallel case
   pp_group = dist.new_group()
   stage_index = rank
   num_stages = world_size
'''

SPLITS = '''
def manual_model_split(model) -> PipelineStage:
   if stage_index == 0:
      # prepare the first stage model
      for i in range(4, 8):
            del model.layers[str(i)]
      model.norm = None
      model.output = None

   elif stage_index == 1:
      # prepare the second stage model
      for i in range(4):
            del model.layers[str(i)]
      model.tok_embeddings = None

   stage = PipelineStage(
      model,
      stage_index,
      num_stages,
      device,
   )
   return stage

def tracer_model_split(model, example_input_microbatch) -> PipelineStage:
   pipe = pipeline(
      module=model,
      mb_args=(example_input_microbatch,),
      split_spec={
         "layers.4": SplitPoint.BEGINNING,
      }
   )
   stage = pipe.build_stage(stage_index, device, pp_group)
   return stage
'''

MAIN = '''
if __name__ == "__main__":
   init_distributed()
   num_microbatches = 4
   model_args = ModelArgs()
   torch.manual_seed(0)
   model = Transformer(model_args)
   model.eval()

   # Dummy data
   x = torch.ones(8, 6, dtype=torch.long)
   y = torch.randint(0, model_args.vocab_size, (8, 6), dtype=torch.long)
   example_input_microbatch = x.chunk(num_microbatches)[0]

   # Option 1: Manual model splitting
   stage = manual_model_split(model)

   # Option 2: Tracer model splitting
   # stage = tracer_model_split(model, example_input_microbatch)

   model.to(device)
   x = x.to(device)
   y = y.to(device)

   def tokenwise_loss_fn(outputs, targets):
      loss_fn = nn.CrossEntropyLoss()
      outputs = outputs.reshape(-1, model_args.vocab_size)
      targets = targets.reshape(-1)
      return loss_fn(outputs, targets)

   schedule = ScheduleGPipe(stage, n_microbatches=num_microbatches, loss_fn=tokenwise_loss_fn)

   if rank == 0:
      schedule.step(x)
   elif rank == 1:
      losses = []
      output = schedule.step(target=y, losses=losses)
      print(f"losses: {losses}")
   dist.destroy_process_group()
'''

TRACER = ("   stage = manual_model_split(model)\n", "   # stage = tracer_model_split(model, example_input_microbatch)\n")

CHECK = '''
if rank == 1:
   torch.manual_seed(0)
   unsplit = Transformer(model_args)
   unsplit.eval()
   chunks = list(zip(x.chunk(num_microbatches), y.chunk(num_microbatches)))
   outs = [unsplit(xc) for xc, _ in chunks]
   want = [tokenwise_loss_fn(o, yc) for o, (_, yc) in zip(outs, chunks)]
   (sum(want) / num_microbatches).backward()
   assert len(losses) == num_microbatches
   for got, ref in zip(losses, want):
      assert abs(got.item() - ref.item()) < 1e-5, (got.item(), ref.item())
   assert (output - torch.cat(outs)).abs().max().item() < 1e-5
   ref_grads = dict(unsplit.named_parameters())
   mine = dict(stage.submod.named_parameters())
   assert mine and all(name in ref_grads for name in mine), sorted(mine)
   for name, p in mine.items():
      assert (p.grad - ref_grads[name].grad).abs().max().item() < 1e-5, name
   print(f"MATCH: {len(mine)} parameters of stage {stage.stage_index}")
'''


def tutorial(variant: str) -> str:
    main = MAIN
    if variant == "tracer":
        manual, tracer = TRACER
        main = main.replace(manual, "   # " + manual.lstrip()).replace(tracer, "   " + tracer[5:])
    return MODEL + SETUP + SPLITS + main + CHECK


@pytest.mark.parametrize("variant", ["manual", "tracer"])
def test_pipelining_tutorial(tmp_path, variant):
    (tmp_path / "pipelining_tutorial.py").write_text(tutorial(variant))
    env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "ember.distributed.run", "--nnodes", "1", "--nproc_per_node",
           "2", "-m", "ember.compat", "pipelining_tutorial.py"]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-4000:]
    assert proc.stdout.count("losses: [tensor(") == 1, proc.stdout
    assert "MATCH: " in proc.stdout and "of stage 1" in proc.stdout, proc.stdout
