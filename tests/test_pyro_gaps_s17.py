"""What Pyro asks of torch, against NumPy or PyTorch's documented behaviour: the alias names its
modules ``torch[.x]``, ``_C._get_tracing_state``, ``jit.TracerWarning``, ``Tensor._cdata``,
``Independent``/``TransformedDistribution.expand`` on subclasses that keep state in their parts,
``register_kl`` on classes outside the hierarchy, Cholesky on NaN, constraints in full loads."""
from __future__ import annotations

import io
import pickle
import warnings

import numpy as np
import pytest

import ember
import ember.distributions as D
from ember.compat import torch_is_ember
from ember.distributions import constraints


def test_alias_lists_models_of_a_module_named_as_imported():
    with torch_is_ember():
        import torchvision
        assert torchvision.models.__name__ == "torchvision.models"
        assert "resnet18" in torchvision.models.list_models(torchvision.models)
    assert ember.vision.models.__name__ == "ember.vision.models"


def test_no_tracer_is_ever_active():
    assert ember._C._get_tracing_state() is None
    assert issubclass(ember.jit.TracerWarning, Warning)
    with pytest.warns(ember.jit.TracerWarning):  # a category that filters name
        warnings.warn("traced", ember.jit.TracerWarning, stacklevel=1)


def test_cdata_names_the_tensor_object():
    t = ember.zeros(3)
    param = ember.nn.Parameter(ember.ones(2))
    assert t._cdata == t._cdata and isinstance(t._cdata, int)
    assert t.view(3)._cdata != t._cdata and t.data._cdata != t._cdata
    assert param._cdata == param._cdata != ember.ones(2)._cdata


class _ValidatedByBase(D.Independent):
    """As Pyro's Independent: the validation flag lives on the base distribution."""

    @property
    def _validate_args(self):
        return self.base_dist._validate_args

    @_validate_args.setter
    def _validate_args(self, value):
        self.base_dist._validate_args = value


class _ValidatedByTransforms(D.TransformedDistribution):
    """A subclass whose flag setter reads the parts ``__init__`` set first."""

    @property
    def _validate_args(self):
        return self._flag

    @_validate_args.setter
    def _validate_args(self, value):
        self._flag = value
        self.parts_seen = (len(self.transforms), tuple(self.base_dist.batch_shape))


def test_expand_sets_the_parts_before_the_flag():
    normal = D.Normal(ember.zeros(3), ember.ones(3), validate_args=True)
    expanded = _ValidatedByBase(normal, 1).expand([4])
    assert isinstance(expanded, _ValidatedByBase)
    assert (tuple(expanded.batch_shape), tuple(expanded.event_shape)) == ((4,), (3,))
    assert expanded._validate_args is True
    np.testing.assert_allclose(expanded.log_prob(ember.zeros(4, 3)).numpy(),
                               np.full(4, -1.5 * np.log(2 * np.pi)), rtol=1e-6)
    transformed = _ValidatedByTransforms(D.Normal(ember.zeros(2), 1.0),
                                         [D.transforms.ExpTransform()], validate_args=False)
    expanded = transformed.expand([5, 2])
    assert tuple(expanded.batch_shape) == (5, 2)
    assert expanded.parts_seen == (1, (5, 2))


def test_register_kl_takes_any_class_but_no_instance():
    with pytest.raises(TypeError):
        D.register_kl(D.Normal(0.0, 1.0), D.Normal)

    class Base:  # a library's own base class, mixed into its distributions
        pass

    class Mixed(Base, D.Distribution):
        arg_constraints: dict = {}

    D.register_kl(Base, Base)(lambda p, q: ember.full((1,), 3.0))
    assert D.kl_divergence(Mixed(), Mixed()).item() == 3.0


@pytest.mark.parametrize("matrix, info, factor", [
    ([[1.0, np.nan], [np.nan, 1.0]], 2, [[1.0, 0.0], [np.nan, np.nan]]),
    ([[np.nan, 0.0], [0.0, 1.0]], 1, [[np.nan, 0.0], [0.0, 1.0]]),
    ([[1.0, np.nan], [0.0, 1.0]], 0, [[1.0, 0.0], [0.0, 1.0]]),  # the upper triangle is unread
])
def test_cholesky_fails_on_a_nan_pivot_as_lapack(matrix, info, factor):
    low, got_info = ember.linalg.cholesky_ex(ember.tensor(matrix))
    assert got_info.item() == info
    np.testing.assert_array_equal(low.numpy(), np.array(factor, np.float32))
    if info:
        with pytest.raises(ember.linalg.LinAlgError, match=f"order {info} is not positive"):
            ember.linalg.cholesky(ember.tensor(matrix))
    batch = ember.stack([ember.eye(2), ember.tensor(matrix)])
    assert ember.linalg.cholesky_ex(batch).info.tolist() == [0, info]


def test_full_load_rebuilds_constraints():
    state = {"params": {"scale": ember.ones(2)},
             "constraints": {"scale": constraints.positive,
                             "p": constraints.interval(0.0, 2.0), "w": constraints.simplex}}
    buffer = io.BytesIO()
    ember.save(state, buffer)
    buffer.seek(0)
    loaded = ember.load(buffer, weights_only=False)
    got = loaded["constraints"]
    assert type(got["scale"]) is type(constraints.positive) and got["w"] is not None
    assert (got["p"].lower_bound, got["p"].upper_bound) == (0.0, 2.0)
    assert got["p"].check(ember.tensor([1.0, 3.0])).tolist() == [True, False]
    buffer.seek(0)
    with pytest.raises(pickle.UnpicklingError):
        ember.load(buffer)  # weights_only: no constraint objects
