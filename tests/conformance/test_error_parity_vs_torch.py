"""Bad input raises PyTorch's exception type, with a message that names the op and the shapes.

Each case runs one bad call in ember and in torch. The exception types must match; where
ember should say what torch says, the first lines (``SAME``) or the key parts of torch's message
(``keys``) must match too. Everywhere, NumPy's internals must not show through ember's message."""
import warnings

import pytest

import ember

torch = pytest.importorskip("torch")

# Phrases of NumPy's (and CuPy's) own errors: the user must never see them.
LEAKS = ("cannot reshape array", "could not be broadcast", "objects cannot be broadcast",
         "for axis", "ufunc",
         "array of sample points", "zero-size array", "setting an array element",
         "non-broadcastable output")

SAME = "same"
CASES = []

# Bad input ember accepts where PyTorch refuses, left so on purpose.
KNOWN = {
    "mm_bool": "a dtype check on matmul's hot path would cost every product; NumPy's bool "
               "product is well defined",
}


def case(name, fn, check=None):
    """``check``: None (type only), SAME (same first line), or a tuple of substrings that
    ember's message must hold."""
    marks = [pytest.mark.xfail(reason=KNOWN[name], strict=True)] if name in KNOWN else []
    CASES.append(pytest.param(fn, check, id=name, marks=marks))


F = "nn.functional."


def f(lib):
    return lib.nn.functional


def L(lib, name):  # noqa: N802 - a loss module by name
    return getattr(lib.nn, name)()


# --- elementwise and broadcasting ---------------------------------------------------------
case("add_bcast", lambda l: l.ones(2, 3) + l.ones(4, 5), SAME)
case("mul_bcast", lambda l: l.ones(2, 3) * l.ones(3, 2), SAME)
case("add_inplace_bcast", lambda l: l.ones(3).add_(l.ones(2, 3)))
case("where_shape", lambda l: l.where(l.ones(2, dtype=l.bool), l.ones(3), l.ones(2)), SAME)
case("masked_fill", lambda l: l.ones(2, 3).masked_fill(l.ones(3, 2, dtype=l.bool), 0), SAME)
case("masked_fill_dtype", lambda l: l.ones(2, 3).masked_fill(l.ones(2, 3), 0))
case("full_int_bcast", lambda l: l.full((2,), 1, dtype=l.int64) + l.ones(3), SAME)
case("eq_bcast", lambda l: l.ones(2, 3) == l.ones(4), SAME)
case("lerp_bcast", lambda l: l.lerp(l.ones(2), l.ones(3), 0.5), SAME)
case("clamp_bcast", lambda l: l.clamp(l.ones(2, 3), l.zeros(4)), SAME)
case("pow_bcast", lambda l: l.ones(2, 3) ** l.ones(2), SAME)
case("maximum_bcast", lambda l: l.maximum(l.ones(2, 3), l.ones(4)), SAME)
case("addcmul_bcast", lambda l: l.addcmul(l.ones(3), l.ones(2), l.ones(3)), SAME)

# --- losses: shapes, dtypes, targets --------------------------------------------------------
for loss in ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "soft_margin_loss"]:
    case(f"{loss}_shape", lambda l, n=loss: getattr(f(l), n)(l.ones(2, 3), l.ones(3, 2)), SAME)
for loss in ["MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss"]:
    case(f"{loss}_module_shape", lambda l, n=loss: L(l, n)(l.ones(2, 3), l.ones(2, 4)), SAME)
case("bce_shape", lambda l: f(l).binary_cross_entropy(l.full((2, 3), 0.5), l.ones(3, 2)))
case("bce_range", lambda l: f(l).binary_cross_entropy(l.ones(2) * 2, l.ones(2)))
case("bce_logits_shape",
     lambda l: f(l).binary_cross_entropy_with_logits(l.ones(2, 3), l.ones(3, 2)))
case("bce_weight_shape",
     lambda l: f(l).binary_cross_entropy(l.full((2, 3), 0.5), l.ones(2, 3), weight=l.ones(4)))
case("kl_div_shape", lambda l: f(l).kl_div(l.ones(2, 3), l.ones(3, 2), reduction="batchmean"),
     SAME)
case("poisson_nll_shape", lambda l: f(l).poisson_nll_loss(l.ones(2, 3), l.ones(3, 2)), SAME)
case("gaussian_nll_shape",
     lambda l: f(l).gaussian_nll_loss(l.ones(2, 3), l.ones(3, 2), l.ones(2, 3)))
case("gaussian_nll_var_shape",
     lambda l: f(l).gaussian_nll_loss(l.ones(2, 3), l.ones(2, 3), l.ones(2, 4)))
case("gaussian_nll_var_neg",
     lambda l: f(l).gaussian_nll_loss(l.ones(2, 3), l.ones(2, 3), -l.ones(2, 3)), SAME)
case("ce_target", lambda l: f(l).cross_entropy(l.ones(2, 3), l.tensor([0, 5])))
case("ce_shape", lambda l: f(l).cross_entropy(l.ones(2, 3), l.tensor([0, 1, 2])), SAME)
case("ce_target_float_shape", lambda l: f(l).cross_entropy(l.ones(2, 3), l.ones(2, 4)))
case("ce_target_dtype", lambda l: f(l).cross_entropy(l.ones(2, 3), l.tensor([0.0, 1.0])))
case("ce_weight_shape",
     lambda l: f(l).cross_entropy(l.ones(2, 3), l.tensor([0, 1]), weight=l.ones(4)))
case("nll_dim", lambda l: f(l).nll_loss(l.ones(2, 3, 4), l.zeros(2, 5, dtype=l.int64)), SAME)
case("nll_batch", lambda l: f(l).nll_loss(l.ones(2, 3), l.zeros(3, dtype=l.int64)), SAME)
case("nll_target_range", lambda l: f(l).nll_loss(l.ones(2, 3), l.tensor([0, 3])))
case("nll_target_float", lambda l: f(l).nll_loss(l.ones(2, 3), l.ones(2)))
case("nll_1d_input_2d_target", lambda l: f(l).nll_loss(l.ones(3), l.zeros(2, dtype=l.int64)))
case("CrossEntropyLoss_shape",
     lambda l: L(l, "CrossEntropyLoss")(l.ones(4, 3), l.tensor([0, 1])), SAME)
case("NLLLoss_shape", lambda l: L(l, "NLLLoss")(l.ones(4, 3), l.tensor([0, 1])), SAME)
case("margin_ranking_shape",
     lambda l: f(l).margin_ranking_loss(l.ones(2), l.ones(3), l.ones(2)), SAME)
case("hinge_embedding_shape",
     lambda l: f(l).hinge_embedding_loss(l.ones(2, 3), l.ones(3, 2)), SAME)
case("cosine_embedding_shape",
     lambda l: f(l).cosine_embedding_loss(l.ones(2, 3), l.ones(2, 4), l.ones(2)))
case("triplet_shape",
     lambda l: f(l).triplet_margin_loss(l.ones(2, 3), l.ones(2, 4), l.ones(2, 3)))
case("multilabel_margin_shape",
     lambda l: f(l).multilabel_margin_loss(l.ones(2, 3), l.zeros(2, 4, dtype=l.int64)))
case("multi_margin_target",
     lambda l: f(l).multi_margin_loss(l.ones(2, 3), l.tensor([0, 1, 2])))
case("multilabel_soft_margin_shape",
     lambda l: f(l).multilabel_soft_margin_loss(l.ones(2, 3), l.ones(2, 4)))
case("ctc_lengths",
     lambda l: f(l).ctc_loss(l.ones(5, 2, 4).log_softmax(2), l.ones(2, 3, dtype=l.int64),
                             l.tensor([5]), l.tensor([3, 3])))

case("mse_loss_dtype", lambda l: f(l).mse_loss(l.ones(2, 3), l.ones(2, 3, dtype=l.float64)))
case("l1_loss_int_target", lambda l: f(l).l1_loss(l.ones(2), l.ones(2, dtype=l.int64)))
case("bce_target_dtype",
     lambda l: f(l).binary_cross_entropy(l.full((2,), 0.5), l.ones(2, dtype=l.int64)))
case("bce_logits_pos_weight",
     lambda l: f(l).binary_cross_entropy_with_logits(l.ones(2, 3), l.ones(2, 3),
                                                     pos_weight=l.ones(4)), SAME)
case("nll_4d_target_rank", lambda l: f(l).nll_loss(l.ones(2, 3, 4, 5), l.zeros(2, 4,
                                                                              dtype=l.int64)),
     SAME)
case("nll_multi_target", lambda l: f(l).nll_loss(l.ones(2, 3), l.zeros(2, 1, dtype=l.int64)),
     SAME)
case("ce_2d_target", lambda l: f(l).cross_entropy(l.ones(2, 3), l.zeros(2, 1, dtype=l.int64)),
     SAME)
case("ce_3d_target", lambda l: f(l).cross_entropy(l.ones(2, 3, 4), l.zeros(2, 5,
                                                                           dtype=l.int64)),
     SAME)
case("ce_label_smoothing", lambda l: f(l).cross_entropy(l.ones(2, 3), l.tensor([0, 1]),
                                                        label_smoothing=1.5), SAME)
case("ce_reduction", lambda l: f(l).cross_entropy(l.ones(2, 3), l.tensor([0, 1]),
                                                  reduction="bogus"))
