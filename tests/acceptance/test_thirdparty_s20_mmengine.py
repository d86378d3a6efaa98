"""mmengine on ember, where mmengine is installed (it is not a test dependency: its package
requires PyTorch; .ci/run installs it without dependencies, with addict, yapf and yapf's
platformdirs; OpenCV, rich, termcolor, PyYAML and matplotlib, which it imports too, must be
there). mmengine's "15 minutes" tutorial in miniature, run with ``torch`` resolved to ember in a
fresh interpreter: a ``BaseModel`` (built through the ``MODELS`` registry from a config read by
``Config.fromfile``) with a ``BaseDataPreprocessor``, a ``BaseMetric``, and a ``Runner`` training
two epochs with SGD behind an ``OptimWrapper`` (gradient accumulation, gradient clipping), a
``MultiStepLR`` schedule, validation each epoch and a checkpoint each epoch; then
``runner.load_checkpoint``, resuming for a third epoch, and an ``OptimWrapper`` driven by hand.
The values are checked here against NumPy (the accumulated, clipped SGD steps; the validation
accuracy of the trained weights) and for consistency (decreasing losses, the schedule, the
checkpoints and what resuming restores). tests/conformance/test_thirdparty_s20_mmengine_vs_torch.py
compares every number with real PyTorch's."""
from __future__ import annotations

import functools
import importlib.util
import textwrap

import numpy as np
import pytest

from tests.acceptance import script_report

# (importing mmengine would import torch)
for _module in ("mmengine", "addict", "yapf", "platformdirs", "cv2"):
    if importlib.util.find_spec(_module) is None:
        pytest.skip(f"{_module} (mmengine or one of its imports) is not installed",
                    allow_module_level=True)

