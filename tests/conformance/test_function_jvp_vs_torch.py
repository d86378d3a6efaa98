"""Custom ``Function.jvp`` under forward-mode AD, and ``gradcheck(check_forward_ad=...)``,
against PyTorch: the same Functions give the same tangents, jvp arguments and errors."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import torch.autograd.forward_ad as tfw  # noqa: E402

import ember  # noqa: E402
import ember.autograd.forward_ad as efw  # noqa: E402

rng = np.random.default_rng(0)
LIBS = [(torch, tfw), (ember, efw)]


def _functions(lib):
    class Scale(lib.autograd.Function):  # the save_for_forward example of PyTorch's docs
        @staticmethod
        def forward(ctx, x, y, z):
            ctx.save_for_backward(x, y)
            ctx.save_for_forward(x, y)
            ctx.z = z
            return x * y * z

        @staticmethod
        def jvp(ctx, x_t, y_t, _):
            x, y = ctx.saved_tensors
            return ctx.z * (y * x_t + x * y_t)

        @staticmethod
        def backward(ctx, grad):
            x, y = ctx.saved_tensors
            return ctx.z * grad * y, ctx.z * grad * x, None

    class Exp(lib.autograd.Function):  # the forward-mode AD tutorial's Fn: no backward
        @staticmethod
        def forward(ctx, foo):
            result = lib.exp(foo)
            ctx.result = result
            return result

        @staticmethod
        def jvp(ctx, g):
            out = g * ctx.result
            del ctx.result
            return out

    class SinCos(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_forward(x)
            return x.sin(), x.cos()

        @staticmethod
        def jvp(ctx, x_t):
            (x,) = ctx.saved_tensors
            return x_t * x.cos(), -x_t * x.sin()

    class WrongJvp(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x.sin()

        @staticmethod
        def jvp(ctx, x_t):
            return x_t

        @staticmethod
        def backward(ctx, grad):
            return grad

    return {"scale": Scale, "exp": Exp, "sincos": SinCos, "wrong": WrongJvp}


X = rng.uniform(0.2, 1.5, 4)
Y = rng.uniform(0.2, 1.5, 4)
TX = rng.standard_normal(4)
TY = rng.standard_normal(4)

CASES = {
    "scale_both": lambda F, lib, x, y: F["scale"].apply(x, y, 3),
    "scale_composed": lambda F, lib, x, y: (F["scale"].apply(x.sin(), y, 2) * x).exp(),
    "exp": lambda F, lib, x, y: F["exp"].apply(x * y),
    "exp_then_ops": lambda F, lib, x, y: F["exp"].apply(x).sum() * y,
    "sincos": lambda F, lib, x, y: F["sincos"].apply(x)[0] * F["sincos"].apply(y)[1],
    "wrong": lambda F, lib, x, y: F["wrong"].apply(x) + y,
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("only_x", [False, True], ids=["both_dual", "x_dual"])
def test_tangents_match_torch(case, only_x):
    results = []
    for lib, fw in LIBS:
        F = _functions(lib)
        with fw.dual_level():
            x = fw.make_dual(lib.tensor(X), lib.tensor(TX))
            y = lib.tensor(Y) if only_x else fw.make_dual(lib.tensor(Y), lib.tensor(TY))
            primal, tangent = fw.unpack_dual(CASES[case](F, lib, x, y))
            results.append((primal.detach().numpy(), tangent.detach().numpy()))
    (tp, tt), (ep, et) = results
    np.testing.assert_allclose(ep, tp, rtol=1e-12)
    np.testing.assert_allclose(et, tt, rtol=1e-12)


@pytest.mark.parametrize("lib,fw", LIBS, ids=["torch", "ember"])
def test_jvp_arguments(lib, fw):
    seen = {}

    class Probe(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, y, n):
            ctx.save_for_backward(x)
            return x * y * n

        @staticmethod
        def jvp(ctx, x_t, y_t, n_t):
            seen["tangents"] = (x_t.tolist(), y_t.tolist(), n_t)
            seen["saved"] = ctx.saved_tensors  # only save_for_forward's tensors
            return x_t * 0

    with fw.dual_level():
        x = fw.make_dual(lib.tensor([1.0, 2.0]), lib.tensor([1.0, 1.0]))
        Probe.apply(x, lib.tensor([3.0, 4.0]), 2)
    assert seen == {"tangents": ([1.0, 1.0], [0.0, 0.0], None), "saved": ()}


def _gradcheck_outcome(lib, name, **kwargs):
    F = _functions(lib)
    x = lib.tensor(X, requires_grad=True)
    fn = {"sin": lib.sin, "scale": lambda t: F["scale"].apply(t, t * 2, 3),
          "exp": F["exp"].apply, "wrong": F["wrong"].apply}[name]
    try:
        return lib.autograd.gradcheck(fn, (x,), **kwargs)
    except Exception as exc:  # the error type and the first line are compared
        return type(exc).__name__, str(exc).splitlines()[0]


@pytest.mark.parametrize("name,kwargs", [
    ("sin", {"check_forward_ad": True}),
    ("sin", {"check_forward_ad": True, "check_backward_ad": False}),
    ("scale", {"check_forward_ad": True}),
    ("exp", {"check_forward_ad": True, "check_backward_ad": False}),
    ("wrong", {"check_forward_ad": True, "check_backward_ad": False}),
    ("wrong", {"check_forward_ad": False}),
    ("wrong", {"check_forward_ad": True, "check_backward_ad": False,
               "raise_exception": False}),
    ("sin", {"check_forward_ad": False, "check_backward_ad": False}),
])
def test_gradcheck_forward_ad_matches_torch(name, kwargs):
    assert _gradcheck_outcome(ember, name, **kwargs) == _gradcheck_outcome(torch, name, **kwargs)
