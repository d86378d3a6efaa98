"""Acceptance: pytorch/examples ``distributed/FSDP2``, ``distributed/tensor_parallelism`` and
``distributed/dcgan`` run by real processes on ember (CPU ranks, torch = ember).

The upstream files are stored verbatim under ``data/examples_s19_distributed/`` (commits in its
README), written into ``tmp_path`` and launched as their READMEs say, ``torchrun
--nproc_per_node=N`` (``python -m ember.distributed.run ... -m ember.compat``):

- FSDP2 ``example.py`` (with ``model.py``, ``utils.py``, ``checkpoint.py``), 2 ranks: a
  Transformer built on the meta device, ``fully_shard`` on each layer and the root
  (``MixedPrecisionPolicy`` with ``--mixed-precision``, explicit prefetching with
  ``--explicit-prefetching``), ``to_empty`` and ``reset_parameters``, Adam with
  ``clip_grad_norm_``, and full-state-dict checkpoints saved by rank 0 and loaded on the next
  run, through DTensors (``distribute_tensor``, ``load_state_dict(assign=True)``) or through
  DCP's ``get/set_model_state_dict`` and ``get/set_optimizer_state_dict`` (``--dcp-api``).
- tensor_parallelism (with ``log_utils.py``), 2 ranks: ``tensor_parallel_example.py``
  (``ColwiseParallel``/``RowwiseParallel``) and ``sequence_parallel_example.py`` (the same with
  ``Shard(0)`` input and output layouts); 4 ranks: ``fsdp_tp_example.py`` (``llama2_model.py``
  on a ``(dp=2, tp=2)`` mesh: ``SequenceParallel`` norms, ``PrepareModuleInput``, a
  ``RowwiseParallel`` embedding, then FSDP1 ``FullyShardedDataParallel`` over the ``dp`` mesh
  with ``use_orig_params=True``).
- dcgan ``main.py``, 2 ranks, as its ``run_example.sh`` runs it (``--dataset fake --dry-run``):
  DCGAN under ``DistributedDataParallel`` with a ``DistributedSampler`` over FakeData, one
  step of D and G (Adam, BCELoss), sample images and per-rank checkpoints.

Substitutions, all of them (``write_example`` checks each matches once):
- GPUs: ``verify_min_gpu_count`` returns True (CPU ranks stand in for the GPUs it asks for);
  tensor_parallelism's ``"cuda"`` -> ``"cpu"`` (FSDP2's example picks ``"cpu"`` and the gloo
  backend itself when no accelerator is present).
- Sizes: FSDP2 ``vocab_size`` 1024 -> 32, ``batch_size`` 32 -> 2, ``seq_len`` 64 -> 8,
  ``n_layers`` 10 -> 2 and 10 steps -> 2; tensor_parallelism ``num_iters`` 10 -> 2;
  fsdp_tp ``ModelArgs(dim=256, n_layers=2, n_heads=16, vocab_size=32000)`` -> ``dim=16``,
  ``n_heads=4``, ``vocab_size=64``, its input ``randint(32000, (8, 256))`` ->
  ``randint(64, (2, 8))`` and ``num_iterations`` 10 -> 2.
- FSDP2: ``init_process_group(backend=backend, device_id=device)`` -> without ``device_id``:
  its CPU fallback passes the CPU device, which PyTorch refuses ("device_id parameter must be
  an accelerator with an index"), as ember does.
- FSDP2: after ``model.reset_parameters()`` two lines also reset each layer
  (``TransformerBlock.reset_parameters``): the example's root ``reset_parameters`` initialises
  only the root's own modules, so after ``to_empty`` the layers hold uninitialised memory (in
  PyTorch too), which makes the first run's numbers (often NaN) meaningless.
- fsdp_tp: ``FSDP(...)`` gets ``device_id=torch.device("cpu")``: without an accelerator
  PyTorch's FSDP refuses to start unless its device is named the CPU.
- dcgan, devices only: ``torch.accelerator.current_accelerator()`` -> ``torch.device("cpu")``
  (twice; it is None without an accelerator), ``torch.accelerator.set_device_index(rank)``
  dropped, ``getattr(torch, device.type).manual_seed_all(...)`` -> ``torch.manual_seed(...)``
  (``torch.cpu`` has no ``manual_seed_all``), ``.to(rank)`` -> ``.to(device)`` and
  ``device_ids=[rank]`` -> ``device_ids=None`` (PyTorch refuses device ids for CPU modules).
  Sizes through its options: ``--nz 8 --ngf 4 --ndf 4 --batchSize 4 --workers 0``, and
  ``--manualSeed 1`` so that the replay draws the same weights and noise.
- tensor_parallelism: an observer goes before the example's code (``OBSERVER``,
  ``OBSERVER_2D``): global hooks that save, on each rank, each step's input and the
  parameters (full tensors) the model holds before and after the step, with the gradients
  (``OBSERVER``), or the loss and the parameters FSDP gathered for forward (``OBSERVER_2D``).

Oracles: one process of plain ember replaying the same steps on the same data. FSDP2: from the
first run's checkpoint (model and Adam state), the second run's checkpoint (each rank draws the
same batch, so the averaged gradient is the one-process gradient; with mixed precision the
replay computes in a bfloat16 copy and steps the float32 weights). Tensor parallel: the
gradients of the unsharded model, accumulated over the steps (the example never zeroes them);
its optimizer was built before ``parallelize_module`` replaced the parameters, so, in PyTorch
as here, it steps none of the model's parameters, which stay as they started. Sequence
parallel: the unsharded model on the two ranks' inputs concatenated, stepped by AdamW. FSDP +
TP: each step's loss is the unsharded model's on that data-parallel group's input, and the
second step's parameters are one AdamW step from the first's with the groups' gradients
averaged. DCGAN: the two ranks' printed losses and D outputs, and the saved weights, are a
one-process replay's (each rank's batch normalised by its own statistics, gradients averaged).
tests/conformance/test_pytorch_examples_s19_distributed_vs_torch.py checks that real PyTorch's
runs meet the same oracles.
"""
from __future__ import annotations

