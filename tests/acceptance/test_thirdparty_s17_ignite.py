"""PyTorch-Ignite on ember, where Ignite is installed (it is not a test dependency: its package
requires PyTorch; .ci/run installs it without). A small MNIST-shaped classifier on random
data trained the way Ignite's MNIST example does (``create_supervised_trainer`` and
``create_supervised_evaluator``; Accuracy, Loss, Precision, Recall and ConfusionMatrix; event
handlers with ``every=``; a ProgressBar; ModelCheckpoint to a temporary folder and reloaded;
EarlyStopping; an LRScheduler and a LinearCyclicalScheduler), then warmup and cosine
schedules, gradient accumulation, EMA weights, a full Checkpoint resumed into fresh objects,
MetricsLambda, Fbeta, top-k accuracy, regression metrics, a deterministic engine, simulated
schedules and the LR finder, with ``torch`` resolved to ember in a fresh interpreter; the
values are checked here against NumPy. tests/conformance/
test_thirdparty_s17_gpytorch_ignite_vs_torch.py compares every number with real PyTorch's."""
from __future__ import annotations

import functools
import importlib.util
import math
import textwrap

import numpy as np
import pytest

from tests.acceptance import script_report

if importlib.util.find_spec("ignite") is None:  # (importing it would import torch)
    pytest.skip("pytorch-ignite is not installed", allow_module_level=True)

