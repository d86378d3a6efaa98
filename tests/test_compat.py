import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import ember
from ember.compat import torch_is_ember

ROOT = Path(__file__).resolve().parents[1]


def test_torch_and_torchvision_resolve_to_ember_inside_the_block():
    with torch_is_ember():
        import torch
        import torch.nn.functional as F
        import torchvision.transforms as T
        assert torch is ember
        assert F is ember.nn.functional
        assert T is ember.vision.transforms
        assert (torch.__name__, F.__name__) == ("torch", "torch.nn.functional")  # as imported
    assert (ember.__name__, ember.nn.functional.__name__) == ("ember", "ember.nn.functional")
    assert "torchvision" not in sys.modules or sys.modules["torchvision"] is not ember.vision


def test_missing_module_never_falls_back_to_real_torch():
    with torch_is_ember():
        with pytest.raises(ModuleNotFoundError, match="ember has no module"):
            import torch.no_such_module  # noqa: F401


def test_python_m_ember_compat_runs_an_unchanged_script(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent("""
        import sys
        import torch
        import torch.nn as nn
        x = torch.randn(32, 2)
        y = x @ torch.tensor([[1.0], [-2.0]])
        model = nn.Linear(2, 1, bias=False)
        opt = torch.optim.SGD(model.parameters(), lr=0.2)
        for _ in range(200):
            opt.zero_grad()
            loss = nn.functional.mse_loss(model(x), y)
            loss.backward()
            opt.step()
        print(torch.__name__, torch.__spec__.name, sys.argv[1], round(loss.item(), 6))
    """))
    out = subprocess.run([sys.executable, "-m", "ember.compat", str(script), "arg1"],
                         capture_output=True, text=True, cwd=ROOT, check=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    name, module, arg, loss = out.stdout.split()
    assert (name, module, arg) == ("torch", "ember", "arg1")  # named as imported, ember's code
    assert float(loss) < 1e-6


def test_classes_made_under_the_alias_pickle_after_it():
    """A class ember makes lazily (compile's OptimizedModule) while the alias is on keeps
    ember's module name, so pickling it still works once the alias is gone."""
    import io
    import pickle
    ember.compiler._module_class.cache_clear()
    try:
        with torch_is_ember():
            import torch
            compiled = torch.compile(torch.nn.Linear(2, 2))
        assert type(compiled).__module__ == "ember.compiler"
        pickle.dump(compiled, io.BytesIO())
    finally:
        ember.compiler._module_class.cache_clear()
