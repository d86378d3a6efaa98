"""GoogLeNet and Inception v3 in ember.vision.models.

Oracles: torchvision's documented facts (each weight's ``num_params``, URL, preset and minimum
size, state_dict key names and shapes, ``print(model)`` of its modules, the builders' handling
of ``aux_logits`` and ``transform_input``), and the input re-normalisation's definition.
Nothing is downloaded: the hub's download function is replaced.
"""
import shutil
import warnings

import numpy as np
import pytest

import ember
from ember import hub, nn
from ember._tensor import Tensor
from ember.vision import models
from ember.vision.models._layers import BasicConv2d, imagenet_to_inception_input
from ember.vision.models.googlenet import Inception
from ember.vision.models.inception import (
    InceptionA,
    InceptionAux,
    InceptionB,
    InceptionC,
    InceptionD,
    InceptionE,
)


@pytest.fixture
def shapes_only(monkeypatch):
    """Skip the random fills of initialisation: counting parameters needs only shapes."""
    monkeypatch.setattr(Tensor, "uniform_", lambda self, *args, **kwargs: self)
    monkeypatch.setattr(nn.init, "trunc_normal_", lambda tensor, *args, **kwargs: tensor)


@pytest.fixture
def fake_download(tmp_path, monkeypatch):
    """The hub caches under tmp_path; "downloading" a URL copies the file registered for it
    and records the hash prefix the hub checks."""
    monkeypatch.setattr(hub, "_hub_dir", str(tmp_path / "hub"))
    served, fetched = {}, []

    def download(url, dst, hash_prefix=None, progress=True):
        fetched.append((url, hash_prefix))
        shutil.copyfile(served[url], dst)

    monkeypatch.setattr(hub, "download_url_to_file", download)
    return served, fetched


def _n_params(net) -> int:
    return sum(p.numel() for p in net.parameters())


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_parameter_counts_and_weights_records(shapes_only):
    g = models.GoogLeNet_Weights.DEFAULT
    assert g.url == "https://download.pytorch.org/models/googlenet-1378be20.pth"
    assert g.meta["num_params"] == 6624904 and g.meta["min_size"] == (15, 15)
    assert (g.transforms().crop_size, g.transforms().resize_size) == ([224], [256])
    # torchvision counts the released model: GoogLeNet without its auxiliary classifiers
    assert _n_params(models.googlenet(aux_logits=False)) == 6624904
    assert _n_params(models.googlenet()) == 13004888  # the two aux heads: 6379984 more
    i = models.Inception_V3_Weights.DEFAULT
    assert i.url == "https://download.pytorch.org/models/inception_v3_google-0cc3c7bd.pth"
    assert i.meta["num_params"] == 27161264 and i.meta["min_size"] == (75, 75)
    assert (i.transforms().crop_size, i.transforms().resize_size) == ([299], [342])
    assert _n_params(models.inception_v3()) == 27161264  # with its auxiliary classifier
    assert models.get_model_builder("googlenet") is models.googlenet
    assert models.get_model_weights("inception_v3") is models.Inception_V3_Weights


