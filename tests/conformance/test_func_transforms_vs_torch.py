"""ember.func.jvp / linearize / vmap / stack_module_state against torch.func."""
import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("name", ["tanh_mix", "matmul", "softmax"])
def test_jvp_matches_torch(name):
    rng = np.random.default_rng(1)
    x, v = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    w = rng.standard_normal((3, 3))
    fns = {"tanh_mix": lambda lib, a: (a.tanh() * a.exp()).sum(0),
           "matmul": lambda lib, a: a @ lib.from_numpy(w.T) + a,
           "softmax": lambda lib, a: lib.softmax(a * 2, dim=1)}
    results = {}
    for lib in (torch, ember):
        out, tangent = lib.func.jvp(lambda a, lib=lib: fns[name](lib, a),
                                    (lib.from_numpy(x),), (lib.from_numpy(v),))
        results[lib.__name__] = (out.numpy(), tangent.numpy())
    for e, t in zip(results["ember"], results["torch"]):
        np.testing.assert_allclose(e, t, rtol=1e-10, atol=1e-12)


def test_linearize_matches_torch():
    x = np.array([0.1, 0.5, -2.0])
    t = np.array([1.0, -1.0, 0.5])
    outs = {}
    for lib in (torch, ember):
        out, fn = lib.func.linearize(lambda a, lib=lib: a.sin() * a, lib.from_numpy(x))
        outs[lib.__name__] = fn(lib.from_numpy(t)).numpy()
    np.testing.assert_allclose(outs["ember"], outs["torch"], rtol=1e-12)


def test_ensembling_matches_torch():
    torch.manual_seed(0)
    tmodels = [torch.nn.Linear(3, 2).double() for _ in range(3)]
    emodels = []
    for tm in tmodels:
        em = ember.nn.Linear(3, 2).double()
        em.load_state_dict({k: ember.from_numpy(v.detach().numpy().copy())
                            for k, v in tm.state_dict().items()})
        emodels.append(em)
    x = np.random.default_rng(2).standard_normal((5, 3))
    results = {}
    for lib, models in ((torch, tmodels), (ember, emodels)):
        params, buffers = lib.func.stack_module_state(models)
        base = models[0]

        def run(p, b, inp, lib=lib, base=base):
            return lib.func.functional_call(base, (p, b), (inp,))
        out = lib.func.vmap(run, in_dims=(0, 0, None))(params, buffers, lib.from_numpy(x))
        results[lib.__name__] = (out.detach().numpy(), sorted(params))
    np.testing.assert_allclose(results["ember"][0], results["torch"][0], rtol=1e-12)
    assert results["ember"][1] == results["torch"][1]
