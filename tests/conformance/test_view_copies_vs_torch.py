"""The *_copy ops and 2.x aliases against PyTorch: same values and shapes, fresh memory."""
import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")

CASES = [("transpose_copy", (0, 2)), ("permute_copy", ((2, 0, 1),)), ("select_copy", (1, 2)),
         ("slice_copy", (1, 1, 3)), ("view_copy", ((12, 5),)), ("unbind_copy", (0,)),
         ("split_copy", (2, 1)), ("split_with_sizes_copy", ([1, 2], 0)),
         ("squeeze_copy", ()), ("unsqueeze_copy", (1,)), ("diagonal_copy", ()),
         ("narrow_copy", (2, 1, 2)), ("expand_copy", ((2, 3, 4, 5),)), ("alias_copy", ()),
         ("detach_copy", ()), ("unfold_copy", (2, 2, 1)), ("adjoint", ()),
         ("frobenius_norm", ((-2, -1),)), ("nuclear_norm", ()),
         ("constant_pad_nd", ([1, 2], 0.5))]


@pytest.mark.parametrize("name,args", CASES, ids=[c[0] for c in CASES])
def test_matches_torch(name, args):
    x = np.random.default_rng(0).standard_normal((3, 4, 5))
    e = getattr(ember, name)(ember.tensor(x), *args)
    t = getattr(torch, name)(torch.tensor(x), *args)
    for a, b in zip(e if isinstance(e, (tuple, list)) else [e],
                    t if isinstance(t, (tuple, list)) else [t]):
        assert tuple(a.shape) == tuple(b.shape)
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12)
