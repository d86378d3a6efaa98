"""First-order optimizers with Lua's functional signature: ``x, losses = f(opfunc, x, config,
state)``. ``opfunc(x)`` returns ``(loss, gradient)`` for the flat parameter tensor ``x``,
which is updated in place; ``state`` (``config`` when omitted) carries the optimizer's
buffers between calls."""
from __future__ import annotations

import math

import ember


def _setup(name: str, config, state):
    if config is None and state is None:
        raise ValueError(f"{name} requires a dictionary to retain state between iterations")
    config = {} if config is None else config
    return config, (config if state is None else state)


def _decay(dfdx, x, config):
    """Lua's weight decay: ``dfdx += weightDecay * x`` (or the per-element ``weightDecays``);
    a fresh tensor so the caller's gradient is left alone."""
    wd = config.get("weightDecay", 0)
    wds = config.get("weightDecays")
    if wd:
        dfdx = dfdx + wd * x
    if wds is not None:
        dfdx = dfdx + wds * x
    return dfdx


def sgd(opfunc, x, config=None, state=None):
    """Stochastic gradient descent with momentum, dampening (default: the momentum, as in
    Lua), Nesterov momentum, weight decay, per-element ``learningRates`` and the learning-rate
    decay ``lr / (1 + nEvals * learningRateDecay)``.

    Example::

        >>> x = ember.tensor([1.0, 2.0])
        >>> x, (fx,) = sgd(lambda v: ((v * v).sum().item(), 2 * v), x, {"learningRate": 0.1})
    """
    config, state = _setup("sgd", config, state)
    lr = config.get("learningRate", 1e-3)
    lrd = config.get("learningRateDecay", 0)
    mom = config.get("momentum", 0)
    damp = config.get("dampening", mom)
    nesterov = config.get("nesterov", False)
    lrs = config.get("learningRates")
    state.setdefault("evalCounter", 0)
    if nesterov and (mom <= 0 or damp != 0):
        raise ValueError("Nesterov momentum requires a momentum and zero dampening")
    with ember.no_grad():
        fx, dfdx = opfunc(x)
        dfdx = _decay(dfdx, x, config)
        if mom != 0:
            if "dfdx" not in state:
                state["dfdx"] = dfdx.clone()
            else:
                state["dfdx"].mul_(mom).add_(dfdx, alpha=1 - damp)
            dfdx = dfdx + mom * state["dfdx"] if nesterov else state["dfdx"]
        clr = lr / (1 + state["evalCounter"] * lrd)
        if lrs is not None:
            x.addcmul_(lrs, dfdx, value=-clr)
        else:
            x.add_(dfdx, alpha=-clr)
    state["evalCounter"] += 1
    return x, [fx]


def nag(opfunc, x, config=None, state=None):
    """Nesterov's accelerated gradient in Sutskever et al.'s form: the gradient is taken at
    ``x + momentum * v``, then ``v = momentum * v - lr * g`` and ``x += v``."""
    config, state = _setup("nag", config, state)
    lr = config.get("learningRate", 1e-3)
    lrd = config.get("learningRateDecay", 0)
    mom = config.get("momentum", 0.9)
    lrs = config.get("learningRates")
    state.setdefault("evalCounter", 0)
    if mom <= 0:
        raise ValueError("Momentum must be positive for Nesterov Accelerated Gradient")
    with ember.no_grad():
        if "dfdx" in state:
            x.add_(state["dfdx"], alpha=mom)
        fx, dfdx = opfunc(x)
        dfdx = _decay(dfdx, x, config)
        clr = lr / (1 + state["evalCounter"] * lrd)
        if "dfdx" not in state:
            state["dfdx"] = ember.zeros_like(dfdx)
        else:
            state["dfdx"].mul_(mom)
        step = dfdx * lrs if lrs is not None else dfdx
        x.add_(step, alpha=-clr)
        state["dfdx"].add_(step, alpha=-clr)
    state["evalCounter"] += 1
    return x, [fx]


