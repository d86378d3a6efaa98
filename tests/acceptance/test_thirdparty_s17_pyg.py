"""PyTorch Geometric on ember, where torch_geometric is installed (it is not a test dependency:
.ci/run installs it with ``pip install --no-deps``, torch being ember). In a fresh interpreter
with ``torch`` resolved to ember, a seeded script trains GCN, GAT (two heads), GraphSAGE and GIN
node classifiers on Zachary's karate club (its data ships in code), a pooled graph classifier
over a DataLoader of small ring graphs, runs PyG's graph utilities and transforms, layers on
sparse COO / CSR adjacency matrices, and a MessagePassing subclass with its own message and
aggregate. The numbers are checked here against NumPy (each layer's formula, scatter as a
group-by, batching as concatenation) or for consistency (losses fall, masks partition);
tests/conformance/test_thirdparty_s17_pyg_vs_torch.py compares every number with real
PyTorch's."""
from __future__ import annotations

import functools
import importlib.util
import textwrap

import numpy as np
import pytest

from tests.acceptance import script_report

if importlib.util.find_spec("torch_geometric") is None:  # (importing it would import torch)
    pytest.skip("torch_geometric is not installed", allow_module_level=True)

SCRIPT = script_report.OUT_SOURCE + textwrap.dedent('''
    import json
    import torch
    import torch.nn.functional as F
    import torch_geometric.transforms as T
    from torch_geometric import utils as U
    from torch_geometric.data import Batch, Data
    from torch_geometric.datasets import FakeDataset, KarateClub
    from torch_geometric.loader import DataLoader
    from torch_geometric.nn import (GATConv, GCNConv, GINConv, MessagePassing, SAGEConv,
                                    global_add_pool, global_mean_pool)




    torch.manual_seed(0)
    data = KarateClub()[0]
    report = {"karate": out({"x": data.x, "y": data.y, "edge_index": data.edge_index,
                             "train_mask": data.train_mask})}


    def mlp(inputs, outputs):
        return torch.nn.Sequential(torch.nn.Linear(inputs, outputs), torch.nn.ReLU(),
                                   torch.nn.Linear(outputs, outputs))


    class Net(torch.nn.Module):
        def __init__(self, kind, hidden=8, classes=4, features=34):
            super().__init__()
            if kind == "gcn":
                self.conv1, self.conv2 = GCNConv(features, hidden), GCNConv(hidden, classes)
            elif kind == "gat":
                self.conv1 = GATConv(features, hidden // 2, heads=2)
                self.conv2 = GATConv(hidden, classes, heads=2, concat=False)
            elif kind == "sage":
                self.conv1, self.conv2 = SAGEConv(features, hidden), SAGEConv(hidden, classes)
            else:
                self.conv1, self.conv2 = GINConv(mlp(features, hidden)), GINConv(mlp(hidden,
                                                                                       classes))

        def forward(self, x, edge_index):
            return self.conv2(F.relu(self.conv1(x, edge_index)), edge_index)


    report["node"] = {}
    for kind in ["gcn", "gat", "sage", "gin"]:
        torch.manual_seed(1)
        model = Net(kind)
        optimizer = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)
        losses = []
        for epoch in range(15):
            optimizer.zero_grad()
            logits = model(data.x, data.edge_index)
            loss = F.cross_entropy(logits[data.train_mask], data.y[data.train_mask])
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        model.eval()
        with torch.no_grad():
            pred = model(data.x, data.edge_index).argmax(-1)
        accuracy = (pred == data.y).float().mean().item()
        report["node"][kind] = {"losses": losses, "accuracy": accuracy, "pred": pred.tolist()}

    # one layer of each kind on fixed inputs, with its parameters, for a NumPy check
    torch.manual_seed(2)
    x = torch.randn(34, 5)
    layers = {"gcn": GCNConv(5, 3), "sage": SAGEConv(5, 3), "gat": GATConv(5, 3, heads=2),
              "gin": GINConv(torch.nn.Linear(5, 3), eps=0.5, train_eps=True)}
    report["layers"] = {"x": out(x)}
    for name, layer in layers.items():
        y = layer(x, data.edge_index)
        y.sum().backward()
        report["layers"][name] = {"out": out(y), "params": {k: out(p.detach()) for k, p in
                                                            layer.named_parameters()},
                                  "grads": {k: out(p.grad) for k, p in layer.named_parameters()}}

    # graph classification: a list of small graphs, batched
    torch.manual_seed(3)
    graphs = []
    for i in range(12):
        n = 3 + i % 4
        src = torch.arange(n)
        ring = torch.stack([src, (src + 1) % n])
        graphs.append(Data(x=torch.randn(n, 4), edge_index=U.to_undirected(ring),
                           y=torch.tensor([i % 2])))
    batch = Batch.from_data_list(graphs[:3])
    report["batch"] = out({"x": batch.x, "edge_index": batch.edge_index, "batch": batch.batch,
                           "ptr": batch.ptr, "num_graphs": batch.num_graphs,
                           "back": [[g.x, g.edge_index] for g in batch.to_data_list()],
                           "graphs": [[g.x, g.edge_index] for g in graphs[:3]],
                           "mean_pool": global_mean_pool(batch.x, batch.batch),
                           "add_pool": global_add_pool(batch.x, batch.batch)})


    class GraphNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = GCNConv(4, 8)
            self.head = torch.nn.Linear(16, 2)

        def forward(self, b):
            h = F.relu(self.conv(b.x, b.edge_index))
            return self.head(torch.cat([global_mean_pool(h, b.batch),
                                        global_add_pool(h, b.batch)], -1))


    torch.manual_seed(4)
    model = GraphNet()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    loader = DataLoader(graphs, batch_size=4, shuffle=False)
    epoch_losses = []
    for epoch in range(5):
        total = 0.0
        for b in loader:
            optimizer.zero_grad()
            loss = F.cross_entropy(model(b), b.y)
            loss.backward()
            optimizer.step()
            total += loss.item() * b.num_graphs
        epoch_losses.append(total / len(graphs))
    with torch.no_grad():
        correct = sum(int((model(b).argmax(-1) == b.y).sum()) for b in loader)
    report["graph"] = {"losses": epoch_losses, "accuracy": correct / len(graphs),
                       "batch_sizes": [b.num_graphs for b in loader]}

    # utilities
    ei = torch.tensor([[0, 1, 1, 2, 3, 4], [1, 2, 0, 3, 4, 2]])
    values = torch.tensor([1.0, -2.0, 3.0, 0.5, 4.0, -1.0, 2.0])
    index = torch.tensor([0, 2, 0, 1, 2, 2, 3])
    src = torch.randn(7, 3)
    sub_ei, sub_attr = U.subgraph(torch.tensor([1, 2, 3]), ei, edge_attr=torch.arange(6.0),
                                  relabel_nodes=True)
    subset, hop_ei, mapping, edge_mask = U.k_hop_subgraph(3, 2, ei, relabel_nodes=True)
    kept, edge_kept = U.dropout_edge(data.edge_index, p=0.5)
    negative = U.negative_sampling(data.edge_index, num_nodes=34, num_neg_samples=20)
    report["utils"] = out({
        "ei": ei, "values": values, "index": index, "src": src,
        "to_undirected": U.to_undirected(ei),
        "add_self_loops": U.add_self_loops(ei, num_nodes=5)[0],
        "remove_self_loops": U.remove_self_loops(U.add_self_loops(ei)[0])[0],
        "degree_out": U.degree(ei[0], num_nodes=5), "degree_in": U.degree(ei[1], 5),
        "softmax": U.softmax(values, index), "softmax_sum": U.scatter(U.softmax(values, index),
                                                                      index, reduce="sum"),
        "scatter_sum": U.scatter(src, index, dim=0, reduce="sum"),
        "scatter_mean": U.scatter(src, index, dim=0, reduce="mean"),
        "scatter_max": U.scatter(src, index, dim=0, reduce="max"),
        "scatter_min": U.scatter(src, index, dim=0, dim_size=5, reduce="min"),
        "subgraph": [sub_ei, sub_attr],
        "k_hop": [subset, hop_ei, mapping, edge_mask],
        "to_dense_adj": U.to_dense_adj(ei)[0],
        "to_dense_adj_batched": U.to_dense_adj(batch.edge_index, batch.batch),
        "is_undirected": [U.is_undirected(ei), U.is_undirected(U.to_undirected(ei))],
        "coalesce": U.coalesce(torch.tensor([[2, 0, 2, 1], [1, 1, 1, 0]])),
        "dropout_edge_shapes": [list(kept.shape), list(edge_kept.shape),
                                int(edge_kept.sum()) == kept.size(1)],
        "negative_shape": list(negative.shape),
        "negative_valid": bool(negative.max() < 34),
    })

    # sparse adjacency (karate is undirected, so adj_t = adj): the same layers on COO and CSR
    adj_coo = U.to_torch_coo_tensor(data.edge_index, size=34)
    adj_csr = U.to_torch_csr_tensor(data.edge_index, size=34)
    back_ei, back_w = U.to_edge_index(adj_csr)
    sparse_layers = {}
    for name in ["gcn", "sage"]:
        layer = layers[name]
        dense_out = layer(x, data.edge_index)
        sparse_layers[name] = [float((layer(x, adj_csr) - dense_out).abs().max()),
                               float((layer(x, adj_coo) - dense_out).abs().max())]
    report["sparse"] = out({"coo_indices": adj_coo.coalesce().indices(),
                            "coo_values": adj_coo.coalesce().values(),
                            "csr": [adj_csr.crow_indices(), adj_csr.col_indices(),
                                    adj_csr.values()],
                            "back": [back_ei, back_w], "layers": sparse_layers,
                            "spmm": U.spmm(adj_csr, x, reduce="sum"),
                            "spmm_mean": U.spmm(adj_csr, x, reduce="mean")})

    normalized = T.NormalizeFeatures()(Data(x=torch.tensor([[1.0, 3.0], [0.0, 0.0], [2.0, 2.0]])))
    torch.manual_seed(5)
    split = T.RandomNodeSplit(num_val=0.2, num_test=0.3)(Data(x=torch.randn(20, 2),
                                                              y=torch.arange(20) % 3,
                                                              num_nodes=20))
    report["transforms"] = out({
        "normalized": normalized.x,
        "split_sizes": [int(split.train_mask.sum()), int(split.val_mask.sum()),
                        int(split.test_mask.sum())],
        "split_disjoint": bool(((split.train_mask.int() + split.val_mask.int()
                                 + split.test_mask.int()) == 1).all()),
        "split_masks": [split.train_mask, split.val_mask, split.test_mask]})

    fake = FakeDataset(num_graphs=3, avg_num_nodes=8, num_channels=4, num_classes=2)
    report["fake"] = {"num_graphs": len(fake), "channels": fake.num_features,
                      "valid": all(int(g.edge_index.max()) < g.num_nodes and g.x.size(1) == 4
                                   for g in fake)}


    class EdgeWeightedMean(MessagePassing):
        """x_i' = W x_i + mean_j sigmoid(w . [x_i, x_j]) * x_j, the aggregation written out."""

        def __init__(self, channels):
            super().__init__(aggr=None)
            self.lin = torch.nn.Linear(channels, channels)
            self.gate = torch.nn.Linear(2 * channels, 1)

        def forward(self, x, edge_index):
            return self.lin(x) + self.propagate(edge_index, x=x)

        def message(self, x_i, x_j):
            return torch.sigmoid(self.gate(torch.cat([x_i, x_j], -1))) * x_j

        def aggregate(self, inputs, index, dim_size=None):
            total = torch.zeros(dim_size, inputs.size(-1)).index_add_(0, index, inputs)
            count = torch.zeros(dim_size).scatter_add_(0, index, torch.ones_like(index,
                                                                                  dtype=torch.float))
            return total / count.clamp(min=1).unsqueeze(-1)


    torch.manual_seed(6)
    custom = EdgeWeightedMean(3)
    cx = torch.randn(5, 3, requires_grad=True)
    cy = custom(cx, ei)
    (cy ** 2).sum().backward()
    report["custom"] = out({"x": cx.detach(), "out": cy.detach(), "x_grad": cx.grad,
                            "params": {k: p.detach() for k, p in custom.named_parameters()},
                            "grads": {k: p.grad for k, p in custom.named_parameters()}})
    print(json.dumps(report))
''')


