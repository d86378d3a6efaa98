"""The harness itself: ``torch`` resolves to ember inside ``run`` and nowhere else."""

import sys

import pytest
from acceptance_runner import run

import ember


def test_torch_imports_resolve_to_ember():
    ns = run("""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from torch import autograd
    """)
    assert ns["torch"] is ember
    assert ns["nn"] is ember.nn and ns["F"] is ember.nn.functional
    assert ns["autograd"] is ember.autograd


def test_sys_modules_restored():
    before = {k: v for k, v in sys.modules.items() if k == "torch" or k.startswith("torch.")}
    run("import torch.nn.functional")
    after = {k: v for k, v in sys.modules.items() if k == "torch" or k.startswith("torch.")}
    assert after == before


def test_missing_ember_module_never_falls_back_to_pytorch():
    with pytest.raises(ModuleNotFoundError, match="ember.no_such_module"):
        run("import torch.no_such_module")


def test_print_is_captured_and_cells_share_state():
    ns = run("import torch\nx = torch.tensor([1.5, 2.0])\nprint(x)")
    run("print(x.sum().item())", ns)
    assert ns["_stdout"] == "tensor([1.5000, 2.0000])\n3.5\n"


def test_torchvision_imports_resolve_to_ember_vision():
    ns = run("""
    import torchvision
    from torchvision import datasets, transforms
    import torchvision.utils as vutils
    """)
    assert ns["torchvision"] is ember.vision
    assert ns["datasets"] is ember.vision.datasets
    assert ns["transforms"] is ember.vision.transforms
    assert ns["vutils"] is ember.vision.utils
    assert not any(k == "torchvision" or k.startswith("torchvision.") for k in sys.modules
                   if sys.modules[k] is ember.vision)


def test_sibling_modules_importable_only_during_run():
    ns = run("import helper\nvalue = helper.twice(torch.ones(2)).sum().item()",
             modules={"helper": "import torch\ndef twice(x):\n    return 2 * x\n"},
             torch=ember)
    assert ns["value"] == 4.0
    assert "helper" not in sys.modules