SCRIPT = textwrap.dedent('''
import json
import os
import tempfile
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
import ignite.distributed as idist
from ignite.contrib.handlers import ProgressBar
from ignite.engine import (DeterministicEngine, Events, create_supervised_evaluator,
                           create_supervised_trainer)
from ignite.handlers import (Checkpoint, DiskSaver, EarlyStopping, EMAHandler, FastaiLRFinder,
                             ModelCheckpoint, TerminateOnNan, Timer)
from ignite.handlers.param_scheduler import (ConcatScheduler, CosineAnnealingScheduler,
                                             LinearCyclicalScheduler, LRScheduler,
                                             PiecewiseLinear, create_lr_scheduler_with_warmup)
from ignite.metrics import (Accuracy, Average, ConfusionMatrix, Fbeta, GeometricAverage, Loss,
                            MeanAbsoluteError, MeanSquaredError, Precision, Recall,
                            RunningAverage, TopKCategoricalAccuracy)
from ignite.utils import manual_seed, to_onehot

torch.manual_seed(0)
images = torch.randn(96, 1, 8, 8)
labels = torch.randint(0, 4, (96,))
train_loader = DataLoader(TensorDataset(images[:64], labels[:64]), batch_size=16, shuffle=True)
val_loader = DataLoader(TensorDataset(images[64:], labels[64:]), batch_size=16)
criterion = nn.CrossEntropyLoss()


def make_model():
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(64, 4))


# The MNIST example's shape: supervised trainer and evaluator, metrics, handlers, checkpoints.
model = make_model()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
trainer = create_supervised_trainer(model, optimizer, criterion)
metrics = {"accuracy": Accuracy(), "loss": Loss(criterion), "precision": Precision(average=True),
           "recall": Recall(), "cm": ConfusionMatrix(num_classes=4)}
evaluator = create_supervised_evaluator(model, metrics=metrics)
RunningAverage(output_transform=lambda x: x).attach(trainer, "running_loss")
report = {"iteration_losses": [], "running_loss": [], "lrs": [], "momentum": [], "epochs": [],
          "every_2": [], "val_labels": labels[64:].tolist()}


@trainer.on(Events.ITERATION_COMPLETED)
def log_iteration(engine):
    report["iteration_losses"].append(engine.state.output)
    report["running_loss"].append(engine.state.metrics["running_loss"])
    report["lrs"].append(optimizer.param_groups[0]["lr"])
    report["momentum"].append(optimizer.param_groups[0]["momentum"])


@trainer.on(Events.EPOCH_COMPLETED)
def validate(engine):
    evaluator.run(val_loader)
    m = evaluator.state.metrics
    report["epochs"].append({"accuracy": m["accuracy"], "loss": m["loss"],
                             "precision": m["precision"], "recall": m["recall"].tolist(),
                             "cm": m["cm"].tolist()})


@trainer.on(Events.EPOCH_COMPLETED(every=2))
def every_two(engine):
    report["every_2"].append(engine.state.epoch)


momentum_schedule = LinearCyclicalScheduler(optimizer, "momentum", 0.9, 0.5, cycle_size=6)
trainer.add_event_handler(Events.ITERATION_STARTED, momentum_schedule)
step_lr = torch.optim.lr_scheduler.StepLR(optimizer, step_size=3, gamma=0.5)
trainer.add_event_handler(Events.ITERATION_COMPLETED, LRScheduler(step_lr))
ProgressBar(persist=False).attach(trainer, metric_names=["running_loss"])
checkpoint_dir = tempfile.mkdtemp()
checkpoint = ModelCheckpoint(checkpoint_dir, "mnist", n_saved=2, require_empty=False,
                             score_function=lambda engine: engine.state.metrics["accuracy"],
                             score_name="accuracy",
                             global_step_transform=lambda engine, event: trainer.state.epoch)
evaluator.add_event_handler(Events.COMPLETED, checkpoint, {"model": model})
stopper = EarlyStopping(patience=2, score_function=lambda engine: -engine.state.metrics["loss"],
                        trainer=trainer)
evaluator.add_event_handler(Events.COMPLETED, stopper)
state = trainer.run(train_loader, max_epochs=6)
report["final_epoch"] = state.epoch
report["checkpoints"] = sorted(os.listdir(checkpoint_dir))
best = make_model()
best.load_state_dict(torch.load(checkpoint.last_checkpoint))
reloaded = create_supervised_evaluator(best, metrics={"accuracy": Accuracy(),
                                                      "loss": Loss(criterion)})
reloaded.run(val_loader)
report["reloaded_path"] = os.path.basename(checkpoint.last_checkpoint)
report["reloaded"] = dict(reloaded.state.metrics)
with torch.no_grad():
    report["reloaded_logits"] = best(images[64:]).tolist()

# Warmup and cosine schedules, gradient accumulation, EMA weights, a full Checkpoint resumed.
manual_seed(0)
loader = idist.auto_dataloader(TensorDataset(images[:64], labels[:64]), batch_size=16,
                               shuffle=True)
model = idist.auto_model(nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.Tanh(),
                                       nn.Linear(16, 4)))
optimizer = idist.auto_optim(torch.optim.Adam(model.parameters(), lr=0.01))
trainer = create_supervised_trainer(model, optimizer, criterion, gradient_accumulation_steps=2)
report["world"] = [idist.get_world_size(), idist.get_rank(), str(idist.device()),
                   idist.backend()]
warmup_lrs = []
trainer.add_event_handler(Events.ITERATION_STARTED, create_lr_scheduler_with_warmup(
    CosineAnnealingScheduler(optimizer, "lr", 0.01, 0.001, cycle_size=8),
    warmup_start_value=0.0, warmup_end_value=0.01, warmup_duration=3))
trainer.add_event_handler(Events.ITERATION_COMPLETED,
                          lambda engine: warmup_lrs.append(optimizer.param_groups[0]["lr"]))
trainer.add_event_handler(Events.ITERATION_COMPLETED, TerminateOnNan())
ema = EMAHandler(model, momentum=0.1)
ema.attach(trainer, name="ema_momentum")
timer = Timer(average=True)
timer.attach(trainer, step=Events.ITERATION_COMPLETED)
precision, recall = Precision(average=False), Recall(average=False)
metrics = {"f1": (precision * recall * 2 / (precision + recall + 1e-20)).mean(),
           "fbeta": Fbeta(beta=0.5), "top2": TopKCategoricalAccuracy(k=2),
           "precision": precision, "recall": recall, "accuracy": Accuracy()}
evaluator = create_supervised_evaluator(ema.ema_model, metrics=metrics)
saved = tempfile.mkdtemp()
checkpoint = Checkpoint({"model": model, "optimizer": optimizer, "trainer": trainer},
                        DiskSaver(saved, require_empty=False), n_saved=1)
trainer.add_event_handler(Events.EPOCH_COMPLETED, checkpoint)
trainer.run(loader, max_epochs=3)
evaluator.run(val_loader)
with torch.no_grad():
    ema_logits = ema.ema_model(images[64:])
report["warmup_lrs"] = warmup_lrs
report["ema_metrics"] = {k: (v.tolist() if isinstance(v, torch.Tensor) else v)
                         for k, v in evaluator.state.metrics.items()}
report["ema_logits"] = ema_logits.tolist()
report["timer_positive"] = timer.value() > 0
report["checkpoint"] = sorted(os.listdir(saved))
report["trainer_state"] = trainer.state_dict()
manual_seed(1)
resumed_model = nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.Tanh(), nn.Linear(16, 4))
resumed_optimizer = torch.optim.Adam(resumed_model.parameters(), lr=0.01)
resumed = create_supervised_trainer(resumed_model, resumed_optimizer, criterion)
Checkpoint.load_objects({"model": resumed_model, "optimizer": resumed_optimizer,
                         "trainer": resumed}, torch.load(os.path.join(saved,
                                                                      checkpoint.last_checkpoint)))
report["resumed_equal"] = all(torch.equal(a, b) for a, b in zip(model.parameters(),
                                                                resumed_model.parameters()))
report["resumed_epoch"] = resumed.state.epoch
report["resumed_adam_steps"] = [float(s["step"])
                                for s in resumed_optimizer.state_dict()["state"].values()]
resumed.run(loader, max_epochs=4)
report["resumed_epoch_after"] = resumed.state.epoch
report["resumed_weights"] = [p.sum().item() for p in resumed_model.parameters()]

# Metrics on fixed inputs, utilities, a deterministic engine, simulated schedules, LR finder.
mse, mae, average, geometric = (MeanSquaredError(), MeanAbsoluteError(), Average(),
                                GeometricAverage())
pred, target = torch.linspace(0, 1, 10), torch.linspace(0, 1, 10) ** 2
for metric in (mse, mae):
    metric.update((pred, target))
for value in (torch.tensor([1.0, 2.0]), torch.tensor([4.0, 8.0])):
    average.update(value)
    geometric.update(value)
report["regression"] = [mse.compute(), mae.compute(), average.compute().tolist(),
                        geometric.compute().tolist()]
report["onehot"] = to_onehot(torch.tensor([0, 2, 1]), 3).tolist()
manual_seed(3)
batches = []
DeterministicEngine(lambda engine, batch: batches.append(batch.tolist())).run(
    DataLoader(torch.arange(8), batch_size=4, shuffle=True), max_epochs=2)
report["deterministic_batches"] = batches
report["piecewise"] = [v[1] for v in PiecewiseLinear.simulate_values(
    10, param_name="lr", milestones_values=[(0, 0.0), (4, 1.0), (8, 0.5)])]
dummy = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.0)
report["concat"] = [v[1] for v in ConcatScheduler.simulate_values(8, schedulers=[
    CosineAnnealingScheduler(dummy, "lr", 0.1, 0.5, cycle_size=4),
    CosineAnnealingScheduler(dummy, "lr", 0.5, 0.01, cycle_size=6)], durations=[4])]
manual_seed(4)
finder_model = nn.Sequential(nn.Flatten(), nn.Linear(64, 4))
finder_optimizer = torch.optim.SGD(finder_model.parameters(), lr=1e-4)
finder_trainer = create_supervised_trainer(finder_model, finder_optimizer, criterion)
finder = FastaiLRFinder()
with finder.attach(finder_trainer, {"model": finder_model, "optimizer": finder_optimizer},
                   num_iter=8, end_lr=1.0) as trainer_with_finder:
    trainer_with_finder.run(loader, max_epochs=2)
results = finder.get_results()
report["lr_finder"] = [results["lr"], results["loss"]]
print(json.dumps(report))
''')

