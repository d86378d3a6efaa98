"""Small CPU parameters' updates run gathered into flat arrays (``multi_tensor``'s host path):
the same values, bit for bit, as one update per parameter (``foreach=False``)."""
import inspect
import warnings

import numpy as np
import pytest

import ember
import ember.optim as optim
from ember.backend import multi_tensor

OPTIMIZERS = [
    ("SGD", dict(lr=0.1)), ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.3, maximize=True)),
    ("Adam", dict(lr=0.01)), ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1)),
    ("AdamW", dict(lr=0.01)), ("Adamax", dict(lr=0.01)), ("NAdam", dict(lr=0.01)),
    ("RAdam", dict(lr=0.01)), ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True)),
    ("Adagrad", dict(lr=0.1)), ("Adadelta", dict(lr=1.0)), ("ASGD", dict(lr=0.01)),
    ("Rprop", dict(lr=0.01)), ("Adafactor", dict(lr=0.01)),
]


def _params(dtype):
    rng = np.random.default_rng(0)
    shapes = [(3, 4), (4,), (), (2, 3, 2), (5,), (3, 4), (1,)]
    params = [ember.tensor(rng.standard_normal(s), dtype=dtype, requires_grad=True)
              for s in shapes]
    params.append(ember.tensor(rng.standard_normal((4, 3)), dtype=dtype).t().requires_grad_())
    return params


def _run(name, kwargs, dtype, foreach):
    params = _params(dtype)
    cls = getattr(optim, name)
    if "foreach" in inspect.signature(cls).parameters:
        kwargs = dict(kwargs, foreach=foreach)
    elif foreach is False:
        pytest.skip(f"{name} takes no foreach")
    opt = cls(params, **kwargs)
    rng = np.random.default_rng(1)
    for _ in range(4):
        for p in params:
            p.grad = ember.tensor(rng.standard_normal(tuple(p.shape)), dtype=dtype)
        opt.step()
    return [p.detach().numpy() for p in params], opt.state_dict()


@pytest.mark.parametrize("dtype", [ember.float32, ember.float64])
@pytest.mark.parametrize("name,kwargs", OPTIMIZERS)
def test_gathered_equals_per_parameter(name, kwargs, dtype):
    gathered, state = _run(name, kwargs, dtype, None)
    alone, state_alone = _run(name, kwargs, dtype, False)
    for a, b in zip(gathered, alone):
        np.testing.assert_array_equal(a, b)
    for i, st in state["state"].items():
        for k, v in st.items():
            other = state_alone["state"][i][k]
            if isinstance(v, ember.Tensor):
                np.testing.assert_array_equal(v.numpy(), other.numpy())


def test_a_parameter_listed_twice_is_updated_twice():
    p = ember.ones(3, requires_grad=True)
    q = ember.ones(2, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        opt = optim.SGD([p, q, p], lr=0.5)
    p.grad = ember.ones(3)
    q.grad = ember.ones(2)
    opt.step()
    np.testing.assert_array_equal(p.detach().numpy(), np.zeros(3))
    np.testing.assert_array_equal(q.detach().numpy(), np.full(2, 0.5))


def test_updates_run_in_order():
    a, b = np.ones(3), np.ones(4)
    runs = multi_tensor.prepare_host_updates([
        ("p = p * s", dict(p=a, s=2.0)), ("p = p * s", dict(p=b, s=2.0)),
        ("p = p * s", dict(p=a, s=2.0)), ("p = p + q", dict(p=b, q=a[:1].repeat(4)))])
    for run in runs:
        run()
    np.testing.assert_array_equal(a, np.full(3, 4.0))
    np.testing.assert_array_equal(b, np.full(4, 3.0))
