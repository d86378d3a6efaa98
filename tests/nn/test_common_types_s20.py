"""ember.nn.common_types: the size and ratio aliases layers are annotated with (libraries import
them, e.g. pytorchvideo's ``_size_3_t``)."""
from __future__ import annotations

from typing import Optional, Union

from ember.nn import common_types


def test_size_aliases_are_an_int_or_a_tuple_of_ints():
    assert common_types._size_1_t == Union[int, tuple[int]]
    assert common_types._size_2_t == Union[int, tuple[int, int]]
    assert common_types._size_3_t == Union[int, tuple[int, int, int]]
    assert common_types._size_any_t == Union[int, tuple[int, ...]]
    assert common_types._size_2_opt_t == Union[Optional[int], tuple[Optional[int],
                                                                     Optional[int]]]
    assert common_types._ratio_any_t == Union[float, tuple[float, ...]]
