"""The FX graph mode dynamic quantization tutorial (tests/acceptance/
test_tutorials_s20_fx_dynamic.py) run on ember and on real PyTorch with the same weights and
text: the prepared and converted graphs (node ops, targets, module reprs), the quantized
weights, and the outputs of the quantized models (FX and eager ``quantize_dynamic``).

Tolerance of the int8 outputs: ember reproduces fbgemm's dynamic quantization (each input's
quint8 qparams from its own min and max, exact integer products, float32 rescale), so the
quantized integers agree and what differs is float32 rounding in the LSTM's gates and in the
order of the rescale's additions: measured here at most 7e-9 on the decoder's outputs (size
0.08) and 6e-8 on h and c (size 0.5), a few ulp. Such a difference can, rarely, move a value
across a rounding boundary of the next layer's on-the-fly quantization: one quantization step
(about 0.2 / 127 = 1.6e-3 for these activations with reduce_range) times a weight (at most
0.25) moves an output by about 4e-4. So every output must agree within 1e-3 absolute (one
such flip) and 95% of them within 1e-6 (float32 rounding only). The embedding lookup is
bit-for-bit PyTorch's.
"""
import functools
import io
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "acceptance"))
from acceptance_runner import run  # noqa: E402
from test_tutorials_s20_fx_dynamic import EDITS, TUTORIAL, write_tutorial_data  # noqa: E402
from tutorial_source import load  # noqa: E402

import ember  # noqa: E402

pytestmark = [pytest.mark.filterwarnings("ignore::UserWarning"),
              pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.filterwarnings("ignore::FutureWarning")]


def _run_on_torch(code: str) -> dict:
    ns = {"__name__": "__tutorial__", "_out": io.StringIO()}
    ns["print"] = functools.partial(print, file=ns["_out"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(code, "<tutorial>", "exec", dont_inherit=True), ns)
    return ns


def _nodes(gm) -> list:
    """(op, target, module repr) of each node: what the graph computes, by name."""
    modules = dict(gm.named_modules())
    return [(n.op, getattr(n.target, "__name__", n.target),
             repr(modules[n.target]) if n.op == "call_module" else None)
            for n in gm.graph.nodes]


def _eager(lib, model):
    q = lib.ao.quantization
    return q.quantize_dynamic(model, {lib.nn.Embedding: q.float_qparams_weight_only_qconfig,
                                      lib.nn.LSTM: q.default_dynamic_qconfig,
                                      lib.nn.Linear: q.default_dynamic_qconfig})


def _outputs(lib, ns, model) -> list:
    tokens = lib.tensor(ns["test_data"].numpy())
    with lib.no_grad():
        out, (h, c) = model(tokens, ns["init_hidden"](ns["model"], 1))
    return [out.numpy(), h.numpy(), c.numpy()]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    code = load(TUTORIAL, *EDITS)
    results = {}
    for name, lib in (("ember", ember), ("torch", torch)):
        root = tmp_path_factory.mktemp(name)
        write_tutorial_data(root, lib)
        with pytest.MonkeyPatch.context() as mp:
            mp.chdir(root)
            results[name] = run(code) if lib is ember else _run_on_torch(code)
    return results["ember"], results["torch"]


def test_graphs_match(runs):
    ours, theirs = runs
    # what the tutorial prints up to the sizes: the float model, the prepared GraphModule
    # (observers, code) and the converted one; PyTorch's convert_fx then rewrites the
    # prepared model in place (ember's leaves it as it was), so it is compared as printed
    printed = [ns["_out"].getvalue().split("Size (MB):")[0] for ns in runs]
    assert "PlaceholderObserver(dtype=torch.quint8, is_dynamic=True)" in printed[1]
    assert printed[0] == printed[1]
    assert _nodes(ours["quantized_model"]) == _nodes(theirs["quantized_model"])


def test_quantized_weights_match(runs):
    ours, theirs = runs
    for name in ("encoder", "decoder"):
        mine = getattr(ours["quantized_model"], name).weight()
        ref = getattr(theirs["quantized_model"], name).weight()
        assert repr(mine.qscheme()) == repr(ref.qscheme())
        np.testing.assert_array_equal(mine.int_repr().numpy(), ref.int_repr().numpy())
        if name == "encoder":  # per row float qparams, float32 on both sides
            np.testing.assert_array_equal(mine.q_per_channel_scales().numpy(),
                                          ref.q_per_channel_scales().numpy())
            np.testing.assert_array_equal(mine.q_per_channel_zero_points().numpy(),
                                          ref.q_per_channel_zero_points().numpy())
            np.testing.assert_array_equal(mine.dequantize().numpy(), ref.dequantize().numpy())
        else:
            assert mine.q_scale() == ref.q_scale()
            assert mine.q_zero_point() == ref.q_zero_point()


def test_quantized_outputs_match(runs):
    ours, theirs = runs
    tokens = ours["test_data"]
    np.testing.assert_array_equal(  # the lookup: bit for bit
        ours["quantized_model"].encoder(tokens).numpy(),
        theirs["quantized_model"].encoder(torch.tensor(tokens.numpy())).numpy())
    got_fx = _outputs(ember, ours, ours["quantized_model"])
    want_fx = _outputs(torch, theirs, theirs["quantized_model"])
    got_eager = _outputs(ember, ours, _eager(ember, ours["model"]))
    want_eager = _outputs(torch, theirs, _eager(torch, theirs["model"]))
    for got, want in zip(got_fx + got_eager, want_fx + want_eager):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-3)
        assert np.mean(np.abs(got - want) <= 1e-6) >= 0.95
    for got, want in zip(got_fx, got_eager):  # FX and eager quantize the same modules alike
        np.testing.assert_array_equal(got, want)
    float_out = _outputs(torch, theirs, theirs["model"])[0]
    np.testing.assert_allclose(_outputs(ember, ours, ours["model"])[0], float_out, atol=1e-6)


