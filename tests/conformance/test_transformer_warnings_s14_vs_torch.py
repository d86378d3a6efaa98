"""The warnings PyTorch's transformer modules emit, and only those: TransformerEncoder's
"enable_nested_tensor is True, but ..." and the deprecation of masks of mismatched dtypes in
MultiheadAttention, F.multi_head_attention_forward and the encoder and its layer."""
import warnings

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")


def _messages(build, lib):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        build(lib)
    return [str(w.message) for w in caught if issubclass(w.category, UserWarning)]


def _layer(lib, **kw):
    args = {"d_model": 8, "nhead": 2, "dim_feedforward": 16, "dropout": 0.0, **kw}
    return lib.nn.TransformerEncoderLayer(**args)


ENCODERS = {
    "default": lambda lib: lib.nn.TransformerEncoder(_layer(lib), 1),
    "batch_first": lambda lib: lib.nn.TransformerEncoder(_layer(lib, batch_first=True), 2),
    "disabled": lambda lib: lib.nn.TransformerEncoder(_layer(lib), 1, enable_nested_tensor=False),
    "norm_first": lambda lib: lib.nn.TransformerEncoder(
        _layer(lib, batch_first=True, norm_first=True), 1),
    "no_bias": lambda lib: lib.nn.TransformerEncoder(_layer(lib, batch_first=True, bias=False), 1),
    "gelu": lambda lib: lib.nn.TransformerEncoder(
        _layer(lib, batch_first=True, activation="gelu"), 1),
    "gelu_function": lambda lib: lib.nn.TransformerEncoder(
        _layer(lib, batch_first=True, activation=lib.nn.functional.gelu), 1),
    "relu_module": lambda lib: lib.nn.TransformerEncoder(
        _layer(lib, batch_first=True, activation=lib.nn.ReLU()), 1),
    "tanh": lambda lib: lib.nn.TransformerEncoder(
        _layer(lib, batch_first=True, activation=lib.tanh), 1),
    "odd_heads": lambda lib: lib.nn.TransformerEncoder(
        lib.nn.TransformerEncoderLayer(9, 3, 16, batch_first=True), 1),
    "not_a_layer": lambda lib: lib.nn.TransformerEncoder(lib.nn.Linear(8, 8), 1),
    "transformer": lambda lib: lib.nn.Transformer(8, 2, 1, 1, 16),
    "transformer_batch_first": lambda lib: lib.nn.Transformer(8, 2, 1, 1, 16, batch_first=True),
}


@pytest.mark.parametrize("name", ENCODERS)
def test_encoder_nested_tensor_warning_matches_torch(name):
    assert _messages(ENCODERS[name], ember) == _messages(ENCODERS[name], torch)


