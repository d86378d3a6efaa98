"""``torch.export.save`` / ``load``: an ExportedProgram in a zip file (``.pt2``).

The graph, signature and constraints are JSON (nodes as op, name, target and arguments; a call
target as the PyTorch path of the ember callable it stands for), the weights, constants and
example inputs safetensors. Loading resolves targets against ember's public functions,
``operator`` and export's own ops only: nothing from the file is executed (as NOTE [ Pickled
graphs ] in ``ember/fx/graph_module.py`` does for GraphModules).
"""
from __future__ import annotations

import io
import json
import os
import zipfile
from typing import Any

from ember._tensor import Tensor
from ember.export import _tree
from ember.export._ops import OpOverload, export_op, op_for
from ember.export._symbolic import Expr, ValueRanges, _SymValue, int_oo, sym_class
from ember.export._trace import TensorMeta
from ember.export.exported_program import ExportedProgram
from ember.export.graph_signature import (
    ConstantArgument,
    ExportGraphSignature,
    InputKind,
    InputSpec,
    OutputKind,
    OutputSpec,
    TensorArgument,
)
from ember.fx.graph import Graph
from ember.fx.graph_module import GraphModule, _decode, _encode, _resolve_target, _target_name
from ember.fx.node import Node
from ember.serialization import load_safetensors, save_safetensors

__all__ = ["save", "load"]

_FORMAT_VERSION = 1
_ROOT = "archive"


# -- size expressions and node metadata ---------------------------------------------------------

def _expr_data(e: Any) -> Any:
    if not isinstance(e, Expr):
        return e
    if e.op in ("sym", "const"):
        return [e.op, e.args[0]]
    if e.op == "opaque":
        return ["opaque", e.args[1]]
    if e.op == "unbacked":
        return ["unbacked", e.args[0]]
    return [e.op, _expr_data(e.args[0]), _expr_data(e.args[1])]


def _expr_from(d: Any) -> Any:
    if not isinstance(d, list):
        return d
    op = d[0]
    if op == "sym":
        return Expr.symbol(str(d[1]))
    if op == "const":
        return Expr("const", int(d[1]))
    if op == "opaque":
        return Expr.opaque(int(d[1]))
    if op == "unbacked":
        return Expr.unbacked(int(d[1]))
    if op not in ("add", "mul", "floordiv", "mod", "truediv", "pow", "eq", "ne", "lt", "le",
                  "gt", "ge"):
        raise ValueError(f"unknown size expression {op!r}")
    return Expr(op, _expr_from(d[1]), _expr_from(d[2]))


def _meta_data(node: Node) -> dict:
    meta: dict = {}
    val = node.meta.get("val")
    if isinstance(val, TensorMeta):
        meta["val"] = {"shape": [_expr_data(d) for d in val.shape], "dtype": repr(val.dtype),
                       "device": str(val.device), "requires_grad": val.requires_grad}
    elif isinstance(val, _SymValue):
        meta["sym"] = [_expr_data(val.expr), val.hint]
    elif node.meta.get("constant_input"):
        meta["constant"] = val
    for key in ("inplace", "impure", "constant_target"):
        if key in node.meta:
            meta[key] = node.meta[key]
    if "mutated" in node.meta:
        meta["mutated"] = [n.name for n in node.meta["mutated"]]
    return meta


def _meta_from(data: dict, env: dict) -> dict:
    import ember
    from ember.fx.graph_module import _resolve_torch_path
    meta: dict = {}
    if "val" in data:
        v = data["val"]
        meta["val"] = TensorMeta(tuple(_expr_from(d) for d in v["shape"]),
                                 _resolve_torch_path(v["dtype"]), ember.device(v["device"]),
                                 bool(v["requires_grad"]))
    if "sym" in data:
        expr, hint = data["sym"]
        meta["val"] = sym_class(hint)(None, None, _expr_from(expr), hint)
    if "constant" in data:
        meta["val"] = data["constant"]
        meta["constant_input"] = True
    for key in ("inplace", "impure", "constant_target"):
        if key in data:
            meta[key] = data[key]
    if "mutated" in data:
        meta["mutated"] = [env[name] for name in data["mutated"]]
    return meta


