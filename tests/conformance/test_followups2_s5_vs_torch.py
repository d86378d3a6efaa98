"""Conformance against PyTorch: the ``torch`` import alias leaves functions bound over
same-named submodules alone; ``Timer`` dedents its code; ``jit`` example inputs and switches;
a CUDA ``GradScaler`` on a machine without CUDA; ``return_types`` of ``geqrf`` and the LDL
factorization; ``Module`` conversions and ``load_state_dict`` under ``torch.__future__``."""
import contextlib
import sys
import warnings

import numpy as np
import pytest

import ember
from ember.compat import torch_is_ember

torch = pytest.importorskip("torch")
benchmark = pytest.importorskip("torch.utils.benchmark")


# --- the import alias -------------------------------------------------------------------------

def test_alias_import_keeps_function_over_submodule():
    code = "from torch.autograd.gradcheck import gradcheck\nimport torch.autograd.gradcheck\n"
    ns: dict = {}
    with torch_is_ember():
        exec(code, ns)
        aliased = {k: v for k, v in sys.modules.items() if k.startswith("torch.autograd")}
    # As with PyTorch: the package's name is the function, the submodule stays importable.
    assert callable(ember.autograd.gradcheck) and callable(ember.autograd.gradgradcheck)
    assert ns["gradcheck"] is ember.autograd.gradcheck
    assert callable(torch.autograd.gradcheck)
    assert aliased["torch.autograd.gradcheck"] is sys.modules["ember.autograd.gradcheck"]
    assert "torch" not in sys.modules or sys.modules["torch"] is torch


def test_alias_maps_every_loaded_module():
    import ember.nn.modules.module  # noqa: F401
    with torch_is_ember():
        mapped = {k: sys.modules[k] for k in list(sys.modules) if k.startswith("torch.")}
        import torch.nn.functional as F  # noqa: N812  (resolved through the alias)
    assert F is ember.nn.functional
    assert mapped["torch.nn.modules.module"] is sys.modules["ember.nn.modules.module"]


# --- Timer ------------------------------------------------------------------------------------

@pytest.mark.parametrize("stmt,setup", [
    ("x * y", "\n        x = torch.ones((128,))\n        y = torch.ones((1,))\n        "),
    ("\n   a = 1  \n   ", "  \n  z = 1\n"),
    ("  for _ in range(2):\n      pass", "pass"),
])
def test_timer_dedents_like_torch(stmt, setup):
    from ember.utils.benchmark import Timer
    got = Timer(stmt, setup)._task_spec
    expected = benchmark.Timer(stmt, setup)._task_spec
    assert (got.stmt, got.setup) == (expected.stmt, expected.setup)
    assert Timer(stmt, setup).timeit(3).median >= 0


# --- jit --------------------------------------------------------------------------------------

@pytest.mark.parametrize("container", [list, tuple])
def test_jit_trace_sequence_is_positional(container):
    seen = []

    def f(x, y):
        seen.append((x.shape, y.shape))
        return x + y

    ember.jit.trace(f, container([ember.ones(2), ember.ones(3, 1)]))
    assert seen == [((2,), (3, 1))]
    torch.jit.trace(lambda x, y: x + y, container([torch.ones(2), torch.ones(3, 1)]))


def test_jit_switches_like_torch():
    for lib in (ember, torch):
        assert lib.jit.onednn_fusion_enabled() is False
        try:
            assert lib.jit.enable_onednn_fusion(True) is None
            assert lib.jit.onednn_fusion_enabled() is True
        finally:
            lib.jit.enable_onednn_fusion(False)
        try:
            assert lib._C._jit_set_autocast_mode(False) is True
            assert lib._C._jit_set_autocast_mode(False) is False
        finally:
            lib._C._jit_set_autocast_mode(True)
    model = ember.nn.Linear(2, 2).eval()
    assert ember.jit.freeze(ember.jit.script(model))(ember.ones(2)).shape == (2,)
    assert ember.jit.optimize_for_inference(model) is model


# --- GradScaler("cuda") without CUDA ----------------------------------------------------------

def _disabled_scaler_run(lib, make):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scaler = make(lib)
    w = lib.ones(2, requires_grad=True)
    opt = lib.optim.SGD([w], lr=0.5)
    loss = (w * 3).sum()
    scaled = scaler.scale(loss)
    scaled.backward()
    stepped = scaler.step(opt)
    scaler.update()
    scaler.load_state_dict({})
    return dict(warnings=[f"{x.category.__name__}: {x.message}" for x in caught
                          if "GradScaler" in str(x.message)],
                enabled=scaler.is_enabled(), scale=scaler.get_scale(),
                passthrough=scaled is loss, stepped=stepped, state=scaler.state_dict(),
                w=w.detach().numpy().tolist(), scale_list=scaler.scale([loss, loss]))


