"""``torch._foreach_*`` (the multi-tensor ops) on the sample inputs of PyTorch's own foreach
OpInfo databases: out-of-place results (values, dtypes, shapes) and float64 gradients through
the proxy of ``op_db_proxy``, and the in-place forms' updated tensors."""
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("expecttest")  # the OpInfo database imports it

from op_db_proxy import Unsupported, as_numpy_tree, check_sample, difference, to_ember  # noqa: E402
from torch.testing._internal.common_methods_invocations import (  # noqa: E402
    foreach_binary_op_db,
    foreach_other_op_db,
    foreach_pointwise_op_db,
    foreach_reduce_op_db,
    foreach_unary_op_db,
)

import ember  # noqa: E402

OPS = (foreach_unary_op_db + foreach_binary_op_db + foreach_pointwise_op_db
       + foreach_reduce_op_db + foreach_other_op_db)
DTYPES = (torch.float64, torch.float32, torch.int64, torch.bool, torch.complex128)
# {"op|dtype": why}: differences of the per-tensor op itself, left open.
KNOWN: dict[str, str] = {}


def _cases():
    for op in OPS:
        for dtype in DTYPES:
            if dtype in op.supported_dtypes("cpu"):
                key = f"{op.name}|{str(dtype).rsplit('.', 1)[-1]}"
                marks = [pytest.mark.xfail(reason=KNOWN[key])] if key in KNOWN else []
                yield pytest.param(op, dtype, id=key.replace("|", "-"), marks=marks)


def _samples(op, dtype, requires_grad: bool):
    return op.sample_inputs("cpu", dtype, requires_grad=requires_grad, num_input_tensors=[2])


@pytest.mark.parametrize("op, dtype", list(_cases()))
def test_out_of_place_matches_torch(op, dtype):
    if op.op is None:  # an in-place-only op (zero_)
        pytest.skip("no out-of-place form")
    gradients = dtype == torch.float64 and op.supports_autograd
    failures = []
    for sample in _samples(op, dtype, gradients):
        try:
            found = check_sample(op, sample, gradients)
        except Unsupported:
            continue
        if found:
            failures.append(f"{found}\n    on {sample.summary()}")
    assert not failures, f"{len(failures)} samples differ:\n" + "\n".join(failures[:5])


def _ember_tree(value):
    if isinstance(value, torch.Tensor):
        return to_ember(value.detach().clone())
    if isinstance(value, (list, tuple)):
        return type(value)(_ember_tree(v) for v in value)
    return value


@pytest.mark.parametrize("op, dtype", list(_cases()))
def test_in_place_matches_torch(op, dtype):
    if op.inplace_variant is None:
        pytest.skip("no in-place form")
    ember_fn = getattr(ember, op.inplace_variant.__name__)
    failures = []
    for sample in _samples(op, dtype, False):
        theirs = [t.clone() for t in sample.input]
        ours, args = _ember_tree(sample.input), _ember_tree(sample.args)
        kwargs = _ember_tree(sample.kwargs)
        try:
            op.inplace_variant(theirs, *sample.args, **sample.kwargs)
        except Exception:  # noqa: BLE001 (torch refuses this sample: nothing to compare)
            continue
        returned = ember_fn(ours, *args, **kwargs)
        assert returned is ours
        found = difference(as_numpy_tree(theirs), as_numpy_tree(ours))
        if found:
            failures.append(f"{found}\n    on {sample.summary()}")
    assert not failures, f"{len(failures)} samples differ:\n" + "\n".join(failures[:5])


def test_list_length_mismatch_and_empty_list_raise_like_torch():
    x = [ember.ones(2), ember.ones(3)]
    with pytest.raises(RuntimeError, match="same number of tensors"):
        ember._foreach_add(x, [ember.ones(2)])
    with pytest.raises(RuntimeError, match="same number of elements as scalar list"):
        ember._foreach_mul(x, [2.0])
    with pytest.raises(RuntimeError, match="at least one tensor"):
        ember._foreach_exp([])
