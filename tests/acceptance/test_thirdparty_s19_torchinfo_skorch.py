"""torchinfo and skorch on ember, each where it is installed (neither is a test dependency:
torchinfo's package requires PyTorch, skorch's too; .ci/run installs them, and skorch's
``tabulate``, without dependencies). torchinfo's ``summary()`` of a small CNN and of an
embedding + bidirectional LSTM model (parameter counts, per-layer input and output shapes,
mult-adds, memory estimates and the printed table), skorch's ``NeuralNetClassifier`` with
callbacks (``EpochScoring``, ``LRScheduler``, ``EarlyStopping``) and a validation split,
``save_params`` / ``load_params``, a ``NeuralNetRegressor`` and a ``GridSearchCV`` over a
scikit-learn pipeline, each run with ``torch`` resolved to ember in a fresh interpreter. The
values are checked here against closed forms (the layers' parameter counts and torchinfo's
mult-add rule), NumPy forwards of the learned weights and the callbacks' documented rules.
tests/conformance/test_thirdparty_s19_monai_torchinfo_skorch_vs_torch.py compares every value
with real PyTorch's."""
from __future__ import annotations

import functools
import importlib.util
import math
import textwrap

import numpy as np
import pytest

from tests.acceptance import script_report

TORCHINFO_SCRIPT = script_report.OUT_SOURCE + textwrap.dedent('''
    import json
    import torch
    from torch import nn
    from torchinfo import summary


    class CNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(8, 16, 3), nn.ReLU())
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.head = nn.Linear(16, 10)

        def forward(self, x):
            return self.head(self.pool(self.features(x)).flatten(1))


    class Tagger(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(20, 6)
            self.lstm = nn.LSTM(6, 5, num_layers=2, batch_first=True, bidirectional=True)
            self.head = nn.Linear(10, 3)

        def forward(self, tokens):
            states, _ = self.lstm(self.embedding(tokens))
            return self.head(states[:, -1])


    def layers(stats):
        return [{"class": layer.class_name, "depth": layer.depth, "var_name": layer.var_name,
                 "input_size": out(layer.input_size), "output_size": out(layer.output_size),
                 "params": layer.num_params, "trainable": layer.trainable_params,
                 "macs": layer.macs, "leaf": layer.is_leaf_layer}
                for layer in stats.summary_list]


    def totals(stats):
        return {"params": stats.total_params, "trainable": stats.trainable_params,
                "mult_adds": stats.total_mult_adds, "input_bytes": stats.total_input,
                "output_bytes": stats.total_output_bytes, "param_bytes": stats.total_param_bytes}


    torch.manual_seed(0)
    cnn_stats = summary(CNN(), input_size=(2, 3, 16, 16), verbose=0,
                        col_names=("input_size", "output_size", "num_params", "mult_adds"))
    lstm_stats = summary(Tagger(), input_data=torch.zeros(3, 7, dtype=torch.long), verbose=0,
                         depth=3, col_names=("output_size", "num_params", "mult_adds"),
                         row_settings=("var_names", "depth"))
    report = {"cnn": {"layers": layers(cnn_stats), "totals": totals(cnn_stats),
                      "table": str(cnn_stats)},
              "lstm": {"layers": layers(lstm_stats), "totals": totals(lstm_stats),
                       "table": str(lstm_stats)}}
    print(json.dumps(report))
''')

