"""``ember.func``: torch.func's function transforms, built on ember's tape autograd.

``grad``, ``grad_and_value``, ``vjp``, ``jacrev``, ``jacfwd``, ``hessian`` differentiate
through the ordinary autograd graph (nesting works: ``grad(grad(f))``), ``vmap`` maps a
function over a batch dimension by calling it once per sample and stacking, and
``functional_call`` runs a module with substituted parameters. ``jacfwd`` computes the same
Jacobian as ``jacrev`` (ember has no forward-mode AD), so it is right but not faster for tall
Jacobians; ``vmap`` is right for functions without side effects but runs at Python speed.
"""
from __future__ import annotations

import functools

from ember._creation import zeros
from ember._tensor import Tensor
from ember.autograd import grad as _autograd_grad
from ember.autograd.grad_mode import enable_grad
from ember.nn.utils.stateless import _functional_call
from ember.ops.movement import stack

__all__ = ["functional_call", "grad", "grad_and_value", "hessian", "jacfwd", "jacrev", "vjp",
           "vmap"]


def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *,
                    tie_weights: bool = True, strict: bool = False):
    """Call ``module`` with the tensors of ``parameter_and_buffer_dicts`` (a dict, or a
    sequence of dicts with distinct keys, by dotted name) in place of its own.

    Example::

        >>> params = dict(model.named_parameters())
        >>> grads = ember.func.grad(lambda p: functional_call(model, p, (x,)).sum())(params)
    """
    return _functional_call(module, parameter_and_buffer_dicts, args, kwargs,
                            tie_weights=tie_weights, strict=strict)


# ---------------------------------------------------------------------------------------------
# pytrees of tensors: tuples, lists and dicts

def _flatten(tree) -> tuple:
    """(leaves, rebuild) with ``rebuild(new_leaves)`` giving the tree back."""
    if isinstance(tree, (tuple, list)):
        parts = [_flatten(t) for t in tree]
        leaves = [leaf for p in parts for leaf in p[0]]

        def rebuild(new):
            out, i = [], 0
            for p in parts:
                out.append(p[1](new[i:i + len(p[0])]))
                i += len(p[0])
            return type(tree)(out)
        return leaves, rebuild
    if isinstance(tree, dict):
        keys = list(tree)
        leaves, inner = _flatten([tree[k] for k in keys])
        return leaves, lambda new: dict(zip(keys, inner(new)))
    return [tree], lambda new: new[0]


def _track(tree) -> tuple:
    """The tree with every tensor made a differentiable input of the function to transform:
    an alias of a tensor an outer transform tracks, else a fresh leaf."""
    leaves, rebuild = _flatten(tree)
    tracked = [leaf.view_as(leaf) if leaf.requires_grad else leaf.detach().requires_grad_()
               for leaf in leaves]
    return rebuild(tracked), tracked, any(leaf.requires_grad for leaf in leaves)


def _argnums(argnums, n: int) -> tuple:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for i in nums:
        if not -n <= i < n:
            raise RuntimeError(f"Got argnums={argnums} but only {n} positional inputs")
    return tuple(i % n for i in nums)


def _grads(outputs, inputs, grad_outputs, keep_graph: bool) -> list:
    got = _autograd_grad(outputs, inputs, grad_outputs, retain_graph=True,
                         create_graph=True, allow_unused=True)
    out = [t.new_zeros(t.shape) if g is None else g for g, t in zip(got, inputs)]
    return out if keep_graph else [g.detach() for g in out]


def _finish(tree, keep_graph: bool):
    leaves, rebuild = _flatten(tree)
    return rebuild([x if keep_graph or not isinstance(x, Tensor) else x.detach()
                    for x in leaves])


