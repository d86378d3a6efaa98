"""The calls of tests/test_diffusion_optim_snn_gaps_s20.py against PyTorch's answers on the same
values: ``addcdiv_``'s bits, ``_group_tensors_by_device_and_dtype``'s groups, and which kernel
of a ``triton_op`` runs (its CPU kernel, its AutogradCPU kernel or its fake kernel) in each
autograd mode."""
import importlib
import itertools

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")

_NAMES = itertools.count()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_addcdiv_in_place_bits_same_as_torch(dtype):
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(2, 2000))
    c = rng.uniform(0.1, 2.0, size=2000)

    def result(lib):
        x = lib.tensor(a, dtype=getattr(lib, dtype))
        x.addcdiv_(lib.tensor(b, dtype=x.dtype), lib.tensor(c, dtype=x.dtype), value=-0.37)
        return x.numpy()
    np.testing.assert_array_equal(result(ember), result(torch))


def test_group_tensors_same_as_torch():
    def groups(lib):
        grouping = importlib.import_module(f"{lib.__name__}.utils._foreach_utils")
        a, c = lib.zeros(2), lib.arange(3.0)
        b, d = lib.ones(2, dtype=lib.float64), lib.full((3,), 2.0, dtype=lib.float64)
        found = grouping._group_tensors_by_device_and_dtype([[a, b, c], [None, d, c], []],
                                                            with_indices=True)
        return {str(dtype).split(".")[-1]: ([[None if t is None else t.tolist() for t in ts]
                                             for ts in lists], indices)
                for (_, dtype), (lists, indices) in found.items()}
    assert groups(ember) == groups(torch)


def test_triton_op_kernel_choice_same_as_torch():
    def answers(lib):
        name = f"s20conf{next(_NAMES)}"

        def twice(x: lib.Tensor) -> lib.Tensor:
            return x * 2
        op = lib.library.triton_op(f"{name}::scale", twice, mutates_args=())
        library = lib.library.Library(name, "FRAGMENT")
        library.impl("scale", lambda x: x * 3, "CPU")
        library.impl("scale", lambda x: x * 5, "AutogradCPU")
        x = lib.ones(2, requires_grad=True)
        y = op(x)
        y.sum().backward()
        with lib.no_grad():
            quiet = op(x).tolist()
        with lib.inference_mode():
            inference = op(lib.ones(2)).tolist()
        return (op(lib.ones(2)).tolist(), y.tolist(), x.grad.tolist(), quiet, inference,
                tuple(op(lib.ones(2, 3, device="meta")).shape))
    assert answers(ember) == answers(torch)
