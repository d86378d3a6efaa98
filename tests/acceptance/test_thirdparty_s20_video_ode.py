"""pytorchvideo, torchode and torchdyn on ember, each where installed (none is a test dependency:
their packages require PyTorch; .ci/run installs them without dependencies, with torchode's
torchtyping and typeguard 2, and pytorchvideo's fvcore and iopath). Run with ``torch`` resolved
to ember in fresh interpreters:

- pytorchvideo: tiny ResNet, X3D, CSN and SlowFast video networks from ``pytorchvideo.models``
  (forward, cross-entropy, one SGD step) and the video transforms of its tutorial
  (UniformTemporalSubsample, Div255, Normalize, ShortSideScale under ApplyTransformToKey),
  checked here against NumPy;
- torchode: ``solve_ivp`` with Dopri5 and the README's Tsit5 + IntegralController +
  AutoDiffAdjoint on a batch of linear decays with their own time grids, gradients through the
  solve, checked against the exponential solution and its derivatives;
- torchdyn: NeuralODE on a damped rotation (a linear field with a closed-form flow) and on a
  small tanh network, by dopri5 with autograd and adjoint gradients, and by fixed-step rk4.

tests/conformance/test_thirdparty_s20_video_ode_vs_torch.py compares every number with real
PyTorch's."""
from __future__ import annotations

import functools
import importlib.util
import math
import textwrap

import numpy as np
import pytest

from tests.acceptance import script_report

VIDEO_SCRIPT = script_report.OUT_SOURCE + textwrap.dedent('''
    import json
    import sys
    import torch
    from torch import nn
    import torchvision.transforms.functional
    # pytorchvideo 0.1.5 imports a module torchvision 0.17 removed (its augmentations use it;
    # nothing here does): the usual alias
    sys.modules.setdefault("torchvision.transforms.functional_tensor",
                           torchvision.transforms.functional)
    from torchvision.transforms import Compose
    from pytorchvideo.models import create_csn, create_resnet, create_slowfast
    from pytorchvideo.models.x3d import create_x3d
    from pytorchvideo.transforms import (ApplyTransformToKey, Div255, Normalize, ShortSideScale,
                                         UniformTemporalSubsample)

    torch.set_num_threads(1)  # tiny convolutions: on PyTorch, more threads only contend
    torch.manual_seed(0)
    video = torch.rand(3, 8, 6, 10) * 255  # (C, T, H, W)
    mean, std = (0.45, 0.40, 0.35), (0.225, 0.25, 0.3)
    pipeline = ApplyTransformToKey(key="video", transform=Compose([
        UniformTemporalSubsample(4), Div255(), Normalize(mean, std), ShortSideScale(4)]))
    sample = pipeline({"video": video, "label": 3})
    report = {"video": out(video), "mean": list(mean), "std": list(std),
              "transforms": {"pipeline": out(sample["video"]), "label": sample["label"],
                             "subsample_3": out(UniformTemporalSubsample(3)(video)),
                             "scale_8": out(ShortSideScale(8)(video))}}


    def one_step(model, clips):
        """logits, the loss before and after one SGD step on the same batch"""
        labels = torch.tensor([1, 3])
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
        logits = model(list(clips) if isinstance(clips, list) else clips)  # (a list: consumed)
        loss = nn.functional.cross_entropy(logits, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            after = nn.functional.cross_entropy(
                model(list(clips) if isinstance(clips, list) else clips), labels)
        return {"logits": out(logits), "loss": loss.item(), "loss_after": after.item(),
                "parameters": sum(p.numel() for p in model.parameters())}


    models = {
        "resnet": (lambda: create_resnet(model_depth=50, stem_dim_out=4, model_num_class=5,
                                         dropout_rate=0.0, head_pool_kernel_size=(2, 1, 1)),
                   lambda: torch.randn(2, 3, 2, 16, 16)),
        "x3d": (lambda: create_x3d(input_clip_length=2, input_crop_size=32, model_num_class=5,
                                   dropout_rate=0.0, width_factor=1.0, depth_factor=0.4,
                                   stem_dim_in=4, head_dim_out=16),
                lambda: torch.randn(2, 3, 2, 32, 32)),
        "csn": (lambda: create_csn(model_depth=50, stem_dim_out=4, model_num_class=5,
                                   head_pool_kernel_size=(1, 1, 1)),
                lambda: torch.randn(2, 3, 4, 16, 16)),
        "slowfast": (lambda: create_slowfast(model_depth=50, stem_dim_outs=(8, 1),
                                             model_num_class=5, dropout_rate=0.0,
                                             head_pool_kernel_sizes=((2, 1, 1), (8, 1, 1))),
                     lambda: [torch.randn(2, 3, 2, 16, 16), torch.randn(2, 3, 8, 16, 16)]),
    }
    report["models"] = {}
    for name, (build, clips) in models.items():
        torch.manual_seed(0)
        report["models"][name] = one_step(build(), clips())
    print(json.dumps(report))
''')

