"""denoising-diffusion-pytorch, pytorch_optimizer and spikingjelly on ember, each where it is
installed (none is a test dependency: their packages require PyTorch; .ci/run installs them
without dependencies). Each library's README paths run on tiny problems with ``torch`` resolved
to ember in a fresh interpreter, its values checked here against closed forms and NumPy:

- denoising-diffusion-pytorch: a tiny ``Unet`` under ``GaussianDiffusion`` (10 steps, 8x8
  images): the sigmoid noise schedule and its v-objective loss weights, ``q_sample`` and the
  training loss against NumPy, one Adam step (each weight moves by lr against its gradient's
  sign), training steps, DDPM and DDIM sampling; ``Unet1D`` under ``GaussianDiffusion1D``.
- pytorch_optimizer: AdaBelief, Lion, AdaHessian and SophiaH (Hutchinson Hessian-vector
  products) on a separable quadratic, their trajectories simulated in NumPy (a Rademacher
  probe gives a diagonal Hessian exactly); Lamb and Prodigy converge, and the foreach (multi-
  tensor) updates equal the per-parameter loops; the SAM and Lookahead wrappers around SGD by
  hand; the warmup-cosine-restarts schedule in closed form; FocalLoss and its gradient.
- spikingjelly (``activation_based``, torch backend): LIF neurons (hard and soft reset) in
  single-step and multi-step mode against the membrane recurrence by hand, Sigmoid and ATan
  surrogate gradients in closed form, and a tiny convolutional SNN trained by BPTT whose first
  firing rates match a NumPy forward pass.

tests/conformance/test_thirdparty_s20_diffusion_optim_snn_vs_torch.py compares every number
with real PyTorch's."""
from __future__ import annotations

import functools
import math
import textwrap

import numpy as np
import pytest

from tests.acceptance import script_report

DIFFUSION_SCRIPT = script_report.OUT_SOURCE + textwrap.dedent('''
    import json
    import torch
    from denoising_diffusion_pytorch import GaussianDiffusion, GaussianDiffusion1D, Unet, Unet1D

    torch.manual_seed(0)
    model = Unet(dim=8, dim_mults=(1, 2), flash_attn=False)
    diffusion = GaussianDiffusion(model, image_size=8, timesteps=10)
    images = torch.rand(2, 3, 8, 8)
    report = {"alphas_cumprod": out(diffusion.alphas_cumprod),
              "loss_weight": out(diffusion.loss_weight), "images": out(images)}

    # the noising step and the v-prediction loss at fixed times and noise
    x_start = images * 2 - 1
    times = torch.tensor([2, 7])
    noise = torch.randn_like(x_start)
    noised = diffusion.q_sample(x_start, times, noise)
    with torch.no_grad():
        prediction = diffusion.model(noised, times)
    loss = diffusion.p_losses(x_start, times, noise=noise)
    report["q_sample"] = {"times": out(times), "noise": out(noise), "noised": out(noised),
                          "prediction": out(prediction), "loss": loss.item()}

    # one Adam step on that loss
    optimizer = torch.optim.Adam(diffusion.parameters(), lr=1e-3)
    loss.backward()
    head = diffusion.model.final_conv.weight
    before, head_grad = head.detach().clone(), head.grad.clone()
    optimizer.step()
    report["adam"] = {"before": out(before), "grad": out(head_grad), "after": out(head)}

    # training steps through forward() (random times and noise), then both samplers
    losses = []
    for _ in range(3):
        optimizer.zero_grad()
        step_loss = diffusion(images)
        step_loss.backward()
        optimizer.step()
        losses.append(step_loss.item())
    report["losses"] = losses
    report["sample"] = out(diffusion.sample(batch_size=2))
    ddim = GaussianDiffusion(model, image_size=8, timesteps=10, sampling_timesteps=4)
    report["ddim_sample"] = out(ddim.sample(batch_size=2))

    # the 1-D variant: sequences of 2 channels, predicting the noise
    model1d = Unet1D(dim=8, dim_mults=(1, 2), channels=2)
    diffusion1d = GaussianDiffusion1D(model1d, seq_length=16, timesteps=10,
                                      objective="pred_noise")
    loss1d = diffusion1d(torch.rand(2, 2, 16))
    loss1d.backward()
    report["one_d"] = {"loss": loss1d.item(),
                       "grad_norm": sum(p.grad.norm() ** 2 for p in model1d.parameters()
                                        if p.grad is not None).sqrt().item(),
                       "sample": out(diffusion1d.sample(batch_size=2))}
    print(json.dumps(report))
''')

