"""The ``meta`` device against torch's: factories, ``with device("meta")``, shape and dtype
inference through ops and modules, torch's errors for reading values or data-dependent
shapes, and the big-model pattern (build on meta, ``to_empty``, then
``load_state_dict(assign=True)``)."""
import warnings

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")


def _meta(lib, *shape, dtype=None):
    return lib.randn(*shape, device="meta", dtype=dtype)


def _summary(lib, fn):
    """(device, shape, dtype, strides) of each result, or the error's type."""
    try:
        out = fn(lib)
    except Exception as exc:  # noqa: BLE001 - the error is what is compared
        return type(exc).__name__
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return [(str(t.device), tuple(t.shape), str(t.dtype), tuple(t.stride())) for t in outs]


CASES = {
    "empty": lambda lib: lib.empty(2, 3, device="meta"),
    "zeros_int": lambda lib: lib.zeros(2, 3, dtype=lib.int32, device="meta"),
    "full_int": lambda lib: lib.full((2, 3), 4, device="meta"),
    "rand": lambda lib: lib.rand(2, 3, device="meta", dtype=lib.float64),
    "randint": lambda lib: lib.randint(0, 5, (3, 4), device="meta"),
    "randperm": lambda lib: lib.randperm(5, device="meta"),
    "arange": lambda lib: lib.arange(0, 1, 0.1, device="meta"),
    "eye": lambda lib: lib.eye(3, 4, device="meta"),
    "linspace": lambda lib: lib.linspace(0, 1, 5, device="meta"),
    "tensor": lambda lib: lib.tensor([[1, 2]], device="meta"),
    "to_meta": lambda lib: lib.ones(2, 3, dtype=lib.float16).to("meta"),
    "empty_like": lambda lib: lib.empty_like(_meta(lib, 2, 3)),
    "rand_like": lambda lib: lib.rand_like(_meta(lib, 2, 3)),
    "new_zeros": lambda lib: _meta(lib, 2).new_zeros(3, 4),
    "multinomial": lambda lib: lib.multinomial(lib.ones(4, 3, device="meta"), 2),
    "matmul_batched": lambda lib: _meta(lib, 2, 3, 4) @ _meta(lib, 4, 5),
    "matvec": lambda lib: _meta(lib, 3, 4) @ _meta(lib, 4),
    "bmm": lambda lib: lib.bmm(_meta(lib, 2, 3, 4), _meta(lib, 2, 4, 5)),
    "einsum": lambda lib: lib.einsum("bij,bjk->bik", _meta(lib, 2, 3, 4), _meta(lib, 2, 4, 5)),
    "linear": lambda lib: lib.nn.functional.linear(_meta(lib, 8, 4), _meta(lib, 3, 4),
                                                   _meta(lib, 3)),
    "conv2d": lambda lib: lib.nn.functional.conv2d(_meta(lib, 2, 3, 16, 16),
                                                   _meta(lib, 8, 3, 3, 3), stride=2, padding=1),
    "conv1d": lambda lib: lib.nn.functional.conv1d(_meta(lib, 2, 3, 16), _meta(lib, 8, 3, 3)),
    "max_pool2d": lambda lib: lib.nn.functional.max_pool2d(_meta(lib, 2, 3, 16, 16), 2),
    "layer_norm": lambda lib: lib.nn.functional.layer_norm(_meta(lib, 2, 5), (5,)),
    "batch_norm": lambda lib: lib.nn.functional.batch_norm(
        _meta(lib, 4, 3, 5, 5), _meta(lib, 3), _meta(lib, 3), training=False),
    "embedding": lambda lib: lib.nn.functional.embedding(
        lib.zeros(2, 3, dtype=lib.long, device="meta"), _meta(lib, 10, 4)),
    "sum_dim": lambda lib: _meta(lib, 2, 3).sum(1),
    "mean_keepdim": lambda lib: _meta(lib, 2, 3).mean(0, keepdim=True),
    "var": lambda lib: _meta(lib, 6, 2).var(0),
    "norm": lambda lib: _meta(lib, 6, 2).norm(),
    "max_dim": lambda lib: _meta(lib, 2, 3).max(1),
    "argmax": lambda lib: _meta(lib, 2, 3).argmax(1),
    "any": lambda lib: (_meta(lib, 6, 2) > 0).any(),
    "topk": lambda lib: _meta(lib, 4, 5).topk(2),
    "sort": lambda lib: _meta(lib, 4, 5).sort(),
    "cumsum": lambda lib: _meta(lib, 4, 5).cumsum(1),
    "softmax": lambda lib: _meta(lib, 2, 3).softmax(-1),
    "log_softmax": lambda lib: lib.log_softmax(_meta(lib, 2, 3), -1),
    "gelu": lambda lib: lib.nn.functional.gelu(_meta(lib, 2, 3)),
    "int_plus_float": lambda lib: lib.ones(3, dtype=lib.int64, device="meta") + 1.5,
    "half_times_int": lambda lib: _meta(lib, 3).half() * 2,
    "where": lambda lib: lib.where(_meta(lib, 4, 5) > 0, _meta(lib, 4, 5), 0.0),
    "cat": lambda lib: lib.cat([_meta(lib, 2, 3), _meta(lib, 4, 3)]),
    "stack": lambda lib: lib.stack([_meta(lib, 2, 3), _meta(lib, 2, 3)], 1),
    "split": lambda lib: _meta(lib, 6, 2).split(2),
    "pad": lambda lib: lib.nn.functional.pad(_meta(lib, 2, 3), (1, 2)),
    "interpolate": lambda lib: lib.nn.functional.interpolate(_meta(lib, 1, 2, 4, 4),
                                                             scale_factor=2),
    "index_tensor": lambda lib: _meta(lib, 4, 5)[lib.tensor([0, 2], device="meta")],
    "index_list": lambda lib: _meta(lib, 4, 5)[[0, 2]],
    "gather": lambda lib: lib.gather(_meta(lib, 4, 5), 1,
                                     lib.zeros(4, 2, dtype=lib.long, device="meta")),
    "reshape_of_t": lambda lib: _meta(lib, 4, 5).t().reshape(-1),
    "fill_": lambda lib: _meta(lib, 2, 3).fill_(3),
    "normal_": lambda lib: _meta(lib, 2, 3).normal_(),
    "kaiming_uniform_": lambda lib: lib.nn.init.kaiming_uniform_(_meta(lib, 4, 3)),
    "trunc_normal_": lambda lib: lib.nn.init.trunc_normal_(_meta(lib, 4, 3)),
    "copy_into_meta": lambda lib: _meta(lib, 2, 3).copy_(lib.ones(2, 3)),
    # torch's errors
    "item": lambda lib: _meta(lib, 1).item(),
    "bool": lambda lib: bool(_meta(lib, 1)),
    "float": lambda lib: float(_meta(lib, 1)),
    "tolist": lambda lib: _meta(lib, 2).tolist(),
    "numpy": lambda lib: _meta(lib, 2).numpy(),
    "cpu": lambda lib: _meta(lib, 2).cpu(),
    "copy_out": lambda lib: lib.ones(2).copy_(_meta(lib, 2)),
    "nonzero": lambda lib: _meta(lib, 3).nonzero(),
    "masked_select": lambda lib: _meta(lib, 3).masked_select(_meta(lib, 3) > 0),
    "bool_index": lambda lib: _meta(lib, 3)[_meta(lib, 3) > 0],
    "unique": lambda lib: _meta(lib, 3).unique(),
}


