"""``ember.func``: torch.func's function transforms, built on ember's tape autograd.

``grad``, ``grad_and_value``, ``vjp``, ``jacrev``, ``jacfwd``, ``hessian`` differentiate
through the ordinary autograd graph (nesting works: ``grad(grad(f))``), ``vmap`` maps a
function over a batch dimension by calling it once per sample and stacking, and
``functional_call`` runs a module with substituted parameters; ``jvp`` and ``linearize``
differentiate a vector-Jacobian product with respect to its vector. ``jacfwd`` computes the
same Jacobian as ``jacrev`` (ember has no per-op forward-mode rules), so it is right but not
faster for tall Jacobians; ``vmap`` is right for functions without side effects but runs at
Python speed.
"""
from __future__ import annotations

import functools

import ember.autograd as _autograd
from ember._tensor import Tensor
from ember.autograd import grad as _autograd_grad
from ember.autograd.grad_mode import enable_grad, is_grad_enabled
from ember.nn.utils.stateless import _functional_call
from ember.ops.movement import stack

__all__ = ["functional_call", "functionalize", "grad", "grad_and_value", "hessian", "jacfwd",
           "jacrev", "jvp", "linearize", "replace_all_batch_norm_modules_", "stack_module_state",
           "vjp", "vmap"]


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
    an alias of a tensor an outer transform tracks, else a fresh leaf. Callers keep results
    differentiable for that outer level (``nested``) only where grad mode was on when they
    made them: PyTorch's transforms under ``no_grad`` give results that do not require grad."""
    leaves, rebuild = _flatten(tree)
    tracked = [leaf.view_as(leaf) if leaf.requires_grad else leaf.detach().requires_grad_()
               for leaf in leaves]
    return rebuild(tracked), tracked, any(leaf.requires_grad for leaf in leaves)


def _track_all(primals) -> tuple:
    """``_track`` for each primal: (trees, each one's tracked leaves, any nested)."""
    trees, tracked, outer = [], [], False
    for p in primals:
        tree, leaves, nested = _track(p)
        trees.append(tree)
        tracked.append(leaves)
        outer = outer or nested
    return trees, tracked, outer


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
        recording = is_grad_enabled()
        with enable_grad():
            tracked, outer = {}, False
            for i in nums:
                args[i], tracked[i], nested = _track(args[i])
                outer = outer or (nested and recording)
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
    recording = is_grad_enabled()
    with enable_grad():
        tracked_args, tracked, outer = _track_all(primals)
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
        keep_graph = outer and is_grad_enabled()
        with enable_grad():
            grads = _grads(out_leaves, flat, ct_leaves, keep_graph)
        per_primal, k = [], 0
        for p, leaves in zip(primals, tracked):
            _, rebuild = _flatten(p)
            per_primal.append(rebuild(grads[k:k + len(leaves)]))
            k += len(leaves)
        return tuple(per_primal)

    output = _finish(result, outer and recording)
    return ((output, vjp_fn, _finish(aux, outer and recording)) if has_aux
            else (output, vjp_fn))


def jacrev(func, argnums=0, *, has_aux: bool = False, chunk_size=None):
    """The Jacobian of ``func`` with respect to its positional argument(s) ``argnums``, one
    reverse pass per output element. Inputs and outputs may be pytrees (tuples, lists, dicts
    of tensors, e.g. a model's parameter dict): the result has the output's structure, each
    output leaf holding the input's structure, with leaves of shape
    ``output_leaf.shape + input_leaf.shape``."""
    @functools.wraps(func)
    def wrapper(*args):
        nums = _argnums(argnums, len(args))

        def selected(*chosen):
            full = list(args)
            for i, value in zip(nums, chosen):
                full[i] = value
            return func(*full)
        out, fn, *aux = vjp(selected, *(args[i] for i in nums), has_aux=has_aux)
        out_leaves, rebuild_out = _flatten(out)
        per_output = []
        for o, target in enumerate(out_leaves):
            rows = []  # one vjp per element of this output leaf: a row of its Jacobian
            for k in range(target.numel()):
                cotangents = [x.new_zeros(x.shape) for x in out_leaves]
                cotangents[o].view(-1)[k] = 1
                rows.append(fn(rebuild_out(cotangents)))
            jacobians = []
            for j, i in enumerate(nums):
                leaves, rebuild = _flatten(args[i])
                row_leaves = [_flatten(r[j])[0] for r in rows]
                jacobians.append(rebuild([
                    stack([r[m] for r in row_leaves]).reshape(*target.shape, *leaf.shape)
                    if rows else leaf.new_zeros((*target.shape, *leaf.shape))
                    for m, leaf in enumerate(leaves)]))
            per_output.append(jacobians[0] if isinstance(argnums, int) else tuple(jacobians))
        result = rebuild_out(per_output)
        return (result, aux[0]) if has_aux else result
    return wrapper