@pytest.mark.skipif(torch.cuda.is_available(), reason="PyTorch sees CUDA here")
@pytest.mark.parametrize("make", [lambda lib: lib.amp.GradScaler("cuda"),
                                  lambda lib: lib.amp.GradScaler(),
                                  lambda lib: lib.cuda.amp.GradScaler(init_scale=4.0)])
def test_cuda_grad_scaler_without_cuda_disables_itself(make):
    if ember.cuda.is_available():
        pytest.skip("ember sees CUDA here")
    got, expected = _disabled_scaler_run(ember, make), _disabled_scaler_run(torch, make)
    assert got.pop("scale_list")[0] is not None and expected.pop("scale_list") is not None
    assert got == expected
    assert got["state"] == {} and got["enabled"] is False and got["w"] == [-0.5, -0.5]


def test_cpu_grad_scaler_stays_enabled():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scaler = ember.amp.GradScaler("cpu", init_scale=8.0)
    assert scaler.is_enabled()
    assert sorted(scaler.state_dict()) == sorted(torch.amp.GradScaler("cpu").state_dict())


# --- return_types -----------------------------------------------------------------------------

def test_return_types_like_torch():
    assert not hasattr(ember.return_types, "var_mean")
    assert not hasattr(ember.return_types, "std_mean")
    a = np.random.default_rng(0).standard_normal((4, 4))
    a = a + a.T
    for name, fn in [("geqrf", lambda lib, x: lib.geqrf(x)),
                     ("linalg_ldl_factor", lambda lib, x: lib.linalg.ldl_factor(x)),
                     ("linalg_ldl_factor_ex", lambda lib, x: lib.linalg.ldl_factor_ex(x))]:
        got, expected = fn(ember, ember.tensor(a)), fn(torch, torch.tensor(a))
        assert type(got) is getattr(ember.return_types, name)
        assert type(got).__name__ == type(expected).__name__ == name
        assert len(got) == len(expected)
        np.testing.assert_allclose(got[0].numpy(), expected[0].numpy(), atol=1e-10)
        assert repr(got).startswith(f"torch.return_types.{name}(\n")


# --- Module conversions under torch.__future__ -----------------------------------------------

@contextlib.contextmanager
def _future(lib, overwrite: bool, swap: bool):
    lib.__future__.set_overwrite_module_params_on_conversion(overwrite)
    lib.__future__.set_swap_module_params_on_conversion(swap)
    try:
        yield
    finally:
        lib.__future__.set_overwrite_module_params_on_conversion(False)
        lib.__future__.set_swap_module_params_on_conversion(False)


def _conversion_facts(lib, overwrite: bool, swap: bool) -> dict:
    with _future(lib, overwrite, swap):
        m = lib.nn.Linear(2, 2)
        w = m.weight
        w.grad = lib.ones(2, 2)
        g = w.grad
        bn = lib.nn.BatchNorm1d(2)
        rm = bn.running_mean
        m.double()
        bn.double()
        facts = dict(same_param=m.weight is w, old_dtype=str(w.dtype),
                     new_dtype=str(m.weight.dtype), new_is_param=type(m.weight).__name__,
                     requires_grad=m.weight.requires_grad, same_grad=m.weight.grad is g,
                     grad_dtype=str(m.weight.grad.dtype), same_buffer=bn.running_mean is rm)
        opt = lib.optim.SGD(m.parameters(), lr=1.0)
        m(lib.ones(1, 2, dtype=lib.float64)).sum().backward()
        opt.step()
        facts["optimizer_sees_it"] = bool((m.weight != 1).all()) if swap else None
        for assign in (False, True):
            w = m.weight
            sd = {"weight": lib.zeros(2, 2, dtype=lib.float32), "bias": lib.zeros(2)}
            m.load_state_dict(sd, assign=assign)
            facts[f"load{assign}"] = (m.weight is w, str(m.weight.dtype),
                                      type(m.weight).__name__, m.weight.requires_grad,
                                      m.weight.grad is None)
    return facts


@pytest.mark.parametrize("overwrite,swap", [(False, False), (True, False), (False, True),
                                            (True, True)])
def test_module_conversion_future_switches(overwrite, swap):
    got = _conversion_facts(ember, overwrite, swap)
    expected = _conversion_facts(torch, overwrite, swap)
    assert {k: v.replace("torch.", "") if isinstance(v, str) else v for k, v in got.items()} \
        == {k: v.replace("torch.", "") if isinstance(v, str) else v
            for k, v in expected.items()}


def test_swap_load_rejects_module_load_returning_an_input():
    class Lazy(ember.nn.Parameter):
        def module_load(self, other, assign=False):
            return other

    m = ember.nn.Linear(2, 2)
    m.weight = Lazy(ember.zeros(2, 2))
    with _future(ember, False, True), pytest.raises(RuntimeError, match="module_load returned"):
        m.load_state_dict({"weight": ember.ones(2, 2), "bias": ember.ones(2)})