import copy
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from acceptance_runner import run
from script_report import pytorch_prefix

import ember

pytestmark = pytest.mark.skipif(
    shutil.which("mpiexec") is None and not os.path.exists(
        os.path.join(os.path.dirname(sys.executable), "mpiexec"))
    or importlib.util.find_spec("mpi4py") is None,
    reason="mpi4py or mpiexec is not installed (pip install mpi4py mpich)")

DATA = Path(__file__).parent / "data" / "examples_s19_distributed"
REPO = Path(__file__).resolve().parents[2]

ALWAYS_A_GPU = ("    return has_gpu and gpu_count >= min_gpus\n", "    return True\n")
FSDP2_SUBSTITUTIONS = {
    "example.py": [
        ALWAYS_A_GPU,
        ("    vocab_size = 1024\n", "    vocab_size = 32\n"),
        ("    batch_size = 32\n", "    batch_size = 2\n"),
        ("    seq_len = 64\n", "    seq_len = 8\n"),
        ("        n_layers=10,\n", "        n_layers=2,\n"),
        ("    for _ in range(10):\n", "    for _ in range(2):\n"),
        ("init_process_group(backend=backend, device_id=device)",
         "init_process_group(backend=backend)"),
        ("        model.reset_parameters()\n",
         "        model.reset_parameters()\n"
         "        for layer in model.layers:\n"
         "            layer.reset_parameters()\n"),
    ],
}
FSDP2_ARGS = dict(n_layers=2, n_heads=4, vocab_size=32, max_seq_len=8, dropout_p=0)
FSDP2_BATCH, FSDP2_STEPS = (2, 8), 2

