"""Weight-only quantized ``Embedding`` (``ember.ao.nn.quantized.Embedding``): float-qparams
per-channel quantized tensors, the row-wise observer and lookup against NumPy closed forms,
its state dict, eager ``quantize_dynamic`` and FX ``prepare_fx``/``convert_fx`` with
``float_qparams_weight_only_qconfig``; and the dynamic LSTM built in eval mode."""
import io

import numpy as np
import pytest

import ember
import ember.nn as nn
from ember.ao import quantization as ao
from ember.ao.nn import quantized as nnq
from ember.ao.nn.quantized import dynamic as nnqd
from ember.ao.quantization.quantize_fx import convert_fx, prepare_fx

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

RNG = np.random.RandomState(0)


def _embedding(rows=6, dim=5):
    e = nn.Embedding(rows, dim)
    with ember.no_grad():
        e.weight.copy_(ember.tensor(RNG.uniform(-1, 1, (rows, dim)).astype(np.float32)))
    e.qconfig = ao.float_qparams_weight_only_qconfig
    return e


def test_quantize_per_channel_with_float_zero_points():
    x = RNG.randn(3, 4).astype(np.float32)
    scales = np.array([0.1, 0.2, 0.3], np.float32)
    zero_points = np.array([1.5, 2.0, 3.25], np.float32)
    q = ember.quantize_per_channel(ember.tensor(x), ember.tensor(scales.astype(np.float64)),
                                   ember.tensor(zero_points.astype(np.float64)), 0, ember.quint8)
    assert q.qscheme() is ember.per_channel_affine_float_qparams
    assert q.q_per_channel_scales().dtype == ember.float32
    assert q.q_per_channel_zero_points().dtype == ember.float32
    ints = np.clip(np.rint(x * (np.float32(1) / scales[:, None]) + zero_points[:, None]), 0, 255)
    np.testing.assert_array_equal(q.int_repr().numpy(), ints.astype(np.uint8))
    want = (ints.astype(np.float32) - zero_points[:, None]) * scales[:, None]
    np.testing.assert_array_equal(q.dequantize().numpy(), want)
    # integer zero points keep the affine scheme (float64 scales, int64 zero points)
    affine = ember.quantize_per_channel(ember.tensor(x), ember.tensor(scales),
                                        ember.tensor([1, 2, 3]), 0, ember.quint8)
    assert affine.qscheme() is ember.per_channel_affine
    assert affine.q_per_channel_scales().dtype == ember.float64


def test_from_float_quantizes_each_row_by_its_min_and_max():
    e = _embedding()
    q = nnq.Embedding.from_float(e)
    w = e.weight.detach().numpy()
    lo, hi = w.min(1), w.max(1)
    scales = (hi - lo) / np.float32(255)
    weight = q.weight()
    np.testing.assert_allclose(weight.q_per_channel_scales().numpy(), scales, rtol=1e-6)
    np.testing.assert_allclose(weight.q_per_channel_zero_points().numpy(), -lo / scales,
                               rtol=1e-6)
    assert weight.int_repr().numpy().min(1).tolist() == [0] * 6
    assert weight.int_repr().numpy().max(1).tolist() == [255] * 6
    assert np.all(np.abs(weight.dequantize().numpy() - w) <= scales[:, None] / 2 + 1e-7)
    assert repr(q) == ("QuantizedEmbedding(num_embeddings=6, embedding_dim=5, "
                       "dtype=torch.quint8, qscheme=torch.per_channel_affine_float_qparams)")


def test_lookup_is_a_fused_multiply_add_per_row():
    q = nnq.Embedding.from_float(_embedding())
    weight = q.weight()
    scales = weight.q_per_channel_scales().numpy()
    bias = -(weight.q_per_channel_zero_points().numpy() * scales)
    ints = weight.int_repr().numpy().astype(np.float64)
    indices = np.array([[5, 0, 3], [3, 3, 1]])
    out = q(ember.tensor(indices))
    assert out.dtype == ember.float32 and tuple(out.shape) == (2, 3, 5)
    want = (ints * scales[:, None] + bias[:, None]).astype(np.float32)[indices]
    np.testing.assert_array_equal(out.numpy(), want)


