"""The GPU check for issue 7, for a machine with an NVIDIA GPU, CuPy and (for the ratios) a CUDA
build of PyTorch:

    pip install ".[cuda13,test]" && python bench/gpu_check.py [--data DIR] [--quick]

Sections, each independent (one failing does not stop the others):

1. environment: CuPy, CUDA, cuDNN, bfloat16 support;
2. every row of tests/ops' op table on CUDA against the CPU, forward and float64 gradients
   (in worker processes: CuPy compiles each kernel on first use, and compiling is CPU work);
3. a catalogue of nn layers and losses: CUDA against CPU, outputs and every gradient (float64);
4. every optimizer: five steps on CUDA against five on the CPU, and the test suite's
   CUDA-marked tests;
5. the device API (streams, events, memory stats, mismatch errors, DLPack, checkpoints,
   pinned DataLoader batches, autocast, GradScaler);
6. the main job: LeNet-5 on MNIST on CUDA (one short epoch);
7. timings against PyTorch CUDA in the same run: issue 3's training steps, a large bf16
   TransformerEncoderLayer step and an 8192^3 bf16 matmul; ratio = ember time / torch time;
   and the host's cost of one small op's launch through each layer (ember, CuPy, PyTorch).

Prints a summary table last and writes the full log (tracebacks included) to $OUT (or
./gpu-check-out). Exits non-zero if a correctness check fails. Record what it printed, the card
and the date in bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import copy
import os
import statistics
import subprocess
import sys
import time
import traceback
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import ml_dtypes
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "ops"))
sys.path.insert(0, str(ROOT / "bench"))

from bench_attention import median_ms, queued_ms  # noqa: E402

import ember  # noqa: E402
import ember.optim  # noqa: E402,F401

OUT = Path(os.environ.get("OUT") or ROOT / "gpu-check-out")
RESULTS: list[tuple[str, str, str]] = []  # (section, status, detail)
_log_file = None


def log(*parts) -> None:
    text = " ".join(str(p) for p in parts)
    _log_file.write(text + "\n")
    _log_file.flush()


def where(exc: BaseException) -> str:
    """The innermost frame of ember's code in ``exc``'s traceback, as ``file:line func``."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "/ember/" in f.filename]
    if not frames:
        return ""
    f = frames[-1]
    return f"{f.filename.split('/ember/', 1)[1]}:{f.lineno} {f.name}"


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''} " \
           f"[{where(exc)}]"


def section(fn):
    """Run one section; an exception fails it without stopping the others."""
    def run(*args):
        start = time.perf_counter()
        print(f"== {fn.__name__}", flush=True)
        log(f"\n== {fn.__name__}")
        try:
            status, detail = fn(*args)
        except Exception as exc:  # noqa: BLE001 - a check reports, it never stops the run
            log(traceback.format_exc())
            status, detail = "FAIL", describe(exc)
        detail = f"{detail} ({time.perf_counter() - start:.0f} s)"
        RESULTS.append((fn.__name__, status, detail))
        print(f"   {status} {detail}", flush=True)
    run.section_name = fn.__name__
    return run


def close(want, got, dtype, rtol=None, atol=None) -> bool:
    """``got`` (a CUDA tensor, or a number) matches ``want`` (its CPU twin)."""
    if isinstance(want, ember.Tensor):
        if not isinstance(got, ember.Tensor) or tuple(want.shape) != tuple(got.shape) \
                or want.dtype != got.dtype or got.device.type != "cuda":
            return False
        w, g = want.detach().numpy(), got.detach().cpu().numpy()
    else:
        w, g = np.asarray(want), np.asarray(got)
    if w.dtype.kind in "biu":
        return bool(np.array_equal(w, g))
    loose = np.dtype(dtype).itemsize <= 2 if dtype is not None else False
    rtol = rtol or (1e-2 if loose else 1e-4 if w.dtype in (np.float32, np.complex64) else 1e-7)
    atol = atol or rtol / 10
    return bool(np.allclose(w, g, rtol=rtol, atol=atol, equal_nan=True))


# --------------------------------------------------------------------------------------------
# 2. The op table

def _diff(want, got) -> str:
    """The first few elements where ``got`` (CUDA) differs from ``want`` (CPU)."""
    try:
        w, g = (np.asarray(x.detach().cpu().numpy() if isinstance(x, ember.Tensor) else x)
                for x in (want, got))
        if w.shape != g.shape or w.dtype != g.dtype:
            return f"cpu {w.dtype}{w.shape} vs cuda {g.dtype}{g.shape}"
        w64, g64 = w.astype(np.float64).ravel(), g.astype(np.float64).ravel()
        at = np.flatnonzero(~np.isclose(w64, g64, rtol=1e-2, atol=1e-3, equal_nan=True))[:3]
        return ", ".join(f"[{i}] {w64[i]:.6g} vs {g64[i]:.6g}" for i in at) or "(close)"
    except Exception as exc:  # noqa: BLE001
        return describe(exc)

def _on(device):
    def make(a, requires_grad=False):
        return ember.tensor(a, device=device).requires_grad_(requires_grad)
    return make