@pytest.mark.parametrize("name", list(CASES))
def test_meta_op_matches_torch(name):
    assert _summary(ember, CASES[name]) == _summary(torch, CASES[name])


@pytest.mark.parametrize("make", [
    lambda lib: lib.nn.Linear(4, 3),
    lambda lib: lib.nn.Conv2d(3, 8, 3, bias=False),
    lambda lib: lib.nn.Embedding(10, 4),
    lambda lib: lib.nn.LayerNorm(6),
    lambda lib: lib.nn.BatchNorm2d(3),
    lambda lib: lib.nn.MultiheadAttention(8, 2),
    lambda lib: lib.nn.LSTM(4, 5),
])
def test_modules_built_under_device_meta(make):
    def build(lib):
        with lib.device("meta"):
            return make(lib)
    got, want = build(ember), build(torch)
    assert str(ember.get_default_device()) == "cpu"
    summary = [(k, v.device.type, tuple(v.shape), str(v.dtype), v.requires_grad)
               for k, v in got.state_dict(keep_vars=True).items()]
    assert summary == [(k, v.device.type, tuple(v.shape), str(v.dtype), v.requires_grad)
                       for k, v in want.state_dict(keep_vars=True).items()]


@pytest.mark.parametrize("make, shape", [
    (lambda lib: lib.nn.Sequential(lib.nn.Conv2d(3, 8, 3, padding=1), lib.nn.ReLU(),
                                   lib.nn.MaxPool2d(2), lib.nn.Flatten(),
                                   lib.nn.Linear(8 * 4 * 4, 10)), (2, 3, 8, 8)),
    (lambda lib: lib.nn.Sequential(lib.nn.Linear(16, 32), lib.nn.GELU(), lib.nn.LayerNorm(32),
                                   lib.nn.Linear(32, 4)), (2, 5, 16)),
    (lambda lib: lib.nn.LayerNorm(6), (3, 6)),
])
def test_forward_on_meta_infers_the_output_shape(make, shape):
    def infer(lib):
        with lib.device("meta"):
            model = make(lib).eval()
            out = model(lib.randn(*shape))
        return out.device.type, tuple(out.shape), str(out.dtype)
    assert infer(ember) == infer(torch)


