"""``ember.vision.models.feature_extraction`` (torchvision's): node names by module path,
extracted activations equal to what forward hooks see on the original model, train/eval
graphs, tracer options and errors."""
import warnings

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.vision.models import mobilenet_v3_small, resnet18
from ember.vision.models.feature_extraction import (
    create_feature_extractor,
    get_graph_node_names,
)


def hooked_outputs(model, names, x):
    """The outputs of the named submodules in a plain forward (the oracle), copied as they
    come out: a residual block then adds its shortcut into its last norm's output in place,
    as torchvision's do."""
    seen = {}
    handles = [model.get_submodule(n).register_forward_hook(
        lambda m, args, out, n=n: seen.__setitem__(n, out.clone())) for n in names]
    model(x)
    for h in handles:
        h.remove()
    return seen


def test_resnet_node_names_follow_module_paths():
    train_nodes, eval_nodes = get_graph_node_names(resnet18())
    assert train_nodes == eval_nodes
    # the names torchvision documents for resnet18
    assert train_nodes[:12] == ["x", "conv1", "bn1", "relu", "maxpool", "layer1.0.conv1",
                                "layer1.0.bn1", "layer1.0.relu", "layer1.0.conv2",
                                "layer1.0.bn2", "layer1.0.add", "layer1.0.relu_1"]
    assert "layer2.0.downsample.0" in train_nodes
    assert train_nodes[-3:] == ["avgpool", "flatten", "fc"]


def test_extracted_features_equal_the_modules_outputs():
    ember.manual_seed(0)
    model = resnet18(num_classes=10).eval()
    x = ember.randn(2, 3, 32, 32)
    extractor = create_feature_extractor(model, {"layer1": "feat1", "layer3.1.bn2": "bn",
                                                 "fc": "logits"})
    extractor.eval()
    out = extractor(x)
    assert list(out) == ["feat1", "bn", "logits"]
    expected = hooked_outputs(model, ["layer1", "layer3.1.bn2", "fc"], x)
    # "layer1" names the last node inside layer1: its output
    for name, module in (("feat1", "layer1"), ("bn", "layer3.1.bn2"), ("logits", "fc")):
        np.testing.assert_array_equal(out[name].detach().numpy(),
                                      expected[module].detach().numpy())


def test_unused_modules_are_dropped_and_parameters_shared():
    model = resnet18(num_classes=10)
    extractor = create_feature_extractor(model, ["layer1"])
    names = {n for n, _ in extractor.named_modules()}
    assert "layer1.1.conv2" in names and "fc" not in names and "layer4" not in names
    extractor(ember.randn(1, 3, 32, 32))["layer1"].sum().backward()
    assert model.conv1.weight.grad is not None and model.layer2[0].conv1.weight.grad is None


def test_vision_ops_layers_stay_whole():
    names, _ = get_graph_node_names(mobilenet_v3_small())
    # Conv2dNormActivation and SqueezeExcitation are ember.vision.ops layers: leaf nodes
    assert names[:3] == ["x", "features.0", "features.1.block.0"]
    assert not any(n.startswith("features.0.") for n in names)
    model = mobilenet_v3_small().eval()
    x = ember.randn(1, 3, 64, 64)
    out = create_feature_extractor(model, ["features.3.block.1", "features.6"]).eval()(x)
    expected = hooked_outputs(model, ["features.3.block.1", "features.6"], x)
    for name in out:
        np.testing.assert_array_equal(out[name].detach().numpy(), expected[name].detach().numpy())


class TrainOnlyNoise(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.head = nn.Linear(2, 3)

    def forward(self, x):
        x = self.conv(x)
        if self.training:
            x = x * 2
        return self.head(x.mean((2, 3)))


def test_train_and_eval_graphs():
    model = TrainOnlyNoise()
    with pytest.warns(UserWarning, match="eval mode are a subsequence"):
        train_nodes, eval_nodes = get_graph_node_names(model)
    assert train_nodes == ["x", "conv", "mul", "mean", "head"]
    assert eval_nodes == ["x", "conv", "mean", "head"]
    extractor = create_feature_extractor(model, train_return_nodes=["mul", "head"],
                                         eval_return_nodes=["conv", "head"],
                                         suppress_diff_warning=True)
    x = ember.randn(1, 1, 5, 5)
    conv = model.conv(x)
    np.testing.assert_allclose(extractor(x)["mul"].detach().numpy(), (conv * 2).detach().numpy())
    extractor.eval()
    assert sorted(extractor(x)) == ["conv", "head"]
    np.testing.assert_array_equal(extractor(x)["conv"].detach().numpy(), conv.detach().numpy())
    assert model.training  # the model's mode is restored


def leaf_function(x):
    return int(x)  # would fail on a Proxy: kept as one call by autowrap_functions


class LeafModule(nn.Module):
    def forward(self, x):
        int(x.shape[0])
        return F.relu(x + 4)


class WithLeaves(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 1, 3)
        self.leaf_module = LeafModule()

    def forward(self, x):
        leaf_function(x.shape[0])
        return self.leaf_module(self.conv(x))


def test_tracer_kwargs_leaf_modules_and_functions():
    model = WithLeaves()
    extractor = create_feature_extractor(
        model, return_nodes=["leaf_module"],
        tracer_kwargs={"leaf_modules": [LeafModule], "autowrap_functions": [leaf_function]})
    x = ember.randn(2, 3, 6, 6)
    np.testing.assert_array_equal(extractor(x)["leaf_module"].detach().numpy(),
                                  model(x).detach().numpy())


def test_errors():
    model = resnet18()
    with pytest.raises(ValueError, match="node: 'layer9' is not present in model"):
        create_feature_extractor(model, ["layer9"])
    with pytest.raises(AssertionError, match="should be specified"):
        create_feature_extractor(model)
    with pytest.raises(AssertionError, match="both should be specified"):
        create_feature_extractor(model, train_return_nodes=["layer1"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        create_feature_extractor(model, ["layer1"])  # same graphs: no warning
