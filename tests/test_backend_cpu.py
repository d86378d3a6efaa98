import sys

import pytest

from ember.backend.cpu import tune_allocator


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_allocator_tuning_is_accepted_by_glibc():
    import ctypes
    try:
        ctypes.CDLL("libc.so.6").gnu_get_libc_version  # noqa: B018  (raises where not glibc)
    except (OSError, AttributeError):
        pytest.skip("not glibc")
    assert tune_allocator() is True


@pytest.mark.parametrize("alias", [False, True], ids=["ember", "torch alias"])
def test_float_exceptions_are_silent_in_ember_ops_only(alias, tmp_path):
    """PyTorch gives inf/nan silently; NumPy warns. Even under ``-W error`` ember's ops must
    not warn, while the user's own NumPy code keeps NumPy's behaviour; also as ``torch`` under
the alias, where ember's modules carry torch's names."""
    import subprocess
    code = (
        f"import math, numpy as np, {'torch as ember' if alias else 'ember'}\n"
        "x = ember.tensor([1.0, 0.0, -1.0])\n"
        "assert (x / 0).tolist()[0] == math.inf\n"
        "assert math.isnan(ember.log(x).tolist()[2])\n"
        "assert ember.exp(ember.tensor([1000.0])).item() == math.inf\n"
        "assert math.isnan(ember.empty(0).mean().item())\n"
        "assert math.isnan(ember.empty(0).var().item())\n"
        "assert math.isnan(ember.nn.functional.cross_entropy(\n"
        "    ember.randn(2, 3), ember.tensor([-100, -100])).item())\n"
        "try:\n"
        "    np.ones(1) / 0\n"
        "except RuntimeWarning:\n"
        "    print('numpy still warns')\n")
    script = tmp_path / "float_exceptions.py"
    script.write_text(code)
    runner = ["-m", "ember.compat"] if alias else []
    done = subprocess.run([sys.executable, "-W", "error", *runner, str(script)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "numpy still warns"