# the script's report, run under ``command_prefix`` (``-m ember.compat``: on ember)
run_script = functools.partial(script_report.run_script, SCRIPT, "ignite_script.py")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    return run_script("-m", "ember.compat", tmp_path=tmp_path_factory.mktemp("ignite"))


def _classification(logits, labels) -> dict:
    """Accuracy, mean cross-entropy, top-2 accuracy and per-class precision and recall (0 where
    a class is never predicted or never true, as Ignite's) in NumPy."""
    logits, labels = np.asarray(logits), np.asarray(labels)
    predicted = logits.argmax(1)
    shifted = logits - logits.max(1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
    confusion = np.zeros((4, 4), int)
    np.add.at(confusion, (labels, predicted), 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.nan_to_num(np.diag(confusion) / confusion.sum(0))
        recall = np.nan_to_num(np.diag(confusion) / confusion.sum(1))
    top2 = (np.argsort(-logits, 1)[:, :2] == labels[:, None]).any(1).mean()
    return {"accuracy": (predicted == labels).mean(), "top2": top2,
            "loss": -log_probs[np.arange(len(labels)), labels].mean(), "confusion": confusion,
            "precision": precision, "recall": recall}


def test_epoch_metrics_agree_with_their_confusion_matrix(report):
    for epoch in report["epochs"]:
        confusion = np.array(epoch["cm"])
        assert confusion.sum() == len(report["val_labels"])
        assert (confusion.sum(1) == np.bincount(report["val_labels"], minlength=4)).all()
        assert math.isclose(epoch["accuracy"], np.trace(confusion) / confusion.sum())
        with np.errstate(invalid="ignore", divide="ignore"):
            precision = np.nan_to_num(np.diag(confusion) / confusion.sum(0))
            recall = np.nan_to_num(np.diag(confusion) / confusion.sum(1))
        assert math.isclose(epoch["precision"], precision.mean())
        np.testing.assert_allclose(epoch["recall"], recall)


def test_reloaded_checkpoint_metrics_match_numpy(report):
    expected = _classification(report["reloaded_logits"], report["val_labels"])
    assert math.isclose(report["reloaded"]["accuracy"], expected["accuracy"])
    assert math.isclose(report["reloaded"]["loss"], expected["loss"], rel_tol=1e-5)
    # the kept files: the two best validation accuracies, named by epoch and score
    accuracies = [epoch["accuracy"] for epoch in report["epochs"]]
    best_two = sorted(accuracies, reverse=True)[:2]
    names = []
    for name in report["checkpoints"]:
        epoch = int(name.split("_")[2])
        assert name == f"mnist_model_{epoch}_accuracy={accuracies[epoch - 1]:.4f}.pt"
        assert accuracies[epoch - 1] in best_two
        names.append(name)
    assert len(names) == 2 and report["reloaded_path"] in names
    epoch = int(report["reloaded_path"].split("_")[2])
    assert math.isclose(report["epochs"][epoch - 1]["loss"], report["reloaded"]["loss"],
                        rel_tol=1e-6)


def test_early_stopping_and_periodic_events(report):
    losses = [epoch["loss"] for epoch in report["epochs"]]
    best, waited, stop = -math.inf, 0, None
    for epoch, loss in enumerate(losses, 1):
        if -loss <= best:
            waited += 1
            if waited >= 2:
                stop = epoch
                break
        else:
            best, waited = -loss, 0
    assert report["final_epoch"] == (stop or 6) == len(losses)
    assert report["every_2"] == list(range(2, report["final_epoch"] + 1, 2))


def test_schedules_and_running_average_match_numpy(report):
    i = np.arange(len(report["lrs"]))
    # StepLR(step_size=3, gamma=0.5) behind Ignite's LRScheduler, read before its step
    np.testing.assert_allclose(report["lrs"], 0.1 * 0.5 ** (np.maximum(i - 1, 0) // 3))
    # LinearCyclicalScheduler 0.9 -> 0.5 -> 0.9 over 6 iterations
    np.testing.assert_allclose(report["momentum"], 0.5 + 0.4 * np.abs(1 - 2 * (i % 6) / 6))
    running = [report["iteration_losses"][0]]
    for loss in report["iteration_losses"][1:]:
        running.append(0.98 * running[-1] + 0.02 * loss)
    np.testing.assert_allclose(report["running_loss"], running, rtol=1e-6)
    # linear warmup over 3 iterations, then a cosine cycle of 8 from 0.01 to 0.001
    i = np.arange(len(report["warmup_lrs"]))
    cosine = 0.001 + 0.0045 * (1 + np.cos(np.pi * ((i - 2) % 8) / 8))
    np.testing.assert_allclose(report["warmup_lrs"], np.where(i < 3, 0.005 * i, cosine),
                               atol=1e-12)
    np.testing.assert_allclose(report["piecewise"],
                               np.interp(np.arange(10), [0, 4, 8], [0.0, 1.0, 0.5]))
    t = np.arange(8)
    first = 0.1 + 0.2 * (1 - np.cos(np.pi * t / 4))
    second = 0.01 + 0.245 * (1 + np.cos(np.pi * (t - 4) / 6))
    np.testing.assert_allclose(report["concat"], np.where(t < 4, first, second))
    lrs, losses = report["lr_finder"]
    np.testing.assert_allclose(lrs, 1e-4 * 1e4 ** ((np.arange(8) + 1) / 8))
    assert np.isfinite(losses).all()


def test_ema_model_metrics_match_numpy(report):
    metrics = report["ema_metrics"]
    expected = _classification(report["ema_logits"], report["val_labels"])
    assert math.isclose(metrics["accuracy"], expected["accuracy"])
    assert math.isclose(metrics["top2"], expected["top2"])
    np.testing.assert_allclose(metrics["precision"], expected["precision"])
    np.testing.assert_allclose(metrics["recall"], expected["recall"])
    p, r = expected["precision"], expected["recall"]
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.nan_to_num(2 * p * r / (p + r))
        f_half = np.nan_to_num(1.25 * p * r / (0.25 * p + r))
    assert math.isclose(metrics["f1"], f1.mean(), rel_tol=1e-9)
    assert math.isclose(metrics["fbeta"], f_half.mean(), rel_tol=1e-6)


def test_checkpoint_resumes_training_state(report):
    assert report["world"] == [1, 0, "cpu", None]
    assert report["checkpoint"] == ["checkpoint_12.pt"]
    assert report["trainer_state"] == {"epoch_length": 4, "iteration": 12, "max_epochs": 3}
    assert report["resumed_equal"] and report["resumed_epoch"] == 3
    assert report["resumed_adam_steps"] == [6.0] * 4  # 12 iterations, 2 accumulated a step
    assert report["resumed_epoch_after"] == 4 and np.isfinite(report["resumed_weights"]).all()
    assert report["timer_positive"]


def test_fixed_metrics_and_utilities_match_numpy(report):
    pred, target = np.linspace(0, 1, 10), np.linspace(0, 1, 10) ** 2
    mse, mae, average, geometric = report["regression"]
    assert math.isclose(mse, ((pred - target) ** 2).mean(), rel_tol=1e-6)
    assert math.isclose(mae, np.abs(pred - target).mean(), rel_tol=1e-6)
    assert average == [2.5, 5.0] and np.allclose(geometric, [2.0, 4.0])
    assert report["onehot"] == np.eye(3, dtype=int)[[0, 2, 1]].tolist()
    batches = report["deterministic_batches"]
    for epoch in (batches[:2], batches[2:]):
        assert sorted(sum(epoch, [])) == list(range(8))
    assert batches[:2] != batches[2:]