case("mse_reduction", lambda l: f(l).mse_loss(l.ones(2), l.ones(2), reduction="bogus"))
case("kl_div_reduction", lambda l: f(l).kl_div(l.ones(2), l.ones(2), reduction="bogus"))
case("multi_margin_range", lambda l: f(l).multi_margin_loss(l.ones(2, 3), l.tensor([0, 3])))
case("cosine_embedding_target",
     lambda l: f(l).cosine_embedding_loss(l.ones(2, 3), l.ones(2, 3), l.ones(3)))
case("ctc_blank", lambda l: f(l).ctc_loss(l.ones(5, 2, 4).log_softmax(2),
                                          l.ones(2, 3, dtype=l.int64), l.tensor([5, 5]),
                                          l.tensor([3, 3]), blank=7))

# --- normalization ---------------------------------------------------------------------
case("batchnorm1d_features", lambda l: l.nn.BatchNorm1d(3)(l.ones(2, 4)), SAME)
case("batchnorm1d_features_3d", lambda l: l.nn.BatchNorm1d(3)(l.ones(2, 4, 5)), SAME)
case("batchnorm2d_channels", lambda l: l.nn.BatchNorm2d(3)(l.ones(2, 4, 5, 5)), SAME)
case("batchnorm2d_eval_channels",
     lambda l: l.nn.BatchNorm2d(3).eval()(l.ones(2, 4, 5, 5)), SAME)
case("batchnorm2d_rank", lambda l: l.nn.BatchNorm2d(3)(l.ones(2, 3)), SAME)
case("batchnorm1d_rank", lambda l: l.nn.BatchNorm1d(3)(l.ones(2, 3, 4, 5)), SAME)
case("batchnorm_one_value", lambda l: l.nn.BatchNorm1d(3)(l.ones(1, 3)), SAME)
case("batch_norm_fn_weight",
     lambda l: f(l).batch_norm(l.ones(2, 3), l.zeros(3), l.ones(3), weight=l.ones(4)))
case("layernorm_shape", lambda l: l.nn.LayerNorm(4)(l.ones(2, 3)), SAME)
case("layer_norm_fn_shape", lambda l: f(l).layer_norm(l.ones(2, 3), (2, 2)), SAME)
case("layer_norm_weight", lambda l: f(l).layer_norm(l.ones(2, 4), (4,), weight=l.ones(3)), SAME)
case("layer_norm_bias", lambda l: f(l).layer_norm(l.ones(2, 4), (4,), bias=l.ones(3)), SAME)
case("rms_norm_weight", lambda l: f(l).rms_norm(l.ones(2, 4), (4,), weight=l.ones(3)), SAME)
case("group_norm_weight", lambda l: f(l).group_norm(l.ones(2, 6, 3), 2, weight=l.ones(4)), SAME)
case("batch_norm_fn_bias",
     lambda l: f(l).batch_norm(l.ones(2, 3), l.zeros(3), l.ones(3), bias=l.ones(4)), SAME)
case("batch_norm_fn_running_var",
     lambda l: f(l).batch_norm(l.ones(2, 3), l.zeros(3), l.ones(4), training=True), SAME)
case("batch_norm_fn_weight_train",
     lambda l: f(l).batch_norm(l.ones(2, 3), None, None, weight=l.ones(4), training=True), SAME)
case("groupnorm_groups", lambda l: l.nn.GroupNorm(2, 3), ("must be divisible by num_groups",))
case("groupnorm_channels", lambda l: l.nn.GroupNorm(2, 4)(l.ones(2, 6, 3)), SAME)
case("group_norm_fn_groups", lambda l: f(l).group_norm(l.ones(2, 6, 3), 4), SAME)
case("instancenorm_channels",
     lambda l: l.nn.InstanceNorm1d(3, affine=True)(l.ones(2, 4, 5)))
case("instancenorm2d_rank", lambda l: l.nn.InstanceNorm2d(3)(l.ones(2, 3)), SAME)
case("rmsnorm_shape", lambda l: l.nn.RMSNorm(4)(l.ones(2, 3)), SAME)
case("localresponse_rank", lambda l: l.nn.LocalResponseNorm(2)(l.ones(3, 4)),
     ("Expected 3D or higher dimensionality", "got 2 dimensions"))
case("normalize_dim", lambda l: f(l).normalize(l.ones(2, 3), dim=3))

# --- linear, conv, pooling, upsampling, padding -------------------------------------------
case("linear", lambda l: l.nn.Linear(3, 4)(l.ones(2, 5)), ("in_features=3", "[2, 5]"))
case("linear_fn", lambda l: f(l).linear(l.ones(2, 5), l.ones(4, 3)), SAME)
case("linear_fn_bias", lambda l: f(l).linear(l.ones(2, 3), l.ones(4, 3), l.ones(5)))
case("linear_dtype", lambda l: f(l).linear(l.ones(2, 3), l.ones(4, 3, dtype=l.float64)))
case("bilinear_shape", lambda l: l.nn.Bilinear(3, 4, 5)(l.ones(2, 3), l.ones(2, 5)))
case("bilinear_batch", lambda l: l.nn.Bilinear(3, 4, 5)(l.ones(2, 3), l.ones(3, 4)))
case("conv", lambda l: l.nn.Conv2d(3, 4, 3)(l.ones(1, 2, 5, 5)),
     ("3 channels", "[1, 2, 5, 5]"))
case("conv_small", lambda l: l.nn.Conv2d(3, 4, 3)(l.ones(1, 3, 2, 2)))
case("conv_rank", lambda l: l.nn.Conv2d(3, 4, 3)(l.ones(3, 5)))
case("conv1d_rank", lambda l: l.nn.Conv1d(3, 4, 3)(l.ones(1, 3, 5, 5)))
case("conv3d_rank", lambda l: l.nn.Conv3d(3, 4, 3)(l.ones(3, 5, 5)))
case("conv_groups", lambda l: l.nn.Conv2d(4, 6, 3, groups=4), SAME)
case("conv_groups_in", lambda l: l.nn.Conv2d(3, 6, 3, groups=2), SAME)
case("conv_padding_str", lambda l: l.nn.Conv2d(3, 4, 3, padding="bad"))
case("conv_same_stride", lambda l: l.nn.Conv2d(3, 4, 3, padding="same", stride=2), SAME)
case("conv_fn_weight_rank", lambda l: f(l).conv2d(l.ones(1, 3, 5, 5), l.ones(4, 3, 3)))
case("conv_fn_dtype",
     lambda l: f(l).conv2d(l.ones(1, 3, 5, 5), l.ones(4, 3, 3, 3, dtype=l.float64)))
case("conv_transpose_channels",
     lambda l: l.nn.ConvTranspose2d(3, 4, 3)(l.ones(1, 2, 5, 5)))
case("conv_transpose_rank", lambda l: l.nn.ConvTranspose2d(3, 4, 3)(l.ones(3, 5)))
case("maxpool_small", lambda l: l.nn.MaxPool2d(3)(l.ones(1, 1, 2, 2)), ("too small",))
case("maxpool_rank", lambda l: l.nn.MaxPool2d(2)(l.ones(4)))
case("maxpool1d_rank", lambda l: l.nn.MaxPool1d(2)(l.ones(1, 1, 4, 4)))
case("maxpool_pad", lambda l: l.nn.MaxPool2d(2, padding=2)(l.ones(1, 1, 4, 4)),
     ("pad should be at most half of effective kernel size, but got pad=2, kernel_size=2",))
case("avgpool_small", lambda l: l.nn.AvgPool2d(3)(l.ones(1, 1, 2, 2)), ("too small",))
case("avgpool_pad", lambda l: l.nn.AvgPool2d(2, padding=2)(l.ones(1, 1, 4, 4)),
     ("pad should be at most half of effective kernel size, but got pad=2, kernel_size=2",))
case("avgpool_rank", lambda l: l.nn.AvgPool1d(2)(l.ones(4)))
case("adaptive_avg_rank", lambda l: l.nn.AdaptiveAvgPool2d(2)(l.ones(4)))
case("adaptive_max_rank", lambda l: l.nn.AdaptiveMaxPool2d(2)(l.ones(4)))
case("adaptive_size_len", lambda l: f(l).adaptive_avg_pool2d(l.ones(1, 1, 4, 4), (2, 2, 2)))
case("upsample_rank", lambda l: l.nn.Upsample(scale_factor=2, mode="bilinear")(l.ones(1, 4)))
case("upsample_mode", lambda l: f(l).interpolate(l.ones(1, 1, 4), scale_factor=2,
                                                 mode="bilinear"))
case("interpolate_size_rank", lambda l: f(l).interpolate(l.ones(1, 1, 4), size=(2, 2)), SAME)
case("interpolate_scale_rank",
     lambda l: f(l).interpolate(l.ones(1, 1, 4), scale_factor=(2, 2)), SAME)
case("interpolate_both", lambda l: f(l).interpolate(l.ones(1, 1, 4), size=2, scale_factor=2),
     SAME)