def _op_chunk(indices: list, deadline: float) -> list:
    """Check op-table rows ``indices`` (forward for every dtype, gradients in float64)."""
    from op_table import OPS, call, leaves, samples_of, tensor_inputs
    rows = []
    for i in indices:
        op = OPS[i]
        halves = ((np.dtype(np.float16), np.dtype(ml_dtypes.bfloat16))
                  if np.float32 in op.dtypes else ())
        for dt in tuple(op.dtypes) + halves:
            if time.time() > deadline:
                rows.append((op.name, str(dt), "SKIP", "out of time"))
                continue
            for sample in samples_of(op, dt)[:2]:
                try:
                    want = leaves(call(op, sample, ember, _on("cpu"))[0])
                except Exception:  # noqa: BLE001 - samples the CPU rejects on purpose
                    continue
                try:
                    got = leaves(call(op, sample, ember, _on("cuda"))[0])
                    bad = [k for k, (w, g) in enumerate(zip(want, got)) if not close(w, g, dt)]
                    status = "FAIL" if bad or len(want) != len(got) else "ok"
                    rows.append((op.name, str(dt), status,
                                 f"outputs {bad} differ: {_diff(want[bad[0]], got[bad[0]])}"
                                 if bad else ""))
                except Exception as exc:  # noqa: BLE001
                    rows.append((op.name, str(dt), "FAIL", describe(exc)))
                    break
                if not (op.grad and dt == np.float64):
                    continue
                try:
                    grads = []
                    for device in ("cpu", "cuda"):
                        out, args, kwargs = call(op, sample, ember, _on(device), True)
                        outs = [o for o in leaves(out)
                                if isinstance(o, ember.Tensor) and o.requires_grad]
                        ins = tensor_inputs(args, kwargs)
                        if not outs or not ins:
                            break
                        rng = np.random.default_rng(1)
                        seeds = [ember.tensor(rng.standard_normal(o.shape), dtype=o.dtype,
                                              device=device) for o in outs]
                        grads.append(ember.autograd.grad(outs, ins, seeds, allow_unused=True))
                    if len(grads) == 2:
                        bad = [k for k, (w, g) in enumerate(zip(*grads))
                               if (w is None) != (g is None) or (w is not None
                                                                 and not close(w, g, dt))]
                        rows.append((op.name, "grad", "FAIL" if bad else "ok",
                                     f"grads {bad} differ: {_diff(*[g[bad[0]] for g in grads])}"
                                     if bad else ""))
                except Exception as exc:  # noqa: BLE001
                    rows.append((op.name, "grad", "FAIL", describe(exc)))
    return rows


@section
def op_table(workers: int, budget: float):
    from op_table import OPS
    deadline = time.time() + budget
    chunks = [list(range(k, len(OPS), workers)) for k in range(workers)]
    import multiprocessing
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        rows = [r for part in pool.map(_op_chunk, chunks, [deadline] * workers) for r in part]
    failed = sorted({(name, kind, msg) for name, kind, status, msg in rows if status == "FAIL"})
    for name, kind, msg in failed:
        log(f"FAIL {name} [{kind}] {msg}")
    skipped = sum(status == "SKIP" for *_, status, _ in rows)
    ops_failed = len({name for name, *_ in failed})
    passed = sum(status == "ok" for *_, status, _ in rows)
    return ("FAIL" if failed else "ok",
            f"{passed} checks passed, {len(failed)} failed in {ops_failed} ops, "
            f"{skipped} (op, dtype) skipped for time")


# --------------------------------------------------------------------------------------------
# 3. Layers and losses

