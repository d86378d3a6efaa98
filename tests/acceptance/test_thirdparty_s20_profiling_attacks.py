"""Model profilers and adversarial attacks on ember, where the libraries are installed (none is
a test dependency: their packages require PyTorch; .ci/run installs them without
dependencies): thop's ``profile`` and ``clever_format``, ptflops' ``get_model_complexity_info``
(its PyTorch-hooks backend and its aten backend, a TorchDispatchMode), fvcore's
``FlopCountAnalysis``, ``ActivationCountAnalysis``,
``parameter_count`` and ``flop_count_table`` (which walk a ``torch.jit._get_trace_graph``
graph) and torchattacks' FGSM, PGD, BIM, MIFGSM, TPGD, PGDL2, CW, DeepFool and a targeted PGD,
run in one fresh interpreter with ``torch`` resolved to ember. The counts are checked here
against closed forms written from each library's documented rules (a Linear(in, out) costs
in*out MACs, a convolution out_elements * in/groups * kernel, ...), walked over ResNet-18's
layers and two small hand-made models; the attacks against their perturbation bounds, the
clean and adversarial accuracies recomputed in NumPy from the reported weights, and FGSM on a
linear classifier against its analytic input gradient.
tests/conformance/test_thirdparty_s20_profiling_attacks_vs_torch.py compares every number with
real PyTorch's."""
from __future__ import annotations

import functools
import importlib.util
import textwrap

import numpy as np
import pytest

from tests.acceptance import script_report

PRELUDE = script_report.OUT_SOURCE + textwrap.dedent('''
    import json
    import warnings
    import torch
    import torchvision
    from torch import nn
    warnings.simplefilter("ignore")
    report = {}


    class Scale(nn.Module):
        """A module the profilers do not know: counted through their custom-hook arguments."""
        def __init__(self):
            super().__init__()
            self.gain = nn.Parameter(torch.ones(1))

        def forward(self, x):
            return torch.mul(x, self.gain)


    def small_cnn():
        return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                             nn.MaxPool2d(2), nn.Conv2d(8, 8, 3, groups=2), nn.AdaptiveAvgPool2d(1),
                             nn.Flatten(), nn.Linear(8, 5), Scale()).eval()


    torch.manual_seed(0)
    resnet = torchvision.models.resnet18(num_classes=10).eval()
''')

