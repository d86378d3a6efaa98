"""ember.quasirandom.SobolEngine against torch.quasirandom.SobolEngine: points equal bit for bit,
unscrambled and scrambled (same seed), through draws, fast-forwards and resets."""
import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("dimension", [1, 2, 7, 40, 21201])
def test_unscrambled_points_equal_torch(dimension):
    e = ember.quasirandom.SobolEngine(dimension)
    t = torch.quasirandom.SobolEngine(dimension)
    np.testing.assert_array_equal(e.draw(33).numpy(), t.draw(33).numpy())
    np.testing.assert_array_equal(e.draw(5, dtype=ember.float64).numpy(),
                                  t.draw(5, dtype=torch.float64).numpy())


def test_state_operations_equal_torch():
    e = ember.quasirandom.SobolEngine(6)
    t = torch.quasirandom.SobolEngine(6)
    for step in [("draw", 1), ("fast_forward", 1000003), ("draw", 300), ("fast_forward", 7),
                 ("reset", None), ("fast_forward", 3), ("draw", 13), ("draw_base2", 4),
                 ("draw_base2", 3)]:
        name, arg = step
        if name == "reset":
            e.reset()
            t.reset()
            continue
        if name == "fast_forward":
            e.fast_forward(arg)
            t.fast_forward(arg)
        elif name == "draw_base2" and (e.num_generated + 2 ** arg) & (e.num_generated +
                                                                      2 ** arg - 1):
            with pytest.raises(ValueError) as want:
                t.draw_base2(arg)
            with pytest.raises(ValueError) as got:
                e.draw_base2(arg)
            assert str(got.value) == str(want.value)
        else:
            np.testing.assert_array_equal(getattr(e, name)(arg).numpy(),
                                          getattr(t, name)(arg).numpy())
        assert e.num_generated == t.num_generated


@pytest.mark.parametrize("dimension,seed", [(1, 0), (3, 11), (10, 123456789012), (1500, 5),
                                            (2, -3)])
def test_scrambled_points_equal_torch(dimension, seed):
    e = ember.quasirandom.SobolEngine(dimension, scramble=True, seed=seed)
    t = torch.quasirandom.SobolEngine(dimension, scramble=True, seed=seed)
    np.testing.assert_array_equal(e.draw(1).numpy(), t.draw(1).numpy())
    np.testing.assert_array_equal(e.draw(40, dtype=ember.float64).numpy(),
                                  t.draw(40, dtype=torch.float64).numpy())
    e.fast_forward(1000)
    t.fast_forward(1000)
    np.testing.assert_array_equal(e.draw(8).numpy(), t.draw(8).numpy())
    e.reset()
    t.reset()
    # the first point keeps float32 rounding even when drawn as float64, as in PyTorch
    np.testing.assert_array_equal(e.draw(3, dtype=ember.float64).numpy(),
                                  t.draw(3, dtype=torch.float64).numpy())


def test_unsupported_dtype_matches_torch():
    e = ember.quasirandom.SobolEngine(2, scramble=True, seed=1)
    t = torch.quasirandom.SobolEngine(2, scramble=True, seed=1)
    np.testing.assert_array_equal(e.draw(1, dtype=ember.float16).numpy(),
                                  t.draw(1, dtype=torch.float16).numpy())
    with pytest.raises(NotImplementedError) as want:
        t.draw(2, dtype=torch.float16)
    with pytest.raises(NotImplementedError) as got:
        e.draw(2, dtype=ember.float16)
    assert str(got.value) == str(want.value)


def test_repr_and_errors_equal_torch():
    for kwargs in ({}, {"scramble": True}, {"scramble": True, "seed": 3}, {"seed": 4}):
        assert repr(ember.quasirandom.SobolEngine(4, **kwargs)) == \
            repr(torch.quasirandom.SobolEngine(4, **kwargs))
    with pytest.raises(ValueError) as want:
        torch.quasirandom.SobolEngine(21202)
    with pytest.raises(ValueError) as got:
        ember.quasirandom.SobolEngine(21202)
    assert str(got.value) == str(want.value)
    assert ember.quasirandom.SobolEngine.MAXDIM == torch.quasirandom.SobolEngine.MAXDIM
    assert ember.quasirandom.SobolEngine.MAXBIT == torch.quasirandom.SobolEngine.MAXBIT