def _layers():
    nn, F = ember.nn, ember.nn.functional
    r = np.random.default_rng(0)

    def x(*shape, lo=-1.0, hi=1.0):
        return r.uniform(lo, hi, shape)

    def labels(n, k, shape=None):
        return r.integers(0, k, shape or (n,)).astype(np.int64)
    return [
        ("Linear", nn.Linear(5, 3), [x(4, 5)]),
        ("Bilinear", nn.Bilinear(4, 5, 3), [x(2, 4), x(2, 5)]),
        ("Conv1d", nn.Conv1d(3, 4, 3, padding=1), [x(2, 3, 8)]),
        ("Conv2d stride/dilation", nn.Conv2d(3, 4, 3, stride=2, padding=2, dilation=2),
         [x(2, 3, 9, 9)]),
        ("Conv2d groups", nn.Conv2d(4, 6, 3, groups=2, padding="same"), [x(2, 4, 7, 7)]),
        ("Conv2d wide", nn.Conv2d(32, 16, 3, padding=1), [x(2, 32, 8, 8)]),
        ("Conv2d reflect", nn.Conv2d(2, 3, 3, padding=1, padding_mode="reflect"),
         [x(1, 2, 6, 6)]),
        ("Conv3d", nn.Conv3d(2, 3, 3), [x(1, 2, 5, 5, 5)]),
        ("ConvTranspose1d", nn.ConvTranspose1d(3, 2, 3, stride=2), [x(2, 3, 5)]),
        ("ConvTranspose2d", nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1,
                                               output_padding=1), [x(2, 3, 5, 5)]),
        ("MaxPool2d", nn.MaxPool2d(3, 2, ceil_mode=True), [x(2, 3, 9, 9)]),
        ("MaxPool1d", nn.MaxPool1d(2), [x(2, 3, 8)]),
        ("AvgPool2d", nn.AvgPool2d(3, 2, padding=1), [x(2, 3, 9, 9)]),
        ("AdaptiveAvgPool2d", nn.AdaptiveAvgPool2d((3, 2)), [x(2, 3, 7, 5)]),
        ("AdaptiveMaxPool2d", nn.AdaptiveMaxPool2d(2), [x(2, 3, 7, 5)]),
        ("Upsample nearest", nn.Upsample(scale_factor=2), [x(1, 2, 3, 4)]),
        ("Upsample bilinear", nn.Upsample(scale_factor=2, mode="bilinear"), [x(1, 2, 3, 4)]),
        ("PixelShuffle", nn.PixelShuffle(2), [x(1, 8, 3, 3)]),
        ("BatchNorm1d", nn.BatchNorm1d(4), [x(6, 4)]),
        ("BatchNorm2d", nn.BatchNorm2d(3), [x(4, 3, 5, 5)]),
        ("LayerNorm", nn.LayerNorm(6), [x(3, 4, 6)]),
        ("GroupNorm", nn.GroupNorm(2, 4), [x(3, 4, 5)]),
        ("InstanceNorm2d", nn.InstanceNorm2d(3, affine=True), [x(2, 3, 5, 5)]),
        ("LocalResponseNorm", nn.LocalResponseNorm(3), [x(2, 5, 4, 4)]),
        ("Embedding", nn.Embedding(10, 4, padding_idx=0), [labels(6, 10, (2, 3))]),
        ("EmbeddingBag", nn.EmbeddingBag(10, 4, mode="mean"), [labels(6, 10, (2, 3))]),
        ("RNN", nn.RNN(4, 5, num_layers=2), [x(6, 3, 4)]),
        ("LSTM bidirectional", nn.LSTM(4, 5, num_layers=2, bidirectional=True,
                                       batch_first=True), [x(3, 6, 4)]),
        ("GRU", nn.GRU(4, 5), [x(6, 3, 4)]),
        ("LSTMCell", nn.LSTMCell(4, 5), [x(3, 4)]),
        ("GRUCell", nn.GRUCell(4, 5), [x(3, 4)]),
        ("MultiheadAttention", nn.MultiheadAttention(8, 2, batch_first=True),
         [x(2, 5, 8), x(2, 5, 8), x(2, 5, 8)]),
        ("TransformerEncoderLayer", nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0,
                                                               batch_first=True), [x(2, 5, 8)]),
        ("TransformerDecoderLayer", nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0),
         [x(5, 2, 8), x(4, 2, 8)]),
        ("PReLU", nn.PReLU(3), [x(2, 3, 4)]),
        *[(name, getattr(nn, name)(), [x(3, 6)]) for name in (
            "ReLU", "ReLU6", "LeakyReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Mish",
            "Sigmoid", "Tanh", "Hardtanh", "Hardsigmoid", "Hardswish", "Softplus", "Softsign",
            "GLU", "Tanhshrink", "Softshrink")],
        *[(name, getattr(nn, name)(dim=1), [x(3, 6)]) for name in ("Softmax", "LogSoftmax",
                                                                  "Softmin")],
        ("GELU tanh", nn.GELU(approximate="tanh"), [x(3, 6)]),
        ("MSELoss", nn.MSELoss(), [x(3, 4), x(3, 4)]),
        ("L1Loss", nn.L1Loss(), [x(3, 4), x(3, 4)]),
        ("SmoothL1Loss", nn.SmoothL1Loss(), [x(3, 4), x(3, 4)]),
        ("HuberLoss", nn.HuberLoss(delta=0.5), [x(3, 4), x(3, 4)]),
        ("CrossEntropyLoss", nn.CrossEntropyLoss(label_smoothing=0.1), [x(5, 4), labels(5, 4)]),
        ("CrossEntropyLoss 2d", nn.CrossEntropyLoss(ignore_index=1),
         [x(2, 4, 3, 3), labels(2, 4, (2, 3, 3))]),
        ("CrossEntropyLoss probs", nn.CrossEntropyLoss(), [x(5, 4), x(5, 4, lo=0.0)]),
        ("NLLLoss", nn.NLLLoss(), [x(5, 4), labels(5, 4)]),
        ("BCELoss", nn.BCELoss(), [x(3, 4, lo=0.05, hi=0.95), x(3, 4, lo=0.0)]),
        ("BCEWithLogitsLoss", nn.BCEWithLogitsLoss(pos_weight=ember.ones(4, dtype=ember.float64)
                                                   * 2), [x(3, 4), x(3, 4, lo=0.0)]),
        ("KLDivLoss", nn.KLDivLoss(reduction="batchmean"), [x(3, 4), x(3, 4, lo=0.1)]),
        ("MarginRankingLoss", nn.MarginRankingLoss(0.1), [x(5), x(5), np.sign(x(5))]),
        ("CosineEmbeddingLoss", nn.CosineEmbeddingLoss(), [x(3, 4), x(3, 4), np.sign(x(3))]),
        ("TripletMarginLoss", nn.TripletMarginLoss(), [x(3, 4), x(3, 4), x(3, 4)]),
        ("PoissonNLLLoss", nn.PoissonNLLLoss(), [x(3, 4), x(3, 4, lo=0.0, hi=3.0)]),
        ("GaussianNLLLoss", nn.GaussianNLLLoss(), [x(3, 4), x(3, 4), x(3, 4, lo=0.1)]),
        ("MultiLabelSoftMarginLoss", nn.MultiLabelSoftMarginLoss(),
         [x(3, 4), r.integers(0, 2, (3, 4)).astype(np.float64)]),
        ("CTCLoss", nn.CTCLoss(), [np.log(r.dirichlet(np.ones(5), (8, 2))),
                                   r.integers(1, 5, (2, 3)).astype(np.int64),
                                   np.array([8, 7]), np.array([3, 2])]),
        ("F.grid_sample", lambda a, g: F.grid_sample(a, g, align_corners=False),
         [x(1, 2, 4, 5), x(1, 3, 3, 2)]),
        ("F.affine_grid", lambda t: F.affine_grid(t, [1, 2, 3, 4], align_corners=False),
         [x(1, 2, 3)]),
        ("F.interpolate bicubic", lambda a: F.interpolate(a, size=(5, 7), mode="bicubic"),
         [x(1, 2, 3, 4)]),
        ("F.pad replicate", lambda a: F.pad(a, (1, 2, 2, 1), mode="replicate"), [x(1, 2, 3, 4)]),
        ("F.unfold/fold", lambda a: F.fold(F.unfold(a, 2, stride=1), (4, 5), 2),
         [x(1, 2, 4, 5)]),
        ("F.scaled_dot_product_attention causal",
         lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
         [x(2, 3, 5, 4), x(2, 3, 5, 4), x(2, 3, 5, 4)]),
        ("F.normalize/cosine_similarity",
         lambda a, b: F.cosine_similarity(F.normalize(a), b), [x(3, 4), x(3, 4)]),
        ("F.one_hot", lambda t: F.one_hot(t, 5), [labels(4, 5)]),
    ]


def _run_layer(fn, inputs, device):
    args = [ember.tensor(a, device=device).requires_grad_(a.dtype.kind == "f") for a in inputs]
    out = fn(*args)
    outs = [o for o in (out if isinstance(out, tuple) else (out,))
            for o in (o if isinstance(o, tuple) else (o,))]
    float_outs = [o for o in outs if o.requires_grad]
    rng = np.random.default_rng(2)
    seeds = [ember.tensor(rng.standard_normal(o.shape), device=device) for o in float_outs]
    if float_outs:
        ember.autograd.backward(float_outs, seeds)
    params = fn.parameters() if isinstance(fn, ember.nn.Module) else []
    buffers = fn.buffers() if isinstance(fn, ember.nn.Module) else []
    return (outs + [a.grad for a in args if a.requires_grad] + [p.grad for p in params]
            + list(buffers))


