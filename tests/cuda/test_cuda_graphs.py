"""CUDA graphs on a GPU: captured work replays on new input values, a whole training step
replays like eager steps, make_graphed_callables matches eager outputs and gradients, graphs
share memory pools, and a synchronizing call or a matrix product (CuPy cannot capture cuBLAS)
during a capture raises. The models are elementwise for that reason."""
import copy

import numpy as np
import pytest

import ember
from ember import nn
from ember.testing import assert_close

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not ember.cuda.is_available(), reason="needs CuPy and a GPU")]


def _on_side_stream(fn, iters: int = 3) -> None:
    """Warm ``fn`` up on a side stream, as PyTorch's docs do before a capture."""
    side = ember.cuda.Stream()
    side.wait_stream(ember.cuda.current_stream())
    with ember.cuda.stream(side):
        for _ in range(iters):
            fn()
    ember.cuda.current_stream().wait_stream(side)


class _Elementwise(nn.Module):
    """tanh(x * w + b): parameters and autograd without a matrix product."""

    def __init__(self, width: int):
        super().__init__()
        self.w = nn.Parameter(ember.randn(width))
        self.b = nn.Parameter(ember.randn(width) * 0.1)

    def forward(self, x):
        return ember.tanh(x * self.w + self.b)


def _full(value: float, n: int) -> ember.Tensor:
    return ember.full((n,), value)


def test_capture_then_replay_on_new_values():
    x = ember.zeros(8, device="cuda")
    _on_side_stream(lambda: x * 2 + 1)
    g = ember.cuda.CUDAGraph()
    assert not ember.cuda.is_current_stream_capturing()
    with ember.cuda.graph(g):
        assert ember.cuda.is_current_stream_capturing()
        y = x * 2 + 1
    assert not ember.cuda.is_current_stream_capturing()
    for value in (1.5, -3.0, 10.0):
        x.fill_(value)
        g.replay()
        assert_close(y.cpu(), _full(value * 2 + 1, 8))


def test_graph_memory_is_private():
    # ``x * 2`` is a temporary freed during the capture; a tensor allocated afterwards on the
    # capture stream must not get its memory, or each replay would overwrite it.
    x = ember.zeros(8, device="cuda")
    _on_side_stream(lambda: x * 2 + 1)
    side = ember.cuda.Stream()
    g = ember.cuda.CUDAGraph()
    with ember.cuda.graph(g, stream=side):
        y = x * 2 + 1
    with ember.cuda.stream(side):
        z = ember.full((8,), 7.0, device="cuda")
    ember.cuda.current_stream().wait_stream(side)
    x.fill_(1.0)
    g.replay()
    assert_close(y.cpu(), _full(3.0, 8))
    assert_close(z.cpu(), _full(7.0, 8))


def test_whole_training_step_replays_like_eager_steps():
    ember.manual_seed(0)
    model = _Elementwise(6).cuda()
    eager = copy.deepcopy(model)
    loss_fn = nn.MSELoss()
    rng = np.random.default_rng(0)
    batches = [(ember.tensor(rng.standard_normal((4, 6)), dtype=ember.float32, device="cuda"),
                ember.tensor(rng.standard_normal((4, 6)), dtype=ember.float32, device="cuda"))
               for _ in range(5)]
    opt = ember.optim.SGD(model.parameters(), lr=0.1)  # stateless: the warm-up leaves none
    static_x = batches[0][0].clone()
    static_t = batches[0][1].clone()
    initial = [p.detach().clone() for p in model.parameters()]

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(static_x), static_t)
        loss.backward()
        opt.step()
        return loss

    _on_side_stream(step)
    g = ember.cuda.CUDAGraph()
    with ember.cuda.graph(g):
        static_loss = step()
    with ember.no_grad():  # undo the warm-up's steps, in place: the graph reads these arrays
        for p, p0 in zip(model.parameters(), initial):
            p.copy_(p0)

    eager_opt = ember.optim.SGD(eager.parameters(), lr=0.1)
    for x, t in batches:
        static_x.copy_(x)
        static_t.copy_(t)
        g.replay()
        eager_opt.zero_grad()
        loss = loss_fn(eager(x), t)
        loss.backward()
        eager_opt.step()
        assert_close(static_loss.detach().cpu(), loss.detach().cpu(), rtol=1e-5, atol=1e-6)
    for p, q in zip(model.parameters(), eager.parameters()):
        assert_close(p.detach().cpu(), q.detach().cpu(), rtol=1e-5, atol=1e-6)
        assert_close(p.grad.cpu(), q.grad.cpu(), rtol=1e-5, atol=1e-6)