SKORCH_SCRIPT = script_report.OUT_SOURCE + textwrap.dedent('''
    import json
    import os
    import tempfile
    import numpy as np
    import torch
    from torch import nn
    from sklearn.datasets import make_classification, make_regression
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from skorch import NeuralNetClassifier, NeuralNetRegressor
    from skorch.callbacks import EarlyStopping, EpochScoring, LRScheduler
    from skorch.dataset import ValidSplit


    class Classifier(nn.Module):
        def __init__(self, hidden=16):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(8, hidden), nn.ReLU(), nn.Linear(hidden, 2))

        def forward(self, X):
            return torch.softmax(self.net(X), dim=-1)


    def weights(module):
        return {k: out(v) for k, v in module.state_dict().items()}


    X, y = make_classification(60, 8, n_informative=4, random_state=0)
    X, y = X.astype(np.float32), y.astype(np.int64)
    torch.manual_seed(0)
    net = NeuralNetClassifier(
        Classifier, max_epochs=8, lr=0.1, batch_size=16, train_split=ValidSplit(4),
        callbacks=[EpochScoring("accuracy", name="train_acc", on_train=True,
                                lower_is_better=False),
                   LRScheduler(policy="StepLR", step_size=2, gamma=0.5),
                   EarlyStopping(patience=3)],
        iterator_train__shuffle=False, verbose=0)
    net.fit(X, y)
    proba = net.predict_proba(X)
    keys = ("train_loss", "valid_loss", "valid_acc", "train_acc", "event_lr")
    report = {"X": X.tolist(), "y": y.tolist(),
              "classifier": {"history": {k: [float(v) for v in net.history[:, k]] for k in keys},
                             "batches": [len(e["batches"]) for e in net.history],
                             "proba": proba.tolist(), "predict": net.predict(X).tolist(),
                             "weights": weights(net.module_)}}

    directory = tempfile.mkdtemp()
    files = {"f_params": os.path.join(directory, "params.pt"),
             "f_optimizer": os.path.join(directory, "optimizer.pt"),
             "f_history": os.path.join(directory, "history.json")}
    net.save_params(**files)
    restored = NeuralNetClassifier(Classifier, lr=0.1, batch_size=16).initialize()
    restored.load_params(**files)
    report["restored"] = {
        "proba_error": float(np.abs(restored.predict_proba(X) - proba).max()),
        "epochs": len(restored.history),
        "optimizer_steps": [s["step"].item() if torch.is_tensor(s["step"]) else s["step"]
                            for s in restored.optimizer_.state_dict()["state"].values()]}

    Xr, yr = make_regression(40, 5, noise=0.1, random_state=0)
    Xr, yr = Xr.astype(np.float32), (yr / 100).astype(np.float32).reshape(-1, 1)
    torch.manual_seed(0)
    regressor = NeuralNetRegressor(
        nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 1)), max_epochs=6, lr=0.02,
        optimizer=torch.optim.Adam, train_split=None, batch_size=10, verbose=0)
    regressor.fit(Xr, yr)
    report["regressor"] = {"X": Xr.tolist(), "y": yr.tolist(),
                           "train_loss": [float(v) for v in regressor.history[:, "train_loss"]],
                           "predict": regressor.predict(Xr).tolist(),
                           "weights": weights(regressor.module_)}

    torch.manual_seed(0)
    pipeline = Pipeline([("scale", StandardScaler()),
                         ("net", NeuralNetClassifier(Classifier, max_epochs=3, lr=0.1,
                                                     train_split=False, verbose=0))])
    search = GridSearchCV(pipeline, {"net__module__hidden": [4, 8]}, cv=2, scoring="accuracy",
                          refit=False)
    search.fit(X, y)
    report["grid_search"] = {"params": [p["net__module__hidden"]
                                        for p in search.cv_results_["params"]],
                             "scores": search.cv_results_["mean_test_score"].tolist()}
    print(json.dumps(report))
''')

# each script's report, run under ``command_prefix`` (``-m ember.compat``: on ember)
run_torchinfo = functools.partial(script_report.run_script, TORCHINFO_SCRIPT,
                                  "torchinfo_script.py")
run_skorch = functools.partial(script_report.run_script, SKORCH_SCRIPT, "skorch_script.py")

needs_torchinfo = pytest.mark.skipif(importlib.util.find_spec("torchinfo") is None,
                                     reason="torchinfo is not installed")
needs_skorch = pytest.mark.skipif(
    importlib.util.find_spec("skorch") is None or importlib.util.find_spec("sklearn") is None,
    reason="skorch (or scikit-learn) is not installed")


