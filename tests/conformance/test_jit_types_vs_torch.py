"""TorchScript's type objects (ember/_jit_types.py) against PyTorch's."""

import pytest

import ember

torch = pytest.importorskip("torch")

LEAVES = ["AnyType", "BoolType", "ComplexType", "DeviceObjType", "FloatType", "IntType",
          "NoneType", "NumberType", "PyObjectType", "StreamObjType", "StringType",
          "SymBoolType", "SymIntType", "TensorType"]


def _build(lib):
    i, f, s, t = (lib.IntType.get(), lib.FloatType.get(), lib.StringType.get(),
                  lib.TensorType.get())
    return [lib.ListType(i), lib.ListType.ofTensors(), lib.OptionalType(t),
            lib.DictType(s, t), lib.TupleType([i, f, t]), lib.UnionType([t, i, f]),
            lib.OptionalType(lib.ListType.ofFloats())]


@pytest.mark.parametrize("name", LEAVES)
def test_leaf(name):
    mine, theirs = getattr(ember, name).get(), getattr(torch, name).get()
    assert (str(mine), mine.kind(), mine.annotation_str) == \
        (str(theirs), theirs.kind(), theirs.annotation_str)


def test_containers_print_and_nest_alike():
    for mine, theirs in zip(_build(ember), _build(torch)):
        assert (str(mine), mine.kind()) == (str(theirs), theirs.kind())
        assert [str(t) for t in mine.containedTypes()] == \
            [str(t) for t in theirs.containedTypes()]


@pytest.mark.parametrize("a,b", [("IntType", "NumberType"), ("FloatType", "NumberType"),
                                 ("TensorType", "AnyType"), ("TensorType", "NumberType"),
                                 ("NoneType", "IntType"), ("BoolType", "IntType")])
def test_is_subtype_of(a, b):
    assert getattr(ember, a).get().isSubtypeOf(getattr(ember, b).get()) == \
        getattr(torch, a).get().isSubtypeOf(getattr(torch, b).get())