def test_state_dict_round_trip():
    q = nnq.Embedding.from_float(_embedding())
    state = q.state_dict()
    assert list(state) == ["_packed_params.dtype", "_packed_params._packed_weight"]
    buffer = io.BytesIO()
    ember.save(state, buffer)
    buffer.seek(0)
    fresh = nnq.Embedding(6, 5)
    fresh.load_state_dict(ember.load(buffer))
    loaded = fresh.weight()
    assert loaded.qscheme() is ember.per_channel_affine_float_qparams
    np.testing.assert_array_equal(loaded.int_repr().numpy(), q.weight().int_repr().numpy())
    np.testing.assert_array_equal(loaded.q_per_channel_zero_points().numpy(),
                                  q.weight().q_per_channel_zero_points().numpy())
    indices = ember.tensor([0, 4, 2])
    np.testing.assert_array_equal(fresh(indices).numpy(), q(indices).numpy())


def test_from_float_needs_a_float_qparams_qconfig():
    e = _embedding()
    e.qconfig = ao.default_qconfig
    with pytest.raises(AssertionError, match="float_qparams_weight_only_qconfig"):
        nnq.Embedding.from_float(e)
    with pytest.raises(NotImplementedError, match="quint8"):
        nnq.Embedding(4, 3, dtype=ember.quint4x2)


class TinyLM(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Embedding(10, 4)
        self.rnn = nn.LSTM(4, 4, 2, dropout=0.5)
        self.decoder = nn.Linear(4, 10)

    def forward(self, tokens):
        output, _ = self.rnn(self.encoder(tokens))
        return self.decoder(output)


TOKENS = ember.tensor([[1, 2], [3, 4], [9, 0]])


def test_quantize_dynamic_and_fx_quantize_embedding_alike():
    ember.manual_seed(0)
    model = TinyLM().eval()
    spec = {nn.Embedding: ao.float_qparams_weight_only_qconfig,
            nn.LSTM: ao.default_dynamic_qconfig, nn.Linear: ao.default_dynamic_qconfig}
    eager = ao.quantize_dynamic(model, spec)
    assert type(eager.encoder) is nnq.Embedding and not eager.rnn.training
    mapping = ao.QConfigMapping()
    for module_type, qconfig in spec.items():
        mapping.set_object_type(module_type, qconfig)
    prepared = prepare_fx(model, mapping, (TOKENS,))
    observed = [n.args[0].name for n in prepared.graph.nodes
                if n.op == "call_module" and n.target.startswith("activation_post_process")]
    assert observed == ["encoder", "getitem"]  # the LSTM's and the Linear's inputs only
    quantized = convert_fx(prepared)
    assert type(quantized.encoder) is nnq.Embedding
    assert type(quantized.rnn) is nnqd.LSTM and type(quantized.decoder) is nnqd.Linear
    np.testing.assert_array_equal(quantized(TOKENS).numpy(), eager(TOKENS).numpy())
    # quantize_dynamic with a set and dtype=quint8 means the float-qparams weight-only qconfig
    only_embedding = ao.quantize_dynamic(model, {nn.Embedding}, dtype=ember.quint8)
    assert type(only_embedding.encoder) is nnq.Embedding
    assert type(only_embedding.rnn) is nn.LSTM


@pytest.mark.parametrize("qconfig_mapping", [
    ao.QConfigMapping().set_global(ao.default_dynamic_qconfig),
    ao.get_default_qconfig_mapping(),
])
def test_other_qconfigs_leave_the_embedding_float(qconfig_mapping):
    model = TinyLM().eval()
    quantized = convert_fx(prepare_fx(model, qconfig_mapping, (TOKENS,)))
    assert type(quantized.encoder) is nn.Embedding


def test_placeholder_observer_repr():
    assert repr(ao.default_dynamic_qconfig.activation()) == (
        "PlaceholderObserver(dtype=torch.quint8, is_dynamic=True)")
