"""PyTorch Lightning on ember, where pytorch_lightning is installed (it is not a test dependency:
its package requires PyTorch; .ci/run installs it without). A LightningModule logging a
torchmetrics metric trains under ``Trainer.fit`` with validation and an LR scheduler, then
``validate`` and ``predict`` run; the model summary counts parameters and FLOPs
(``FlopCounterMode``); a second run with bf16 mixed precision, gradient accumulation and
clipping, a CSV logger, checkpointing and early stopping reloads its best checkpoint with
``load_from_checkpoint``; all with ``torch`` resolved to ember in a fresh interpreter.
tests/conformance/test_thirdparty_s16_vs_torch.py compares the numbers with real PyTorch's."""
from __future__ import annotations

import functools
import importlib.util
import textwrap

import numpy as np
import pytest

from tests.acceptance import script_report

if (importlib.util.find_spec("pytorch_lightning") is None
        or importlib.util.find_spec("torchmetrics") is None):
    pytest.skip("pytorch_lightning or torchmetrics is not installed", allow_module_level=True)

SCRIPT = textwrap.dedent('''
    import json
    import os
    import tempfile
    import pytorch_lightning as pl
    import torch
    from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint
    from pytorch_lightning.loggers import CSVLogger
    from pytorch_lightning.utilities.model_summary import ModelSummary
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset
    from torchmetrics.classification import MulticlassAccuracy

    class Classifier(pl.LightningModule):
        def __init__(self, lr=0.05):
            super().__init__()
            self.save_hyperparameters()
            self.net = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 3))
            self.train_acc = MulticlassAccuracy(num_classes=3)
            self.example_input_array = torch.zeros(2, 8)
            self.losses = []

        def forward(self, x):
            return self.net(x)

        def training_step(self, batch, batch_idx):
            x, y = batch
            logits = self(x)
            loss = nn.functional.cross_entropy(logits, y)
            self.train_acc(logits, y)
            self.log("train_loss", loss)
            self.log("train_acc", self.train_acc, on_step=False, on_epoch=True)
            self.losses.append(loss.item())
            return loss

        def validation_step(self, batch, batch_idx):
            x, y = batch
            self.log("val_loss", nn.functional.cross_entropy(self(x), y))

        def predict_step(self, batch, batch_idx):
            return self(batch[0]).softmax(-1)

        def configure_optimizers(self):
            optimizer = torch.optim.SGD(self.parameters(), lr=self.hparams.lr, momentum=0.9)
            scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
            return {"optimizer": optimizer, "lr_scheduler": scheduler}

    torch.manual_seed(0)
    x = torch.randn(96, 8)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long()
    train = DataLoader(TensorDataset(x[:64], y[:64]), batch_size=16, shuffle=True)
    val = DataLoader(TensorDataset(x[64:], y[64:]), batch_size=16)
    quiet = dict(accelerator="cpu", enable_progress_bar=False, enable_model_summary=False)

    pl.seed_everything(0)
    model = Classifier()
    trainer = pl.Trainer(max_epochs=2, logger=False, enable_checkpointing=False, **quiet)
    trainer.fit(model, train, val)
    metrics = {k: float(v) for k, v in sorted(trainer.callback_metrics.items())}
    predictions = trainer.predict(model, DataLoader(TensorDataset(x[64:]), batch_size=16))
    summary = ModelSummary(model, max_depth=-1)
    report = {"losses": model.losses, "epochs": trainer.current_epoch, "metrics": metrics,
              "global_step": trainer.global_step,
              "lr": trainer.optimizers[0].param_groups[0]["lr"],
              "validated": [float(v) for r in trainer.validate(model, val, verbose=False)
                            for v in r.values()],
              "predicted": [list(p.shape) for p in predictions],
              "predicted_sums": [float(p.sum()) for p in predictions],
              "summary": {"total": summary.total_parameters, "flops": summary.total_flops,
                          "layers": summary.layer_names}}

    with tempfile.TemporaryDirectory() as d:
        pl.seed_everything(0)
        model = Classifier(lr=0.02)
        checkpoint = ModelCheckpoint(dirpath=d, monitor="val_loss", save_top_k=1)
        trainer = pl.Trainer(max_epochs=3, logger=CSVLogger(d, name="csv"),
                             callbacks=[checkpoint, EarlyStopping(monitor="val_loss", patience=5)],
                             accumulate_grad_batches=2, gradient_clip_val=0.5,
                             precision="bf16-mixed", **quiet)
        trainer.fit(model, train, val)
        restored = Classifier.load_from_checkpoint(checkpoint.best_model_path)
        trainer.save_checkpoint(os.path.join(d, "last.ckpt"))
        saved = torch.load(os.path.join(d, "last.ckpt"), weights_only=False)
        report["mixed"] = {
            "losses": model.losses, "global_step": trainer.global_step,
            "best": os.path.basename(checkpoint.best_model_path),
            "restored_equal": all(torch.equal(a, b) for a, b in zip(
                restored.state_dict().values(), model.state_dict().values())),
            "hparams": dict(restored.hparams), "checkpoint_keys": sorted(saved),
            "epoch": saved["epoch"], "csv": sorted(os.listdir(trainer.logger.log_dir))}
    print(json.dumps(report))
''')


# the script's report, run under ``command_prefix`` (``-m ember.compat``: on ember)
run_script = functools.partial(script_report.run_script, SCRIPT, "lightning_script.py")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    return run_script("-m", "ember.compat", tmp_path=tmp_path_factory.mktemp("lightning"))


def test_trainer_fits_validates_and_predicts(report):
    assert report["epochs"] == 2 and report["global_step"] == 8 and len(report["losses"]) == 8
    assert np.mean(report["losses"][-4:]) < np.mean(report["losses"][:4])
    assert report["metrics"]["train_loss"] == report["losses"][-1]
    assert 0 <= report["metrics"]["train_acc"] <= 1
    assert np.isclose(report["lr"], 0.05 * 0.5 ** 2)  # StepLR stepped once per epoch
    assert report["validated"] == [report["metrics"]["val_loss"]]
    assert report["predicted"] == [[16, 3], [16, 3]]
    assert np.allclose(report["predicted_sums"], 16, rtol=1e-5)  # softmax rows sum to 1


def test_model_summary_counts_parameters_and_flops(report):
    summary = report["summary"]
    assert summary["total"] == 8 * 32 + 32 + 32 * 3 + 3
    assert summary["flops"] == 2 * 2 * (8 * 32 + 32 * 3)  # a batch of 2 through both Linears
    assert summary["layers"] == ["net", "net.0", "net.1", "net.2", "train_acc"]


def test_mixed_precision_run_checkpoints_and_restores(report):
    mixed = report["mixed"]
    assert mixed["global_step"] == 6 and len(mixed["losses"]) == 12  # 2 batches per step
    assert mixed["best"].endswith(".ckpt") and mixed["restored_equal"]
    assert mixed["hparams"] == {"lr": 0.02} and mixed["epoch"] == 3
    assert {"state_dict", "optimizer_states", "lr_schedulers", "hyper_parameters"} <= set(
        mixed["checkpoint_keys"])
    assert mixed["csv"] == ["hparams.yaml", "metrics.csv"]
