"""TorchScript's type objects: ``torch.TensorType``, ``torch.IntType``, ``torch.ListType``, ...

ember has no TorchScript compiler, but code annotates with these classes (for example
``device: torch.DeviceObjType``, evaluated when the ``def`` runs) and builds them to describe
signatures, so they exist with PyTorch's construction rules, names, printing and equality.
Leaf types are singletons from ``get()``; container types take their element types.
"""

from __future__ import annotations


class Type:
    """Base of every TorchScript type; not constructible itself."""

    __hash__ = None  # PyTorch's types are unhashable

    def __init__(self, *args, **kwargs) -> None:
        raise TypeError(f"torch._C.{type(self).__name__}: No constructor defined!")

    def kind(self) -> str:
        return type(self).__name__

    def containedTypes(self) -> list:  # noqa: N802 (PyTorch's name)
        return []

    @property
    def annotation_str(self) -> str:
        return str(self)

    def __repr__(self) -> str:
        return str(self)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Type):
            raise TypeError("__eq__(): incompatible function arguments: expected a Type")
        return type(self) is type(other) and self.containedTypes() == other.containedTypes()

    def __ne__(self, other: object) -> bool:
        return not self == other

    def isSubtypeOf(self, other: Type) -> bool:  # noqa: N802 (PyTorch's name)
        """Whether a value of this type may stand where ``other`` is expected."""
        if self == other or isinstance(other, AnyType):
            return True
        if isinstance(other, NumberType):
            return isinstance(self, (IntType, FloatType, ComplexType))
        if isinstance(other, OptionalType) and isinstance(self, NoneType):
            return True
        if isinstance(other, (OptionalType, UnionType)):
            return any(self.isSubtypeOf(t) for t in other.containedTypes())
        return False


class _Leaf(Type):
    """A type without parameters: one shared instance, from ``get()``."""

    _name = ""

    @classmethod
    def get(cls) -> Type:
        instance = cls.__dict__.get("_instance")
        if instance is None:
            instance = object.__new__(cls)
            cls._instance = instance
        return instance

    def __str__(self) -> str:
        return self._name


def _leaf(name: str, printed: str) -> type:
    return type(name, (_Leaf,), {"_name": printed, "__module__": "torch"})


AnyType = _leaf("AnyType", "Any")
BoolType = _leaf("BoolType", "bool")
ComplexType = _leaf("ComplexType", "complex")
DeviceObjType = _leaf("DeviceObjType", "Device")
FloatType = _leaf("FloatType", "float")
IntType = _leaf("IntType", "int")
NoneType = _leaf("NoneType", "NoneType")
NumberType = _leaf("NumberType", "number")
PyObjectType = _leaf("PyObjectType", "PyObject")
StreamObjType = _leaf("StreamObjType", "Stream")
StringType = _leaf("StringType", "str")
SymBoolType = _leaf("SymBoolType", "bool")
SymIntType = _leaf("SymIntType", "int")
TensorType = _leaf("TensorType", "Tensor")


def _check(*types: object) -> None:
    if not all(isinstance(t, Type) for t in types):
        raise TypeError("__init__(): incompatible constructor arguments: expected Type objects")


class ListType(Type):
    """``List[T]``."""

    def __init__(self, element: Type) -> None:
        _check(element)
        self._element = element

    def getElementType(self) -> Type:  # noqa: N802 (PyTorch's name)
        return self._element

    def containedTypes(self) -> list:  # noqa: N802
        return [self._element]

    def __str__(self) -> str:
        return f"List[{self._element}]"

    @staticmethod
    def ofInts() -> ListType:  # noqa: N802
        return ListType(IntType.get())

    @staticmethod
    def ofFloats() -> ListType:  # noqa: N802
        return ListType(FloatType.get())

    @staticmethod
    def ofComplexDoubles() -> ListType:  # noqa: N802
        return ListType(ComplexType.get())

    @staticmethod
    def ofBools() -> ListType:  # noqa: N802
        return ListType(BoolType.get())

    @staticmethod
    def ofStrings() -> ListType:  # noqa: N802
        return ListType(StringType.get())

    @staticmethod
    def ofTensors() -> ListType:  # noqa: N802
        return ListType(TensorType.get())


class OptionalType(Type):
    """``Optional[T]``."""

    def __init__(self, element: Type) -> None:
        _check(element)
        self._element = element

    def getElementType(self) -> Type:  # noqa: N802
        return self._element

    def containedTypes(self) -> list:  # noqa: N802
        return [self._element]

    def __str__(self) -> str:
        return f"Optional[{self._element}]"

    @staticmethod
    def ofTensor() -> OptionalType:  # noqa: N802
        return OptionalType(TensorType.get())


class DictType(Type):
    """``Dict[K, V]``."""

    def __init__(self, key: Type, value: Type) -> None:
        _check(key, value)
        self._key, self._value = key, value

    def getKeyType(self) -> Type:  # noqa: N802
        return self._key

    def getValueType(self) -> Type:  # noqa: N802
        return self._value

    def containedTypes(self) -> list:  # noqa: N802
        return [self._key, self._value]

    def __str__(self) -> str:
        return f"Dict[{self._key}, {self._value}]"


class TupleType(Type):
    """``Tuple[T1, T2, ...]``."""

    def __init__(self, elements: list) -> None:
        _check(*elements)
        self._elements = list(elements)

    def elements(self) -> list:
        return list(self._elements)

    def containedTypes(self) -> list:  # noqa: N802
        return list(self._elements)

    def __str__(self) -> str:
        return f"Tuple[{', '.join(map(str, self._elements))}]"


class UnionType(Type):
    """``Union[T1, T2, ...]``; PyTorch keeps (and prints) the members sorted by name."""

    def __init__(self, types: list) -> None:
        _check(*types)
        self._types = sorted(types, key=str)

    def containedTypes(self) -> list:  # noqa: N802
        return list(self._types)

    def __str__(self) -> str:
        return f"Union[{', '.join(map(str, self._types))}]"
