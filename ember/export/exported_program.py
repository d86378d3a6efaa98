"""``torch.export.ExportedProgram``: an exported graph with its signature, state and
constraints; ``module()`` turns it back into a callable module."""
from __future__ import annotations

import operator
import re
import textwrap
from typing import Any, Iterator

from ember.export._ops import OpOverload
from ember.export._symbolic import ValueRanges, _SymValue
from ember.export._trace import TensorMeta
from ember.export.graph_signature import (
    ConstantArgument,
    ExportGraphSignature,
    InputKind,
    InputSpec,
    OutputSpec,
    TensorArgument,
)
from ember.fx.graph import Graph
from ember.fx.graph_module import GraphModule
from ember.fx.node import Node
from ember.nn import Module

__all__ = ["ExportedProgram", "InputGuards"]


class InputGuards(Module):
    """``_guards_fn`` of ``ExportedProgram.module()``: checks the inputs against what the
    program was exported for (static sizes, dynamic dims' ranges and equalities, constant
    inputs), raising ``AssertionError("Guard failed: ...")`` as PyTorch's guards do.

    ``checks`` is plain data: ``[path, "tensor", sizes]`` where each size is an int or
    ``[symbol, lower, upper]``, or ``[path, "const", value]``, one per input leaf."""

    _is_impure = True  # dead-code elimination keeps the call

    def __init__(self, checks: list) -> None:
        super().__init__()
        self.checks = checks

    def forward(self, *leaves) -> None:
        seen: dict[str, str] = {}
        for (path, kind, expected), value in zip(self.checks, leaves):
            if kind == "const":
                if value != expected:
                    raise AssertionError(f"Guard failed: {path} == {expected!r}")
                continue
            if value.dim() != len(expected):
                raise AssertionError(f"Guard failed: {path}.dim() == {len(expected)}")
            for d, size in enumerate(expected):
                where = f"{path}.size()[{d}]"
                actual = value.shape[d]
                if isinstance(size, int):
                    if actual != size:
                        raise AssertionError(f"Guard failed: {where} == {size}")
                    continue
                symbol, lower, upper = size
                if symbol in seen and actual != seen[symbol][1]:
                    raise AssertionError(f"Guard failed: {where} == {seen[symbol][0]}")
                seen.setdefault(symbol, (where, actual))
                if lower > 2 and actual < lower:  # PyTorch checks no lower bound below 2
                    raise AssertionError(f"Guard failed: {where} >= {lower}")
                if upper is not None and actual > upper:
                    raise AssertionError(f"Guard failed: {where} <= {upper}")


class ExportedProgram:
    """The result of :func:`ember.export.export`: ``graph_module`` holds a graph whose inputs
    are the lifted parameters (``p_<fqn>``), buffers (``b_<fqn>``), constants (``c_<fqn>``) and
    the user inputs, as ``graph_signature`` describes; ``module()`` gives a module to call.

    Example::

        >>> ep = ember.export.export(model, (x,))
        >>> print(ep)
        >>> ep.module()(x)
    """

    def __init__(self, root: GraphModule, graph_signature: ExportGraphSignature,
                 state_dict: dict, range_constraints: dict, constants: dict,
                 example_inputs: tuple | None, call_info: dict) -> None:
        self._graph_module = root
        self._graph_signature = graph_signature
        self._state_dict = state_dict
        self._range_constraints = range_constraints
        self._constants = constants
        self._example_inputs = example_inputs
        # How module() takes its inputs: ``arg_names`` (the forward's parameters),
        # ``in_paths`` (each user input leaf as [arg index, key, ...]), ``out_spec`` (the
        # pytree spec of the outputs) and ``guards`` (InputGuards.checks).
        self._call_info = call_info

    # -- attributes ------------------------------------------------------------------------------

    @property
    def graph_module(self) -> GraphModule:
        return self._graph_module

    @property
    def graph(self) -> Graph:
        return self._graph_module.graph

    @property
    def graph_signature(self) -> ExportGraphSignature:
        return self._graph_signature

    @property
    def state_dict(self) -> dict:
        """The parameters and persistent buffers, by fully qualified name."""
        return self._state_dict

    @property
    def constants(self) -> dict:
        """Lifted tensor constants and non-persistent buffers, by fully qualified name."""
        return self._constants

    @property
    def tensor_constants(self) -> dict:
        return self._constants

    @property
    def example_inputs(self) -> tuple | None:
        """``(args, kwargs)`` given to export."""
        return self._example_inputs

    @property
    def range_constraints(self) -> dict:
        """The range of each dynamic dim's symbol, ``{s0: VR[2, 100]}``."""
        return self._range_constraints

    @property
    def equality_constraints(self) -> list:
        return []

    @property
    def call_spec(self) -> dict:
        return dict(self._call_info)

    @property
    def verifier(self) -> None:
        return None

    @property
    def dialect(self) -> str:
        return "ATEN"

    def parameters(self) -> Iterator:
        for _, p in self.named_parameters():
            yield p

    def named_parameters(self) -> Iterator[tuple[str, Any]]:
        for name in self._graph_signature.parameters:
            yield name, self._state_dict[name]

    def buffers(self) -> Iterator:
        for _, b in self.named_buffers():
            yield b

    def named_buffers(self) -> Iterator[tuple[str, Any]]:
        for spec in self._graph_signature.input_specs:
            if spec.kind is InputKind.BUFFER:
                store = self._state_dict if spec.persistent else self._constants
                yield spec.target, store[spec.target]

    def __call__(self, *args, **kwargs):
        raise RuntimeError("Unable to call ExportedProgram directly. You should use "
                           "`exported_program.module()` instead.")

    # -- transforms --------------------------------------------------------------------------------

    def module(self) -> GraphModule:
        """A GraphModule with the original module's parameters and buffers (at their fully
        qualified names) whose ``forward`` takes the original inputs, checks them against the
        exported shapes and returns the original outputs."""
        from ember.export._unlift import unlift
        return unlift(self)

    def run_decompositions(self, decomp_table: dict | None = None,
                           decompose_custom_triton_ops: bool = False) -> "ExportedProgram":
        """An equivalent program without mutations: in-place ops become their functional
        forms (``relu_`` -> ``relu``) and the new values of mutated buffers and inputs become
        BUFFER_MUTATION / USER_INPUT_MUTATION outputs. ember keeps each op whole (no
        decomposition into core aten ops)."""
        from ember.export._unlift import functionalize
        return functionalize(self)

    def validate(self) -> None:
        self.graph.lint()

    # -- printing ----------------------------------------------------------------------------------

    def __str__(self) -> str:
        code = textwrap.indent(readable(self._graph_module, "GraphModule"), "    ")
        signature = "\n".join("    " + line for line in str(self._graph_signature).split(
            "\n")[1:])
        return (f"ExportedProgram:\n{code}    \nGraph signature: \n{signature}\n"
                f"Range constraints: {self._range_constraints}\n")

    def __repr__(self) -> str:
        return str(self)


