"""nn.functional fixes from the OpInfo audit, checked against PyTorch: complex convolution
gradients, transposed convolutions whose output_padding reaches past the stride, circular
padding with negative pads, prelu on 0-d input, empty batches, the native norms' statistics and
the triplet loss with a distance module."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import ember  # noqa: E402
import ember.nn as enn  # noqa: E402
import ember.nn.functional as EF  # noqa: E402

TF = torch.nn.functional


def _pair(*shape, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    t = torch.randn(shape, dtype=dtype, generator=g)
    return t.requires_grad_(), ember.tensor(t.detach().numpy(), requires_grad=True)


def _close(e, t, **kw):
    np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), rtol=1e-9, atol=1e-9, **kw)


CONV_CASES = [
    ("conv1d", (1, 3, 4), (3, 3, 3), dict(stride=2, padding=2)),
    ("conv2d", (1, 3, 4, 4), (3, 3, 3, 3), dict(stride=(2, 2), padding=2)),
    ("conv3d", (1, 1, 4, 4, 4), (1, 1, 3, 3, 3), dict(padding="same")),
    ("conv_transpose1d", (1, 3, 4), (3, 3, 3), dict(stride=2, padding=2, output_padding=1)),
    ("conv_transpose2d", (1, 3, 4, 4), (3, 3, 3, 3), dict(stride=2, padding=2,
                                                         output_padding=1)),
    ("conv_transpose2d", (2, 2, 4, 4), (2, 2, 4, 5),
     dict(stride=(3, 2), padding=(1, 2), output_padding=(2, 3), groups=2, dilation=(4, 4))),
    ("conv_transpose3d", (1, 2, 3, 3, 3), (2, 2, 2, 3, 4),
     dict(stride=(3, 2, 1), padding=(1, 2, 3), output_padding=(2, 3, 1), groups=2,
          dilation=(4, 4, 4))),
]


@pytest.mark.parametrize("dtype", [torch.float64, torch.complex128])
@pytest.mark.parametrize("name, xs, ws, kw", CONV_CASES)
def test_conv_gradients(name, xs, ws, kw, dtype):
    tx, ex = _pair(*xs, dtype=dtype, seed=1)
    tw, ew = _pair(*ws, dtype=dtype, seed=2)
    out_channels = ws[0] if name.startswith("conv") and "transpose" not in name \
        else ws[1] * kw.get("groups", 1)
    tb, eb = _pair(out_channels, dtype=dtype, seed=3)
    ty = getattr(TF, name)(tx, tw, tb, **kw)
    ey = getattr(EF, name)(ex, ew, eb, **kw)
    _close(ey, ty)
    tg, eg = _pair(*ty.shape, dtype=dtype, seed=4)
    ty.backward(tg.detach())
    ey.backward(eg.detach())
    for e, t in ((ex, tx), (ew, tw), (eb, tb)):
        _close(e.grad, t.grad)


@pytest.mark.parametrize("pads", [(-1, 1, -2, 1), (1, -2, 0, 0), (-1, -1, 2, -1), (2, 3, 1, 1)])
def test_pad_circular_negative(pads):
    tx, ex = _pair(1, 3, 4, 4)
    ty, ey = TF.pad(tx, pads, mode="circular"), EF.pad(ex, pads, mode="circular")
    _close(ey, ty)
    ty.sum().backward()
    ey.sum().backward()
    _close(ex.grad, tx.grad)


@pytest.mark.parametrize("xs, ws", [((), (1,)), ((), ()), ((3,), (1,)), ((2, 3, 4), (3,))])
def test_prelu_shapes(xs, ws):
    tx, ex = _pair(*xs)
    tw, ew = _pair(*ws, seed=5)
    ty, ey = TF.prelu(tx, tw), EF.prelu(ex, ew)
    assert tuple(ey.shape) == tuple(ty.shape)
    _close(ey, ty)


@pytest.mark.parametrize("op, args, kw", [
    ("unfold", ((0, 1, 5, 5),), dict(kernel_size=2)),
    ("fractional_max_pool3d", ((0, 1, 4, 5, 4),), dict(kernel_size=(2, 2, 1), output_size=2)),
])
def test_empty_batch_shapes(op, args, kw):
    t = getattr(TF, op)(torch.randn(*args[0]), **kw)
    e = getattr(EF, op)(ember.randn(*args[0]), **kw)
    assert tuple(e.shape) == tuple(t.shape)


@pytest.mark.parametrize("shape", [(0,), (0, 3), (0, 3, 2), (2, 0, 2), (2, 3, 0)])
def test_batch_norm_training_empty(shape):
    c = shape[1] if len(shape) > 1 else 0
    trm, trv = torch.full((c,), 5.0), torch.full((c,), 2.0)
    erm, erv = ember.full((c,), 5.0), ember.full((c,), 2.0)
    ty = TF.batch_norm(torch.randn(shape), trm, trv, training=True)
    ey = EF.batch_norm(ember.randn(*shape), erm, erv, training=True)
    assert tuple(ey.shape) == tuple(ty.shape)
    _close(erm, trm)
    _close(erv, trv)


def test_native_norm_outputs_requiring_grad():
    tx, ex = _pair(4, 3)
    tw, ew = _pair(3, seed=1)
    tb, eb = _pair(3, seed=2)
    pairs = [
        (torch.native_batch_norm(tx, tw, tb, None, None, True, 0.1, 1e-5),
         ember.native_batch_norm(ex, ew, eb, None, None, True, 0.1, 1e-5)),
        (torch.native_layer_norm(tx, (3,), tw, tb, 1e-5),
         ember.native_layer_norm(ex, (3,), ew, eb, 1e-5)),
        (torch.native_group_norm(tx.reshape(4, 3, 1), tw, tb, 4, 3, 1, 3, 1e-5),
         ember.native_group_norm(ex.reshape(4, 3, 1), ew, eb, 4, 3, 1, 3, 1e-5)),
    ]
    for t_out, e_out in pairs:
        assert [o.requires_grad for o in e_out] == [o.requires_grad for o in t_out]
        for e, t in zip(e_out, t_out):
            np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), rtol=1e-6)


def test_native_group_norm_empty():
    t = torch.native_group_norm(torch.randn(0, 4, 3), None, None, 0, 4, 3, 2, 1e-5)
    e = ember.native_group_norm(ember.randn(0, 4, 3), None, None, 0, 4, 3, 2, 1e-5)
    assert [tuple(o.shape) for o in e] == [tuple(o.shape) for o in t]


@pytest.mark.parametrize("kw", [dict(margin=1e-6), dict(swap=True), dict(reduction="none")])
def test_triplet_margin_with_distance_loss(kw):
    # the audit's RecursionError came from handing ember tensors to torch's own
    # PairwiseDistance module; with ember's module the loss matches PyTorch
    ts, es = zip(*(_pair(5, 10, seed=s) for s in range(3)))
    t = TF.triplet_margin_with_distance_loss(*ts, distance_function=torch.nn.PairwiseDistance(),
                                             **kw)
    e = EF.triplet_margin_with_distance_loss(*es, distance_function=enn.PairwiseDistance(),
                                             **kw)
    _close(e, t)
    t.sum().backward()
    e.sum().backward()
    for ee, tt in zip(es, ts):
        _close(ee.grad, tt.grad)


def test_softmin_negates_before_the_dtype_cast():
    # PyTorch negates in the input's dtype (uint8 wraps), then casts
    t = torch.tensor([[0, 1, 7], [3, 0, 250]], dtype=torch.uint8)
    e = ember.tensor(t.numpy())
    _close(EF.softmin(e, 0, dtype=ember.float64), TF.softmin(t, 0, dtype=torch.float64))


@pytest.mark.parametrize("name, ws", [("conv2d", (3, 3, 3, 3)), ("conv_transpose1d", (3, 2, 3))])
def test_conv_bfloat16_keeps_dtype(name, ws):
    nd = len(ws) - 2
    x = ember.randn(1, 3, *(5,) * nd).to(ember.bfloat16).requires_grad_()
    w = ember.randn(*ws).to(ember.bfloat16).requires_grad_()
    y = getattr(EF, name)(x, w)
    y.sum().backward()
    assert y.dtype == x.grad.dtype == w.grad.dtype == ember.bfloat16
    ty = getattr(TF, name)(torch.from_numpy(x.float().detach().numpy()).bfloat16(),
                           torch.from_numpy(w.float().detach().numpy()).bfloat16())
    np.testing.assert_allclose(y.float().detach().numpy(), ty.float().numpy(), rtol=2e-2,
                               atol=2e-2)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("kshape", [(4, 6, 8), (4, 4, 6, 8)])
def test_sdpa_half_precision_computes_in_float32(dtype, kshape):
    # PyTorch's math path upcasts half inputs: the result is the float32 one, rounded once
    g = torch.Generator().manual_seed(0)
    tq, tk, tv = (torch.randn(s, generator=g).to(getattr(torch, dtype))
                  for s in ((4, 3, 8), kshape, kshape))
    t = TF.scaled_dot_product_attention(tq, tk, tv, is_causal=True)
    e = EF.scaled_dot_product_attention(*(ember.tensor(a.float().numpy()).to(getattr(ember, dtype))
                                          for a in (tq, tk, tv)), is_causal=True)
    assert e.dtype == getattr(ember, dtype)
    np.testing.assert_array_equal(e.float().numpy(), t.float().numpy())


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
@pytest.mark.parametrize("size", [(13, 13), (40, 50)])
def test_interpolate_uint8(mode, size):
    # PyTorch's uint8 kernels resize the last dim first and round to bytes after each pass;
    # their fixed-point weights can round one unit the other way
    t = torch.randint(0, 256, (2, 3, 27, 31), dtype=torch.uint8,
                      generator=torch.Generator().manual_seed(0))
    want = TF.interpolate(t, size, mode=mode, align_corners=False).numpy().astype(int)
    got = EF.interpolate(ember.tensor(t.numpy()), size, mode=mode, align_corners=False)
    assert got.dtype == ember.uint8
    diff = np.abs(got.numpy().astype(int) - want)
    assert diff.max() <= 1 and (diff > 0).mean() < 0.05