SCRIPT = script_report.OUT_SOURCE + textwrap.dedent('''
    import json
    import os
    import tempfile
    import warnings

    import numpy
    import torch
    from torch import nn
    from torch.optim import SGD
    from mmengine.config import Config
    from mmengine.evaluator import BaseMetric
    from mmengine.logging import HistoryBuffer
    from mmengine.model import (BaseDataPreprocessor, BaseModel, BaseModule,
                                ExponentialMovingAverage, stack_batch)
    from mmengine.optim import OptimWrapper, build_optim_wrapper
    from mmengine.registry import MODELS
    from mmengine.runner import Runner
    from mmengine.structures import InstanceData

    warnings.simplefilter("ignore")
    # mmengine 0.10.7 checkpoints pickle the message hub's HistoryBuffers (NumPy arrays and
    # scalars, and their statistics as bound methods rebuilt through getattr) beside the
    # weights: PyTorch >= 2.6's weights-only torch.load, which mmengine calls, needs them
    # allow-listed
    torch.serialization.add_safe_globals([
        HistoryBuffer, numpy.ndarray, numpy.dtype, type(numpy.dtype(numpy.float64)),
        type(numpy.dtype(numpy.int64)), numpy._core.multiarray._reconstruct,
        numpy._core.multiarray.scalar, getattr])


    class Standardise(BaseDataPreprocessor):
        """Casts and moves the batch (BaseDataPreprocessor's part), then maps [0, 1] to [-1, 1]."""
        def forward(self, data, training=False):
            data = super().forward(data, training)
            data["inputs"] = (data["inputs"] - 0.5) * 2
            return data


    @MODELS.register_module()
    class TinyClassifier(BaseModel):
        def __init__(self, hidden=8, classes=3, data_preprocessor=None):
            super().__init__(data_preprocessor=data_preprocessor)
            self.net = nn.Sequential(nn.Linear(4, hidden), nn.ReLU(), nn.Linear(hidden, classes))

        def forward(self, inputs, data_samples=None, mode="tensor"):
            logits = self.net(inputs)
            if mode == "loss":
                return {"loss": nn.functional.cross_entropy(logits, data_samples)}
            if mode == "predict":
                return logits.argmax(1), data_samples
            return logits


    class Accuracy(BaseMetric):
        def process(self, data_batch, data_samples):
            predictions, labels = data_samples
            self.results.append({"batch_size": len(labels),
                                 "correct": (predictions == labels).sum().item()})

        def compute_metrics(self, results):
            total = sum(r["batch_size"] for r in results)
            return {"accuracy": 100 * sum(r["correct"] for r in results) / total}


    class Blobs(torch.utils.data.Dataset):
        """Three Gaussian blobs in 4-D: class c centred at c/4 on every axis."""
        def __init__(self, n, seed):
            g = torch.Generator().manual_seed(seed)
            self.labels = torch.randint(0, 3, (n,), generator=g)
            self.points = self.labels[:, None] / 4 + 0.15 * torch.randn(n, 4, generator=g)

        def __len__(self):
            return len(self.labels)

        def __getitem__(self, i):
            return dict(inputs=self.points[i], data_samples=self.labels[i])


    def dataloader(dataset, shuffle):
        return dict(dataset=dataset, sampler=dict(type="DefaultSampler", shuffle=shuffle),
                    batch_size=8, collate_fn=dict(type="default_collate"))


    def runner(cfg, work_dir, max_epochs, **kwargs):
        return Runner(
            model=MODELS.build(dict(cfg.model, data_preprocessor=dict(type=Standardise))),
            work_dir=work_dir,
            train_dataloader=dataloader(Blobs(48, 1), shuffle=True),
            optim_wrapper=dict(optimizer=dict(type=SGD, **cfg.optim), accumulative_counts=2,
                               clip_grad=dict(max_norm=1.0)),
            param_scheduler=dict(type="MultiStepLR", by_epoch=True, milestones=cfg.milestones,
                                 gamma=0.5),
            train_cfg=dict(by_epoch=True, max_epochs=max_epochs, val_interval=1),
            val_dataloader=dataloader(Blobs(24, 2), shuffle=False),
            val_cfg=dict(),
            val_evaluator=dict(type=Accuracy),
            default_hooks=dict(checkpoint=dict(type="CheckpointHook", interval=1),
                               logger=dict(type="LoggerHook", interval=1)),
            randomness=dict(seed=0),
            launcher="none",
            log_level="WARNING",
            **kwargs)


    def sums(state):
        return {name: value.sum().item() for name, value in state.items()}


    def history(runner, key):
        return [float(v) for v in runner.message_hub.get_scalar(key).data[0]]


    report = {}
    with tempfile.TemporaryDirectory() as tmp:
        config_file = os.path.join(tmp, "tiny_config.py")
        with open(config_file, "w") as f:
            f.write("model = dict(type='TinyClassifier', hidden=6)\\n"
                    "optim = dict(lr=0.2, momentum=0.9)\\n"
                    "max_epochs = 2\\n"
                    "milestones = [1]\\n")
        cfg = Config.fromfile(config_file)
        report["config"] = {"hidden": cfg.model.hidden, "lr": cfg.optim.lr,
                            "max_epochs": cfg.max_epochs, "milestones": cfg.milestones}
        work = os.path.join(tmp, "work")
        torch.manual_seed(0)  # the model's initial weights (the Runner seeds after building it)
        first = runner(cfg, work, cfg.max_epochs)
        report["built"] = type(first.model).__name__
        first.train()
        report["losses"] = history(first, "train/loss")
        report["lr"] = history(first, "train/lr")
        report["val_accuracy"] = first.message_hub.get_scalar("val/accuracy").current()
        report["val_again"] = first.val()
        val = Blobs(24, 2)
        report["val_data"] = {"points": out(val.points), "labels": out(val.labels)}
        report["final_state"] = out(dict(first.model.state_dict()))
        report["param_sums"] = sums(first.model.state_dict())
        with open(os.path.join(work, first.timestamp, "vis_data", "scalars.json")) as f:
            report["logged_losses"] = [line["loss"] for line in map(json.loads, f)
                                       if "loss" in line]
        report["checkpoints"] = sorted(f for f in os.listdir(work) if f.endswith(".pth"))

        # the first epoch's weights back into the trained model
        checkpoint = first.load_checkpoint(os.path.join(work, "epoch_1.pth"))
        report["checkpoint"] = {"epoch": checkpoint["meta"]["epoch"], "keys": sorted(checkpoint),
                                "param_sums": sums(checkpoint["state_dict"])}
        report["loaded_param_sums"] = sums(first.model.state_dict())

        # resuming from the last checkpoint, in a fresh runner, for a third epoch
        resumed = runner(cfg, work, 3, load_from=os.path.join(work, "epoch_2.pth"), resume=True)
        resumed.train()
        report["resumed"] = {
            "epoch": resumed.epoch, "iter": resumed.iter,
            "losses": history(resumed, "train/loss"), "lr": history(resumed, "train/lr"),
            "momentum_buffers": [s["momentum_buffer"].sum().item()
                                 for s in resumed.optim_wrapper.optimizer.state.values()],
            "param_sums": sums(resumed.model.state_dict()),
            "checkpoints": sorted(f for f in os.listdir(work) if f.endswith(".pth"))}

    # an OptimWrapper by hand: steps every two accumulated (halved) losses, clipping the
    # gradients' total norm to 0.5
    torch.manual_seed(0)
    layer = nn.Linear(3, 2)
    wrapper = OptimWrapper(SGD(layer.parameters(), lr=0.1), accumulative_counts=2,
                           clip_grad=dict(max_norm=0.5))
    x, y = torch.randn(4, 3), torch.randn(4, 2)
    report["optim_wrapper"] = {"initial": out(dict(layer.state_dict())), "x": out(x), "y": out(y),
                               "steps": []}
    for i in range(4):
        with wrapper.optim_context(layer):
            loss = ((layer(x) - y * i) ** 2).mean()
        wrapper.update_params(loss)
        report["optim_wrapper"]["steps"].append(
            {"loss": loss.item(), "state": out(dict(layer.state_dict())),
             "grad_cleared": layer.weight.grad is None or not layer.weight.grad.any().item()})
    report["optim_wrapper"]["lr"] = wrapper.get_lr()["lr"]
    report["optim_wrapper"]["state_keys"] = sorted(wrapper.state_dict())


    class Initialised(BaseModule):
        """Layers initialised by ``init_cfg`` (mmengine's weight_init over torch.nn.init)."""
        def __init__(self):
            super().__init__(init_cfg=[
                dict(type="Kaiming", layer="Linear"),
                dict(type="Constant", layer="BatchNorm1d", val=2.0, bias=0.5),
                dict(type="Normal", layer="Conv2d", std=0.1),
                dict(type="Xavier", layer="Conv1d")])
            self.lin, self.bn = nn.Linear(3, 4), nn.BatchNorm1d(4)
            self.conv, self.conv1d = nn.Conv2d(1, 2, 3), nn.Conv1d(1, 2, 3)


    torch.manual_seed(0)
    initialised = Initialised()
    initialised.init_weights()
    report["init_cfg"] = sums(initialised.state_dict())
    ema = ExponentialMovingAverage(initialised, momentum=0.1)
    for _ in range(3):  # every parameter grows by one, then the average follows
        with torch.no_grad():
            for parameter in initialised.parameters():
                parameter.add_(1.0)
        ema.update_parameters(initialised)
    report["ema"] = sums(ema.module.state_dict())
    built = build_optim_wrapper(initialised, dict(
        optimizer=dict(type="AdamW", lr=0.01, weight_decay=0.1),
        paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0,
                           custom_keys={"conv.": dict(lr_mult=0.1)})))
    report["param_groups"] = [[g["lr"], g["weight_decay"]]
                              for g in built.optimizer.param_groups]
    report["optimizer"] = type(built.optimizer).__name__
    report["stacked"] = list(stack_batch([torch.ones(1, 2, 3), torch.ones(1, 3, 2)],
                                         pad_size_divisor=4).shape)
    instances = InstanceData(boxes=torch.rand(3, 4), labels=torch.tensor([0, 1, 2]))
    report["instances"] = out(instances[instances.labels > 0].labels)
    report["preprocessed"] = out(Standardise()(
        {"inputs": torch.tensor([[0.0, 1.0]], dtype=torch.float64), "data_samples": [1]}))
    print(json.dumps(report))
''')