def adam(opfunc, x, config=None, state=None):
    """Adam (Kingma and Ba), Lua's form: ``x -= lr * sqrt(1 - b2^t) / (1 - b1^t) * m /
    (sqrt(v) + epsilon)``."""
    config, state = _setup("adam", config, state)
    lr = config.get("learningRate", 1e-3)
    lrd = config.get("learningRateDecay", 0)
    beta1 = config.get("beta1", 0.9)
    beta2 = config.get("beta2", 0.999)
    eps = config.get("epsilon", 1e-8)
    with ember.no_grad():
        fx, dfdx = opfunc(x)
        dfdx = _decay(dfdx, x, config)
        if "t" not in state:
            state["t"] = 0
            state["m"] = ember.zeros_like(dfdx)
            state["v"] = ember.zeros_like(dfdx)
        state["t"] += 1
        t = state["t"]
        clr = lr / (1 + (t - 1) * lrd)
        state["m"].mul_(beta1).add_(dfdx, alpha=1 - beta1)
        state["v"].mul_(beta2).addcmul_(dfdx, dfdx, value=1 - beta2)
        denom = state["v"].sqrt().add_(eps)
        step = clr * math.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
        x.addcdiv_(state["m"], denom, value=-step)
    return x, [fx]


def adamax(opfunc, x, config=None, state=None):
    """AdaMax: Adam with the infinity norm, ``u = max(beta2 * u, |g| + epsilon)``."""
    config, state = _setup("adamax", config, state)
    lr = config.get("learningRate", 0.002)
    beta1 = config.get("beta1", 0.9)
    beta2 = config.get("beta2", 0.999)
    eps = config.get("epsilon", 1e-38)
    with ember.no_grad():
        fx, dfdx = opfunc(x)
        dfdx = _decay(dfdx, x, config)
        if "t" not in state:
            state["t"] = 0
            state["m"] = ember.zeros_like(dfdx)
            state["u"] = ember.zeros_like(dfdx)
        state["t"] += 1
        state["m"].mul_(beta1).add_(dfdx, alpha=1 - beta1)
        state["u"] = ember.maximum(state["u"] * beta2, dfdx.abs() + eps)
        x.addcdiv_(state["m"], state["u"], value=-lr / (1 - beta1 ** state["t"]))
    return x, [fx]


def adagrad(opfunc, x, config=None, state=None):
    """AdaGrad: ``x -= clr * g / (sqrt(sum g^2) + 1e-10)`` with
    ``clr = lr / (1 + nEvals * learningRateDecay)``."""
    config, state = _setup("adagrad", config, state)
    lr = config.get("learningRate", 1e-3)
    lrd = config.get("learningRateDecay", 0)
    state.setdefault("evalCounter", 0)
    with ember.no_grad():
        fx, dfdx = opfunc(x)
        dfdx = _decay(dfdx, x, config)
        clr = lr / (1 + state["evalCounter"] * lrd)
        if "paramVariance" not in state:
            state["paramVariance"] = ember.zeros_like(dfdx)
        state["paramVariance"].addcmul_(dfdx, dfdx)
        std = state["paramVariance"].sqrt().add_(1e-10)
        x.addcdiv_(dfdx, std, value=-clr)
    state["evalCounter"] += 1
    return x, [fx]


def adadelta(opfunc, x, config=None, state=None):
    """AdaDelta (Zeiler): steps of ``sqrt(accDelta + eps) / sqrt(v + eps) * g``."""
    config, state = _setup("adadelta", config, state)
    rho = config.get("rho", 0.9)
    eps = config.get("eps", 1e-6)
    state.setdefault("evalCounter", 0)
    with ember.no_grad():
        fx, dfdx = opfunc(x)
        dfdx = _decay(dfdx, x, config)
        if "paramVariance" not in state:
            state["paramVariance"] = ember.zeros_like(dfdx)
            state["accDelta"] = ember.zeros_like(dfdx)
        state["paramVariance"].mul_(rho).addcmul_(dfdx, dfdx, value=1 - rho)
        std = (state["paramVariance"] + eps).sqrt()
        delta = (state["accDelta"] + eps).sqrt().div_(std).mul_(dfdx)
        x.sub_(delta)
        state["accDelta"].mul_(rho).addcmul_(delta, delta, value=1 - rho)
    state["evalCounter"] += 1
    return x, [fx]


