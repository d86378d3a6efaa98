"""``torch.export.export``: trace a module on example inputs into an ExportedProgram."""
from __future__ import annotations

import inspect
from typing import Any

from ember import overrides
from ember._tensor import Tensor
from ember.export import _tree
from ember.export._errors import UserError, UserErrorType
from ember.export._symbolic import Expr, _SymValue, int_oo
from ember.export._trace import (
    ExportTracer,
    dispatching_names,
    reorder_placeholders,
    watching_primitives,
)
from ember.export.dynamic_shapes import resolve
from ember.export.exported_program import ExportedProgram, build_signature, range_constraints
from ember.export.graph_signature import InputKind, OutputKind
from ember.fx.graph_module import GraphModule
from ember.nn import Module

__all__ = ["export"]

_CONSTANT_INPUTS = (int, float, bool, str, type(None))
_STARS = {inspect.Parameter.VAR_POSITIONAL: "*", inspect.Parameter.VAR_KEYWORD: "**"}


def _tensor_attributes(mod: Module) -> dict[int, str]:
    """Plain tensor attributes of the module tree (not parameters or buffers), by id."""
    names = {}
    for prefix, m in mod.named_modules():
        for k, v in vars(m).items():
            if isinstance(v, Tensor):
                names.setdefault(id(v), f"{prefix}.{k}" if prefix else k)
    return names


def _is_persistent(mod: Module, fqn: str) -> bool:
    *prefix, field = fqn.split(".")
    owner = mod.get_submodule(".".join(prefix)) if prefix else mod
    return field not in owner._non_persistent_buffers_set


def _where(name: str, path: tuple) -> str:
    return name + "".join(f"[{k!r}]" for k in path)


def export(mod: Module, args: tuple, kwargs: dict | None = None, *,
           dynamic_shapes: Any = None, strict: bool = False,
           preserve_module_call_signature: tuple = ()) -> ExportedProgram:
    """Trace ``mod(*args, **kwargs)`` into an :class:`ExportedProgram`: one graph of aten
    ops with the parameters and buffers lifted to inputs, runnable on other inputs of the
    same shapes (or any sizes the ``dynamic_shapes`` allow).

    Args:
        mod: the module to export.
        args, kwargs: example inputs (tensors, possibly in tuples, lists and dicts; ints,
            floats, bools and strings are fixed to their example value).
        dynamic_shapes: for each input, which dims may vary: ``{dim: Dim(...)}`` or a tuple
            with one entry per dim, nested like the inputs, as a dict keyed by argument name
            or a tuple in argument order.
        strict: report unsupported Python as PyTorch's strict (TorchDynamo) mode does.

    Returns:
        The ExportedProgram; call ``.module()`` on it to run it.

    Example::

        >>> ep = ember.export.export(model, (ember.randn(8, 100),),
        ...                          dynamic_shapes={"x": {0: Dim("batch")}})
        >>> ep.module()(ember.randn(3, 100))
    """
    if not isinstance(mod, Module):
        raise ValueError(f"Expected `mod` to be an instance of `torch.nn.Module`, got "
                         f"{type(mod)}.")
    if not isinstance(args, tuple):
        raise UserError(UserErrorType.INVALID_INPUT, "Expecting `args` to be a tuple of "
                        f"example positional inputs, got {type(args)}")
    kwargs = dict(kwargs or {})
    signature = inspect.signature(mod.forward)
    bound = signature.bind(*args, **kwargs)
    names, values = list(bound.arguments), list(bound.arguments.values())
    # how each argument is passed: "" plain, "*" the *args tuple, "**" the **kwargs dict
    stars = [_STARS.get(signature.parameters[n].kind, "") for n in names]
    ranges: dict = {}
    infos = resolve(names, values, dynamic_shapes, ranges)
    sources, hints = {}, {}
    for name, value in zip(names, values):
        for path, leaf in _tree.paths(value):
            for d, info in enumerate(infos.get(id(leaf), [])):
                if info.symbol is not None:
                    symbol = info.symbol.args[0]
                    sources.setdefault(symbol, (info.source, f"L[{name!r}]"
                                                f"{_where('', path)}.size()[{d}]"))
                    hints.setdefault(symbol, info.hint)
    tracer = ExportTracer(ranges, sources, hints, _tensor_attributes(mod), strict)
    kinds: dict = {}
    state, constants = _lift_state(tracer, mod, kinds)
    traced_values, in_paths, guards = _user_inputs(tracer, names, values, infos, kinds)
    saved = {id(t): (t, t._version, t.detach().clone()) for t in state.values()}
    saved.update({id(t): (t, t._version, t.detach().clone()) for t in constants.values()})
    dispatch_was_installed = overrides._installed
    try:
        with dispatching_names(mod), tracer, watching_primitives(tracer):
            out = mod(*_call_args(names, stars, traced_values, signature),
                      **_call_kwargs(names, stars, traced_values, signature))
    finally:
        _restore(saved)
        if not dispatch_was_installed:  # tracing installed it: keep eager calls unwrapped
            overrides._uninstall()
    if tracer.violations:
        _raise_violations(tracer.violations)
    leaves, out_spec = _tree.flatten(out)
    outputs = []
    for leaf in leaves:
        value = tracer.to_graph(leaf) if isinstance(leaf, (Tensor, _SymValue)) else leaf
        outputs.append((OutputKind.USER_OUTPUT, value, None))
    graph = tracer.graph
    graph.output(tuple(v for _, v, _ in outputs))
    tracer.release()
    graph.eliminate_dead_code(lambda n: n.op in ("placeholder", "output")
                              or "mutated" in n.meta or n.meta.get("impure", False))
    for node in tracer.constant_nodes:
        kinds[node] = (InputKind.CONSTANT_TENSOR, node.meta["constant_target"], None)
    order = [n for n in graph.nodes if n.op == "placeholder"]
    rank = {InputKind.PARAMETER: 0, InputKind.BUFFER: 1, InputKind.CONSTANT_TENSOR: 2,
            InputKind.USER_INPUT: 3}
    order.sort(key=lambda n: rank[kinds[n][0]])
    reorder_placeholders(graph, order)
    constants.update(tracer.constants)
    root = GraphModule(tracer.scope.submodules, graph, "GraphModule")
    call_info = {"arg_names": [star + n for star, n in zip(stars, names)],
                 "in_paths": in_paths, "out_spec": out_spec,
                 "guards": _guard_data(guards, tracer.ranges)}
    return ExportedProgram(root, build_signature(graph, kinds, outputs), state,
                           range_constraints(tracer.ranges, graph), constants,
                           (args, kwargs), call_info)


