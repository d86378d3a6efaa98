"""pytorch-metric-learning on ember, where it is installed (it is not a test dependency: its
package requires PyTorch; .ci/run installs it without dependencies). Its distances, miners
(semihard triplets, multi-similarity pairs), losses (triplet, contrastive, NT-Xent,
multi-similarity, histogram, ArcFace) with their reducers, and a few training steps of a small
embedding net run with ``torch`` resolved to ember in a fresh interpreter; every distance,
mined index and loss is recomputed here in NumPy from the reported embeddings, and each loss's
gradient checked by central differences of that NumPy loss.
tests/conformance/test_thirdparty_s19_metric_e3nn_normflows_vs_torch.py compares every value
with real PyTorch's."""
from __future__ import annotations

import functools
import importlib.util
import textwrap

import numpy as np
import pytest

from tests.acceptance import script_report

if importlib.util.find_spec("pytorch_metric_learning") is None:  # (it would import torch)
    pytest.skip("pytorch-metric-learning is not installed", allow_module_level=True)

SCRIPT = script_report.OUT_SOURCE + textwrap.dedent('''
    import json
    import torch
    from torch import nn
    from pytorch_metric_learning import distances, losses, miners, reducers

    torch.manual_seed(0)
    embeddings = torch.randn(12, 4, dtype=torch.float64, requires_grad=True)
    labels = torch.tensor([0, 1, 2, 3] * 3)
    report = {"embeddings": out(embeddings), "labels": out(labels)}

    report["distances"] = {
        "lp": out(distances.LpDistance(normalize_embeddings=False)(embeddings)),
        "lp_squared_normalized": out(distances.LpDistance(power=2)(embeddings)),
        "cosine": out(distances.CosineSimilarity()(embeddings)),
    }

    def loss_report(loss_fn, indices=None):
        embeddings.grad = None
        loss = loss_fn(embeddings, labels, indices)
        loss.backward()
        return {"loss": loss.item(), "grad": out(embeddings.grad)}

    triplets = miners.TripletMarginMiner(margin=0.5, type_of_triplets="semihard")(
        embeddings, labels)
    pairs = miners.MultiSimilarityMiner(epsilon=0.1)(embeddings, labels)
    report["mined"] = {"triplets": out(triplets), "pairs": out(pairs)}

    report["losses"] = {
        "triplet_all": loss_report(losses.TripletMarginLoss(margin=0.5)),
        "triplet_mined": loss_report(losses.TripletMarginLoss(margin=0.5), triplets),
        "triplet_smooth_mean": loss_report(losses.TripletMarginLoss(
            margin=0.5, smooth_loss=True, reducer=reducers.MeanReducer())),
        "contrastive_all": loss_report(losses.ContrastiveLoss(pos_margin=0.2, neg_margin=1.2)),
        "contrastive_mined": loss_report(
            losses.ContrastiveLoss(pos_margin=0.2, neg_margin=1.2,
                                   distance=distances.LpDistance(normalize_embeddings=False)),
            pairs),
        "ntxent": loss_report(losses.NTXentLoss(temperature=0.5)),
        "multi_similarity": loss_report(losses.MultiSimilarityLoss(alpha=2, beta=10, base=0.5)),
        "histogram": loss_report(losses.HistogramLoss(n_bins=20)),
    }
    torch.manual_seed(1)
    arcface = losses.ArcFaceLoss(num_classes=4, embedding_size=4, margin=28.6, scale=8).double()
    report["arcface_weight"] = out(arcface.W)
    report["losses"]["arcface"] = loss_report(arcface)

    # a few training steps of a small embedding net: triplets mined every step, plus ArcFace
    # with its own optimizer for its class centres
    torch.manual_seed(2)
    classes = torch.arange(16) % 4
    points = torch.randn(16, 6) + 2.0 * nn.functional.one_hot(classes, 6).float()
    net = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))
    triplet_loss = losses.TripletMarginLoss(margin=0.3, distance=distances.CosineSimilarity(),
                                            reducer=reducers.ThresholdReducer(low=0.0))
    miner = miners.TripletMarginMiner(margin=0.3, type_of_triplets="all",
                                      distance=distances.CosineSimilarity())
    arc_loss = losses.ArcFaceLoss(num_classes=4, embedding_size=3, scale=4)
    optimizer = torch.optim.Adam(net.parameters(), lr=0.01)
    arc_optimizer = torch.optim.SGD(arc_loss.parameters(), lr=0.1)
    train_losses, mined = [], []
    for step in range(6):
        optimizer.zero_grad()
        arc_optimizer.zero_grad()
        codes = net(points)
        hard = miner(codes, classes)
        loss = triplet_loss(codes, classes, hard) + 0.1 * arc_loss(codes, classes)
        loss.backward()
        optimizer.step()
        arc_optimizer.step()
        train_losses.append(loss.item())
        mined.append(len(hard[0]))
    report["training"] = {"losses": train_losses, "mined": mined,
                          "weights": out(dict(net.state_dict()))}
    print(json.dumps(report))
''')