case("interpolate_neither", lambda l: f(l).interpolate(l.ones(1, 1, 4)), SAME)
case("interpolate_bad_mode", lambda l: f(l).interpolate(l.ones(1, 1, 4), size=2, mode="cubic"))
case("pixel_shuffle", lambda l: f(l).pixel_shuffle(l.ones(1, 3, 2, 2), 2), SAME)
case("pixel_unshuffle", lambda l: f(l).pixel_unshuffle(l.ones(1, 1, 3, 3), 2), SAME)
case("pad_odd", lambda l: f(l).pad(l.ones(2, 3), (1, 2, 3)), SAME)
case("pad_too_long", lambda l: f(l).pad(l.ones(3), (1, 1, 1, 1)), SAME)
case("pad_reflect_big", lambda l: f(l).pad(l.ones(1, 2, 3), (3, 3), mode="reflect"))
case("pad_reflect_rank", lambda l: f(l).pad(l.ones(3), (1, 1, 1, 1), mode="reflect"))
case("pad_mode", lambda l: f(l).pad(l.ones(1, 2, 3), (1, 1), mode="bogus"))
case("unfold_rank", lambda l: f(l).unfold(l.ones(1, 1, 1, 2, 3), 2))
case("fold_size", lambda l: f(l).fold(l.ones(1, 4, 5), (3, 3), 2))
case("dropout_p", lambda l: l.nn.Dropout(1.5), SAME)
case("dropout_fn_p", lambda l: f(l).dropout(l.ones(2), 2.0), SAME)

case("conv1d_fn_rank", lambda l: f(l).conv1d(l.ones(1, 3, 5, 5), l.ones(4, 3, 3)))
case("conv2d_fn_channels", lambda l: f(l).conv2d(l.ones(1, 2, 5, 5), l.ones(4, 3, 3, 3)), SAME)
case("conv2d_fn_bias", lambda l: f(l).conv2d(l.ones(1, 3, 5, 5), l.ones(4, 3, 3, 3),
                                             l.ones(5)))
case("conv2d_fn_stride0", lambda l: f(l).conv2d(l.ones(1, 3, 5, 5), l.ones(4, 3, 3, 3),
                                                stride=0))
case("conv2d_fn_groups", lambda l: f(l).conv2d(l.ones(1, 4, 5, 5), l.ones(4, 2, 3, 3),
                                               groups=3))
case("conv_transpose_fn_channels",
     lambda l: f(l).conv_transpose2d(l.ones(1, 2, 5, 5), l.ones(3, 4, 3, 3)))
case("maxpool_stride0", lambda l: f(l).max_pool2d(l.ones(1, 1, 4, 4), 2, stride=0))
case("maxpool_kernel0", lambda l: f(l).max_pool2d(l.ones(1, 1, 4, 4), 0))
case("maxpool1d_fn_rank", lambda l: f(l).max_pool1d(l.ones(4), 2))
case("avgpool3d_rank", lambda l: l.nn.AvgPool3d(2)(l.ones(2, 2, 2)))
case("max_unpool_size", lambda l: f(l).max_unpool2d(l.ones(1, 1, 2, 2),
                                                    l.zeros(1, 1, 2, 2, dtype=l.int64), 2,
                                                    output_size=(9, 9)))
case("upsample_nearest_rank", lambda l: l.nn.UpsamplingNearest2d(scale_factor=2)(l.ones(2, 2)))
case("pad_circular_big", lambda l: f(l).pad(l.ones(1, 1, 3), (4, 4), mode="circular"))
case("pad_replicate_rank", lambda l: f(l).pad(l.ones(3), (1, 1), mode="replicate"))
case("pad_negative_big", lambda l: f(l).pad(l.ones(2, 3), (-2, -2)))
case("fold_channels", lambda l: f(l).fold(l.ones(1, 5, 4), (3, 3), 2))
case("channel_shuffle", lambda l: l.nn.ChannelShuffle(2)(l.ones(1, 3, 2, 2)))
case("flatten_module_dims", lambda l: l.nn.Flatten(2, 5)(l.ones(2, 3)))
case("softmax_module_dim", lambda l: l.nn.Softmax(dim=3)(l.ones(2, 3)), SAME)
case("glu_odd", lambda l: f(l).glu(l.ones(2, 3)), SAME)
case("prelu_weights", lambda l: l.nn.PReLU(3)(l.ones(2, 4)))
case("cosine_similarity_shape", lambda l: f(l).cosine_similarity(l.ones(2, 3), l.ones(2, 4)),
     SAME)
case("pairwise_distance_shape",
     lambda l: f(l).pairwise_distance(l.ones(2, 3), l.ones(2, 4)), SAME)

# --- recurrent -----------------------------------------------------------------------------
for rnn in ["RNN", "LSTM", "GRU"]:
    case(f"{rnn}_input_size", lambda l, n=rnn: getattr(l.nn, n)(3, 4)(l.ones(5, 2, 6)), SAME)
    case(f"{rnn}_rank", lambda l, n=rnn: getattr(l.nn, n)(3, 4)(l.ones(5, 2, 3, 1)))
    case(f"{rnn}_cell_input", lambda l, n=rnn: getattr(l.nn, n + "Cell")(3, 4)(l.ones(2, 5)))
case("RNN_hidden", lambda l: l.nn.RNN(3, 4)(l.ones(5, 2, 3), l.ones(1, 3, 4)), SAME)
case("GRU_hidden", lambda l: l.nn.GRU(3, 4)(l.ones(5, 2, 3), l.ones(2, 2, 4)), SAME)
case("LSTM_hidden",
     lambda l: l.nn.LSTM(3, 4)(l.ones(5, 2, 3), (l.ones(1, 2, 5), l.ones(1, 2, 4))), SAME)
case("LSTM_cell_state",
     lambda l: l.nn.LSTM(3, 4)(l.ones(5, 2, 3), (l.ones(1, 2, 4), l.ones(1, 3, 4))), SAME)
case("LSTMCell_hidden",
     lambda l: l.nn.LSTMCell(3, 4)(l.ones(2, 3), (l.ones(3, 4), l.ones(2, 4))))
case("RNN_nonlinearity", lambda l: l.nn.RNN(3, 4, nonlinearity="gelu"), SAME)
case("RNN_dropout", lambda l: l.nn.RNN(3, 4, dropout=2.0), SAME)
case("mha_heads", lambda l: l.nn.MultiheadAttention(4, 3), SAME)
case("transformer_heads", lambda l: l.nn.TransformerEncoderLayer(6, 4))

case("RNN_batch_first_hidden",
     lambda l: l.nn.GRU(3, 4, batch_first=True)(l.ones(2, 5, 3), l.ones(1, 5, 4)), SAME)
case("RNN_bidirectional_hidden",
     lambda l: l.nn.RNN(3, 4, bidirectional=True)(l.ones(5, 2, 3), l.ones(1, 2, 4)), SAME)
case("RNN_unbatched_hidden_rank",
     lambda l: l.nn.RNN(3, 4)(l.ones(5, 3), l.ones(1, 2, 4)))
case("LSTM_proj_size", lambda l: l.nn.LSTM(3, 4, proj_size=4), SAME)
case("GRUCell_hidden", lambda l: l.nn.GRUCell(3, 4)(l.ones(2, 3), l.ones(2, 5)))
case("RNNCell_rank", lambda l: l.nn.RNNCell(3, 4)(l.ones(2, 2, 3)))

# --- embedding and indexing ----------------------------------------------------------------
case("embedding", lambda l: l.nn.Embedding(5, 2)(l.tensor([7])), SAME)
case("embedding_neg", lambda l: l.nn.Embedding(5, 2)(l.tensor([-1])), SAME)
case("embedding_float", lambda l: l.nn.Embedding(5, 2)(l.tensor([1.0])))
case("embedding_fn", lambda l: f(l).embedding(l.tensor([9]), l.ones(5, 2)), SAME)
case("embedding_bag_range", lambda l: l.nn.EmbeddingBag(5, 2)(l.tensor([[7]])))
case("embedding_padding_idx", lambda l: l.nn.Embedding(5, 2, padding_idx=7), SAME)
case("one_hot", lambda l: f(l).one_hot(l.tensor([3]), 2), SAME)
case("one_hot_neg", lambda l: f(l).one_hot(l.tensor([-1]), 2), SAME)
case("one_hot_float", lambda l: f(l).one_hot(l.tensor([1.0]), 2), SAME)
case("index", lambda l: l.ones(3)[5], SAME)
case("index_2d", lambda l: l.ones(2, 3)[1, 4], SAME)
case("index_too_many", lambda l: l.ones(3)[0, 0], SAME)
case("index_tensor_range", lambda l: l.ones(3)[l.tensor([0, 5])])
case("index_bool_shape", lambda l: l.ones(3)[l.tensor([True, False])])
case("index_float", lambda l: l.ones(3)[l.tensor([1.0])])
case("setitem_shape", lambda l: l.ones(2, 3).__setitem__(0, l.ones(4)), SAME)
case("index_select", lambda l: l.ones(3).index_select(0, l.tensor([4])), SAME)
case("index_select_neg", lambda l: l.ones(3).index_select(0, l.tensor([-5])), SAME)
case("index_select_dim1", lambda l: l.ones(3, 2).index_select(1, l.tensor([4])))
case("index_add_2d", lambda l: l.ones(3, 2).index_add(0, l.tensor([9]), l.ones(1, 2)), SAME)
case("index_select_dim1_neg", lambda l: l.ones(3, 2).index_select(1, l.tensor([-1])))
case("index_add_dim1", lambda l: l.ones(3, 2).index_add(1, l.tensor([4]), l.ones(3, 1)), SAME)
case("index_select_dim", lambda l: l.ones(3).index_select(2, l.tensor([0])))
case("index_select_float", lambda l: l.ones(3).index_select(0, l.tensor([0.0])))
case("index_add_range", lambda l: l.zeros(3).index_add(0, l.tensor([5]), l.ones(1)))
case("index_add_shape", lambda l: l.zeros(3, 2).index_add(0, l.tensor([1]), l.ones(1, 3)))
case("index_copy_range", lambda l: l.zeros(3).index_copy(0, l.tensor([5]), l.ones(1)))
case("index_fill_range", lambda l: l.zeros(3).index_fill(0, l.tensor([5]), 1.0))
case("index_put_dtype",
     lambda l: l.zeros(3).index_put_((l.tensor([0]),), l.tensor([1], dtype=l.int64)), SAME)