def grad_and_value(func, argnums=0, has_aux: bool = False):
    """Like :func:`grad`, returning ``(gradient, value)`` (``(gradient, (value, aux))`` with
    ``has_aux``)."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        nums = _argnums(argnums, len(args))
        args = list(args)
        with enable_grad():
            tracked, outer = {}, False
            for i in nums:
                args[i], tracked[i], nested = _track(args[i])
                outer = outer or nested
            result = func(*args, **kwargs)
            if has_aux:
                if not (isinstance(result, tuple) and len(result) == 2):
                    raise RuntimeError("grad_and_value(f)(*args): output of function f should "
                                       "be a tuple: (output, aux) if has_aux is True")
                value, aux = result
            else:
                value = result
            if not isinstance(value, Tensor) or value.numel() != 1:
                dims = value.dim() if isinstance(value, Tensor) else type(value).__name__
                raise RuntimeError("grad_and_value(f)(*args): Expected f(*args) to return a "
                                   f"scalar Tensor, got tensor with {dims} dims. Maybe you "
                                   "wanted to use the vjp or jacrev APIs instead?")
            flat = [t for i in nums for t in tracked[i]]
            grads = _grads([value], flat, None, outer)
        per_arg, k = [], 0
        for i in nums:
            _, rebuild = _flatten(args[i])
            per_arg.append(rebuild(grads[k:k + len(tracked[i])]))
            k += len(tracked[i])
        g = per_arg[0] if isinstance(argnums, int) else tuple(per_arg)
        value = _finish(value, outer)
        return (g, (value, _finish(aux, outer))) if has_aux else (g, value)
    return wrapper


def grad(func, argnums=0, has_aux: bool = False):
    """The gradient of ``func`` (returning a one-element tensor) with respect to its
    positional argument(s) ``argnums`` (each a tensor or a tuple/list/dict of them).

    Example::

        >>> ember.func.grad(lambda x: (x ** 3).sum())(ember.tensor([1.0, 2.0]))
        tensor([ 3., 12.])
        >>> ember.func.grad(ember.func.grad(lambda x: x.sin()))(ember.tensor(0.5))  # -sin
        tensor(-0.4794)
    """
    transformed = grad_and_value(func, argnums, has_aux)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        g, value = transformed(*args, **kwargs)
        return (g, value[1]) if has_aux else g
    return wrapper


def vjp(func, *primals, has_aux: bool = False):
    """``(func(*primals), vjp_fn)``: ``vjp_fn(cotangents)`` gives the vector-Jacobian product
    for each primal (a tuple, one entry per primal)."""
    with enable_grad():
        tracked_args, tracked, outer = [], [], False
        for p in primals:
            tree, leaves, nested = _track(p)
            tracked_args.append(tree)
            tracked.append(leaves)
            outer = outer or nested
        result = func(*tracked_args)
    if has_aux:
        result, aux = result
    out_leaves, _ = _flatten(result)

    def vjp_fn(cotangents):
        ct_leaves, _ = _flatten(cotangents)
        if len(ct_leaves) != len(out_leaves):
            raise RuntimeError("Expected pytree structure of cotangents to be the same as "
                               "pytree structure of outputs to the function")
        flat = [t for leaves in tracked for t in leaves]
        with enable_grad():
            grads = _grads(out_leaves, flat, ct_leaves, outer)
        per_primal, k = [], 0
        for p, leaves in zip(primals, tracked):
            _, rebuild = _flatten(p)
            per_primal.append(rebuild(grads[k:k + len(leaves)]))
            k += len(leaves)
        return tuple(per_primal)

    output = _finish(result, outer)
    return (output, vjp_fn, _finish(aux, outer)) if has_aux else (output, vjp_fn)


def jacrev(func, argnums=0, *, has_aux: bool = False, chunk_size=None):
    """The Jacobian of ``func`` (one output tensor) with respect to ``argnums``, one reverse
    pass per output element: shape ``output.shape + input.shape``."""
    @functools.wraps(func)
    def wrapper(*args):
        nums = _argnums(argnums, len(args))

        def selected(*chosen):
            full = list(args)
            for i, value in zip(nums, chosen):
                full[i] = value
            return func(*full)
        out, fn, *aux = vjp(selected, *(args[i] for i in nums), has_aux=has_aux)
        rows = []
        for k in range(out.numel()):
            basis = zeros(out.numel(), dtype=out.dtype, device=out.device)
            basis[k] = 1
            rows.append(fn(basis.reshape(out.shape)))
        jacobians = []
        for j, i in enumerate(nums):
            arg = args[i]
            if rows:
                jac = stack([r[j] for r in rows]).reshape(*out.shape, *arg.shape)
            else:
                jac = arg.new_zeros((*out.shape, *arg.shape))
            jacobians.append(jac)
        result = jacobians[0] if isinstance(argnums, int) else tuple(jacobians)
        return (result, aux[0]) if has_aux else result
    return wrapper


def jacfwd(func, argnums=0, has_aux: bool = False, *, randomness: str = "error"):
    """The Jacobian of ``func``, as :func:`jacrev` computes it (ember has no forward mode)."""
    return jacrev(func, argnums, has_aux=has_aux)


def hessian(func, argnums=0):
    """The Hessian of a scalar ``func``: the Jacobian of its gradient."""
    return jacfwd(jacrev(func, argnums), argnums)


def vmap(func, in_dims=0, out_dims=0, randomness: str = "error", *, chunk_size=None):
    """``func`` mapped over dim ``in_dims`` of its inputs (None: not mapped; a tuple: per
    argument), outputs stacked along ``out_dims``. It calls ``func`` once per sample.

    Example::

        >>> ember.func.vmap(ember.dot)(ember.ones(5, 3), ember.ones(5, 3))
        tensor([3., 3., 3., 3., 3.])
    """
    @functools.wraps(func)
    def wrapper(*args):
        dims = in_dims if isinstance(in_dims, (tuple, list)) else (in_dims,) * len(args)
        if len(dims) != len(args):
            raise ValueError(f"vmap: in_dims is not compatible with the structure of inputs: "
                             f"{len(dims)} in_dims for {len(args)} inputs")
        sizes = {a.shape[d] for a, d in zip(args, dims) if d is not None}
        if len(sizes) != 1:
            raise ValueError("vmap: Expected all tensors to have the same size in the mapped "
                             f"dimension, got sizes {sorted(sizes)} for the mapped dimension"
                             if sizes else "vmap: at least one input must be mapped")
        (size,) = sizes
        results = [func(*(a.select(d, b) if d is not None else a for a, d in zip(args, dims)))
                   for b in range(size)]
        if isinstance(results[0], tuple):
            outs = out_dims if isinstance(out_dims, (tuple, list)) else \
                (out_dims,) * len(results[0])
            return tuple(stack([r[k] for r in results], outs[k])
                         for k in range(len(results[0])))
        return stack(results, out_dims)
    return wrapper
