"""nn.utils.prune: masks against NumPy oracles, the reparametrization bookkeeping (``_orig``,
``_mask``, the forward pre-hook), iterative pruning, ``remove`` and the argument checks."""
import numpy as np
import pytest

import ember
from ember import nn
from ember.nn.utils import prune


def _linear(w: np.ndarray, b: np.ndarray | None = None) -> nn.Linear:
    m = nn.Linear(w.shape[1], w.shape[0], bias=b is not None)
    with ember.no_grad():
        m.weight.copy_(ember.tensor(w))
        if b is not None:
            m.bias.copy_(ember.tensor(b))
    return m


def _distinct(shape, seed: int = 0) -> np.ndarray:
    """Values with distinct absolute values (no ties for L1 / Ln ranking)."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    mags = rng.permutation(np.arange(1, n + 1)) / n
    return (mags * rng.choice([-1.0, 1.0], n)).reshape(shape).astype(np.float32)


def _l1_mask(w: np.ndarray, k: int) -> np.ndarray:
    mask = np.ones(w.size, np.float32)
    mask[np.argsort(np.abs(w).ravel())[:k]] = 0
    return mask.reshape(w.shape)


def test_l1_unstructured_reparametrizes_the_module():
    w = _distinct((4, 5))
    m = _linear(w, np.zeros(4, np.float32))
    orig = m.weight
    out = prune.l1_unstructured(m, name="weight", amount=0.3)
    assert out is m
    assert [n for n, _ in m.named_parameters()] == ["bias", "weight_orig"]
    assert [n for n, _ in m.named_buffers()] == ["weight_mask"]
    assert m.weight_orig is orig
    assert "weight" not in m._parameters
    np.testing.assert_array_equal(m.weight_mask.numpy(), _l1_mask(w, 6))
    np.testing.assert_array_equal(m.weight.detach().numpy(), w * _l1_mask(w, 6))
    (hook,) = m._forward_pre_hooks.values()
    assert isinstance(hook, prune.L1Unstructured) and hook._tensor_name == "weight"
    assert list(m.state_dict()) == ["bias", "weight_orig", "weight_mask"]
    assert prune.is_pruned(m) and prune.is_pruned(nn.Sequential(m))
    assert not prune.is_pruned(nn.Linear(2, 2))


def test_hook_recomputes_pruned_tensor_and_gradient_is_masked():
    w = _distinct((3, 4))
    m = _linear(w)
    prune.l1_unstructured(m, "weight", amount=5)
    with ember.no_grad():
        m.weight_orig.add_(1.0)
    x = np.ones((2, 4), np.float32)
    y = m(ember.tensor(x))
    mask = _l1_mask(w, 5)
    np.testing.assert_allclose(y.detach().numpy(), x @ ((w + 1) * mask).T, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(m.weight_orig.grad.numpy(), 2 * mask)


def test_int_amount_on_bias_and_float_rounding():
    b = np.array([0.5, -0.1, 0.3, -0.7, 0.2, 0.05], np.float32)
    m = _linear(np.ones((6, 2), np.float32), b)
    prune.l1_unstructured(m, "bias", amount=3)
    np.testing.assert_array_equal(m.bias_mask.numpy(), [1, 0, 1, 1, 0, 0])
    m = _linear(np.ones((6, 2), np.float32), b)
    prune.l1_unstructured(m, "bias", amount=0.25)  # round(1.5) == 2
    assert int((m.bias_mask == 0).sum()) == 2


def test_iterative_pruning_only_prunes_surviving_entries():
    w = _distinct((4, 6), seed=1)
    m = _linear(w)
    prune.l1_unstructured(m, "weight", amount=0.5)
    prune.l1_unstructured(m, "weight", amount=0.5)
    # 12 of 24 entries, then 6 of the 12 left
    np.testing.assert_array_equal(m.weight_mask.numpy(), _l1_mask(w, 18))
    (container,) = m._forward_pre_hooks.values()
    assert isinstance(container, prune.PruningContainer) and len(container) == 2
    assert [type(h) for h in container] == [prune.L1Unstructured, prune.L1Unstructured]
    prune.random_unstructured(m, "weight", amount=0.5)  # 3 of the 6 left
    assert int(m.weight_mask.sum()) == 3
    assert set(np.flatnonzero(m.weight_mask.numpy())) <= set(
        np.flatnonzero(_l1_mask(w, 18)))
    assert len(m._forward_pre_hooks[next(iter(m._forward_pre_hooks))]) == 3


def test_ln_structured_prunes_whole_rows_by_norm():
    w = _distinct((5, 3), seed=2)
    m = _linear(w)
    prune.ln_structured(m, "weight", amount=2, n=2, dim=0)
    norms = np.linalg.norm(w, axis=1)
    kept = np.argsort(norms)[2:]
    expected = np.zeros_like(w)
    expected[kept] = 1
    np.testing.assert_array_equal(m.weight_mask.numpy(), expected)
    # then structured along columns, only on the rows still alive
    prune.ln_structured(m, "weight", amount=1, n=1, dim=-1)
    col_norms = np.abs(w[kept]).sum(axis=0)
    expected[:, np.argmin(col_norms)] = 0
    np.testing.assert_array_equal(m.weight_mask.numpy(), expected)


def test_random_structured_prunes_channels():
    ember.manual_seed(0)
    m = nn.Conv2d(2, 6, 3)
    prune.random_structured(m, "weight", amount=0.5, dim=0)
    per_channel = m.weight_mask.numpy().reshape(6, -1)
    assert sorted(per_channel.min(axis=1)) == [0, 0, 0, 1, 1, 1]
    np.testing.assert_array_equal(per_channel.min(axis=1), per_channel.max(axis=1))


def test_global_unstructured_ranks_across_layers():
    w1, w2 = _distinct((3, 4), seed=3), _distinct((2, 3), seed=4) * 2
    m1, m2 = _linear(w1), _linear(w2)
    prune.global_unstructured([(m1, "weight"), (m2, "weight")],
                              pruning_method=prune.L1Unstructured, amount=0.5)
    flat = np.concatenate([w1.ravel(), w2.ravel()])
    mask = _l1_mask(flat, 9)
    np.testing.assert_array_equal(m1.weight_mask.numpy().ravel(), mask[:12])
    np.testing.assert_array_equal(m2.weight_mask.numpy().ravel(), mask[12:])
    assert isinstance(next(iter(m1._forward_pre_hooks.values())), prune.CustomFromMask)


def test_global_unstructured_with_importance_scores_and_checks():
    m1, m2 = _linear(_distinct((2, 2))), _linear(_distinct((2, 2), seed=5))
    scores = {(m1, "weight"): ember.tensor([[4.0, 3.0], [2.0, 1.0]]),
              (m2, "weight"): ember.tensor([[5.0, 6.0], [7.0, 8.0]])}
    prune.global_unstructured([(m1, "weight"), (m2, "weight")], prune.L1Unstructured,
                              importance_scores=scores, amount=3)
    np.testing.assert_array_equal(m1.weight_mask.numpy(), [[1, 0], [0, 0]])
    np.testing.assert_array_equal(m2.weight_mask.numpy(), [[1, 1], [1, 1]])
    with pytest.raises(TypeError, match="not an Iterable"):
        prune.global_unstructured(3, prune.L1Unstructured, amount=1)
    with pytest.raises(TypeError, match="must be of type dict"):
        prune.global_unstructured([(m1, "weight")], prune.L1Unstructured,
                                  importance_scores=[1], amount=1)
    with pytest.raises(TypeError, match='Only "unstructured"'):
        prune.global_unstructured([(m1, "weight")], prune.LnStructured, amount=1, n=2, dim=0)


def test_custom_from_mask_and_identity():
    m = _linear(np.ones((2, 3), np.float32))
    prune.custom_from_mask(m, "weight", ember.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]]))
    np.testing.assert_array_equal(m.weight.detach().numpy(), [[1, 0, 1], [0, 1, 1]])
    m = _linear(np.full((2, 2), 3.0, np.float32))
    prune.identity(m, "weight")
    np.testing.assert_array_equal(m.weight_mask.numpy(), np.ones((2, 2)))
    np.testing.assert_array_equal(m.weight.detach().numpy(), np.full((2, 2), 3.0))


def test_importance_scores_rank_instead_of_weights():
    m = _linear(np.ones((2, 2), np.float32))
    prune.l1_unstructured(m, "weight", amount=1,
                          importance_scores=ember.tensor([[3.0, 0.5], [2.0, 1.0]]))
    np.testing.assert_array_equal(m.weight_mask.numpy(), [[1, 0], [1, 1]])
    with pytest.raises(AssertionError, match="same shape"):
        prune.l1_unstructured(_linear(np.ones((2, 2), np.float32)), "weight", amount=1,
                              importance_scores=ember.ones(3))


def test_remove_makes_pruning_permanent():
    w = _distinct((3, 3), seed=6)
    m = _linear(w)
    prune.l1_unstructured(m, "weight", amount=4)
    prune.remove(m, "weight")
    assert isinstance(m.weight, nn.Parameter)
    assert list(m.state_dict()) == ["weight"]
    assert not m._forward_pre_hooks and not prune.is_pruned(m)
    np.testing.assert_array_equal(m.weight.detach().numpy(), w * _l1_mask(w, 4))
    with pytest.raises(ValueError, match="has to be pruned before"):
        prune.remove(m, "weight")


def test_pruned_state_dict_round_trip():
    src = _linear(_distinct((3, 2)))
    prune.l1_unstructured(src, "weight", amount=2)
    dst = _linear(np.zeros((3, 2), np.float32))
    prune.identity(dst, "weight")
    dst.load_state_dict(src.state_dict())
    x = ember.ones(1, 2)
    np.testing.assert_array_equal(dst(x).detach().numpy(), src(x).detach().numpy())


def test_custom_method_and_prune_on_a_tensor():
    class EveryOther(prune.BasePruningMethod):
        PRUNING_TYPE = "unstructured"

        def compute_mask(self, t, default_mask):
            mask = default_mask.clone()
            mask.view(-1)[::2] = 0
            return mask

    m = _linear(np.ones((2, 2), np.float32), np.ones(2, np.float32))
    EveryOther.apply(m, "bias")
    np.testing.assert_array_equal(m.bias_mask.numpy(), [0, 1])
    t = ember.tensor([1.0, -2.0, 3.0, -4.0])
    np.testing.assert_array_equal(prune.L1Unstructured(2).prune(t).numpy(), [0, 0, 3, -4])
    np.testing.assert_array_equal(EveryOther().prune(t).numpy(), [0, -2, 0, -4])


def test_amount_and_dimension_checks():
    m = _linear(np.ones((2, 3), np.float32), np.ones(2, np.float32))
    with pytest.raises(TypeError, match="Invalid type for amount"):
        prune.l1_unstructured(m, "weight", amount="a")
    with pytest.raises(ValueError, match="float in the range"):
        prune.l1_unstructured(m, "weight", amount=1.5)
    with pytest.raises(ValueError, match="non-negative integer"):
        prune.l1_unstructured(m, "weight", amount=-1)
    with pytest.raises(ValueError, match="should be smaller than the number"):
        prune.l1_unstructured(m, "weight", amount=7)
    # a failed pruning leaves the module as it was
    assert [n for n, _ in m.named_parameters()] == ["weight", "bias"]
    assert not m._forward_pre_hooks and not m._buffers
    with pytest.raises(ValueError, match="multidimensional"):
        prune.ln_structured(m, "bias", amount=1, n=2, dim=0)
    with pytest.raises(IndexError, match="Invalid index 2"):
        prune.ln_structured(m, "weight", amount=1, n=2, dim=2)
    # a failed second pruning keeps the first one
    prune.l1_unstructured(m, "weight", amount=2)
    with pytest.raises(ValueError, match="should be smaller than the number"):
        prune.l1_unstructured(m, "weight", amount=5)  # only 4 entries are left
    (hook,) = m._forward_pre_hooks.values()
    assert isinstance(hook, prune.L1Unstructured) and int(m.weight_mask.sum()) == 4
    with pytest.raises(TypeError, match="not a BasePruningMethod"):
        prune.PruningContainer(prune.Identity()).add_pruning_method(3)
    a, b = prune.Identity(), prune.Identity()
    a._tensor_name, b._tensor_name = "weight", "bias"
    with pytest.raises(ValueError, match="Can only add pruning methods"):
        prune.PruningContainer(a).add_pruning_method(b)


def test_amount_zero_keeps_everything():
    m = _linear(_distinct((2, 3)))
    prune.ln_structured(m, "weight", amount=0.0, n=1, dim=0)
    prune.l1_unstructured(m, "weight", amount=0)
    np.testing.assert_array_equal(m.weight_mask.numpy(), np.ones((2, 3)))