SECTIONS = {"thop": '''
    from thop import clever_format, profile

    def count_scale(module, inputs, output):
        module.total_ops += torch.DoubleTensor([int(inputs[0].numel())])

    macs, params = profile(small_cnn(), inputs=(torch.randn(2, 3, 8, 8),),
                           custom_ops={Scale: count_scale}, verbose=False)
    r_macs, r_params = profile(resnet, inputs=(torch.randn(1, 3, 32, 32),), verbose=False)
    lstm = nn.LSTM(4, 3, num_layers=2, batch_first=True)
    l_macs, l_params = profile(lstm, inputs=(torch.randn(2, 5, 4),), verbose=False)
    gru = nn.GRU(4, 3, bidirectional=True)
    packed = nn.utils.rnn.pack_padded_sequence(torch.randn(5, 2, 4), [5, 3])
    g_macs, g_params = profile(gru, inputs=(packed,), verbose=False)
    import thop
    report["thop"] = {"version": thop.__version__, "small": [macs, params],
                      "resnet18": [r_macs, r_params],
                      "lstm": [l_macs, l_params], "gru": [g_macs, g_params],
                      "clever": list(clever_format([r_macs, r_params], "%.3f"))}
''', "ptflops": '''
    from ptflops import get_model_complexity_info

    def count_scale(module, inputs, output):
        module.__flops__ += int(inputs[0].numel())

    small = get_model_complexity_info(small_cnn(), (3, 8, 8), as_strings=False,
                                      print_per_layer_stat=False, backend="pytorch",
                                      custom_modules_hooks={Scale: count_scale})
    resnet_counts = get_model_complexity_info(resnet, (3, 32, 32), as_strings=False,
                                              print_per_layer_stat=False, backend="pytorch")
    as_text = get_model_complexity_info(resnet, (3, 32, 32), print_per_layer_stat=False,
                                        backend="pytorch")


    class Sequence(nn.Module):
        def __init__(self):
            super().__init__()
            self.attention = nn.MultiheadAttention(8, 2, batch_first=True)
            self.lstm = nn.LSTM(8, 6, batch_first=True)

        def forward(self, x):
            return self.lstm(self.attention(x, x, x)[0])[0]

    # module hooks only: what built-in layers call inside is each library's own business
    sequence = get_model_complexity_info(Sequence(), (5, 8), as_strings=False,
                                         print_per_layer_stat=False, backend="pytorch",
                                         backend_specific_config={"count_functional": False})
    # the aten backend: a TorchDispatchMode counting the matrix products and convolutions
    aten_counts = get_model_complexity_info(resnet, (3, 32, 32), as_strings=False,
                                            print_per_layer_stat=False, backend="aten")
    report["ptflops"] = {"small": list(small), "resnet18": list(resnet_counts),
                         "resnet18_text": list(as_text), "sequence": list(sequence),
                         "resnet18_aten": list(aten_counts)}
''', "fvcore": '''
    import torch.nn.functional as F
    from fvcore.nn import (ActivationCountAnalysis, FlopCountAnalysis, flop_count_table,
                           parameter_count)


    class Mix(nn.Module):
        """One of each operator fvcore counts."""
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3, padding=1, bias=False)
            self.bn = nn.BatchNorm2d(4)
            self.gn = nn.GroupNorm(2, 4)
            self.up = nn.Upsample(scale_factor=2, mode="bilinear")
            self.inorm = nn.InstanceNorm2d(4, affine=True)
            self.tconv = nn.ConvTranspose2d(4, 2, 2, stride=2)
            self.ln = nn.LayerNorm(6)
            self.fc = nn.Linear(6, 5)
            self.unused = nn.Linear(2, 2)
            self.w = nn.Parameter(torch.randn(5, 7))

        def forward(self, x):
            h = self.inorm(self.up(self.gn(F.relu(self.bn(self.conv(x))))))
            t = self.tconv(h).flatten(2).transpose(1, 2)[:, :10, :]  # (N, 10, 2)
            t = self.fc(self.ln(torch.cat([t, t, t], -1)))  # (N, 10, 5)
            a = torch.bmm(t, t.transpose(1, 2))
            e = torch.einsum("nij,njk->nik", a, t)
            m = torch.matmul(e, self.w)
            z = torch.addmm(torch.zeros(7), m[:, 0], self.w.t() @ self.w)
            return F.interpolate(m.unsqueeze(1), scale_factor=2).sum() + z.sum()

    mix, x = Mix().eval(), torch.randn(2, 3, 8, 8)
    flops = FlopCountAnalysis(mix, x)
    acts = ActivationCountAnalysis(mix, x)
    r_flops = FlopCountAnalysis(resnet, torch.randn(1, 3, 32, 32))
    r_acts = ActivationCountAnalysis(resnet, torch.randn(1, 3, 32, 32))
    report["fvcore"] = {
        "mix": {"total": flops.total(), "by_operator": dict(flops.by_operator()),
                "by_module": dict(flops.by_module()),
                "by_module_and_operator": {k: dict(v) for k, v in
                                           flops.by_module_and_operator().items()},
                "unsupported": dict(flops.unsupported_ops()),
                "uncalled": sorted(flops.uncalled_modules()),
                "activations": acts.total(), "activations_by_module": dict(acts.by_module()),
                "parameters": dict(parameter_count(mix)),
                "table": flop_count_table(flops, max_depth=1)},
        "resnet18": {"total": r_flops.total(), "by_operator": dict(r_flops.by_operator()),
                     "layer1": r_flops.total("layer1"), "fc": r_flops.total("fc"),
                     "unsupported": dict(r_flops.unsupported_ops()),
                     "activations": r_acts.total(), "parameters": parameter_count(resnet)[""]}}
''', "torchattacks": '''
    import torchattacks

    torch.manual_seed(0)
    # three classes of 1x6x6 images: a bright row band at the top, middle or bottom, in noise
    labels = torch.arange(30) % 3
    images = 0.3 * torch.rand(30, 1, 6, 6, dtype=torch.float64)
    for k in range(3):
        images[labels == k, :, 2 * k:2 * k + 2, :] += 0.35
    cnn = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                        nn.Linear(4 * 3 * 3, 3)).double()
    optimizer = torch.optim.Adam(cnn.parameters(), lr=0.05)
    for _ in range(40):
        optimizer.zero_grad()
        nn.functional.cross_entropy(cnn(images), labels).backward()
        optimizer.step()
    cnn.eval()
    x, y = images[:12], labels[:12]
    attacks = {
        "fgsm": torchattacks.FGSM(cnn, eps=0.2),
        "pgd": torchattacks.PGD(cnn, eps=0.2, alpha=0.05, steps=5, random_start=True),
        "bim": torchattacks.BIM(cnn, eps=0.2, alpha=0.05, steps=5),
        "mifgsm": torchattacks.MIFGSM(cnn, eps=0.2, alpha=0.05, steps=5),
        "tpgd": torchattacks.TPGD(cnn, eps=0.2, alpha=0.05, steps=5),
        "pgdl2": torchattacks.PGDL2(cnn, eps=1.0, alpha=0.3, steps=5),
        "cw": torchattacks.CW(cnn, c=5, kappa=0, steps=30, lr=0.05),
        "deepfool": torchattacks.DeepFool(cnn, steps=10, overshoot=0.02)}
    adversarial = {name: attack(x, y) for name, attack in attacks.items()}
    targeted = torchattacks.PGD(cnn, eps=0.4, alpha=0.05, steps=20)
    targeted.set_mode_targeted_by_function(lambda inputs, labels: (labels + 1) % 3)
    adversarial["targeted_pgd"] = targeted(x, y)
    linear = nn.Sequential(nn.Flatten(), nn.Linear(36, 3)).double().eval()
    report["torchattacks"] = {"cnn": out(dict(cnn.state_dict())), "x": out(x), "y": out(y),
                              "adversarial": out(adversarial), "attack_repr": repr(attacks["pgd"]),
                              "linear": out(dict(linear.state_dict())),
                              "linear_fgsm": out(torchattacks.FGSM(linear, eps=0.1)(x, y))}
'''}


