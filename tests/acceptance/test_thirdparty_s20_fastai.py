"""fastai on ember, where fastai is installed (it is not a test dependency: its package requires
PyTorch; .ci/run installs it without dependencies, with fastcore, fastprogress, fastdownload,
fasttransform, plum-dispatch with beartype, and pandas and matplotlib, which fastai's core
imports). fastai's documented paths on tiny synthetic data, run with ``torch`` resolved to ember
in a fresh interpreter: a ``Learner`` on ``DataLoaders.from_dsets`` of plain ``TensorDataset``s
trained by ``fit_one_cycle`` and by ``fit`` with callbacks (a batch counter,
``SaveModelCallback``), the accuracy metric, ``lr_find``, ``save``/``load`` and ``get_preds``;
``vision_learner`` on a tiny arch (body cut at its pooling layer, fastai's concat-pool head) fed
``TensorImage`` batches through ``IntToFloatTensor`` and ``Normalize``, then frozen and fitted
again; ``TensorBase``'s ``__torch_function__`` keeping ``TensorImage`` through ops;
``TabularPandas`` (Categorify, FillMissing, Normalize) with ``tabular_learner``, ``validate`` and
``predict`` on a DataFrame row, and a ``TabularModel``'s forward and backward. The numbers are
checked here against NumPy: the one-cycle learning rates against its cosine formula, the first
batch's loss, the validation predictions, loss and accuracy against the MLP in NumPy, the
normalized image batch and the tabular columns against NumPy, the TabularModel's logits and
last-layer gradient against NumPy. tests/conformance/test_thirdparty_s20_fastai_vs_torch.py
compares every number with real PyTorch's."""
from __future__ import annotations

import functools
import importlib.util
import math
import textwrap

import numpy as np
import pytest

from tests.acceptance import script_report

for _name in ("fastai", "pandas", "matplotlib"):  # fastai's core imports all three
    if importlib.util.find_spec(_name) is None:  # (importing fastai would import torch)
        pytest.skip(f"{_name} is not installed", allow_module_level=True)

