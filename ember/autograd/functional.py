"""Higher-level derivatives built on ``grad``: jacobian, hessian, vjp, jvp."""
from __future__ import annotations


def _tuple(x):
    return x if isinstance(x, tuple) else (x,)


def vjp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    from ember.autograd import grad
    inputs_t = tuple(x.detach().requires_grad_() for x in _tuple(inputs))
    out = func(*inputs_t)
    grads = grad(out, list(inputs_t), v, create_graph=create_graph, allow_unused=True)
    from ember._creation import zeros_like
    grads = tuple(zeros_like(x) if g is None else g for g, x in zip(grads, inputs_t))
    return out.detach(), grads if isinstance(inputs, tuple) else grads[0]


def jacobian(func, inputs, create_graph: bool = False, strict: bool = False,
             vectorize: bool = False, strategy: str = "reverse-mode"):
    """d func(inputs) / d inputs, shaped output.shape + input.shape."""
    from ember._creation import zeros, zeros_like
    from ember.autograd import grad
    from ember.ops.movement import stack
    inputs_t = tuple(x.detach().requires_grad_() for x in _tuple(inputs))
    out = func(*inputs_t)
    rows = [[] for _ in inputs_t]
    flat = out.reshape(-1)
    for j in range(flat.numel()):
        seed = zeros(flat.numel(), dtype=out.dtype)
        seed[j] = 1
        gs = grad(out, list(inputs_t), seed.reshape(out.shape), retain_graph=True,
                  create_graph=create_graph, allow_unused=True)
        for k, (g, x) in enumerate(zip(gs, inputs_t)):
            rows[k].append(zeros_like(x) if g is None else g)
    jacs = tuple(stack(r).reshape(tuple(out.shape) + tuple(x.shape))
                 for r, x in zip(rows, inputs_t))
    return jacs if isinstance(inputs, tuple) else jacs[0]


def hessian(func, inputs, create_graph: bool = False, strict: bool = False,
            vectorize: bool = False):
    from ember.autograd import grad

    def gradient(*xs):
        out = func(*xs)
        gs = grad(out, list(xs), create_graph=True)
        return gs[0] if len(gs) == 1 else gs
    return jacobian(gradient, inputs, create_graph=create_graph)
