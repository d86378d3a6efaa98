"""Hogwild: processes train one shared model lock-free and the shared weights improve."""
import types

import numpy as np
import pytest

import ember
import ember.multiprocessing as mp
import ember.nn.functional as F
from ember import nn
from ember.utils.data import DataLoader, TensorDataset


def _problem(n=256):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 4)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5, 3.0], np.float32) > 0).astype(np.int64)
    return TensorDataset(ember.from_numpy(x), ember.from_numpy(y))


def _loss(model, ds):
    x, y = ds.tensors
    with ember.no_grad():
        return F.cross_entropy(model(x), y).item()


def _sgd_worker(rank, model, ds, steps):
    """Plain SGD written out, so this test depends on the shared memory, not on ember.optim."""
    ember.manual_seed(rank)
    for _ in range(steps):
        for x, y in DataLoader(ds, batch_size=32, shuffle=True):
            model.zero_grad()
            F.cross_entropy(model(x), y).backward()
            with ember.no_grad():
                for p in model.parameters():
                    p.sub_(0.5 * p.grad)


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_hogwild_shared_weights_improve(method):
    ds = _problem()
    model = nn.Linear(4, 2)
    model.share_memory()
    before = _loss(model, ds)
    weight = model.weight.detach().clone()
    ctx = mp.get_context(method)
    procs = [ctx.Process(target=_sgd_worker, args=(r, model, ds, 3)) for r in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    after = _loss(model, ds)
    assert not np.allclose(model.weight.detach().numpy(), weight.numpy())
    assert after < 0.5 * before


def test_hogwild_example_trains_shared_model():
    from ember.examples import mnist_hogwild
    ds = _problem()
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    before = _loss(model, ds)
    args = types.SimpleNamespace(seed=0, batch_size=32, lr=0.1, momentum=0.5, epochs=3,
                                 num_processes=2, start_method="fork")
    mnist_hogwild.run(args, model, ds)
    assert all(p.is_shared() for p in model.parameters())
    assert _loss(model, ds) < 0.5 * before