ODE_SCRIPT = script_report.OUT_SOURCE + textwrap.dedent('''
    import json
    import torch
    from torch import nn
    import torchode as to

    torch.set_num_threads(1)  # tiny problems: on PyTorch, more threads only contend
    # torchode: dy/dt = -k y per feature, two problems in a batch, each with its own time grid
    rates = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64, requires_grad=True)
    y0 = torch.tensor([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]], dtype=torch.float64,
                      requires_grad=True)
    t_eval = torch.stack([torch.linspace(0.0, 1.0, 5, dtype=torch.float64),
                          torch.linspace(0.0, 2.0, 5, dtype=torch.float64)])


    def decay(t, y):
        return -rates * y


    def solved(solution):
        """a solution's values, step counts and the final states' sum's gradients"""
        rates.grad = y0.grad = None
        solution.ys[:, -1].sum().backward()
        return {"ys": out(solution.ys), "ts": out(solution.ts), "status": out(solution.status),
                "stats": {name: out(solution.stats[name])
                          for name in ("n_f_evals", "n_steps", "n_accepted")},
                "grad_y0": out(y0.grad), "grad_rates": out(rates.grad)}


    term = to.ODETerm(decay)
    pid = to.PIDController(atol=1e-10, rtol=1e-10, pcoeff=0.2, icoeff=0.5, dcoeff=0.0, term=term)
    report = {"t_eval": out(t_eval), "y0": out(y0), "rates": out(rates), "torchode": {
        "dopri5": solved(to.solve_ivp(decay, y0, t_eval, method="dopri5", controller=pid))}}
    # the README's path: a stepping method, a step size controller and an adjoint
    tsit5 = to.AutoDiffAdjoint(to.Tsit5(term=term),
                               to.IntegralController(atol=1e-10, rtol=1e-10, term=term))
    report["torchode"]["tsit5"] = solved(tsit5.solve(to.InitialValueProblem(y0=y0,
                                                                             t_eval=t_eval)))

    # torchdyn: a NeuralODE on a damped rotation (a linear field, its flow known) and on a small
    # tanh network, differentiated by autograd and by the adjoint method
    from torchdyn.core import NeuralODE

    torch.manual_seed(0)
    rotation = nn.Linear(2, 2, bias=False).double()
    with torch.no_grad():
        rotation.weight.copy_(torch.tensor([[-0.5, 1.0], [-1.0, -0.5]], dtype=torch.float64))
    network = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2)).double()
    fields = {"rotation": rotation, "network": network}
    x0 = torch.randn(3, 2, dtype=torch.float64)
    t_span = torch.linspace(0.0, 1.0, 4, dtype=torch.float64)
    report["torchdyn"] = {"x0": out(x0), "t_span": out(t_span)}
    runs = [("rotation", "dopri5", "autograd"), ("rotation", "dopri5", "adjoint"),
            ("network", "dopri5", "autograd"), ("network", "dopri5", "adjoint"),
            ("rotation", "rk4", "autograd")]
    for field_name, solver, sensitivity in runs:
        field = fields[field_name]
        tolerances = ({} if solver == "rk4" else
                      {"atol": 1e-10, "rtol": 1e-10, "atol_adjoint": 1e-10,
                       "rtol_adjoint": 1e-10})
        model = NeuralODE(field, sensitivity=sensitivity, solver=solver, **tolerances)
        start = x0.clone().requires_grad_(True)
        field.zero_grad()
        t, trajectory = model(start, t_span)
        loss = (trajectory[-1] ** 2).sum()
        loss.backward()
        report["torchdyn"][f"{field_name}/{solver}/{sensitivity}"] = {
            "t": out(t), "trajectory": out(trajectory), "loss": loss.item(),
            "grad_x0": out(start.grad), "grad_params": [out(p.grad) for p in field.parameters()]}
    print(json.dumps(report))
''')


