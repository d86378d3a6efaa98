"""Small top-level names against PyTorch: GradScaler, Stream/Event on the CPU, the quantizer
accessor functions, the sparse ``*_copy`` functions, ``slice_inverse`` and the dtype objects
NumPy cannot hold (int1..int7, uint1..uint7, bits*, float4_e2m1fn_x2, complex32)."""
import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")

NAMES = ["GradScaler", "Stream", "Event", "q_scale", "q_zero_point", "q_per_channel_scales",
         "q_per_channel_zero_points", "q_per_channel_axis", "int_repr", "values_copy",
         "indices_copy", "crow_indices_copy", "col_indices_copy", "ccol_indices_copy",
         "row_indices_copy", "slice_inverse", "_scaled_mm", "float8_e4m3fn", "float8_e5m2",
         "float8_e4m3fnuz", "float8_e5m2fnuz", "float8_e8m0fnu"]


def _outcome(fn, *args):
    try:
        return fn(*args)
    except Exception as e:  # noqa: BLE001 - the error is the outcome compared
        return type(e), str(e).split("\n")[0][:70]


def test_names_exist_in_both():
    for name in NAMES:
        assert hasattr(torch, name) and hasattr(ember, name), name


def test_grad_scaler_is_amp_grad_scaler():
    assert ember.GradScaler is ember.amp.GradScaler
    assert torch.GradScaler is torch.amp.GradScaler


def test_cpu_stream_matches_torch():
    for args, kwargs in (((), {}), (("cpu",), {}), ((), {"device": "cpu"}),
                         (("cpu",), {"priority": -1})):
        e = ember.Stream(*args, **kwargs)
        t = torch.Stream(*args, **kwargs)
        assert repr(e) == repr(t) and str(e) == str(t)
        assert (e.device_type, e.device_index, e.stream_id) == (
            t.device_type, t.device_index, t.stream_id)
        assert str(e.device) == str(t.device)
        assert e.query() == t.query() and e.is_capturing() == t.is_capturing()
        assert e.synchronize() is None and t.synchronize() is None
        assert e == ember.Stream("cpu") and hash(e) == hash(ember.Stream("cpu"))
        with e as inside:
            assert inside is e
    e, t = ember.Stream("cpu"), torch.Stream("cpu")
    assert _outcome(e.record_event) == _outcome(t.record_event)
    assert _outcome(e.wait_stream, e) == _outcome(t.wait_stream, t)


def test_cpu_event_matches_torch():
    for kwargs in ({}, {"enable_timing": True}):
        e, t = ember.Event("cpu", **kwargs), torch.Event("cpu", **kwargs)
        assert repr(e) == repr(t)
        assert e.query() == t.query() and str(e.device) == str(t.device)
        assert e.event_id == t.event_id
        assert e.synchronize() is None and e.wait() is None
        assert _outcome(e.record) == _outcome(t.record)
        assert _outcome(e.elapsed_time, e) == _outcome(t.elapsed_time, t)
    assert _outcome(ember.Event().ipc_handle) == _outcome(torch.Event().ipc_handle)


def test_quantizer_accessors_match_torch():
    x = [[1.0, -2.0, 0.52], [3.0, 0.27, -1.0]]  # no rounding ties
    tq = torch.quantize_per_tensor(torch.tensor(x), 0.1, 3, torch.quint8)
    eq = ember.quantize_per_tensor(ember.tensor(x), 0.1, 3, ember.quint8)
    assert ember.q_scale(eq) == torch.q_scale(tq)
    assert ember.q_zero_point(eq) == torch.q_zero_point(tq)
    np.testing.assert_array_equal(ember.int_repr(eq).numpy(), torch.int_repr(tq).numpy())
    scales, zps = [0.1, 0.2], [0, 1]
    tq = torch.quantize_per_channel(torch.tensor(x), torch.tensor(scales), torch.tensor(zps), 0,
                                    torch.qint8)
    eq = ember.quantize_per_channel(ember.tensor(x), ember.tensor(scales), ember.tensor(zps), 0,
                                    ember.qint8)
    assert ember.q_per_channel_axis(eq) == torch.q_per_channel_axis(tq)
    np.testing.assert_array_equal(ember.q_per_channel_scales(eq).numpy(),
                                  torch.q_per_channel_scales(tq).numpy())
    np.testing.assert_array_equal(ember.q_per_channel_zero_points(eq).numpy(),
                                  torch.q_per_channel_zero_points(tq).numpy())
    np.testing.assert_array_equal(ember.int_repr(eq).numpy(), torch.int_repr(tq).numpy())
    with pytest.raises(NotImplementedError, match="aten::q_scale' with arguments from the 'CPU'"):
        torch.q_scale(torch.ones(2))
    with pytest.raises(NotImplementedError, match="aten::q_scale' with arguments from the 'CPU'"):
        ember.q_scale(ember.ones(2))


