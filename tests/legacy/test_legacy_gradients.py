"""Every legacy module and criterion against float64 finite differences."""
import pytest
from legacy_check import check_criterion, check_module

import ember
from ember.legacy import nn


def r(*shape):
    return ember.randn(*shape, dtype=ember.float64)


def pos(*shape):
    return ember.rand(*shape, dtype=ember.float64) + 0.5


def _seq():
    return nn.Sequential().add(nn.Linear(3, 4)).add(nn.Tanh()).add(nn.Linear(4, 2))


def _concat():
    return nn.Concat(1).add(nn.Linear(3, 2)).add(nn.Linear(3, 4))


def _concat_table():
    return nn.Sequential().add(nn.ConcatTable().add(nn.Linear(3, 2)).add(nn.Identity())
                               .add(nn.Linear(3, 2)))


def _parallel():
    return nn.Parallel(1, 1).add(nn.Linear(3, 2)).add(nn.Linear(3, 3))


def _parallel_table():
    return nn.ParallelTable().add(nn.Linear(3, 2)).add(nn.Sigmoid())


def _bn_eval():
    m = nn.BatchNormalization(3)
    m.running_mean.uniform_()
    m.evaluate()
    return m


def _rrelu_eval():
    m = nn.RReLU()
    m.evaluate()
    return m


