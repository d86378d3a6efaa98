"""Opacus's ExpandedWeights mode (``grad_sample_mode="ew"``, built on
``torch.nn.utils._per_sample_grad``) under the alias: with no noise and no clipping, DP-SGD's
step is plain SGD's on the batch-mean gradient, so the trained weights equal those of ember's
own SGD on the same batches."""
from __future__ import annotations

import functools
import importlib.util
import textwrap

import pytest

from tests.acceptance import script_report

if importlib.util.find_spec("opacus") is None:  # (importing it would import torch)
    pytest.skip("opacus is not installed", allow_module_level=True)

SCRIPT = script_report.OUT_SOURCE + textwrap.dedent('''
    import json
    import warnings
    import torch
    import torch.nn as nn
    from opacus import PrivacyEngine

    warnings.filterwarnings("ignore")  # secure RNG off


    def model():
        torch.manual_seed(0)
        return nn.Sequential(nn.Conv2d(1, 4, 3), nn.GroupNorm(2, 4), nn.ReLU(), nn.Flatten(),
                             nn.Linear(4 * 6 * 6, 3))


    torch.manual_seed(1)
    x, y = torch.randn(16, 1, 8, 8), torch.randint(0, 3, (16,))
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=8)
    private = model()
    optimizer = torch.optim.SGD(private.parameters(), lr=0.1)
    private, optimizer, data = PrivacyEngine().make_private(
        module=private, optimizer=optimizer, data_loader=data, noise_multiplier=0.0,
        max_grad_norm=1e9, grad_sample_mode="ew", poisson_sampling=False)
    shapes, sample_grads = [], []
    for xb, yb in data:
        optimizer.zero_grad()
        nn.functional.cross_entropy(private(xb), yb).backward()
        shapes = [list(p.grad_sample.shape) for p in private.parameters()]
        sample_grads.append(out([p.grad_sample for p in private.parameters()]))
        optimizer.step()
    plain = model()
    plain_optimizer = torch.optim.SGD(plain.parameters(), lr=0.1)
    for start in (0, 8):
        plain_optimizer.zero_grad()
        nn.functional.cross_entropy(plain(x[start:start + 8]), y[start:start + 8]).backward()
        plain_optimizer.step()
    print(json.dumps({"shapes": shapes, "sample_grads": sample_grads,
                      "private": out([p.flatten() for p in private.parameters()]),
                      "plain": out([p.flatten() for p in plain.parameters()])}))
''')

run_script = functools.partial(script_report.run_script, SCRIPT, "opacus_ew_script.py")


def test_ew_mode_dp_sgd_without_noise_is_sgd(tmp_path):
    report = run_script("-m", "ember.compat", tmp_path=tmp_path)
    assert report["shapes"] == [[8, 4, 1, 3, 3], [8, 4], [8, 4], [8, 4], [8, 3, 144], [8, 3]]
    for got, want in zip(report["private"], report["plain"]):
        assert got == pytest.approx(want, rel=1e-5, abs=1e-6)
