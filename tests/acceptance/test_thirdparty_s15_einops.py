"""einops on ember: ``rearrange``/``reduce``/``repeat``/``einsum``/``pack`` on tensors that
require grad, and its ``Rearrange``/``Reduce`` layers inside an ``nn.Sequential``, with
``torch`` resolved to ember (in a fresh interpreter: einops binds the ``torch`` it finds).
Oracle: NumPy's reshapes, transposes and reductions of the same values."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytest.importorskip("einops")

SCRIPT = textwrap.dedent('''
    import json
    import torch
    from einops import einsum, pack, rearrange, reduce, repeat
    from einops.layers.torch import Rearrange, Reduce

    x = torch.arange(2 * 3 * 4 * 6, dtype=torch.float32).reshape(2, 3, 4, 6).requires_grad_()
    flat = rearrange(x, "b c h w -> b (h w) c")
    pooled = reduce(x, "b c (h h2) (w w2) -> b c h w", "max", h2=2, w2=2)
    tiled = repeat(x[0, 0], "h w -> h w k", k=3)
    dots = einsum(x, x, "b c h w, b c h w -> b")
    packed, shapes = pack([x, x[:, :1]], "b * h w")
    model = torch.nn.Sequential(Rearrange("b c h w -> b (c h w)"), torch.nn.Linear(72, 5),
                                Reduce("b n -> n", "mean"))
    out = model(x)
    (flat.sum() + pooled.sum() + out.sum()).backward()
    print(json.dumps({"flat": flat.tolist(), "pooled": pooled.tolist(), "tiled": tiled.tolist(),
                      "dots": dots.tolist(), "packed": list(packed.shape),
                      "shapes": [list(s) for s in shapes], "out": list(out.shape),
                      "grad": list(x.grad.shape), "type": type(flat).__module__}))
''')


def test_einops_operations_and_layers(tmp_path):
    script = tmp_path / "use_einops.py"
    script.write_text(SCRIPT)
    done = subprocess.run([sys.executable, "-m", "ember.compat", str(script)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    x = np.arange(2 * 3 * 4 * 6, dtype=np.float32).reshape(2, 3, 4, 6)
    np.testing.assert_array_equal(got["flat"], x.transpose(0, 2, 3, 1).reshape(2, 24, 3))
    np.testing.assert_array_equal(got["pooled"], x.reshape(2, 3, 2, 2, 3, 2).max(axis=(3, 5)))
    np.testing.assert_array_equal(got["tiled"], np.repeat(x[0, 0][..., None], 3, axis=-1))
    np.testing.assert_allclose(got["dots"], (x * x).sum(axis=(1, 2, 3)), rtol=1e-6)
    assert got["packed"] == [2, 4, 4, 6] and got["shapes"] == [[3], [1]]
    assert got["out"] == [5] and got["grad"] == [2, 3, 4, 6]
    assert got["type"].startswith("ember")