def _lift_state(tracer: ExportTracer, mod: Module, kinds: dict) -> tuple[dict, dict]:
    """Placeholders ``p_<fqn>`` and ``b_<fqn>`` for the parameters and buffers; returns the
    state dict (parameters, persistent buffers) and the non-persistent buffers."""
    graph = tracer.graph
    state, constants = {}, {}
    for fqn, p in mod.named_parameters():
        node = graph.placeholder("p_" + fqn.replace(".", "_"))
        tracer.bind(p, node)
        kinds[node] = (InputKind.PARAMETER, fqn, None)
        state[fqn] = p
    for fqn, b in mod.named_buffers():
        node = graph.placeholder("b_" + fqn.replace(".", "_"))
        tracer.bind(b, node)
        persistent = _is_persistent(mod, fqn)
        kinds[node] = (InputKind.BUFFER, fqn, persistent)
        (state if persistent else constants)[fqn] = b
    return state, constants


def _user_inputs(tracer: ExportTracer, names: list, values: list, infos: dict,
                 kinds: dict) -> tuple[list, list, list]:
    """A placeholder per input leaf, named by its path (``x``, ``d_a``); returns the values
    to trace with (copies of the tensors, so that the program cannot change the examples),
    each leaf's path and the data of its guard."""
    graph = tracer.graph
    in_paths, guards, traced_values = [], [], []
    for i, (name, value) in enumerate(zip(names, values)):
        leaves = []
        for path, leaf in _tree.paths(value):
            where = _where(name, path)
            node_name = "_".join([name] + [str(k) for k in path])
            node = graph.placeholder(node_name)
            if node_name.isidentifier() and node.name != node_name:
                node.name = node_name  # a builtin's name (``input``), as PyTorch keeps it
            kinds[node] = (InputKind.USER_INPUT, None, None)
            in_paths.append([i, *path])
            if isinstance(leaf, Tensor):
                shape = tuple(d.symbol if d.symbol is not None else d.hint
                              for d in infos[id(leaf)]) if id(leaf) in infos else \
                    tuple(leaf.shape)
                leaf_copy = leaf.detach().clone().requires_grad_(leaf.requires_grad)
                tracer.bind(leaf_copy, node, shape)
                leaves.append(leaf_copy)
                guards.append([where, "tensor", shape])
            elif isinstance(leaf, _CONSTANT_INPUTS):
                node.meta["val"] = leaf
                node.meta["constant_input"] = True
                leaves.append(leaf)
                guards.append([where, "const", leaf])
            else:
                raise UserError(UserErrorType.INVALID_INPUT, f"export got an input of type "
                                f"{type(leaf).__name__} at {where}: inputs must be tensors, "
                                "Python constants, or tuples, lists and dicts of them")
        traced_values.append(_tree.unflatten(leaves, _tree.flatten(value)[1]))
    return traced_values, in_paths, guards


def _positional(signature: inspect.Signature, name: str) -> bool:
    return signature.parameters[name].kind in (inspect.Parameter.POSITIONAL_ONLY,
                                               inspect.Parameter.POSITIONAL_OR_KEYWORD)


def _call_args(names: list, stars: list, values: list, signature) -> list:
    out: list = []
    for name, star, value in zip(names, stars, values):
        if star == "*":
            out.extend(value)
        elif not star and _positional(signature, name):
            out.append(value)
    return out


def _call_kwargs(names: list, stars: list, values: list, signature) -> dict:
    out: dict = {}
    for name, star, value in zip(names, stars, values):
        if star == "**":
            out.update(value)
        elif not star and not _positional(signature, name):
            out[name] = value
    return out


def _restore(saved: dict) -> None:
    """Undo what tracing did to the module's parameters and buffers (export never changes
    the module it exports)."""
    import ember
    with ember.no_grad():
        for t, version, value in saved.values():
            if t._version != version:
                t.copy_(value)


def _guard_data(guards: list, ranges: dict) -> list:
    out = []
    for where, kind, expected in guards:
        if kind == "tensor":
            expected = [d if not isinstance(d, Expr) else
                        [str(d), ranges[d.args[0]].lower,
                         None if ranges[d.args[0]].upper == int_oo else ranges[d.args[0]].upper]
                        for d in expected]
        out.append([where, kind, expected])
    return out


def _raise_violations(violations: list) -> None:
    names = ", ".join(dict.fromkeys(v[0] for v in violations))  # the dims' names
    lines = [f"Constraints violated ({names})! For more information, run with "
             'TORCH_LOGS="+dynamic".']
    lines += [f"  - {v[1]}" for v in violations]
    fixes = [v[2] for v in violations if v[2] is not None]
    if fixes:
        lines += ["Suggested fixes:"] + [f"  {f}" for f in dict.fromkeys(fixes)]
    raise UserError(UserErrorType.CONSTRAINT_VIOLATION, "\n".join(lines))

