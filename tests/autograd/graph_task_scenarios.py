"""Scenarios of the backward pass's bookkeeping (multi-grad hooks, final callbacks, gradient
edges), written against any library with PyTorch's API and returning plain Python values, so
that tests/autograd/test_graph_task_s16.py checks them against hand-derived values and
tests/conformance/test_graph_task_s16_vs_torch.py against PyTorch's."""


def values(t):
    return None if t is None else t.detach().tolist()


def multi_grad_hook_all(lib):
    a = lib.tensor([1.0, 2.0], requires_grad=True)
    b = lib.tensor([3.0, 4.0], requires_grad=True)
    c, d = a * b, a * b
    seen = []
    handle = lib.autograd.graph.register_multi_grad_hook(
        (a, b, c, d), lambda grads: seen.append([values(g) for g in grads]))
    c.sum().backward(retain_graph=True)
    c.sum().backward(inputs=(a,), retain_graph=True)
    try:  # leaves' grad accumulators do not run in grad(): PyTorch refuses to count them
        lib.autograd.grad((c * 2).sum(), b, retain_graph=True)
    except RuntimeError as e:
        seen.append(str(e))
    handle.remove()
    c.sum().backward()
    return seen


def multi_grad_hook_any(lib):
    a = lib.tensor([1.0, 2.0], requires_grad=True)
    b = a * 3
    c = b * b
    seen = []
    lib.autograd.graph.register_multi_grad_hook((a, b, c), lambda g: seen.append(values(g)),
                                                mode="any")
    c.sum().backward(retain_graph=True)
    c.sum().backward()
    return seen


def final_callbacks(lib):
    engine = lib.autograd.Variable._execution_engine
    w = lib.tensor([2.0, 5.0], requires_grad=True)
    h = w * w
    log = []

    def second():
        log.append(("second", values(w.grad)))

    def first():
        log.append(("first", values(w.grad)))
        engine.queue_callback(second)

    def hook(grad):
        engine.queue_callback(first)
        log.append(("hook", values(grad)))

    h.register_hook(hook)
    h.sum().backward()
    try:
        engine.queue_callback(first)
    except RuntimeError as e:
        log.append(("outside", str(e)))
    return log


def gradient_edges(lib):
    from_edge = lib.autograd.graph.get_gradient_edge
    x = lib.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = x * x
    z = (y * 3).sum()
    out = {
        "wrt_y": [values(g) for g in lib.autograd.grad(z, from_edge(y), retain_graph=True)],
        "wrt_x_edge_and_y": [values(g) for g in lib.autograd.grad(
            z, [from_edge(x), y], retain_graph=True)],
        "from_edge_of_y": [values(g) for g in lib.autograd.grad(
            from_edge(y), x, grad_outputs=lib.ones(3), retain_graph=True)],
        "output_nr": from_edge(y).output_nr,
    }
    try:
        from_edge(lib.ones(2))
    except RuntimeError as e:
        out["no_grad_error"] = str(e)
    return out