case("index_put_range", lambda l: l.zeros(3).index_put_((l.tensor([5]),), l.tensor([1.0])))
case("gather", lambda l: l.ones(2, 3).gather(1, l.tensor([[5]])))
case("gather_rank", lambda l: l.ones(2, 3).gather(1, l.tensor([5])), SAME)
case("gather_dtype", lambda l: l.ones(2, 3).gather(1, l.tensor([[0.0]])), SAME)
case("gather_dim", lambda l: l.ones(2, 3).gather(3, l.tensor([[0]])))
case("scatter", lambda l: l.zeros(3).scatter(0, l.tensor([5]), 1.0))
case("scatter_rank", lambda l: l.zeros(3).scatter(0, l.tensor([[0]]), 1.0), SAME)
case("scatter_src_dtype",
     lambda l: l.zeros(3).scatter(0, l.tensor([0]), l.tensor([1], dtype=l.int64)), SAME)
case("scatter_add_range", lambda l: l.zeros(3).scatter_add(0, l.tensor([5]), l.ones(1)))
case("scatter_reduce_bad",
     lambda l: l.zeros(3).scatter_reduce(0, l.tensor([0]), l.ones(1), reduce="bogus"))
case("take_range", lambda l: l.ones(3).take(l.tensor([5])), SAME)
case("take_along_dim_shape",
     lambda l: l.take_along_dim(l.ones(2, 3), l.tensor([[0, 1]]), dim=2))
case("masked_select_shape",
     lambda l: l.ones(2, 3).masked_select(l.ones(3, 2, dtype=l.bool)), SAME)
case("masked_scatter_shape",
     lambda l: l.ones(2, 3).masked_scatter(l.ones(3, 2, dtype=l.bool), l.ones(6)))
case("select", lambda l: l.ones(3).select(0, 5), SAME)
case("select_dim", lambda l: l.ones(3).select(2, 0))
case("narrow", lambda l: l.ones(3).narrow(0, 2, 3), SAME)
case("narrow_start", lambda l: l.ones(3).narrow(0, 5, 1), SAME)
case("topk", lambda l: l.ones(3).topk(5), SAME)
case("kthvalue", lambda l: l.ones(3).kthvalue(5))
case("multinomial_neg", lambda l: l.multinomial(l.tensor([-1.0, 2.0]), 1))
case("multinomial_noreplace", lambda l: l.multinomial(l.tensor([1.0, 2.0]), 3), SAME)
case("bincount_neg", lambda l: l.bincount(l.tensor([-1, 2])), SAME)
case("bincount_float", lambda l: l.bincount(l.tensor([1.0])), SAME)

# --- shape changes -------------------------------------------------------------------------
case("view", lambda l: l.ones(2, 3).view(4), SAME)
case("view_noncontig", lambda l: l.ones(2, 3).t().view(6))
case("view_two_infer", lambda l: l.ones(2, 3).view(-1, -1), SAME)
case("view_neg", lambda l: l.ones(2, 3).view(-2, 3))
case("reshape", lambda l: l.ones(2, 3).reshape(4, 2), SAME)
case("reshape_infer", lambda l: l.ones(2, 3).reshape(4, -1), SAME)
case("expand", lambda l: l.ones(2, 3).expand(4, 3), SAME)
case("expand_fewer", lambda l: l.ones(2, 3).expand(3), SAME)
case("expand_as", lambda l: l.ones(2, 3).expand_as(l.ones(3, 2)))
case("broadcast_to", lambda l: l.broadcast_to(l.ones(2, 3), (3, 3)))
case("broadcast_tensors", lambda l: l.broadcast_tensors(l.ones(2, 3), l.ones(4)), SAME)
case("broadcast_shapes", lambda l: l.broadcast_shapes((2, 3), (4,)))
case("permute", lambda l: l.ones(2, 3).permute(0), SAME)
case("permute_repeat", lambda l: l.ones(2, 3).permute(0, 0), SAME)
case("permute_range", lambda l: l.ones(2, 3).permute(0, 5))
case("transpose", lambda l: l.ones(2, 3).transpose(0, 4), SAME)
case("t_3d", lambda l: l.ones(2, 3, 4).t(), SAME)
case("squeeze_dim", lambda l: l.ones(2, 3).squeeze(5), SAME)
case("unsqueeze_dim", lambda l: l.ones(2, 3).unsqueeze(4), SAME)
case("flatten", lambda l: l.ones(2, 3).flatten(2), SAME)
case("flatten_order", lambda l: l.ones(2, 3, 4).flatten(2, 1), SAME)
case("unflatten", lambda l: l.ones(6).unflatten(0, (4, 2)), SAME)
case("unflatten_dim", lambda l: l.ones(6).unflatten(2, (3, 2)))
case("unflatten_two_infer", lambda l: l.ones(6).unflatten(0, (-1, -1)))
case("unflatten_neg_dim", lambda l: l.ones(6).unflatten(-1, (4, 2)), SAME)
case("unflatten_empty", lambda l: l.ones(6).unflatten(0, ()), SAME)
case("nn_unflatten", lambda l: l.nn.Unflatten(1, (2, 2))(l.ones(2, 6)), SAME)
case("movedim_repeat", lambda l: l.ones(2, 3).movedim((0, 1), (0, 0)))
case("repeat", lambda l: l.ones(2, 3).repeat(2), SAME)
case("repeat_interleave_shape", lambda l: l.ones(3).repeat_interleave(l.tensor([1, 2])), SAME)
case("tile_neg", lambda l: l.ones(2).tile(-1), SAME)
case("repeat_neg", lambda l: l.ones(2, 3).repeat(2, -1), SAME)
case("roll_shape", lambda l: l.ones(2, 3).roll((1, 1), (0,)))
case("flip_dim", lambda l: l.ones(2, 3).flip(3))
case("diagonal_dims", lambda l: l.ones(2, 3).diagonal(0, 0, 0), SAME)
case("unfold_size", lambda l: l.ones(3).unfold(0, 5, 1), SAME)
case("as_strided_oob", lambda l: l.ones(3).as_strided((4,), (1,)))
case("contiguous_view_t", lambda l: l.ones(2, 3, 4).transpose(0, 1).view(-1))
case("cat", lambda l: l.cat([l.ones(2, 3), l.ones(2, 4)]), SAME)
case("cat_rank", lambda l: l.cat([l.ones(2, 3), l.ones(2)]), SAME)
case("cat_empty", lambda l: l.cat([]), SAME)
case("cat_dim", lambda l: l.cat([l.ones(2, 3), l.ones(2, 3)], dim=3))
case("stack", lambda l: l.stack([l.ones(2, 3), l.ones(2, 4)]), SAME)
case("stack_empty", lambda l: l.stack([]), SAME)
case("hstack_shape", lambda l: l.hstack([l.ones(2, 3), l.ones(3, 3)]))
case("vstack_shape", lambda l: l.vstack([l.ones(2, 3), l.ones(2, 4)]))
case("split", lambda l: l.ones(4).split([1, 2]), SAME)
case("split_dim", lambda l: l.ones(4).split(2, dim=2))
case("split_zero", lambda l: l.ones(4).split(0))
case("chunk0", lambda l: l.ones(4).chunk(0), SAME)
case("tensor_split_dim", lambda l: l.ones(4).tensor_split(2, dim=3))
case("unbind_dim", lambda l: l.ones(4).unbind(2))
case("meshgrid_rank", lambda l: l.meshgrid(l.ones(2, 2), indexing="ij"))

