"""PyTorch's OpInfo ``reference_inputs`` (extended inputs: infinities, NaNs, large values,
integer dtypes) of nn losses fixed in session 10, values and dtypes compared with torch; and
the loss gradients at their edges."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("expecttest")  # the OpInfo database imports it

from op_db_proxy import check_sample  # noqa: E402
from torch.testing._internal.common_methods_invocations import op_db  # noqa: E402

import ember  # noqa: E402

_OPS = {op.name: op for op in op_db if op.name in (
    "nn.functional.hinge_embedding_loss", "nn.functional.margin_ranking_loss")}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int64],
                         ids=lambda d: str(d)[6:])
@pytest.mark.parametrize("name", sorted(_OPS))
def test_reference_inputs_match_torch(name, dtype):
    op = _OPS[name]
    if dtype not in op.supported_dtypes("cpu"):
        pytest.skip(f"torch does not support {dtype} here")
    failures = [f"{sample.summary()[:200]}: {diff}"
                for sample in op.reference_inputs("cpu", dtype)
                if (diff := check_sample(op, sample, gradients=False))]
    assert not failures, "\n".join(failures[:5])


def _bce_target_grad(lib, x):
    t = lib.tensor([0.2, 0.3, 0.7], dtype=lib.float64, requires_grad=True)
    lib.nn.functional.binary_cross_entropy(lib.tensor(x, dtype=lib.float64), t).backward()
    return t.grad.numpy()


def test_bce_target_grad_at_saturated_input():
    x = [0.0, 0.5, 1.0]
    np.testing.assert_array_equal(_bce_target_grad(ember, x), _bce_target_grad(torch, x))


@pytest.mark.parametrize("shape", [(2, 3), (3,), (2, 3, 4), (2, 3, 4, 5)])
@pytest.mark.parametrize("loss", ["nll_loss", "cross_entropy"])
def test_grad_fn_names(loss, shape):
    names = []
    for lib in (torch, ember):
        x = lib.zeros(shape, requires_grad=True)
        target = lib.zeros(shape[:1] + shape[2:] if len(shape) > 1 else (), dtype=lib.int64)
        names.append(type(getattr(lib.nn.functional, loss)(x, target).grad_fn).__name__)
    assert names[1] == names[0]


@pytest.mark.parametrize("loss", ["nll_loss", "cross_entropy"])
def test_all_ignored_mean_grad(loss):
    grads = []
    for lib in (torch, ember):
        x = lib.ones((3, 4), dtype=lib.float64, requires_grad=True)
        getattr(lib.nn.functional, loss)(x, lib.full((3,), -100, dtype=lib.int64)).backward()
        grads.append(x.grad.numpy())
    np.testing.assert_array_equal(grads[1], grads[0])
