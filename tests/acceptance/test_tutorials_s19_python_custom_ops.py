"""Acceptance: the three pages of PyTorch 2.13's Python custom operators tutorial
(advanced_source/python_custom_ops_functional.py, python_custom_ops_mutable.py and
python_custom_ops_registrations.py, stored verbatim under data/tutorials_s19/) run on ember
unchanged: ``torch.library.custom_op`` with fake kernels, ``opcheck`` catching a fake kernel whose
strides are wrong, tagged in-place and out= operators (``torch.Tag``), ``register_autograd`` and
``gradcheck``. The pages assert their own results against ``x.sin()``; the tests also check them
against NumPy.
"""

import numpy as np
from acceptance_runner import run
from tutorial_source import load


def _page(name: str) -> dict:
    return run(load(f"tutorials_s19/python_custom_ops_{name}.py.txt"))


def test_functional_operator_and_stride_checking_opcheck():
    ns = _page("functional")
    assert ns["_stdout"] == "opcheck caught incorrect fake kernel metadata: OpCheckError\n"
    x = ns["x"].numpy()
    np.testing.assert_allclose(ns["result"].numpy(), np.sin(x), rtol=1e-6)
    strided = ns["numpy_sin_strided"](ns["torch"].randn(2, 3))
    assert strided.stride() == (1, 3)  # the kernel's reversed strides, which opcheck accepted


def test_mutable_and_tagged_operators():
    ns = _page("mutable")
    assert ns["supports_tagged_mutable_ops"] and ns["_stdout"] == ""
    x = ns["x"].numpy()
    np.testing.assert_allclose(ns["out"].numpy(), np.sin(x), rtol=1e-6)
    np.testing.assert_allclose(ns["out_for_sin"].numpy(), np.sin(x), rtol=1e-6)
    np.testing.assert_allclose(ns["x_for_inplace"].numpy(), ns["expected"].numpy(), rtol=1e-6)
    torch = ns["torch"]
    buffer = torch.zeros(3)
    assert ns["sin_"](buffer) is buffer
    assert ns["sin_out"](torch.ones(3), out=buffer) is buffer
    np.testing.assert_allclose(buffer.numpy(), np.sin(np.ones(3)), rtol=1e-6)


def test_autograd_registration():
    ns = _page("registrations")
    x = ns["x"].detach().numpy()
    np.testing.assert_allclose(ns["y"].detach().numpy(), np.sin(x), rtol=1e-6)
    np.testing.assert_allclose(ns["x"].grad.numpy(), np.cos(x), rtol=1e-6)
    assert ns["y"].grad_fn is not None