@section
def layers():
    failed = []
    entries = _layers()
    for name, fn, inputs in entries:
        try:
            if isinstance(fn, ember.nn.Module):
                fn = fn.double()
                gpu_fn = copy.deepcopy(fn).cuda()
            else:
                gpu_fn = fn
            want = _run_layer(fn, inputs, "cpu")
            got = _run_layer(gpu_fn, inputs, "cuda")
            bad = [k for k, (w, g) in enumerate(zip(want, got))
                   if (w is None) != (g is None) or (w is not None and not close(w, g, None))]
            if bad or len(want) != len(got):
                failed.append(name)
                log(f"FAIL {name}: results {bad} differ (outputs, input grads, param grads, "
                    "buffers)")
        except Exception as exc:  # noqa: BLE001
            failed.append(name)
            log(f"FAIL {name}: {describe(exc)}")
            log(traceback.format_exc())
    return ("FAIL" if failed else "ok",
            f"{len(entries) - len(failed)}/{len(entries)} match; failed: {', '.join(failed)}")


# --------------------------------------------------------------------------------------------
# 4. Optimizers

_OPTIMIZERS = [
    ("SGD momentum nesterov", lambda p: ember.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True,
                                                        weight_decay=0.01)),
    ("Adam amsgrad", lambda p: ember.optim.Adam(p, lr=0.01, amsgrad=True, weight_decay=0.01)),
    ("AdamW", lambda p: ember.optim.AdamW(p, lr=0.01)),
    ("Adamax", lambda p: ember.optim.Adamax(p, lr=0.01)),
    ("NAdam", lambda p: ember.optim.NAdam(p, lr=0.01)),
    ("RAdam", lambda p: ember.optim.RAdam(p, lr=0.01, decoupled_weight_decay=True,
                                          weight_decay=0.1)),
    ("Adagrad", lambda p: ember.optim.Adagrad(p, lr=0.1, lr_decay=0.01)),
    ("Adadelta", lambda p: ember.optim.Adadelta(p)),
    ("RMSprop centered", lambda p: ember.optim.RMSprop(p, lr=0.01, centered=True,
                                                       momentum=0.5)),
    ("Rprop", lambda p: ember.optim.Rprop(p)),
    ("ASGD", lambda p: ember.optim.ASGD(p, lr=0.01, t0=2)),
    ("LBFGS strong_wolfe", lambda p: ember.optim.LBFGS(p, line_search_fn="strong_wolfe")),
]


def _train_params(make_opt, device) -> list:
    ember.manual_seed(0)
    model = ember.nn.Sequential(ember.nn.Linear(6, 8), ember.nn.Tanh(),
                                ember.nn.Linear(8, 3)).double()
    model.to(device)
    rng = np.random.default_rng(3)
    x = ember.tensor(rng.standard_normal((16, 6)), device=device)
    y = ember.tensor(rng.standard_normal((16, 3)), device=device)
    opt = make_opt(model.parameters())

    def closure():
        opt.zero_grad()
        loss = ember.nn.functional.mse_loss(model(x), y)
        loss.backward()
        return loss
    for _ in range(5):
        opt.step(closure)
    return list(model.parameters()) + [v for s in opt.state.values() for v in s.values()
                                       if isinstance(v, ember.Tensor)]


@section
def optimizers():
    failed = []
    for name, make in _OPTIMIZERS:
        try:
            want, got = _train_params(make, "cpu"), _train_params(make, "cuda")
            bad = [k for k, (w, g) in enumerate(zip(want, got))
                   if not close(w, g.to("cuda"), None, rtol=1e-9)]
            if len(want) != len(got) or bad or not all(p.is_cuda for p in got[:4]):
                failed.append(name)
                log(f"FAIL {name}: parameters or state {bad} differ after 5 steps "
                    f"(devices {[str(g.device) for g in got]})")
        except Exception as exc:  # noqa: BLE001
            failed.append(name)
            log(f"FAIL {name}: {describe(exc)}")
            log(traceback.format_exc())
    return ("FAIL" if failed else "ok",
            f"{len(_OPTIMIZERS) - len(failed)}/{len(_OPTIMIZERS)} match; failed: "
            f"{', '.join(failed)}")


# --------------------------------------------------------------------------------------------
# 5. The device API