def test_big_model_init_to_empty_and_assign():
    def run(lib):
        lib.manual_seed(0)
        source = lib.nn.Sequential(lib.nn.Linear(4, 6), lib.nn.BatchNorm1d(6),
                                   lib.nn.Linear(6, 2))
        source[2].bias.requires_grad_(False)
        state = {k: lib.tensor(np.arange(v.numel()).reshape(tuple(v.shape)), dtype=v.dtype)
                 for k, v in source.state_dict().items()}
        with lib.device("meta"):
            model = lib.nn.Sequential(lib.nn.Linear(4, 6), lib.nn.BatchNorm1d(6),
                                      lib.nn.Linear(6, 2))
        model[2].bias.requires_grad_(False)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model.load_state_dict(state)  # into meta without assign: a no-op, with a warning
        warned = any("non-meta parameter" in str(w.message) for w in caught)
        still_meta = model[0].weight.device.type
        weight = model[0].weight
        model.to_empty(device="cpu")
        kept = model[0].weight is weight
        result = model.load_state_dict(state, assign=True)
        params = [(k, type(p).__name__, p.device.type, p.requires_grad)
                  for k, p in model.named_parameters()]
        out = model.eval()(lib.ones(3, 4))
        return (warned, still_meta, kept, repr(result), params,
                model[1].running_var is state["1.running_var"],
                np.asarray(out.detach().tolist()))
    got, want = run(ember), run(torch)
    assert got[:-1] == want[:-1]
    np.testing.assert_allclose(got[-1], want[-1], rtol=1e-5)


def test_device_context_and_default_device():
    def run(lib):
        seen = []
        with lib.device("meta"):
            seen.append((str(lib.get_default_device()), lib.zeros(1).device.type))
            with lib.device("cpu"):
                seen.append((str(lib.get_default_device()), lib.zeros(1).device.type))
            seen.append(lib.tensor([1.0]).device.type)
        seen.append(str(lib.get_default_device()))
        lib.set_default_device("meta")
        try:
            seen.append((str(lib.get_default_device()), lib.randn(2).device.type))
        finally:
            lib.set_default_device(None)
        seen.append(str(lib.get_default_device()))
        return seen
    assert run(ember) == run(torch)


def test_errors_match_torch_messages():
    for lib in (ember, torch):
        with pytest.raises(RuntimeError, match=r"Tensor.item\(\) cannot be called on meta"):
            _meta(lib, 1).item()
        with pytest.raises(NotImplementedError, match="Cannot copy out of meta tensor; no data!"):
            _meta(lib, 2).tolist()
        with pytest.raises(TypeError, match="can't convert meta device type tensor to numpy"):
            _meta(lib, 2).numpy()
        assert repr(_meta(lib, 2, dtype=lib.float64)) == \
            "tensor(..., device='meta', size=(2,), dtype=torch.float64)"


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "bool", "complex64"])
def test_meta_repr_names_every_dtype_but_the_default(dtype):
    got, want = (repr(lib.zeros(2, 3, dtype=getattr(lib, dtype), device="meta",
                                requires_grad=dtype == "float64")) for lib in (ember, torch))
    assert got == want