OBSERVER = '''
import os as _os
import torch as _torch
from torch.nn.modules.module import register_module_forward_pre_hook as _forward_pre
from torch.optim.optimizer import register_optimizer_step_post_hook as _post
_seen = {"inputs": [], "before": [], "after": [], "grads": []}


def _full(t):
    return t.full_tensor() if isinstance(t, _torch.distributed.tensor.DTensor) else t


def _state(model):
    return {n: _full(p.detach()).clone() for n, p in model.named_parameters()}


def _record_input(module, args):
    if type(module).__name__ == "ToyModel":
        _seen["model"] = module
        _seen["inputs"].append(args[0].detach().clone())
        _seen["before"].append(_state(module))


def _record_step(optimizer, args, kwargs):
    model = _seen["model"]
    _seen["after"].append(_state(model))
    _seen["grads"].append({n: _full(p.grad).clone() for n, p in model.named_parameters()})
    rank = _torch.distributed.get_rank()
    _torch.save({k: v for k, v in _seen.items() if k != "model"}, f"observed{rank}.pt")


_forward_pre(_record_input)
_post(_record_step)
'''
# fsdp_tp_example: each step's input and loss, and the parameters its forward sees (gathered
# by FSDP, each a TP DTensor, made whole)
OBSERVER_2D = '''
import torch as _torch
from torch.nn.modules.module import register_module_forward_hook as _forward
from torch.nn.modules.module import register_module_forward_pre_hook as _forward_pre
_seen = {"inputs": [], "params": [], "losses": []}


def _unsharded(module, name):
    for part in name.split("."):
        module = getattr(module, part)
    return module.full_tensor().detach().clone()


def _record_input(module, args):
    if type(module).__name__ == "Transformer":
        _seen["inputs"].append(args[0].clone())
        _seen["params"].append({n: _unsharded(module, n) for n, _ in module.named_parameters()})


def _record_loss(module, args, output):
    if type(module).__name__ == "Transformer":
        _seen["losses"].append(output.detach().sum().item())
        _torch.save(_seen, f"observed{_torch.distributed.get_rank()}.pt")


_forward_pre(_record_input)
_forward(_record_loss)
'''
TP_SUBSTITUTIONS = {
    "log_utils.py": [("    return has_cuda and gpu_count >= min_gpus\n", "    return True\n")],
    "tensor_parallel_example.py": [
        ('device_mesh = init_device_mesh(device_type="cuda", ',
         'device_mesh = init_device_mesh(device_type="cpu", '),
        ('tp_model = ToyModel().to("cuda")', 'tp_model = ToyModel().to("cpu")'),
        ('inp = torch.rand(20, 10, device="cuda")', 'inp = torch.rand(20, 10, device="cpu")'),
        ("num_iters = 10\n", "num_iters = 2\n")],
    "sequence_parallel_example.py": [
        ('    device_type="cuda", ', '    device_type="cpu", '),
        ('model = ToyModel().to("cuda")', 'model = ToyModel().to("cpu")'),
        ('inp = torch.rand(20, 10, device="cuda")', 'inp = torch.rand(20, 10, device="cpu")'),
        ("num_iters = 10\n", "num_iters = 2\n")],
    "fsdp_tp_example.py": [
        ('init_device_mesh("cuda", ', 'init_device_mesh("cpu", '),
        ('.to("cuda")', '.to("cpu")'),
        ('device="cuda"', 'device="cpu"'),
        ("ModelArgs(dim=256, n_layers=2, n_heads=16, vocab_size=32000)",
         "ModelArgs(dim=16, n_layers=2, n_heads=4, vocab_size=64)"),
        ("torch.randint(32000, (8, 256)", "torch.randint(64, (2, 8)"),
        ("num_iterations = 10\n", "num_iterations = 2\n"),
        ("FSDP(model, device_mesh=dp_mesh, use_orig_params=True)",
         'FSDP(model, device_mesh=dp_mesh, use_orig_params=True, device_id=torch.device("cpu"))'),
    ],
}
LLAMA_ARGS = dict(dim=16, n_layers=2, n_heads=4, vocab_size=64)


def write_example(kind: str, substitutions: dict, folder: Path,
                  prefixes: dict | None = None) -> Path:
    """The stored ``kind`` files as ``.py`` files in ``folder``, each substitution matching
    exactly once, ``prefixes[name]`` put before a file's code."""
    folder.mkdir(parents=True, exist_ok=True)
    for stored in sorted((DATA / kind).glob("*.py.txt")):
        name = stored.name[:-len(".txt")]
        text = stored.read_text()
        for old, new in substitutions.get(name, []):
            assert text.count(old) == 1, (name, old)
            text = text.replace(old, new)
        (folder / name).write_text((prefixes or {}).get(name, "") + text)
    return folder