def test_default_initialisation_warns_as_torchvision_does():
    with pytest.warns(FutureWarning, match="GoogleNet"):
        models.GoogLeNet(aux_logits=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        models.GoogLeNet(aux_logits=False, init_weights=False)


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_state_dict_keys_and_shapes_match_torchvision(shapes_only):
    g = models.googlenet().state_dict()
    for key, shape in {
        "conv1.conv.weight": (64, 3, 7, 7), "conv1.bn.running_mean": (64,),
        "conv3.conv.weight": (192, 64, 3, 3),
        "inception3a.branch1.conv.weight": (64, 192, 1, 1),
        "inception3a.branch2.1.conv.weight": (128, 96, 3, 3),
        "inception3a.branch3.1.conv.weight": (32, 16, 3, 3),  # torchvision's 3x3 "5x5"
        "inception3a.branch4.1.conv.weight": (32, 192, 1, 1),
        "inception5b.branch1.bn.num_batches_tracked": (),
        "aux1.conv.conv.weight": (128, 512, 1, 1), "aux1.fc1.weight": (1024, 2048),
        "aux2.conv.conv.weight": (128, 528, 1, 1), "aux2.fc2.weight": (1000, 1024),
        "fc.weight": (1000, 1024),
    }.items():
        assert tuple(g[key].shape) == shape, key
    assert not any(k.startswith("aux") for k in models.googlenet(aux_logits=False).state_dict())
    i = models.inception_v3().state_dict()
    for key, shape in {
        "Conv2d_1a_3x3.conv.weight": (32, 3, 3, 3), "Conv2d_4a_3x3.conv.weight": (192, 80, 3, 3),
        "Mixed_5b.branch5x5_2.conv.weight": (64, 48, 5, 5),
        "Mixed_5b.branch_pool.conv.weight": (32, 192, 1, 1),
        "Mixed_6a.branch3x3.conv.weight": (384, 288, 3, 3),
        "Mixed_6b.branch7x7_2.conv.weight": (128, 128, 1, 7),
        "Mixed_6e.branch7x7dbl_5.conv.weight": (192, 192, 1, 7),
        "AuxLogits.conv0.conv.weight": (128, 768, 1, 1),
        "AuxLogits.conv1.conv.weight": (768, 128, 5, 5), "AuxLogits.fc.weight": (1000, 768),
        "Mixed_7a.branch7x7x3_4.conv.weight": (192, 192, 3, 3),
        "Mixed_7c.branch3x3dbl_3b.conv.weight": (384, 384, 3, 1),
        "Mixed_7c.branch_pool.bn.running_var": (192,), "fc.weight": (1000, 2048),
    }.items():
        assert tuple(i[key].shape) == shape, key


def _basic(cin, cout, k="(1, 1)", extra=""):
    return ["BasicConv2d(",
            f"  (conv): Conv2d({cin}, {cout}, kernel_size={k}, stride=(1, 1){extra}, bias=False)",
            f"  (bn): BatchNorm2d({cout}, eps=0.001, momentum=0.1, affine=True, bias=True, "
            "track_running_stats=True)",
            ")"]


def _indent(lines, prefix):
    """``lines`` of a child's repr as printed after ``prefix`` inside its parent."""
    pad = " " * (len(prefix) - len(prefix.lstrip()))
    return [prefix + lines[0]] + [pad + line for line in lines[1:]]


def test_print_layout():
    block = Inception(8, 2, 3, 4, 2, 5, 6)
    expected = ["Inception("]
    expected += _indent(_basic(8, 2), "  (branch1): ")
    expected += ["  (branch2): Sequential("]
    expected += ["  " + line for line in _indent(_basic(8, 3), "  (0): ")]
    expected += ["  " + line for line in _indent(_basic(3, 4, "(3, 3)", ", padding=(1, 1)"),
                                                 "  (1): ")]
    expected += ["  )", "  (branch3): Sequential("]
    expected += ["  " + line for line in _indent(_basic(8, 2), "  (0): ")]
    expected += ["  " + line for line in _indent(_basic(2, 5, "(3, 3)", ", padding=(1, 1)"),
                                                 "  (1): ")]
    expected += ["  )", "  (branch4): Sequential(",
                 "    (0): MaxPool2d(kernel_size=3, stride=1, padding=1, dilation=1, "
                 "ceil_mode=True)"]
    expected += ["  " + line for line in _indent(_basic(8, 6), "  (1): ")]
    expected += ["  )", ")"]
    assert repr(block) == "\n".join(expected)
    aux = InceptionAux(768, 3)
    assert repr(aux).splitlines()[:2] == ["InceptionAux(", "  (conv0): BasicConv2d("]
    assert repr(aux.fc) == "Linear(in_features=768, out_features=3, bias=True)"
    assert [name for name, _ in InceptionA(16, 8).named_children()] == [
        "branch1x1", "branch5x5_1", "branch5x5_2", "branch3x3dbl_1", "branch3x3dbl_2",
        "branch3x3dbl_3", "branch_pool"]
    net = models.Inception3(num_classes=2, init_weights=False)
    assert [name for name, _ in net.named_children()] == [
        "Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1",
        "Conv2d_4a_3x3", "maxpool2", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a",
        "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e", "AuxLogits", "Mixed_7a", "Mixed_7b",
        "Mixed_7c", "avgpool", "dropout", "fc"]
    assert repr(net.dropout) == "Dropout(p=0.5, inplace=False)"


def test_initialisation_scales():
    ember.manual_seed(0)
    net = models.Inception3(num_classes=10, init_weights=True)
    assert np.std(net.AuxLogits.fc.weight.detach().numpy()) == pytest.approx(0.001, rel=0.1)
    conv = net.Mixed_7c.branch1x1.conv.weight.detach().numpy()
    # trunc_normal_'s bounds a=-2, b=2 are absolute, so N(0, 0.1) is practically untruncated
    assert np.std(conv) == pytest.approx(0.1, rel=0.05)
    g = models.GoogLeNet(num_classes=10, init_weights=True)
    assert np.std(g.fc.weight.detach().numpy()) == pytest.approx(0.01, rel=0.05)


def test_googlenet_forward_backward_and_aux_outputs():
    ember.manual_seed(0)
    net = models.GoogLeNet(num_classes=5, init_weights=False)
    out = net(ember.randn(2, 3, 48, 48))
    assert isinstance(out, models.GoogLeNetOutputs)
    assert [tuple(t.shape) for t in out] == [(2, 5)] * 3
    (out.logits.square().sum() + out.aux_logits1.sum() + out.aux_logits2.sum()).backward()
    assert not [k for k, p in net.named_parameters() if p.grad is None]
    net.eval()
    with ember.no_grad():
        y = net(ember.randn(1, 3, 15, 15))  # torchvision's minimum size
    assert isinstance(y, Tensor) and y.shape == (1, 5)


def test_inception_forward_and_aux_outputs():
    ember.manual_seed(0)
    net = models.Inception3(num_classes=3, init_weights=False)

    class Probe(nn.Module):  # the real head needs 299x299 inputs; check its wiring cheaply
        def forward(self, x):
            assert x.shape[1:] == (768, 3, 3)  # Mixed_6e's output at 75x75
            return x.mean((2, 3))[:, :3]

    net.AuxLogits = Probe()
    with ember.no_grad():  # training mode (batch statistics, aux output), no graph
        out = net(ember.randn(2, 3, 75, 75))
    assert isinstance(out, models.InceptionOutputs)
    assert out.logits.shape == (2, 3) and out.aux_logits.shape == (2, 3)
    assert np.isfinite(out.logits.numpy()).all()


@pytest.mark.parametrize("block, size, out_channels", [
    (lambda: InceptionA(16, pool_features=8), 5, 64 + 64 + 96 + 8),
    (lambda: InceptionB(16), 7, 384 + 96 + 16),
    (lambda: InceptionC(16, channels_7x7=8), 5, 4 * 192),
    (lambda: InceptionD(16), 7, 320 + 192 + 16),
    (lambda: InceptionE(16), 3, 320 + 2 * 384 + 2 * 384 + 192),
    (lambda: InceptionAux(32, 4), 17, None),
])
def test_inception_blocks_forward_and_backward(block, size, out_channels):
    ember.manual_seed(0)
    module = block()
    y = module(ember.randn(2, module_in_channels(module), size, size))
    assert y.shape[1] == (out_channels or 4)
    y.square().sum().backward()
    assert not [k for k, p in module.named_parameters() if p.grad is None]


def module_in_channels(module):
    return next(m for m in module.modules() if isinstance(m, nn.Conv2d)).in_channels


def test_transform_input_renormalises_to_the_tensorflow_range():
    x = ember.randn(2, 3, 4, 4)
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    raw = x.numpy() * std[:, None, None] + mean[:, None, None]  # the image before normalising
    np.testing.assert_allclose(imagenet_to_inception_input(x).numpy(), (raw - 0.5) / 0.5,
                               rtol=1e-5, atol=1e-6)
    ember.manual_seed(0)
    plain = models.GoogLeNet(num_classes=2, aux_logits=False, init_weights=True).eval()
    wrapped = models.GoogLeNet(num_classes=2, aux_logits=False, transform_input=True,
                               init_weights=False).eval()
    wrapped.load_state_dict(plain.state_dict())
    x = ember.randn(1, 3, 32, 32)
    with ember.no_grad():
        expected = plain(imagenet_to_inception_input(x)).numpy()
        np.testing.assert_allclose(wrapped(x).numpy(), expected, rtol=1e-5, atol=1e-6)
    block = BasicConv2d(3, 4, kernel_size=3, padding=1).eval()
    with ember.no_grad():
        assert (block(ember.randn(1, 3, 5, 5)).numpy() >= 0).all()


def test_pretrained_builders_follow_torchvision(tmp_path, fake_download):
    served, fetched = fake_download
    source = models.GoogLeNet(init_weights=False)  # the checkpoint holds the aux heads
    url = models.GoogLeNet_Weights.DEFAULT.url
    served[url] = tmp_path / "googlenet.pth"
    ember.save(source.state_dict(), served[url])
    net = models.googlenet(weights="DEFAULT")
    assert fetched == [(url, "1378be20")]
    assert net.transform_input and not net.aux_logits and net.aux1 is None
    np.testing.assert_array_equal(net.fc.weight.detach().numpy(),
                                  source.fc.weight.detach().numpy())
    with pytest.warns(UserWarning, match="NOT pretrained"):
        kept = models.googlenet(weights="DEFAULT", aux_logits=True, transform_input=False)
    assert kept.aux_logits and kept.aux1 is not None and not kept.transform_input
    with pytest.raises(ValueError, match="aux_logits"):
        models.googlenet(weights="DEFAULT", aux_logits=False)  # as torchvision: must be True
    with pytest.raises(ValueError, match="num_classes"):
        models.inception_v3(weights="DEFAULT", num_classes=10)
