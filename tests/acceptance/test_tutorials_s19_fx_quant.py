"""Acceptance: the "(prototype) FX Graph Mode Post Training Static Quantization" tutorial
(prototype_source/fx_graph_mode_ptq_static_tutorial.py, the runnable form of
fx_graph_mode_ptq_static.rst, stored verbatim under data/tutorials_s19_fx_quant/) runs on ember:
resnet18 loaded from a state dict file, ``prepare_fx`` with the deprecated ``qconfig_dict``
(fbgemm's histogram observers), calibration on an ImageFolder, ``convert_fx``, evaluation,
TorchScript save/load of the quantized GraphModule, ``fuse_fx`` and the weight comparison.

Edits: the tutorial never imports ``prepare_fx``/``convert_fx``/``fuse_fx`` (its docstring
does) and imports ``quantize_jit`` (TorchScript graph mode, not used): the import line is fixed;
``prepare_fx`` gets the ``example_inputs`` PyTorch requires since 1.13; the ImageNet folder is
a tiny one the test writes (2 classes x 2 images per split), images 224 -> 32 pixels
(``Resize(256)`` -> 36), batches of 30 -> 4; the pretrained weights file is a random resnet18's
state dict the test saves; the last section (eager-mode ``resnet18(pretrained=True,
quantize=True)``, which downloads weights) is left out.
"""

import numpy as np
from acceptance_runner import run
from PIL import Image
from tutorial_source import load

EDITS = (
    ("from torch.quantization import get_default_qconfig, quantize_jit",
     "from torch.quantization import get_default_qconfig\n"
     "from torch.quantization.quantize_fx import prepare_fx, convert_fx, fuse_fx"),
    ("prepared_model = prepare_fx(model_to_quantize, qconfig_dict)\n\nprint",
     "prepared_model = prepare_fx(model_to_quantize, qconfig_dict, "
     "(next(iter(data_loader_test))[0],))\n\nprint"),
    ("RandomResizedCrop(224)", "RandomResizedCrop(32)"),
    ("Resize(256)", "Resize(36)"),
    ("CenterCrop(224)", "CenterCrop(32)"),
    ("train_batch_size = 30", "train_batch_size = 4"),
    ("eval_batch_size = 30", "eval_batch_size = 4"),
    ("from torchvision.models.quantization.resnet import resnet18\n"
     "eager_quantized_model = resnet18(pretrained=True, quantize=True).eval()\n",
     "raise SystemExit  # the eager-mode comparison downloads pretrained weights\n"),
)

PRELUDE = """
import torch
from torchvision.models.resnet import resnet18 as _resnet18
torch.manual_seed(0)
torch.save(_resnet18().state_dict(), "data/resnet18_pretrained_float.pth")
"""


def _image_folder(root) -> None:
    rng = np.random.RandomState(0)
    for split in ("train", "val"):
        for label in ("cat", "dog"):
            folder = root / "data" / "imagenet_1k" / split / label
            folder.mkdir(parents=True)
            for i in range(2):
                pixels = rng.randint(0, 256, (40, 48, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(folder / f"{i}.png")


def test_fx_graph_mode_ptq_static_tutorial(tmp_path, monkeypatch):
    _image_folder(tmp_path)
    monkeypatch.chdir(tmp_path)
    ns = run(PRELUDE)
    try:
        run(load("tutorials_s19_fx_quant/fx_graph_mode_ptq_static_tutorial.py.txt", *EDITS),
            ns)
    except SystemExit:
        pass
    stdout = ns["_out"].getvalue()
    # prepare_fx: conv-bn-relu fused, observers around every quantized op
    graph = str(ns["prepared_model"].graph)
    assert "activation_post_process_0" in graph and "bn1" not in graph
    quantized = ns["quantized_model"]
    assert type(quantized.conv1)._get_name(quantized.conv1) == "QuantizedConvReLU2d"
    assert type(quantized.fc)._get_name(quantized.fc) == "QuantizedLinear"
    targets = [getattr(n.target, "__name__", n.target) for n in quantized.graph.nodes]
    assert targets.count("add_relu") == 8  # one per residual block
    assert targets.count("quantize_per_tensor") == 1 and targets.count("dequantize") == 1
    # the int8 model tracks the float one on the calibration images
    torch = ns["torch"]
    images = torch.cat([image for image, _ in ns["data_loader_test"]])
    with torch.no_grad():
        want = ns["float_model"](images).numpy()
        got = quantized(images).numpy()
        loaded = ns["loaded_quantized_model"](images).numpy()
    np.testing.assert_array_equal(loaded, got)  # TorchScript round trip
    assert np.abs(got - want).max() < 0.1 * np.abs(want).max()
    assert np.corrcoef(got.ravel(), want.ravel())[0, 1] > 0.99
    # section 9: quantized conv1 weights within half a per-channel step of the fused ones
    steps = quantized.conv1.weight().q_per_channel_scales().numpy()
    assert float(ns["torch"].max(abs(ns["conv1_weight_after_fuse"]
                                     - ns["conv1_weight_after_quant"]))) <= steps[0] / 2 + 1e-7
    assert stdout.count("Size (MB):") == 4
    assert "[after serialization/deserialization] Evaluation accuracy" in stdout
    assert "Baseline Float Model Evaluation accuracy" in stdout