OPTIMIZER_SCRIPT = script_report.OUT_SOURCE + textwrap.dedent('''
    import json
    import torch
    import pytorch_optimizer as po

    # f = 0.5 * sum(curvature * (p - target)^2) over two parameters: minimum at the targets
    CURVATURES = [torch.tensor([1.0, 2.0, 4.0], dtype=torch.float64),
                  torch.tensor([[0.5, 1.0], [3.0, 2.0]], dtype=torch.float64)]
    TARGETS = [torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64),
               torch.tensor([[-1.0, 0.25], [2.0, -0.5]], dtype=torch.float64)]


    def make_params():
        return [torch.zeros(3, dtype=torch.float64, requires_grad=True),
                torch.full((2, 2), 0.5, dtype=torch.float64, requires_grad=True)]


    def loss_of(params):
        return sum(0.5 * (d * (p - t) ** 2).sum() for p, d, t in zip(params, CURVATURES, TARGETS))


    def run(factory, steps, create_graph=False):
        params = make_params()
        optimizer = factory(params)
        trajectory = []
        for _ in range(steps):
            optimizer.zero_grad()
            loss_of(params).backward(create_graph=create_graph)
            optimizer.step()
            trajectory.append([p.detach().clone() for p in params])
        return {"first": out(trajectory[0]), "last": out(trajectory[-1]),
                "loss": loss_of(params).item()}


    report = {"curvatures": out(CURVATURES), "targets": out(TARGETS)}
    for foreach in (False, True):
        tag = "foreach" if foreach else "loop"
        report[f"adabelief_{tag}"] = run(lambda ps: po.AdaBelief(ps, lr=0.1, foreach=foreach), 60)
        report[f"lion_{tag}"] = run(lambda ps: po.Lion(ps, lr=0.1, foreach=foreach), 60)
        report[f"lamb_{tag}"] = run(lambda ps: po.Lamb(ps, lr=0.1, foreach=foreach), 60)
    report["prodigy"] = run(lambda ps: po.Prodigy(ps, lr=1.0), 60)
    torch.manual_seed(0)
    report["adahessian"] = run(lambda ps: po.AdaHessian(ps, lr=0.5), 30, create_graph=True)
    torch.manual_seed(0)
    report["sophiah"] = run(lambda ps: po.SophiaH(ps, lr=0.1, p=5.0, update_period=1,
                                                  hessian_distribution="rademacher"), 40,
                            create_graph=True)

    # SAM around SGD: the gradient taken rho along the normalised gradient, applied at the start
    params = make_params()
    sam = po.SAM(params, torch.optim.SGD, rho=0.1, lr=0.1)
    sam_steps = []
    for _ in range(3):
        def closure():
            sam.zero_grad()
            loss = loss_of(params)
            loss.backward()
            return loss
        closure()
        sam.step(closure)
        sam_steps.append([p.detach().clone() for p in params])
    report["sam"] = out(sam_steps)

    # Lookahead around SGD: every k fast steps the slow weights move alpha of the way
    params = make_params()
    lookahead = po.Lookahead(torch.optim.SGD(params, lr=0.1), k=3, alpha=0.5)
    look_steps = []
    for _ in range(6):
        lookahead.zero_grad()
        loss_of(params).backward()
        lookahead.step()
        look_steps.append([p.detach().clone() for p in params])
    report["lookahead"] = out(look_steps)

    # warmup then cosine annealing with restarts, driving Lion's learning rate
    params = make_params()
    lion = po.Lion(params, lr=1.0)
    scheduler = po.CosineAnnealingWarmupRestarts(lion, first_cycle_steps=6, max_lr=0.1,
                                                 min_lr=0.01, warmup_steps=2)
    lrs = []
    for _ in range(8):
        lrs.append(lion.param_groups[0]["lr"])
        lion.zero_grad()
        loss_of(params).backward()
        lion.step()
        scheduler.step()
    report["scheduler_lrs"] = lrs

    logits = torch.tensor([[2.0, -1.0], [0.5, 0.0], [-3.0, 1.5]], dtype=torch.float64,
                          requires_grad=True)
    labels = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]], dtype=torch.float64)
    focal = po.FocalLoss(alpha=1.0, gamma=2.0)(logits, labels)
    focal.backward()
    report["focal"] = {"logits": out(logits), "labels": out(labels), "loss": focal.item(),
                       "grad": out(logits.grad)}
    print(json.dumps(report))
''')