# (find_spec: importing a library would import torch)
LIBRARIES = [library for library in SECTIONS if importlib.util.find_spec(library) is not None]
if not LIBRARIES:
    pytest.skip("none of thop, ptflops, fvcore, torchattacks is installed",
                allow_module_level=True)
SCRIPT = PRELUDE + "".join(textwrap.dedent(SECTIONS[lib]) for lib in LIBRARIES) + \
    "\nprint(json.dumps(report))\n"

# the script's report, run under ``command_prefix`` (``-m ember.compat``: on ember)
run_script = functools.partial(script_report.run_script, SCRIPT, "profiling_attacks_script.py")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    return run_script("-m", "ember.compat", tmp_path=tmp_path_factory.mktemp("profiling"))


def _section(report, library: str) -> dict:
    if library not in report:
        pytest.skip(f"{library} is not installed")
    return report[library]


# ------------------------------------------------------------------------------------------------
# Closed forms

def _resnet18_layers(size: int = 32, classes: int = 10) -> dict:
    """ResNet-18 on a (1, 3, size, size) image, layer by layer: each convolution's MACs
    (out_elements * in_channels * k * k; none has a bias), the elements each BatchNorm and
    each ReLU call sees, the max pool's and average pool's input elements."""
    convs, norms, relus = [], [], []

    def conv(cin, cout, k, hw):
        convs.append(cout * hw * hw * cin * k * k)
        norms.append(cout * hw * hw)

    hw = size // 2
    conv(3, 64, 7, hw)
    relus.append(64 * hw * hw)
    pool_in, hw = 64 * hw * hw, hw // 2
    cin = 64
    for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        hw //= stride
        for block in range(2):
            conv(cin if block == 0 else cout, cout, 3, hw)
            relus.append(cout * hw * hw)
            conv(cout, cout, 3, hw)
            if block == 0 and stride != 1:
                conv(cin, cout, 1, hw)  # the downsampling shortcut
            relus.append(cout * hw * hw)
        cin = cout
    return {"conv": sum(convs), "norm": sum(norms), "relu": sum(relus), "max_pool_in": pool_in,
            "avg_pool_in": 512 * hw * hw, "fc": 512 * classes, "classes": classes}