def jacfwd(func, argnums=0, has_aux: bool = False, *, randomness: str = "error"):
    """The Jacobian of ``func``, as :func:`jacrev` computes it (ember has no forward mode)."""
    return jacrev(func, argnums, has_aux=has_aux)


def hessian(func, argnums=0):
    """The Hessian of a scalar ``func``: the Jacobian of its gradient."""
    return jacfwd(jacrev(func, argnums), argnums)


def _mapped_leaves(arg, dim) -> list:
    """(leaf, dim) for the tensors of ``arg`` that ``dim`` (an int, None, or a pytree of them
    shaped like ``arg``) maps."""
    if dim is None:
        return []
    if isinstance(dim, int):
        return [(leaf, dim) for leaf in _flatten(arg)[0] if isinstance(leaf, Tensor)]
    if isinstance(dim, dict) and isinstance(arg, dict):
        return [m for k in arg for m in _mapped_leaves(arg[k], dim.get(k))]
    if isinstance(dim, (tuple, list)) and isinstance(arg, (tuple, list)) and len(dim) == len(arg):
        return [m for a, d in zip(arg, dim) for m in _mapped_leaves(a, d)]
    raise ValueError(f"vmap: in_dims is not compatible with the structure of inputs: {dim!r} "
                     f"for an input of type {type(arg).__name__}")


def _stack_outputs(results: list, out_dims):
    """The per-sample outputs (pytrees of tensors) stacked along ``out_dims``."""
    first = results[0]
    if isinstance(first, Tensor):
        return stack(results, out_dims)
    if isinstance(first, dict):
        dims = out_dims if isinstance(out_dims, dict) else {k: out_dims for k in first}
        return {k: _stack_outputs([r[k] for r in results], dims[k]) for k in first}
    if isinstance(first, (tuple, list)):
        dims = out_dims if isinstance(out_dims, (tuple, list)) else (out_dims,) * len(first)
        return type(first)(_stack_outputs([r[k] for r in results], dims[k])
                           for k in range(len(first)))
    raise ValueError(f"vmap: the function must return tensors (or tuples, lists, dicts of "
                     f"them), got {type(first).__name__}")


def vmap(func, in_dims=0, out_dims=0, randomness: str = "error", *, chunk_size=None):
    """``func`` mapped over dim ``in_dims`` of its inputs, outputs stacked along ``out_dims``.

    ``in_dims`` is an int or None (every input), or one entry per positional input, each an
    int, None (not mapped) or a pytree of them shaped like that input (tuples, lists, dicts of
    tensors, e.g. a model's parameter dict); keyword arguments are not mapped. Outputs may be
    pytrees. It calls ``func`` once per sample.

    Example::

        >>> ember.func.vmap(ember.dot)(ember.ones(5, 3), ember.ones(5, 3))
        tensor([3., 3., 3., 3., 3.])
    """
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        dims = in_dims if isinstance(in_dims, (tuple, list)) else (in_dims,) * len(args)
        if len(dims) != len(args):
            raise ValueError(f"vmap: in_dims is not compatible with the structure of inputs: "
                             f"{len(dims)} in_dims for {len(args)} inputs")
        mapped = [_mapped_leaves(a, d) for a, d in zip(args, dims)]
        sizes = {leaf.shape[d] for leaves in mapped for leaf, d in leaves}
        if len(sizes) != 1:
            raise ValueError("vmap: Expected all tensors to have the same size in the mapped "
                             f"dimension, got sizes {sorted(sizes)} for the mapped dimension"
                             if sizes else "vmap: at least one input must be mapped")
        (size,) = sizes
        results = []
        _autograd._vmap_depth += 1  # see NOTE [ vmap runs its function once per sample ]
        try:
            for b in range(size):
                sample = []
                for arg, leaves in zip(args, mapped):
                    chosen = {id(leaf): leaf.select(d, b) for leaf, d in leaves}
                    flat, rebuild = _flatten(arg)
                    sample.append(rebuild([chosen.get(id(x), x) for x in flat])
                                  if chosen else arg)
                results.append(func(*sample, **kwargs))
        finally:
            _autograd._vmap_depth -= 1
        return _stack_outputs(results, out_dims)
    return wrapper


