"""Seeded CPU draws are PyTorch's: after the same ``manual_seed`` (or from the same Generator
state) every random factory, in-place fill, sampler and layer initialisation gives PyTorch's
numbers: bit for bit where PyTorch's kernel is plain arithmetic, to a few float32 ulps for
float ``normal_`` (PyTorch's vectorised log/sin/cos approximate)."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import ember  # noqa: E402

SEEDS = [0, 543, 2 ** 40 + 7]


def same(a, b, exact=True, tol=1e-6):
    a = a.detach().float().numpy() if hasattr(a, "detach") else np.asarray(a)
    b = b.detach().float().numpy() if hasattr(b, "detach") else np.asarray(b)
    assert a.shape == b.shape
    if exact:
        np.testing.assert_array_equal(a, b)
    else:
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def both(seed, make, exact=True, tol=1e-6, follow=True):
    """``make(lib)`` after ``lib.manual_seed(seed)`` on both libraries; then (``follow``) the
    next draw too, so that both consumed the same number of words."""
    outs = []
    for lib in (ember, torch):
        lib.manual_seed(seed)
        outs.append((make(lib), lib.rand(3) if follow else None))
    same(outs[0][0], outs[1][0], exact, tol)
    if follow:
        same(outs[0][1], outs[1][1])


FACTORIES = {
    "rand": (lambda lib: lib.rand(5, 7), True),
    "rand_f64": (lambda lib: lib.rand(9, dtype=lib.float64), True),
    "rand_f16": (lambda lib: lib.rand(33, dtype=lib.float16), True),
    "rand_bf16": (lambda lib: lib.rand(33, dtype=lib.bfloat16), True),
    "rand_complex": (lambda lib: lib.view_as_real(lib.rand(6, dtype=lib.complex64)), True),
    "randn_5": (lambda lib: lib.randn(5), False),
    "randn_16": (lambda lib: lib.randn(4, 4), False),
    "randn_33": (lambda lib: lib.randn(3, 11), False),
    "randn_1000": (lambda lib: lib.randn(1000), False),
    "randn_f64": (lambda lib: lib.randn(100, dtype=lib.float64), False),
    "randn_f64_small": (lambda lib: lib.randn(3, dtype=lib.float64), False),
    "randn_f16": (lambda lib: lib.randn(37, dtype=lib.float16), False),
    "randn_complex": (lambda lib: lib.view_as_real(lib.randn(20, dtype=lib.complex64)), False),
    "randint": (lambda lib: lib.randint(0, 10, (20,)), True),
    "randint_wide": (lambda lib: lib.randint(-5, 2 ** 40, (20,)), True),
    "randint_int32": (lambda lib: lib.randint(3, 1000, (20,), dtype=lib.int32), True),
    "randint_2_28": (lambda lib: lib.randint(0, 2 ** 28, (20,)), True),
    "randint_int32_wide": (lambda lib: lib.randint(-2 ** 31, 2 ** 31, (20,), dtype=lib.int32),
                           True),
    "randint_float": (lambda lib: lib.randint(-2 ** 20, 2 ** 20, (20,), dtype=lib.float32), True),
    "randperm_1": (lambda lib: lib.randperm(1), True),
    "randperm": (lambda lib: lib.randperm(50), True),
    "randperm_big": (lambda lib: lib.randperm(5000), True),
    "rand_like": (lambda lib: lib.rand_like(lib.zeros(4, 5)), True),
    "randn_like": (lambda lib: lib.randn_like(lib.zeros(4, 5)), False),
    "normal_sizes": (lambda lib: lib.normal(2.0, 3.0, size=(40,)), False),
    "normal_tensors": (lambda lib: lib.normal(lib.arange(20.0), lib.arange(1.0, 21.0)), False),
    "normal_tensor_float": (lambda lib: lib.normal(lib.arange(20.0), 0.5), False),
    "bernoulli_f32": (lambda lib: lib.bernoulli(lib.linspace(0, 1, 40)), True),
    "bernoulli_f64": (lambda lib: lib.bernoulli(lib.linspace(0, 1, 40, dtype=lib.float64)),
                      True),
    "bernoulli_p": (lambda lib: lib.bernoulli(lib.zeros(40), p=0.3), True),
    "multinomial_replacement": (
        lambda lib: lib.multinomial(lib.tensor([[1.0, 2, 3, 4], [4, 0, 1, 2]]), 15, True), True),
    "multinomial_without": (
        lambda lib: lib.multinomial(lib.tensor([[1.0, 2, 3, 4], [4, 0, 1, 2]]), 3), True),
    "multinomial_one": (lambda lib: lib.multinomial(lib.tensor([1.0, 2, 3, 4]), 1, True), True),
}


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_factories_draw_pytorchs_numbers(name, seed):
    make, exact = FACTORIES[name]
    both(seed, make, exact)


FILLS = {
    "uniform_": (lambda t: t.uniform_(-3, 2), True),
    "uniform_f64": (lambda t: t.double().uniform_(-0.1, 0.3), True),
    "normal_": (lambda t: t.normal_(1.0, 2.0), False),
    "normal_strided": (lambda t: t.t().normal_(), False),
    "uniform_strided": (lambda t: t.t().uniform_(), True),
    "uniform_every_other": (lambda t: t[:, ::2].uniform_(), True),
    "bernoulli_": (lambda t: t.bernoulli_(0.3), True),
    "bernoulli_tensor": (lambda t: t.bernoulli_(t.new_full((t.shape[1],), 0.7)), True),
    "random_": (lambda t: t.random_(), True),
    "random_range": (lambda t: t.random_(-4, 9), True),
    "random_int64": (lambda t: t.long().random_(), True),
    "random_int32": (lambda t: t.int().random_(), True),
    "random_int32_to": (lambda t: t.int().random_(2 ** 30), True),
    "random_f64": (lambda t: t.double().random_(), True),
    "random_uint8": (lambda t: t.to(torch_dtype_like(t, "uint8")).random_(), True),
    "random_bool": (lambda t: t.bool().random_(), True),
    "exponential_": (lambda t: t.exponential_(2.0), False),
    "geometric_": (lambda t: t.geometric_(0.3), True),
    "log_normal_": (lambda t: t.log_normal_(1.0, 0.5), False),
    "cauchy_": (lambda t: t.cauchy_(0.0, 1.0), False),
}


def torch_dtype_like(t, name):
    return getattr(ember if isinstance(t, ember.Tensor) else torch, name)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", sorted(FILLS))
def test_inplace_fills_draw_pytorchs_numbers(name, seed):
    fill, exact = FILLS[name]
    both(seed, lambda lib: fill(lib.zeros(6, 5)), exact, tol=1e-5)


@pytest.mark.parametrize("seed", SEEDS)
def test_layers_initialise_to_pytorchs_weights(seed):
    def build(lib):
        nn = lib.nn
        return nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.Linear(8, 5),
                             nn.Embedding(7, 4), nn.LSTM(4, 6, 2), nn.MultiheadAttention(8, 2))
    models = []
    for lib in (ember, torch):
        lib.manual_seed(seed)
        models.append(build(lib))
    mine, theirs = (dict(m.named_parameters()) for m in models)
    assert mine.keys() == theirs.keys()
    for name in mine:
        same(mine[name], theirs[name], exact=not name.startswith("3."), tol=1e-6)


@pytest.mark.parametrize("init", ["xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
                                  "kaiming_normal_", "trunc_normal_", "orthogonal_", "sparse_"])
def test_init_functions_draw_pytorchs_numbers(init):
    args = (0.5,) if init == "sparse_" else ()
    both(11, lambda lib: getattr(lib.nn.init, init)(lib.empty(6, 9), *args),
         exact=init in ("xavier_uniform_", "kaiming_uniform_"), tol=1e-5)


@pytest.mark.parametrize("bounds", [(-0.1, 0.2), (0.5, 3.0)])
def test_trunc_normal_rejects_as_pytorch(bounds):
    # (0.5, 3) holds over 30% of the mass: normal draws, a few ulps apart (see the module note)
    both(2, lambda lib: lib.nn.init.trunc_normal_(lib.empty(30, 7), 0.0, 1.0, *bounds),
         exact=bounds[0] < 0)


def test_generators_and_states_are_pytorchs():
    for lib in (ember, torch):
        lib.manual_seed(5)
        lib.rand(7)
        lib.randn(3, dtype=lib.float64)  # leaves a cached normal in the state
    state = ember.get_rng_state()
    np.testing.assert_array_equal(state.numpy(), torch.get_rng_state().numpy())
    ember.rand(5)
    ember.set_rng_state(ember.from_numpy(torch.get_rng_state().numpy()))
    same(ember.randn(3, dtype=ember.float64), torch.randn(3, dtype=torch.float64), False, 1e-12)
    g, h = ember.Generator().manual_seed(9), torch.Generator().manual_seed(9)
    same(ember.randn(40, generator=g), torch.randn(40, generator=h), False)
    same(ember.randperm(30, generator=g), torch.randperm(30, generator=h))
    np.testing.assert_array_equal(g.get_state().numpy(), h.get_state().numpy())
    torch.set_rng_state(torch.from_numpy(ember.get_rng_state().numpy().copy()))
    same(ember.rand(4), torch.rand(4))


def test_dropout_and_rrelu_draw_pytorchs_masks():
    torch.manual_seed(1)
    ember.manual_seed(1)
    if not torch.equal(torch.empty(64).bernoulli_(0.5),
                       torch.from_numpy(ember.empty(64).bernoulli_(0.5).numpy())):
        pytest.skip("this PyTorch draws bernoulli_(p) with MKL (an Intel CPU)")
    x = np.random.default_rng(0).standard_normal((8, 33)).astype(np.float32)
    for lib in (ember, torch):
        lib.manual_seed(4)
    same(ember.nn.functional.dropout(ember.from_numpy(x), 0.3),
         torch.nn.functional.dropout(torch.from_numpy(x), 0.3))
    same(ember.nn.functional.dropout1d(ember.from_numpy(x[None]), 0.5),
         torch.nn.functional.dropout1d(torch.from_numpy(x[None]), 0.5))
    same(ember.nn.functional.rrelu(ember.from_numpy(x), training=True),
         torch.nn.functional.rrelu(torch.from_numpy(x), training=True), False)
    same(ember.rand(3), torch.rand(3))


def test_data_loading_shuffles_as_pytorch():
    def orders(lib):
        data = lib.utils.data
        lib.manual_seed(3)
        dataset = data.TensorDataset(lib.arange(40))
        loader = data.DataLoader(dataset, batch_size=6, shuffle=True)
        epochs = [[b[0].tolist() for b in loader] for _ in range(2)]
        seeded = data.DataLoader(dataset, batch_size=6, shuffle=True,
                                 generator=lib.Generator().manual_seed(5))
        epochs += [[b[0].tolist() for b in seeded] for _ in range(2)]
        parts = [list(p.indices) for p in data.random_split(dataset, [0.25, 0.75])]
        drawn = list(data.RandomSampler(dataset, replacement=True, num_samples=50))
        subset = list(data.SubsetRandomSampler([3, 1, 4, 1, 5, 9, 2, 6]))
        weighted = list(data.WeightedRandomSampler([0.1, 2.0, 0.5, 1.0], 30))
        without = list(data.WeightedRandomSampler([0.1, 2.0, 0.5, 1.0], 3, replacement=False))
        sharded = list(data.distributed.DistributedSampler(dataset, num_replicas=3, rank=1,
                                                           seed=8))
        return epochs, parts, drawn, subset, weighted, without, sharded
    assert orders(ember) == orders(torch)


DISTRIBUTIONS = {
    "Categorical": lambda lib, D: D.Categorical(logits=lib.tensor([[0.1, 0.2, 0.7],
                                                                    [1.0, 2.0, 3.0]])).sample((5,)),
    "OneHotCategorical": lambda lib, D: D.OneHotCategorical(
        probs=lib.tensor([0.1, 0.2, 0.7])).sample((4,)),
    "Multinomial": lambda lib, D: D.Multinomial(10, probs=lib.tensor([0.1, 0.2, 0.7])).sample(),
    "Normal": lambda lib, D: D.Normal(lib.zeros(20), lib.ones(20)).rsample(),
    "MultivariateNormal": lambda lib, D: D.MultivariateNormal(lib.zeros(3),
                                                              lib.eye(3)).sample((2,)),
    "Bernoulli": lambda lib, D: D.Bernoulli(probs=lib.full((10,), 0.3)).sample(),
    "Uniform": lambda lib, D: D.Uniform(lib.zeros(5), lib.full((5,), 2.0)).sample(),
    "Exponential": lambda lib, D: D.Exponential(lib.full((5,), 2.0)).sample(),
    "Cauchy": lambda lib, D: D.Cauchy(lib.zeros(5), lib.ones(5)).sample(),
    "Laplace": lambda lib, D: D.Laplace(lib.zeros(5), lib.ones(5)).sample(),
    "Geometric": lambda lib, D: D.Geometric(lib.full((5,), 0.3)).sample(),
    "LogNormal": lambda lib, D: D.LogNormal(lib.zeros(5), lib.ones(5)).sample(),
    "Gumbel": lambda lib, D: D.Gumbel(lib.zeros(5), lib.ones(5)).sample(),
}


@pytest.mark.parametrize("name", sorted(DISTRIBUTIONS))
def test_distributions_sample_pytorchs_numbers(name):
    """Samplers built on the draws above give PyTorch's samples (gamma, Poisson and binomial,
    sampled by rejection, do not: see ember/backend/host_random.py)."""
    both(3, lambda lib: DISTRIBUTIONS[name](lib, lib.distributions), exact=False, tol=1e-5)


def test_training_with_dropout_and_shuffling_follows_pytorch():
    """A whole seeded run, unchanged code on both libraries: the model's initial weights, the
    DataLoader's order, dropout's masks and a TransformerEncoderLayer's attention dropout are
    PyTorch's, so the losses agree to float32 rounding."""
    rng = np.random.default_rng(0)
    features = rng.standard_normal((96, 16)).astype(np.float32)
    labels = rng.integers(0, 4, 96)

    def losses(lib):
        nn, data = lib.nn, lib.utils.data
        lib.manual_seed(7)
        model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 4))
        layer = nn.TransformerEncoderLayer(16, 4, 32, dropout=0.2)
        params = list(model.parameters()) + list(layer.parameters())
        opt = lib.optim.SGD(params, lr=0.1, momentum=0.9)
        dataset = data.TensorDataset(lib.from_numpy(features), lib.from_numpy(labels))
        out = []
        for _ in range(2):
            for x, y in data.DataLoader(dataset, batch_size=16, shuffle=True):
                opt.zero_grad()
                h = layer(x.reshape(4, 4, 16)).reshape(16, 16)
                loss = nn.functional.cross_entropy(model(h), y)
                loss.backward()
                opt.step()
                out.append(loss.item())
        return out
    np.testing.assert_allclose(losses(ember), losses(torch), rtol=1e-4)