SNN_SCRIPT = script_report.OUT_SOURCE + textwrap.dedent('''
    import json
    import torch
    from torch import nn
    from spikingjelly.activation_based import functional, layer, neuron, surrogate

    torch.manual_seed(0)
    report = {}
    inputs = torch.rand(6, 4, 3, dtype=torch.float64) * 2.0   # 6 time steps

    # a LIF layer stepped one time step at a time, then over the whole sequence at once
    single = neuron.LIFNode(tau=2.0)
    spikes, voltages = [], []
    for x in inputs:
        spikes.append(single(x))
        voltages.append(single.v.clone())
    functional.reset_net(single)
    report["single"] = {"inputs": out(inputs), "spikes": out(torch.stack(spikes)),
                        "v": out(torch.stack(voltages)), "v_after_reset": out(single.v)}
    multi = neuron.LIFNode(tau=2.0, step_mode="m", store_v_seq=True)
    report["multi"] = {"spikes": out(multi(inputs)), "v_seq": out(multi.v_seq)}
    soft = neuron.LIFNode(tau=3.0, v_reset=None, decay_input=False, step_mode="m",
                          store_v_seq=True)
    report["soft"] = {"spikes": out(soft(inputs)), "v_seq": out(soft.v_seq)}

    # surrogate gradients of one step from rest: s = H(x / tau - 1)
    x = torch.linspace(0.0, 4.0, 9, dtype=torch.float64, requires_grad=True)
    grads = {}
    for name, function in (("sigmoid", surrogate.Sigmoid(alpha=4.0)),
                           ("atan", surrogate.ATan(alpha=2.0))):
        node = neuron.LIFNode(tau=2.0, surrogate_function=function)
        (gx,) = torch.autograd.grad(node(x).sum(), x)
        grads[name] = out(gx)
    report["surrogate"] = {"x": out(x), "grad": grads}

    # a tiny convolutional SNN trained by backpropagation through time
    net = nn.Sequential(
        layer.Conv2d(1, 4, 3, padding=1), neuron.LIFNode(tau=2.0),
        layer.Flatten(), layer.Linear(4 * 5 * 5, 3),
        neuron.LIFNode(tau=2.0, v_threshold=0.05)).double()
    images = torch.rand(4, 2, 1, 5, 5, dtype=torch.float64) * 6.0   # 4 time steps, batch 2
    target = nn.functional.one_hot(torch.tensor([0, 2]), 3).double()
    functional.set_step_mode(net, "m")
    optimizer = torch.optim.Adam(net.parameters(), lr=0.02)
    initial = out(dict(net.state_dict()))
    losses, rates = [], []
    for _ in range(6):
        optimizer.zero_grad()
        rate = net(images).mean(0)
        loss = nn.functional.mse_loss(rate, target)
        loss.backward()
        optimizer.step()
        functional.reset_net(net)
        losses.append(loss.item())
        rates.append(out(rate))
    with torch.no_grad():
        multi_rate = net(images).mean(0)
        functional.reset_net(net)
        functional.set_step_mode(net, "s")
        single_rate = torch.stack([net(frame) for frame in images]).mean(0)
        functional.reset_net(net)
    report["snn"] = {"initial": initial, "images": out(images), "target": out(target),
                     "losses": losses, "rates": rates, "multi_rate": out(multi_rate),
                     "single_rate": out(single_rate), "final": out(dict(net.state_dict()))}
    print(json.dumps(report))
''')

# library (its import name) -> its acceptance script
SCRIPTS = {"denoising_diffusion_pytorch": DIFFUSION_SCRIPT, "pytorch_optimizer": OPTIMIZER_SCRIPT,
           "spikingjelly": SNN_SCRIPT}


run_script = functools.partial(script_report.run_library_script, SCRIPTS)


def _report(library: str, tmp_path_factory) -> dict:
    return run_script(library, "-m", "ember.compat", tmp_path=tmp_path_factory.mktemp(library))


@pytest.fixture(scope="module")
def diffusion_report(tmp_path_factory):
    return _report("denoising_diffusion_pytorch", tmp_path_factory)


@pytest.fixture(scope="module")
def optimizer_report(tmp_path_factory):
    return _report("pytorch_optimizer", tmp_path_factory)


@pytest.fixture(scope="module")
def snn_report(tmp_path_factory):
    return _report("spikingjelly", tmp_path_factory)


# ---------------------------------------------------------------------------------------------
# denoising-diffusion-pytorch

