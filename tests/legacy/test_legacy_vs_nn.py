"""Legacy modules and criterions against the matching ember.nn layers with the same weights:
outputs, gradInput and parameter gradients (ember.nn's through autograd) agree."""
import pytest
from legacy_check import leaves

import ember
import ember.nn.functional as F
from ember import nn as enn
from ember.legacy import nn

D = ember.float64


def r(*shape):
    return ember.randn(*shape, dtype=D)


def _compare(legacy, reference, input, pairs=(), atol=1e-10):
    """``reference`` is an ember.nn module (float64) or a function of the input; ``pairs``
    maps (legacy weight, legacy grad, reference parameter, layout change)."""
    legacy.double()
    out = legacy.forward(input)
    grad_out = r(*out.shape)
    legacy.zeroGradParameters()
    grad_in = legacy.backward(input, grad_out)

    inputs = [x.detach().clone().requires_grad_(x.is_floating_point()) for x in leaves(input)]
    ref_out = reference(inputs if isinstance(input, list) else inputs[0])
    ref_out.backward(grad_out)
    ember.testing.assert_close(out, ref_out.detach(), atol=atol, rtol=1e-8)
    for g, x in zip(leaves(grad_in), inputs):
        if x.is_floating_point():
            ember.testing.assert_close(g, x.grad, atol=atol, rtol=1e-8)
    for grad, param, layout in pairs:
        ember.testing.assert_close(grad, layout(param.grad), atol=atol, rtol=1e-8)


def _same(x):
    return x


def _copy_params(legacy, module, names=(("weight", "weight"), ("bias", "bias")),
                 layout=_same):
    """Give ``module`` the legacy module's weights; returns the comparison pairs."""
    pairs = []
    with ember.no_grad():
        for lname, mname in names:
            lw = getattr(legacy, lname)
            if lw is None:
                continue
            mp = getattr(module, mname)
            mp.copy_(layout(lw) if lname == "weight" else lw)
            grad_name = "grad" + lname[0].upper() + lname[1:]
            pairs.append((getattr(legacy, grad_name), mp,
                          (lambda g, ln=lname: g) if lname != "weight" else _inverse(layout)))
    return pairs


def _inverse(layout):
    return getattr(layout, "inverse", _same)


@pytest.mark.parametrize("bias", [True, False])
def test_linear(bias):
    legacy = nn.Linear(3, 4, bias).double()
    ref = enn.Linear(3, 4, bias=bias).double()
    _compare(legacy, ref, r(5, 3), _copy_params(legacy, ref))


def test_bilinear():
    legacy = nn.Bilinear(3, 2, 4).double()
    ref = enn.Bilinear(3, 2, 4).double()
    pairs = _copy_params(legacy, ref)
    _compare(legacy, lambda xs: ref(xs[0], xs[1]), [r(5, 3), r(5, 2)], pairs)


@pytest.mark.parametrize("geom", [(3, 3, 1, 1, 0, 0), (3, 2, 2, 1, 1, 2), (1, 1, 2, 2, 0, 0)])
def test_spatial_convolution(geom):
    kW, kH, dW, dH, padW, padH = geom
    legacy = nn.SpatialConvolution(2, 3, kW, kH, dW, dH, padW, padH).double()
    ref = enn.Conv2d(2, 3, (kH, kW), (dH, dW), (padH, padW)).double()
    _compare(legacy, ref, r(2, 2, 6, 5), _copy_params(legacy, ref))


def test_spatial_full_convolution():
    legacy = nn.SpatialFullConvolution(2, 3, 3, 2, 2, 2, 1, 0, 1, 1).double()
    ref = enn.ConvTranspose2d(2, 3, (2, 3), (2, 2), (0, 1), output_padding=(1, 1)).double()
    _compare(legacy, ref, r(2, 2, 3, 4), _copy_params(legacy, ref))


def test_temporal_convolution():
    legacy = nn.TemporalConvolution(3, 4, 2, 2).double()
    ref = enn.Conv1d(3, 4, 2, 2).double()

    def layout(w):  # (O, K*C) frames laid end to end -> (O, C, K)
        return w.reshape(4, 2, 3).permute(0, 2, 1)
    layout.inverse = lambda g: g.permute(0, 2, 1).reshape(4, 6)
    pairs = _copy_params(legacy, ref, layout=layout)
    _compare(legacy, lambda x: ref(x.transpose(1, 2)).transpose(1, 2), r(2, 7, 3), pairs)


