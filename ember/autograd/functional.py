"""Higher-level derivatives built on ``grad``: vjp, jvp, jacobian, hessian, hvp, vhp.

Each follows ``torch.autograd.functional``: ``inputs`` is a Tensor or a tuple of Tensors, and
results are tuples exactly where the inputs (or the function's outputs) are.
"""
from __future__ import annotations


def _as_tuple(x):
    return (x, False) if isinstance(x, tuple) else ((x,), True)


def _prepare(inputs, create_graph: bool):
    """Fresh leaves that require grad (differentiable views of the inputs with create_graph)."""
    from ember.autograd.grad_mode import enable_grad
    with enable_grad():
        return tuple(x.view_as(x) if create_graph and x.requires_grad
                     else x.detach().requires_grad_() for x in inputs)


def _grad(outputs, inputs, grad_outputs, create_graph: bool, retain_graph: bool = True):
    """``autograd.grad`` with unused inputs given zero gradients."""
    from ember._creation import zeros_like
    from ember.autograd import grad
    outputs = [o for o in outputs]
    diff = [(o, g) for o, g in zip(outputs, grad_outputs) if o.requires_grad]
    if not diff:
        return tuple(zeros_like(x) for x in inputs)
    grads = grad([o for o, _ in diff], list(inputs), [g for _, g in diff],
                 retain_graph=retain_graph, create_graph=create_graph, allow_unused=True)
    return tuple(zeros_like(x) if g is None else g for g, x in zip(grads, inputs))


def _finish(values, create_graph: bool, single: bool):
    values = tuple(v if create_graph else v.detach() for v in values)
    return values[0] if single else values


def _call(func, inputs):
    from ember.autograd.grad_mode import enable_grad
    with enable_grad():
        return func(*inputs)


def vjp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), v^T J)``; ``v`` may be omitted when the output has one element."""
    inputs, single_in = _as_tuple(inputs)
    xs = _prepare(inputs, create_graph)
    outs, single_out = _as_tuple(_call(func, xs))
    if v is None:
        if any(o.numel() != 1 for o in outs):
            raise RuntimeError("The vector v can only be None if the user-provided function "
                               "returns a single Tensor with a single element.")
        from ember._creation import ones_like
        v = tuple(ones_like(o) for o in outs)
    vs, _ = _as_tuple(v)
    grads = _grad(outs, xs, vs, create_graph)
    return _finish(outs, create_graph, single_out), _finish(grads, create_graph, single_in)


def jvp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), J v)``, by differentiating a vjp with respect to its vector."""
    from ember._creation import ones_like, zeros_like
    inputs, single_in = _as_tuple(inputs)
    xs = _prepare(inputs, create_graph)
    outs, single_out = _as_tuple(_call(func, xs))
    if v is None:
        if any(x.numel() != 1 for x in xs):
            raise RuntimeError("The vector v can only be None if the input to the user-provided "
                               "function is a single Tensor with a single element.")
        v = tuple(ones_like(x) for x in xs)
    vs, _ = _as_tuple(v)
    from ember.autograd.grad_mode import enable_grad
    with enable_grad():
        us = tuple(zeros_like(o).requires_grad_() for o in outs)
        grads = _grad(outs, xs, us, create_graph=True)
        result = _grad(grads, us, vs, create_graph)
    return _finish(outs, create_graph, single_out), _finish(result, create_graph, single_out)


def jacobian(func, inputs, create_graph: bool = False, strict: bool = False,
             vectorize: bool = False, strategy: str = "reverse-mode"):
    """d func(inputs) / d inputs, each block shaped ``output.shape + input.shape``."""
    from ember._creation import zeros
    from ember.ops.movement import stack
    inputs, single_in = _as_tuple(inputs)
    xs = _prepare(inputs, create_graph)
    outs, single_out = _as_tuple(_call(func, xs))
    blocks = []
    for out in outs:
        rows = [[] for _ in xs]
        flat_n = out.numel()
        for j in range(flat_n):
            seed = zeros(flat_n, dtype=out.dtype, device=out.device)
            seed[j] = 1
            gs = _grad([out], xs, [seed.reshape(out.shape)], create_graph)
            for k, g in enumerate(gs):
                rows[k].append(g)
        per_input = []
        for r, x in zip(rows, xs):
            shape = tuple(out.shape) + tuple(x.shape)
            block = stack(r).reshape(shape) if r else zeros(shape, dtype=x.dtype)
            per_input.append(block if create_graph else block.detach())
        blocks.append(per_input[0] if single_in else tuple(per_input))
    return blocks[0] if single_out else tuple(blocks)


def hessian(func, inputs, create_graph: bool = False, strict: bool = False,
            vectorize: bool = False, outer_jacobian_strategy: str = "reverse-mode"):
    """Second derivatives of a scalar function; a tuple of tuples for tuple inputs."""
    inputs_t, single_in = _as_tuple(inputs)

    def gradient(*xs):
        out = func(*xs)
        if out.numel() != 1:
            raise RuntimeError("The function given to hessian should return a single element "
                               "Tensor")
        gs = _grad([out.reshape(())], xs, [None], create_graph=True)
        return gs[0] if single_in else gs

    return jacobian(gradient, inputs, create_graph=create_graph)


def vhp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), v^T H)`` for a scalar function."""
    inputs, single_in = _as_tuple(inputs)
    xs = _prepare(inputs, create_graph)
    out = _call(func, xs)
    from ember.autograd.grad_mode import enable_grad
    with enable_grad():
        grads = _grad([out.reshape(())], xs, [None], create_graph=True)
        vs, _ = _as_tuple(v)
        result = _grad(grads, xs, vs, create_graph)
    return _finish((out,), create_graph, True), _finish(result, create_graph, single_in)


def hvp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), H v)``; equal to vhp because a Hessian is symmetric."""
    return vhp(func, inputs, v, create_graph=create_graph, strict=strict)