# --- matmul family -------------------------------------------------------------------------
case("matmul", lambda l: l.ones(2, 3) @ l.ones(4, 5), SAME)
case("matmul_1d", lambda l: l.ones(3) @ l.ones(4), SAME)
case("matmul_0d", lambda l: l.ones(()) @ l.ones(3), SAME)
case("matmul_batch", lambda l: l.ones(2, 2, 3) @ l.ones(3, 3, 4), SAME)
case("matmul_mv", lambda l: l.ones(2, 3) @ l.ones(4), SAME)
case("matmul_dtype", lambda l: l.ones(2, 3) @ l.ones(3, 2, dtype=l.float64), SAME)
case("mm", lambda l: l.mm(l.ones(2, 3), l.ones(4, 5)), SAME)
case("mm_rank", lambda l: l.mm(l.ones(2, 3), l.ones(3)), SAME)
case("mm_dtype", lambda l: l.mm(l.ones(2, 2), l.ones(2, 2, dtype=l.float64)), SAME)
case("mm_int_float", lambda l: l.mm(l.ones(2, 2, dtype=l.int64), l.ones(2, 2)), SAME)
case("bmm", lambda l: l.bmm(l.ones(2, 3, 4), l.ones(3, 4, 5)), SAME)
case("bmm_inner", lambda l: l.bmm(l.ones(2, 3, 4), l.ones(2, 5, 5)), SAME)
case("bmm_rank", lambda l: l.bmm(l.ones(3, 4), l.ones(4, 5)), SAME)
case("bmm_dtype", lambda l: l.bmm(l.ones(2, 3, 4), l.ones(2, 4, 5, dtype=l.float64)), SAME)
case("addmm", lambda l: l.addmm(l.ones(2, 5), l.ones(2, 3), l.ones(4, 5)), SAME)
case("addmm_bias", lambda l: l.addmm(l.ones(3, 5), l.ones(2, 4), l.ones(4, 5)))
case("addmv", lambda l: l.addmv(l.ones(2), l.ones(2, 3), l.ones(4)), SAME)
case("addbmm", lambda l: l.addbmm(l.ones(3, 5), l.ones(2, 3, 4), l.ones(2, 5, 5)))
case("baddbmm", lambda l: l.baddbmm(l.ones(2, 3, 5), l.ones(2, 3, 4), l.ones(2, 5, 5)), SAME)
case("baddbmm_bias", lambda l: l.baddbmm(l.ones(3, 3, 5), l.ones(2, 3, 4), l.ones(2, 4, 5)))
case("addr", lambda l: l.addr(l.ones(2, 4), l.ones(2), l.ones(3)))
case("einsum", lambda l: l.einsum("ij,jk->ik", l.ones(2, 3), l.ones(4, 5)), SAME)
case("einsum_operands", lambda l: l.einsum("ij,jk->ik", l.ones(2, 3)), SAME)
case("einsum_rank", lambda l: l.einsum("ij->i", l.ones(2, 3, 4)), SAME)
case("einsum_output", lambda l: l.einsum("ij->k", l.ones(2, 3)), SAME)
case("einsum_more", lambda l: l.einsum("ij,jk->ik", l.ones(2, 3), l.ones(3, 4), l.ones(3)), SAME)
case("einsum_repeated", lambda l: l.einsum("ii->i", l.ones(2, 3)), SAME)
case("einsum_vectors", lambda l: l.einsum("i,i->", l.ones(2), l.ones(3)), SAME)
case("tensordot", lambda l: l.tensordot(l.ones(2, 3), l.ones(4, 5), dims=1), SAME)
case("tensordot_dims", lambda l: l.tensordot(l.ones(2, 3), l.ones(3, 5), dims=([0], [0])),
     SAME)
case("tensordot_lengths",
     lambda l: l.tensordot(l.ones(2, 3), l.ones(3, 5), dims=([0, 1], [0])), SAME)
case("outer_rank", lambda l: l.outer(l.ones(2, 3), l.ones(3)), SAME)
case("dot", lambda l: l.dot(l.ones(3), l.ones(4)), SAME)
case("dot_rank", lambda l: l.dot(l.ones(2, 3), l.ones(3)), SAME)
case("dot_dtype", lambda l: l.dot(l.ones(3), l.ones(3, dtype=l.float64)), SAME)
case("vdot", lambda l: l.vdot(l.ones(3), l.ones(4)), SAME)
case("inner", lambda l: l.inner(l.ones(3), l.ones(4)))
case("mv", lambda l: l.mv(l.ones(2, 3), l.ones(4)), SAME)
case("mv_rank", lambda l: l.mv(l.ones(3), l.ones(3)), SAME)
case("kron_ok_cross", lambda l: l.linalg.cross(l.ones(2), l.ones(2)))
case("cross_shape", lambda l: l.cross(l.ones(3), l.ones(4), dim=0))
case("chain_matmul", lambda l: l.linalg.multi_dot([l.ones(2, 3), l.ones(4, 5)]))
case("inverse_nonsquare", lambda l: l.linalg.inv(l.ones(2, 3)))
case("det_nonsquare", lambda l: l.det(l.ones(2, 3)))
case("cholesky_nonpd", lambda l: l.linalg.cholesky(-l.eye(2)))
case("solve_shape", lambda l: l.linalg.solve(l.eye(2), l.ones(3)))
case("trace_rank", lambda l: l.trace(l.ones(3)))
case("diag_rank", lambda l: l.diag(l.ones(2, 2, 2)))
case("cdist_shape", lambda l: l.cdist(l.ones(2, 3), l.ones(2, 4)))

# --- reductions ----------------------------------------------------------------------------
case("sum_dim", lambda l: l.ones(2, 3).sum(5), SAME)
case("sum_neg_dim", lambda l: l.ones(2, 3).sum(-3), SAME)
case("mean_int", lambda l: l.ones(3, dtype=l.int64).mean())
case("mean_dim", lambda l: l.ones(2, 3).mean(2), SAME)
case("max_dim", lambda l: l.ones(2, 3).max(2), SAME)
case("max_empty", lambda l: l.ones(0).max())
case("argmax_dim", lambda l: l.ones(2, 3).argmax(2), SAME)
case("argmax_empty", lambda l: l.ones(0).argmax())
case("softmax_dim", lambda l: l.ones(2, 3).softmax(3), SAME)
case("log_softmax_dim", lambda l: f(l).log_softmax(l.ones(2, 3), dim=-3), SAME)
case("cumsum_dim", lambda l: l.ones(2, 3).cumsum(2), SAME)
case("prod_dim", lambda l: l.ones(2, 3).prod(2), SAME)
case("std_dim", lambda l: l.ones(2, 3).std(2), SAME)
case("norm_dim", lambda l: l.ones(2, 3).norm(dim=2), SAME)
case("logsumexp_dim", lambda l: l.ones(2, 3).logsumexp(2), SAME)
case("sort_dim", lambda l: l.ones(2, 3).sort(2), SAME)
case("argsort_dim", lambda l: l.ones(2, 3).argsort(2), SAME)
case("all_dim", lambda l: l.ones(2, 3).all(2), SAME)
case("amax_repeat", lambda l: l.ones(2, 3).amax((0, 0)), SAME)
case("median_dim", lambda l: l.ones(2, 3).median(2), SAME)
case("var_dim", lambda l: l.ones(2, 3).var(2), SAME)
case("quantile_q", lambda l: l.ones(3).quantile(1.5), SAME)
case("unique_dim", lambda l: l.unique(l.ones(3), dim=2))

case("min_dim", lambda l: l.ones(2, 3).min(dim=2), SAME)
case("min_empty_dim", lambda l: l.ones(0, 3).min(dim=0))
case("sum_dtype_bad", lambda l: l.ones(2).sum(dtype=l.int64).float().sum(dim=(0, 0)), SAME)
case("cumprod_dim", lambda l: l.ones(2).cumprod(1), SAME)
case("mode_dim", lambda l: l.ones(2).mode(1), SAME)
case("aminmax_dim", lambda l: l.ones(2).aminmax(dim=2), SAME)
case("count_nonzero_dim", lambda l: l.ones(2).count_nonzero(1), SAME)
case("nansum_int", lambda l: l.ones(2, dtype=l.int64).nansum(1), SAME)
case("var_correction", lambda l: l.ones(2).var(dim=3), SAME)
case("topk_dim", lambda l: l.ones(3).topk(1, dim=2), SAME)
case("kthvalue_zero", lambda l: l.ones(3).kthvalue(0))
case("cummax_dim", lambda l: l.ones(3).cummax(1), SAME)
case("softmax_no_dim_3d", lambda l: f(l).softmax(l.ones(2, 3), dim=5), SAME)
case("argmax_keepdim_dim", lambda l: l.ones(2, 3).argmax(dim=-3), SAME)
case("renorm_p", lambda l: l.ones(2, 3).renorm(-1, 0, 1.0))
case("histc_bins", lambda l: l.ones(3).histc(bins=-1))
case("diff_dim", lambda l: l.ones(3).diff(dim=1), SAME)
case("trapz_dim", lambda l: l.trapezoid(l.ones(3), dim=1), SAME)

# --- creation ------------------------------------------------------------------------------
case("zeros_neg", lambda l: l.zeros(-1), SAME)
case("ones_neg", lambda l: l.ones(2, -3), SAME)
case("empty_neg", lambda l: l.empty(-1), SAME)
case("full_neg", lambda l: l.full((-1,), 1.0), SAME)
case("rand_neg", lambda l: l.rand(-1), SAME)
case("randn_neg", lambda l: l.randn(2, -1), SAME)
case("randint_range", lambda l: l.randint(5, 2, (3,)), SAME)
case("randint_float_dtype", lambda l: l.randint(5, (3,), dtype=l.float32) + l.ones(4))
case("randperm_neg", lambda l: l.randperm(-1), SAME)
case("arange_step0", lambda l: l.arange(0, 5, 0), SAME)
case("arange_sign", lambda l: l.arange(0, 5, -1), SAME)
case("linspace_neg", lambda l: l.linspace(0, 1, -1), SAME)
case("logspace_neg", lambda l: l.logspace(0, 1, -1), SAME)
case("eye_neg", lambda l: l.eye(-1), SAME)
case("tensor_ragged", lambda l: l.tensor([[1, 2], [3]]))
case("tensor_str", lambda l: l.tensor("abc"))
case("zeros_float_size", lambda l: l.zeros(2.5))
case("ones_like_bad", lambda l: l.ones_like([1, 2]))
case("normal_std_neg", lambda l: l.normal(0.0, -1.0, (2,)), SAME)
case("bernoulli_p", lambda l: l.bernoulli(l.tensor([1.5])))
case("tril_indices_neg", lambda l: l.tril_indices(-1, 2), SAME)
case("triu_indices_neg", lambda l: l.triu_indices(2, -1), SAME)
case("normal_tensor_std_neg", lambda l: l.normal(l.ones(2), -l.ones(2)), SAME)
case("normal_bcast", lambda l: l.normal(l.ones(2), l.ones(3)), SAME)
case("bernoulli_scalar_p", lambda l: l.bernoulli(l.tensor([0.5]), p=1.5), SAME)
case("meshgrid_indexing", lambda l: l.meshgrid(l.ones(2), l.ones(2), indexing="bogus"), SAME)
case("put_dtype", lambda l: l.zeros(3).put_(l.tensor([0]), l.tensor([1])), SAME)
case("to_bad", lambda l: l.ones(2).to("nonsense"))
case("device_bad", lambda l: l.device("bogus"))