def test_printed_losses_match(runs):
    ours, theirs = runs

    def losses(ns):
        return [float(line.split()[-1]) for line in ns["_out"].getvalue().splitlines()
                if line.startswith("loss:")]

    np.testing.assert_allclose(losses(ours), losses(theirs), atol=1.5e-3)


def test_quantize_per_channel_float_qparams_matches_torch():
    rng = np.random.RandomState(1)
    x = rng.randn(5, 7).astype(np.float32)
    scales = rng.uniform(0.005, 0.05, 5).astype(np.float32)
    zero_points = rng.uniform(0, 255, 5).astype(np.float32)
    mine = ember.quantize_per_channel(ember.tensor(x), ember.tensor(scales),
                                      ember.tensor(zero_points), 0, ember.quint8)
    ref = torch.quantize_per_channel(torch.tensor(x), torch.tensor(scales),
                                     torch.tensor(zero_points), 0, torch.quint8)
    assert repr(mine.qscheme()) == repr(ref.qscheme())
    np.testing.assert_array_equal(mine.int_repr().numpy(), ref.int_repr().numpy())
    np.testing.assert_array_equal(mine.dequantize().numpy(), ref.dequantize().numpy())


def test_quantized_embedding_files_load_both_ways():
    """PyTorch stores a float-qparams tensor's scheme as per_channel_affine: the float zero
    points tell it apart on load."""
    float_embedding = torch.nn.Embedding(6, 4)
    float_embedding.qconfig = torch.ao.quantization.float_qparams_weight_only_qconfig
    ref = torch.ao.nn.quantized.Embedding.from_float(float_embedding)
    indices = [0, 5, 2, 2]
    buffer = io.BytesIO()
    torch.save(ref.state_dict(), buffer)
    buffer.seek(0)
    mine = ember.ao.nn.quantized.Embedding(6, 4)
    mine.load_state_dict(ember.load(buffer))
    assert mine.weight().qscheme() is ember.per_channel_affine_float_qparams
    np.testing.assert_array_equal(mine(ember.tensor(indices)).numpy(),
                                  ref(torch.tensor(indices)).numpy())
    buffer = io.BytesIO()
    ember.save(mine.state_dict(), buffer)
    buffer.seek(0)
    back = torch.ao.nn.quantized.Embedding(6, 4)
    back.load_state_dict(torch.load(buffer))
    assert back.weight().qscheme() == torch.per_channel_affine_float_qparams
    np.testing.assert_array_equal(back(torch.tensor(indices)).numpy(),
                                  ref(torch.tensor(indices)).numpy())