def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def test_diffusion_sigmoid_schedule_and_loss_weights(diffusion_report):
    # the sigmoid schedule (start -3, end 3, tau 1) of 10 steps, computed in float64
    t = np.linspace(0, 1, 11)
    cumulative = (_sigmoid(3.0) - _sigmoid(6 * t - 3)) / (_sigmoid(3.0) - _sigmoid(-3.0))
    betas = np.clip(1 - cumulative[1:] / cumulative[:-1], 0, 0.999)
    alphas_cumprod = np.cumprod(1 - betas)
    np.testing.assert_allclose(diffusion_report["alphas_cumprod"], alphas_cumprod, atol=1e-7)
    # the v objective weighs each time by snr / (snr + 1), which is alphas_cumprod
    np.testing.assert_allclose(diffusion_report["loss_weight"], alphas_cumprod, atol=1e-6)


def test_diffusion_q_sample_and_v_loss_match_numpy(diffusion_report):
    report = diffusion_report["q_sample"]
    alphas_cumprod = np.array(diffusion_report["alphas_cumprod"])[report["times"]]
    scale = np.sqrt(alphas_cumprod)[:, None, None, None]
    spread = np.sqrt(1 - alphas_cumprod)[:, None, None, None]
    x_start = np.array(diffusion_report["images"]) * 2 - 1
    noise = np.array(report["noise"])
    np.testing.assert_allclose(report["noised"], scale * x_start + spread * noise, atol=1e-6)
    velocity = scale * noise - spread * x_start
    per_image = ((np.array(report["prediction"]) - velocity) ** 2).mean(axis=(1, 2, 3))
    loss = (per_image * np.array(diffusion_report["loss_weight"])[report["times"]]).mean()
    assert math.isclose(report["loss"], loss, rel_tol=1e-5)


def test_diffusion_first_adam_step_moves_each_weight_by_lr(diffusion_report):
    adam = {name: np.array(value) for name, value in diffusion_report["adam"].items()}
    # Adam's first step is lr * m_hat / (sqrt(v_hat) + eps) = lr * g / (|g| + eps)
    expected = adam["before"] - 1e-3 * adam["grad"] / (np.abs(adam["grad"]) + 1e-8)
    np.testing.assert_allclose(adam["after"], expected, atol=1e-8)


def test_diffusion_training_and_sampling(diffusion_report):
    assert all(0 < loss < 10 for loss in diffusion_report["losses"])
    for key in ("sample", "ddim_sample"):
        sample = np.array(diffusion_report[key])
        # samples come back unnormalised to [0, 1] (clipped), one image per batch entry
        assert sample.shape == (2, 3, 8, 8) and sample.min() >= 0 and sample.max() <= 1
        assert 0 < sample.std()
    one_d = diffusion_report["one_d"]
    assert 0 < one_d["loss"] < 10 and one_d["grad_norm"] > 0
    sample = np.array(one_d["sample"])
    assert sample.shape == (2, 2, 16) and sample.min() >= 0 and sample.max() <= 1


# ---------------------------------------------------------------------------------------------
# pytorch_optimizer

def _quadratic(report):
    """The quadratic's curvatures and minimiser per parameter, its starting point and its
    gradient function."""
    curvatures = [np.array(c) for c in report["curvatures"]]
    targets = [np.array(t) for t in report["targets"]]
    start = [np.zeros(3), np.full((2, 2), 0.5)]

    def gradient(params):
        return [d * (p - t) for p, d, t in zip(params, curvatures, targets)]
    return curvatures, targets, start, gradient


def _simulate(report, update, steps):
    """The trajectory of ``update(step, param, grad, curvature, state) -> new param`` from
    the start: (first point, last point)."""
    curvatures, _, params, gradient = _quadratic(report)
    states = [{} for _ in params]
    first = None
    for step in range(1, steps + 1):
        params = [update(step, p, g, d, s) for p, g, d, s in
                  zip(params, gradient(params), curvatures, states)]
        first = first or params
    return first, params


def _assert_trajectory(got, simulated, atol):
    for got_points, points in zip((got["first"], got["last"]), simulated):
        for g, p in zip(got_points, points):
            np.testing.assert_allclose(g, p, atol=atol)


def _adabelief(step, p, g, d, state, lr=0.1, beta1=0.9, beta2=0.999, eps=1e-16):
    m = state["m"] = beta1 * state.get("m", 0) + (1 - beta1) * g
    s = state["s"] = beta2 * state.get("s", 0) + (1 - beta2) * (g - m) ** 2 + eps
    denominator = np.sqrt(s) / math.sqrt(1 - beta2 ** step) + eps
    return p - lr / (1 - beta1 ** step) * m / denominator