@pytest.mark.parametrize("ceil", [False, True])
def test_spatial_max_pooling(ceil):
    legacy = nn.SpatialMaxPooling(3, 2, 2, 2, 1, 1)
    if ceil:
        legacy.ceil()
    ref = enn.MaxPool2d((2, 3), (2, 2), (1, 1), ceil_mode=ceil)
    _compare(legacy, ref, r(2, 3, 7, 6))


@pytest.mark.parametrize("ceil", [False, True])
@pytest.mark.parametrize("include", [False, True])
def test_spatial_average_pooling(ceil, include):
    legacy = nn.SpatialAveragePooling(3, 3, 2, 2, 1, 1, ceil_mode=ceil,
                                      count_include_pad=include)
    ref = enn.AvgPool2d(3, 2, 1, ceil_mode=ceil, count_include_pad=include)
    _compare(legacy, ref, r(2, 3, 6, 7))


@pytest.mark.parametrize("spatial", [False, True])
def test_batch_normalization(spatial):
    legacy = (nn.SpatialBatchNormalization(3) if spatial else nn.BatchNormalization(3)).double()
    ref = (enn.BatchNorm2d(3) if spatial else enn.BatchNorm1d(3)).double()
    x = r(4, 3, 2, 2) if spatial else r(6, 3)
    _compare(legacy, ref, x, _copy_params(legacy, ref))
    ember.testing.assert_close(legacy.running_mean, ref.running_mean)
    ember.testing.assert_close(legacy.running_var, ref.running_var)
    legacy.evaluate()
    ref.eval()
    ref.zero_grad()
    _compare(legacy, ref, x, _copy_params(legacy, ref))


def test_lookup_table():
    legacy = nn.LookupTable(6, 3).double()
    ref = enn.Embedding(6, 3).double()
    pairs = _copy_params(legacy, ref, names=(("weight", "weight"),))
    _compare(legacy, ref, ember.tensor([[0, 5, 2], [2, 2, 1]]), pairs)


@pytest.mark.parametrize("n", [0, 3])
def test_prelu(n):
    legacy = nn.PReLU(n).double()
    legacy.weight.uniform_()
    ref = enn.PReLU(max(n, 1)).double()
    x = r(2, 3, 4, 2)  # 4-d: THNN and ember.nn agree on the channel dimension
    _compare(legacy, ref, x, _copy_params(legacy, ref, names=(("weight", "weight"),)))


ACTIVATIONS = {
    "ReLU": (nn.ReLU, enn.ReLU),
    "ReLU6": (nn.ReLU6, enn.ReLU6),
    "ELU": (lambda: nn.ELU(0.5), lambda: enn.ELU(0.5)),
    "LeakyReLU": (lambda: nn.LeakyReLU(0.1), lambda: enn.LeakyReLU(0.1)),
    "Tanh": (nn.Tanh, enn.Tanh),
    "Sigmoid": (nn.Sigmoid, enn.Sigmoid),
    "SoftMax": (nn.SoftMax, lambda: enn.Softmax(1)),
    "LogSoftMax": (nn.LogSoftMax, lambda: enn.LogSoftmax(1)),
    "SoftPlus": (lambda: nn.SoftPlus(2, 3), lambda: enn.Softplus(2, 3)),
    "SoftSign": (nn.SoftSign, enn.Softsign),
    "HardTanh": (lambda: nn.HardTanh(-0.5, 0.8), lambda: enn.Hardtanh(-0.5, 0.8)),
    "Threshold": (lambda: nn.Threshold(0.2, -1.0), lambda: enn.Threshold(0.2, -1.0)),
    "Identity": (nn.Identity, enn.Identity),
}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation(name):
    make_legacy, make_ref = ACTIVATIONS[name]
    _compare(make_legacy(), make_ref(), r(4, 5) * 2)