# the script's report, run under ``command_prefix`` (``-m ember.compat``: on ember)
run_script = functools.partial(script_report.run_script, SCRIPT, "pyg_script.py")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    return run_script("-m", "ember.compat", tmp_path=tmp_path_factory.mktemp("pyg"))


def _edges(report) -> tuple[np.ndarray, np.ndarray]:
    """The karate club's (source, target) arrays."""
    source, target = np.array(report["karate"]["edge_index"])
    return source, target


def _group_by(values: np.ndarray, index: np.ndarray, size: int, reduce) -> np.ndarray:
    """``reduce`` over the rows of ``values`` sharing an index (0 where none does)."""
    out = np.zeros((size,) + values.shape[1:])
    for group in range(size):
        if (index == group).any():
            out[group] = reduce(values[index == group], axis=0)
    return out


def _dense(source, target, n: int) -> np.ndarray:
    """The adjacency matrix ``a[target, source]``: row i gathers the messages sent to i."""
    a = np.zeros((n, n))
    np.add.at(a, (target, source), 1.0)
    return a


def _close(got, expected, tol: float = 1e-5) -> None:
    np.testing.assert_allclose(np.array(got, np.float64), expected, rtol=tol, atol=tol)


def test_node_classifiers_train(report):
    y = np.array(report["karate"]["y"])
    assert sorted(report["node"]) == ["gat", "gcn", "gin", "sage"]
    for kind, run in report["node"].items():
        losses = run["losses"]
        assert len(losses) == 15 and losses[-1] < losses[0] - 0.1, kind
        assert np.isclose(run["accuracy"], (np.array(run["pred"]) == y).mean()), kind