case("full_like_bad", lambda l: l.full_like([1, 2], 0.0))
case("zeros_like_bad", lambda l: l.zeros_like(3))
case("empty_like_bad", lambda l: l.empty_like("a"))
case("rand_like_int", lambda l: l.rand_like(l.ones(2, dtype=l.int64)))
case("randn_int_dtype", lambda l: l.randn(2, dtype=l.int64))
case("rand_int_dtype", lambda l: l.rand(2, dtype=l.int64))
case("arange_nan", lambda l: l.arange(0, float("nan")))
case("arange_inf", lambda l: l.arange(0, float("inf")))
case("linspace_float_steps", lambda l: l.linspace(0, 1, 2.5))
case("eye_neg_m", lambda l: l.eye(2, -1), SAME)
case("full_size_neg", lambda l: l.full((2, -3), 1.0), SAME)
case("empty_strided_neg", lambda l: l.empty_strided((2, -1), (1, 1)))
case("randint_low_high", lambda l: l.randint(3, 3, (2,)), SAME)
case("randint_size_missing", lambda l: l.randint(3))
case("tensor_bad_dtype", lambda l: l.tensor([1.5], dtype=l.bool).add(l.tensor([1], dtype=l.int64))
     .sub_(l.tensor([True])))
case("as_tensor_ragged", lambda l: l.as_tensor([[1], [2, 3]]))
case("zeros_size_kw_and_args", lambda l: l.zeros(2, size=(3,)))

