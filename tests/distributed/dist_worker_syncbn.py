"""SyncBatchNorm's checks, run on every rank by test_dist_syncbn.py through dist_harness. The
oracle is BatchNorm on the whole batch, which every rank computes locally."""
import numpy as np
from dist_harness import run

import ember
import ember.distributed as dist
from ember import nn


def check_matches_whole_batch_batchnorm():
    rank, size = dist.get_rank(), dist.get_world_size()
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3 * size, 4, 5)) * 3 + 1
    gy = rng.standard_normal(x.shape)
    w = rng.standard_normal(4)
    full = nn.BatchNorm1d(4, momentum=0.3).double()
    sync = nn.SyncBatchNorm(4, momentum=0.3).double()
    with ember.no_grad():
        full.weight.copy_(ember.tensor(w))
        sync.weight.copy_(ember.tensor(w))
    xf = ember.tensor(x, requires_grad=True)
    want = full(xf)
    (want * ember.tensor(gy)).sum().backward()
    part = slice(3 * rank, 3 * rank + 3)
    xs = ember.tensor(x[part], requires_grad=True)
    out = sync(xs)
    (out * ember.tensor(gy[part])).sum().backward()
    np.testing.assert_allclose(out.detach().numpy(), want.detach().numpy()[part],
                               atol=1e-12)
    np.testing.assert_allclose(xs.grad.numpy(), xf.grad.numpy()[part], atol=1e-12)
    for name in ("running_mean", "running_var"):
        np.testing.assert_allclose(getattr(sync, name).numpy(), getattr(full, name).numpy(),
                                   atol=1e-12)
    # parameter gradients are local: their sum over ranks is the whole batch's
    for p, q in ((sync.weight, full.weight), (sync.bias, full.bias)):
        g = p.grad.clone()
        dist.all_reduce(g)
        np.testing.assert_allclose(g.numpy(), q.grad.numpy(), atol=1e-12)


if __name__ == "__main__":
    run(globals())
