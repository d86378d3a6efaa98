"""``torch.export.graph_signature``: what each input and output of an exported graph is (a
lifted parameter, a buffer, a user input, a buffer's new value, ...)."""
from __future__ import annotations

import dataclasses
import enum
from typing import Any, Union

__all__ = ["InputKind", "OutputKind", "TensorArgument", "SymIntArgument", "ConstantArgument",
           "InputSpec", "OutputSpec", "ExportGraphSignature"]


class InputKind(enum.Enum):
    USER_INPUT = enum.auto()
    PARAMETER = enum.auto()
    BUFFER = enum.auto()
    CONSTANT_TENSOR = enum.auto()
    CUSTOM_OBJ = enum.auto()
    TOKEN = enum.auto()


class OutputKind(enum.Enum):
    USER_OUTPUT = enum.auto()
    LOSS_OUTPUT = enum.auto()
    BUFFER_MUTATION = enum.auto()
    PARAMETER_MUTATION = enum.auto()
    GRADIENT_TO_PARAMETER = enum.auto()
    GRADIENT_TO_USER_INPUT = enum.auto()
    USER_INPUT_MUTATION = enum.auto()
    TOKEN = enum.auto()


@dataclasses.dataclass
class TensorArgument:
    name: str


@dataclasses.dataclass
class SymIntArgument:
    name: str


@dataclasses.dataclass
class ConstantArgument:
    name: str
    value: Union[int, float, bool, str, None]


ArgumentSpec = Union[TensorArgument, SymIntArgument, ConstantArgument]


@dataclasses.dataclass
class InputSpec:
    """One graph input: its ``kind``, the placeholder (``arg``), and for lifted state the
    fully qualified name it comes from (``target``) and whether a buffer is persistent."""
    kind: InputKind
    arg: ArgumentSpec
    target: str | None
    persistent: bool | None = None


@dataclasses.dataclass
class OutputSpec:
    """One graph output: its ``kind``, the value (``arg``), and for a mutation the name of
    the buffer or input it is the new value of (``target``)."""
    kind: OutputKind
    arg: ArgumentSpec
    target: str | None


def _describe(spec: Any) -> str:
    text = f"{spec.arg.name}: {spec.kind.name}"
    if spec.target is not None:
        text += f" target='{spec.target}'"
    if getattr(spec, "persistent", None) is not None:
        text += f" persistent={spec.persistent}"
    return text


@dataclasses.dataclass
class ExportGraphSignature:
    """The inputs and outputs of an exported graph, in order.

    Example::

        >>> ep.graph_signature.parameters   # ('lin.weight', 'lin.bias')
        >>> ep.graph_signature.user_inputs  # ('x', 'y')
    """
    input_specs: list[InputSpec]
    output_specs: list[OutputSpec]

    def _inputs(self, kind: InputKind) -> tuple:
        return tuple(s.target for s in self.input_specs if s.kind is kind)

    @property
    def parameters(self) -> tuple[str, ...]:
        return self._inputs(InputKind.PARAMETER)

    @property
    def buffers(self) -> tuple[str, ...]:
        return self._inputs(InputKind.BUFFER)

    @property
    def non_persistent_buffers(self) -> tuple[str, ...]:
        return tuple(s.target for s in self.input_specs
                     if s.kind is InputKind.BUFFER and s.persistent is False)

    @property
    def lifted_tensor_constants(self) -> tuple[str, ...]:
        return self._inputs(InputKind.CONSTANT_TENSOR)

    @property
    def user_inputs(self) -> tuple:
        return tuple(s.arg.name for s in self.input_specs if s.kind is InputKind.USER_INPUT)

    @property
    def user_outputs(self) -> tuple:
        return tuple(s.arg.value if isinstance(s.arg, ConstantArgument) else s.arg.name
                     for s in self.output_specs if s.kind is OutputKind.USER_OUTPUT)

    def _names_to(self, kind: InputKind) -> dict[str, str]:
        return {s.arg.name: s.target for s in self.input_specs if s.kind is kind}

    @property
    def inputs_to_parameters(self) -> dict[str, str]:
        return self._names_to(InputKind.PARAMETER)

    @property
    def inputs_to_buffers(self) -> dict[str, str]:
        return self._names_to(InputKind.BUFFER)

    @property
    def inputs_to_lifted_tensor_constants(self) -> dict[str, str]:
        return self._names_to(InputKind.CONSTANT_TENSOR)

    @property
    def buffers_to_mutate(self) -> dict[str, str]:
        return {s.arg.name: s.target for s in self.output_specs
                if s.kind is OutputKind.BUFFER_MUTATION}

    @property
    def user_inputs_to_mutate(self) -> dict[str, str]:
        return {s.arg.name: s.target for s in self.output_specs
                if s.kind is OutputKind.USER_INPUT_MUTATION}

    def __str__(self) -> str:
        lines = ["", "# inputs"] + [_describe(s) for s in self.input_specs]
        lines += ["", "# outputs"] + [_describe(s) for s in self.output_specs]
        return "\n".join(lines) + "\n"