def torchrun(folder: Path, script: str, *args: str, torch=ember, nproc: int = 2) -> str:
    """``torchrun --standalone --nproc_per_node=<nproc> script args`` from ``folder`` with
    torch = ember (``torch``: real PyTorch, its own torchrun, with real torchvision usable);
    what the ranks printed (stdout, then the log on stderr)."""
    if torch is ember:
        cmd = [sys.executable, "-m", "ember.distributed.run", "--standalone",
               f"--nproc_per_node={nproc}", "-m", "ember.compat", script, *args]
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc_per_node={nproc}", *pytorch_prefix(), script, *args]
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    done = subprocess.run(cmd, cwd=folder, env=env, capture_output=True, text=True, timeout=180)
    if torch is not ember and done.returncode and "terminate called without an active exception" \
            in done.stderr:
        # PyTorch's own ranks abort now and then in its C++ teardown (seen once in CI on the
        # FSDP2 example): the oracle gave no answer, which says nothing about ember
        pytest.skip("real PyTorch's torchrun aborted in its C++ runtime (terminate called "
                    "without an active exception)")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    return done.stdout + done.stderr


def module_of(source: str, torch) -> dict:
    """The namespace of ``source`` run with ``torch`` (ember through the alias)."""
    if torch is ember:
        return run(source)
    ns = {"__name__": "example_module"}
    exec(compile(source, "example_module.py", "exec", dont_inherit=True), ns)
    return ns


def assert_states_close(got, want, rtol: float = 1e-5, atol: float = 1e-6, path: str = "") -> None:
    """Equal nested states: tensors within tolerance, everything else equal (a tuple equal to
    the list of its items: PyTorch's DCP loads an optimizer's ``betas`` back as a list)."""
    if isinstance(want, dict):
        assert sorted(got, key=str) == sorted(want, key=str), path
        for key, value in want.items():
            assert_states_close(got[key], value, rtol, atol, f"{path}/{key}")
    elif isinstance(want, (list, tuple)):
        assert isinstance(got, (list, tuple)) and len(got) == len(want), (path, got, want)
        for i, (g, w) in enumerate(zip(got, want)):
            assert_states_close(g, w, rtol, atol, f"{path}[{i}]")
    elif hasattr(want, "numpy"):
        np.testing.assert_allclose(got.detach().float().numpy(), want.detach().float().numpy(),
                                   rtol=rtol, atol=atol, err_msg=path)
    else:
        assert got == want, (path, got, want)


# ---------------------------------------------------------------- FSDP2
FSDP2_FLAGS = {"dtensor_api": [], "dcp_api": ["--dcp-api"],
               "mixed_precision": ["--mixed-precision", "--explicit-prefetching"]}


def by_index(optim_state: dict, names: list) -> dict:
    """DCP's full optimizer state (keyed by parameter names) keyed by parameter index."""
    return {"state": {names.index(k): v for k, v in optim_state["state"].items()},
            "param_groups": [dict(g, params=[names.index(k) for k in g["params"]])
                             for g in optim_state["param_groups"]]}


def fsdp2_replay(model_source: str, model_state: dict, optim_state: dict, mixed: bool,
                 torch) -> tuple:
    """One process: the example's training loop from a checkpoint, on the batches it draws
    after ``torch.manual_seed(0)`` (the same on both ranks); with ``mixed``, forward and
    backward in a bfloat16 copy whose gradients, made float32, step the float32 weights."""
    ns = module_of(model_source, torch)
    model = ns["Transformer"](ns["ModelArgs"](**FSDP2_ARGS))
    model.load_state_dict(model_state)
    optim = torch.optim.Adam(model.parameters(), lr=1e-2)
    optim.load_state_dict(optim_state)
    torch.manual_seed(0)
    for _ in range(FSDP2_STEPS):
        x = torch.randint(0, FSDP2_ARGS["vocab_size"], FSDP2_BATCH)
        computing = copy.deepcopy(model).to(torch.bfloat16) if mixed else model
        computing(x).sum().backward()
        if mixed:
            for p, low in zip(model.parameters(), computing.parameters()):
                p.grad = low.grad.float()
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
        optim.step()
        optim.zero_grad()
    return model.state_dict(), optim.state_dict()