SCRIPT = script_report.OUT_SOURCE + textwrap.dedent('''
    import json
    import shutil
    import tempfile
    import warnings
    from pathlib import Path

    import numpy as np
    import pandas as pd
    import torch
    import torch.nn.functional as F
    from torch import nn
    from torch.utils.data import Dataset, TensorDataset
    from fastai.tabular.all import (Categorify, CategoryBlock, FillMissing, TabularModel,
                                    TabularPandas, tabular_learner)
    from fastai.tabular.all import Normalize as NormalizeColumns
    from fastai.vision.all import (Callback, ConvLayer, CrossEntropyLossFlat, DataLoaders,
                                   IntToFloatTensor, Learner, Normalize, ProgressCallback,
                                   SaveModelCallback, TensorCategory, TensorImage, accuracy,
                                   set_seed, vision_learner)

    warnings.simplefilter("ignore")  # fastai warns about its own deprecations
    folder = Path(tempfile.mkdtemp())
    torch.set_num_threads(1)  # the steps are tiny: more threads only contend for the cores
    set_seed(0)  # Python's, NumPy's and torch's generators: fastai shuffles with Python's


    class Losses(Callback):
        """Every training batch's loss, and the first batch itself."""
        def before_fit(self):
            self.losses, self.first = [], None

        def after_loss(self):
            if self.training:
                self.losses.append(self.loss.item())
                if self.first is None:
                    self.first = (out(self.xb[0]), out(self.yb[0]))


    def epochs(learn):
        """The recorder's per-epoch (train loss, valid loss, accuracy)."""
        return [[float(v) for v in epoch] for epoch in learn.recorder.values]


    def quiet(learn):
        learn.remove_cb(ProgressCallback)
        return learn


    def blobs(n):
        x = torch.randn(n, 4)
        return TensorDataset(x, (x[:, 0] + 0.5 * x[:, 1] > 0).long())


    train, valid = blobs(64), blobs(32)
    dls = DataLoaders.from_dsets(train, valid, bs=16, num_workers=0, device="cpu")
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))
    learn = quiet(Learner(dls, model, loss_func=CrossEntropyLossFlat(), metrics=accuracy,
                          path=folder))
    mlp = {"state0": out(dict(model.state_dict())), "valid_x": out(valid.tensors[0]),
           "valid_y": out(valid.tensors[1]), "n_train_batches": len(dls.train)}
    losses = Losses()
    with learn.no_logging():
        learn.fit_one_cycle(2, 1e-2, cbs=losses)
    mlp["one_cycle"] = {"losses": losses.losses, "first": losses.first,
                        "lrs": [float(lr) for lr in learn.recorder.lrs],
                        "values": epochs(learn)}


    class CountBatches(Callback):
        def before_fit(self):
            self.batches = 0

        def after_batch(self):
            self.batches += self.training


    counter = CountBatches()
    with learn.no_logging():
        learn.fit(1, 1e-3, cbs=[counter, SaveModelCallback(monitor="valid_loss", fname="best")])
    mlp["fit"] = {"batches": counter.batches, "values": epochs(learn),
                  "best_saved": (folder / "models" / "best.pth").exists()}
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with learn.no_logging():
        suggestion = learn.lr_find(num_it=12, show_plot=False)
    mlp["lr_find"] = {"valley": float(suggestion.valley),
                      "lrs": [float(lr) for lr in learn.recorder.lrs],
                      "losses": [float(loss) for loss in learn.recorder.losses],
                      "restored": all(torch.equal(before[k], v)
                                      for k, v in model.state_dict().items())}
    preds, targets = learn.get_preds()
    mlp["preds"], mlp["targets"] = out(preds), out(targets)
    mlp["state"] = out(dict(model.state_dict()))
    learn.save("mlp")
    with torch.no_grad():
        model[0].weight.zero_()
    learn.load("mlp")
    mlp["reloaded"] = all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    report = {"mlp": mlp}


    class Squares(Dataset):
        """uint8 3x8x8 images of noise; class 1 has a bright square in the upper half."""
        def __init__(self, n):
            self.images = (torch.rand(n, 3, 8, 8) * 60).to(torch.uint8)
            self.labels = torch.randint(0, 2, (n,))
            for i in range(n):
                row = 1 if self.labels[i] == 1 else 5
                self.images[i, :, row:row + 2, 3:5] = 220

        def __len__(self):
            return len(self.labels)

        def __getitem__(self, i):
            return TensorImage(self.images[i]), TensorCategory(self.labels[i])


    def tiny_arch(pretrained=False):
        return nn.Sequential(ConvLayer(3, 8, stride=2), ConvLayer(8, 16, stride=2),
                             nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))


    squares_valid = Squares(16)
    dls = DataLoaders.from_dsets(Squares(32), squares_valid, bs=8, num_workers=0, device="cpu",
                                 after_batch=[IntToFloatTensor(),
                                              Normalize.from_stats([0.2] * 3, [0.3] * 3,
                                                                   cuda=False)])
    xb, yb = dls.valid.one_batch()
    learn = quiet(vision_learner(dls, tiny_arch, pretrained=False, n_out=2, lin_ftrs=[8],
                                 loss_func=CrossEntropyLossFlat(), metrics=accuracy,
                                 path=folder))
    vision = {"raw": out(squares_valid.images[:8]), "batch": out(xb), "labels": out(yb),
              "types": [type(xb).__name__, type(yb).__name__],
              "kept": [type(v).__name__ for v in (xb * 2, xb[0], F.relu(xb), xb.mean(),
                                                 torch.cat([xb, xb]), xb.view(8, -1),
                                                 xb.float(), torch.flip(xb, [3]))],
              "head": [type(m).__name__ for m in learn.model[1]],
              "logits0": out(learn.model.eval()(xb))}
    losses = Losses()
    with learn.no_logging():
        learn.fit_one_cycle(2, 1e-2, cbs=losses)
    vision["one_cycle"] = {"losses": losses.losses, "values": epochs(learn)}
    learn.freeze()
    vision["trainable"] = [[p.requires_grad for p in group]
                           for group in learn.opt.param_lists]
    with learn.no_logging():
        learn.fit(1, 1e-3)
    vision["frozen_fit"] = epochs(learn)
    preds, targets, decoded = learn.get_preds(with_decoded=True)
    vision["preds"] = {"probs": out(preds), "targets": out(targets), "decoded": out(decoded)}
    report["vision"] = vision

    rng = np.random.default_rng(0)
    n = 64
    df = pd.DataFrame({"color": rng.choice(["red", "green", "blue"], n),
                       "size": rng.choice(["S", "M", "L", "XL"], n),
                       "w": rng.normal(size=n), "h": rng.normal(size=n)})
    df.loc[3, "w"] = np.nan
    df["y"] = np.where(df["w"].fillna(0) + (df["color"] == "red") > 0.5, "yes", "no")
    table = TabularPandas(df, procs=[Categorify, FillMissing, NormalizeColumns],
                          cat_names=["color", "size"], cont_names=["w", "h"], y_names="y",
                          y_block=CategoryBlock(), splits=(list(range(48)), list(range(48, 64))))
    learn = quiet(tabular_learner(table.dataloaders(bs=16, num_workers=0, device="cpu"),
                                  layers=[8, 4], metrics=accuracy, path=folder))
    losses = Losses()
    with learn.no_logging():
        learn.fit_one_cycle(2, 1e-2, cbs=losses)
    tabular = {"w": df["w"].tolist()[:48], "h": df["h"].tolist()[:48],
               "xs": table.train.xs.to_numpy().tolist(), "columns": list(table.train.xs.columns),
               "losses": losses.losses, "values": epochs(learn),
               "validate": [float(v) for v in learn.validate()]}
    _, predicted, probs = learn.predict(df.iloc[50])
    tabular["predict"] = {"class": int(predicted), "probs": out(probs)}
    model = TabularModel(emb_szs=[(4, 3), (5, 2)], n_cont=2, out_sz=2, layers=[6],
                         ps=[0.0]).eval()
    x_cat = torch.tensor([[1, 2], [3, 0], [0, 4]])
    x_cont = torch.randn(3, 2)
    target = torch.tensor([0, 1, 1])
    logits = model(x_cat, x_cont)
    F.cross_entropy(logits, target).backward()
    tabular["model"] = {"state": out(dict(model.state_dict())), "x_cat": out(x_cat),
                        "x_cont": out(x_cont), "target": out(target), "logits": out(logits),
                        "last_bias_grad": out(model.layers[-1][0].bias.grad),
                        "embedding_grad": out(model.embeds[0].weight.grad)}
    report["tabular"] = tabular
    shutil.rmtree(folder)
    print(json.dumps(report))
''')