def _lion(step, p, g, d, state, lr=0.1, beta1=0.9, beta2=0.99):
    m = state.get("m", 0)
    state["m"] = beta2 * m + (1 - beta2) * g
    return p - lr * np.sign(beta1 * m + (1 - beta1) * g)


def _adahessian(step, p, g, d, state, lr=0.5, beta1=0.9, beta2=0.999, eps=1e-16):
    # a Rademacher probe z gives z * (H z) = diag(H) = d exactly for a diagonal Hessian
    m = state["m"] = beta1 * state.get("m", 0) + (1 - beta1) * g
    h = state["h"] = beta2 * state.get("h", 0) + (1 - beta2) * d ** 2
    return p - lr / (1 - beta1 ** step) * m / (np.sqrt(h / (1 - beta2 ** step)) + eps)


def _sophiah(step, p, g, d, state, lr=0.1, beta1=0.96, beta2=0.99, clip=5.0, eps=1e-12):
    m = state["m"] = beta1 * state.get("m", 0) + (1 - beta1) * g
    h = state["h"] = beta2 * state.get("h", 0) + (1 - beta2) * d
    return p - lr * np.clip(m / np.maximum(h, eps), -clip, clip)


@pytest.mark.parametrize("name, update, steps", [
    ("adabelief_loop", _adabelief, 60), ("adabelief_foreach", _adabelief, 60),
    ("lion_loop", _lion, 60), ("lion_foreach", _lion, 60),
    ("adahessian", _adahessian, 30), ("sophiah", _sophiah, 40)])
def test_optimizer_trajectories_match_numpy(optimizer_report, name, update, steps):
    _assert_trajectory(optimizer_report[name], _simulate(optimizer_report, update, steps),
                       atol=1e-10)


def test_optimizers_converge_and_foreach_equals_the_loop(optimizer_report):
    curvatures, targets, start, _ = _quadratic(optimizer_report)
    initial = sum(0.5 * (d * (p - t) ** 2).sum() for p, d, t in zip(start, curvatures, targets))
    for name in ("adabelief_loop", "adahessian", "sophiah", "prodigy", "lamb_loop"):
        assert optimizer_report[name]["loss"] < 0.02 * initial, name
    # Lion's fixed-size sign steps end within a step or two of the minimum
    for point, target in zip(optimizer_report["lion_loop"]["last"], targets):
        assert np.abs(np.array(point) - target).max() <= 0.2 + 1e-12
    # the multi-tensor updates are the loops' arithmetic, but Lamb's foreach path takes its
    # trust-ratio norms in another order: ulps that 60 steps carry to ~1e-11
    for name in ("adabelief", "lion", "lamb"):
        loop, foreach = optimizer_report[f"{name}_loop"], optimizer_report[f"{name}_foreach"]
        for key in ("first", "last"):
            for a, b in zip(loop[key], foreach[key]):
                np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_sam_and_lookahead_by_hand(optimizer_report):
    curvatures, _, params, gradient = _quadratic(optimizer_report)
    for got in optimizer_report["sam"]:
        grads = gradient(params)
        norm = math.sqrt(sum((g ** 2).sum() for g in grads)) + 1e-12
        perturbed = [p + 0.1 * g / norm for p, g in zip(params, grads)]
        params = [p - 0.1 * g for p, g in zip(params, gradient(perturbed))]
        for g, p in zip(got, params):
            np.testing.assert_allclose(g, p, atol=1e-12)
    _, _, params, _ = _quadratic(optimizer_report)
    slow = params
    for step, got in enumerate(optimizer_report["lookahead"], 1):
        params = [p - 0.1 * g for p, g in zip(params, gradient(params))]
        if step % 3 == 0:
            slow = params = [s + 0.5 * (p - s) for s, p in zip(slow, params)]
        for g, p in zip(got, params):
            np.testing.assert_allclose(g, p, atol=1e-12)


def test_warmup_cosine_restarts_schedule(optimizer_report):
    def lr(step_in_cycle, max_lr, min_lr=0.01, warmup=2, cycle=6):
        if step_in_cycle < warmup:
            return min_lr + (max_lr - min_lr) * step_in_cycle / warmup
        progress = (step_in_cycle - warmup) / (cycle - warmup)
        return min_lr + (max_lr - min_lr) * (1 + math.cos(math.pi * progress)) / 2
    # the second cycle's peak is gamma (0.9) times the first's
    expected = [lr(s, 0.1) for s in range(6)] + [lr(s, 0.09) for s in range(2)]
    np.testing.assert_allclose(optimizer_report["scheduler_lrs"], expected, atol=1e-12)


