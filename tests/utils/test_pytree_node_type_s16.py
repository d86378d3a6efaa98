"""``ember.utils._pytree._get_node_type`` and ``SUPPORTED_NODES``, as libraries (Lightning)
use them to flatten trees themselves: the key of a node's NodeDef (one key for every
namedtuple class), and a leaf's type, which is no key."""
import collections
from typing import NamedTuple

from ember.utils import _pytree as pytree


class Pair(NamedTuple):
    a: int
    b: int


def flatten_by_hand(tree):
    """Lightning's way: look the node up, flatten its children, build a TreeSpec."""
    node_type = pytree._get_node_type(tree)
    if node_type not in pytree.SUPPORTED_NODES:
        return [tree], pytree.LeafSpec()
    children, context = pytree.SUPPORTED_NODES[node_type].flatten_fn(tree)
    leaves, specs = [], []
    for child in children:
        child_leaves, spec = flatten_by_hand(child)
        leaves += child_leaves
        specs.append(spec)
    return leaves, pytree.TreeSpec(node_type, context, specs)


def test_node_types_key_supported_nodes():
    assert pytree._get_node_type([1]) is list and pytree._get_node_type(3) is int
    assert pytree._get_node_type(collections.OrderedDict()) is collections.OrderedDict
    assert pytree._get_node_type(Pair(1, 2)) is NamedTuple in pytree.SUPPORTED_NODES
    assert int not in pytree.SUPPORTED_NODES


def test_trees_flattened_by_hand_unflatten():
    tree = {"x": [1, Pair(2, (3, 4))], "y": collections.OrderedDict(z=5)}
    leaves, spec = flatten_by_hand(tree)
    assert leaves == [1, 2, 3, 4, 5]
    assert (leaves, spec) == pytree.tree_flatten(tree)
    assert pytree.tree_unflatten([x * 10 for x in leaves], spec) == {
        "x": [10, Pair(20, (30, 40))], "y": collections.OrderedDict(z=50)}