def test_layers_match_their_formulas(report):
    layers, (source, target) = report["layers"], _edges(report)
    x, n = np.array(report["layers"]["x"], np.float64), 34
    a = _dense(source, target, n)
    # GCN: D^-1/2 (A + I) D^-1/2 X W^T + b
    gcn = {k: np.array(v) for k, v in layers["gcn"]["params"].items()}
    a_hat = a + np.eye(n)
    d = a_hat.sum(1) ** -0.5
    propagated = d[:, None] * a_hat * d[None, :] @ x
    _close(layers["gcn"]["out"], propagated @ gcn["lin.weight"].T + gcn["bias"])
    _close(layers["gcn"]["grads"]["lin.weight"], np.tile(propagated.sum(0), (3, 1)), 1e-4)
    _close(layers["gcn"]["grads"]["bias"], np.full(3, n))
    # GraphSAGE: W_l mean_j x_j + b_l + W_r x_i
    sage = {k: np.array(v) for k, v in layers["sage"]["params"].items()}
    mean = a @ x / np.maximum(a.sum(1, keepdims=True), 1)
    _close(layers["sage"]["out"], mean @ sage["lin_l.weight"].T + sage["lin_l.bias"]
           + x @ sage["lin_r.weight"].T)
    # GIN: nn((1 + eps) x_i + sum_j x_j), d/d eps of the sum is sum(x W^T)
    gin = {k: np.array(v) for k, v in layers["gin"]["params"].items()}
    _close(layers["gin"]["out"], ((1 + gin["eps"]) * x + a @ x) @ gin["nn.weight"].T
           + gin["nn.bias"])
    _close(layers["gin"]["grads"]["eps"], [(x @ gin["nn.weight"].T).sum()], 1e-4)
    # GAT, two heads concatenated: attention softmax over each node's in-edges and itself
    gat = {k: np.array(v) for k, v in layers["gat"]["params"].items()}
    h = (x @ gat["lin.weight"].T).reshape(n, 2, 3)
    score_src, score_dst = (h * gat["att_src"]).sum(-1), (h * gat["att_dst"]).sum(-1)
    logits = score_src[None, :, :] + score_dst[:, None, :]  # [target, source, head]
    logits = np.where(logits > 0, logits, 0.2 * logits)
    linked = (a_hat > 0)[:, :, None]
    weights = np.where(linked, np.exp(logits - logits.max(1, keepdims=True)), 0.0)
    alpha = weights / weights.sum(1, keepdims=True)
    expected = np.einsum("tsh,shc->thc", alpha, h).reshape(n, 6) + gat["bias"]
    _close(layers["gat"]["out"], expected)