# --- dtypes torch refuses ----------------------------------------------------------------
case("add_inplace_dtype", lambda l: l.ones(2, dtype=l.int64).add_(l.ones(2)), SAME)
case("mul_inplace_bool", lambda l: l.ones(2, dtype=l.bool).mul_(2), SAME)
case("bitwise_float", lambda l: l.ones(2) & l.ones(2))
case("shift_float", lambda l: l.ones(2) << 1)
case("invert_float", lambda l: ~l.ones(2), SAME)
case("neg_bool", lambda l: -l.ones(2, dtype=l.bool))
case("sub_bool", lambda l: l.ones(2, dtype=l.bool) - l.ones(2, dtype=l.bool))
case("floor_divide_zero_int", lambda l: l.ones(2, dtype=l.int64) // 0)
case("remainder_zero_int", lambda l: l.ones(2, dtype=l.int64) % 0)
case("copy_bcast", lambda l: l.ones(2, 3).copy_(l.ones(4)), SAME)
case("where_cond_dtype", lambda l: l.where(l.ones(2), l.ones(2), l.ones(2)))
case("lerp_dtype", lambda l: l.lerp(l.ones(2), l.ones(2, dtype=l.float64), 0.5))
case("cross_entropy_int_input", lambda l: f(l).cross_entropy(l.ones(2, 3, dtype=l.int64),
                                                               l.tensor([0, 1])))
case("softmax_int", lambda l: l.ones(2, dtype=l.int64).softmax(0))
case("requires_grad_int", lambda l: l.ones(2, dtype=l.int64).requires_grad_(), SAME)
case("tensor_int_grad", lambda l: l.tensor([1, 2], requires_grad=True), SAME)

case("sub_bool_tensor_scalar", lambda l: l.ones(2, dtype=l.bool) - True)
case("rsub_bool", lambda l: 1 - l.ones(2, dtype=l.bool))
case("div_inplace_int", lambda l: l.ones(2, dtype=l.int64).div_(2), SAME)
case("pow_inplace_int_neg", lambda l: l.ones(2, dtype=l.int64).pow_(-1))
case("int_pow_neg", lambda l: l.tensor([2]) ** -1, SAME)
case("gcd_float", lambda l: l.gcd(l.ones(2), l.ones(2)))
case("bitwise_and_float_int", lambda l: l.bitwise_and(l.ones(2), l.ones(2, dtype=l.int64)))
case("logical_shift_float", lambda l: l.ones(2, dtype=l.int64) << l.ones(2))
case("mm_bool", lambda l: l.mm(l.ones(2, 2, dtype=l.bool), l.ones(2, 2, dtype=l.bool)))
case("matmul_int_float", lambda l: l.ones(2, 2, dtype=l.int64) @ l.ones(2, 2), SAME)
case("cat_dtype_ok_mixed_device", lambda l: l.cat([l.ones(2), l.ones(2, dtype=l.int64)]))
case("addmm_dtype", lambda l: l.addmm(l.ones(2, 2, dtype=l.float64), l.ones(2, 2),
                                      l.ones(2, 2)))
case("clamp_int_float_out", lambda l: l.ones(2, dtype=l.int64).clamp_(0.5, 1.5))
case("sqrt_inplace_int", lambda l: l.ones(2, dtype=l.int64).sqrt_(), SAME)
case("exp_inplace_int", lambda l: l.ones(2, dtype=l.int64).exp_(), SAME)
case("sigmoid_inplace_int", lambda l: l.ones(2, dtype=l.int64).sigmoid_())
case("copy_complex_to_float", lambda l: l.ones(2).copy_(l.ones(2, dtype=l.complex64)))
case("type_as_bad", lambda l: l.ones(2).type_as([1]))
case("to_bad_dtype", lambda l: l.ones(2).to(dtype="bogus"))

# --- autograd misuse -----------------------------------------------------------------------
case("item", lambda l: l.ones(2).item(), SAME)
case("item_empty", lambda l: l.ones(0).item())
case("float_many", lambda l: float(l.ones(2)), SAME)
case("bool_many", lambda l: bool(l.ones(2)), SAME)
case("int_many", lambda l: int(l.ones(2)), SAME)
case("len_0d", lambda l: len(l.tensor(1.0)), SAME)
case("iter_0d", lambda l: iter(l.tensor(1.0)), SAME)
case("backward_nonscalar", lambda l: l.ones(2, requires_grad=True).mul(2).backward(), SAME)
case("backward_no_grad", lambda l: l.ones(2).sum().backward(), SAME)
case("backward_twice", lambda l: _backward_twice(l))
case("backward_grad_shape",
     lambda l: l.ones(2, requires_grad=True).mul(2).backward(l.ones(3)))
case("grad_nonscalar",
     lambda l: l.autograd.grad(_mul2(l)[1], _mul2(l)[0]))
case("leaf_inplace", lambda l: l.ones(2, requires_grad=True).add_(1), SAME)
case("leaf_setitem", lambda l: l.ones(2, requires_grad=True).__setitem__(0, 1.0), SAME)
case("leaf_setitem_mask",
     lambda l: l.ones(2, requires_grad=True).__setitem__(l.tensor([True, False]), 1.0), SAME)
case("leaf_setitem_mask_0d_value",
     lambda l: l.ones(2).__setitem__(l.tensor([True, False]), l.tensor(1, dtype=l.int64)))
case("numpy_grad", lambda l: l.ones(2, requires_grad=True).numpy(), SAME)
case("view_inplace_modified", lambda l: _version_error(l))

case("grad_unused", lambda l: l.autograd.grad(_mul2(l)[1].sum(), l.ones(2, requires_grad=True)),
     SAME)
case("grad_no_grad_output", lambda l: l.autograd.grad(l.ones(2).sum(), l.ones(2,
                                                                               requires_grad=True)),
     SAME)
case("backward_int_grad", lambda l: l.ones(2, requires_grad=True).sum().backward(
    l.tensor(1, dtype=l.int64)))
case("requires_grad_nonleaf_false", lambda l: _mul2(l)[1].requires_grad_(False), SAME)
case("detach_inplace_view", lambda l: l.ones(2, requires_grad=True)[0:1].detach_())
case("retain_grad_no_grad", lambda l: l.ones(2).retain_grad(), SAME)
case("register_hook_no_grad", lambda l: l.ones(2).register_hook(lambda g: g), SAME)
case("tolist_ok_grad_numpy", lambda l: _mul2(l)[1].numpy(), SAME)
case("set_grad_shape", lambda l: setattr(l.ones(2, requires_grad=True), "grad", l.ones(3)))
case("set_grad_dtype",
     lambda l: setattr(l.ones(2, requires_grad=True), "grad", l.ones(2, dtype=l.float64)))

# --- more ops, modules and utilities ---------------------------------------------------------
for name, op in [("atan2", "atan2"), ("hypot", "hypot"), ("fmod", "fmod"),
                 ("logaddexp", "logaddexp"), ("logical_and", "logical_and"),
                 ("isclose", "isclose"), ("allclose", "allclose"), ("eq_fn", "eq"),
                 ("heaviside", "heaviside"), ("copysign", "copysign"), ("xlogy", "xlogy"),
                 ("dist", "dist")]:
    case(f"{name}_bcast", lambda l, op=op: getattr(l, op)(l.ones(2, 3), l.ones(3, 2)), SAME)
case("bitwise_and_bcast", lambda l: l.bitwise_and(l.ones(2, 3, dtype=l.int64),
                                                  l.ones(3, 2, dtype=l.int64)), SAME)
case("gcd_bcast", lambda l: l.gcd(l.ones(2, 3, dtype=l.int64), l.ones(3, 2, dtype=l.int64)),
     SAME)
case("where_scalar_bcast", lambda l: l.where(l.ones(2, 3, dtype=l.bool), l.ones(3, 2), 0.0))
case("clamp_tensor_bcast", lambda l: l.clamp(l.ones(2, 3), min=l.ones(3, 2)))
case("addcdiv_bcast", lambda l: l.addcdiv(l.ones(3), l.ones(2), l.ones(3)))
case("cdist_batch", lambda l: l.cdist(l.ones(2, 3, 4), l.ones(3, 3, 4)))
case("cross_dim", lambda l: l.linalg.cross(l.ones(2, 3), l.ones(3, 3)))
case("searchsorted_shape", lambda l: l.searchsorted(l.ones(2, 3), l.ones(3, 3)), SAME)
case("bucketize_2d_boundaries", lambda l: l.bucketize(l.ones(3), l.ones(2, 2)), SAME)
case("histc_int", lambda l: l.histc(l.ones(3, dtype=l.int64)), SAME)
case("std_int", lambda l: l.ones(3, dtype=l.int64).std())
case("mean_bool", lambda l: l.ones(3, dtype=l.bool).mean())
case("sort_stable_dim", lambda l: l.ones(3).sort(dim=1, stable=True), SAME)
case("unique_consecutive_dim", lambda l: l.unique_consecutive(l.ones(3), dim=1), SAME)
case("flip_dup", lambda l: l.ones(2, 3).flip(0, 0))
case("rot90_dims", lambda l: l.ones(2, 3).rot90(1, (0, 0)), SAME)
case("roll_dims_len", lambda l: l.ones(2, 3).roll((1,), (0, 1)))
case("triu_1d", lambda l: l.ones(3).triu())
case("diag_embed_dims", lambda l: l.diag_embed(l.ones(3), dim1=0, dim2=0), SAME)
case("movedim_len", lambda l: l.ones(2, 3).movedim((0, 1), (0,)))
case("swapaxes_range", lambda l: l.ones(2, 3).swapaxes(0, 3), SAME)
case("squeeze_tuple_range", lambda l: l.ones(2, 1).squeeze((1, 3)), SAME)
case("chunk_neg", lambda l: l.ones(4).chunk(-1))
case("split_sizes_dim", lambda l: l.ones(4, 2).split([1, 3], dim=1))
case("tensor_split_zero", lambda l: l.ones(4).tensor_split(0), SAME)
case("unbind_0d", lambda l: l.tensor(1.0).unbind(), SAME)
case("index_2d_bool_mismatch", lambda l: l.ones(2, 3)[l.ones(3, 2, dtype=l.bool)])
case("setitem_bcast", lambda l: l.ones(2, 3).__setitem__(l.tensor([0, 1]), l.ones(3, 3)))
case("setitem_mask_vals",
     lambda l: l.ones(3).__setitem__(l.tensor([True, False, True]), l.ones(3)))
case("view_dtype_size", lambda l: l.ones(3).view(l.float64), SAME)
case("view_as_real_float", lambda l: l.view_as_real(l.ones(3)))
case("view_as_complex_shape", lambda l: l.view_as_complex(l.ones(3, 3)))
case("fft_dim", lambda l: l.fft.fft(l.ones(4), dim=2), SAME)
case("fft_n", lambda l: l.fft.fft(l.ones(4), n=0), SAME)
case("rfft_n_neg", lambda l: l.fft.rfft(l.ones(4), n=-1), SAME)
case("fft2_s", lambda l: l.fft.fft2(l.ones(4, 4), s=(0, 2)), SAME)
case("linalg_norm_ord", lambda l: l.linalg.norm(l.ones(2, 3), ord="bogus"))
case("svd_1d", lambda l: l.linalg.svd(l.ones(3)), SAME)
case("svdvals_1d", lambda l: l.linalg.svdvals(l.ones(3)), SAME)
case("pinv_1d", lambda l: l.linalg.pinv(l.ones(3)))
case("solve_batch", lambda l: l.linalg.solve(l.ones(2, 3, 3), l.ones(3, 3, 1)))
case("lstsq_shape", lambda l: l.linalg.lstsq(l.ones(3, 2), l.ones(4, 1)))
case("matrix_power_nonsquare", lambda l: l.linalg.matrix_power(l.ones(2, 3), 2))
case("eigh_nonsquare", lambda l: l.linalg.eigh(l.ones(2, 3)))
case("qr_1d", lambda l: l.linalg.qr(l.ones(3)))
case("cholesky_nonsquare", lambda l: l.linalg.cholesky(l.ones(2, 3)))
case("module_missing_arg", lambda l: l.nn.Linear(3)(l.ones(2, 3)))
case("sequential_bad", lambda l: l.nn.Sequential(1))
case("moduledict_bad_key", lambda l: l.nn.ModuleDict({1: l.nn.Linear(2, 2)}))
case("register_parameter_tensor", lambda l: l.nn.Module().register_parameter("a", l.ones(2)))
case("register_buffer_dot", lambda l: l.nn.Module().register_buffer("a.b", l.ones(2)), SAME)
case("parameter_list_bad", lambda l: l.nn.ParameterList([1]))
case("load_state_dict_unexpected",
     lambda l: l.nn.Linear(2, 2).load_state_dict({"weight": l.ones(2, 2), "bias": l.ones(2),
                                                  "x": l.ones(1)}))
case("dataloader_batch_size_0", lambda l: l.utils.data.DataLoader([1, 2], batch_size=0))
case("dataloader_shuffle_sampler",
     lambda l: l.utils.data.DataLoader([1, 2], shuffle=True, sampler=[0, 1]))
case("random_split_lengths", lambda l: l.utils.data.random_split([1, 2, 3], [2, 2]))
case("pack_padded_unsorted",
     lambda l: l.nn.utils.rnn.pack_padded_sequence(l.ones(3, 2, 1), l.tensor([1, 3])))
case("pad_sequence_dims", lambda l: l.nn.utils.rnn.pad_sequence([l.ones(2, 3), l.ones(2, 4)]))

case("new_zeros_neg", lambda l: l.ones(2).new_zeros(-1))
case("new_full_neg", lambda l: l.ones(2).new_full((-1,), 1.0), SAME)
case("expand_lead_neg", lambda l: l.ones(3).expand(-1, 3), SAME)
case("expand_neg2", lambda l: l.ones(3).expand(-2))
case("reshape_neg2", lambda l: l.ones(3).reshape(-2))
case("view_float_size", lambda l: l.ones(6).view(2.0, 3))
case("flatten_0d_dim", lambda l: l.tensor(1.0).flatten(1), SAME)
case("squeeze_0d_dim", lambda l: l.tensor(1.0).squeeze(1), SAME)
case("unsqueeze_neg", lambda l: l.ones(2).unsqueeze(-3), SAME)
case("mT_1d", lambda l: l.ones(3).mT)
case("H_1d", lambda l: l.ones(3).H, SAME)
case("narrow_neg_length", lambda l: l.ones(3).narrow(0, 0, -1))
case("select_0d", lambda l: l.tensor(1.0).select(0, 0), SAME)
case("index_0d", lambda l: l.tensor(1.0)[0], SAME)
case("getitem_float", lambda l: l.ones(3)[1.5])
case("setitem_str", lambda l: l.ones(3).__setitem__(0, "a"))
case("stack_dim", lambda l: l.stack([l.ones(2), l.ones(2)], dim=3), SAME)
case("cat_0d", lambda l: l.cat([l.tensor(1.0), l.tensor(2.0)]), SAME)
case("cat_not_list", lambda l: l.cat(l.ones(2)), SAME)
case("split_size_neg", lambda l: l.ones(4).split(-1))
case("chunk_0d", lambda l: l.tensor(1.0).chunk(2))
case("sum_dim_float", lambda l: l.ones(2, 3).sum(1.0))
case("mean_dim_list_dup", lambda l: l.ones(2, 3).mean([0, -2]), SAME)
case("max_binary_bcast", lambda l: l.max(l.ones(2), l.ones(3)), SAME)
case("norm_p_str", lambda l: l.ones(2).norm(p="bogus"), SAME)
case("softmax_int_dtype", lambda l: l.ones(2).softmax(0, dtype=l.int64))
case("gelu_approximate", lambda l: f(l).gelu(l.ones(2), approximate="bogus"))
case("sigmoid_int", lambda l: l.sigmoid(l.ones(2, dtype=l.int64)))
case("dropout_inplace_leaf",
     lambda l: f(l).dropout(l.ones(2, requires_grad=True), 0.5, True, True), SAME)
case("relu_inplace_leaf", lambda l: l.relu_(l.ones(2, requires_grad=True)), SAME)
case("threshold_inplace_leaf",
     lambda l: f(l).threshold(l.ones(2, requires_grad=True), 0.5, 0.0, True), SAME)
case("linear_0d", lambda l: l.nn.Linear(3, 4)(l.tensor(1.0)))
case("transformer_d_model", lambda l: l.nn.Transformer(d_model=6, nhead=4))
case("mha_batch_mismatch",
     lambda l: l.nn.MultiheadAttention(4, 2)(l.ones(3, 2, 4), l.ones(3, 5, 4), l.ones(3, 5, 4)))
case("mha_embed_mismatch",
     lambda l: l.nn.MultiheadAttention(4, 2)(l.ones(3, 2, 5), l.ones(3, 2, 5), l.ones(3, 2, 5)))
case("transformer_layer_d_model", lambda l: l.nn.TransformerEncoderLayer(4, 2)(l.ones(3, 2, 5)))
case("init_kaiming_1d", lambda l: l.nn.init.kaiming_uniform_(l.ones(3)), SAME)
case("init_xavier_1d", lambda l: l.nn.init.xavier_uniform_(l.ones(3)), SAME)
case("init_orthogonal_1d", lambda l: l.nn.init.orthogonal_(l.ones(3)), SAME)
case("init_gain_nonlinearity", lambda l: l.nn.init.calculate_gain("bogus"), SAME)

# --- optimizers and schedulers -------------------------------------------------------------
case("sgd_lr", lambda l: l.optim.SGD([l.nn.Parameter(l.ones(2))], lr=-1), SAME)
case("sgd_momentum", lambda l: l.optim.SGD([l.nn.Parameter(l.ones(2))], lr=0.1, momentum=-1),
     SAME)
case("sgd_nesterov",
     lambda l: l.optim.SGD([l.nn.Parameter(l.ones(2))], lr=0.1, nesterov=True), SAME)
case("sgd_weight_decay",
     lambda l: l.optim.SGD([l.nn.Parameter(l.ones(2))], lr=0.1, weight_decay=-1), SAME)
case("adam_lr", lambda l: l.optim.Adam([l.nn.Parameter(l.ones(2))], lr=-1), SAME)
case("adam_betas", lambda l: l.optim.Adam([l.nn.Parameter(l.ones(2))], betas=(1.5, 0.9)), SAME)
case("adam_eps", lambda l: l.optim.Adam([l.nn.Parameter(l.ones(2))], eps=-1), SAME)
case("adamw_wd", lambda l: l.optim.AdamW([l.nn.Parameter(l.ones(2))], weight_decay=-1), SAME)
case("rmsprop_alpha", lambda l: l.optim.RMSprop([l.nn.Parameter(l.ones(2))], alpha=-1), SAME)
case("adagrad_lr_decay",
     lambda l: l.optim.Adagrad([l.nn.Parameter(l.ones(2))], lr_decay=-1), SAME)
case("optim_empty", lambda l: l.optim.SGD([], lr=0.1), SAME)
case("optim_tensor_params", lambda l: l.optim.SGD(l.ones(2), lr=0.1))
case("optim_dup_params",
     lambda l: l.optim.SGD([{"params": [p := l.nn.Parameter(l.ones(2))]}, {"params": [p]}],
                           lr=0.1), SAME)
case("optim_nonleaf",
     lambda l: l.optim.SGD([l.ones(2, requires_grad=True) * 2], lr=0.1), SAME)
case("steplr_optimizer", lambda l: l.optim.lr_scheduler.StepLR(object(), 1))
case("onecycle_steps",
     lambda l: l.optim.lr_scheduler.OneCycleLR(_sgd(l), max_lr=0.1), SAME)
case("reduce_plateau_mode",
     lambda l: l.optim.lr_scheduler.ReduceLROnPlateau(_sgd(l), mode="bogus"), SAME)
case("reduce_plateau_factor",
     lambda l: l.optim.lr_scheduler.ReduceLROnPlateau(_sgd(l), factor=2.0), SAME)
case("cosine_restarts_t0",
     lambda l: l.optim.lr_scheduler.CosineAnnealingWarmRestarts(_sgd(l), T_0=0), SAME)
case("multistep_ok_linear_factor",
     lambda l: l.optim.lr_scheduler.LinearLR(_sgd(l), start_factor=2.0), SAME)
case("adam_param_groups_dict", lambda l: l.optim.Adam({"params": 1}))
case("sgd_params_generator_empty", lambda l: l.optim.SGD((p for p in []), lr=0.1), SAME)
case("sgd_lr_tensor_shape",
     lambda l: l.optim.SGD([l.nn.Parameter(l.ones(2))], lr=l.ones(2)))
case("adam_beta2", lambda l: l.optim.Adam([l.nn.Parameter(l.ones(2))], betas=(0.9, -0.1)), SAME)
case("adamw_lr", lambda l: l.optim.AdamW([l.nn.Parameter(l.ones(2))], lr=-0.1), SAME)
case("rmsprop_momentum",
     lambda l: l.optim.RMSprop([l.nn.Parameter(l.ones(2))], momentum=-0.1), SAME)
case("adadelta_rho", lambda l: l.optim.Adadelta([l.nn.Parameter(l.ones(2))], rho=1.5), SAME)
case("lbfgs_two_groups",
     lambda l: l.optim.LBFGS([{"params": [l.nn.Parameter(l.ones(2))]},
                              {"params": [l.nn.Parameter(l.ones(2))]}]), SAME)
case("add_param_group_dup",
     lambda l: _sgd_with(l).add_param_group({"params": _sgd_with(l).param_groups[0]["params"]}))
case("optim_load_state_dict_groups",
     lambda l: _sgd(l).load_state_dict({"state": {}, "param_groups": []}), SAME)
case("step_lr_gamma_ok_last_epoch",
     lambda l: l.optim.lr_scheduler.StepLR(_sgd(l), 1, last_epoch=3))
case("lambda_lr_count",
     lambda l: l.optim.lr_scheduler.LambdaLR(_sgd(l), [lambda e: 1.0, lambda e: 1.0]), SAME)
case("cyclic_lr_mode", lambda l: l.optim.lr_scheduler.CyclicLR(_sgd(l), 0.1, 1.0, mode="bogus"),
     SAME)
case("sequential_lr_milestones",
     lambda l: _sequential(l), SAME)
case("clip_grad_norm_type",
     lambda l: l.nn.utils.clip_grad_norm_([_with_grad(l)], 1.0, error_if_nonfinite=True,
                                          norm_type=float("nan")))
case("load_state_dict_missing",
     lambda l: l.nn.Linear(2, 2).load_state_dict({"weight": l.ones(2, 2)}))
case("load_state_dict_shape",
     lambda l: l.nn.Linear(2, 2).load_state_dict({"weight": l.ones(3, 2), "bias": l.ones(2)}))


def _sgd(lib):
    return lib.optim.SGD([lib.nn.Parameter(lib.ones(2))], lr=0.1)


def _sgd_with(lib, cache={}):  # noqa: B006 - one optimizer per library, for add_param_group
    if lib not in cache:
        cache[lib] = _sgd(lib)
    return cache[lib]


def _sequential(lib):
    opt = _sgd(lib)
    s1 = lib.optim.lr_scheduler.ConstantLR(opt)
    s2 = lib.optim.lr_scheduler.ConstantLR(opt)
    return lib.optim.lr_scheduler.SequentialLR(opt, [s1, s2], milestones=[1, 2])


def _with_grad(lib):
    p = lib.nn.Parameter(lib.ones(2))
    p.grad = lib.ones(2)
    return p


def _mul2(lib):
    x = lib.ones(2, requires_grad=True)
    return x, x * 2


def _backward_twice(lib):
    x = lib.ones(2, requires_grad=True)
    y = (x.exp() * 2).sum()
    y.backward()
    y.backward()


def _version_error(lib):
    x = lib.ones(2, requires_grad=True)
    y = x.exp()
    y.add_(1)
    y.sum().backward()


def _outcome(lib, fn):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fn(lib)
        except Exception as exc:  # noqa: BLE001 - comparing what each library raises
            return exc
    return None


def _first_line(exc):
    text = str(exc.args[0]) if len(exc.args) == 1 else str(exc)
    return text.splitlines()[0] if text else ""


@pytest.mark.parametrize("fn,check", CASES)
def test_error_parity(fn, check):
    expected = _outcome(torch, fn)
    got = _outcome(ember, fn)
    if expected is None:
        assert got is None, f"torch accepts this; ember raised {type(got).__name__}: {got}"
        return
    assert got is not None, f"torch raised {type(expected).__name__}: {expected}; ember did not"
    assert type(got).__name__ == type(expected).__name__.lstrip("_"), (
        f"torch {type(expected).__name__}: {_first_line(expected)}\n"
        f"ember {type(got).__name__}: {_first_line(got)}")
    message = _first_line(got)
    for leak in LEAKS:
        assert leak not in message.lower(), f"NumPy's message shows through: {message}"
    if check == SAME:
        assert message == _first_line(expected)
    elif check:
        for key in check:
            assert key in message, f"{key!r} missing from {message!r}"