@pytest.mark.parametrize("seed", [None, 5])
def test_scrambled_sobol_points_are_pytorchs(seed):
    """Without a seed the scrambling draws from the default generator, as PyTorch's."""
    both(4, lambda lib: lib.quasirandom.SobolEngine(6, scramble=True, seed=seed).draw(9))


def _worker_draws(lib):
    import random

    class Draws(lib.utils.data.Dataset):
        def __len__(self):
            return 8

        def __getitem__(self, i):
            return lib.rand(1).item() + lib.randn(2).sum().item(), np.random.rand(), random.random()
    lib.manual_seed(11)
    loader = lib.utils.data.DataLoader(Draws(), batch_size=None, num_workers=2, shuffle=True)
    return [tuple(round(float(v), 6) for v in item) for item in loader]


def test_loader_workers_are_seeded_and_draw_as_pytorchs():
    """Each worker's ember, NumPy and Python generators are seeded as PyTorch seeds them (from
    the loader's base seed) and draw PyTorch's numbers."""
    assert _worker_draws(ember) == _worker_draws(torch)


@pytest.mark.parametrize("seed", [-1, -2 ** 63, 2 ** 64 - 1, 1.5, -2 ** 63 - 1, 2 ** 64])
def test_seeds_wrap_and_overflow_as_pytorchs(seed):
    results = []
    for lib in (ember, torch):
        try:
            lib.manual_seed(seed)
            results.append((lib.initial_seed(), lib.rand(2).tolist()))
        except ValueError as error:
            results.append(str(error))
    assert results[0] == results[1]