def test_focal_loss_and_its_gradient(optimizer_report):
    report = optimizer_report["focal"]
    labels = np.array(report["labels"])

    def focal(logits):
        bce = np.maximum(logits, 0) - logits * labels + np.log1p(np.exp(-np.abs(logits)))
        return ((1 - np.exp(-bce)) ** 2 * bce).mean()
    logits = np.array(report["logits"])
    assert math.isclose(report["loss"], focal(logits), rel_tol=1e-12)
    step = 1e-6
    numeric = np.zeros_like(logits)
    for index in np.ndindex(logits.shape):
        shift = np.zeros_like(logits)
        shift[index] = step
        numeric[index] = (focal(logits + shift) - focal(logits - shift)) / (2 * step)
    np.testing.assert_allclose(report["grad"], numeric, atol=1e-9)


# ---------------------------------------------------------------------------------------------
# spikingjelly

def _lif(inputs, tau, decay_input=True, hard_reset=True, threshold=1.0):
    """Spikes and post-reset membrane voltages of LIF neurons (rest and reset at 0) over the
    time steps of ``inputs``."""
    v = np.zeros_like(inputs[0])
    spikes, voltages = [], []
    for x in inputs:
        h = v + (x - v) / tau if decay_input else v - v / tau + x
        s = (h >= threshold).astype(float)
        v = h * (1 - s) if hard_reset else h - s * threshold
        spikes.append(s)
        voltages.append(v)
    return np.array(spikes), np.array(voltages)


def test_lif_single_and_multi_step_follow_the_membrane_recurrence(snn_report):
    inputs = np.array(snn_report["single"]["inputs"])
    spikes, voltages = _lif(inputs, tau=2.0)
    assert 0 < spikes.mean() < 1  # some neurons fire, some do not
    for report, v_key in ((snn_report["single"], "v"), (snn_report["multi"], "v_seq")):
        np.testing.assert_array_equal(report["spikes"], spikes)
        np.testing.assert_allclose(report[v_key], voltages, atol=1e-14)
    assert snn_report["single"]["v_after_reset"] == 0.0
    spikes, voltages = _lif(inputs, tau=3.0, decay_input=False, hard_reset=False)
    np.testing.assert_array_equal(snn_report["soft"]["spikes"], spikes)
    np.testing.assert_allclose(snn_report["soft"]["v_seq"], voltages, atol=1e-14)


def test_surrogate_gradients_in_closed_form(snn_report):
    x = np.array(snn_report["surrogate"]["x"])
    u = x / 2 - 1   # the membrane above threshold after one step from rest, tau = 2
    sigmoid = _sigmoid(4 * u)
    expected = {"sigmoid": 4 * sigmoid * (1 - sigmoid) / 2,
                "atan": 2 / (2 * (1 + (math.pi / 2 * 2 * u) ** 2)) / 2}
    for name, grad in snn_report["surrogate"]["grad"].items():
        np.testing.assert_allclose(grad, expected[name], atol=1e-14)


def test_snn_rates_match_numpy_and_training_lowers_the_loss(snn_report):
    report = snn_report["snn"]
    w = {name: np.array(value) for name, value in report["initial"].items()}
    images = np.array(report["images"])   # (time, batch, 1, 5, 5)
    padded = np.pad(images, ((0, 0), (0, 0), (0, 0), (1, 1), (1, 1)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (3, 3), axis=(3, 4))
    conv = (np.einsum("tncijkl,ockl->tnoij", windows, w["0.weight"])
            + w["0.bias"][:, None, None])
    hidden, _ = _lif(conv, tau=2.0)
    logits = hidden.reshape(4, 2, -1) @ w["3.weight"].T + w["3.bias"]
    output, _ = _lif(logits, tau=2.0, threshold=0.05)
    np.testing.assert_array_equal(report["rates"][0], output.mean(0))
    target = np.array(report["target"])
    for loss, rate in zip(report["losses"], report["rates"]):
        assert math.isclose(loss, ((np.array(rate) - target) ** 2).mean(), rel_tol=1e-12)
    assert report["losses"][-1] < 0.5 * report["losses"][0]
    # stepping the trained network one time step at a time gives the multi-step rates
    np.testing.assert_array_equal(report["single_rate"], report["multi_rate"])
