"""gradcheck / gradgradcheck: analytical gradients against central finite differences."""
from __future__ import annotations

import warnings

import numpy as np

from ember._tensor import Tensor, _make
from ember.autograd.grad_mode import enable_grad, no_grad
from ember.dtypes import float64


class GradcheckError(RuntimeError):
    """Raised by gradcheck when analytical and numerical gradients disagree."""


def _as_tuple(x):
    # PyTorch takes a list of inputs (or outputs) as the tuple of its items.
    if isinstance(x, tuple):
        return x
    return tuple(x) if isinstance(x, list) else (x,)


def _host(t: Tensor) -> np.ndarray:
    return np.asarray(t.detach().cpu().numpy(), dtype=np.float64)


def _differentiable_outputs(fn, inputs):
    return [o for o in _as_tuple(fn(*inputs)) if isinstance(o, Tensor) and o.requires_grad]


def _evaluate(fn, inputs, output_index) -> np.ndarray:
    with no_grad():
        outs = [o for o in _as_tuple(fn(*inputs)) if isinstance(o, Tensor)
                and (o.dtype.is_floating_point or o.dtype.is_complex)]
    return _host(outs[output_index]).reshape(-1).copy()


def _numerical_jacobian(fn, inputs, wrt, output_index, eps):
    """d output[output_index] / d inputs[wrt] by central differences, shaped (in, out)."""
    data = inputs[wrt]._data  # perturbed in place, element by element (works for any strides)
    columns = []
    for idx in np.ndindex(*data.shape):
        orig = data[idx].item()
        data[idx] = orig + eps
        plus = _evaluate(fn, inputs, output_index)
        data[idx] = orig - eps
        minus = _evaluate(fn, inputs, output_index)
        data[idx] = orig
        columns.append((plus - minus) / (2 * eps))
    n_out = _evaluate(fn, inputs, output_index).size
    return np.stack(columns) if columns else np.zeros((0, n_out))


def _analytical_jacobian(fn, inputs, wrt_list, output_index):
    from ember.autograd import grad as autograd_grad
    with enable_grad():
        out = _differentiable_outputs(fn, inputs)[output_index]
    jacs = [np.zeros((inputs[w].numel(), out.numel())) for w in wrt_list]
    for j in range(out.numel()):
        seed = out._xp.zeros(out.numel(), out._data.dtype)
        seed[j] = 1
        grads = autograd_grad(out, [inputs[w] for w in wrt_list],
                              _make(seed.reshape(out._data.shape)), retain_graph=True,
                              allow_unused=True)
        for k, g in enumerate(grads):
            if g is not None:
                jacs[k][:, j] = _host(g).reshape(-1)
    return jacs


def _forward_jacobian(fn, inputs, wrt, output_index):
    """d output[output_index] / d inputs[wrt] by forward-mode AD, one tangent per input
    element, shaped (in, out). The other inputs are detached: only their values matter."""
    from ember.autograd import forward_ad as fwAD
    x = inputs[wrt]
    args = [a.detach() if isinstance(a, Tensor) else a for a in inputs]
    columns = []
    for j in range(x.numel()):
        seed = x._xp.zeros(x.numel(), x._data.dtype)
        seed[j] = 1
        with fwAD.dual_level():
            args[wrt] = fwAD.make_dual(args[wrt].detach(), _make(seed.reshape(x._data.shape)))
            out = [o for o in _as_tuple(fn(*args)) if isinstance(o, Tensor)
                   and (o.dtype.is_floating_point or o.dtype.is_complex)][output_index]
            tangent = fwAD.unpack_dual(out).tangent
            columns.append(np.zeros(out.numel()) if tangent is None
                           else _host(tangent).reshape(-1))
    return np.stack(columns) if columns else np.zeros((0, 0))


def _fmt(jac: np.ndarray) -> str:
    from ember._creation import tensor
    return repr(tensor(jac, dtype=None))