def _api_checks():
    cuda = ember.cuda

    def devices():
        t = ember.ones(3, device="cuda:0")
        assert t.device == ember.device("cuda", 0) and t.is_cuda
        assert str(t.to("cpu").device) == "cpu"
        assert t.to(ember.float64).dtype == ember.float64 and t.to(ember.float64).is_cuda
        m = ember.nn.Linear(2, 2).cuda()
        assert all(p.is_cuda for p in m.parameters())
        assert m.cpu().weight.device.type == "cpu"
        assert cuda.device_count() >= 1 and cuda.current_device() == 0
        with cuda.device(0):
            assert ember.zeros(1, device="cuda").device.index == 0
        cuda.set_device(0)
        assert "H100" in cuda.get_device_name() or cuda.get_device_name()
        assert "cuda" in repr(t)

    def mismatch():
        try:
            ember.ones(2) + ember.ones(2, device="cuda")
        except TypeError as exc:
            assert isinstance(exc, RuntimeError), "mismatch error must also be a RuntimeError"
            assert "cuda" in str(exc) and "cpu" in str(exc), str(exc)
        else:
            raise AssertionError("a CPU + CUDA op did not raise")

    def memory():
        cuda.reset_peak_memory_stats()
        before = cuda.memory_allocated()
        t = ember.empty(1 << 20, device="cuda")
        assert cuda.memory_allocated() >= before + 4 * (1 << 20), cuda.memory_allocated()
        assert cuda.max_memory_allocated() >= cuda.memory_allocated()
        del t
        cuda.empty_cache()

    def streams_events():
        s = cuda.Stream()
        start, end = cuda.Event(enable_timing=True), cuda.Event(enable_timing=True)
        with cuda.stream(s):
            start.record()
            a = ember.randn(512, 512, device="cuda")
            b = a @ a
            end.record()
        end.synchronize()
        assert start.elapsed_time(end) >= 0 and b.shape == (512, 512)
        cuda.synchronize()

    def rng():
        cuda.manual_seed_all(5)
        a = ember.randn(4, device="cuda")
        cuda.manual_seed(5)
        assert ember.equal(a, ember.randn(4, device="cuda"))
        assert ember.rand(1000, device="cuda").max().item() < 1.0
        assert ember.randint(0, 3, (100,), device="cuda").dtype == ember.int64
        d = ember.nn.functional.dropout(ember.ones(1000, device="cuda"), 0.5)
        assert 300 < int((d == 0).sum().item()) < 700

    def dlpack():
        import cupy
        t = ember.arange(6.0, device="cuda")
        c = cupy.from_dlpack(t)
        c[0] = 42.0
        assert t[0].item() == 42.0
        back = ember.from_dlpack(c)
        back.add_(1)
        assert float(c[1]) == 2.0
        try:
            import torch
        except ImportError:
            return
        tt = torch.from_dlpack(t)
        assert tt.is_cuda and tt[0].item() == 43.0
        e = ember.from_dlpack(torch.arange(3.0, device="cuda"))
        assert e.is_cuda and e.tolist() == [0.0, 1.0, 2.0]

    def checkpoint():
        path = OUT / "cuda_ckpt.pt"
        m = ember.nn.Linear(3, 2).cuda()
        ember.save(m.state_dict(), path)
        on_gpu = ember.load(path)
        assert on_gpu["weight"].is_cuda
        on_cpu = ember.load(path, map_location="cpu")
        assert not on_cpu["weight"].is_cuda
        assert ember.equal(on_cpu["weight"], m.weight.detach().cpu())
        try:
            import torch
        except ImportError:
            return
        sd = torch.load(path, map_location="cuda", weights_only=True)
        assert sd["weight"].is_cuda

    def pinned_loader():
        from ember.utils.data import DataLoader, TensorDataset
        ds = TensorDataset(ember.randn(64, 3), ember.arange(64))
        for workers in (0, 2):
            batches = list(DataLoader(ds, batch_size=16, num_workers=workers, pin_memory=True))
            assert all(b[0].is_pinned() for b in batches), "pin_memory batches are not pinned"
            moved = [b[0].to("cuda", non_blocking=True) for b in batches]
            cuda.synchronize()
            assert ember.equal(ember.cat(moved).cpu(), ds.tensors[0])

    def autocast_lists():
        a = ember.randn(8, 8, device="cuda")
        for dtype in (ember.float16, ember.bfloat16):
            with ember.autocast("cuda", dtype=dtype):
                assert (a @ a).dtype == dtype
                assert ember.nn.functional.linear(a, a).dtype == dtype
                assert (a @ a).sum().dtype in (dtype, ember.float32)
                assert ember.nn.functional.softmax(a @ a, -1).dtype == ember.float32
                assert ember.nn.functional.mse_loss(a @ a, a).dtype == ember.float32

    def grad_scaler():
        model = ember.nn.Linear(4, 1).cuda()
        opt = ember.optim.SGD(model.parameters(), lr=0.1)
        scaler = ember.amp.GradScaler("cuda", init_scale=2.0 ** 10)
        x = ember.randn(8, 4, device="cuda")
        before = model.weight.detach().clone()
        with ember.autocast("cuda", dtype=ember.float16):
            loss = model(x).float().pow(2).mean()
        scaler.scale(loss).backward()
        model.weight.grad[0, 0] = float("inf")
        scaler.step(opt)
        scaler.update()
        assert ember.equal(model.weight.detach(), before), "an inf step was not skipped"
        assert scaler.get_scale() == 2.0 ** 9
        opt.zero_grad()
        with ember.autocast("cuda", dtype=ember.float16):
            loss = model(x).float().pow(2).mean()
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        assert not ember.equal(model.weight.detach(), before)

    def printing():
        t = ember.tensor([[0.1, 0.2]], device="cuda", requires_grad=True)
        assert repr(t) == ("tensor([[0.1000, 0.2000]], device='cuda:0', requires_grad=True)"), \
            repr(t)
    return [devices, mismatch, memory, streams_events, rng, dlpack, checkpoint, pinned_loader,
            autocast_lists, grad_scaler, printing]


@section
def device_api():
    failed = []
    checks = _api_checks()
    for check in checks:
        try:
            check()
        except Exception as exc:  # noqa: BLE001
            failed.append(check.__name__)
            log(f"FAIL {check.__name__}: {describe(exc)}")
            log(traceback.format_exc())
    return ("FAIL" if failed else "ok",
            f"{len(checks) - len(failed)}/{len(checks)} pass; failed: {', '.join(failed)}")


# --------------------------------------------------------------------------------------------
# 5b. Fused kernels (ember.backend.fused) on CuPy against the same source on NumPy

_FUSED = [
    ("where(x > 0, x, alpha * expm1(x))", dict(alpha=1.0)),
    ("0.5 * x * (1 + tanh(0.7978845608 * (x + 0.044715 * x ** 3)))", {}),
    ("x / (1 + exp(-x)) + maximum(x, y) - minimum(x, 0.5) * abs(y)", {}),
    ("where(isfinite(x / y), sqrt(abs(x)) * log1p(abs(y)), 0)", {}),
]


@section
def fused_kernels():
    import cupy

    from ember.backend import fused
    failed, rng = [], np.random.default_rng(4)
    for dtype in (np.float32, np.float64, np.float16):
        for source, scalars in _FUSED:
            x = rng.standard_normal((33, 65)).astype(dtype)
            y = rng.standard_normal((65,)).astype(dtype)
            try:
                want = fused.evaluate(source, x=x, y=y, **scalars)
                got = fused.evaluate(source, x=cupy.asarray(x), y=cupy.asarray(y), **scalars)
                if want.dtype != got.dtype or not np.allclose(
                        want, got.get(), rtol=1e-2 if dtype == np.float16 else 1e-5,
                        atol=1e-3 if dtype == np.float16 else 1e-6):
                    failed.append(f"{source} {dtype.__name__}: differs")
            except Exception as exc:  # noqa: BLE001
                failed.append(f"{source} {dtype.__name__}: {describe(exc)}")
                log(traceback.format_exc())
    for m, p in [(np.ones(100), np.arange(100.0))]:
        g = np.linspace(-1, 1, 100)
        cm, cp_, cg = cupy.asarray(m), cupy.asarray(p), cupy.asarray(g)
        try:
            source = "m = m + w * (g - m); p = p - lr * m"
            fused.update(source, m=m, p=p, g=g, w=0.1, lr=0.01)
            fused.update(source, m=cm, p=cp_, g=cg, w=0.1, lr=0.01)
            if not (np.allclose(m, cm.get()) and np.allclose(p, cp_.get())):
                failed.append("update differs")
        except Exception as exc:  # noqa: BLE001
            failed.append(f"update: {describe(exc)}")
            log(traceback.format_exc())
    for f in failed:
        log("FAIL", f)
    return ("FAIL" if failed else "ok", f"{len(failed)} failures: {'; '.join(failed)[:300]}")