# -- graphs --------------------------------------------------------------------------------------

def _target_data(target: Any) -> list:
    if isinstance(target, OpOverload):
        if target.source is None:
            return ["export", target.__name__]
        return ["aten", target.source, target.__name__, target._overloadname]
    if isinstance(target, str):
        return ["str", target]
    return ["fn", _target_name(target)]


def _target_from(data: list) -> Any:
    kind = data[0]
    if kind == "export":
        return export_op(data[1])
    if kind == "aten":
        return op_for(data[1], data[2], data[3])
    if kind == "str":
        return data[1]
    if kind == "fn":
        return _resolve_target(data[1])
    raise ValueError(f"unknown target kind {kind!r}")


def _graph_data(gm: GraphModule) -> dict:
    nodes = [[n.op, n.name, _target_data(n.target), _encode(n.args), _encode(n.kwargs),
              _meta_data(n)] for n in gm.graph.nodes]
    subs = {n.target: _graph_data(getattr(gm, n.target)) for n in gm.graph.nodes
            if n.op == "get_attr" and isinstance(getattr(gm, n.target, None), GraphModule)}
    return {"nodes": nodes, "submodules": subs}


def _graph_from(data: dict, name: str) -> GraphModule:
    graph = Graph()
    env: dict[str, Node] = {}
    for op, node_name, target, args, kwargs, meta in data["nodes"]:
        if node_name in env or not node_name.isidentifier():
            raise ValueError(f"bad node name {node_name!r} in the saved graph")
        node = graph.create_node(op, _target_from(target), _decode(args, env),
                                 _decode(kwargs, env), node_name)
        node.name = node_name  # as saved (``input`` stays ``input``)
        node.meta = _meta_from(meta, env)
        env[node_name] = node
    subs = {k: _graph_from(v, k) for k, v in data["submodules"].items()}
    return GraphModule(subs, graph, name)


# -- the program --------------------------------------------------------------------------------

def _spec_data(spec: Any) -> list:
    arg = spec.arg
    arg_data = ["constant", arg.name, arg.value] if isinstance(arg, ConstantArgument) else \
        ["tensor", arg.name]
    return [spec.kind.name, arg_data, spec.target, getattr(spec, "persistent", None)]


def _arg_from(data: list) -> Any:
    return ConstantArgument(data[1], data[2]) if data[0] == "constant" else \
        TensorArgument(data[1])


def _tensor_bytes(tensors: dict[str, Tensor]) -> bytes:
    buf = io.BytesIO()
    save_safetensors({k: t.detach() for k, t in tensors.items()}, buf)
    return buf.getvalue()


