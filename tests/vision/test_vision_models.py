"""ember.vision.models (LeNet-5, ResNet) and ember.vision.utils (make_grid, save_image)."""
import numpy as np
import pytest

import ember
from ember.vision import models, utils


def test_lenet5_layout_and_shapes():
    net = models.LeNet5()
    keys = list(net.state_dict())
    assert keys == ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "fc1.weight",
                    "fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias"]
    assert net.conv1.weight.shape == (6, 1, 5, 5) and net.fc1.weight.shape == (120, 400)
    assert net(ember.randn(2, 1, 32, 32)).shape == (2, 10)
    assert models.lenet5(padding=2)(ember.randn(3, 1, 28, 28)).shape == (3, 10)
    with pytest.raises(RuntimeError):
        net(ember.randn(1, 1, 28, 28))  # unpadded 28x28 gives 16x4x4, not 400 features


def test_lenet5_gradients_reach_every_parameter():
    net = models.LeNet5(padding=2)
    net(ember.randn(2, 1, 28, 28)).sum().backward()
    assert all(p.grad is not None and float(p.grad.abs().sum().item()) > 0
               for p in net.parameters())


def test_resnet18_state_dict_keys_match_torchvision():
    net = models.resnet18(num_classes=7)
    sd = net.state_dict()
    assert len(sd) == 122  # torchvision's resnet18 has 122 entries
    for key in ("conv1.weight", "bn1.running_mean", "bn1.num_batches_tracked",
                "layer1.0.conv1.weight", "layer1.1.bn2.bias", "layer2.0.downsample.0.weight",
                "layer2.0.downsample.1.running_var", "layer4.1.conv2.weight", "fc.weight",
                "fc.bias"):
        assert key in sd, key
    assert "layer1.0.downsample.0.weight" not in sd
    assert sd["fc.weight"].shape == (7, 512)
    assert sd["layer3.0.conv1.weight"].shape == (256, 128, 3, 3)
    with pytest.raises(KeyError):  # not a ResNet18_Weights member (the real ones download)
        models.resnet18(weights="IMAGENET1K_V2")


def test_resnet18_forward_small_input():
    net = models.resnet18(num_classes=3).eval()
    with ember.no_grad():
        out = net(ember.randn(1, 3, 32, 32))
    assert out.shape == (1, 3) and np.isfinite(out.numpy()).all()


def test_resnet18_parameter_count_matches_torchvision():
    net = models.resnet18()
    assert sum(p.numel() for p in net.parameters()) == 11689512  # torchvision's resnet18


def test_make_grid_layout():
    imgs = ember.arange(5 * 3 * 2 * 2, dtype=ember.float32).reshape(5, 3, 2, 2)
    grid = utils.make_grid(imgs, nrow=3, padding=1, pad_value=-1)
    assert grid.shape == (3, 2 * 3 + 1, 3 * 3 + 1)
    g = grid.numpy()
    np.testing.assert_array_equal(g[:, 1:3, 1:3], imgs.numpy()[0])
    np.testing.assert_array_equal(g[:, 4:6, 4:6], imgs.numpy()[4])
    assert (g[:, 0, :] == -1).all() and (g[:, 4:6, 7:9] == -1).all()  # the empty sixth cell
    one = utils.make_grid(ember.ones(1, 1, 4, 4))
    assert one.shape == (3, 4, 4)  # a single gray image becomes 3 channels, no padding
    norm = utils.make_grid(ember.tensor([[[[0.0, 2.0]]], [[[4.0, 8.0]]]]), normalize=True)
    assert float(norm.numpy().max()) == 1.0 and float(norm.numpy()[:, 2:3, 2:4].min()) == 0.0


def test_save_image_round_trip(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    x = ember.rand(2, 3, 4, 5)
    path = tmp_path / "grid.png"
    utils.save_image(x, str(path), nrow=2, padding=0)
    back = np.asarray(Image.open(path))
    assert back.shape == (4, 10, 3)
    ref = np.clip(x.numpy()[1].transpose(1, 2, 0) * 255 + 0.5, 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(back[:, 5:], ref)


@pytest.mark.parametrize("block", ["resnet18", "resnet50"])
def test_resnet_blocks_run_the_shortcut_last_and_sum_in_place(block):
    # torchvision's order: hooks see the downsample after the main path, and the sum is
    # ``out += shortcut`` (a graph trace records an add_); gradients still reach the input
    net = getattr(models, block)(num_classes=2)
    first = net.layer2[0]
    calls = []
    for name, module in first.named_children():
        module.register_forward_hook(lambda m, args, out, name=name: calls.append(name))
    x = ember.randn(1, first.conv1.in_channels, 8, 8, requires_grad=True)
    first(x).sum().backward()
    assert calls[-2:] == ["downsample", "relu"] and calls.index("downsample") > calls.index(
        "bn2")
    assert x.grad is not None and np.isfinite(x.grad.numpy()).all()
    graph, _ = ember.jit._get_trace_graph(first, x)
    kinds = [node.kind() for node in graph.nodes()]
    assert "aten::add_" in kinds and "aten::add" not in kinds