# --------------------------------------------------------------------------------------------
# 5c. The test suite's CUDA-marked tests (fused kernels, optimizer updates on the GPU)

@section
def cuda_tests():
    # in parallel where pytest-xdist is installed: CuPy compiles each kernel on first use,
    # which is CPU work (on the H200 machine: 230 tests in 50 s with 8 workers, 99 in 77 s
    # with one)
    import importlib.util
    workers = ["-n", "8"] if importlib.util.find_spec("xdist") else []
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-m", "cuda", *workers, "-p",
                          "no:cacheprovider", "tests"], capture_output=True, text=True,
                         timeout=300, cwd=ROOT)
    log(run.stdout[-20000:], run.stderr[-5000:])
    summary = (run.stdout.strip().splitlines() or ["no output"])[-1]
    return ("ok" if run.returncode == 0 else "FAIL"), summary


# --------------------------------------------------------------------------------------------
# 6. The main job on CUDA

@section
def mnist_on_cuda(data: str | None):
    if data is None:
        return "SKIP", "no --data folder with MNIST/raw"
    cmd = [sys.executable, "-m", "ember.examples.mnist", "--data", data, "--epochs", "1",
           "--limit-train", "20000", "--limit-test", "2000", "--device", "cuda",
           "--no-progress", "--out", str(OUT / "mnist")]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=ROOT)
    log(run.stdout, run.stderr)
    lines = [ln for ln in run.stdout.splitlines() if ln.startswith("epoch")]
    if run.returncode or not lines:
        return "FAIL", (run.stderr.strip().splitlines() or ["no output"])[-1][:200]
    accuracy = float(lines[-1].split("test accuracy ")[1].split("%")[0])
    return ("ok" if accuracy > 90 else "FAIL"), lines[-1]


# --------------------------------------------------------------------------------------------
# 7. Timings against PyTorch CUDA

def _training_step(lib, build, autocast_dtype=None):
    lib.manual_seed(0)
    model, x, y, opt_name = build(lib)
    model.to("cuda")
    x, y = x.to("cuda"), y.to("cuda")
    opt = (lib.optim.Adam(model.parameters(), lr=1e-4) if opt_name == "adam"
           else lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9))

    def step():
        opt.zero_grad()
        if autocast_dtype is None:
            loss = lib.nn.functional.cross_entropy(model(x), y)
        else:
            with lib.autocast("cuda", dtype=getattr(lib, autocast_dtype)):
                loss = lib.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    return step


def _large_transformer(lib):
    """Issue 7's large workload: bench_nn's Transformer at d_model 1024, 16 heads, seq 512,
    batch 32."""
    from bench_nn import transformer
    return transformer(lib, width=1024, heads=16, seq=512, batch=32)


@section
def timings(quick: bool, profiles: bool = True):
    import torch
    from bench_nn import WORKLOADS
    rows = []

    def compare(name, fe, ft, repeat):
        for warm_up in (fe, ft):  # a training step's second call is the first steady one
            warm_up()                # (Adam's state exists, CuPy's kernels are compiled)
        te = median_ms(fe, ember.cuda.synchronize, repeat)
        tt = median_ms(ft, torch.cuda.synchronize, repeat)
        rows.append(f"{name:<58}{te:10.3f}{tt:10.3f}{te / tt:8.2f}")
        log(rows[-1])
        print("  ", rows[-1], flush=True)
    for name, build, _ in WORKLOADS:
        try:
            compare(name + " (CUDA)", _training_step(ember, build), _training_step(torch, build),
                    5 if quick else 20)
        except Exception as exc:  # noqa: BLE001
            rows.append(f"{name:<58} FAILED {describe(exc)}")
            log(traceback.format_exc())
    try:
        compare("TransformerEncoderLayer 1024/16, seq 512, batch 32, bf16",
                _training_step(ember, _large_transformer, "bfloat16"),
                _training_step(torch, _large_transformer, "bfloat16"), 3 if quick else 10)
    except Exception as exc:  # noqa: BLE001
        rows.append(f"large transformer FAILED {describe(exc)}")
        log(traceback.format_exc())
    n = 8192
    for dtype in ("bfloat16", "float16", "float32"):
        try:
            a_t = torch.randn(n, n, device="cuda", dtype=getattr(torch, dtype))
            b_t = torch.randn(n, n, device="cuda", dtype=getattr(torch, dtype))
            a_e, b_e = ember.from_dlpack(a_t.clone()), ember.from_dlpack(b_t.clone())
            compare(f"matmul {n}^3 {dtype}", lambda a=a_e, b=b_e: a @ b,
                    lambda a=a_t, b=b_t: a @ b, 10)
            flops = 2 * n ** 3 / (float(rows[-1].split()[-3]) * 1e-3) / 1e12
            rows[-1] += f"  ({flops:.0f} TFLOP/s ember)"
        except Exception as exc:  # noqa: BLE001
            rows.append(f"matmul {dtype} FAILED {describe(exc)}")
            log(traceback.format_exc())
    a_e, a_t = ember.randn(2, 2, device="cuda"), torch.randn(2, 2, device="cuda")
    compare("a + b, 2x2 (launch overhead)", lambda: a_e + a_e, lambda: a_t + a_t, 200)
    w_e = ember.randn(10, 10, device="cuda", requires_grad=True)
    w_t = torch.randn(10, 10, device="cuda", requires_grad=True)
    compare("((x*2+1).relu()).sum().backward(), 10x10",
            lambda: ((w_e * 2 + 1).relu()).sum().backward(),
            lambda: ((w_t * 2 + 1).relu()).sum().backward(), 200)
    optim = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_optim.py"), "5", "cuda"],
                           capture_output=True, text=True, timeout=300, cwd=ROOT)
    rows += [f"optimizer (bench_optim.py, CUDA): {line}"
             for line in optim.stdout.strip().splitlines()[-3:]] or [optim.stderr[-300:]]
    print(f"   {'workload':<58}{'ember ms':>10}{'torch ms':>10}{'ratio':>8}")
    for row in rows:
        print("  ", row)
    if not profiles:
        return "ok", f"{len(rows)} timings"
    for name, build, _ in WORKLOADS[1:]:
        _profile(name, _training_step(ember, build))
    _profile("large transformer", _training_step(ember, _large_transformer, "bfloat16"))
    print(f"   {'where a step goes (ms)':<58}{'host':>8}{'wall':>8}{'GPU':>8}{'kernels':>9}")
    for name, build, _ in WORKLOADS:
        for lib, sync in ((ember, ember.cuda.synchronize), (torch, torch.cuda.synchronize)):
            _time_split(f"{name} ({lib.__name__})", _training_step(lib, build), sync)
    for lib, sync in ((ember, ember.cuda.synchronize), (torch, torch.cuda.synchronize)):
        _time_split(f"large transformer ({lib.__name__})",
                    _training_step(lib, _large_transformer, "bfloat16"), sync,
                    kernel_table=True)
    return "ok", f"{len(rows)} timings"