# the script's report, run under ``command_prefix`` (``-m ember.compat``: on ember)
run_script = functools.partial(script_report.run_script, SCRIPT, "mmengine_script.py")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    return run_script("-m", "ember.compat", tmp_path=tmp_path_factory.mktemp("mmengine"))


def test_config_and_registry_build_the_model(report):
    assert report["config"] == {"hidden": 6, "lr": 0.2, "max_epochs": 2, "milestones": [1]}
    assert report["built"] == "TinyClassifier"
    assert np.array(report["final_state"]["net.0.weight"]).shape == (6, 4)
    assert report["preprocessed"] == {"data_samples": [1], "inputs": [[-1.0, 1.0]]}


def test_init_cfg_ema_and_paramwise_optimizer(report):
    init = report["init_cfg"]
    assert init["bn.weight"] == 8.0 and init["bn.bias"] == 2.0  # Constant: 4 x 2.0, 4 x 0.5
    assert all(init[f"{layer}.bias"] == 0.0 for layer in ("lin", "conv", "conv1d"))
    assert all(np.isfinite(init[f"{layer}.weight"]) for layer in ("lin", "conv", "conv1d"))
    # the average copies the first update (p + 1), then moves 0.1 of the way to p + 2 and p + 3
    numels = {"lin.weight": 12, "lin.bias": 4, "bn.weight": 4, "bn.bias": 4,
              "conv.weight": 18, "conv.bias": 2, "conv1d.weight": 6, "conv1d.bias": 2}
    shift = 0.9 * (0.9 * 1 + 0.1 * 2) + 0.1 * 3
    for name, numel in numels.items():
        assert report["ema"][name] == pytest.approx(init[name] + numel * shift, rel=1e-5)
    assert report["ema"]["bn.running_var"] == 4.0  # buffers are not averaged
    # parameters in registration order: no decay on biases and norms, except in the "conv."
    # layer, whose custom key overrides those rules with a tenth of the rate
    assert report["optimizer"] == "AdamW"
    np.testing.assert_allclose(report["param_groups"], [
        [0.01, 0.1], [0.01, 0.0], [0.01, 0.0], [0.01, 0.0], [0.001, 0.1], [0.001, 0.1],
        [0.01, 0.1], [0.01, 0.0]])
    assert report["stacked"] == [2, 1, 4, 4]  # padded to the largest size, rounded up to 4
    assert report["instances"] == [1, 2]