def test_batching_and_pooling_concatenate_the_graphs(report):
    batch = report["batch"]
    xs = [np.array(g[0]) for g in batch["graphs"]]
    sizes = [len(g) for g in xs]
    offsets = np.cumsum([0] + sizes)
    _close(batch["x"], np.concatenate(xs))
    expected_edges = np.concatenate([np.array(g[1]) + o for g, o in zip(batch["graphs"],
                                                                        offsets)], axis=1)
    assert batch["edge_index"] == expected_edges.tolist()
    assert batch["batch"] == np.repeat(np.arange(3), sizes).tolist()
    assert batch["ptr"] == offsets.tolist() and batch["num_graphs"] == 3
    assert batch["back"] == batch["graphs"]
    groups, x = np.array(batch["batch"]), np.array(batch["x"], np.float64)
    _close(batch["mean_pool"], _group_by(x, groups, 3, np.mean))
    _close(batch["add_pool"], _group_by(x, groups, 3, np.sum))
    graph = report["graph"]
    assert graph["batch_sizes"] == [4, 4, 4] and graph["losses"][-1] < graph["losses"][0]
    assert all(a > b for a, b in zip(graph["losses"], graph["losses"][1:]))
    assert graph["accuracy"] in [k / 12 for k in range(13)]


def test_utilities_match_numpy(report):
    u = report["utils"]
    ei, values, index = np.array(u["ei"]), np.array(u["values"]), np.array(u["index"])
    src = np.array(u["src"], np.float64)
    both = {tuple(e) for e in ei.T} | {tuple(e) for e in ei[::-1].T}
    assert u["to_undirected"] == np.array(sorted(both)).T.tolist()
    loops = np.arange(5)
    assert u["add_self_loops"] == np.concatenate([ei, [loops, loops]], 1).tolist()
    assert u["remove_self_loops"] == ei.tolist()
    _close(u["degree_out"], np.bincount(ei[0], minlength=5))
    _close(u["degree_in"], np.bincount(ei[1], minlength=5))
    exp = np.exp(values - _group_by(values, index, 4, np.max)[index])
    _close(u["softmax"], exp / _group_by(exp, index, 4, np.sum)[index])
    _close(u["softmax_sum"], np.ones(4))
    _close(u["scatter_sum"], _group_by(src, index, 4, np.sum))
    _close(u["scatter_mean"], _group_by(src, index, 4, np.mean))
    _close(u["scatter_max"], _group_by(src, index, 4, np.max))
    _close(u["scatter_min"], _group_by(src, index, 5, np.min))
    assert u["subgraph"] == [[[0, 1], [1, 2]], [1.0, 3.0]]  # edges 1->2 and 2->3, relabelled
    reach = {3}  # the nodes with a path of at most two edges into node 3
    for _ in range(2):
        reach |= {int(s) for s, t in ei.T if t in reach}
    subset, hop_edges, mapping, edge_mask = u["k_hop"]
    inside = np.isin(ei, sorted(reach)).all(0)
    relabel = {node: i for i, node in enumerate(sorted(reach))}
    assert subset == sorted(reach) and edge_mask == inside.tolist()
    assert hop_edges == np.vectorize(relabel.get)(ei[:, inside]).tolist()
    assert mapping == [relabel[3]]
    _close(u["to_dense_adj"], _dense(ei[1], ei[0], 5))
    per_graph = np.array(u["to_dense_adj_batched"])
    assert per_graph.shape == (3, 5, 5)
    assert u["is_undirected"] == [False, True]
    assert u["coalesce"] == [[0, 1, 2], [1, 0, 1]]
    assert u["dropout_edge_shapes"][0][0] == 2 and u["dropout_edge_shapes"][1:] == [[156], True]
    assert u["negative_shape"][0] == 2 and 0 < u["negative_shape"][1] <= 20
    assert u["negative_valid"]