RESNET18_PARAMETERS = 11689512 - 512 * 990 - 990  # torchvision's 1000-class count, 10 classes


def _lstm_cell_macs(i: int, h: int) -> int:
    """thop's LSTM cell: four gates of (i + h) * h MACs plus a bias, two biases each, and
    four element-wise products per hidden unit."""
    return 4 * ((i + h) * h + h + 2 * h) + 3 * h + h


def _gru_cell_macs(i: int, h: int) -> int:
    """thop's GRU cell: three gates of (i + h) * h MACs with their biases, and four
    element-wise operations per hidden unit."""
    return 3 * ((i + h) * h + 3 * h) + h + 3 * h


def test_thop_counts_match_closed_forms(report):
    thop = _section(report, "thop")
    # small CNN on (2, 3, 8, 8): conv 3->8 (8x8 out), BatchNorm (2 ops/element, twice with
    # affine), 2x2 max pool (free), grouped conv 8->8 (2x2 out, 4 inputs/group), adaptive
    # average pool (kernel 2x2 plus a division per output), Linear(8, 5), custom Scale hook
    small = (2 * 8 * 8 * 8 * 3 * 9 + 2 * 2 * (2 * 8 * 8 * 8) + 2 * 8 * 2 * 2 * 4 * 9
             + (4 + 1) * 2 * 8 + 8 * 2 * 5 + 2 * 5)
    small_params = (8 * 3 * 9 + 8) + 2 * 8 + (8 * 4 * 9 + 8) + (8 * 5 + 5) + 1
    assert thop["small"] == [small, small_params]
    layers = _resnet18_layers()
    macs = layers["conv"] + 4 * layers["norm"] + 2 * 512 + layers["fc"]
    assert thop["resnet18"] == [macs, RESNET18_PARAMETERS]
    assert thop["clever"] == [f"{macs / 1e6:.3f}M", f"{RESNET18_PARAMETERS / 1e6:.3f}M"]
    lstm_macs = (_lstm_cell_macs(4, 3) + _lstm_cell_macs(3, 3)) * 5 * 2
    gru_macs = 2 * _gru_cell_macs(4, 3)  # per sequence step, both directions
    if int(thop["version"].split(".")[0]) >= 2:  # ultralytics-thop, thop's successor
        # a packed batch of lengths (5, 3) costs its 8 real steps; parameters of a model that
        # is itself a leaf are counted
        assert thop["lstm"] == [lstm_macs, 4 * 3 * (4 + 3 + 2) + 4 * 3 * (3 + 3 + 2)]
        assert thop["gru"] == [gru_macs * 8, 2 * 3 * 3 * (4 + 3 + 2)]
    else:  # thop 0.1.1: five steps of the largest batch; a leaf model's parameters are none
        assert thop["lstm"] == [lstm_macs, 0]
        assert thop["gru"] == [gru_macs * 5 * 2, 0]


