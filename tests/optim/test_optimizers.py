"""Each optimizer on a small least-squares problem against a NumPy re-derivation of the
algorithm in PyTorch's documentation (float64, 30 steps, 1e-10)."""
import math

import numpy as np
import pytest

import ember
import ember.optim as optim

STEPS = 30


def _problem():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((12, 4))
    y = rng.standard_normal(12)
    p0 = rng.standard_normal(4)
    return a, y, p0


def _grad(a, y, p):
    # d/dp of mean((a p - y)^2) + 0.01 * sum(p^4)
    return 2 * a.T @ (a @ p - y) / len(y) + 0.04 * p ** 3


def _reference(name, hp, a, y, p, steps):
    """The documented algorithm, written plainly (out of place) in NumPy."""
    lr = hp.get("lr")
    wd = hp.get("weight_decay", 0.0)
    s = {}
    out = []
    for t in range(1, steps + 1):
        # With maximize=True ember climbs the negated loss: the same path as descending it.
        g = _grad(a, y, p)
        if name == "SGD":
            m, damp = hp.get("momentum", 0), hp.get("dampening", 0)
            g = g + wd * p
            if m:
                s["b"] = g if t == 1 else m * s["b"] + (1 - damp) * g
                g = g + m * s["b"] if hp.get("nesterov") else s["b"]
            p = p - lr * g
        elif name in ("Adam", "AdamW"):
            b1, b2 = hp.get("betas", (0.9, 0.999))
            eps = hp.get("eps", 1e-8)
            if name == "AdamW":
                p = p * (1 - lr * wd)
            else:
                g = g + wd * p
            s["m"] = b1 * s.get("m", 0) + (1 - b1) * g
            s["v"] = b2 * s.get("v", 0) + (1 - b2) * g * g
            v = s["v"]
            if hp.get("amsgrad"):
                s["vmax"] = v = np.maximum(s.get("vmax", 0), v)
            mhat = s["m"] / (1 - b1 ** t)
            p = p - lr * mhat / (np.sqrt(v) / math.sqrt(1 - b2 ** t) + eps)
        elif name == "Adamax":
            b1, b2 = hp.get("betas", (0.9, 0.999))
            g = g + wd * p
            s["m"] = b1 * s.get("m", 0) + (1 - b1) * g
            s["u"] = np.maximum(b2 * s.get("u", 0), np.abs(g) + hp.get("eps", 1e-8))
            p = p - lr / (1 - b1 ** t) * s["m"] / s["u"]
        elif name == "NAdam":
            b1, b2 = hp.get("betas", (0.9, 0.999))
            psi = hp.get("momentum_decay", 4e-3)
            g = g + wd * p
            mu = b1 * (1 - 0.5 * 0.96 ** (t * psi))
            mu1 = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
            # PyTorch keeps the running product of mu in float32.
            s["prod"] = np.float32(s.get("prod", np.float32(1.0)) * np.float32(mu))
            prod = float(s["prod"])
            s["m"] = b1 * s.get("m", 0) + (1 - b1) * g
            s["v"] = b2 * s.get("v", 0) + (1 - b2) * g * g
            denom = np.sqrt(s["v"] / (1 - b2 ** t)) + hp.get("eps", 1e-8)
            p = (p - lr * (1 - mu) / (1 - prod) * g / denom
                 - lr * mu1 / (1 - prod * mu1) * s["m"] / denom)
        elif name == "RAdam":
            b1, b2 = hp.get("betas", (0.9, 0.999))
            g = g + wd * p
            s["m"] = b1 * s.get("m", 0) + (1 - b1) * g
            s["v"] = b2 * s.get("v", 0) + (1 - b2) * g * g
            mhat = s["m"] / (1 - b1 ** t)
            rho_inf = 2 / (1 - b2) - 1
            rho = rho_inf - 2 * t * b2 ** t / (1 - b2 ** t)
            if rho > 5:
                lt = math.sqrt(1 - b2 ** t) / (np.sqrt(s["v"]) + hp.get("eps", 1e-8))
                r = math.sqrt((rho - 4) * (rho - 2) * rho_inf
                              / ((rho_inf - 4) * (rho_inf - 2) * rho))
                p = p - lr * mhat * lt * r
            else:
                p = p - lr * mhat
        elif name == "Adagrad":
            g = g + wd * p
            clr = lr / (1 + (t - 1) * hp.get("lr_decay", 0))
            s["sum"] = s.get("sum", hp.get("initial_accumulator_value", 0)) + g * g
            p = p - clr * g / (np.sqrt(s["sum"]) + hp.get("eps", 1e-10))
        elif name == "Adadelta":
            rho, eps = hp.get("rho", 0.9), hp.get("eps", 1e-6)
            g = g + wd * p
            s["v"] = rho * s.get("v", 0) + (1 - rho) * g * g
            delta = np.sqrt(s.get("u", 0) + eps) / np.sqrt(s["v"] + eps) * g
            s["u"] = rho * s.get("u", 0) + (1 - rho) * delta * delta
            p = p - lr * delta
        elif name == "RMSprop":
            al, eps, mom = hp.get("alpha", 0.99), hp.get("eps", 1e-8), hp.get("momentum", 0)
            g = g + wd * p
            s["v"] = al * s.get("v", 0) + (1 - al) * g * g
            v = s["v"]
            if hp.get("centered"):
                s["gbar"] = al * s.get("gbar", 0) + (1 - al) * g
                v = v - s["gbar"] ** 2
            step = g / (np.sqrt(v) + eps)
            if mom:
                s["b"] = mom * s.get("b", 0) + step
                step = s["b"]
            p = p - lr * step
        elif name == "Rprop":
            em, ep = hp.get("etas", (0.5, 1.2))
            lo, hi = hp.get("step_sizes", (1e-6, 50))
            prev = s.get("prev", np.zeros_like(p))
            size = s.get("size", np.full_like(p, lr))
            prod = g * prev
            size = np.clip(np.where(prod > 0, size * ep, np.where(prod < 0, size * em, size)),
                           lo, hi)
            g = np.where(prod < 0, 0.0, g)
            p = p - np.sign(g) * size
            s["prev"], s["size"] = g, size
        elif name == "ASGD":
            lambd, alpha, t0 = hp.get("lambd", 1e-4), hp.get("alpha", 0.75), hp.get("t0", 1e6)
            eta = float(np.float32(s.get("eta", lr)))  # eta and mu are float32 scalars
            mu = float(np.float32(s.get("mu", 1.0)))
            g = g + wd * p
            p = p * (1 - lambd * eta) - eta * g
            s["ax"] = p.copy() if mu == 1 else s["ax"] + mu * (p - s["ax"])
            s["eta"] = lr / (1 + lambd * lr * t) ** alpha
            s["mu"] = 1 / max(1, t - t0)
        out.append(p.copy())
    return out


CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, maximize=True)),
    ("Adam", dict(lr=0.05)),
    ("Adam", dict(lr=0.05, amsgrad=True, weight_decay=0.1, betas=(0.8, 0.9))),
    ("AdamW", dict(lr=0.05, weight_decay=0.2)),
    ("Adamax", dict(lr=0.05, weight_decay=0.1)),
    ("NAdam", dict(lr=0.05, weight_decay=0.1)),
    ("RAdam", dict(lr=0.05)),
    ("RAdam", dict(lr=0.05, betas=(0.9, 0.9), weight_decay=0.1)),
    ("Adagrad", dict(lr=0.3, lr_decay=0.05, initial_accumulator_value=0.1)),
    ("Adadelta", dict(lr=1.0, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5, weight_decay=0.1)),
    ("Rprop", dict(lr=0.05, step_sizes=(1e-3, 0.2))),
    ("ASGD", dict(lr=0.05, t0=5, lambd=0.01)),
]


@pytest.mark.parametrize("name,hp", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_matches_numpy_derivation(name, hp):
    a, y, p0 = _problem()
    sign = -1.0 if hp.get("maximize") else 1.0
    ref = _reference(name, hp, a, y, p0, STEPS)
    p = ember.tensor(p0, requires_grad=True)
    at, yt = ember.tensor(a), ember.tensor(y)
    opt = getattr(optim, name)([p], **hp)
    for t in range(STEPS):
        opt.zero_grad()
        r = at @ p - yt
        loss = (r * r).mean() + (p ** 4).sum() * 0.01
        (loss * sign).backward()
        opt.step()
        np.testing.assert_allclose(p.detach().numpy(), ref[t], rtol=1e-10, atol=1e-12,
                                   err_msg=f"step {t + 1}")
    # The problem is solved, not just followed: the loss fell.
    r0 = a @ p0 - y
    assert float(loss) < (r0 @ r0) / len(y) + 0.01 * (p0 ** 4).sum()


@pytest.mark.parametrize("name,hp", CASES[::2], ids=[n for n, _ in CASES[::2]])
def test_float32_params_keep_dtype(name, hp):
    p = ember.randn(3, 2, requires_grad=True)
    opt = getattr(optim, name)([p], **hp)
    for _ in range(3):
        opt.zero_grad()
        (p * p).sum().backward()
        opt.step()
    assert p.dtype == ember.float32
    for value in opt.state[p].values():
        if isinstance(value, ember.Tensor) and value.dim() > 0:
            assert value.dtype == ember.float32


def test_lbfgs_minimises_rosenbrock():
    for kwargs in (dict(line_search_fn="strong_wolfe"), dict(lr=0.5, history_size=5)):
        xy = ember.tensor([-1.5, 2.0], dtype=ember.float64, requires_grad=True)
        opt = optim.LBFGS([xy], max_iter=50, tolerance_change=1e-14, tolerance_grad=1e-10,
                          **kwargs)

        def closure(opt=opt, xy=xy):
            opt.zero_grad()
            loss = (1 - xy[0]) ** 2 + 100 * (xy[1] - xy[0] ** 2) ** 2
            loss.backward()
            return loss

        for _ in range(40):
            opt.step(closure)
        np.testing.assert_allclose(xy.detach().numpy(), [1.0, 1.0], atol=1e-5)


def test_lbfgs_stops_at_a_stationary_point():
    x = ember.zeros(3, requires_grad=True)
    opt = optim.LBFGS([x])

    def closure():
        opt.zero_grad()
        loss = (x * x).sum()
        loss.backward()
        return loss

    opt.step(closure)
    assert opt.state[x]["func_evals"] == 1
    assert np.all(x.detach().numpy() == 0)


@pytest.mark.cuda
@pytest.mark.skipif(not ember.cuda.is_available(), reason="needs CuPy and an NVIDIA GPU")
@pytest.mark.parametrize("name,hp", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_cuda_matches_cpu(name, hp):
    a, y, p0 = _problem()
    runs = []
    for device in ("cpu", "cuda"):
        p = ember.tensor(p0, device=device, requires_grad=True)
        at, yt = ember.tensor(a, device=device), ember.tensor(y, device=device)
        opt = getattr(optim, name)([p], **hp)
        for _ in range(10):
            opt.zero_grad()
            r = at @ p - yt
            ((r * r).mean() + (p ** 4).sum() * 0.01).backward()
            opt.step()
        assert p.device.type == device
        runs.append(p.detach().cpu().numpy())
    np.testing.assert_allclose(runs[1], runs[0], rtol=1e-9, atol=1e-12)
