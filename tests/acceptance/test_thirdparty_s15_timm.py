"""timm (PyTorch Image Models) on ember, where timm is installed (it is not a test dependency:
its package requires a PyTorch and a torchvision install; .ci/run installs it without them).
Its model factory builds eight architectures that run forward and backward; its training
pieces (RandAugment transforms, the AdamW and cosine-schedule factories, Mixup with
soft-target cross-entropy, model EMA, feature extraction by hooks and by fx) train a
ResNet-18 whose loss falls; all with ``torch`` resolved to ember, in a fresh interpreter (timm
binds ``torch`` when imported)."""
from __future__ import annotations

import importlib.util
import textwrap

import pytest

from tests.acceptance import script_report

if importlib.util.find_spec("timm") is None:  # (importing it would import torch)
    pytest.skip("timm is not installed", allow_module_level=True)

SCRIPT = textwrap.dedent('''
    import json
    import numpy as np
    import torch, timm
    from PIL import Image
    from timm.data import Mixup, create_transform
    from timm.loss import SoftTargetCrossEntropy
    from timm.optim import create_optimizer_v2
    from timm.scheduler import create_scheduler_v2
    from timm.utils import ModelEmaV3, accuracy

    torch.manual_seed(0)
    np.random.seed(0)
    report = {"models": {}}
    for name in ["resnet18", "vit_tiny_patch16_224", "efficientnet_b0", "convnext_atto",
                 "mobilenetv3_small_050", "deit_tiny_patch16_224", "regnetx_002",
                 "densenet121"]:
        model = timm.create_model(name, pretrained=False, num_classes=5)
        side = 224 if "patch16" in name else 64
        out = model(torch.randn(2, 3, side, side))
        out.sum().backward()
        grads = [p.grad for p in model.parameters() if p.requires_grad]
        report["models"][name] = [list(out.shape), all(g is not None for g in grads),
                                  out.detach().abs().mean().item()]

    model = timm.create_model("resnet18", pretrained=False, num_classes=4)
    augment = create_transform(input_size=(3, 64, 64), is_training=True,
                               auto_augment="rand-m9-mstd0.5")
    image = Image.fromarray((np.random.rand(80, 80, 3) * 255).astype("uint8"))
    report["augmented"] = list(augment(image).shape)
    optimizer = create_optimizer_v2(model, opt="adamw", lr=1e-3, weight_decay=0.05)
    schedule, _ = create_scheduler_v2(optimizer, sched="cosine", num_epochs=6, warmup_epochs=1)
    mixup = Mixup(mixup_alpha=0.8, cutmix_alpha=1.0, label_smoothing=0.1, num_classes=4)
    ema = ModelEmaV3(model, decay=0.9)
    criterion = SoftTargetCrossEntropy()
    x, y = torch.randn(8, 3, 64, 64), torch.arange(8) % 4
    losses = []
    for epoch in range(6):
        model.train()
        mixed, soft = mixup(x, y)
        loss = criterion(model(mixed), soft)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        ema.update(model)
        schedule.step(epoch + 1)
        losses.append(loss.item())
    model.eval()
    with torch.no_grad():
        top1, = accuracy(model(x), y, topk=(1,))
    report.update(losses=losses, lr=optimizer.param_groups[0]["lr"], top1=float(top1))
    features = timm.create_model("resnet18", pretrained=False, features_only=True,
                                 out_indices=(1, 3))
    report["features"] = [list(f.shape) for f in features(x)]
    # the same features through torchvision's fx feature extraction (timm's FeatureGraphNet)
    report["fx_features_equal"] = {}
    for name in ["resnet18", "convnext_atto", "vit_tiny_patch16_224"]:
        side = 224 if "patch16" in name else 64
        image = torch.randn(1, 3, side, side)
        outs = []
        for feature_cls in ("hook" if "vit" in name else None, "fx"):
            torch.manual_seed(0)
            extractor = timm.create_model(name, pretrained=False, features_only=True,
                                          feature_cls=feature_cls).eval()
            outs.append(extractor(image))
        report["fx_features_equal"][name] = [type(extractor).__name__] + [
            bool(torch.equal(a, b)) for a, b in zip(*outs)]
    print(json.dumps(report))
''')


def run_script(*command_prefix: str, tmp_path) -> dict:
    """The script's report, run under ``command_prefix`` (``-m ember.compat`` for ember)."""
    return script_report.run_script(SCRIPT, "train_timm.py", *command_prefix, tmp_path=tmp_path)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    return run_script("-m", "ember.compat", tmp_path=tmp_path_factory.mktemp("timm"))


def test_model_factory_architectures_run_forward_and_backward(report):
    assert len(report["models"]) == 8
    for name, (shape, every_grad, mean_abs) in report["models"].items():
        assert shape == [2, 5] and every_grad and mean_abs > 0, name


def test_training_pieces_train_a_resnet(report):
    assert report["augmented"] == [3, 64, 64]
    assert report["losses"][-1] < report["losses"][0]
    assert report["lr"] < 1e-4  # the cosine schedule has decayed to its floor
    assert 0.0 <= report["top1"] <= 100.0
    assert report["features"] == [[8, 64, 16, 16], [8, 256, 4, 4]]


def test_fx_feature_extraction_equals_hooks(report):
    for name, (extractor, *equal) in report["fx_features_equal"].items():
        assert extractor == "FeatureGraphNet" and len(equal) >= 3 and all(equal), name