def test_ptflops_counts_match_closed_forms(report):
    ptflops = _section(report, "ptflops")
    # batch 1; module hooks plus the functional calls made anywhere (nn.ReLU calls F.relu,
    # the pools F.*_pool2d, Scale torch.mul): conv = positions * k*k * in/groups * out, plus
    # one add per output for the bias; BatchNorm 2/element; ReLU and pools 1/element
    small = ((8 * 8 * 9 * 3 * 8 + 8 * 8 * 8) + 2 * 512 + 2 * 512 + 2 * 512
             + (2 * 2 * 9 * 4 * 8 + 8 * 2 * 2) + 2 * 32 + (8 * 5 + 5) + 5 + 5)
    assert ptflops["small"] == [small, 582]
    layers = _resnet18_layers()
    macs = (layers["conv"] + 2 * layers["norm"] + 2 * layers["relu"]
            + 2 * layers["max_pool_in"] + 2 * layers["avg_pool_in"] + layers["fc"] + 10)
    assert ptflops["resnet18"] == [macs, RESNET18_PARAMETERS]
    assert ptflops["resnet18_text"] == [f"{macs / 1e6:.2f} MMac",
                                        f"{RESNET18_PARAMETERS / 1e6:.2f} M"]
    # aten.convolution and aten.addmm only: the convolutions' and the classifier's MACs, and
    # the classifier's bias additions
    assert ptflops["resnet18_aten"] == [layers["conv"] + layers["fc"] + 10,
                                        RESNET18_PARAMETERS]
    # MultiheadAttention(8, 2) on 5 tokens: query scaling, three 8x8 projections with bias,
    # per head QK^T, softmax and AV, output projection; LSTM(8, 6) per step: both matrices,
    # both biases and 10 element-wise operations per hidden unit
    attention = 5 * 8 + 3 * 5 * 8 * 8 + 15 * 8 + 2 * (5 * 5 * 4 + 5 * 5 + 5 * 5 * 4) + 5 * 8 * 9
    lstm = 5 * (24 * 8 + 24 * 6 + 4 * 6 + 6 * 6 + 2 * 24)
    params = (3 * 8 * 8 + 3 * 8 + 8 * 8 + 8) + 4 * 6 * (8 + 6 + 2)
    assert ptflops["sequence"] == [attention + lstm, params]


def test_fvcore_counts_match_closed_forms(report):
    fvcore = _section(report, "fvcore")
    mix = fvcore["mix"]
    # fvcore's rules: conv N*prod(weight)*out_spatial (input spatial when transposed), norms
    # 5/element with an affine (batch norm in eval: 2), bilinear upsampling 4/output,
    # nearest 1/output, linear/matmul/bmm/addmm/einsum one MAC per multiply
    expected = {"conv": 2 * 108 * 64 + 2 * (4 * 2 * 2 * 2) * 16 * 16, "batch_norm": 2 * 512,
                "group_norm": 5 * 512, "upsample_bilinear2d": 4 * 2 * 4 * 16 * 16,
                "instance_norm": 5 * 2048, "layer_norm": 5 * 120, "linear": 120 * 5,
                "bmm": 2 * 10 * 5 * 10, "einsum": 2 * 10 * 10 * 5, "matmul": 100 * 7 + 35 * 7,
                "addmm": 2 * 7 * 7, "upsample_nearest2d": 2 * 20 * 14}
    assert mix["by_operator"] == expected and mix["total"] == sum(expected.values())
    assert mix["by_module"]["conv"] == expected["conv"] - 2 * 32 * 256
    assert mix["by_module"]["tconv"] == 2 * 32 * 256 and mix["by_module"]["unused"] == 0
    assert mix["by_module_and_operator"]["gn"] == {"group_norm": 5 * 512}
    assert mix["by_module"][""] == mix["total"]
    # operators with no formula are reported, those fvcore ignores (relu, cat, slicing) not
    assert mix["unsupported"] == {"aten::add": 1, "aten::sum": 2}
    assert mix["uncalled"] == ["unused"]
    # activations: the outputs of conv (2, 4, 8, 8), tconv (2, 2, 32, 32), fc, bmm, einsum,
    # both matmuls and addmm
    assert mix["activations"] == 512 + 4096 + 100 + 200 + 100 + 140 + 49 + 14
    assert mix["activations_by_module"]["tconv"] == 4096
    assert mix["parameters"][""] == 108 + 8 + 8 + 8 + 34 + 12 + 35 + 6 + 35
    assert mix["parameters"]["tconv.weight"] == 32 and mix["parameters"]["w"] == 35
    assert "| model    | 0.254K                 | 57.027K  |" in mix["table"]
    resnet = fvcore["resnet18"]
    layers = _resnet18_layers()
    assert resnet["by_operator"] == {"conv": layers["conv"], "batch_norm": 2 * layers["norm"],
                                     "adaptive_avg_pool2d": layers["avg_pool_in"],
                                     "linear": layers["fc"]}
    assert resnet["fc"] == layers["fc"] and resnet["parameters"] == RESNET18_PARAMETERS
    assert resnet["layer1"] == 4 * (64 * 64 * 9 * 64) + 2 * 4 * 64 * 64
    assert resnet["unsupported"] == {"aten::max_pool2d": 1, "aten::add_": 8}
    # activations: every convolution's output and the classifier's
    assert resnet["activations"] == layers["norm"] + 10


