"""torchmetrics on ember, where torchmetrics is installed (it is not a test dependency: its
package requires PyTorch; .ci/run installs it without). Classification metrics (binary,
multiclass, multilabel: accuracy, F1, precision, recall, AUROC, average precision, confusion
matrices, curves, calibration, ...), regression metrics, MetricCollection, wrappers and
aggregations are updated over batches, computed, reset, cloned, pickled and saved in a
``state_dict``, with ``torch`` resolved to ember in a fresh interpreter; the values are checked
here against NumPy. tests/conformance/test_thirdparty_s16_vs_torch.py compares every value with
real PyTorch's."""
from __future__ import annotations

import functools
import importlib.util
import textwrap

import numpy as np
import pytest

from tests.acceptance import script_report

if importlib.util.find_spec("torchmetrics") is None:  # (importing it would import torch)
    pytest.skip("torchmetrics is not installed", allow_module_level=True)

SCRIPT = script_report.OUT_SOURCE + textwrap.dedent('''
    import json
    import pickle
    import torch
    import torchmetrics
    import torchmetrics.functional as F
    from torchmetrics import MetricCollection
    from torchmetrics import classification as C
    from torchmetrics import regression as R
    from torchmetrics.aggregation import CatMetric, MaxMetric, MeanMetric, MinMetric, RunningMean
    from torchmetrics.aggregation import SumMetric
    from torchmetrics.wrappers import ClasswiseWrapper, MetricTracker, MinMaxMetric


    g = torch.Generator().manual_seed(0)
    bin_p = [torch.rand(16, generator=g) for _ in range(3)]
    bin_t = [torch.randint(0, 2, (16,), generator=g) for _ in range(3)]
    mc_p = [torch.randn(16, 4, generator=g).softmax(-1) for _ in range(3)]
    mc_t = [torch.randint(0, 4, (16,), generator=g) for _ in range(3)]
    ml_p = [torch.rand(16, 3, generator=g) for _ in range(3)]
    ml_t = [torch.randint(0, 2, (16, 3), generator=g) for _ in range(3)]
    rg_p = [torch.randn(16, generator=g) for _ in range(3)]
    rg_t = [p + 0.5 * torch.randn(16, generator=g) for p in rg_p]
    report = {"inputs": {name: out(torch.cat(batches)) for name, batches in [
        ("bin_p", bin_p), ("bin_t", bin_t), ("mc_p", mc_p), ("mc_t", mc_t), ("ml_p", ml_p),
        ("ml_t", ml_t), ("rg_p", rg_p), ("rg_t", rg_t)]}}

    def run(metric, preds, target):
        """forward's value per batch, then compute() over all of them"""
        steps = [out(metric(p, t)) for p, t in zip(preds, target)]
        total = out(metric.compute())
        metric.reset()
        return {"steps": steps, "total": total}

    BIN, MC, ML, RG = (bin_p, bin_t), (mc_p, mc_t), (ml_p, ml_t), (rg_p, rg_t)
    metrics = {
        "binary_accuracy": (C.BinaryAccuracy(), BIN), "binary_f1": (C.BinaryF1Score(), BIN),
        "binary_auroc": (C.BinaryAUROC(), BIN),
        "binary_auroc_binned": (C.BinaryAUROC(thresholds=11), BIN),
        "binary_ap": (C.BinaryAveragePrecision(), BIN),
        "binary_confmat": (C.BinaryConfusionMatrix(), BIN),
        "binary_roc": (C.BinaryROC(thresholds=5), BIN),
        "binary_prc": (C.BinaryPrecisionRecallCurve(), BIN),
        "binary_stat_scores": (C.BinaryStatScores(), BIN),
        "mc_accuracy_micro": (C.MulticlassAccuracy(num_classes=4, average="micro"), MC),
        "mc_accuracy_macro": (C.MulticlassAccuracy(num_classes=4), MC),
        "mc_f1_weighted": (C.MulticlassF1Score(num_classes=4, average="weighted"), MC),
        "mc_precision_none": (C.MulticlassPrecision(num_classes=4, average=None), MC),
        "mc_recall_macro": (C.MulticlassRecall(num_classes=4), MC),
        "mc_top2": (C.MulticlassAccuracy(num_classes=4, top_k=2), MC),
        "mc_auroc": (C.MulticlassAUROC(num_classes=4), MC),
        "mc_ap": (C.MulticlassAveragePrecision(num_classes=4), MC),
        "mc_confmat": (C.MulticlassConfusionMatrix(num_classes=4), MC),
        "mc_calibration": (C.MulticlassCalibrationError(num_classes=4, n_bins=5), MC),
        "mc_kappa": (C.MulticlassCohenKappa(num_classes=4), MC),
        "mc_mcc": (C.MulticlassMatthewsCorrCoef(num_classes=4), MC),
        "mc_specificity": (C.MulticlassSpecificity(num_classes=4), MC),
        "mc_jaccard": (C.MulticlassJaccardIndex(num_classes=4), MC),
        "ml_accuracy": (C.MultilabelAccuracy(num_labels=3), ML),
        "ml_f1_micro": (C.MultilabelF1Score(num_labels=3, average="micro"), ML),
        "ml_auroc": (C.MultilabelAUROC(num_labels=3), ML),
        "ml_ap": (C.MultilabelAveragePrecision(num_labels=3), ML),
        "ml_hamming": (C.MultilabelHammingDistance(num_labels=3), ML),
        "ml_ranking_loss": (C.MultilabelRankingLoss(num_labels=3), ML),
        "task_accuracy": (torchmetrics.Accuracy(task="multiclass", num_classes=4), MC),
        "classwise": (ClasswiseWrapper(C.MulticlassAccuracy(num_classes=4, average=None)), MC),
        "minmax": (MinMaxMetric(C.BinaryAccuracy()), BIN),
        "mse": (R.MeanSquaredError(), RG), "rmse": (R.MeanSquaredError(squared=False), RG),
        "mae": (R.MeanAbsoluteError(), RG), "r2": (R.R2Score(), RG),
        "pearson": (R.PearsonCorrCoef(), RG), "spearman": (R.SpearmanCorrCoef(), RG),
        "explained_variance": (R.ExplainedVariance(), RG),
        "mape": (R.MeanAbsolutePercentageError(), RG),
        "msle": (R.MeanSquaredLogError(), ([p.abs() for p in rg_p], [t.abs() for t in rg_t])),
        "cosine": (R.CosineSimilarity(reduction="mean"),
                   ([p.view(4, 4) for p in rg_p], [t.view(4, 4) for t in rg_t])),
        "kl": (R.KLDivergence(), (mc_p, [p.roll(1, -1) for p in mc_p])),
    }
    report["metrics"] = {name: run(metric, *data) for name, (metric, data) in metrics.items()}

    collection = MetricCollection({"acc": C.MulticlassAccuracy(num_classes=4),
                                   "f1": C.MulticlassF1Score(num_classes=4),
                                   "cm": C.MulticlassConfusionMatrix(num_classes=4)},
                                  prefix="val_")
    for p, t in zip(mc_p, mc_t):
        collection.update(p, t)
    report["collection"] = out(collection.compute())
    report["collection_clone"] = out(collection.clone(prefix="test_").compute())
    collection.reset()
    report["collection_forward"] = out(collection(mc_p[0], mc_t[0]))

    acc = C.MulticlassAccuracy(num_classes=4)
    acc.persistent(True)
    acc.update(mc_p[0], mc_t[0])
    report["state_dict"] = out(dict(acc.state_dict()))
    acc2 = acc.clone()
    acc2.update(mc_p[1], mc_t[1])
    report["clone_independent"] = [out(acc.compute()), out(acc2.compute())]
    f1 = C.MulticlassF1Score(num_classes=4)
    f1.update(mc_p[0], mc_t[0])
    f1 = pickle.loads(pickle.dumps(f1))
    f1.update(mc_p[1], mc_t[1])
    f1_double = C.MulticlassF1Score(num_classes=4).set_dtype(torch.float64)
    f1_double.update(mc_p[2].double(), mc_t[2])
    report["pickle_and_dtype"] = [out(f1.compute()), out(f1_double.compute()),
                                  str(f1_double.compute().dtype)]

    aggregates = {"MeanMetric": MeanMetric(), "SumMetric": SumMetric(), "MaxMetric": MaxMetric(),
                  "MinMetric": MinMetric(), "CatMetric": CatMetric()}
    for metric in aggregates.values():
        for p in rg_p:
            metric.update(p)
    report["aggregation"] = {name: out(m.compute()) for name, m in aggregates.items()}
    weighted = MeanMetric()
    weighted.update(torch.tensor([1.0, 2.0, 3.0]), weight=torch.tensor([1.0, 1.0, 2.0]))
    report["aggregation"]["weighted_mean"] = out(weighted.compute())
    running = RunningMean(window=2)
    report["aggregation"]["running"] = [out(running(p)) for p in rg_p]
    tracker = MetricTracker(C.MulticlassAccuracy(num_classes=4))
    for epoch in range(3):
        tracker.increment()
        tracker.update(mc_p[epoch], mc_t[epoch])
    best, step = tracker.best_metric(return_step=True)
    report["tracker"] = [out(tracker.compute_all()), float(best), int(step)]

    P, T = torch.cat(mc_p), torch.cat(mc_t)
    BP, BT = torch.cat(bin_p), torch.cat(bin_t)
    RP, RT = torch.cat(rg_p), torch.cat(rg_t)
    report["functional"] = out({
        "accuracy": F.accuracy(P, T, task="multiclass", num_classes=4),
        "f1": F.f1_score(P, T, task="multiclass", num_classes=4, average="macro"),
        "precision": F.precision(BP, BT, task="binary"),
        "recall": F.recall(BP, BT, task="binary"),
        "auroc": F.auroc(BP, BT, task="binary"), "roc": F.roc(BP, BT, task="binary"),
        "average_precision": F.average_precision(BP, BT, task="binary"),
        "confusion_matrix": F.confusion_matrix(P, T, task="multiclass", num_classes=4),
        "mse": F.mean_squared_error(RP, RT), "mae": F.mean_absolute_error(RP, RT),
        "r2": F.r2_score(RP, RT), "pearson": F.pearson_corrcoef(RP, RT),
        "spearman": F.spearman_corrcoef(RP, RT)})
    print(json.dumps(report))
''')