@pytest.mark.parametrize("name", ["default", "batch_first", "disabled", "tanh"])
def test_encoder_nested_tensor_attributes_match_torch(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours, theirs = ENCODERS[name](ember), ENCODERS[name](torch)
    for attr in ("enable_nested_tensor", "use_nested_tensor", "mask_check"):
        assert getattr(ours, attr) == getattr(theirs, attr)
    assert ours.layers[0].activation_relu_or_gelu == theirs.layers[0].activation_relu_or_gelu


_L, _N, _E = 3, 2, 8
_X = np.random.default_rng(0).standard_normal((_L, _N, _E))
_KPM = np.array([[False, False, True], [False, False, False]])
_ATTN = np.triu(np.ones((_L, _L), dtype=bool), 1)
MASKS = {
    "bool_bool": (lambda lib: lib.tensor(_KPM), lambda lib: lib.tensor(_ATTN)),
    "bool_float": (lambda lib: lib.tensor(_KPM),
                   lambda lib: lib.tensor(np.where(_ATTN, -np.inf, 0.0), dtype=lib.float32)),
    "float_bool": (lambda lib: lib.tensor(np.where(_KPM, -np.inf, 0.0), dtype=lib.float32),
                   lambda lib: lib.tensor(_ATTN)),
    "kpm_only": (lambda lib: lib.tensor(_KPM), lambda lib: None),
    "attn_only": (lambda lib: None, lambda lib: lib.tensor(_ATTN)),
}


def _mha(lib, kpm, attn):
    lib.manual_seed(0)
    mha = lib.nn.MultiheadAttention(_E, 2)
    x = lib.tensor(_X, dtype=lib.float32)
    return mha(x, x, x, key_padding_mask=kpm, attn_mask=attn)[0]


def _mha_cross(lib, kpm, attn):
    lib.manual_seed(0)
    mha = lib.nn.MultiheadAttention(_E, 2, batch_first=True)
    x = lib.tensor(_X, dtype=lib.float32).transpose(0, 1)
    return mha(x, x.clone(), x.clone(), key_padding_mask=kpm, attn_mask=attn)[0]


def _functional(lib, kpm, attn):
    lib.manual_seed(0)
    mha = lib.nn.MultiheadAttention(_E, 2)
    x = lib.tensor(_X, dtype=lib.float32)
    return lib.nn.functional.multi_head_attention_forward(
        x, x, x, _E, 2, mha.in_proj_weight, mha.in_proj_bias, None, None, False, 0.0,
        mha.out_proj.weight, mha.out_proj.bias, training=False, key_padding_mask=kpm,
        attn_mask=attn)[0]


def _encoder_layer(lib, kpm, attn):
    lib.manual_seed(0)
    layer = _layer(lib).eval()
    return layer(lib.tensor(_X, dtype=lib.float32), src_mask=attn, src_key_padding_mask=kpm)


def _encoder(lib, kpm, attn):
    lib.manual_seed(0)
    encoder = lib.nn.TransformerEncoder(_layer(lib), 2, enable_nested_tensor=False).eval()
    return encoder(lib.tensor(_X, dtype=lib.float32), mask=attn, src_key_padding_mask=kpm)


def _decoder_layer(lib, kpm, attn):
    lib.manual_seed(0)
    layer = lib.nn.TransformerDecoderLayer(_E, 2, 16, dropout=0.0).eval()
    x = lib.tensor(_X, dtype=lib.float32)
    return layer(x, x, tgt_mask=attn, tgt_key_padding_mask=kpm,
                 memory_key_padding_mask=kpm)


CALLERS = {"mha": _mha, "mha_cross": _mha_cross, "functional": _functional,
           "encoder_layer": _encoder_layer, "encoder": _encoder, "decoder_layer": _decoder_layer}


@pytest.mark.parametrize("masks", MASKS)
@pytest.mark.parametrize("caller", CALLERS)
def test_mismatched_mask_warnings_match_torch(caller, masks):
    def run(lib):
        kpm, attn = (make(lib) for make in MASKS[masks])
        return CALLERS[caller](lib, kpm, attn)

    ours, theirs = _messages(run, ember), _messages(run, torch)
    assert ours == theirs
    mismatched = masks in ("bool_float", "float_bool")
    assert any("mismatched" in m for m in theirs) == mismatched


@pytest.mark.parametrize("masks", ["bool_float", "float_bool"])
def test_mismatched_masks_still_mask_as_torch(masks):
    kpm_make, attn_make = MASKS[masks]
    with pytest.warns(UserWarning, match="Support for mismatched key_padding_mask and attn_mask"):
        ours = _functional(ember, kpm_make(ember), attn_make(ember))
    with pytest.warns(UserWarning, match="Support for mismatched key_padding_mask and attn_mask"):
        theirs = _functional(torch, kpm_make(torch), attn_make(torch))
    assert ours.shape == tuple(theirs.shape)
    assert np.isnan(ours.detach().numpy()).sum() == np.isnan(theirs.detach().numpy()).sum()


def test_integer_mask_refused_as_torch():
    kpm = np.zeros((_N, _L), dtype=np.int64)
    for lib in (ember, torch):
        with pytest.raises(AssertionError,
                           match="only bool and floating types of key_padding_mask"):
            _mha(lib, lib.tensor(kpm), None)