# ------------------------------------------------------------------------------------------------
# torchattacks

def _arrays(state: dict) -> dict:
    return {name: np.array(value) for name, value in state.items()}


def _cnn_logits(w: dict, images: np.ndarray) -> np.ndarray:
    """conv 3x3 padded by 1, ReLU, 2x2 max pool, linear, in NumPy."""
    padded = np.pad(images, ((0, 0), (0, 0), (1, 1), (1, 1)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (3, 3), axis=(2, 3))
    conv = np.einsum("ncijkl,ockl->noij", windows, w["0.weight"]) + w["0.bias"][:, None, None]
    n, c, h, width = conv.shape
    pooled = np.maximum(conv, 0).reshape(n, c, h // 2, 2, width // 2, 2).max(axis=(3, 5))
    return pooled.reshape(n, -1) @ w["4.weight"].T + w["4.bias"]


def test_attacks_stay_in_their_budgets_and_fool_the_classifier(report):
    attacks = _section(report, "torchattacks")
    w = _arrays(attacks["cnn"])
    x, y = np.array(attacks["x"]), np.array(attacks["y"])
    clean = (_cnn_logits(w, x).argmax(1) == y).mean()
    assert clean == 1.0
    accuracy = {}
    for name, adv in attacks["adversarial"].items():
        adv = np.array(adv)
        assert adv.shape == x.shape and adv.min() >= 0 and adv.max() <= 1, name
        delta = (adv - x).reshape(len(x), -1)
        if name in ("fgsm", "pgd", "bim", "mifgsm", "tpgd"):
            assert np.abs(delta).max() <= 0.2 + 1e-12, name
        elif name == "targeted_pgd":
            assert np.abs(delta).max() <= 0.4 + 1e-12
        elif name == "pgdl2":
            assert np.linalg.norm(delta, axis=1).max() <= 1.0 + 1e-9
        predictions = _cnn_logits(w, adv).argmax(1)
        accuracy[name] = (predictions == y).mean()
        if name == "targeted_pgd":
            assert (predictions == (y + 1) % 3).mean() >= 0.5, name
    assert all(a < clean for a in accuracy.values()), str(accuracy)
    # the iterative attacks within their budgets fool the model on (nearly) every image
    assert max(accuracy[name] for name in ("pgd", "bim", "mifgsm", "pgdl2", "cw")) <= 0.1
    assert attacks["attack_repr"].startswith("PGD(model_name=Sequential")


def test_fgsm_on_a_linear_classifier_is_the_signed_analytic_gradient(report):
    attacks = _section(report, "torchattacks")
    w = _arrays(attacks["linear"])
    x, y = np.array(attacks["x"]), np.array(attacks["y"])
    flat = x.reshape(len(x), -1)
    logits = flat @ w["1.weight"].T + w["1.bias"]
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    p[np.arange(len(y)), y] -= 1  # d(cross entropy)/d(logits)
    gradient = (p @ w["1.weight"]).reshape(x.shape)
    expected = np.clip(x + 0.1 * np.sign(gradient), 0, 1)
    np.testing.assert_allclose(attacks["linear_fgsm"], expected, atol=1e-12)
