"""HuggingFace accelerate on ember, where accelerate is installed (it is not a test dependency:
its package requires PyTorch; .ci/run installs it without). An ``Accelerator`` on the CPU
prepares a model, optimizer, data loader and scheduler and trains them: ``backward``,
gradient accumulation, ``clip_grad_norm_``, ``gather_for_metrics``, bf16 mixed precision,
``save_state``/``load_state`` (a weights-only load with accelerate's safe globals),
``unwrap_model`` and ``save_model``, with ``torch`` resolved to ember in a fresh interpreter.
tests/conformance/test_thirdparty_s16_vs_torch.py compares the losses with real PyTorch's."""
from __future__ import annotations

import functools
import importlib.util
import textwrap

import numpy as np
import pytest

from tests.acceptance import script_report

if importlib.util.find_spec("accelerate") is None:  # (importing it would import torch)
    pytest.skip("accelerate is not installed", allow_module_level=True)

SCRIPT = textwrap.dedent('''
    import copy
    import json
    import os
    import tempfile
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState
    from accelerate.utils import set_seed

    def train(mixed_precision, accumulation):
        AcceleratorState._reset_state(reset_partial_state=True)  # a fresh Accelerator per run
        set_seed(0)
        accelerator = Accelerator(cpu=True, mixed_precision=mixed_precision,
                                  gradient_accumulation_steps=accumulation)
        x = torch.randn(64, 8)
        y = x @ torch.randn(8, 1) + 0.1 * torch.randn(64, 1)
        model = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 1))
        # the gradient of one batch as large as the accumulated ones, for comparison
        reference = copy.deepcopy(model)
        nn.functional.mse_loss(reference(x[:8 * accumulation]), y[:8 * accumulation]).backward()
        reference_norm = float(torch.cat([p.grad.flatten() for p in reference.parameters()]).norm())
        optimizer = torch.optim.AdamW(model.parameters(), lr=3e-2)
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=4, gamma=0.5)
        loader = DataLoader(TensorDataset(x, y), batch_size=8)
        model, optimizer, loader, scheduler = accelerator.prepare(model, optimizer, loader,
                                                                  scheduler)
        losses, norms = [], []
        for epoch in range(3):
            for xb, yb in loader:
                with accelerator.accumulate(model):
                    out = model(xb)
                    loss = nn.functional.mse_loss(out.float(), yb)
                    accelerator.backward(loss)
                    if accelerator.sync_gradients:
                        norms.append(float(accelerator.clip_grad_norm_(model.parameters(), 1.0)))
                    optimizer.step()
                    scheduler.step()
                    optimizer.zero_grad()
                losses.append(loss.item())
        model.eval()
        predictions, targets = [], []
        with torch.no_grad():
            for xb, yb in loader:
                p, t = accelerator.gather_for_metrics((model(xb), yb))
                predictions.append(p)
                targets.append(t)
        p, t = torch.cat(predictions), torch.cat(targets)
        state = optimizer.optimizer.state[next(iter(model.parameters()))]
        result = {"losses": losses, "norms": norms, "reference_norm": reference_norm,
                  "eval_mse": float(((p.float() - t) ** 2).mean()), "gathered": list(p.shape),
                  "lr": scheduler.get_last_lr(), "device": str(accelerator.device),
                  "output_dtype": str(out.dtype), "optimizer_steps": int(state["step"])}
        return accelerator, model, scheduler, result

    report = {}
    for name, precision, accumulation in [("fp32", "no", 1), ("accumulate2", "no", 2),
                                          ("bf16", "bf16", 1)]:
        accelerator, model, scheduler, report[name] = train(precision, accumulation)

    with tempfile.TemporaryDirectory() as d:
        accelerator.save_state(d)
        files = sorted(os.listdir(d))
        before = {k: v.clone() for k, v in accelerator.unwrap_model(model).state_dict().items()}
        with torch.no_grad():
            for p in model.parameters():
                p.add_(1.0)
        accelerator.load_state(d)
        after = accelerator.unwrap_model(model).state_dict()
        accelerator.save_model(model, os.path.join(d, "model"))
        report["state"] = {"files": files,
                           "restored": all(torch.equal(before[k], after[k]) for k in before),
                           "unwrapped": type(accelerator.unwrap_model(model)).__name__,
                           "lr_after_load": scheduler.get_last_lr(),
                           "model_files": sorted(os.listdir(os.path.join(d, "model")))}
    report["processes"] = [accelerator.num_processes, accelerator.is_main_process]
    print(json.dumps(report))
''')


# the script's report, run under ``command_prefix`` (``-m ember.compat``: on ember)
run_script = functools.partial(script_report.run_script, SCRIPT, "accelerate_script.py")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    return run_script("-m", "ember.compat", tmp_path=tmp_path_factory.mktemp("accelerate"))


@pytest.mark.parametrize("run", ["fp32", "accumulate2", "bf16"])
def test_prepared_training_loop_learns(report, run):
    result = report[run]
    losses = result["losses"]
    assert len(losses) == 24 and np.mean(losses[-8:]) < 0.5 * np.mean(losses[:8])
    assert result["device"] == "cpu" and result["gathered"] == [64, 1]
    assert result["eval_mse"] < np.mean(losses[:8])
    # the prepared model casts its outputs back to float32 under bf16 autocast
    assert result["output_dtype"] == "torch.float32"


def test_gradient_accumulation_steps_every_other_batch(report):
    fp32, accumulated = report["fp32"], report["accumulate2"]
    assert fp32["optimizer_steps"] == len(fp32["norms"]) == 24
    assert accumulated["optimizer_steps"] == len(accumulated["norms"]) == 12
    # two accumulated halves (each loss divided by 2) give the gradient of the whole batch
    assert np.isclose(accumulated["norms"][0], accumulated["reference_norm"], rtol=1e-5)
    assert np.isclose(fp32["norms"][0], fp32["reference_norm"], rtol=1e-5)
    # StepLR(4, 0.5) steps once per optimizer step
    assert np.isclose(fp32["lr"][0], 3e-2 * 0.5 ** 6) and np.isclose(accumulated["lr"][0],
                                                                      3e-2 * 0.5 ** 3)


def test_state_round_trip_and_unwrapping(report):
    state = report["state"]
    assert state["files"] == ["model.safetensors", "optimizer.bin", "random_states_0.pkl",
                              "scheduler.bin"]
    assert state["restored"] and state["unwrapped"] == "Sequential"
    assert np.isclose(state["lr_after_load"][0], report["bf16"]["lr"][0])
    assert state["model_files"] == ["model.safetensors"]
    assert report["processes"] == [1, True]