def jvp(func, primals, tangents, *, strict: bool = False, has_aux: bool = False):
    """``(func(*primals), J @ tangents)``: the Jacobian-vector product of ``func`` at
    ``primals`` (a tuple of tensors or pytrees of them) along ``tangents`` (same structure),
    by differentiating a vector-Jacobian product with respect to its vector.

    Example::

        >>> ember.func.jvp(ember.sin, (ember.tensor(0.0),), (ember.tensor(2.0),))
        (tensor(0.), tensor(2.))
    """
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise RuntimeError("jvp(f, primals, tangents): Expected primals and tangents to be "
                           "tuples")
    output, jvp_fn, *aux = linearize(func, *primals, has_aux=has_aux)
    result = jvp_fn(*tangents)
    return (output, result, aux[0]) if has_aux else (output, result)


def linearize(func, *primals, has_aux: bool = False):
    """``(func(*primals), jvp_fn)`` with ``jvp_fn(*tangents)`` the Jacobian-vector product at
    ``primals`` (the graph is recorded once and reused by every call)."""
    recording = is_grad_enabled()
    with enable_grad():
        tracked_args, tracked, outer = _track_all(primals)
        result = func(*tracked_args)
        if has_aux:
            result, aux = result
        out_leaves, rebuild_out = _flatten(result)
        flat = [t for leaves in tracked for t in leaves]
        # d/du <u, J x> = J x: the vjp with a free cotangent u, then its gradient in u
        cotangents = [o.detach().new_zeros(o.shape).requires_grad_() for o in out_leaves]
        vjps = _grads(out_leaves, flat, cotangents, True)

    def jvp_fn(*tangents):
        t_leaves = [leaf for t in tangents for leaf in _flatten(t)[0]]
        if len(t_leaves) != len(flat) or any(t.shape != x.shape for t, x in zip(t_leaves, flat)):
            raise RuntimeError("jvp: Expected tangents to have the same structure and shapes "
                               "as primals")
        keep_graph = outer and is_grad_enabled()
        with enable_grad():
            return _finish(rebuild_out(_grads(vjps, cotangents, t_leaves, keep_graph)),
                           keep_graph)

    output = _finish(result, outer and recording)
    return ((output, jvp_fn, _finish(aux, outer and recording)) if has_aux
            else (output, jvp_fn))


def stack_module_state(models) -> tuple[dict, dict]:
    """The parameters and buffers of same-architecture ``models`` stacked along a new first
    dimension, by name: ``(params, buffers)`` for ``vmap`` over ``functional_call`` (model
    ensembling). Stacked parameters are fresh leaves that require grad when the originals do."""
    models = list(models)
    if not models:
        raise RuntimeError("stack_module_state: Expected at least one model, got 0.")
    if len({m.training for m in models}) != 1:
        raise RuntimeError("stack_module_state: Expected all models to have the same training/"
                           "eval mode.")

    def stacked(named):
        out = {}
        for name, first in named(models[0]).items():
            tensors = [named(m)[name] for m in models]
            value = stack([t.detach() for t in tensors])
            out[name] = value.requires_grad_() if first.requires_grad else value
        return out
    return (stacked(lambda m: dict(m.named_parameters())),
            stacked(lambda m: dict(m.named_buffers())))


def functionalize(func, *, remove: str = "mutations"):
    """``func`` itself: ember runs eagerly, so a functionalized program computes the same
    values (PyTorch's transform only matters to its compilers)."""
    if remove not in ("mutations", "mutations_and_views"):
        raise RuntimeError(f"functionalize(f, remove='mutations'): received invalid argument "
                           f"for remove={remove}. Valid options are: 'mutations' and "
                           "'mutations_and_views'")
    return func


def replace_all_batch_norm_modules_(root):
    """Make every BatchNorm in ``root`` use batch statistics only (no running stats), in
    place, so it can run under ``vmap``; returns ``root``."""
    from ember.nn.modules.normalization import _BatchNorm
    for module in root.modules():
        if isinstance(module, _BatchNorm):
            module.running_mean = None
            module.running_var = None
            module.num_batches_tracked = None
            module.track_running_stats = False
    return root