def test_training_logs_finite_decreasing_losses_on_schedule(report):
    losses = np.array(report["losses"])
    assert losses.shape == (12,) and np.isfinite(losses).all()  # 48 samples in batches of 8
    first, second = losses[:6].mean(), losses[6:].mean()
    third = np.mean(report["resumed"]["losses"][12:])
    assert first > second > third
    # what the logger writes each iteration: the LogProcessor's mean over the last 10 (its
    # default window)
    smoothed = [losses[max(0, i - 9):i + 1].mean() for i in range(12)]
    np.testing.assert_allclose(report["logged_losses"], smoothed, rtol=1e-6)
    assert report["lr"] == [0.2] * 6 + [0.1] * 6  # MultiStepLR halves it after epoch 1


def test_validation_accuracy_matches_numpy(report):
    w = {k: np.array(v) for k, v in report["final_state"].items()}
    points = (np.array(report["val_data"]["points"]) - 0.5) * 2
    hidden = np.maximum(points @ w["net.0.weight"].T + w["net.0.bias"], 0)
    predictions = (hidden @ w["net.2.weight"].T + w["net.2.bias"]).argmax(1)
    accuracy = 100 * np.mean(predictions == np.array(report["val_data"]["labels"]))
    assert report["val_accuracy"] == pytest.approx(accuracy)
    assert report["val_again"] == {"accuracy": pytest.approx(accuracy)}
    assert accuracy > 100 / 3  # better than chance after two epochs
    for name, value in w.items():
        assert report["param_sums"][name] == pytest.approx(value.sum(), abs=1e-5)


def test_checkpoints_load_and_resume(report):
    assert report["checkpoints"] == ["epoch_1.pth", "epoch_2.pth"]
    checkpoint = report["checkpoint"]
    assert checkpoint["epoch"] == 1
    assert checkpoint["keys"] == ["message_hub", "meta", "optimizer", "param_schedulers",
                                  "state_dict"]
    assert report["loaded_param_sums"] == checkpoint["param_sums"]
    assert checkpoint["param_sums"] != report["param_sums"]
    resumed = report["resumed"]
    assert (resumed["epoch"], resumed["iter"]) == (3, 18)
    assert resumed["checkpoints"] == ["epoch_1.pth", "epoch_2.pth", "epoch_3.pth"]
    # the message hub's history and the scheduler's state come back with the checkpoint
    np.testing.assert_allclose(resumed["losses"][:12], report["losses"], rtol=1e-6)
    assert resumed["lr"] == [0.2] * 6 + [0.1] * 12
    assert len(resumed["momentum_buffers"]) == 4  # SGD's state came back too
    assert resumed["param_sums"] != report["param_sums"]


def test_optim_wrapper_accumulates_clips_and_steps_like_numpy(report):
    wrapped = report["optim_wrapper"]
    weight, bias = (np.array(wrapped["initial"][k], dtype=np.float64) for k in ("weight", "bias"))
    x, y = np.array(wrapped["x"]), np.array(wrapped["y"])
    grad_w, grad_b = np.zeros_like(weight), np.zeros_like(bias)
    for i, step in enumerate(wrapped["steps"]):
        residual = x @ weight.T + bias - y * i
        assert step["loss"] == pytest.approx(np.mean(residual ** 2), rel=1e-5)
        # d(mean(r^2) / 2) / d(output): halved because two losses accumulate per step
        d_out = residual / residual.size
        grad_w, grad_b = grad_w + d_out.T @ x, grad_b + d_out.sum(0)
        if i % 2 == 1:
            norm = np.sqrt((grad_w ** 2).sum() + (grad_b ** 2).sum())
            scale = min(1.0, 0.5 / (norm + 1e-6))
            weight, bias = weight - 0.1 * scale * grad_w, bias - 0.1 * scale * grad_b
            grad_w, grad_b = np.zeros_like(weight), np.zeros_like(bias)
        assert step["grad_cleared"] == (i % 2 == 1)
        np.testing.assert_allclose(step["state"]["weight"], weight, atol=1e-6)
        np.testing.assert_allclose(step["state"]["bias"], bias, atol=1e-6)
    assert wrapped["lr"] == [0.1]
    assert wrapped["state_keys"] == ["param_groups", "state"]