# the script's report, run under ``command_prefix`` (``-m ember.compat``: on ember)
run_script = functools.partial(script_report.run_script, SCRIPT, "metric_learning_script.py")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    return run_script("-m", "ember.compat", tmp_path=tmp_path_factory.mktemp("metric_learning"))


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _euclidean(x: np.ndarray) -> np.ndarray:
    return np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))


def _all_triplets(labels: np.ndarray) -> np.ndarray:
    """(anchor, positive, negative) rows: positives share the anchor's label, negatives not."""
    n = len(labels)
    return np.array([(a, p, q) for a in range(n) for p in range(n) for q in range(n)
                     if a != p and labels[a] == labels[p] and labels[a] != labels[q]])


def _all_pairs(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    same = labels[:, None] == labels[None]
    positive = np.argwhere(same & ~np.eye(len(labels), dtype=bool))
    return positive, np.argwhere(~same)


def _mean_of_nonzero(losses: np.ndarray) -> float:
    """AvgNonZeroReducer: the mean over the terms that are above zero."""
    positive = losses[losses > 0]
    return positive.mean() if len(positive) else 0.0


def _rows(triples) -> list:
    return sorted(map(tuple, np.array(triples).T.tolist()))


def _assert_loss_and_gradient(entry: dict, embeddings: np.ndarray, loss_fn) -> None:
    """The reported loss is ``loss_fn(embeddings)``, its gradient that of central differences."""
    assert np.isclose(entry["loss"], loss_fn(embeddings), rtol=1e-10, atol=1e-12)
    numeric = np.zeros_like(embeddings)
    for index in np.ndindex(*embeddings.shape):
        delta = np.zeros_like(embeddings)
        delta[index] = 1e-6
        numeric[index] = (loss_fn(embeddings + delta) - loss_fn(embeddings - delta)) / 2e-6
    np.testing.assert_allclose(entry["grad"], numeric, rtol=1e-5, atol=1e-7)


def test_distances_match_numpy(report):
    x = np.array(report["embeddings"])
    found = report["distances"]
    np.testing.assert_allclose(found["lp"], _euclidean(x), atol=1e-12)
    np.testing.assert_allclose(found["lp_squared_normalized"], _euclidean(_unit(x)) ** 2,
                               atol=1e-12)
    np.testing.assert_allclose(found["cosine"], _unit(x) @ _unit(x).T, atol=1e-12)


def test_miners_select_the_triplets_and_pairs_numpy_finds(report):
    x, labels = np.array(report["embeddings"]), np.array(report["labels"])
    distance = _euclidean(_unit(x))
    a, p, n = _all_triplets(labels).T
    margin = distance[a, n] - distance[a, p]
    semihard = (margin > 0) & (margin <= 0.5)
    assert _rows(report["mined"]["triplets"]) == sorted(zip(a[semihard].tolist(),
                                                            p[semihard].tolist(),
                                                            n[semihard].tolist()))
    # multi-similarity: positives less similar than the most similar negative (plus epsilon),
    # negatives more similar than the least similar positive (minus epsilon)
    similarity = _unit(x) @ _unit(x).T
    positive, negative = _all_pairs(labels)
    same = labels[:, None] == labels[None]
    hardest_negative = np.where(same, -np.inf, similarity).max(1)
    easiest_positive = np.where(same & ~np.eye(len(labels), dtype=bool), similarity,
                                np.inf).min(1)
    hard_positive = [(i, j) for i, j in positive.tolist()
                     if similarity[i, j] - 0.1 < hardest_negative[i]]
    hard_negative = [(i, j) for i, j in negative.tolist()
                     if similarity[i, j] + 0.1 > easiest_positive[i]]
    a1, p1, a2, n2 = report["mined"]["pairs"]
    assert sorted(zip(a1, p1)) == sorted(hard_positive)
    assert sorted(zip(a2, n2)) == sorted(hard_negative)
    assert hard_positive and hard_negative


def test_triplet_and_contrastive_losses_match_numpy(report):
    x, labels = np.array(report["embeddings"]), np.array(report["labels"])
    found = report["losses"]
    a, p, n = _all_triplets(labels).T
    mined = np.array(report["mined"]["triplets"])
    positive, negative = _all_pairs(labels)
    a1, p1, a2, n2 = (np.array(i) for i in report["mined"]["pairs"])

    def triplet(e, triplets, reduce=_mean_of_nonzero, smooth=False):
        distance = _euclidean(_unit(e))
        anchor, pos, neg = triplets
        violation = distance[anchor, pos] - distance[anchor, neg] + 0.5
        return reduce(np.logaddexp(0, violation) if smooth else np.maximum(violation, 0))

    def contrastive(e, pos_pairs, neg_pairs):
        distance = _euclidean(e)
        pull = np.maximum(distance[pos_pairs] - 0.2, 0)
        push = np.maximum(1.2 - distance[neg_pairs], 0)
        return _mean_of_nonzero(pull) + _mean_of_nonzero(push)

    _assert_loss_and_gradient(found["triplet_all"], x, lambda e: triplet(e, (a, p, n)))
    _assert_loss_and_gradient(found["triplet_mined"], x, lambda e: triplet(e, mined))
    _assert_loss_and_gradient(found["triplet_smooth_mean"], x,
                              lambda e: triplet(e, (a, p, n), np.mean, smooth=True))
    _assert_loss_and_gradient(found["contrastive_all"], x, lambda e: contrastive(
        _unit(e), tuple(positive.T), tuple(negative.T)))
    _assert_loss_and_gradient(found["contrastive_mined"], x,
                              lambda e: contrastive(e, (a1, p1), (a2, n2)))


def test_ntxent_multi_similarity_histogram_and_arcface_match_numpy(report):
    x, labels = np.array(report["embeddings"]), np.array(report["labels"])
    found = report["losses"]
    same = labels[:, None] == labels[None]
    positive, _ = _all_pairs(labels)

    def ntxent(e):
        logits = _unit(e) @ _unit(e).T / 0.5
        terms = []
        for i, j in positive:
            negatives = logits[i][~same[i]]
            terms.append(np.logaddexp.reduce(np.append(negatives, logits[i, j])) - logits[i, j])
        return np.mean(terms)

    def multi_similarity(e):
        similarity = _unit(e) @ _unit(e).T
        pull = [np.log1p(np.exp(-2 * (similarity[i][same[i] & (np.arange(12) != i)] - 0.5))
                         .sum()) / 2 for i in range(12)]
        push = [np.log1p(np.exp(10 * (similarity[i][~same[i]] - 0.5)).sum()) / 10
                for i in range(12)]
        return np.mean(np.add(pull, push))

    centres = _unit(np.array(report["arcface_weight"]).T)
    margin = np.radians(28.6)

    def arcface(e):
        cosine = _unit(e) @ centres.T
        target = cosine[np.arange(12), labels]
        angle = np.arccos(np.clip(target, -1, 1))
        logits = cosine.copy()
        logits[np.arange(12), labels] = np.where(angle <= np.pi - margin, np.cos(angle + margin),
                                                 target - margin * np.sin(margin))
        logits *= 8
        return np.mean(np.logaddexp.reduce(logits, 1) - logits[np.arange(12), labels])

    def histogram(e):
        """the chance that a negative pair is more similar than a positive one, from the
        similarities' histograms (linear interpolation between 21 nodes)"""
        similarity = _unit(e) @ _unit(e).T
        upper = np.triu(np.ones((12, 12), dtype=bool), 1)  # each unordered pair once
        densities = []
        for pairs in (same & upper, ~same & upper):
            values = similarity[pairs]
            # (the library finds the bins in float32, and their edges: a long tensor times a
            # float is float32, and stays so minus 1)
            bins = np.floor((values.astype(np.float32) + 1) / 0.1).astype(np.int64)
            lower, upper = (k.astype(np.float32) * np.float32(0.1) for k in (bins, bins + 1))
            density = np.zeros(21)
            np.add.at(density, bins + 1, (values + 1 - lower.astype(np.float64)) / 0.1)
            np.add.at(density, bins, ((upper - 1).astype(np.float64) - values) / 0.1)
            densities.append(density / len(values))
        return (densities[1] * np.cumsum(densities[0])).sum()

    _assert_loss_and_gradient(found["histogram"], x, histogram)
    _assert_loss_and_gradient(found["ntxent"], x, ntxent)
    _assert_loss_and_gradient(found["multi_similarity"], x, multi_similarity)
    _assert_loss_and_gradient(found["arcface"], x, arcface)


def test_training_pulls_classes_together(report):
    training = report["training"]
    losses, mined = training["losses"], training["mined"]
    assert all(b < a for a, b in zip(losses, losses[1:]))
    # fewer triplets violate the margin as the classes separate
    assert mined[0] > 0 and mined[-1] < mined[0] / 2
