"""ember's SummaryWriter against torch.utils.tensorboard: the same histogram buckets and PR-curve
tensor for the same data."""
import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")
pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402
from torch.utils.tensorboard import SummaryWriter as TorchWriter  # noqa: E402

from ember.utils.tensorboard import SummaryWriter  # noqa: E402


def _read(folder):
    acc = EventAccumulator(str(folder), size_guidance={"tensors": 0})
    acc.Reload()
    return acc


def test_histogram_and_pr_curve_match_torch(tmp_path):
    rng = np.random.default_rng(0)
    values = rng.standard_normal(500) * 3
    labels, predictions = rng.integers(0, 2, 300), rng.random(300)
    for name, writer, lib in (("ember", SummaryWriter, ember), ("torch", TorchWriter, torch)):
        with writer(tmp_path / name) as w:
            w.add_histogram("h", lib.tensor(values), 0)
            w.add_pr_curve("pr", lib.tensor(labels), lib.tensor(predictions), 0)
            w.add_scalar("s", 0.5, 4)
    e, t = _read(tmp_path / "ember"), _read(tmp_path / "torch")
    he, ht = e.Histograms("h")[0].histogram_value, t.Histograms("h")[0].histogram_value
    assert list(he.bucket) == list(ht.bucket)
    np.testing.assert_allclose(he.bucket_limit, ht.bucket_limit, rtol=1e-12)
    assert (he.num, he.min, he.max) == (ht.num, ht.min, ht.max)
    np.testing.assert_allclose(e.Tensors("pr")[0].tensor_proto.float_val,
                               t.Tensors("pr")[0].tensor_proto.float_val, rtol=1e-6)
    assert [(s.step, s.value) for s in e.Scalars("s")] == [(s.step, s.value)
                                                            for s in t.Scalars("s")]
