"""ember.quasirandom.SobolEngine: range, balance, state handling and errors (PyTorch's points
are checked in tests/conformance/test_quasirandom_conformance.py)."""
import numpy as np
import pytest

import ember
from ember.quasirandom import SobolEngine


def _balanced(points: np.ndarray, m: int) -> bool:
    """Each of the 2**m intervals [k/2**m, (k+1)/2**m) holds exactly one of 2**m points, in
    every dimension: the defining property of a Sobol sequence."""
    cells = np.floor(points * 2 ** m).astype(np.int64)
    return all(np.array_equal(np.sort(cells[:, j]), np.arange(2 ** m))
               for j in range(points.shape[1]))


@pytest.mark.parametrize("scramble", [False, True])
def test_points_in_unit_cube_and_balanced(scramble):
    engine = SobolEngine(5, scramble=scramble, seed=0)
    points = engine.draw_base2(6).double().numpy()
    assert points.shape == (64, 5)
    assert (points >= 0).all() and (points < 1).all()
    assert _balanced(points, 6)
    assert engine.num_generated == 64


def test_unscrambled_first_points():
    np.testing.assert_array_equal(SobolEngine(3).draw(4).numpy(),
                                  [[0, 0, 0], [0.5, 0.5, 0.5], [0.75, 0.25, 0.25],
                                   [0.25, 0.75, 0.75]])


def test_scrambled_deterministic_per_seed():
    a = SobolEngine(4, scramble=True, seed=7).draw(16)
    b = SobolEngine(4, scramble=True, seed=7).draw(16)
    c = SobolEngine(4, scramble=True, seed=8).draw(16)
    assert ember.equal(a, b) and not ember.equal(a, c)


def test_fast_forward_and_reset():
    whole = SobolEngine(3).draw(10)
    engine = SobolEngine(3)
    assert engine.fast_forward(4) is engine and engine.num_generated == 4
    np.testing.assert_array_equal(engine.draw(6).numpy(), whole[4:].numpy())
    engine.reset()
    assert engine.num_generated == 0
    np.testing.assert_array_equal(engine.draw(3).numpy(), whole[:3].numpy())
    np.testing.assert_array_equal(engine.draw(7).numpy(), whole[3:].numpy())


def test_dtype_and_out():
    engine = SobolEngine(2)
    assert engine.draw(3).dtype is ember.get_default_dtype()
    assert engine.draw(2, dtype=ember.float64).dtype is ember.float64
    out = ember.empty(0)
    assert SobolEngine(2).draw(3, out=out) is out and out.shape == (3, 2)


def test_draw_base2_needs_power_of_two_total():
    engine = SobolEngine(2)
    engine.draw(3)
    with pytest.raises(ValueError, match=r"n=3\+2\*\*2=7"):
        engine.draw_base2(2)
    engine.draw(1)
    assert engine.draw_base2(2).shape == (4, 2)


def test_dimension_range_and_repr():
    for bad in (0, SobolEngine.MAXDIM + 1):
        with pytest.raises(ValueError, match=r"\[1, 21201\]"):
            SobolEngine(bad)
    assert repr(SobolEngine(3)) == "SobolEngine(dimension=3)"
    assert repr(SobolEngine(3, scramble=True, seed=1)) == \
        "SobolEngine(dimension=3, scramble=True, seed=1)"
    assert ember.quasirandom.SobolEngine is SobolEngine