def save(ep: ExportedProgram, f, *, extra_files: dict | None = None,
         opset_version: dict | None = None, pickle_protocol: int = 2) -> None:
    """Write ``ep`` to ``f`` (a path, ideally ending in ``.pt2``, or a binary file).

    Example::

        >>> ember.export.save(ep, "model.pt2")
        >>> ep2 = ember.export.load("model.pt2")
    """
    if not isinstance(ep, ExportedProgram):
        raise TypeError(f"The 'ep' parameter must be an instance of 'ExportedProgram', got "
                        f"'{type(ep).__name__}' instead.")
    leaves, spec = _tree.flatten(ep.example_inputs if ep.example_inputs is not None else ())
    sample = {f"input_{i}": t for i, t in enumerate(leaves) if isinstance(t, Tensor)}
    sample_leaves = [["tensor", f"input_{i}"] if isinstance(t, Tensor) else ["value", t]
                     for i, t in enumerate(leaves)]
    sig = ep.graph_signature
    model = {
        "version": _FORMAT_VERSION,
        "graph": _graph_data(ep.graph_module),
        "inputs": [_spec_data(s) for s in sig.input_specs],
        "outputs": [_spec_data(s) for s in sig.output_specs],
        "range_constraints": {str(k): [v.lower if v.lower != -int_oo else None,
                                       v.upper if v.upper != int_oo else None]
                              for k, v in ep.range_constraints.items()},
        "call_info": ep._call_info,
        "requires_grad": {k: bool(t.requires_grad) for k, t in ep.state_dict.items()},
        "example_inputs": [spec, sample_leaves] if ep.example_inputs is not None else None,
    }
    files = {
        f"{_ROOT}/version": str(_FORMAT_VERSION).encode(),
        f"{_ROOT}/models/model.json": json.dumps(model).encode(),
        f"{_ROOT}/data/weights/state_dict.safetensors": _tensor_bytes(ep.state_dict),
        f"{_ROOT}/data/constants/constants.safetensors": _tensor_bytes(ep.constants),
        f"{_ROOT}/data/sample_inputs/inputs.safetensors": _tensor_bytes(sample),
    }
    for name, content in (extra_files or {}).items():
        files[f"{_ROOT}/extra/{name}"] = content.encode() if isinstance(content, str) \
            else content
    if isinstance(f, (str, os.PathLike)):
        from ember.serialization import atomic_write
        with atomic_write(f) as fp:
            _write_zip(fp, files)
    else:
        _write_zip(f, files)


def _write_zip(fp, files: dict[str, bytes]) -> None:
    with zipfile.ZipFile(fp, "w", zipfile.ZIP_STORED) as z:
        for name, content in files.items():
            z.writestr(name, content)


def load(f, *, extra_files: dict | None = None,
         expected_opset_version: dict | None = None) -> ExportedProgram:
    """Read an ExportedProgram written by :func:`save` (no code from the file runs)."""
    from ember.nn import Parameter
    with zipfile.ZipFile(f) as z:
        model = json.loads(z.read(f"{_ROOT}/models/model.json"))
        if model.get("version") != _FORMAT_VERSION:
            raise RuntimeError(f"unsupported exported program version {model.get('version')}")
        state = load_safetensors(io.BytesIO(
            z.read(f"{_ROOT}/data/weights/state_dict.safetensors")))
        constants = load_safetensors(io.BytesIO(
            z.read(f"{_ROOT}/data/constants/constants.safetensors")))
        sample = load_safetensors(io.BytesIO(
            z.read(f"{_ROOT}/data/sample_inputs/inputs.safetensors")))
        for name in extra_files or {}:
            path = f"{_ROOT}/extra/{name}"
            extra_files[name] = z.read(path).decode() if path in z.namelist() else ""
    root = _graph_from(model["graph"], "GraphModule")
    inputs = [InputSpec(InputKind[k], _arg_from(a), t, p) for k, a, t, p in model["inputs"]]
    outputs = [OutputSpec(OutputKind[k], _arg_from(a), t) for k, a, t, _ in model["outputs"]]
    ordered = {}  # the program's order, as export made it
    for spec in inputs:
        if spec.kind is InputKind.PARAMETER:
            ordered[spec.target] = Parameter(state[spec.target],
                                             model["requires_grad"][spec.target])
        elif spec.kind is InputKind.BUFFER and spec.persistent:
            ordered[spec.target] = state[spec.target]
    state = ordered
    ranges = {Expr.symbol(k): ValueRanges(-int_oo if lo is None else lo,
                                          int_oo if hi is None else hi)
              for k, (lo, hi) in model["range_constraints"].items()}
    example = None
    if model["example_inputs"] is not None:
        spec, leaves = model["example_inputs"]
        example = _tree.unflatten([sample[v] if kind == "tensor" else v
                                   for kind, v in leaves], spec)
    return ExportedProgram(root, ExportGraphSignature(inputs, outputs), state, ranges,
                           constants, example, model["call_info"])