def rmsprop(opfunc, x, config=None, state=None):
    """RMSprop as in Lua: the mean square ``m`` starts at 1; ``x -= lr * g / (sqrt(m) +
    epsilon)``."""
    config, state = _setup("rmsprop", config, state)
    lr = config.get("learningRate", 1e-2)
    alpha = config.get("alpha", 0.99)
    eps = config.get("epsilon", 1e-8)
    with ember.no_grad():
        fx, dfdx = opfunc(x)
        dfdx = _decay(dfdx, x, config)
        if "m" not in state:
            state["m"] = ember.ones_like(dfdx)
        state["m"].mul_(alpha).addcmul_(dfdx, dfdx, value=1 - alpha)
        x.addcdiv_(dfdx, state["m"].sqrt().add_(eps), value=-lr)
    return x, [fx]


def rprop(opfunc, x, config=None, state=None):
    """Resilient propagation: per-element step sizes grow by ``etaplus`` while the gradient
    keeps its sign and shrink by ``etaminus`` when it flips (that step is then skipped);
    ``niter`` steps per call."""
    config, state = _setup("rprop", config, state)
    stepsize = config.get("stepsize", 0.1)
    etaplus = config.get("etaplus", 1.2)
    etaminus = config.get("etaminus", 0.5)
    stepsizemax = config.get("stepsizemax", 50.0)
    stepsizemin = config.get("stepsizemin", 1e-6)
    losses = []
    with ember.no_grad():
        for _ in range(config.get("niter", 1)):
            fx, dfdx = opfunc(x)
            if "delta" not in state:
                state["delta"] = ember.zeros_like(dfdx)
                state["stepsize"] = ember.full_like(dfdx, stepsize)
            sign = (dfdx * state["delta"]).sign()
            # The factors in the gradient's dtype (two Python numbers would give float32).
            factor = ember.where(sign > 0, etaplus,
                                 ember.where(sign < 0, etaminus, ember.ones_like(dfdx)))
            state["stepsize"] = (state["stepsize"] * factor).clamp(stepsizemin, stepsizemax)
            dfdx = ember.where(sign < 0, ember.zeros_like(dfdx), dfdx)
            x.addcmul_(dfdx.sign(), state["stepsize"], value=-1)
            state["delta"] = dfdx.clone()
            losses.append(fx)
    return x, losses


def asgd(opfunc, x, config=None, state=None):
    """Averaged SGD (Bottou): ``x = (1 - lambda eta) x - eta g`` and the running average
    ``ax``, with ``eta = eta0 / (1 + lambda eta0 t)^alpha`` and averaging from step ``t0``.
    Returns ``(x, [f(x)], ax)``."""
    config, state = _setup("asgd", config, state)
    eta0 = config.get("eta0", 1e-4)
    lam = config.get("lambda", 1e-4)
    alpha = config.get("alpha", 0.75)
    t0 = config.get("t0", 1e6)
    state.setdefault("eta_t", eta0)
    state.setdefault("mu_t", 1)
    state.setdefault("t", 0)
    with ember.no_grad():
        fx, dfdx = opfunc(x)
        x.mul_(1 - lam * state["eta_t"])
        x.add_(dfdx, alpha=-state["eta_t"])
        if "ax" not in state or state["mu_t"] == 1:
            state["ax"] = x.clone()
        else:
            state["ax"].add_((x - state["ax"]) * state["mu_t"])
    state["t"] += 1
    state["eta_t"] = eta0 / math.pow(1 + lam * eta0 * state["t"], alpha)
    state["mu_t"] = 1 / max(1, state["t"] - t0)
    return x, [fx], state["ax"]
