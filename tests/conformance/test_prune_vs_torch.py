"""nn.utils.prune against torch.nn.utils.prune: the same weights give the same masks, the same
parameter/buffer/state_dict names and hook bookkeeping, through iterative pruning and remove."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import torch.nn.utils.prune as tprune  # noqa: E402

import ember  # noqa: E402
from ember.nn.utils import prune as eprune  # noqa: E402


def _pair(make_t, make_e, seed: int = 0):
    """A torch module and an ember module with the same weights (distinct magnitudes, so the
    rankings have no ties)."""
    tm, em = make_t(), make_e()
    rng = np.random.default_rng(seed)
    state = {}
    for name, p in tm.state_dict().items():
        n = p.numel()
        values = rng.permutation(np.arange(1, n + 1)) / n * rng.choice([-1.0, 1.0], n)
        state[name] = values.reshape(tuple(p.shape)).astype(np.float32)
    tm.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
    em.load_state_dict({k: ember.tensor(v) for k, v in state.items()})
    return tm, em


def _conv_pair(seed: int = 0):
    return _pair(lambda: torch.nn.Conv2d(3, 6, 3), lambda: ember.nn.Conv2d(3, 6, 3), seed)


def _linear_pair(seed: int = 0):
    return _pair(lambda: torch.nn.Linear(7, 5), lambda: ember.nn.Linear(7, 5), seed)


def _same_state(tm, em):
    assert [n for n, _ in em.named_parameters()] == [n for n, _ in tm.named_parameters()]
    assert [n for n, _ in em.named_buffers()] == [n for n, _ in tm.named_buffers()]
    ts, es = tm.state_dict(), em.state_dict()
    assert list(es) == list(ts)
    for k in ts:
        np.testing.assert_array_equal(es[k].numpy(), ts[k].numpy(), err_msg=k)
    t_hooks = [type(h).__name__ for h in tm._forward_pre_hooks.values()]
    assert [type(h).__name__ for h in em._forward_pre_hooks.values()] == t_hooks
    for th, eh in zip(tm._forward_pre_hooks.values(), em._forward_pre_hooks.values()):
        assert eh._tensor_name == th._tensor_name
        if isinstance(th, tprune.PruningContainer):
            assert [type(m).__name__ for m in eh] == [type(m).__name__ for m in th]


def _same_output(tm, em, shape):
    x = np.random.default_rng(9).standard_normal(shape).astype(np.float32)
    np.testing.assert_allclose(em(ember.tensor(x)).detach().numpy(),
                               tm(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("amount", [0.3, 0.5, 7, 0])
def test_l1_unstructured(amount):
    tm, em = _conv_pair()
    tprune.l1_unstructured(tm, "weight", amount=amount)
    eprune.l1_unstructured(em, "weight", amount=amount)
    _same_state(tm, em)
    _same_output(tm, em, (2, 3, 5, 5))


@pytest.mark.parametrize("n, dim, amount", [(2, 0, 0.5), (1, 1, 1), (float("inf"), -1, 0.34),
                                            ("fro", 0, 2), (float("-inf"), 1, 0.5)])
def test_ln_structured(n, dim, amount):
    # torch's 'fro' norm takes at most two dims: use it on a Linear weight
    tm, em = _linear_pair(seed=1) if n == "fro" else _conv_pair(seed=1)
    tprune.ln_structured(tm, "weight", amount=amount, n=n, dim=dim)
    eprune.ln_structured(em, "weight", amount=amount, n=n, dim=dim)
    _same_state(tm, em)


def test_iterative_pruning_composes_like_torch():
    tm, em = _conv_pair(seed=2)
    steps = [("l1_unstructured", dict(name="weight", amount=0.3)),
             ("ln_structured", dict(name="weight", amount=0.5, n=2, dim=0)),
             ("l1_unstructured", dict(name="bias", amount=3)),
             ("l1_unstructured", dict(name="weight", amount=0.25)),
             ("ln_structured", dict(name="weight", amount=1, n=1, dim=1))]
    for fn, kwargs in steps:
        getattr(tprune, fn)(tm, **kwargs)
        getattr(eprune, fn)(em, **kwargs)
        _same_state(tm, em)
    _same_output(tm, em, (1, 3, 4, 4))
    tprune.remove(tm, "weight")
    eprune.remove(em, "weight")
    _same_state(tm, em)
    assert eprune.is_pruned(em) == tprune.is_pruned(tm)
    tprune.remove(tm, "bias")
    eprune.remove(em, "bias")
    _same_state(tm, em)
    assert eprune.is_pruned(em) == tprune.is_pruned(tm) is False


def test_global_unstructured():
    pairs = [_conv_pair(seed=3), _linear_pair(seed=4)]
    tmods = [t for t, _ in pairs]
    emods = [e for _, e in pairs]
    tprune.l1_unstructured(tmods[1], "weight", amount=0.2)  # one tensor pruned before
    eprune.l1_unstructured(emods[1], "weight", amount=0.2)
    tprune.global_unstructured([(tmods[0], "weight"), (tmods[1], "weight"), (tmods[0], "bias")],
                               pruning_method=tprune.L1Unstructured, amount=0.4)
    eprune.global_unstructured([(emods[0], "weight"), (emods[1], "weight"), (emods[0], "bias")],
                               pruning_method=eprune.L1Unstructured, amount=0.4)
    for tm, em in pairs:
        _same_state(tm, em)


def test_global_unstructured_with_importance_scores():
    (t1, e1), (t2, e2) = _linear_pair(seed=5), _linear_pair(seed=6)
    scores = np.random.default_rng(1).permutation(70).reshape(2, 5, 7).astype(np.float32)
    tprune.global_unstructured([(t1, "weight"), (t2, "weight")], tprune.L1Unstructured,
                               importance_scores={(t1, "weight"): torch.tensor(scores[0]),
                                                  (t2, "weight"): torch.tensor(scores[1])},
                               amount=25)
    eprune.global_unstructured([(e1, "weight"), (e2, "weight")], eprune.L1Unstructured,
                               importance_scores={(e1, "weight"): ember.tensor(scores[0]),
                                                  (e2, "weight"): ember.tensor(scores[1])},
                               amount=25)
    _same_state(t1, e1)
    _same_state(t2, e2)


def test_custom_from_mask_and_identity():
    tm, em = _linear_pair(seed=7)
    mask = (np.arange(35).reshape(5, 7) % 3 != 0).astype(np.float32)
    tprune.custom_from_mask(tm, "weight", torch.tensor(mask))
    eprune.custom_from_mask(em, "weight", ember.tensor(mask))
    tprune.identity(tm, "bias")
    eprune.identity(em, "bias")
    _same_state(tm, em)


def test_random_methods_bookkeeping():
    tm, em = _linear_pair(seed=8)
    tprune.random_structured(tm, "weight", amount=2, dim=0)
    eprune.random_structured(em, "weight", amount=2, dim=0)
    tprune.random_unstructured(tm, "weight", amount=0.5)
    eprune.random_unstructured(em, "weight", amount=0.5)
    # the entries are random, their counts are not: 3 rows of 7 kept, then 10 of those 21 go
    assert int(em.weight_mask.sum()) == int(tm.weight_mask.sum()) == 11
    assert int((em.weight_mask.numpy().sum(axis=1) == 0).sum()) == 2
    (th,), (eh,) = tm._forward_pre_hooks.values(), em._forward_pre_hooks.values()
    assert [type(h).__name__ for h in eh] == [type(h).__name__ for h in th]


@pytest.mark.parametrize("amount", [-1, 1.2, "x", 100])
def test_amount_errors_match(amount):
    tm, em = _linear_pair()
    with pytest.raises(Exception) as t_err:
        tprune.l1_unstructured(tm, "weight", amount=amount)
    with pytest.raises(type(t_err.value)) as e_err:
        eprune.l1_unstructured(em, "weight", amount=amount)
    assert str(e_err.value) == str(t_err.value)
    # both leave the module unpruned (torch re-registers the parameter last; ember leaves it
    # where it was)
    assert not em._forward_pre_hooks and not tm._forward_pre_hooks
    assert sorted(em.state_dict()) == sorted(tm.state_dict()) == ["bias", "weight"]


def test_structured_errors_match():
    tm, em = _linear_pair()
    for kwargs in (dict(name="bias", amount=1, n=2, dim=0),
                   dict(name="weight", amount=1, n=2, dim=2)):
        with pytest.raises(Exception) as t_err:
            tprune.ln_structured(tm, **kwargs)
        with pytest.raises(type(t_err.value)) as e_err:
            eprune.ln_structured(em, **kwargs)
        assert str(e_err.value).replace("ember", "torch") == str(t_err.value)
