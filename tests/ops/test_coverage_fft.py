"""ember.fft against numpy.fft: values, PyTorch's dtypes (complex64 from float32 and integer
inputs), the n/s/dim/norm arguments, frequencies and shifts."""
import numpy as np
import pytest

import ember

rng = np.random.default_rng(4)
X = rng.standard_normal((4, 6))
Z = X + 1j * rng.standard_normal((4, 6))


@pytest.mark.parametrize("name,data,kwargs,np_kwargs", [
    ("fft", X, {}, {}),
    ("fft", Z, {"n": 8, "dim": 0, "norm": "ortho"}, {"n": 8, "axis": 0, "norm": "ortho"}),
    ("ifft", Z, {"norm": "forward"}, {"norm": "forward"}),
    ("rfft", X, {"n": 5}, {"n": 5}),
    ("irfft", Z, {"n": 9}, {"n": 9}),
    ("hfft", Z, {}, {}),
    ("ihfft", X, {}, {}),
])
def test_one_dimensional_transforms(name, data, kwargs, np_kwargs):
    got = getattr(ember.fft, name)(ember.tensor(data), **kwargs).numpy()
    np.testing.assert_allclose(got, getattr(np.fft, name)(data, **np_kwargs), atol=1e-12)


@pytest.mark.parametrize("name", ["fft2", "ifft2", "rfft2", "fftn", "ifftn", "rfftn"])
def test_multi_dimensional_transforms(name):
    data = X if name.startswith("r") else Z
    np_name = name.replace("2", "n")
    got = getattr(ember.fft, name)(ember.tensor(data)).numpy()
    np.testing.assert_allclose(got, getattr(np.fft, np_name)(data, axes=(-2, -1)), atol=1e-12)
    got = getattr(ember.fft, name)(ember.tensor(data), s=(3, 4)).numpy()
    np.testing.assert_allclose(got, getattr(np.fft, np_name)(data, s=(3, 4), axes=(-2, -1)),
                               atol=1e-12)
    np.testing.assert_allclose(ember.fft.irfftn(ember.tensor(Z)).numpy(), np.fft.irfftn(Z),
                               atol=1e-12)


def test_dtypes_follow_pytorch():
    assert ember.fft.fft(ember.ones(4)).dtype is ember.complex64
    assert ember.fft.fft(ember.tensor([1, 2, 3])).dtype is ember.complex64
    assert ember.fft.fft(ember.ones(4, dtype=ember.float64)).dtype is ember.complex128
    assert ember.fft.irfft(ember.fft.rfft(ember.ones(4))).dtype is ember.float32
    with pytest.raises(RuntimeError):
        ember.fft.fft(ember.ones(4), norm="bad")


def test_frequencies_and_shifts():
    np.testing.assert_allclose(ember.fft.fftfreq(5, 0.1).numpy(), np.fft.fftfreq(5, 0.1))
    np.testing.assert_allclose(ember.fft.rfftfreq(6).numpy(), np.fft.rfftfreq(6))
    assert ember.fft.fftfreq(4).dtype is ember.float32
    a = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(ember.fft.fftshift(ember.tensor(a)).numpy(), np.fft.fftshift(a))
    np.testing.assert_array_equal(ember.fft.ifftshift(ember.tensor(a), dim=1).numpy(),
                                  np.fft.ifftshift(a, axes=1))
