"""gradcheck / gradgradcheck: analytical gradients against central finite differences."""
from __future__ import annotations

import numpy as np

from ember._tensor import Tensor, _make
from ember.autograd.grad_mode import no_grad


class GradcheckError(RuntimeError):
    pass


def _as_tuple(x):
    return x if isinstance(x, tuple) else (x,)


def _differentiable_outputs(fn, inputs):
    return [o for o in _as_tuple(fn(*inputs)) if isinstance(o, Tensor) and o.requires_grad]


def _numerical_jacobian(fn, inputs, wrt, output_index, eps):
    """d output[output_index] / d inputs[wrt], by central differences (as a 2-d array)."""
    x = inputs[wrt]
    flat = x._data.reshape(-1)
    with no_grad():
        out0 = _as_tuple(fn(*inputs))[output_index]
    jac = np.zeros((flat.size, out0.numel()), dtype=np.result_type(flat.dtype, np.float64))
    for i in range(flat.size):
        orig = flat[i].item()
        flat[i] = orig + eps
        with no_grad():
            plus = np.array(_as_tuple(fn(*inputs))[output_index]._data, copy=True)
        flat[i] = orig - eps
        with no_grad():
            minus = np.array(_as_tuple(fn(*inputs))[output_index]._data, copy=True)
        flat[i] = orig
        jac[i] = ((plus - minus) / (2 * eps)).reshape(-1)
    return jac


def _analytical_jacobian(fn, inputs, wrt_list, output_index):
    from ember.autograd import grad as autograd_grad
    out = _differentiable_outputs(fn, inputs)[output_index]
    jacs = [np.zeros((inputs[w].numel(), out.numel())) for w in wrt_list]
    for j in range(out.numel()):
        seed = np.zeros(out.numel(), out._data.dtype)
        seed[j] = 1
        grads = autograd_grad(out, [inputs[w] for w in wrt_list],
                              _make(seed.reshape(out._data.shape)), retain_graph=True,
                              allow_unused=True)
        for k, g in enumerate(grads):
            if g is not None:
                jacs[k][:, j] = np.asarray(g._data).reshape(-1)
    return jacs


def gradcheck(func, inputs, *, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True, **kwargs) -> bool:
    """Check the gradients of ``func`` at ``inputs`` (float64 tensors that require grad)."""
    inputs = _as_tuple(inputs)
    wrt = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    for i in wrt:
        if inputs[i].dtype.name not in ("float64", "complex128"):
            import warnings
            warnings.warn("Input #%d requires gradient and is not a double precision floating "
                          "point. This check will likely fail if all the inputs are not of "
                          "double precision floating point." % i, stacklevel=2)
    n_out = len(_differentiable_outputs(func, inputs))
    for o in range(n_out):
        analytical = _analytical_jacobian(func, inputs, wrt, o)
        for k, w in enumerate(wrt):
            numerical = _numerical_jacobian(func, inputs, w, o, eps)
            if not np.allclose(analytical[k], numerical, rtol=rtol, atol=atol):
                if not raise_exception:
                    return False
                raise GradcheckError(
                    f"Jacobian mismatch for output {o} with respect to input {w},\n"
                    f"numerical:{numerical}\nanalytical:{analytical[k]}\n")
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps: float = 1e-6, atol: float = 1e-5,
                  rtol: float = 1e-3, raise_exception: bool = True, **kwargs) -> bool:
    """Check second derivatives: gradcheck of the function that maps inputs to their grads."""
    from ember.autograd import grad as autograd_grad
    inputs = _as_tuple(inputs)
    outs = _differentiable_outputs(func, inputs)
    rng = np.random.default_rng(0)
    if grad_outputs is None:
        grad_outputs = tuple(_make(rng.standard_normal(o._data.shape)).requires_grad_()
                             for o in outs)
    grad_outputs = _as_tuple(grad_outputs)
    n = len(inputs)

    def first_grads(*args):
        xs, gos = args[:n], args[n:]
        diff = [x for x in xs if isinstance(x, Tensor) and x.requires_grad]
        outs_ = _differentiable_outputs(func, xs)
        grads = autograd_grad(outs_, diff, gos, create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None)
    return gradcheck(first_grads, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