COPIES = ["values_copy", "indices_copy", "crow_indices_copy", "col_indices_copy",
          "ccol_indices_copy", "row_indices_copy"]


@pytest.mark.parametrize("name", COPIES)
def test_sparse_copies_match_torch(name):
    dense = [[0.0, 1.0, 0.0], [2.0, 0.0, 3.0]]
    tdense, edense = torch.tensor(dense), ember.tensor(dense)
    for layout in ("coo", "csr", "csc", "strided"):
        def make(t, layout=layout):
            return {"coo": t.to_sparse, "csr": t.to_sparse_csr, "csc": t.to_sparse_csc,
                    "strided": lambda: t}[layout]()

        want = _outcome(getattr(torch, name), make(tdense))
        got = _outcome(getattr(ember, name), make(edense))
        if isinstance(want, torch.Tensor):
            np.testing.assert_array_equal(got.numpy(), want.numpy())
            source = getattr(make(edense), name[:-len("_copy")])()
            assert got._data is not source._data  # a copy, not the part itself
        else:
            assert got[0] is want[0], (layout, got, want)
            assert got[1][:50] == want[1][:50], (layout, got, want)


def test_slice_inverse_matches_torch():
    for size, index, dim, start, end, step in [((10,), (slice(2, 8, 2),), 0, 2, 8, 2),
                                               ((4, 3), (slice(None), slice(1, None)), 1, 1,
                                                None, 1),
                                               ((4, 3), (slice(1, 3),), 0, 1, 3, 1)]:
        tbase = torch.arange(float(np.prod(size))).reshape(size)
        ebase = ember.arange(float(np.prod(size))).reshape(size)
        t = torch.slice_inverse(tbase[index], tbase, dim, start, end, step)
        e = ember.slice_inverse(ebase[index], ebase, dim, start, end, step)
        assert tuple(e.shape) == tuple(t.shape) and e.stride() == t.stride()
        np.testing.assert_array_equal(e.numpy(), t.numpy())
        e.add_(1)  # a view of the base's storage
        np.testing.assert_array_equal(ebase.numpy(), tbase.numpy() + 1)


UNSTORABLE = ([f"int{n}" for n in range(1, 8)] + [f"uint{n}" for n in range(1, 8)]
              + ["bits8", "bits16", "bits1x8", "bits2x4", "bits4x2", "float4_e2m1fn_x2",
                 "complex32", "chalf"])


@pytest.mark.parametrize("name", UNSTORABLE)
def test_unstorable_dtype_objects_match_torch(name):
    e, t = getattr(ember, name), getattr(torch, name)
    assert repr(e) == repr(t) and str(e) == str(t)
    assert (e.itemsize, e.is_floating_point, e.is_complex) == (
        t.itemsize, t.is_floating_point, t.is_complex)
    if not name.startswith("bits"):  # PyTorch: "Bits types are undefined"
        assert e.is_signed == t.is_signed
    assert isinstance(e, ember.dtype)
    torch.empty(2, dtype=t)  # PyTorch's CPU makes uninitialized storage; ember refuses
    with pytest.raises(TypeError, match="NumPy has no such element type"):
        ember.empty(2, dtype=e)


def test_as_strided_views_report_their_storage_offset():
    for lib in (torch, ember):
        x = lib.arange(10.0)
        got = (lib.as_strided(x, (2, 2), (3, 1), 2).storage_offset(),
               x.as_strided((3,), (2,), 1).storage_offset(),
               lib.as_strided(x, (2, 2), (3, 1), 2)[1].storage_offset())
        assert got == (2, 1, 5)