@pytest.mark.parametrize("p", [1, 2, 3])
def test_pairwise_distance(p):
    _compare(nn.PairwiseDistance(p), lambda xs: F.pairwise_distance(xs[0], xs[1], p, eps=0),
             [r(4, 3), r(4, 3)])


def test_normalize():
    _compare(nn.Normalize(2, eps=0), lambda x: F.normalize(x, 2, 1), r(4, 3))


def _cls(*values):
    return ember.tensor(list(values))


CRITERIA = {
    "MSE": (nn.MSECriterion, enn.MSELoss, lambda: (r(3, 4), r(3, 4))),
    "Abs": (nn.AbsCriterion, enn.L1Loss, lambda: (r(3, 4), r(3, 4))),
    "SmoothL1": (nn.SmoothL1Criterion, enn.SmoothL1Loss, lambda: (r(3, 4) * 2, r(3, 4))),
    "ClassNLL": (lambda: nn.ClassNLLCriterion(ember.tensor([0.5, 2.0, 1.0], dtype=D)),
                 lambda: enn.NLLLoss(ember.tensor([0.5, 2.0, 1.0], dtype=D)),
                 lambda: (r(4, 3), _cls(0, 2, 1, 1))),
    "ClassNLL_sum": (lambda: nn.ClassNLLCriterion(sizeAverage=False),
                     lambda: enn.NLLLoss(reduction="sum"), lambda: (r(4, 3), _cls(0, 2, 1, 1))),
    "CrossEntropy": (nn.CrossEntropyCriterion, enn.CrossEntropyLoss,
                     lambda: (r(4, 3), _cls(0, 2, 1, 1))),
    "BCE": (nn.BCECriterion, enn.BCELoss,
            lambda: (ember.rand(3, 4, dtype=D) * 0.8 + 0.1, ember.rand(3, 4, dtype=D))),
    "DistKLDiv": (nn.DistKLDivCriterion, lambda: enn.KLDivLoss(reduction="mean"),
                  lambda: (r(3, 4), ember.rand(3, 4, dtype=D))),
    "MultiMargin": (lambda: nn.MultiMarginCriterion(2, ember.tensor([1.0, 2.0, 0.5]), 0.7),
                    lambda: enn.MultiMarginLoss(2, 0.7, ember.tensor([1.0, 2.0, 0.5], dtype=D)),
                    lambda: (r(4, 3), _cls(0, 2, 1, 2))),
    "HingeEmbedding": (lambda: nn.HingeEmbeddingCriterion(0.8),
                       lambda: enn.HingeEmbeddingLoss(0.8),
                       lambda: (r(6), ember.tensor([1.0, -1, 1, -1, -1, 1], dtype=D))),
}


@pytest.mark.filterwarnings("ignore:reduction")
@pytest.mark.parametrize("name", sorted(CRITERIA))
def test_criterion(name):
    make_legacy, make_ref, data = CRITERIA[name]
    x, t = data()
    legacy = make_legacy().double()
    loss = legacy.forward(x, t)
    grad = legacy.backward(x, t)
    xr = x.clone().requires_grad_()
    ref = make_ref()(xr, t)
    ref.backward()
    assert loss == pytest.approx(ref.item(), rel=1e-9, abs=1e-12)
    ember.testing.assert_close(grad, xr.grad, atol=1e-9, rtol=1e-7)


@pytest.mark.parametrize("name", ["CosineEmbedding", "MarginRanking"])
def test_pair_criterion(name):
    t = ember.tensor([1.0, -1, -1, 1], dtype=D)
    if name == "CosineEmbedding":
        legacy, ref, x = nn.CosineEmbeddingCriterion(0.1), enn.CosineEmbeddingLoss(0.1), \
            [r(4, 3), r(4, 3)]
    else:
        legacy, ref, x = nn.MarginRankingCriterion(0.3), enn.MarginRankingLoss(0.3), \
            [r(4), r(4)]
    loss = legacy.forward(x, t)
    grads = legacy.backward(x, t)
    xr = [v.clone().requires_grad_() for v in x]
    out = ref(xr[0], xr[1], t)
    out.backward()
    assert loss == pytest.approx(out.item(), rel=1e-7)
    for g, v in zip(grads, xr):
        ember.testing.assert_close(g, v.grad, atol=1e-7, rtol=1e-6)
