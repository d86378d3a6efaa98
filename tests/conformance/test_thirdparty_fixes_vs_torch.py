"""Conformance: fixes found running third-party PyTorch code (tests/acceptance/test_thirdparty_*)
checked against real PyTorch."""

import itertools

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import ember  # noqa: E402


def test_sampler_with_replacement_is_lazy_for_huge_num_samples():
    """makemore's "infinite" loader: ``RandomSampler(ds, replacement=True,
    num_samples=int(1e10))`` must draw indices as they are consumed, not all up front."""
    data = list(range(50))
    sampler = ember.utils.data.RandomSampler(data, replacement=True, num_samples=int(1e10))
    ref = torch.utils.data.RandomSampler(data, replacement=True, num_samples=int(1e10))
    assert len(sampler) == len(ref)
    drawn = list(itertools.islice(sampler, 10_000))
    assert len(drawn) == 10_000 and all(isinstance(i, int) and 0 <= i < 50 for i in drawn)
    assert len(set(drawn)) == 50  # uniform draws cover every index

    loader = ember.utils.data.DataLoader(ember.arange(50.0), sampler=sampler, batch_size=16)
    ref_loader = torch.utils.data.DataLoader(torch.arange(50.0), sampler=ref, batch_size=16)
    assert len(loader) == len(ref_loader)
    assert next(iter(loader)).shape == next(iter(ref_loader)).shape


def test_sampler_with_replacement_counts_and_reproducibility():
    """Chunked drawing still yields exactly ``num_samples`` indices (across chunk edges), and a
    seeded generator repeats them."""
    for n in (1, 4095, 4096, 4097, 9000):
        gen = ember.Generator().manual_seed(3)
        first = list(ember.utils.data.RandomSampler(range(7), replacement=True, num_samples=n,
                                                    generator=gen))
        gen.manual_seed(3)
        again = list(ember.utils.data.RandomSampler(range(7), replacement=True, num_samples=n,
                                                    generator=gen))
        ref = list(torch.utils.data.RandomSampler(range(7), replacement=True, num_samples=n))
        assert len(first) == len(ref) == n and first == again


def test_weighted_sampler_with_replacement_is_lazy():
    weights = [0.0, 1.0, 3.0]
    sampler = ember.utils.data.WeightedRandomSampler(weights, int(1e10))
    ref = torch.utils.data.WeightedRandomSampler(weights, int(1e10))
    assert len(sampler) == len(ref)
    drawn = list(itertools.islice(sampler, 8000))
    assert 0 not in drawn and 0.7 < drawn.count(2) / len(drawn) < 0.8
    # Without replacement the draws are still distinct.
    assert sorted(ember.utils.data.WeightedRandomSampler(weights, 2, replacement=False)) == [1, 2]