# the script's report, run under ``command_prefix`` (``-m ember.compat``: on ember)
run_script = functools.partial(script_report.run_script, SCRIPT, "fastai_script.py")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    return run_script("-m", "ember.compat", tmp_path=tmp_path_factory.mktemp("fastai"))


def _mlp_probs(state: dict, x) -> np.ndarray:
    w = {k: np.array(v) for k, v in state.items()}
    hidden = np.maximum(np.array(x) @ w["0.weight"].T + w["0.bias"], 0)
    logits = hidden @ w["2.weight"].T + w["2.bias"]
    e = np.exp(logits - logits.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def _cross_entropy(probs: np.ndarray, targets) -> float:
    return float(-np.mean(np.log(probs[np.arange(len(probs)), np.array(targets)])))


def test_one_cycle_follows_its_cosine_schedule(report):
    mlp = report["mlp"]
    steps = 2 * mlp["n_train_batches"]
    lr_max, div, div_final, pct_start = 1e-2, 25.0, 1e5, 0.25

    def cos(start, end, pos):
        return start + (1 + math.cos(math.pi * (1 - pos))) * (end - start) / 2
    expected = [cos(lr_max / div, lr_max, (i / steps) / pct_start) if i / steps < pct_start
                else cos(lr_max, lr_max / div_final, (i / steps - pct_start) / (1 - pct_start))
                for i in range(steps)]
    # (fastai's combine_scheds finds the position within a phase in float32 tensors)
    np.testing.assert_allclose(mlp["one_cycle"]["lrs"], expected, rtol=1e-6)
    assert len(mlp["one_cycle"]["losses"]) == steps


def test_first_batch_loss_and_final_predictions_match_numpy(report):
    mlp = report["mlp"]
    x, y = mlp["one_cycle"]["first"]
    assert len(y) == 16
    np.testing.assert_allclose(mlp["one_cycle"]["losses"][0],
                               _cross_entropy(_mlp_probs(mlp["state0"], x), y), rtol=1e-5)
    probs = _mlp_probs(mlp["state"], mlp["valid_x"])
    np.testing.assert_allclose(mlp["preds"], probs, rtol=1e-5, atol=1e-6)
    assert mlp["targets"] == mlp["valid_y"]
    # the last fit ended where get_preds ran (SaveModelCallback reloaded its only epoch)
    _, valid_loss, acc = mlp["fit"]["values"][-1]
    np.testing.assert_allclose(valid_loss, _cross_entropy(probs, mlp["valid_y"]), rtol=1e-5)
    np.testing.assert_allclose(acc, np.mean(probs.argmax(1) == np.array(mlp["valid_y"])))
    assert mlp["fit"]["batches"] == mlp["n_train_batches"] and mlp["fit"]["best_saved"]
    assert all(np.isfinite(v).all() for v in mlp["one_cycle"]["values"])


def test_lr_find_restores_the_model_and_save_load_round_trips(report):
    mlp = report["mlp"]
    finder = mlp["lr_find"]
    assert finder["restored"] and mlp["reloaded"]
    assert len(finder["lrs"]) == len(finder["losses"]) <= 12
    assert np.all(np.diff(finder["lrs"]) > 0)  # exponentially increasing from 1e-7
    np.testing.assert_allclose(finder["lrs"][0], 1e-7, rtol=1e-6)
    assert finder["lrs"][0] <= finder["valley"] <= finder["lrs"][-1]


def test_vision_batches_keep_their_types_and_are_normalized(report):
    vision = report["vision"]
    raw = np.array(vision["raw"], dtype=np.float64)
    np.testing.assert_allclose(vision["batch"], (raw / 255 - 0.2) / 0.3, rtol=1e-5, atol=1e-6)
    assert vision["types"] == ["TensorImage", "TensorCategory"]
    assert vision["kept"] == ["TensorImage"] * 8
    assert vision["head"] == ["AdaptiveConcatPool2d", "Flatten", "BatchNorm1d", "Dropout",
                              "Linear", "ReLU", "BatchNorm1d", "Dropout", "Linear"]
    assert np.array(vision["logits0"]).shape == (8, 2)
    # freeze(): the body's BatchNorm layers train on (train_bn), its convolutions do not
    body, head = vision["trainable"]
    assert body == [False, True, True, False, True, True] and all(head)
    for values in vision["one_cycle"]["values"] + vision["frozen_fit"]:
        assert np.isfinite(values).all()
    probs = np.array(vision["preds"]["probs"])
    np.testing.assert_allclose(probs.sum(1), 1, rtol=1e-6)
    assert vision["preds"]["decoded"] == probs.argmax(1).tolist()


def test_tabular_columns_and_model_match_numpy(report):
    tabular = report["tabular"]
    xs = np.array(tabular["xs"])
    assert tabular["columns"] == ["color", "size", "w_na", "w", "h"]
    w, h = np.array(tabular["w"]), np.array(tabular["h"])
    assert np.isnan(w[3]) and xs[3, 2] == 2 and (np.delete(xs[:, 2], 3) == 1).all()
    w[3] = np.median(np.delete(w, 3))  # FillMissing's median of the training rows
    for column, values in ((3, w), (4, h)):
        np.testing.assert_allclose(xs[:, column], (values - values.mean()) / (values.std() + 1e-7),
                                   rtol=1e-5, atol=1e-6)
    assert np.isfinite(tabular["values"]).all() and len(tabular["losses"]) == 2 * 3
    np.testing.assert_allclose(tabular["validate"], tabular["values"][-1][1:], rtol=1e-6)
    probs = np.array(tabular["predict"]["probs"])
    assert probs.shape == (2,) and tabular["predict"]["class"] == probs.argmax()
    np.testing.assert_allclose(probs.sum(), 1, rtol=1e-6)

    model = tabular["model"]
    state = {k: np.array(v, dtype=np.float64) for k, v in model["state"].items()}
    x_cat, x_cont = np.array(model["x_cat"]), np.array(model["x_cont"])

    def batch_norm(x, prefix):  # eval mode: running statistics
        return ((x - state[f"{prefix}.running_mean"]) / np.sqrt(state[f"{prefix}.running_var"]
                                                                 + 1e-5)
                * state[f"{prefix}.weight"] + state[f"{prefix}.bias"])
    embedded = np.concatenate([state["embeds.0.weight"][x_cat[:, 0]],
                               state["embeds.1.weight"][x_cat[:, 1]]], 1)
    features = np.concatenate([embedded, batch_norm(x_cont, "bn_cont")], 1)
    hidden = batch_norm(np.maximum(features @ state["layers.0.0.weight"].T, 0), "layers.0.2")
    logits = hidden @ state["layers.1.0.weight"].T + state["layers.1.0.bias"]
    np.testing.assert_allclose(model["logits"], logits, rtol=1e-5, atol=1e-6)
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    onehot = np.eye(2)[model["target"]]
    np.testing.assert_allclose(model["last_bias_grad"], (probs - onehot).mean(0), rtol=1e-5,
                               atol=1e-7)
    assert np.abs(model["embedding_grad"]).sum() > 0