def test_transforms_and_datasets(report):
    t = report["transforms"]
    x = np.array([[1.0, 3.0], [0.0, 0.0], [2.0, 2.0]])
    _close(t["normalized"], x / np.maximum(x.sum(1, keepdims=True), 1))
    assert t["split_sizes"] == [10, 4, 6] and t["split_disjoint"]
    assert [sum(mask) for mask in t["split_masks"]] == t["split_sizes"]
    assert report["fake"] == {"num_graphs": 3, "channels": 4, "valid": True}


def test_sparse_adjacency_matches_edge_index(report):
    sparse, (source, target) = report["sparse"], _edges(report)
    order = np.lexsort((target, source))
    assert sparse["coo_indices"] == [source[order].tolist(), target[order].tolist()]
    _close(sparse["coo_values"], np.ones(len(source)))
    crow, col, csr_values = sparse["csr"]
    assert crow == np.concatenate([[0], np.cumsum(np.bincount(source, minlength=34))]).tolist()
    assert col == target[order].tolist()
    assert sparse["back"][0] == sparse["coo_indices"]
    for name, differences in sparse["layers"].items():
        assert max(differences) < 1e-5, name
    x = np.array(report["layers"]["x"], np.float64)
    a = _dense(target, source, 34)  # a[source, target]: the matrix to_torch_csr_tensor builds
    _close(sparse["spmm"], a @ x)
    _close(sparse["spmm_mean"], a @ x / np.maximum(a.sum(1, keepdims=True), 1))