def check_fsdp2_example(folder: Path, variant: str, torch=ember) -> None:
    """Two runs of the FSDP2 example (the second resumes from the first's checkpoint); the
    second's checkpoint is the one-process replay's from the first's."""
    flags = FSDP2_FLAGS[variant]
    write_example("FSDP2", FSDP2_SUBSTITUTIONS, folder)
    first = torchrun(folder, "example.py", *flags, torch=torch)
    assert first.count("Running on device cpu") == 2, first
    assert "FSDPTransformer(" in first and "FSDPTransformerBlock(" in first, first
    torchrun(folder, "example.py", *flags, torch=torch)
    api = "dcp_api" if variant == "dcp_api" else "dtensor_api"
    runs = sorted((folder / "checkpoints" / api).iterdir(), key=lambda p: int(p.name))
    (model1, optim1), (model2, optim2) = [
        (torch.load(run / "model_state_dict.pt"), torch.load(run / "optim_state_dict.pt"))
        for run in runs]
    assert all(v.dtype == torch.float32 and torch.isfinite(v).all() for v in model2.values())
    if variant == "dcp_api":
        optim1, optim2 = by_index(optim1, list(model1)), by_index(optim2, list(model1))
    steps = [s["step"].item() for s in optim2["state"].values()]
    assert steps == [2 * FSDP2_STEPS] * len(model2)
    want_model, want_optim = fsdp2_replay((folder / "model.py").read_text(), model1, optim1,
                                          variant == "mixed_precision", torch)
    assert_states_close(model2, want_model, rtol=1e-4, atol=1e-5)
    assert_states_close(optim2, want_optim, rtol=1e-4, atol=1e-6)
    assert any((model2[k] - model1[k]).abs().max() > 1e-3 for k in model1)


@pytest.mark.parametrize("variant", list(FSDP2_FLAGS))
def test_fsdp2_example_trains_and_resumes_as_one_process(tmp_path, variant):
    check_fsdp2_example(tmp_path, variant)


# ---------------------------------------------------------------- tensor parallelism
def check_tensor_parallel_example(folder: Path, script: str, torch=ember) -> None:
    """The example's steps, observed on each rank, are the unsharded model's on the same
    inputs (NOTE in the module docstring: TP's optimizer steps nothing)."""
    write_example("tensor_parallelism", TP_SUBSTITUTIONS, folder, {script: OBSERVER})
    log = torchrun(folder, script, torch=torch)
    sequence = script.startswith("sequence")
    kind = "Sequence Parallel" if sequence else "TP"
    assert log.count(f"Starting PyTorch {kind} example on rank") == 2, log
    assert f"{kind if sequence else 'Tensor Parallel'} training completed!" in log, log
    ranks = [torch.load(folder / f"observed{rank}.pt") for rank in range(2)]
    assert [len(r["after"]) for r in ranks] == [2, 2]
    source = (folder / script).read_text()
    code = source[source.index("class ToyModel"):source.index('"""\nMain body')]
    model = module_of("import torch\nimport torch.nn as nn\n" + code, torch)["ToyModel"]()
    start = ranks[0]["before"][0]
    model.load_state_dict(start)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.25, foreach=True)
    for step in range(2):
        inputs = [r["inputs"][step] for r in ranks]
        if not sequence:  # every TP rank draws the same input (seeded by the step)
            np.testing.assert_array_equal(inputs[0].numpy(), inputs[1].numpy())
        model(torch.cat(inputs) if sequence else inputs[0]).sum().backward()
        if sequence:  # only SP's optimizer holds the parallelized parameters
            optimizer.step()
        want_grads = {n: p.grad for n, p in model.named_parameters()}
        for r in ranks:
            assert_states_close(r["before"][step], ranks[0]["before"][step])
            assert_states_close(r["grads"][step], want_grads)
            assert_states_close(r["after"][step], model.state_dict() if sequence else start)