@pytest.fixture(scope="module")
def torchinfo_report(tmp_path_factory):
    return run_torchinfo("-m", "ember.compat", tmp_path=tmp_path_factory.mktemp("torchinfo"))


@pytest.fixture(scope="module")
def skorch_report(tmp_path_factory):
    return run_skorch("-m", "ember.compat", tmp_path=tmp_path_factory.mktemp("skorch"))


def _conv_params(c_in, c_out, k):
    return c_out * c_in * k * k + c_out


def _lstm_params(inputs, hidden, layers, directions):
    """Each layer and direction: four gates' input and hidden weights, two biases each."""
    total = 0
    for layer in range(layers):
        width = inputs if layer == 0 else hidden * directions
        total += directions * (4 * hidden * (width + hidden) + 2 * 4 * hidden)
    return total


def _torchinfo_macs(layer) -> int:
    """torchinfo's rule for a leaf layer: a convolution's parameters once per output position
    (batch and space), other weights once per batch row (RNN weights per batch row and time
    step)."""
    size = layer["output_size"]
    if "Conv" in layer["class"]:
        return layer["params"] * size[0] * math.prod(size[2:])
    if layer["class"] == "LSTM":
        return layer["params"] * size[0] * size[1]
    return layer["params"] * size[0]


@needs_torchinfo
def test_cnn_summary_matches_closed_forms(torchinfo_report):
    layers = torchinfo_report["cnn"]["layers"]
    expected = [("CNN", 0, [2, 3, 16, 16], [2, 10]),
                ("Sequential", 1, [2, 3, 16, 16], [2, 16, 6, 6]),
                ("Conv2d", 2, [2, 3, 16, 16], [2, 8, 16, 16]),
                ("BatchNorm2d", 2, [2, 8, 16, 16], [2, 8, 16, 16]),
                ("ReLU", 2, [2, 8, 16, 16], [2, 8, 16, 16]),
                ("MaxPool2d", 2, [2, 8, 16, 16], [2, 8, 8, 8]),
                ("Conv2d", 2, [2, 8, 8, 8], [2, 16, 6, 6]),
                ("ReLU", 2, [2, 16, 6, 6], [2, 16, 6, 6]),
                ("AdaptiveAvgPool2d", 1, [2, 16, 6, 6], [2, 16, 1, 1]),
                ("Linear", 1, [2, 16], [2, 10])]
    assert [(la["class"], la["depth"], la["input_size"], la["output_size"]) for la in layers] \
        == expected
    leaf_params = {2: _conv_params(3, 8, 3), 3: 2 * 8, 6: _conv_params(8, 16, 3),
                   9: 16 * 10 + 10}
    for index, layer in enumerate(layers):
        if layer["leaf"]:
            assert layer["params"] == leaf_params.get(index, 0), layer
            assert layer["macs"] == _torchinfo_macs(layer), layer
    totals = torchinfo_report["cnn"]["totals"]
    assert totals["params"] == totals["trainable"] == sum(leaf_params.values()) == 1578
    assert totals["mult_adds"] == sum(la["macs"] for la in layers if la["leaf"]) == 199156
    assert totals["param_bytes"] == 4 * 1578
    # the float32 outputs of the leaves with parameters, twice (their gradients too)
    assert totals["output_bytes"] == 2 * 4 * sum(math.prod(la["output_size"])
                                                 for la in layers if la["leaf"] and la["params"])
    # sys.getsizeof of the input's storage: its bytes and a small object
    assert 0 <= totals["input_bytes"] - 4 * 2 * 3 * 16 * 16 < 256
    table = torchinfo_report["cnn"]["table"]
    assert "Total params: 1,578" in table and "Input size (MB): 0.01" in table
    assert "│    └─Conv2d: 2-5" in table and "1,168" in table and "84,096" in table