@section
def launch_costs():
    """Host time per call of one small op through each layer: ember's Tensor op, the CuPy call
    it makes, ember's own kernel where it has one, and PyTorch's op."""
    import cupy
    import torch

    from ember.backend import cuda, cuda_rows, special
    bf16 = np.dtype(ml_dtypes.bfloat16)
    e = ember.randn(4096, device="cuda")
    c, t = e._data, torch.randn(4096, device="cuda")
    m_e, m_t = ember.randn(64, 64, device="cuda"), torch.randn(64, 64, device="cuda")
    m_c = m_e._data
    cases = [
        ("cast float32 -> bfloat16: ember Tensor.to", lambda: e.to(ember.bfloat16)),
        ("  CuPy astype", lambda: c.astype(bf16)),
        ("  ember's cast kernel (RawKernel)", lambda: cuda_rows.cast(c, bf16)),
        ("  torch .to", lambda: t.to(torch.bfloat16)),
        ("add: ember a + b", lambda: e + e),
        ("  CuPy a + b", lambda: c + c),
        ("  torch a + b", lambda: t + t),
        ("relu backward: ember's kernel (ElementwiseKernel)",
         lambda: special.grad_where_positive(c, c)),
        ("  CuPy less_equal + where", lambda: cupy.where(c <= 0, 0, c)),
        ("empty(4096): CuPy", lambda: cupy.empty(4096, np.float32)),
        ("  torch", lambda: torch.empty(4096, device="cuda")),
        ("matmul 64x64: ember a @ b", lambda: m_e @ m_e),
        ("  ember's cuBLAS call (cuda.gemm)", lambda: cuda.gemm(m_c, m_c)),
        ("  CuPy matmul", lambda: cupy.matmul(m_c, m_c)),
        ("  torch a @ b", lambda: m_t @ m_t),
    ]
    for label, fn in cases:
        # on small arrays the calls queue faster than the GPU runs them: the launch cost
        row = f"{label:<52}{queued_ms(fn, ember.cuda.synchronize, 1000, True) * 1e3:8.1f} us"
        log(row)
        print("  ", row, flush=True)
    return "ok", f"{len(cases)} launch costs"


def _kernel_events(step, sync, steps: int):
    """The GPU kernels and copies of ``steps`` steps, as CUPTI records them through PyTorch's
    profiler (it sees every launch in the process, CuPy's included)."""
    import torch
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as prof:
        for _ in range(steps):
            step()
        sync()

    def device_us(event):
        return (getattr(event, "self_device_time_total", None)
                or getattr(event, "self_cuda_time_total", 0))
    timed = [e for e in prof.key_averages() if device_us(e) > 0]
    # Host-side events carry their kernels' time too: keep the device's own rows where marked.
    on_device = [e for e in timed if str(getattr(e, "device_type", "")).endswith("CUDA")]
    return [(e.key, e.count, device_us(e)) for e in on_device or timed]


def _time_split(name: str, step, sync, steps: int = 10, kernel_table: bool = False) -> None:
    """Where a step's time goes: host (until ``step()`` returns: Python, launches and any wait
    for the GPU inside the step), wall (until the GPU is done), GPU (the sum of its kernels'
    times, from CUPTI) and the number of kernels per step; with ``kernel_table``, the kernels
    that take the most GPU time."""
    try:
        step()
        sync()
        host, wall = [], []
        for _ in range(steps):
            sync()
            t0 = time.perf_counter()
            step()
            t1 = time.perf_counter()
            sync()
            host.append(t1 - t0)
            wall.append(time.perf_counter() - t0)
        events = _kernel_events(step, sync, 3)
        gpu_ms = sum(us for _, _, us in events) / 3e3
        launches = sum(count for _, count, _ in events) / 3
        row = (f"{name:<58}{statistics.median(host) * 1e3:8.2f}"
               f"{statistics.median(wall) * 1e3:8.2f}{gpu_ms:8.2f}{launches:9.0f}")
        log(row)
        print("  ", row, flush=True)
        if kernel_table:  # every kernel in the log, the 25 longest on stdout
            lines = [f"{us / 3e3:8.3f} ms {count / 3:6.0f}x  {key[:110]}"
                     for key, count, us in sorted(events, key=lambda e: -e[2])]
            log(f"all GPU kernels of {name} per step:\n" + "\n".join(lines))
            _show_table(f"GPU kernels of {name} per step", "\n".join(lines[:25]))
    except Exception as exc:  # noqa: BLE001
        log(traceback.format_exc())
        print(f"   time split of {name} failed: {describe(exc)}")


def _show_table(title: str, table: str) -> None:
    """A profiler table whole in the log, its lines cut to 150 characters on stdout."""
    log(f"{title}:\n{table}")
    print(f"   {title}:")
    print("\n".join("     " + line[:150] for line in table.splitlines()), flush=True)


