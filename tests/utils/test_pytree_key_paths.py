"""ember.utils._pytree key paths (tree_flatten_with_path and its kin) and the registration
forms PyTorch code uses, against hand-written expectations; ember.fx._pytree's
tree_flatten_spec; ember.utils._python_dispatch's wrapper-subclass predicates."""
import collections
import warnings

import pytest

import ember.fx._pytree as fx_pytree
import ember.utils._pytree as pytree
from ember.utils._pytree import GetAttrKey, MappingKey, SequenceKey

Point = collections.namedtuple("Point", "x y")


def test_key_entries_print_get_and_compare():
    assert str(SequenceKey(2)) == "[2]" and SequenceKey(2).get("abc") == "c"
    assert str(MappingKey("a")) == "['a']" and MappingKey("a").get({"a": 5}) == 5
    assert str(GetAttrKey("x")) == ".x" and GetAttrKey("x").get(Point(1, 2)) == 1
    assert MappingKey("a") == MappingKey("a") and hash(SequenceKey(1)) == hash(SequenceKey(1))
    assert pytree.keystr((MappingKey("a"), SequenceKey(1), GetAttrKey("y"))) == "['a'][1].y"


def test_flatten_with_path_of_builtin_nodes():
    tree = {"a": [1, (2, Point(3, 4))], "b": None,
            "c": collections.OrderedDict(k=5), "d": collections.defaultdict(int, {7: 6}),
            "e": collections.deque([8])}
    keyed, spec = pytree.tree_flatten_with_path(tree)
    assert spec == pytree.tree_structure(tree)
    assert [(pytree.keystr(p), leaf) for p, leaf in keyed] == [
        ("['a'][0]", 1), ("['a'][1][0]", 2), ("['a'][1][1].x", 3), ("['a'][1][1].y", 4),
        ("['b']", None), ("['c']['k']", 5), ("['d'][7]", 6), ("['e'][0]", 8)]
    assert all(pytree.key_get(tree, p) == leaf for p, leaf in keyed)
    assert pytree.tree_leaves_with_path(tree) == keyed


def test_flatten_with_path_respects_is_leaf():
    keyed, _ = pytree.tree_flatten_with_path({"a": [1, 2]}, is_leaf=lambda t: type(t) is list)
    assert keyed == [((MappingKey("a"),), [1, 2])]


def test_map_with_path():
    out = pytree.tree_map_with_path(lambda p, x, y: f"{pytree.keystr(p)}={x + y}",
                                    {"a": (1, 2)}, {"a": (10, 20)})
    assert out == {"a": ("['a'][0]=11", "['a'][1]=22")}


class Box:
    def __init__(self, items):
        self.items = items


def test_registered_node_with_and_without_keys():
    register = pytree.register_pytree_node
    register(Box, lambda b: (b.items, None), lambda v, _: Box(list(v)),
             serialized_type_name="tests.Box",
             flatten_with_keys_fn=lambda b: ([(GetAttrKey(f"items[{i}]"), x)
                                              for i, x in enumerate(b.items)], None))
    try:
        keyed, spec = pytree.tree_flatten_with_path([Box([1, 2])])
        assert [(pytree.keystr(p), x) for p, x in keyed] == [("[0].items[0]", 1),
                                                              ("[0].items[1]", 2)]
        assert pytree.tree_unflatten([3, 4], spec)[0].items == [3, 4]
        with pytest.raises(ValueError, match="already registered"):
            register(Box, lambda b: (b.items, None), lambda v, _: Box(v))
    finally:
        del pytree.SUPPORTED_NODES[Box]
    pytree._register_pytree_node(Box, lambda b: (b.items, None), lambda v, _: Box(list(v)))
    try:
        assert pytree.tree_leaves(Box([5])) == [5]  # no keys: only key paths fail
        with pytest.raises(ValueError, match="flatten_with_keys_fn"):
            pytree.tree_flatten_with_path(Box([5]))
    finally:
        del pytree.SUPPORTED_NODES[Box]


def test_deprecated_to_str_fn_warns():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pytree._register_pytree_node(Box, lambda b: (b.items, None), lambda v, _: Box(v),
                                     to_str_fn=str)
    del pytree.SUPPORTED_NODES[Box]
    assert any(issubclass(w.category, FutureWarning) for w in caught)


def test_dict_flatten_with_keys_and_unflatten():
    keyed, context = pytree._dict_flatten_with_keys({"a": 1, "b": 2})
    assert keyed == [(MappingKey("a"), 1), (MappingKey("b"), 2)] and context == ["a", "b"]
    assert pytree._dict_unflatten([3, 4], context) == {"a": 3, "b": 4}


def test_tree_flatten_spec_follows_the_spec():
    spec = pytree.tree_structure({"a": 1, "b": (2, 3)})
    # a dict flattens by the spec's keys: order from the spec, extra keys ignored
    assert fx_pytree.tree_flatten_spec({"b": (20, 30), "z": 0, "a": 10}, spec) == [10, 20, 30]
    assert fx_pytree.tree_flatten_spec([Point(1, 2)], pytree.tree_structure([Point(0, 0)])) \
        == [1, 2]


def test_tree_flatten_spec_of_custom_type():
    pytree.register_pytree_node(Box, lambda b: (b.items, None), lambda v, _: Box(list(v)))
    fx_pytree.register_pytree_flatten_spec(Box, lambda b, spec: b.items[:spec.num_children])
    try:
        spec = pytree.tree_structure(Box([1, 2]))
        assert fx_pytree.tree_flatten_spec(Box([7, 8, 9]), spec) == [7, 8]
    finally:
        fx_pytree._deregister_pytree_flatten_spec(Box)
        del pytree.SUPPORTED_NODES[Box]
    with pytest.raises(RuntimeError, match="different from expected spec"):
        fx_pytree.tree_flatten_spec(Box([1]), spec)


def test_traceable_wrapper_subclass_predicates():
    import ember
    from ember.utils._python_dispatch import (
        is_traceable_wrapper_subclass,
        is_traceable_wrapper_subclass_type,
    )

    class Wrapper(ember.Tensor):
        def __tensor_flatten__(self):
            return [], None

        @staticmethod
        def __tensor_unflatten__(inner, ctx, size, stride):
            return None

    class Plain(ember.Tensor):
        pass

    assert is_traceable_wrapper_subclass_type(Wrapper)
    assert not is_traceable_wrapper_subclass_type(Plain)
    assert not is_traceable_wrapper_subclass_type(ember.Tensor)
    assert is_traceable_wrapper_subclass(ember.ones(1).as_subclass(Wrapper))
    assert not is_traceable_wrapper_subclass(ember.ones(1).as_subclass(Plain))
    assert not is_traceable_wrapper_subclass(ember.ones(1))