@needs_torchinfo
def test_lstm_summary_matches_closed_forms(torchinfo_report):
    layers = torchinfo_report["lstm"]["layers"]
    assert [(la["class"], la["var_name"], la["output_size"]) for la in layers] == [
        ("Tagger", "Tagger", [3, 3]), ("Embedding", "embedding", [3, 7, 6]),
        ("LSTM", "lstm", [3, 7, 10]), ("Linear", "head", [3, 3])]
    params = [20 * 6, _lstm_params(6, 5, 2, 2), 10 * 3 + 3]
    assert [la["params"] for la in layers[1:]] == params and params[1] == 1200
    assert all(la["macs"] == _torchinfo_macs(la) for la in layers[1:])
    totals = torchinfo_report["lstm"]["totals"]
    assert totals["params"] == sum(params) and totals["mult_adds"] == 360 + 25200 + 99
    assert "LSTM (lstm): 1-2" in torchinfo_report["lstm"]["table"]


def _mlp(weights: dict, x: np.ndarray, prefix: str, activation) -> np.ndarray:
    """A two-layer MLP's forward from a state_dict (keys ``{prefix}0`` and ``{prefix}2``)."""
    hidden = activation(x @ np.array(weights[f"{prefix}0.weight"]).T
                        + np.array(weights[f"{prefix}0.bias"]))
    return hidden @ np.array(weights[f"{prefix}2.weight"]).T + np.array(weights[f"{prefix}2.bias"])


@needs_skorch
def test_classifier_predictions_are_the_learned_networks(skorch_report):
    classifier = skorch_report["classifier"]
    X = np.array(skorch_report["X"])
    logits = _mlp(classifier["weights"], X, "net.", lambda h: np.maximum(h, 0))
    proba = np.exp(logits - logits.max(1, keepdims=True))
    proba /= proba.sum(1, keepdims=True)
    np.testing.assert_allclose(classifier["proba"], proba, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(classifier["predict"], np.argmax(classifier["proba"], 1))
    assert skorch_report["restored"]["proba_error"] == 0.0


@needs_skorch
def test_classifier_callbacks_follow_their_rules(skorch_report):
    history = skorch_report["classifier"]["history"]
    epochs = len(history["train_loss"])
    # StepLR(step_size=2, gamma=0.5), stepped after each epoch
    np.testing.assert_allclose(history["event_lr"], [0.1 * 0.5 ** (e // 2) for e in range(epochs)])
    # EarlyStopping(patience=3) on valid_loss: stop once 3 epochs missed the best so far
    misses, stopped_at = 0, None
    best = math.inf
    for epoch, loss in enumerate(history["valid_loss"], 1):
        misses = 0 if loss < best else misses + 1
        best = min(best, loss)
        if misses >= 3:
            stopped_at = epoch
            break
    assert epochs == (stopped_at or 8)
    # ValidSplit(4): 45 training rows in batches of 16, 15 validation rows in one batch
    assert skorch_report["classifier"]["batches"] == [4] * epochs
    for accuracy in history["valid_acc"]:
        assert round(accuracy * 15) == pytest.approx(accuracy * 15)
    for accuracy in history["train_acc"]:
        assert round(accuracy * 45) == pytest.approx(accuracy * 45)
    assert skorch_report["restored"]["epochs"] == epochs
    assert skorch_report["restored"]["optimizer_steps"] == [] or \
        set(skorch_report["restored"]["optimizer_steps"]) == {4 * epochs}


@needs_skorch
def test_regressor_learns_and_predicts_with_its_weights(skorch_report):
    regressor = skorch_report["regressor"]
    losses = regressor["train_loss"]
    assert all(b < a for a, b in zip(losses, losses[1:]))
    X = np.array(regressor["X"])
    np.testing.assert_allclose(regressor["predict"], _mlp(regressor["weights"], X, "", np.tanh),
                               rtol=1e-5, atol=1e-6)
    scores = skorch_report["grid_search"]
    assert scores["params"] == [4, 8]
    # the mean of two folds' accuracies on 30 rows each
    assert all(0.0 <= s <= 1.0 and round(s * 60) == pytest.approx(s * 60)
               for s in scores["scores"])