def test_make_graphed_callables_module_matches_eager():
    ember.manual_seed(0)
    module = _Elementwise(5).cuda()
    eager = copy.deepcopy(module)
    sample = ember.randn(3, 5, device="cuda", requires_grad=True)
    graphed = ember.cuda.make_graphed_callables(module, (sample,))
    assert graphed is module
    for _ in range(3):
        x = ember.randn(3, 5, device="cuda", requires_grad=True)
        x_eager = x.detach().clone().requires_grad_()
        out, out_eager = graphed(x), eager(x_eager)
        assert_close(out.detach().cpu(), out_eager.detach().cpu(), rtol=1e-5, atol=1e-6)
        grad = ember.randn(3, 5, device="cuda")
        out.backward(grad)
        out_eager.backward(grad)
        assert_close(x.grad.cpu(), x_eager.grad.cpu(), rtol=1e-5, atol=1e-6)
        for p, q in zip(module.parameters(), eager.parameters()):
            assert_close(p.grad.cpu(), q.grad.cpu(), rtol=1e-5, atol=1e-6)
    module.eval()  # graphed in training mode: evaluation runs the original forward
    x = ember.randn(3, 5, device="cuda")
    assert_close(module(x).detach().cpu(), eager(x).detach().cpu(), rtol=1e-5, atol=1e-6)


def test_make_graphed_callables_function_with_two_outputs():
    def f(a, b):
        return a * b, (a * a).sum()

    a = ember.randn(6, device="cuda", requires_grad=True)
    b = ember.randn(6, device="cuda")
    graphed = ember.cuda.make_graphed_callables(f, (a, b))
    a2 = ember.randn(6, device="cuda", requires_grad=True)
    b2 = ember.randn(6, device="cuda")
    prod, square = graphed(a2, b2)
    assert_close(prod.detach().cpu(), (a2 * b2).detach().cpu())
    assert_close(square.detach().cpu(), (a2 * a2).sum().detach().cpu(), rtol=1e-5, atol=1e-6)
    (prod.sum() + square).backward()
    assert_close(a2.grad.cpu(), (b2 + 2 * a2).detach().cpu(), rtol=1e-5, atol=1e-6)


def test_graphs_share_a_memory_pool():
    x = ember.zeros(16, device="cuda")
    _on_side_stream(lambda: (x * 2 + 1) * 3 - 1)
    first, second = ember.cuda.CUDAGraph(), ember.cuda.CUDAGraph()
    with ember.cuda.graph(first):
        y1 = x * 2 + 1
    with ember.cuda.graph(second, pool=first.pool()):
        y2 = y1 * 3 - 1
    assert second.pool() is first.pool()
    handle = ember.cuda.graph_pool_handle()
    third = ember.cuda.CUDAGraph()
    with ember.cuda.graph(third, pool=handle):
        y3 = x + 1
    assert third.pool() is handle
    for value in (2.0, -1.0):
        x.fill_(value)
        first.replay()
        second.replay()
        third.replay()
        assert_close(y2.cpu(), _full((value * 2 + 1) * 3 - 1, 16))
        assert_close(y3.cpu(), _full(value + 1, 16))


def test_item_during_capture_raises_and_leaves_no_capture_behind():
    x = ember.ones(3, device="cuda")
    _on_side_stream(lambda: (x * 2).sum())
    g = ember.cuda.CUDAGraph()
    with pytest.raises(RuntimeError, match=r"Tensor\.item"):
        with ember.cuda.graph(g):
            (x * 2).sum().item()
    assert not ember.cuda.is_current_stream_capturing()
    assert (x * 2).sum().item() == 6.0


def test_random_draws_differ_between_replays():
    ember.cuda.manual_seed(0)
    _on_side_stream(lambda: ember.rand(1000, device="cuda"))
    g = ember.cuda.CUDAGraph()
    with ember.cuda.graph(g):
        y = ember.rand(1000, device="cuda")
    g.replay()
    first = y.cpu().clone()
    g.replay()
    second = y.cpu()
    assert 0 <= first.min().item() and first.max().item() < 1
    assert not ember.equal(first, second)


def test_a_matrix_product_during_a_capture_raises_a_clear_error():
    x = ember.randn(4, 4, device="cuda")
    _on_side_stream(lambda: x @ x)
    with pytest.raises(RuntimeError, match="cuBLAS"):
        with ember.cuda.graph(ember.cuda.CUDAGraph()):
            x @ x
    assert not ember.cuda.is_current_stream_capturing()