# the script's report, run under ``command_prefix`` (``-m ember.compat``: on ember)
run_script = functools.partial(script_report.run_script, SCRIPT, "torchmetrics_script.py")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    return run_script("-m", "ember.compat", tmp_path=tmp_path_factory.mktemp("torchmetrics"))


def _ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks, ties given their mean rank."""
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(1, len(x) + 1)
    for value in np.unique(x):
        ranks[x == value] = ranks[x == value].mean()
    return ranks


def test_classification_values_match_numpy(report):
    inputs, metrics = report["inputs"], report["metrics"]
    mc_p, mc_t = np.array(inputs["mc_p"]), np.array(inputs["mc_t"])
    bin_p, bin_t = np.array(inputs["bin_p"]), np.array(inputs["bin_t"])
    predicted = mc_p.argmax(1)
    assert np.isclose(metrics["mc_accuracy_micro"]["total"], (predicted == mc_t).mean())
    confusion = np.zeros((4, 4), int)
    np.add.at(confusion, (mc_t, predicted), 1)
    assert metrics["mc_confmat"]["total"] == confusion.tolist()
    assert report["functional"]["confusion_matrix"] == confusion.tolist()
    recall = confusion.diagonal() / confusion.sum(1)
    assert np.isclose(metrics["mc_accuracy_macro"]["total"], recall.mean(), atol=1e-6)
    precision = confusion.diagonal() / confusion.sum(0)
    np.testing.assert_allclose(metrics["mc_precision_none"]["total"], precision, atol=1e-6)
    top2 = np.argsort(-mc_p, 1)[:, :2]
    per_class = [np.mean([t in row for row, t in zip(top2[mc_t == c], mc_t[mc_t == c])])
                 for c in range(4)]
    assert np.isclose(metrics["mc_top2"]["total"], np.mean(per_class), atol=1e-6)
    # the first batch's value from forward, and compute() over all batches
    assert np.isclose(metrics["binary_accuracy"]["steps"][0],
                      ((bin_p[:16] > 0.5) == bin_t[:16]).mean())
    assert np.isclose(metrics["binary_accuracy"]["total"], ((bin_p > 0.5) == bin_t).mean())
    # AUROC as the Mann-Whitney statistic
    positives = bin_t == 1
    ranks = _ranks(bin_p)
    n_pos, n_neg = positives.sum(), (~positives).sum()
    auroc = (ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    assert np.isclose(metrics["binary_auroc"]["total"], auroc, atol=1e-6)
    tp = ((bin_p > 0.5) & positives).sum()
    fp, fn = ((bin_p > 0.5) & ~positives).sum(), ((bin_p <= 0.5) & positives).sum()
    assert np.isclose(report["functional"]["precision"], tp / (tp + fp), atol=1e-6)
    assert np.isclose(report["functional"]["recall"], tp / (tp + fn), atol=1e-6)
    assert metrics["binary_stat_scores"]["total"] == [tp, fp, len(bin_p) - tp - fp - fn, fn,
                                                      tp + fn]


def test_regression_and_aggregation_values_match_numpy(report):
    inputs, metrics = report["inputs"], report["metrics"]
    p, t = np.array(inputs["rg_p"], np.float64), np.array(inputs["rg_t"], np.float64)
    assert np.isclose(metrics["mse"]["total"], ((p - t) ** 2).mean(), rtol=1e-5)
    assert np.isclose(metrics["rmse"]["total"], np.sqrt(((p - t) ** 2).mean()), rtol=1e-5)
    assert np.isclose(metrics["mae"]["total"], np.abs(p - t).mean(), rtol=1e-5)
    r2 = 1 - ((p - t) ** 2).sum() / ((t - t.mean()) ** 2).sum()
    assert np.isclose(metrics["r2"]["total"], r2, rtol=1e-5)
    assert np.isclose(metrics["pearson"]["total"], np.corrcoef(p, t)[0, 1], rtol=1e-5)
    spearman = np.corrcoef(_ranks(p), _ranks(t))[0, 1]
    assert np.isclose(metrics["spearman"]["total"], spearman, rtol=1e-5)
    assert np.isclose(metrics["mse"]["steps"][1], ((p[16:32] - t[16:32]) ** 2).mean(),
                      rtol=1e-5)
    aggregation = report["aggregation"]
    assert np.isclose(aggregation["MeanMetric"], p.mean(), atol=1e-6)
    assert np.isclose(aggregation["SumMetric"], p.sum(), rtol=1e-5)
    assert np.isclose(aggregation["MaxMetric"], p.max()) and np.isclose(aggregation["MinMetric"],
                                                                         p.min())
    np.testing.assert_allclose(aggregation["CatMetric"], p, rtol=1e-6)
    assert np.isclose(aggregation["weighted_mean"], 9 / 4)


def test_collections_states_and_copies(report):
    collection = report["collection"]
    assert sorted(collection) == ["val_acc", "val_cm", "val_f1"]
    assert collection["val_acc"] == report["metrics"]["mc_accuracy_macro"]["total"]
    assert collection["val_cm"] == report["metrics"]["mc_confmat"]["total"]
    assert sorted(report["collection_clone"]) == ["test_acc", "test_cm", "test_f1"]
    assert sorted(report["state_dict"]) == ["fn", "fp", "tn", "tp"]
    first, both = report["clone_independent"]
    assert first == report["metrics"]["mc_accuracy_macro"]["steps"][0] and first != both
    assert report["pickle_and_dtype"][2] == "torch.float64"
    values, best, step = report["tracker"]
    assert len(values) == 3 and best == max(values) and values[step] == best