@pytest.mark.parametrize("script", ["tensor_parallel_example.py",
                                    "sequence_parallel_example.py"])
def test_tensor_parallel_examples_match_one_process(tmp_path, script):
    check_tensor_parallel_example(tmp_path, script)


def check_fsdp_tp_example(folder: Path, torch=ember) -> None:
    """Four ranks, a (dp=2, tp=2) mesh: each step's loss is the unsharded model's on that data
    parallel group's input, with the parameters forward saw; the second step's parameters are
    one AdamW step from the first's with the two groups' gradients averaged."""
    write_example("tensor_parallelism", TP_SUBSTITUTIONS, folder,
                  {"fsdp_tp_example.py": OBSERVER_2D})
    log = torchrun(folder, "fsdp_tp_example.py", torch=torch, nproc=4)
    assert log.count("Starting PyTorch 2D (FSDP + TP) example on rank") == 4, log
    assert "2D training successfully completed!" in log, log
    ranks = [torch.load(folder / f"observed{rank}.pt") for rank in range(4)]
    ns = module_of((folder / "llama2_model.py").read_text(), torch)
    model = ns["Transformer"].from_model_args(ns["ModelArgs"](**LLAMA_ARGS))
    model.load_state_dict(ranks[0]["params"][0], strict=False)  # freqs_cis: a buffer
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, foreach=True)
    for step in range(2):
        for rank, record in enumerate(ranks):  # ranks 2r and 2r+1 form data parallel group r
            group = ranks[rank - rank % 2]
            np.testing.assert_array_equal(record["inputs"][step].numpy(),
                                          group["inputs"][step].numpy())
            # AdamW's first step divides a gradient by its own size: one near zero, summed in
            # another order, moves its parameter by a visibly different fraction of lr (3e-3)
            assert_states_close(record["params"][step], dict(model.named_parameters()),
                                rtol=1e-4, atol=2e-4)
        losses = []
        for group in (ranks[0], ranks[2]):
            loss = model(group["inputs"][step]).sum()
            (loss / 2).backward()  # FSDP averages the groups' gradients
            losses.append(loss.item())
        for rank, record in enumerate(ranks):
            np.testing.assert_allclose(record["losses"][step], losses[rank // 2], rtol=1e-4)
        optimizer.step()  # the example never zeroes the gradients: they accumulate


def test_fsdp_tp_example_matches_one_process(tmp_path):
    check_fsdp_tp_example(tmp_path)


# ---------------------------------------------------------------- DDP DCGAN
DCGAN_SUBSTITUTIONS = {
    "main.py": [
        ALWAYS_A_GPU,
        ("    acc = torch.accelerator.current_accelerator()\n", '    acc = torch.device("cpu")\n'),
        ("    torch.accelerator.set_device_index(rank)\n", ""),
        ("    device = torch.accelerator.current_accelerator()\n",
         '    device = torch.device("cpu")\n'),
        ("    getattr(torch, device.type).manual_seed_all(opt.manualSeed)\n",
         "    torch.manual_seed(opt.manualSeed)\n"),
        ("    netG = Generator(nz,ngf,nc).to(rank)\n",
         "    netG = Generator(nz,ngf,nc).to(device)\n"),
        ("    netD = Discriminator(ndf, nc).to(rank)\n",
         "    netD = Discriminator(ndf, nc).to(device)\n"),
        ("            real_cpu = data[0].to(rank)\n",
         "            real_cpu = data[0].to(device)\n"),
        ("    netG = DDP(netG, device_ids=[rank])\n", "    netG = DDP(netG, device_ids=None)\n"),
        ("    netD = DDP(netD, device_ids=[rank])\n", "    netD = DDP(netD, device_ids=None)\n"),
    ],
}
DCGAN_ARGS = ["--dataset", "fake", "--dry-run", "--nz", "8", "--ngf", "4", "--ndf", "4",
              "--batchSize", "4", "--workers", "0", "--manualSeed", "1", "--outf", "out"]
# The ranks print at once: where a print's text and its newline are two writes (unbuffered
# output), another rank's line can start right after a number, so the numbers are matched by
# their format (":.4f"), not up to the next space.
_DCGAN_NUMBER = r"(-?\d+\.\d{4}|nan|-?inf)"
DCGAN_LINE = (r"\[0/1\]\[0/125\]\[Rank (\d)\] Loss_D: {0} Loss_G: {0} D\(x\): {0} "
              r"D\(G\(z\)\): {0} / {0}").format(_DCGAN_NUMBER)


def dcgan_replay(ns: dict, torch) -> tuple:
    """One process replays the two ranks' dry-run step (both seeded alike, so both draw the
    same weights and noise; each its half of FakeData): D's step on the ranks' gradients
    averaged, each rank's batch normalised by its own statistics, then G's. Returns each
    rank's printed numbers and the stepped generator and discriminator."""
    torch.manual_seed(1)
    opt = type("Opt", (), {"dataroot": None, "dataset": "fake", "imageSize": 64})
    dataset = ns["get_dataset"](opt)
    sampler = torch.utils.data.distributed.DistributedSampler
    loaders = [torch.utils.data.DataLoader(dataset, batch_size=4, num_workers=0,
                                           sampler=sampler(dataset, num_replicas=2, rank=r))
               for r in range(2)]
    netG = ns["Generator"](8, 4, 3)
    netG.apply(ns["weights_init"])
    netD = ns["Discriminator"](4, 3)
    netD.apply(ns["weights_init"])
    torch.randn(4, 8, 1, 1)  # fixed_noise
    state = torch.get_rng_state()
    reals = []
    for loader in loaders:  # each rank starts its own iterator from the same random state
        torch.set_rng_state(state)
        reals.append(next(iter(loader))[0])
    noise = torch.randn(4, 8, 1, 1)
    criterion = torch.nn.BCELoss()
    optimizerD = torch.optim.Adam(netD.parameters(), lr=0.0002, betas=(0.5, 0.999))
    optimizerG = torch.optim.Adam(netG.parameters(), lr=0.0002, betas=(0.5, 0.999))
    fake = netG(noise)
    lines = []
    for real in reals:
        out_real = netD(real)
        out_fake = netD(fake.detach())
        errD = criterion(out_real, torch.ones(4)) + criterion(out_fake, torch.zeros(4))
        (errD / 2).backward()  # DDP averages the ranks' gradients
        lines.append([errD.item(), out_real.mean().item(), out_fake.mean().item()])
    optimizerD.step()
    output = netD(fake)
    errG = criterion(output, torch.ones(4))
    errG.backward()
    optimizerG.step()
    numbers = [[d, errG.item(), x, z1, output.mean().item()] for d, x, z1 in lines]
    return numbers, netG, netD


def check_dcgan_example(folder: Path, torch=ember) -> None:
    """The dry run's printed numbers and saved weights are one process's replay's."""
    write_example("dcgan", DCGAN_SUBSTITUTIONS, folder)
    log = torchrun(folder, "main.py", *DCGAN_ARGS, torch=torch)
    printed = {int(m[0]): [float(v) for v in m[1:]] for m in re.findall(DCGAN_LINE, log)}
    assert sorted(printed) == [0, 1], log
    ns = module_of((folder / "main.py").read_text(), torch)
    numbers, netG, netD = dcgan_replay(ns, torch)
    for rank in range(2):
        np.testing.assert_allclose(printed[rank], numbers[rank], atol=1.5e-4)
    for name, net in (("netG", netG), ("netD", netD)):
        saved = torch.load(folder / "out" / f"{name}_epoch_0.pth")
        # the ranks' BatchNorm running statistics differ (each saw its own batch after rank
        # 0's were broadcast) and both ranks write the file: compare the parameters
        assert_states_close({k: saved[k] for k, _ in net.named_parameters()},
                            dict(net.named_parameters()), rtol=1e-4, atol=1e-6)
    assert (folder / "out" / "real_samples.png").exists()
    assert (folder / "out" / "fake_samples_epoch_000.png").exists()


def test_ddp_dcgan_example_dry_run_matches_one_process(tmp_path):
    check_dcgan_example(tmp_path)