def _profile(name: str, step, steps: int = 3) -> None:
    """Where an ember CUDA step's time goes: host time per step, and the functions with the
    most own time (cProfile), in the log and shortened on stdout."""
    import cProfile
    import io
    import pstats
    try:
        step()
        ember.cuda.synchronize()
        profiler = cProfile.Profile()
        t0 = time.perf_counter()
        profiler.enable()
        for _ in range(steps):
            step()
        ember.cuda.synchronize()
        profiler.disable()
        total = (time.perf_counter() - t0) / steps * 1e3
        text = io.StringIO()
        stats = pstats.Stats(profiler, stream=text).sort_stats("tottime")
        stats.print_stats(25)
        log(f"profile of {name}: {total:.1f} ms per step (profiled)\n{text.getvalue()}")
        log(_cupy_call_sites(stats, steps))
        top = sorted(stats.stats.items(), key=lambda kv: -kv[1][2])[:6]
        calls = sum(v[1] for v in stats.stats.values()) // steps
        own = ", ".join(f"{fn[2]}:{fn[1]} {v[2] / steps * 1e3:.1f}" for fn, v in top)
        print(f"   {name}: {total:.1f} ms/step profiled, {calls} calls/step; own ms: {own}",
              flush=True)
    except Exception as exc:  # noqa: BLE001
        print(f"   profile of {name} failed: {describe(exc)}")


def _cupy_call_sites(stats, steps: int) -> str:
    """CuPy's own functions by host time per step, each with the ember functions that call
    it most: where a step's CuPy calls (each a launch or an allocation) come from."""
    lines = ["CuPy calls per step (own ms, calls; top callers by calls):"]
    own = [(fn, v) for fn, v in stats.stats.items() if "cupy" in fn[2] or "cupy" in fn[0]]
    for fn, (_, calls, tottime, _, callers) in sorted(own, key=lambda kv: -kv[1][2])[:20]:
        sites = sorted(callers.items(), key=lambda kv: -kv[1][1])[:4]
        where_from = "; ".join(f"{c[0].rsplit('/ember/', 1)[-1]}:{c[1]} {c[2]} x{v[1] / steps:g}"
                               for c, v in sites)
        lines.append(f"  {tottime / steps * 1e3:6.2f} ms {calls / steps:5.0f}x  {fn[2][:60]}  "
                     f"<- {where_from}")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------

def _bfloat16_batched_probe(cupy) -> str:
    """ember's cuBLAS path for batched bfloat16 products against float32 products."""
    from ember.backend import cuda
    rng = np.random.default_rng(5)
    worst = 0.0
    try:
        for a_shape, b_shape, transpose_b in [((3, 4, 5, 6), (3, 4, 6, 7), False),
                                              ((2, 5, 8), (8, 3), False),
                                              ((4, 6, 5), (4, 7, 5), True),
                                              ((1, 3, 6), (5, 6, 2), False)]:
            a = rng.standard_normal(a_shape).astype(ml_dtypes.bfloat16)
            b = rng.standard_normal(b_shape).astype(ml_dtypes.bfloat16)
            ga, gb = cupy.asarray(a), cupy.asarray(b)
            if transpose_b:
                gb = gb.swapaxes(-1, -2)
                b = b.swapaxes(-1, -2)
            got = cuda.gemm(ga, gb).get().astype(np.float32)
            want = np.matmul(a.astype(np.float32), b.astype(np.float32))
            worst = max(worst, float(np.abs(got - want).max() / np.abs(want).max()))
        return f"bfloat16 batched matmul (cuBLAS): max relative error {worst:.1e}" + (
            "" if worst < 2e-2 else "  <-- WRONG")
    except Exception as exc:  # noqa: BLE001
        log(traceback.format_exc())
        return f"bfloat16 batched matmul (cuBLAS): {describe(exc)}"


@section
def environment():
    import cupy
    lines = [f"ember {ember.__version__}, numpy {np.__version__}, cupy {cupy.__version__}",
             f"CUDA runtime {cupy.cuda.runtime.runtimeGetVersion()}, driver "
             f"{cupy.cuda.runtime.driverGetVersion()}, device {ember.cuda.get_device_name(0)}"]
    try:
        from cupy.cuda import cudnn
        lines.append(f"cuDNN {cudnn.getVersion()}")
    except Exception as exc:  # noqa: BLE001
        lines.append(f"no cupy.cuda.cudnn: {describe(exc)}")
    for probe, code in [("cupyx.cudnn", "import cupyx.cudnn"),
                        ("bfloat16 array", "import ml_dtypes; cupy.zeros(4, ml_dtypes.bfloat16)"),
                        ("bfloat16 matmul", "import ml_dtypes; a = cupy.ones((4, 4), "
                                            "ml_dtypes.bfloat16); a @ a"),
                        ("cupy.fuse", "cupy.fuse(lambda a: a * 2 + 1)(cupy.ones(3))"),
                        ("torch", "import torch; torch.cuda.get_device_name()")]:
        try:
            exec(code, {"cupy": cupy})
            lines.append(f"{probe}: works")
        except Exception as exc:  # noqa: BLE001
            lines.append(f"{probe}: {describe(exc)}")
    lines.append(_bfloat16_batched_probe(cupy))
    for line in lines:
        log(line)
        print("  ", line)
    return "ok", lines[1]


def main() -> int:
    global _log_file
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="folder holding MNIST/raw/ (section 6)")
    parser.add_argument("--quick", action="store_true", help="fewer timing repeats")
    parser.add_argument("--no-profiles", action="store_true",
                        help="timings without the profiles of where ember's time goes")
    parser.add_argument("--workers", type=int, default=min(12, os.cpu_count() or 1))
    parser.add_argument("--budget", type=float, default=400.0,
                        help="seconds for the whole check: the op table, last, gets what is "
                             "left of them (at least 30)")
    parser.add_argument("--skip", action="append", default=[], help="sections to skip")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    _log_file = open(OUT / "gpu_check.log", "w")
    if not ember.cuda.is_available():
        print("no CUDA device visible to CuPy: nothing to check")
        return 1
    end = time.time() + args.budget
    plan = [(environment, ()), (device_api, ()), (fused_kernels, ()), (cuda_tests, ()),
            (layers, ()), (optimizers, ()),
            (mnist_on_cuda, (args.data,)), (timings, (args.quick, not args.no_profiles)),
            (launch_costs, ()),
            (op_table, (args.workers, None))]
    for run, run_args in plan:
        if run.section_name == "op_table":
            run_args = (args.workers, max(30.0, end - time.time() - 20))
        if run.section_name not in args.skip:
            run(*run_args)
    print("\nsummary")
    for name, status, detail in RESULTS:
        print(f"{status:<5}{name:<14}{detail}")
    return 1 if any(status == "FAIL" for _, status, _ in RESULTS) else 0


if __name__ == "__main__":
    sys.exit(main())
