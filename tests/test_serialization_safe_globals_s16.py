"""``ember.serialization.add_safe_globals`` and friends: globals a program trusts beyond the
data-only set of weights-only loading. A file may then name them, call them (REDUCE), build
instances of them (NEWOBJ) and set their state (BUILD: ``__setstate__``, else ``__dict__``
and slots), as PyTorch's ``torch.serialization.add_safe_globals``; anything else is still
refused. accelerate loads NumPy random states this way."""
import io
import pickle

import numpy as np
import pytest

import ember
from ember import serialization


class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y


class Slotted:
    __slots__ = ("a",)

    def __init__(self, a):
        self.a = a


class Custom:
    def __init__(self, value):
        self.value = value

    def __getstate__(self):
        return {"doubled": self.value * 2}

    def __setstate__(self, state):
        self.value = state["doubled"] // 2


def make_point(x, y):
    return Point(x, y)


@pytest.fixture(autouse=True)
def no_safe_globals():
    serialization.clear_safe_globals()
    yield
    serialization.clear_safe_globals()


def round_trip(obj):
    buffer = io.BytesIO()
    ember.save(obj, buffer)
    buffer.seek(0)
    return ember.load(buffer)


def test_objects_load_only_once_their_classes_are_marked_safe():
    saved = {"p": Point(1, 2), "s": Slotted(3), "c": Custom(5), "t": ember.arange(3)}
    with pytest.raises(pickle.UnpicklingError, match="Point"):
        round_trip(saved)
    serialization.add_safe_globals([Point, Slotted, Custom])
    loaded = round_trip(saved)
    assert (loaded["p"].x, loaded["p"].y, loaded["s"].a, loaded["c"].value) == (1, 2, 3, 5)
    assert loaded["t"].tolist() == [0, 1, 2]
    assert set(serialization.get_safe_globals()) == {Point, Slotted, Custom}


def test_marked_functions_are_called_and_the_context_manager_unmarks():
    class Reduced:
        def __reduce__(self):
            return make_point, (3, 4)

    with serialization.safe_globals([make_point, Point]):
        loaded = round_trip([Reduced()])[0]
    assert (loaded.x, loaded.y) == (3, 4) and serialization.get_safe_globals() == []
    with pytest.raises(pickle.UnpicklingError):
        round_trip([Reduced()])


def make_origin(x, y):
    return Point(0, 0)


def test_a_global_can_be_marked_under_the_name_a_file_gives_it():
    class Reduced:
        def __reduce__(self):
            return make_origin, (5, 6)

    # the file names make_origin; the program trusts make_point under that name
    serialization.add_safe_globals([(make_point, f"{__name__}.make_origin"), Point])
    loaded = round_trip([Reduced()])[0]
    assert (loaded.x, loaded.y) == (5, 6)
    serialization.clear_safe_globals()
    assert serialization.get_safe_globals() == []


def test_numpy_arrays_load_with_numpy_globals_marked():
    state = np.random.RandomState(0).get_state()  # what accelerate saves with its RNG states
    reconstruct = np.ndarray.__reduce__(state[1])[0]
    serialization.add_safe_globals([reconstruct, np.ndarray, np.dtype, type(state[1].dtype)])
    loaded = round_trip({"numpy": state})["numpy"]
    assert loaded[0] == "MT19937" and np.array_equal(loaded[1], state[1])
    assert loaded[1].dtype == np.uint32