def _custom_forward(params: dict, x: np.ndarray, ei: np.ndarray) -> np.ndarray:
    """The script's EdgeWeightedMean in float64 NumPy."""
    source, target = ei
    gate_in = np.concatenate([x[target], x[source]], 1)
    gate = 1 / (1 + np.exp(-(gate_in @ params["gate.weight"].T + params["gate.bias"])))
    total = np.zeros_like(x)
    np.add.at(total, target, gate * x[source])
    count = np.maximum(np.bincount(target, minlength=len(x)), 1)[:, None]
    return x @ params["lin.weight"].T + params["lin.bias"] + total / count


def test_custom_message_passing_and_its_gradients(report):
    custom, ei = report["custom"], np.array(report["utils"]["ei"])
    params = {k: np.array(v, np.float64) for k, v in custom["params"].items()}
    x = np.array(custom["x"], np.float64)
    out = _custom_forward(params, x, ei)
    _close(custom["out"], out)
    _close(custom["grads"]["lin.bias"], 2 * out.sum(0), 1e-4)
    step, numeric = 1e-6, np.zeros_like(x)  # d sum(out^2) / dx by central differences
    for i in np.ndindex(x.shape):
        shift = np.zeros_like(x)
        shift[i] = step
        numeric[i] = ((_custom_forward(params, x + shift, ei) ** 2).sum()
                      - (_custom_forward(params, x - shift, ei) ** 2).sum()) / (2 * step)
    _close(custom["x_grad"], numeric, 1e-4)
