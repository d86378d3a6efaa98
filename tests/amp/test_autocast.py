import numpy as np
import pytest

import ember
from ember.amp import GradScaler


def test_matmul_runs_in_low_precision_and_softmax_in_float32():
    a = ember.randn(4, 4, requires_grad=True)
    b = ember.randn(4, 4)
    with ember.autocast("cpu", dtype=ember.bfloat16):
        c = a @ b
        d = c.softmax(-1)
        e = a + b
    assert c.dtype is ember.bfloat16
    assert d.dtype is ember.float32
    assert e.dtype is ember.float32  # not on a list: runs in the inputs' dtype
    d.sum().backward()
    assert a.grad.dtype is ember.float32
    expected = (a.detach().bfloat16().float() @ b.bfloat16().float()).numpy()
    np.testing.assert_allclose(c.float().detach().numpy(), expected, rtol=2e-2, atol=2e-2)


def test_disabled_region_and_device_type():
    a = ember.randn(3, 3)
    with ember.autocast("cpu"):
        with ember.autocast("cpu", enabled=False):
            assert (a @ a).dtype is ember.float32
        assert (a @ a).dtype is ember.bfloat16
    with ember.autocast("cuda"):  # CPU tensors are untouched by a CUDA autocast
        assert (a @ a).dtype is ember.float32
    assert (a @ a).dtype is ember.float32


def test_decorator_and_widest_promotion():
    @ember.autocast("cpu", dtype=ember.float16)
    def f(x, y):
        return x @ y, ember.atan2(x.half(), y)

    mm, at = f(ember.randn(2, 2), ember.randn(2, 2))
    assert mm.dtype is ember.float16
    assert at.dtype is ember.float32


def test_unknown_device_type():
    with pytest.raises(RuntimeError):
        ember.autocast("tpu")


class _Opt:
    def __init__(self, params):
        self.param_groups = [{"params": params}]
        self.steps = 0

    def step(self):
        self.steps += 1


def test_grad_scaler_skips_overflow_and_backs_off():
    p = ember.zeros(2, requires_grad=True)
    opt = _Opt([p])
    scaler = GradScaler("cpu", init_scale=8.0, growth_interval=2)
    loss = (p * ember.tensor([1.0, 2.0])).sum()
    scaler.scale(loss).backward()
    np.testing.assert_allclose(p.grad.numpy(), [8.0, 16.0])
    scaler.step(opt)
    np.testing.assert_allclose(p.grad.numpy(), [1.0, 2.0])  # unscaled before the step
    assert opt.steps == 1
    scaler.update()
    p.grad = ember.tensor([float("inf"), 0.0])
    scaler.step(opt)
    assert opt.steps == 1  # skipped
    scaler.update()
    assert scaler.get_scale() == 4.0
    for _ in range(2):
        p.grad = ember.ones(2)
        scaler.step(opt)
        scaler.update()
    assert scaler.get_scale() == 8.0  # grew after growth_interval clean steps
    state = scaler.state_dict()
    other = GradScaler("cpu")
    other.load_state_dict(state)
    assert other.get_scale() == 8.0


def test_grad_scaler_double_unscale_errors():
    p = ember.zeros(1, requires_grad=True)
    p.grad = ember.ones(1)
    opt = _Opt([p])
    scaler = GradScaler("cpu")
    scaler.unscale_(opt)
    with pytest.raises(RuntimeError):
        scaler.unscale_(opt)


def test_grad_scaler_tracks_each_optimizers_stage_until_update():
    from ember.amp.grad_scaler import OptState
    p = ember.zeros(1, requires_grad=True)
    p.grad = ember.ones(1)
    opt = _Opt([p])
    scaler = GradScaler("cpu")
    assert [s.value for s in OptState] == [0, 1, 2]
    scaler.step(opt)
    with pytest.raises(RuntimeError, match="after step"):
        scaler.unscale_(opt)
    with pytest.raises(RuntimeError, match="already been called since the last update"):
        scaler.step(opt)
    scaler.update()
    scaler.unscale_(opt)  # READY again after update(); step() does not unscale twice
    scaler.step(opt)
    assert opt.steps == 2


def test_matmul_dtype_check_is_skipped_only_where_autocast_casts():
    import pytest

    import ember
    a, b = ember.randn(3, 3), ember.randn(3, 3, dtype=ember.float64)
    with ember.autocast("cpu", dtype=ember.bfloat16):
        assert (a @ b).dtype == ember.bfloat16
    with ember.autocast("cuda", dtype=ember.float16), \
            pytest.raises(RuntimeError, match="same dtype"):
        a @ b  # CPU tensors: no CPU autocast, so PyTorch's dtype error stands