def gradcheck(func, inputs, *, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True, check_forward_ad: bool = False,
              check_backward_ad: bool = True, **kwargs) -> bool:
    """Check the gradients of ``func`` at ``inputs`` against central finite differences.

    Args:
        func: a function of Tensors returning a Tensor or a tuple of Tensors.
        inputs: a Tensor or tuple of inputs; those that require grad are checked (use float64).
        eps, atol, rtol: perturbation size and tolerances.
        raise_exception: raise ``GradcheckError`` on a mismatch instead of returning False.
        check_forward_ad: also check the Jacobians forward-mode AD gives (dual tensors).
        check_backward_ad: check the Jacobians reverse-mode AD gives.

    Returns:
        True when every Jacobian matches.
    """
    if not (check_forward_ad or check_backward_ad):
        raise AssertionError("Expected at least one of check_forward_ad or check_backward_ad to "
                             "be True")
    inputs = _as_tuple(inputs)
    wrt = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not wrt:
        raise ValueError("gradcheck expects at least one input tensor to require gradient, but "
                         "none of the them have requires_grad=True.")
    for i in wrt:
        if inputs[i].dtype.name not in ("float64", "complex128"):
            warnings.warn(f"Input #{i} requires gradient and is not a double precision floating "
                          "point or complex. This check will likely fail if all the inputs are "
                          "not of double precision floating point or complex. ", stacklevel=2)
    with enable_grad():
        n_out = len(_differentiable_outputs(func, inputs))
    for o in range(n_out):
        analytical = _analytical_jacobian(func, inputs, wrt, o) if check_backward_ad else None
        for k, w in enumerate(wrt):
            numerical = _numerical_jacobian(func, inputs, w, o, eps)
            checks = []
            if check_backward_ad:
                checks.append(("Jacobian", analytical[k]))
            if check_forward_ad:
                checks.append(("Jacobian computed with forward mode",
                               _forward_jacobian(func, inputs, w, o)))
            for what, jac in checks:
                if np.allclose(jac, numerical, rtol=rtol, atol=atol):
                    continue
                if not raise_exception:
                    return False
                raise GradcheckError(
                    f"{what} mismatch for output {o} with respect to input {w},\n"
                    f"numerical:{_fmt(numerical)}\nanalytical:{_fmt(jac)}\n")
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps: float = 1e-6, atol: float = 1e-5,
                  rtol: float = 1e-3, gen_non_contig_grad_outputs: bool = False,
                  raise_exception: bool = True, **kwargs) -> bool:
    """Check second derivatives: gradcheck of the map (inputs, grad_outputs) -> input grads.

    Without ``grad_outputs``, each differentiable output gets a random one in [-1, 1) of its
    shape (float64 for a non-floating output), drawn by ``make_tensor`` from the default
    generator as PyTorch's are; ``gen_non_contig_grad_outputs`` makes them non-contiguous.
    """
    from ember.autograd import grad as autograd_grad
    from ember.testing import make_tensor
    inputs = _as_tuple(inputs)
    if grad_outputs is None:
        with enable_grad():
            outs = _differentiable_outputs(func, inputs)
        grad_outputs = tuple(
            make_tensor(o.shape, device=o.device, low=-1, high=1, requires_grad=True,
                        dtype=o.dtype if o.is_floating_point() or o.is_complex() else float64,
                        noncontiguous=gen_non_contig_grad_outputs)
            for o in outs)
    grad_outputs = _as_tuple(grad_outputs)
    n = len(inputs)

    def first_grads(*args):
        xs, gos = args[:n], args[n:]
        diff = [x for x in xs if isinstance(x, Tensor) and x.requires_grad]
        # The numerical pass runs under no_grad; the first derivative still needs a graph.
        with enable_grad():
            outs_ = _differentiable_outputs(func, xs)
            grads = autograd_grad(outs_, diff, gos, create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None)
    return gradcheck(first_grads, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