MODULES = {
    "Sequential": (_seq, lambda: r(5, 3)),
    "Concat": (_concat, lambda: r(2, 3)),
    "ConcatTable": (_concat_table, lambda: r(2, 3)),
    "Parallel": (_parallel, lambda: r(4, 2, 3)),
    "ParallelTable": (_parallel_table, lambda: [r(2, 3), r(2, 2)]),
    "JoinTable": (lambda: nn.JoinTable(1), lambda: [r(2, 3), r(2, 1)]),
    "JoinTable_batch": (lambda: nn.JoinTable(0, 1), lambda: [r(2, 3), r(2, 2)]),
    "SplitTable": (lambda: nn.SplitTable(1), lambda: r(2, 3)),
    "CAddTable": (lambda: nn.CAddTable(), lambda: [r(2, 3), r(2, 3), r(2, 3)]),
    "CMulTable": (lambda: nn.CMulTable(), lambda: [r(2, 3), r(2, 3), r(2, 3)]),
    "SelectTable": (lambda: nn.SelectTable(-1), lambda: [r(2, 3), r(4)]),
    "Identity": (lambda: nn.Identity(), lambda: r(2, 3)),
    "Linear": (lambda: nn.Linear(3, 4), lambda: r(5, 3)),
    "Linear_1d": (lambda: nn.Linear(3, 4), lambda: r(3)),
    "Linear_nobias": (lambda: nn.Linear(3, 4, bias=False), lambda: r(2, 3)),
    "Bilinear": (lambda: nn.Bilinear(3, 2, 4), lambda: [r(5, 3), r(5, 2)]),
    "SpatialConvolution": (lambda: nn.SpatialConvolution(2, 3, 3, 2, 2, 1, 1, 0),
                           lambda: r(2, 2, 5, 6)),
    "SpatialConvolution_3d": (lambda: nn.SpatialConvolution(2, 3, 2, 2), lambda: r(2, 4, 4)),
    "SpatialFullConvolution": (lambda: nn.SpatialFullConvolution(2, 3, 3, 3, 2, 2, 1, 1, 1, 0),
                               lambda: r(2, 2, 3, 4)),
    "SpatialMaxPooling": (lambda: nn.SpatialMaxPooling(2, 2, 2, 2), lambda: r(2, 2, 4, 6)),
    "SpatialMaxPooling_pad_ceil": (lambda: nn.SpatialMaxPooling(3, 3, 2, 2, 1, 1).ceil(),
                                   lambda: r(1, 2, 6, 5)),
    "SpatialAveragePooling": (lambda: nn.SpatialAveragePooling(2, 3, 1, 2),
                              lambda: r(2, 2, 5, 4)),
    "SpatialAveragePooling_pad": (lambda: nn.SpatialAveragePooling(3, 3, 2, 2, 1, 1),
                                  lambda: r(2, 5, 5)),
    "SpatialAveragePooling_excl": (lambda: nn.SpatialAveragePooling(
        3, 3, 2, 2, 1, 1, ceil_mode=True).setCountExcludePad(), lambda: r(1, 2, 6, 6)),
    "SpatialBatchNormalization": (lambda: nn.SpatialBatchNormalization(3),
                                  lambda: r(2, 3, 2, 2)),
    "BatchNormalization": (lambda: nn.BatchNormalization(3), lambda: r(5, 3)),
    "BatchNormalization_eval": (_bn_eval, lambda: r(4, 3)),
    "BatchNormalization_noaffine": (lambda: nn.BatchNormalization(3, affine=False),
                                    lambda: r(4, 3)),
    "TemporalConvolution": (lambda: nn.TemporalConvolution(3, 2, 3, 2), lambda: r(7, 3)),
    "TemporalConvolution_batch": (lambda: nn.TemporalConvolution(2, 4, 2),
                                  lambda: r(2, 5, 2)),
    "View": (lambda: nn.View(6), lambda: r(2, 3)),
    "View_batch": (lambda: nn.View(6).setNumInputDims(2), lambda: r(4, 2, 3)),
    "Reshape": (lambda: nn.Reshape(3, 2), lambda: r(4, 6)),
    "Transpose": (lambda: nn.Transpose((0, 1), (1, 2)), lambda: r(2, 3, 4)),
    "Narrow": (lambda: nn.Narrow(1, 1, 2), lambda: r(2, 4)),
    "Narrow_neg": (lambda: nn.Narrow(1, 1, -2), lambda: r(2, 5)),
    "Select": (lambda: nn.Select(1, -1), lambda: r(2, 4)),
    "Padding": (lambda: nn.Padding(1, 2, value=1.5), lambda: r(2, 3)),
    "Padding_before": (lambda: nn.Padding(0, -2), lambda: r(3, 2)),
    "Padding_index": (lambda: nn.Padding(0, 1, 1, 0.0, 2), lambda: r(2, 4)),
    "Replicate": (lambda: nn.Replicate(3, 1), lambda: r(2, 4)),
    "Squeeze": (lambda: nn.Squeeze(), lambda: r(2, 1, 3)),
    "Squeeze_dim": (lambda: nn.Squeeze(1), lambda: r(2, 1, 1)),
    "Unsqueeze": (lambda: nn.Unsqueeze(1), lambda: r(2, 3)),
    "Copy": (lambda: nn.Copy("torch.DoubleTensor", "torch.DoubleTensor"), lambda: r(2, 3)),
    "MM": (lambda: nn.MM(), lambda: [r(2, 3), r(3, 4)]),
    "MM_trans_batch": (lambda: nn.MM(True, True), lambda: [r(2, 3, 2), r(2, 4, 3)]),
    "CMul": (lambda: nn.CMul(3), lambda: r(4, 3)),
    "CMul_2d": (lambda: nn.CMul(2, 3), lambda: r(2, 3)),
    "Add": (lambda: nn.Add(3), lambda: r(4, 3)),
    "Add_scalar": (lambda: nn.Add(3, True), lambda: r(4, 3)),
    "Mul": (lambda: nn.Mul(), lambda: r(4, 3)),
    "Mean": (lambda: nn.Mean(1), lambda: r(3, 4)),
    "Sum": (lambda: nn.Sum(0), lambda: r(3, 4)),
    "Sum_avg": (lambda: nn.Sum(1, None, True), lambda: r(3, 4)),
    "Max": (lambda: nn.Max(1), lambda: r(3, 4)),
    "Min": (lambda: nn.Min(0), lambda: r(3, 4)),
    "Normalize": (lambda: nn.Normalize(2), lambda: r(3, 4)),
    "Normalize_p1.5": (lambda: nn.Normalize(1.5), lambda: r(4)),
    "Euclidean": (lambda: nn.Euclidean(3, 4), lambda: r(5, 3)),
    "Cosine": (lambda: nn.Cosine(3, 4), lambda: r(5, 3)),
    "PairwiseDistance": (lambda: nn.PairwiseDistance(2), lambda: [r(4, 3), r(4, 3)]),
    "PairwiseDistance_p1": (lambda: nn.PairwiseDistance(1), lambda: [r(4, 3), r(4, 3)]),
    "PairwiseDistance_p3": (lambda: nn.PairwiseDistance(3), lambda: [r(3), r(3)]),
    "ReLU": (lambda: nn.ReLU(), lambda: r(3, 4)),
    "ReLU6": (lambda: nn.ReLU6(), lambda: r(3, 4) * 4),
    "PReLU": (lambda: nn.PReLU(), lambda: r(3, 4)),
    "PReLU_channels": (lambda: nn.PReLU(3), lambda: r(2, 3, 2, 2)),
    "PReLU_channels_3d": (lambda: nn.PReLU(3), lambda: r(3, 2, 2)),
    "RReLU_eval": (_rrelu_eval, lambda: r(3, 4)),
    "ELU": (lambda: nn.ELU(0.7), lambda: r(3, 4)),
    "LeakyReLU": (lambda: nn.LeakyReLU(0.2), lambda: r(3, 4)),
    "Tanh": (lambda: nn.Tanh(), lambda: r(3, 4)),
    "Sigmoid": (lambda: nn.Sigmoid(), lambda: r(3, 4)),
    "SoftMax": (lambda: nn.SoftMax(), lambda: r(3, 4)),
    "SoftMax_3d": (lambda: nn.SoftMax(), lambda: r(3, 2, 2)),
    "LogSoftMax": (lambda: nn.LogSoftMax(), lambda: r(3, 4)),
    "SoftPlus": (lambda: nn.SoftPlus(2, 5), lambda: r(3, 4) * 2),
    "SoftSign": (lambda: nn.SoftSign(), lambda: r(3, 4)),
    "HardTanh": (lambda: nn.HardTanh(-0.5, 0.7), lambda: r(3, 4)),
    "Threshold": (lambda: nn.Threshold(0.1, -2.0), lambda: r(3, 4)),
    "Abs": (lambda: nn.Abs(), lambda: r(3, 4)),
    "Exp": (lambda: nn.Exp(), lambda: r(3, 4)),
    "Log": (lambda: nn.Log(), lambda: pos(3, 4)),
    "Sqrt": (lambda: nn.Sqrt(), lambda: pos(3, 4)),
    "Square": (lambda: nn.Square(), lambda: r(3, 4)),
    "Power": (lambda: nn.Power(2.5), lambda: pos(3, 4)),
    "Clamp": (lambda: nn.Clamp(-0.3, 0.4), lambda: r(3, 4)),
}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_gradients(name):
    make, data = MODULES[name]
    check_module(make(), data())


