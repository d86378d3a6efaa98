"""ember.fx Graph and Node: building, editing, linting, copying, printing."""
import copy
import operator
import sys
import types

import pytest

import ember
from ember.fx import Graph, GraphModule, Node, map_arg


def _chain():
    g = Graph()
    x = g.placeholder("x")
    a = g.call_function(ember.relu, (x,))
    b = g.call_method("neg", (a,))
    out = g.output(b)
    return g, x, a, b, out


def test_nodes_are_a_doubly_linked_list_in_order():
    g, x, a, b, out = _chain()
    assert list(g.nodes) == [x, a, b, out]
    assert list(reversed(g.nodes)) == [out, b, a, x]
    assert len(g.nodes) == 4
    assert x.next is a and a.prev is x and b.next is out


def test_names_follow_torch():
    g = Graph()
    x = g.placeholder("x")
    names = [g.call_function(ember.relu, (x,)).name, g.call_function(ember.relu, (x,)).name,
             g.call_method("sum", (x,)).name, g.call_function(operator.add, (x, 1)).name,
             g.call_module("layer1.0.conv", (x,)).name, g.get_attr("w").name,
             g.call_function(abs, (x,)).name, g.create_node("call_method", "__add__", (x, x)).name]
    assert names == ["relu", "relu_1", "sum_1", "add", "layer1_0_conv", "w", "abs_1", "add_1"]


def test_users_and_all_input_nodes_track_args():
    g, x, a, b, out = _chain()
    assert list(x.users) == [a] and a.all_input_nodes == [x]
    b.args = (x,)
    assert list(a.users) == [] and set(x.users) == {a, b}
    b.update_arg(0, a)
    assert list(a.users) == [b]
    b.update_kwarg("k", x)
    assert b.kwargs == {"k": x} and b.all_input_nodes == [a, x]


def test_replace_all_uses_and_replace_input():
    g, x, a, b, out = _chain()
    changed = a.replace_all_uses_with(x)
    assert changed == [b] and b.args == (x,) and not a.users
    b.replace_input_with(x, a)
    assert b.args == (a,)
    users = x.replace_all_uses_with(a, delete_user_cb=lambda n: n is not a)
    assert users == []


def test_prepend_and_append_move_nodes():
    g, x, a, b, out = _chain()
    with g.inserting_before(out):
        c = g.call_function(ember.tanh, (x,))
    assert list(g.nodes) == [x, a, b, c, out]
    a.prepend(c)
    assert list(g.nodes) == [x, c, a, b, out]
    b.append(c)
    assert list(g.nodes) == [x, a, b, c, out]


def test_inserting_after_puts_each_new_node_right_after():
    g, x, a, b, out = _chain()
    with g.inserting_after(x):
        first = g.call_function(ember.sin, (x,))
        second = g.call_function(ember.cos, (x,))
    assert list(g.nodes)[:3] == [x, second, first]


def test_erase_node_and_iteration_while_erasing():
    g, x, a, b, out = _chain()
    with pytest.raises(RuntimeError, match="still had 1 users"):
        g.erase_node(a)
    b.replace_all_uses_with(a)
    seen = []
    for n in g.nodes:
        seen.append(n.name)
        if n is b:
            g.erase_node(b)
    assert seen == ["x", "relu", "neg", "output"]
    assert list(g.nodes) == [x, a, out]


def test_eliminate_dead_code_keeps_impure():
    g = Graph()
    x = g.placeholder("x")
    g.call_function(ember.relu, (x,))
    g.call_method("add_", (x, 1))
    g.output(x)
    assert g.eliminate_dead_code()
    assert [n.op + ":" + str(n.target) for n in g.nodes] == [
        "placeholder:x", "call_method:add_", "output:output"]


def test_lint_catches_use_before_definition_and_foreign_nodes():
    g, x, a, b, out = _chain()
    x.prepend(a)
    with pytest.raises(RuntimeError, match="used before it has been defined"):
        g.lint()
    other, ox, *_ = _chain()
    g2, y, *_ = _chain()
    g2.call_function(ember.relu, (ox,))
    with pytest.raises(RuntimeError, match="does not belong to this Graph"):
        g2.lint()


def test_lint_checks_targets_of_owning_module():
    g = Graph()
    x = g.placeholder("x")
    g.output(g.call_module("missing", (x,)))
    gm = GraphModule({"missing": ember.nn.ReLU()}, g)
    gm.graph.lint()
    del gm.missing
    with pytest.raises(RuntimeError, match="nonexistent attribute"):
        gm.graph.lint()


def test_node_copy_graph_copy_and_deepcopy():
    g, x, a, b, out = _chain()
    g2 = Graph()
    val_map = {}
    rv = g2.graph_copy(g, val_map)
    assert rv is val_map[b] and val_map[a].target is ember.relu
    g2.output(rv)
    assert str(g2) == str(g)
    g3 = copy.deepcopy(g)
    assert str(g3) == str(g) and next(iter(g3.nodes)) is not x


def test_find_nodes_and_output_node():
    g, x, a, b, out = _chain()
    assert g.find_nodes(op="call_function", target=ember.relu) == [a]
    assert g.find_nodes(op="placeholder") == [x]
    assert g.output_node() is out


def test_format_node_and_str():
    g, x, a, b, out = _chain()
    assert a.format_node() == ("%relu : [num_users=1] = call_function[target=torch.relu]"
                               "(args = (%x,), kwargs = {})")
    assert str(g).splitlines()[0] == "graph():"
    assert str(g).splitlines()[-1] == "    return neg"


def test_map_arg_keeps_structure():
    g, x, a, b, out = _chain()
    arg = (x, [a, 1], {"k": b}, slice(x, None))
    mapped = map_arg(arg, lambda n: n.name)
    assert mapped == ("x", ["relu", 1], {"k": "neg"}, slice("x", None))


def test_node_rejects_bad_targets():
    g = Graph()
    with pytest.raises(ValueError):
        g.create_node("call_function", "relu")
    with pytest.raises(ValueError):
        g.create_node("call_module", ember.relu)
    assert isinstance(g.placeholder("x"), Node)


def test_print_tabular_without_tabulate(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tabulate", None)  # makes the import fail
    g, *_ = _chain()
    with pytest.raises(ImportError):
        g.print_tabular()
    assert "pip install tabulate" in capsys.readouterr().out


def test_print_tabular_rows_as_torch(monkeypatch, capsys):
    seen = {}

    def tabulate(rows, headers):
        seen.update(rows=rows, headers=headers)
        return "TABLE"
    monkeypatch.setitem(sys.modules, "tabulate", types.SimpleNamespace(tabulate=tabulate))
    g, x, a, b, out = _chain()
    g.print_tabular()
    assert capsys.readouterr().out == "TABLE\n"
    assert seen["headers"] == ["opcode", "name", "target", "args", "kwargs"]
    assert seen["rows"][1] == ["call_function", "relu", ember.relu, (x,), {}]


def test_args_containers_are_immutable():
    from ember.fx.immutable_collections import immutable_dict, immutable_list
    g = Graph()
    x = g.placeholder("x")
    cat = g.call_function(ember.cat, ([x, x],), {"dim": 0})
    assert isinstance(cat.args[0], immutable_list) and isinstance(cat.kwargs, immutable_dict)
    with pytest.raises(NotImplementedError, match="does not support mutation"):
        cat.args[0].append(x)
    with pytest.raises(NotImplementedError, match="does not support mutation"):
        cat.kwargs["dim"] = 1
    cat.args = ([x],)
    assert cat.args[0] == [x] and hash(cat.args[0]) == hash((x,))
