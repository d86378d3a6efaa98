"""ember.fft against torch.fft: values, dtypes and gradients of every transform, with n/s
cropping and padding, dims and the three normalisations."""
import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)
X = RNG.standard_normal((4, 6, 5))
Z = X + 1j * RNG.standard_normal((4, 6, 5))

CASES = [
    ("fft", Z, {}), ("fft", X, dict(n=8, dim=1)), ("ifft", Z, dict(n=3)),
    ("rfft", X, {}), ("rfft", X, dict(n=7, dim=0)), ("irfft", Z, {}),
    ("irfft", Z, dict(n=9, dim=1)), ("hfft", Z, {}), ("hfft", Z, dict(n=7)), ("ihfft", X, {}),
    ("fft2", Z, {}), ("ifft2", Z, dict(s=(3, 7))), ("rfft2", X, {}),
    ("irfft2", Z, dict(s=(5, 8))), ("fftn", Z, {}), ("fftn", X, dict(s=(5, 4), dim=(0, 2))),
    ("ifftn", Z, dict(dim=(1,))), ("rfftn", X, {}), ("irfftn", Z, {}), ("hfft2", Z, {}),
    ("ihfft2", X, {}), ("hfftn", Z, dict(s=(4, 6, 9))), ("ihfftn", X, {}),
]


@pytest.mark.parametrize("norm", [None, "ortho", "forward"])
@pytest.mark.parametrize("name,value,kwargs", CASES,
                         ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(CASES)])
def test_transform_and_gradient_match_torch(name, value, kwargs, norm):
    results = {}
    for lib in (ember, torch):
        a = lib.tensor(value, requires_grad=True)
        y = getattr(lib.fft, name)(a, norm=norm, **kwargs)
        w = np.random.default_rng(1).standard_normal(tuple(y.shape) + (2,))
        weight = lib.tensor(w[..., 0] + 1j * w[..., 1] if y.is_complex() else w[..., 0])
        ((y * weight).real if y.is_complex() else y * weight).sum().backward()
        out = y.detach().resolve_conj() if lib is torch else y.detach()
        grad = a.grad.resolve_conj() if lib is torch else a.grad
        results[lib.__name__] = (out.numpy(), str(y.dtype), grad.numpy())
    (ey, edt, eg), (ty, tdt, tg) = results["ember"], results["torch"]
    assert edt == tdt
    np.testing.assert_allclose(ey, ty, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(eg, tg, rtol=1e-10, atol=1e-10)


def test_single_precision_and_errors():
    x = np.random.default_rng(2).standard_normal(8).astype(np.float32)
    for lib in (ember, torch):
        assert str(lib.fft.rfft(lib.tensor(x)).dtype).endswith("complex64")
        assert str(lib.fft.irfft(lib.fft.rfft(lib.tensor(x))).dtype).endswith("float32")
        with pytest.raises(RuntimeError, match="rfft expects a real input tensor"):
            lib.fft.rfft(lib.tensor(x.astype(np.complex64)))