@pytest.mark.parametrize("need_weights", [False, True])
def test_multi_head_attention_forward_output_projection_changes_width(need_weights):
    """CLIP's AttentionPool2d: separate q/k/v projections and an out_proj_weight of shape
    (output_dim, embed_dim) with output_dim != embed_dim."""
    g = torch.Generator().manual_seed(0)
    L, N, E, H, out_dim = 5, 3, 8, 2, 6
    t = {name: torch.randn(*shape, generator=g) for name, shape in
         dict(x=(L, N, E), wq=(E, E), wk=(E, E), wv=(E, E), b=(3 * E,), wo=(out_dim, E),
              bo=(out_dim,)).items()}
    e = {k: ember.tensor(v.numpy(), requires_grad=k != "x") for k, v in t.items()}
    for k in t:
        t[k].requires_grad_(k != "x")

    def call(F, a):
        return F.multi_head_attention_forward(
            a["x"], a["x"], a["x"], E, H, None, a["b"], None, None, False, 0.0, a["wo"], a["bo"],
            training=False, need_weights=need_weights, use_separate_proj_weight=True,
            q_proj_weight=a["wq"], k_proj_weight=a["wk"], v_proj_weight=a["wv"])

    out, weights = call(ember.nn.functional, e)
    ref, ref_weights = call(torch.nn.functional, t)
    assert tuple(out.shape) == tuple(ref.shape) == (L, N, out_dim)
    torch.testing.assert_close(torch.from_numpy(out.detach().numpy()), ref.detach(),
                               atol=1e-5, rtol=1e-5)
    if need_weights:
        torch.testing.assert_close(torch.from_numpy(weights.detach().numpy()), ref_weights.detach())
    out.square().sum().backward()
    ref.square().sum().backward()
    for k in ("wq", "wv", "wo", "bo"):
        torch.testing.assert_close(torch.from_numpy(e[k].grad.numpy()), t[k].grad,
                                   atol=1e-3, rtol=1e-3)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_batch_norm_eval_keeps_half_input_dtype_with_float32_stats(dtype):
    """A half-precision input through a float32 BatchNorm in eval mode (CLIP's build_model
    converts convs to float16 but not BatchNorms) stays in the input's dtype."""
    x = torch.randn(2, 3, 4, 4).to(getattr(torch, dtype))
    bn, ref_bn = ember.nn.BatchNorm2d(3), torch.nn.BatchNorm2d(3)
    with torch.no_grad():
        ref_bn.running_mean.uniform_(-1, 1)
        ref_bn.running_var.uniform_(0.5, 2)
        ref_bn.weight.uniform_(0.5, 2)
        ref_bn.bias.uniform_(-1, 1)
    bn.load_state_dict({k: ember.tensor(v.numpy()) for k, v in ref_bn.state_dict().items()})
    ex = ember.tensor(x.float().numpy()).to(getattr(ember, dtype))
    for training in (False, True):
        bn.train(training)
        ref_bn.train(training)
        out, ref = bn(ex), ref_bn(x)
        assert str(out.dtype) == str(ref.dtype) == f"torch.{dtype}"
        torch.testing.assert_close(torch.from_numpy(out.float().detach().numpy()),
                                   ref.float().detach(), atol=2e-2, rtol=2e-2)


def _checkpoint_function(T):
    """improved-diffusion's gradient checkpointing: forward stores the function on ctx and
    calls it; backward reruns it under enable_grad and differentiates with autograd.grad."""

    class Checkpoint(T.autograd.Function):
        @staticmethod
        def forward(ctx, run_function, length, *args):
            ctx.run_function = run_function
            ctx.input_tensors = list(args[:length])
            ctx.input_params = list(args[length:])
            with T.no_grad():
                return ctx.run_function(*ctx.input_tensors)

        @staticmethod
        def backward(ctx, *output_grads):
            ctx.input_tensors = [x.detach().requires_grad_(True) for x in ctx.input_tensors]
            with T.enable_grad():
                outputs = ctx.run_function(*[x.view_as(x) for x in ctx.input_tensors])
            grads = T.autograd.grad(outputs, ctx.input_tensors + ctx.input_params, output_grads,
                                    allow_unused=True)
            return (None, None) + grads

    return Checkpoint


@pytest.mark.parametrize("mode", ["no_grad", "no_input_requires_grad", "recorded"])
def test_function_ctx_attributes_read_back_when_nothing_is_recorded(mode):
    results = []
    for T in (torch, ember):
        lin = T.nn.Linear(3, 2)
        with T.no_grad():
            lin.weight.copy_(T.tensor([[1.0, -2.0, 0.5], [0.0, 1.0, 3.0]]))
            lin.bias.fill_(0.25)
        x = T.tensor([[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]], requires_grad=mode == "recorded")
        args = (lambda v, lin=lin: lin(v).tanh(), 1, x, *lin.parameters())
        fn = _checkpoint_function(T)
        if mode == "no_grad":
            with T.no_grad():
                out = fn.apply(*args)
        elif mode == "no_input_requires_grad":
            lin.requires_grad_(False)
            out = fn.apply(*(args[:2] + (x,) + tuple(lin.parameters())))
        else:
            out = fn.apply(*args)
            out.sum().backward()
            results.append((out.detach().numpy().copy(), x.grad.numpy().copy(),
                            lin.weight.grad.numpy().copy()))
            continue
        assert not out.requires_grad and out.grad_fn is None
        results.append((out.numpy().copy(),))
    for ref, got in zip(*results):
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-7)
