"""``randperm`` after the same seed is PyTorch's permutation, in every dtype, and leaves the
generator where PyTorch's leaves it; its dtype refusals are PyTorch's."""
import re

import pytest

torch = pytest.importorskip("torch")

import ember  # noqa: E402

SIZES = [0, 1, 2, 15, 16, 1000, 65_537, 100_000]


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("seed", [0, 7, 2 ** 40 + 3])
def test_permutation_and_the_state_after_are_torchs(n, seed):
    ember.manual_seed(seed)
    torch.manual_seed(seed)
    assert ember.randperm(n).tolist() == torch.randperm(n).tolist()
    assert bytes(ember.get_rng_state().tolist()) == bytes(torch.get_rng_state().tolist())


@pytest.mark.parametrize("dtype", ["int64", "int32", "int16", "float32", "float64",
                                   "bfloat16", "float16"])
def test_dtypes(dtype):
    n = 1000
    g, h = ember.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    mine = ember.randperm(n, generator=g, dtype=getattr(ember, dtype))
    theirs = torch.randperm(n, generator=h, dtype=getattr(torch, dtype))
    assert str(mine.dtype) == str(theirs.dtype)
    assert mine.float().tolist() == theirs.float().tolist()
    assert ember.rand(4, generator=g).tolist() == torch.rand(4, generator=h).tolist()


@pytest.mark.parametrize("n, dtype", [(2050, "float16"), (2 ** 24 + 2, "float32"),
                                      (300, "int8"), (257, "uint8"), (3, "bool"),
                                      (3, "complex64")])
def test_refusals(n, dtype):
    with pytest.raises(Exception) as theirs:
        torch.randperm(n, dtype=getattr(torch, dtype))
    with pytest.raises(type(theirs.value), match=re.escape(str(theirs.value))):
        ember.randperm(n, dtype=getattr(ember, dtype))