def test_lookup_table_gradients():
    index = ember.tensor([[0, 2, 4], [4, 1, 0]])
    check_module(nn.LookupTable(5, 3), index)
    m = nn.LookupTable(5, 3, paddingValue=2).double()
    m.backward(index, m.forward(index))
    # the padding row gets no gradient, the others do
    assert float(m.gradWeight[2].abs().sum()) == 0
    assert float(m.gradWeight[1].abs().sum()) > 0


def test_dropout_gradient_is_the_mask():
    m = nn.Dropout(0.4).double()
    x = r(50, 40)
    y = m.forward(x)
    kept = (y != 0).double()
    assert 0.45 < float(kept.mean()) < 0.75
    ember.testing.assert_close(y, x * kept / 0.6)
    g = r(50, 40)
    ember.testing.assert_close(m.backward(x, g), g * kept / 0.6)
    m.evaluate()
    ember.testing.assert_close(m.forward(x), x)


def test_spatial_dropout_drops_whole_maps():
    m = nn.SpatialDropout(0.5).double()
    x = pos(4, 6, 3, 3)
    y = m.forward(x)
    kept = (y != 0).double()
    assert bool(((kept.sum((2, 3)) == 0) | (kept.sum((2, 3)) == 9)).all())
    ember.testing.assert_close(y, x * kept)
    ember.testing.assert_close(m.backward(x, x), x * kept)
    m.evaluate()
    ember.testing.assert_close(m.forward(x), x * 0.5)


def test_rrelu_training_slopes_in_range():
    m = nn.RReLU(0.1, 0.3).double()
    x = -pos(100)
    slope = m.forward(x) / x
    assert float(slope.min()) >= 0.1 and float(slope.max()) <= 0.3
    ember.testing.assert_close(m.backward(x, ember.ones_like(x)), slope)


