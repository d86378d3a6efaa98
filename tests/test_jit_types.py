"""TorchScript's type objects (ember/_jit_types.py): the values are PyTorch 2's."""

import pytest

import ember

LEAVES = {"AnyType": "Any", "BoolType": "bool", "ComplexType": "complex",
          "DeviceObjType": "Device", "FloatType": "float", "IntType": "int",
          "NoneType": "NoneType", "NumberType": "number", "PyObjectType": "PyObject",
          "StreamObjType": "Stream", "StringType": "str", "SymBoolType": "bool",
          "SymIntType": "int", "TensorType": "Tensor"}


@pytest.mark.parametrize("name", sorted(LEAVES))
def test_leaf_types_are_singletons(name):
    cls = getattr(ember, name)
    t = cls.get()
    assert t is cls.get() and t == cls.get()
    assert str(t) == repr(t) == t.annotation_str == LEAVES[name]
    assert t.kind() == name
    assert isinstance(t, ember.Type)


def test_types_are_not_constructible_nor_hashable():
    with pytest.raises(TypeError, match="No constructor defined"):
        ember.Type()
    with pytest.raises(TypeError, match="No constructor defined"):
        ember.IntType()
    with pytest.raises(TypeError):
        ember.ListType(3)
    with pytest.raises(TypeError):
        hash(ember.IntType.get())
    with pytest.raises(TypeError):
        ember.IntType.get() == 3  # noqa: B015


def test_container_types():
    i, f, s, t = (ember.IntType.get(), ember.FloatType.get(), ember.StringType.get(),
                  ember.TensorType.get())
    lst = ember.ListType(i)
    assert str(lst) == "List[int]" and lst.kind() == "ListType" and lst.getElementType() is i
    assert lst == ember.ListType.ofInts() and lst != ember.ListType.ofFloats()
    assert [str(x) for x in (ember.ListType.ofTensors(), ember.ListType.ofBools(),
                             ember.ListType.ofStrings(), ember.ListType.ofComplexDoubles())] \
        == ["List[Tensor]", "List[bool]", "List[str]", "List[complex]"]
    opt = ember.OptionalType(t)
    assert str(opt) == "Optional[Tensor]" and opt == ember.OptionalType.ofTensor()
    assert opt.containedTypes() == [t] and opt.getElementType() is t
    d = ember.DictType(s, t)
    assert str(d) == "Dict[str, Tensor]" and d.getKeyType() is s and d.getValueType() is t
    tup = ember.TupleType([i, f])
    assert str(tup) == "Tuple[int, float]" and tup.elements() == [i, f]
    union = ember.UnionType([i, f])
    assert str(union) == "Union[float, int]" and union.containedTypes() == [f, i]


def test_is_subtype_of():
    i, t = ember.IntType.get(), ember.TensorType.get()
    assert i.isSubtypeOf(ember.NumberType.get())
    assert t.isSubtypeOf(ember.AnyType.get())
    assert not t.isSubtypeOf(ember.NumberType.get())
    assert i.isSubtypeOf(ember.OptionalType(i))
    assert ember.NoneType.get().isSubtypeOf(ember.OptionalType.ofTensor())
    assert ember.ListType.ofInts().isSubtypeOf(ember.ListType.ofInts())
    assert ember.SymIntType.get() != i


def test_annotation_in_a_signature():
    # DDIM tutorial: ``def set_infer_steps(self, num_steps: int, device: torch.DeviceObjType)``
    def set_infer_steps(num_steps: int, device: ember.DeviceObjType):
        return num_steps, device

    assert set_infer_steps(3, ember.device("cpu"))[0] == 3


def test_jit_internal_helpers_hand_back_what_they_get():
    """``torch._jit_internal`` (Pyro and PyG import ``_copy_to_script_wrapper`` from it)."""
    from ember import _jit_internal

    def method(self):
        return 1

    assert _jit_internal._copy_to_script_wrapper(method) is method
    assert _jit_internal.ignore is ember.jit.ignore and not _jit_internal.is_scripting()