def annotation(node: Node) -> str | None:
    """The type a printed graph gives a node: ``f32[s0, 3]``, ``Sym(s0)``."""
    val = node.meta.get("val")
    if isinstance(val, TensorMeta):
        return val.annotation()
    if isinstance(val, _SymValue):
        return f"Sym({val.expr})"
    return None


def readable(gm: GraphModule, class_name: str) -> str:
    """``gm`` as a class with annotated, PyTorch-named code (``print_readable``'s form),
    its cond branches as nested classes."""
    code = gm.graph.python_code("self")
    src = code.src
    for name, obj in code.globals.items():
        shown = obj.qualified_name if isinstance(obj, OpOverload) else \
            f"operator.{obj.__name__}" if obj in vars(operator).values() else None
        if shown is not None:
            src = re.sub(rf"\b{re.escape(name)}\(", shown + "(", src)
    by_name = {n.name: n for n in gm.graph.nodes}
    params = []
    for n in gm.graph.nodes:
        if n.op == "placeholder":
            ann = annotation(n)
            params.append(n.name if ann is None else f'{n.name}: "{ann}"')
    body = []
    for line in src.strip().split("\n")[1:]:
        m = re.match(r"(\s+)(\w+) = (.*)", line)
        ann = annotation(by_name[m.group(2)]) if m and m.group(2) in by_name else None
        body.append(line if ann is None else f'{m.group(1)}{m.group(2)}: "{ann}" = '
                    f"{m.group(3)}")
    nested = []
    for n in gm.graph.nodes:
        if n.op == "get_attr" and isinstance(getattr(gm, n.target, None), GraphModule):
            nested.append(textwrap.indent(readable(getattr(gm, n.target), n.target), "    "))
    lines = [f"class {class_name}(torch.nn.Module):",
             f"    def forward(self, {', '.join(params)}):"]
    lines += ["    " + line for line in body]
    text = "\n".join(lines) + "\n"
    for sub in nested:
        text += "\n" + sub
    return text


# ------------------------------------------------------------------------------------------------
# Building a program (export and load share this)


def build_signature(graph: Graph, kinds: dict[Node, tuple], outputs: list) -> \
        ExportGraphSignature:
    """The signature from each placeholder's ``(kind, target, persistent)`` and each output's
    ``(kind, node or constant, target)``."""
    inputs = []
    for node in graph.nodes:
        if node.op != "placeholder":
            continue
        kind, target, persistent = kinds[node]
        arg = ConstantArgument(node.name, node.meta["val"]) if node.meta.get(
            "constant_input") else TensorArgument(node.name)
        inputs.append(InputSpec(kind, arg, target, persistent))
    outs = []
    for kind, value, target in outputs:
        arg = TensorArgument(value.name) if isinstance(value, Node) else \
            ConstantArgument(None, value)
        outs.append(OutputSpec(kind, arg, target))
    return ExportGraphSignature(inputs, outs)


def range_constraints(ranges: dict[str, ValueRanges], graph: Graph) -> dict:
    """The ranges of the symbols in the placeholders' shapes."""
    from ember.export._symbolic import Expr
    used: dict[str, Expr] = {}
    for node in graph.nodes:
        val = node.meta.get("val")
        if node.op == "placeholder" and isinstance(val, TensorMeta):
            for d in val.shape:
                if isinstance(d, Expr):
                    for s in sorted(d.free_symbols()):
                        used.setdefault(s, Expr.symbol(s))
    return {expr: ranges[name] for name, expr in used.items()}