CRITERIA = {
    "MSE": (lambda: nn.MSECriterion(), lambda: r(3, 4), lambda: r(3, 4)),
    "MSE_sum": (lambda: nn.MSECriterion(False), lambda: r(3, 4), lambda: r(3, 4)),
    "Abs": (lambda: nn.AbsCriterion(), lambda: r(3, 4), lambda: r(3, 4)),
    "SmoothL1": (lambda: nn.SmoothL1Criterion(), lambda: r(3, 4) * 2, lambda: r(3, 4)),
    "ClassNLL": (lambda: nn.ClassNLLCriterion(), lambda: r(4, 3),
                 lambda: ember.tensor([0, 2, 1, 2])),
    "ClassNLL_weights": (lambda: nn.ClassNLLCriterion(ember.tensor([0.2, 1.0, 3.0])),
                         lambda: r(4, 3), lambda: ember.tensor([0, 2, 1, 2])),
    "ClassNLL_1d": (lambda: nn.ClassNLLCriterion(), lambda: r(3), lambda: ember.tensor([1])),
    "ClassNLL_ignore": (lambda: nn.ClassNLLCriterion(ignore_index=1), lambda: r(4, 3),
                        lambda: ember.tensor([0, 1, 1, 2])),
    "CrossEntropy": (lambda: nn.CrossEntropyCriterion(), lambda: r(4, 3),
                     lambda: ember.tensor([0, 2, 1, 2])),
    "BCE": (lambda: nn.BCECriterion(), lambda: ember.rand(3, 4, dtype=ember.float64) * 0.8 + 0.1,
            lambda: ember.rand(3, 4, dtype=ember.float64)),
    "BCE_weights": (lambda: nn.BCECriterion(ember.rand(4, dtype=ember.float64)),
                    lambda: ember.rand(3, 4, dtype=ember.float64) * 0.8 + 0.1,
                    lambda: (ember.rand(3, 4) > 0.5).double()),
    "DistKLDiv": (lambda: nn.DistKLDivCriterion(), lambda: r(3, 4),
                  lambda: ember.rand(3, 4, dtype=ember.float64)),
    "Margin": (lambda: nn.MarginCriterion(0.5), lambda: r(6),
               lambda: ember.tensor([1.0, -1, 1, -1, 1, 1], dtype=ember.float64)),
    "MultiMargin": (lambda: nn.MultiMarginCriterion(), lambda: r(4, 3),
                    lambda: ember.tensor([0, 2, 1, 2])),
    "MultiMargin_p2_w": (lambda: nn.MultiMarginCriterion(2, ember.tensor([1.0, 2.0, 0.5]),
                                                         0.7), lambda: r(4, 3),
                         lambda: ember.tensor([0, 2, 1, 2])),
    "HingeEmbedding": (lambda: nn.HingeEmbeddingCriterion(0.8), lambda: r(6),
                       lambda: ember.tensor([1.0, -1, 1, -1, -1, 1], dtype=ember.float64)),
    "CosineEmbedding": (lambda: nn.CosineEmbeddingCriterion(0.1), lambda: [r(4, 3), r(4, 3)],
                        lambda: ember.tensor([1.0, -1, -1, 1], dtype=ember.float64)),
    "MarginRanking": (lambda: nn.MarginRankingCriterion(0.3), lambda: [r(5), r(5)],
                      lambda: ember.tensor([1.0, -1, -1, 1, 1], dtype=ember.float64)),
}


@pytest.mark.parametrize("name", sorted(CRITERIA))
def test_criterion_gradients(name):
    make, data, target = CRITERIA[name]
    check_criterion(make(), data(), target())


def test_multi_and_parallel_criterion_gradients():
    multi = nn.MultiCriterion().add(nn.MSECriterion(), 0.5).add(nn.AbsCriterion(), 2)
    x, t = r(3, 4), r(3, 4)
    loss, _ = check_criterion(multi, x, t)
    expected = 0.5 * nn.MSECriterion().forward(x, t) + 2 * nn.AbsCriterion().forward(x, t)
    assert loss == pytest.approx(expected)

    par = nn.ParallelCriterion().add(nn.MSECriterion()).add(nn.ClassNLLCriterion(), 0.3)
    check_criterion(par, [r(2, 3), r(2, 4)], [r(2, 3), ember.tensor([3, 0])])
    rep = nn.ParallelCriterion(True).add(nn.MSECriterion()).add(nn.AbsCriterion(), 0.3)
    check_criterion(rep, [r(2, 3), r(2, 3)], r(2, 3))


def test_criterion_table():
    crit = nn.CriterionTable(nn.MSECriterion()).double()
    x, t = r(3, 2), r(3, 2)
    assert crit.forward([x, t]) == pytest.approx(nn.MSECriterion().forward(x, t))
    g = crit.backward([x, t])
    ember.testing.assert_close(g[0], nn.MSECriterion().backward(x, t))
    assert float(g[1].abs().sum()) == 0
