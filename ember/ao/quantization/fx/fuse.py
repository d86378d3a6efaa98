"""Fusion on an FX graph: conv-bn(-relu), conv-relu, linear-relu and linear-bn chains of
call_module nodes (the ReLU may also be ``F.relu``/``torch.relu``/``.relu()``)
become one fused module, as ``fuse_modules`` makes them in eager mode."""
from __future__ import annotations

from ember import nn
from ember.ao.quantization.fuse_modules import get_fuser_method
from ember.ao.quantization.fx._patterns import is_relu

__all__ = ["fuse_graph_module"]

_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
# The first modules of the chains. Batch norm + ReLU is not fused: ember has no quantized
# BNReLU, and a lone batch norm is quantized.
_HEADS = (*_CONVS, nn.Linear)


def _only_user(node):
    return next(iter(node.users)) if len(node.users) == 1 else None


def _chain(node, modules: dict) -> list:
    """The fusable chain of nodes starting at ``node`` (a single node when none)."""
    head = modules.get(node.target) if node.op == "call_module" else None
    if type(head) not in _HEADS:
        return [node]
    chain = [node]
    nxt = _only_user(node)
    if (nxt is not None and nxt.op == "call_module"
            and isinstance(modules[nxt.target], _BATCH_NORMS)):
        chain.append(nxt)
        nxt = _only_user(nxt)
    if nxt is not None and is_relu(nxt, modules):
        chain.append(nxt)
    return chain


def _module_of(node, modules: dict):
    if node.op == "call_module":
        return modules[node.target]
    return nn.ReLU(inplace=bool(node.kwargs.get("inplace", False)))


def _set_module(root, qualified_name: str, module) -> None:
    parent_name, _, name = qualified_name.rpartition(".")
    setattr(root.get_submodule(parent_name) if parent_name else root, name, module)


def fuse_graph_module(gm, is_qat: bool):
    """Fuse ``gm``'s chains in place: the fused module takes the first module's name, the
    other nodes of the chain are erased. Returns ``gm``."""
    modules = dict(gm.named_modules(remove_duplicate=False))
    erased: set = set()
    for node in list(gm.graph.nodes):
        if node in erased:
            continue
        chain = _chain(node, modules)
        if len(chain) == 1:
            continue
        mods = [_module_of(n, modules) for n in chain]
        fused = get_fuser_method(tuple(type(m) for m in mods))(is_qat, *mods)
        _set_module(gm, node.target, fused)
        modules[node.target] = fused
        chain[-1].replace_all_uses_with(node)
        for done in reversed(chain[1:]):
            gm.graph.erase_node(done)
            erased.add(done)
    gm.graph.lint()
    # fused modules now hold the erased nodes' modules: drop the names no node calls any more
    called = {n.target for n in gm.graph.nodes if n.op == "call_module"}
    for target in {n.target for n in erased if n.op == "call_module"} - called:
        gm.delete_submodule(target)
    gm.recompile()
    return gm