def _require(*modules: str) -> None:
    """Skip the calling test where a library is not installed (importing it imports torch)."""
    for module in modules:
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed")


# each script's report, run under ``command_prefix`` (``-m ember.compat``: on ember)
run_video_script = functools.partial(script_report.run_script, VIDEO_SCRIPT, "video_script.py")
run_ode_script = functools.partial(script_report.run_script, ODE_SCRIPT, "ode_script.py")


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    _require("pytorchvideo", "fvcore", "iopath")
    return run_video_script("-m", "ember.compat", tmp_path=tmp_path_factory.mktemp("video"))


@pytest.fixture(scope="module")
def ode(tmp_path_factory):
    _require("torchode", "torchtyping", "torchdyn")
    return run_ode_script("-m", "ember.compat", tmp_path=tmp_path_factory.mktemp("ode"))


def _bilinear(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``interpolate(mode="bilinear", align_corners=False)`` of a (..., H, W) array: half-pixel
    centres, source coordinates clamped at 0."""
    def weights(n_in: int, n_out: int) -> np.ndarray:
        source = np.maximum((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0.0)
        low = np.floor(source).astype(int)
        high = np.minimum(low + 1, n_in - 1)
        w = np.zeros((n_out, n_in))
        np.add.at(w, (np.arange(n_out), low), 1 - (source - low))
        np.add.at(w, (np.arange(n_out), high), source - low)
        return w
    return weights(image.shape[-2], size[0]) @ image @ weights(image.shape[-1], size[1]).T


def test_video_transforms_match_numpy(video):
    clip = np.array(video["video"])  # (C, T, H, W) = (3, 8, 6, 10)
    transforms = video["transforms"]
    # torch.linspace(0, T - 1, n).long(): frames 0, 2, 4, 7 and 0, 3, 7
    np.testing.assert_array_equal(transforms["subsample_3"], clip[:, [0, 3, 7]])
    # the short side (6) to 8, the long one to floor(10 / 6 * 8) = 13
    np.testing.assert_allclose(transforms["scale_8"], _bilinear(clip, (8, 13)), rtol=1e-5,
                               atol=1e-3)
    mean = np.array(video["mean"])[:, None, None, None]
    std = np.array(video["std"])[:, None, None, None]
    expected = _bilinear((clip[:, [0, 2, 4, 7]] / 255 - mean) / std, (4, 6))
    np.testing.assert_allclose(transforms["pipeline"], expected, rtol=1e-5, atol=1e-5)
    assert transforms["label"] == 3


def test_video_models_train_one_step(video):
    sizes = {"resnet": 129057, "x3d": 25993, "csn": 59477, "slowfast": 535450}
    for name, model in video["models"].items():
        logits = np.array(model["logits"])
        assert logits.shape == (2, 5) and np.isfinite(logits).all(), name
        assert model["parameters"] == sizes[name]
        # the reported loss is the cross-entropy of the reported logits
        shifted = logits - logits.max(1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
        assert math.isclose(model["loss"], -(log_probs[0, 1] + log_probs[1, 3]) / 2,
                            rel_tol=1e-5), name
        assert model["loss_after"] < model["loss"], name


def test_torchode_solutions_and_gradients_match_the_exponential(ode):
    t_eval, y0, rates = (np.array(ode[key]) for key in ("t_eval", "y0", "rates"))
    exact = y0[:, None, :] * np.exp(-rates * t_eval[:, :, None])
    final_t = t_eval[:, -1:]
    for name, solution in ode["torchode"].items():
        np.testing.assert_allclose(solution["ts"], t_eval, err_msg=name)
        np.testing.assert_allclose(solution["ys"], exact, rtol=1e-8, atol=1e-10, err_msg=name)
        assert solution["status"] == [0, 0], name
        # d/dy0 of y0 exp(-k T) and d/dk summed over the batch: -T y0 exp(-k T)
        np.testing.assert_allclose(solution["grad_y0"], np.exp(-rates * final_t), rtol=1e-8)
        np.testing.assert_allclose(solution["grad_rates"],
                                   (-final_t * exact[:, -1]).sum(0), rtol=1e-7)
        stats = solution["stats"]
        # the longer grid takes more steps; every step here is accepted
        assert stats["n_accepted"] == stats["n_steps"] and stats["n_steps"][1] > stats[
            "n_steps"][0] > 0, name


def _rotation_flow(t: float) -> np.ndarray:
    """exp(A t) for A = [[-1/2, 1], [-1, -1/2]]: a rotation by t, damped by exp(-t / 2)."""
    return np.exp(-t / 2) * np.array([[np.cos(t), np.sin(t)], [-np.sin(t), np.cos(t)]])


def test_torchdyn_neural_odes_match_the_closed_form_flow(ode):
    dyn = ode["torchdyn"]
    x0, t_span = np.array(dyn["x0"]), np.array(dyn["t_span"])
    exact = np.stack([x0 @ _rotation_flow(t).T for t in t_span])
    for sensitivity in ("autograd", "adjoint"):
        run = dyn[f"rotation/dopri5/{sensitivity}"]
        np.testing.assert_allclose(run["t"], t_span)
        # torchdyn's tableaus are float32 (its solvers' default dtype): 2.4e-8 from the flow
        np.testing.assert_allclose(run["trajectory"], exact, atol=1e-7)
        # loss = |x(T)|^2 = exp(-T) |x0|^2 (rotations keep lengths): d/dx0 = 2 exp(-T) x0
        np.testing.assert_allclose(run["grad_x0"], 2 * np.exp(-t_span[-1]) * x0, rtol=1e-6)
        assert math.isclose(run["loss"], np.exp(-t_span[-1]) * (x0 ** 2).sum(), rel_tol=1e-6)
    for field in ("rotation", "network"):
        autograd, adjoint = dyn[f"{field}/dopri5/autograd"], dyn[f"{field}/dopri5/adjoint"]
        # (the adjoint's forward solve takes its own steps: the two agree to the tolerances)
        np.testing.assert_allclose(adjoint["trajectory"], autograd["trajectory"], atol=1e-7)
        np.testing.assert_allclose(adjoint["grad_x0"], autograd["grad_x0"], rtol=1e-6,
                                   atol=1e-9)
        for got, expected in zip(adjoint["grad_params"], autograd["grad_params"]):
            np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-9, err_msg=field)
    # fixed-step rk4 on a linear field: each step multiplies by exp(hA)'s Taylor polynomial
    step = np.array([[-0.5, 1.0], [-1.0, -0.5]]) * (t_span[1] - t_span[0])
    taylor = sum(np.linalg.matrix_power(step, k) / math.factorial(k) for k in range(5))
    states = [x0]
    for _ in t_span[1:]:
        states.append(states[-1] @ taylor.T)
    # (to the float32 rounding of the tableau's coefficients)
    np.testing.assert_allclose(dyn["rotation/rk4/autograd"]["trajectory"], states, atol=1e-7)
