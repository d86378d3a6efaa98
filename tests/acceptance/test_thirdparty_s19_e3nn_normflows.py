"""e3nn and normflows on ember, where they are installed (neither is a test dependency: their
packages require PyTorch; .ci/run installs them without dependencies). Each library's script
runs with ``torch`` resolved to ember in a fresh interpreter and is checked here in NumPy:

* e3nn: irreps algebra; real spherical harmonics up to l = 2 in its three normalisations (and
  their gradients) against SciPy's ``sph_harm_y``; Wigner D matrices against the rotation of
  those harmonics; the equivariance of ``o3.Linear``, ``FullyConnectedTensorProduct`` and of a
  small message-passing network (energies invariant, vectors and forces rotating), whose forces
  are a double-backward gradient and whose training steps fit energies, vectors and forces.
* normflows: RealNVP, Glow-like, neural-spline, masked-affine and invertible residual flows
  trained by forward KL on two moons, each flow's ``log_prob`` the change of variables of its
  inverse (the Jacobian by autograd and by central differences), ``sample``'s log densities
  its ``log_prob``; planar and radial flows trained by reverse KL, their log determinants
  those of their Jacobians.

tests/conformance/test_thirdparty_s19_metric_e3nn_normflows_vs_torch.py compares every value
with real PyTorch's."""
from __future__ import annotations

import importlib.util
import textwrap

import numpy as np
import pytest

from tests.acceptance import script_report

# (importing either would import torch)
INSTALLED = [name for name in ("e3nn", "normflows") if importlib.util.find_spec(name)]
if not INSTALLED:
    pytest.skip("neither e3nn nor normflows is installed", allow_module_level=True)
sph_harm_y = pytest.importorskip("scipy.special").sph_harm_y

E3NN_SCRIPT = script_report.OUT_SOURCE + textwrap.dedent('''
    import copy
    import json
    import torch
    from e3nn import io, o3
    from e3nn.nn.models.v2106.gate_points_networks import SimpleNetwork
    from e3nn.util.jit import script

    torch.set_default_dtype(torch.float64)
    torch.manual_seed(0)
    irreps_in = o3.Irreps("2x0e + 1x1o + 1x2e")
    irreps_sh = o3.Irreps.spherical_harmonics(2)
    irreps_out = o3.Irreps("1x0e + 2x1o + 1x2e")
    mixed = o3.Irreps("1x1o + 2x0e + 1x1o + 1x2e")
    report = {"irreps": {
        "dim": [irreps_in.dim, irreps_sh.dim, irreps_out.dim], "sh": str(irreps_sh),
        "simplified": str(mixed.simplify()), "sorted": str(mixed.sort().irreps.simplify()),
        "ls": mixed.ls, "num_irreps": mixed.num_irreps, "lmax": mixed.lmax,
        "product": [str(ir) for ir in o3.Irrep("1o") * o3.Irrep("2e")],
    }}

    # spherical harmonics of a few points (and their gradients) in the three normalisations
    points = torch.randn(6, 3, requires_grad=True)
    report["points"] = out(points)
    report["sh"] = {}
    for normalization in ["integral", "component", "norm"]:
        values = o3.spherical_harmonics(irreps_sh, points, normalize=True,
                                        normalization=normalization)
        weights = torch.arange(1.0, 10.0)
        grad, = torch.autograd.grad((values * weights).sum(), points)
        report["sh"][normalization] = {"values": out(values), "grad": out(grad)}
    raw = o3.spherical_harmonics(2, points, normalize=False, normalization="component")
    report["sh_unnormalized_l2"] = out(raw)

    # rotations: Wigner D matrices from angles and from matrices
    torch.manual_seed(1)
    rotation = o3.rand_matrix()
    alpha, beta, gamma = o3.matrix_to_angles(rotation)
    report["rotation"] = out(rotation)
    report["angles"] = [alpha.item(), beta.item(), gamma.item()]
    report["angles_to_matrix"] = out(o3.angles_to_matrix(alpha, beta, gamma))
    report["wigner_D"] = {l: out(o3.wigner_D(l, alpha, beta, gamma)) for l in range(3)}
    report["D_from_matrix"] = out(irreps_in.D_from_matrix(rotation))
    report["D_parity"] = out(o3.Irreps("1e + 1o").D_from_matrix(-rotation))
    report["wigner_3j_112"] = out(o3.wigner_3j(1, 1, 2))
    report["sh_rotated"] = out(o3.spherical_harmonics(
        irreps_sh, points @ rotation.T, normalize=True, normalization="integral"))

    # linear maps and tensor products, before and after rotating their inputs
    torch.manual_seed(2)
    linear = o3.Linear(irreps_in, irreps_out)
    full = o3.FullyConnectedTensorProduct(irreps_in, irreps_sh, irreps_out)
    elementwise = o3.ElementwiseTensorProduct("1x0e + 1x1o", "1x1o + 1x1e")
    instructions = [(0, 0, 0, "uvu", True), (1, 0, 1, "uvu", True), (1, 1, 0, "uvu", True)]
    external = o3.TensorProduct("2x0e + 2x1o", "1x0e + 1x1o", "2x0e + 2x1o", instructions,
                                shared_weights=False, internal_weights=False)
    x = irreps_in.randn(4, -1)
    sh = o3.spherical_harmonics(irreps_sh, points[:4], normalize=True, normalization="component")
    D_in, D_out = irreps_in.D_from_matrix(rotation), irreps_out.D_from_matrix(rotation)
    D_sh = irreps_sh.D_from_matrix(rotation)
    sh_rot = o3.spherical_harmonics(irreps_sh, points[:4] @ rotation.T, normalize=True,
                                    normalization="component")
    u, v = o3.Irreps("1x0e + 1x1o").randn(4, -1), o3.Irreps("1x1o + 1x1e").randn(4, -1)
    a, b = o3.Irreps("2x0e + 2x1o").randn(4, -1), o3.Irreps("1x0e + 1x1o").randn(4, -1)
    path_weights = torch.randn(4, external.weight_numel)
    report["modules"] = {
        "x": out(x), "sh": out(sh), "sh_rotated": out(sh_rot), "D_in": out(D_in),
        "D_out": out(D_out), "D_sh": out(D_sh),
        "linear_weight_numel": linear.weight_numel, "full_weight_numel": full.weight_numel,
        "external_weight_numel": external.weight_numel,
        "linear": out(linear(x)), "linear_rotated": out(linear(x @ D_in.T)),
        "full": out(full(x, sh)), "full_rotated": out(full(x @ D_in.T, sh_rot)),
        "elementwise": out(elementwise(u, v)), "elementwise_out": str(elementwise.irreps_out),
        "u": out(u), "v": out(v),
        "external": out(external(a, b, path_weights)), "linear_weight": out(linear.weight),
        # compiled by TorchScript (e3nn's generated fx code, pickled on copying)
        "full_scripted": out(script(copy.deepcopy(full))(x, sh)),
    }

    # norms of irreps; a symmetric Cartesian matrix as irreps 0e + 2e, before and after rotating
    vectors = o3.Irreps("2x1o").randn(3, -1)
    cartesian = io.CartesianTensor("ij=ji")
    matrix = torch.randn(3, 3)
    matrix = matrix + matrix.T
    report["norm"] = {"vectors": out(vectors), "norms": out(o3.Norm("2x1o")(vectors))}
    report["cartesian"] = {
        "irreps": str(cartesian), "matrix": out(matrix),
        "irreps_of_matrix": out(cartesian.from_cartesian(matrix)),
        "irreps_of_rotated": out(cartesian.from_cartesian(rotation @ matrix @ rotation.T)),
        "round_trip": out(cartesian.to_cartesian(cartesian.from_cartesian(matrix)))}

    # an equivariant network on a small point cloud: invariant energy, equivariant vector,
    # forces as minus the gradient of the energy
    torch.manual_seed(3)
    net = SimpleNetwork(irreps_in="0e", irreps_out="0e + 1o", max_radius=2.5, num_neighbors=3.0,
                        num_nodes=5.0, mul=4, layers=1, lmax=2)
    positions = torch.randn(5, 3)
    batch = torch.tensor([0, 0, 0, 1, 1])
    nodes = torch.rand(5, 1) + 0.5  # (distinct: equal ones would cancel the pooled vector)

    def energy_and_forces(pos):
        pos = pos.clone().requires_grad_(True)
        prediction = net({"pos": pos, "x": nodes, "batch": batch})
        forces, = torch.autograd.grad(-prediction[:, 0].sum(), pos, create_graph=True)
        return prediction, forces

    # a few training steps fitting target energies, vectors and forces (forces' loss
    # backpropagates through the gradient: double backward)
    targets = torch.tensor([1.0, -0.5])
    target_vectors = torch.randn(2, 3)
    target_forces = torch.randn(5, 3) * 0.1
    optimizer = torch.optim.Adam(net.parameters(), lr=0.02)
    losses = []
    for _ in range(5):
        optimizer.zero_grad()
        prediction, forces = energy_and_forces(positions)
        loss = (((prediction[:, 0] - targets) ** 2).mean() + ((forces - target_forces) ** 2).mean()
                + ((prediction[:, 1:] - target_vectors) ** 2).mean())
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    report["training"] = {"losses": losses}

    # after training (the convolutions start at zero: e3nn's identity at init)
    prediction, forces = energy_and_forces(positions)
    prediction_rot, forces_rot = energy_and_forces(positions @ rotation.T)
    step = 1e-5
    shift = torch.zeros(5, 3)
    shift[0, 1] = step
    plus = net({"pos": positions + shift, "x": nodes, "batch": batch})[:, 0].sum()
    minus = net({"pos": positions - shift, "x": nodes, "batch": batch})[:, 0].sum()
    report["network"] = {
        "prediction": out(prediction), "prediction_rotated": out(prediction_rot),
        "forces": out(forces), "forces_rotated": out(forces_rot),
        "force_finite_difference": (-(plus - minus) / (2 * step)).item(),
        "parameters": sum(p.numel() for p in net.parameters()),
    }
    print(json.dumps(report))
''')

NORMFLOWS_SCRIPT = script_report.OUT_SOURCE + textwrap.dedent('''
    import json
    import torch
    import normflows as nf

    torch.set_default_dtype(torch.float64)
    torch.manual_seed(0)
    target = nf.distributions.TwoMoons()
    data = target.sample(64).double()  # (its proposal was made float32 at import)
    probe = torch.tensor([[0.5, -0.3], [-1.5, 0.8], [2.0, 0.1]])
    report = {"data": out(data), "data_log_prob": out(target.log_prob(data)),
              "probe": out(probe)}


    def real_nvp():
        flows = []
        for _ in range(3):
            flows.append(nf.flows.AffineCouplingBlock(nf.nets.MLP([1, 8, 8, 2], init_zeros=True)))
            flows.append(nf.flows.Permute(2, mode="swap"))
        return flows


    def glow_like():
        flows = []
        for _ in range(2):
            flows.append(nf.flows.ActNorm(2))
            flows.append(nf.flows.AffineCouplingBlock(nf.nets.MLP([1, 8, 2], init_zeros=True),
                                                      scale_map="sigmoid"))
            flows.append(nf.flows.InvertibleAffine(2, use_lu=True))
        return flows


    def neural_spline():
        flows = []
        for _ in range(2):
            flows.append(nf.flows.AutoregressiveRationalQuadraticSpline(2, 1, 8, num_bins=4))
            flows.append(nf.flows.LULinearPermute(2))
        flows.append(nf.flows.CoupledRationalQuadraticSpline(2, 1, 8, num_bins=4))
        return flows


    def residual():
        """an invertible residual block on a Lipschitz net (made by legacy ``torch.Tensor``
        constructors: the default dtype), its log determinant exact in two dimensions"""
        return [nf.flows.Residual(nf.nets.LipschitzMLP([2, 8, 2], init_zeros=False),
                                  brute_force=True, reduce_memory=False)]


    def masked_affine():
        b = torch.tensor([1.0, 0.0])
        flows = []
        for i in range(4):
            mask = b if i % 2 == 0 else 1 - b
            flows.append(nf.flows.MaskedAffineFlow(mask, nf.nets.MLP([2, 8, 2], init_zeros=True),
                                                   nf.nets.MLP([2, 8, 2], init_zeros=True)))
        return flows


    def jacobian_checks(model, x, step=1e-6):
        """inverse(x), its Jacobian by autograd and central differences, log_prob(x), the
        forward map of inverse(x) (a round trip)"""
        z = model.inverse(x)
        jacobians = torch.stack([torch.autograd.functional.jacobian(
            lambda point: model.inverse(point[None])[0], point) for point in x])
        shifted = []
        for i in range(2):
            delta = torch.zeros(2)
            delta[i] = step
            shifted.append((model.inverse(x + delta) - model.inverse(x - delta)) / (2 * step))
        return {"z": out(z), "jacobian": out(jacobians),
                "finite_difference": out(torch.stack(shifted, -1)),
                "log_prob": out(model.log_prob(x)), "round_trip": out(model(z)),
                "inverse_log_det": out(model.inverse_and_log_det(x)[1])}


    report["forward_kld"] = {}
    for name, make in [("real_nvp", real_nvp), ("glow", glow_like), ("nsf", neural_spline),
                       ("masked_affine", masked_affine), ("residual", residual)]:
        torch.manual_seed(1)
        model = nf.NormalizingFlow(nf.distributions.DiagGaussian(2, trainable=False), make())
        optimizer = torch.optim.Adam(model.parameters(), lr=5e-3, weight_decay=1e-5)
        losses = []
        for _ in range(4):
            optimizer.zero_grad()
            loss = model.forward_kld(data)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        with torch.no_grad():
            samples, log_q = model.sample(5)
            sample_log_prob = model.log_prob(samples)
        report["forward_kld"][name] = {
            "losses": losses, "samples": out(samples), "sample_log_q": out(log_q),
            "sample_log_prob": out(sample_log_prob),
            "parameters": sum(p.numel() for p in model.parameters()),
            **jacobian_checks(model, probe)}

    # reverse KL on an unnormalised two-mode target: planar and radial flows sample and score
    torch.manual_seed(2)
    flows = [nf.flows.Planar((2,)), nf.flows.Radial((2,)), nf.flows.Planar((2,), act="leaky_relu")]
    model = nf.NormalizingFlow(nf.distributions.DiagGaussian(2),
                               flows, p=nf.distributions.TwoModes(2.0, 0.1))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(4):
        optimizer.zero_grad()
        loss = model.reverse_kld(32)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    torch.manual_seed(3)
    with torch.no_grad():
        base, base_log_q = model.q0(4)
        pushed, log_det = model.forward_and_log_det(base)
    forward_jacobians = torch.stack([torch.autograd.functional.jacobian(
        lambda point: model(point[None])[0], point) for point in base])
    report["reverse_kld"] = {"losses": losses, "base": out(base), "base_log_q": out(base_log_q),
                             "base_loc": out(model.q0.loc),
                             "base_log_scale": out(model.q0.log_scale),
                             "pushed": out(pushed), "log_det": out(log_det),
                             "jacobian": out(forward_jacobians)}
    print(json.dumps(report))
''')
SCRIPTS = {"e3nn": E3NN_SCRIPT, "normflows": NORMFLOWS_SCRIPT}


def run_script(*command_prefix: str, tmp_path) -> dict:
    """Each installed library's script report by library, run under ``command_prefix`` (``-m
    ember.compat``: on ember)."""
    return {name: script_report.run_script(SCRIPTS[name], f"{name}_script.py", *command_prefix,
                                           tmp_path=tmp_path)
            for name in INSTALLED}


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    return run_script("-m", "ember.compat", tmp_path=tmp_path_factory.mktemp("e3nn_normflows"))


@pytest.fixture
def e3nn(reports):
    if "e3nn" not in reports:
        pytest.skip("e3nn is not installed")
    return reports["e3nn"]


@pytest.fixture
def normflows(reports):
    if "normflows" not in reports:
        pytest.skip("normflows is not installed")
    return reports["normflows"]


# ---- e3nn ----

def _real_harmonics(l: int, points: np.ndarray) -> np.ndarray:
    """Real spherical harmonics of degree ``l`` at the directions of ``points``, orthonormal on
    the sphere (e3nn's "integral" normalisation), m = -l..l, in e3nn's frame: y is the polar
    axis and the azimuth turns from z towards x (so that l = 1 is proportional to x, y, z)."""
    unit = points / np.linalg.norm(points, axis=1, keepdims=True)
    polar = np.arccos(np.clip(unit[:, 1], -1, 1))
    azimuth = np.arctan2(unit[:, 0], unit[:, 2])
    columns = []
    for m in range(-l, l + 1):
        y = sph_harm_y(l, abs(m), polar, azimuth)  # with the Condon-Shortley phase
        if m == 0:
            columns.append(y.real)
        else:
            columns.append(np.sqrt(2) * (-1) ** m * (y.imag if m < 0 else y.real))
    return np.stack(columns, 1)


def _harmonics(points: np.ndarray, lmax: int = 2) -> np.ndarray:
    return np.concatenate([_real_harmonics(l, points) for l in range(lmax + 1)], 1)


_DEGREES = np.repeat(np.arange(3), 2 * np.arange(3) + 1)  # the degree of each of the 9 columns
_SCALE = {"integral": np.ones(9), "component": np.full(9, np.sqrt(4 * np.pi)),
          "norm": np.sqrt(4 * np.pi / (2 * _DEGREES + 1))}


def _block_diag(*blocks) -> np.ndarray:
    blocks = [np.atleast_2d(b) for b in blocks]
    out = np.zeros((sum(len(b) for b in blocks),) * 2)
    at = 0
    for b in blocks:
        out[at:at + len(b), at:at + len(b)] = b
        at += len(b)
    return out


def _wigner(rotation: np.ndarray, l: int) -> np.ndarray:
    """D^l(R) from the harmonics themselves: Y_l(R p) = D^l(R) Y_l(p) on many points."""
    points = np.random.default_rng(0).normal(size=(40, 3))
    before, after = _real_harmonics(l, points), _real_harmonics(l, points @ rotation.T)
    return np.linalg.lstsq(before, after, rcond=None)[0].T


def test_irreps_algebra(e3nn):
    assert e3nn["irreps"] == {
        "dim": [10, 9, 12], "sh": "1x0e+1x1o+1x2e",
        "simplified": "1x1o+2x0e+1x1o+1x2e",  # (only neighbours merge)
        "sorted": "2x0e+2x1o+1x2e", "ls": [1, 0, 0, 1, 2], "num_irreps": 5, "lmax": 2,
        "product": ["1o", "2o", "3o"]}


def test_spherical_harmonics_and_gradients_match_scipy(e3nn):
    points = np.array(e3nn["points"])
    weights = np.arange(1.0, 10.0)
    for normalization, scale in _SCALE.items():
        found = e3nn["sh"][normalization]
        np.testing.assert_allclose(found["values"], _harmonics(points) * scale, atol=1e-12)
        numeric = np.zeros_like(points)
        for index in np.ndindex(*points.shape):
            delta = np.zeros_like(points)
            delta[index] = 1e-6
            change = (_harmonics(points + delta) - _harmonics(points - delta)) @ (weights * scale)
            numeric[index] = change.sum() / 2e-6
        np.testing.assert_allclose(found["grad"], numeric, rtol=1e-6, atol=1e-7)
    # without normalize, degree 2 is a quadratic polynomial of the point
    squared_norm = (points ** 2).sum(1, keepdims=True)
    np.testing.assert_allclose(e3nn["sh_unnormalized_l2"],
                               _real_harmonics(2, points) * np.sqrt(4 * np.pi) * squared_norm,
                               atol=1e-12)


def test_wigner_d_matrices_rotate_the_harmonics(e3nn):
    rotation = np.array(e3nn["rotation"])
    assert np.allclose(rotation @ rotation.T, np.eye(3)) and np.isclose(np.linalg.det(rotation), 1)
    np.testing.assert_allclose(e3nn["angles_to_matrix"], rotation, atol=1e-12)
    d1, d2 = _wigner(rotation, 1), _wigner(rotation, 2)
    np.testing.assert_allclose(d1, rotation, atol=1e-12)  # l = 1 is the vector x, y, z
    for l, expected in enumerate([np.eye(1), d1, d2]):
        np.testing.assert_allclose(e3nn["wigner_D"][str(l)], expected, atol=1e-10)
    np.testing.assert_allclose(e3nn["D_from_matrix"], _block_diag(1, 1, d1, d2), atol=1e-10)
    # an improper rotation: odd parity flips the sign
    np.testing.assert_allclose(e3nn["D_parity"], _block_diag(d1, -d1), atol=1e-10)
    np.testing.assert_allclose(e3nn["sh_rotated"],
                               _harmonics(np.array(e3nn["points"]) @ rotation.T), atol=1e-12)
    # the Clebsch-Gordan coefficients are invariant and normalised
    cg = np.array(e3nn["wigner_3j_112"])
    assert cg.shape == (3, 3, 5) and np.isclose((cg ** 2).sum(), 1)
    np.testing.assert_allclose(np.einsum("ia,jb,kc,abc->ijk", d1, d1, d2, cg), cg, atol=1e-10)


def test_linear_and_tensor_products_are_equivariant(e3nn):
    modules = e3nn["modules"]
    rotation = np.array(e3nn["rotation"])
    d1, d2 = _wigner(rotation, 1), _wigner(rotation, 2)
    d_out = _block_diag(1, d1, d1, d2)
    np.testing.assert_allclose(modules["D_out"], d_out, atol=1e-10)
    np.testing.assert_allclose(modules["sh"], _harmonics(np.array(e3nn["points"][:4]))
                               * np.sqrt(4 * np.pi), atol=1e-12)
    # o3.Linear mixes copies of each irrep, each path divided by the root of its fan-in
    x, w = np.array(modules["x"]), np.array(modules["linear_weight"])
    expected = np.concatenate([(x[:, :2] @ w[:2])[:, None] / np.sqrt(2), w[2] * x[:, 2:5],
                               w[3] * x[:, 2:5], w[4] * x[:, 5:]], 1)
    np.testing.assert_allclose(modules["linear"], expected, atol=1e-12)
    assert (modules["linear_weight_numel"], modules["full_weight_numel"],
            modules["external_weight_numel"]) == (5, 19, 6)
    np.testing.assert_allclose(modules["linear_rotated"], np.array(modules["linear"]) @ d_out.T,
                               atol=1e-12)
    np.testing.assert_allclose(modules["full_rotated"], np.array(modules["full"]) @ d_out.T,
                               atol=1e-10)
    # 0e x 1o scales the vector; 1o x 1e gives the dot product (0o), the cross product (1o)
    # and a traceless symmetric part (2o), each normalised by its coupling coefficients
    u, v = np.array(modules["u"]), np.array(modules["v"])
    product = np.array(modules["elementwise"])
    assert modules["elementwise_out"] == "1x1o+1x0o+1x1o+1x2o"
    np.testing.assert_allclose(product[:, :3], u[:, :1] * v[:, :3], atol=1e-12)
    np.testing.assert_allclose(product[:, 3], (u[:, 1:] * v[:, 3:]).sum(1) / np.sqrt(3),
                               atol=1e-12)
    np.testing.assert_allclose(product[:, 4:7], np.cross(u[:, 1:], v[:, 3:]) / np.sqrt(2),
                               atol=1e-12)
    assert np.array(modules["external"]).shape == (4, 8)
    np.testing.assert_allclose(modules["full_scripted"], modules["full"], atol=1e-12)


def test_norms_and_cartesian_tensors(e3nn):
    vectors = np.array(e3nn["norm"]["vectors"]).reshape(3, 2, 3)
    np.testing.assert_allclose(e3nn["norm"]["norms"], np.linalg.norm(vectors, axis=2),
                               atol=1e-12)
    cartesian = e3nn["cartesian"]
    matrix = np.array(cartesian["matrix"])
    rotation = np.array(e3nn["rotation"])
    assert cartesian["irreps"] == "1x0e+1x2e"
    np.testing.assert_allclose(cartesian["round_trip"], matrix, atol=1e-12)
    # the scalar part is the trace, normalised; rotating the matrix rotates the rank-2 part
    found, rotated = np.array(cartesian["irreps_of_matrix"]), cartesian["irreps_of_rotated"]
    assert np.isclose(abs(found[0]), abs(np.trace(matrix)) / np.sqrt(3))
    np.testing.assert_allclose(rotated, _block_diag(1, _wigner(rotation, 2)) @ found,
                               atol=1e-10)


def test_network_energy_is_invariant_and_forces_rotate(e3nn):
    network = e3nn["network"]
    rotation = np.array(e3nn["rotation"])
    prediction, rotated = np.array(network["prediction"]), np.array(network["prediction_rotated"])
    forces = np.array(network["forces"])
    np.testing.assert_allclose(rotated[:, 0], prediction[:, 0], atol=1e-12)
    np.testing.assert_allclose(rotated[:, 1:], prediction[:, 1:] @ rotation.T, atol=1e-12)
    np.testing.assert_allclose(network["forces_rotated"], forces @ rotation.T, atol=1e-12)
    assert np.abs(prediction[:, 1:]).max() > 1e-3 and np.abs(forces).max() > 1e-3
    # energies depend on relative positions only: each graph's forces cancel
    np.testing.assert_allclose(forces[:3].sum(0), 0, atol=1e-12)
    np.testing.assert_allclose(forces[3:].sum(0), 0, atol=1e-12)
    assert np.isclose(network["force_finite_difference"], forces[0, 1], rtol=1e-6)
    losses = e3nn["training"]["losses"]
    assert all(b < a for a, b in zip(losses, losses[1:]))


# ---- normflows ----

def _standard_normal_log_density(z: np.ndarray) -> np.ndarray:
    return -0.5 * (z ** 2).sum(-1) - np.log(2 * np.pi)


def test_two_moons_target(normflows):
    data = np.array(normflows["data"])
    assert data.shape == (64, 2)
    a = np.abs(data[:, 0])
    expected = (-0.5 * ((np.linalg.norm(data, axis=1) - 2) / 0.2) ** 2
                - 0.5 * ((a - 2) / 0.3) ** 2 + np.log1p(np.exp(-4 * a / 0.09)))
    np.testing.assert_allclose(normflows["data_log_prob"], expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("flow", ["real_nvp", "glow", "nsf", "masked_affine", "residual"])
def test_flows_densities_are_changes_of_variables(normflows, flow):
    found = normflows["forward_kld"][flow]
    # a residual flow's forward map is a fixed-point iteration, stopped at a tolerance
    iterated = 1e-4 if flow == "residual" else 1e-10
    probe = np.array(normflows["probe"])
    jacobian = np.array(found["jacobian"])
    np.testing.assert_allclose(jacobian, found["finite_difference"], rtol=1e-6, atol=1e-8)
    log_det = np.log(np.abs(np.linalg.det(jacobian)))
    np.testing.assert_allclose(found["inverse_log_det"], log_det, atol=1e-10)
    np.testing.assert_allclose(found["log_prob"],
                               _standard_normal_log_density(np.array(found["z"])) + log_det,
                               atol=1e-10)
    np.testing.assert_allclose(found["round_trip"], probe, atol=iterated)
    assert np.array(found["samples"]).shape == (5, 2)
    np.testing.assert_allclose(found["sample_log_q"], found["sample_log_prob"], atol=iterated)
    losses = found["losses"]
    assert all(b < a for a, b in zip(losses, losses[1:]))


def test_zero_initialised_couplings_start_as_the_identity(normflows):
    # the first forward KL of a flow that starts as the identity is the base's cross entropy
    cross_entropy = -_standard_normal_log_density(np.array(normflows["data"])).mean()
    for flow in ["real_nvp", "masked_affine"]:
        assert np.isclose(normflows["forward_kld"][flow]["losses"][0], cross_entropy,
                          rtol=1e-12)


def test_planar_and_radial_flows_log_determinants(normflows):
    found = normflows["reverse_kld"]
    base = np.array(found["base"])
    loc, log_scale = np.array(found["base_loc"]), np.array(found["base_log_scale"])
    expected = (-0.5 * (((base - loc) / np.exp(log_scale)) ** 2).sum(1) - log_scale.sum()
                - np.log(2 * np.pi))
    np.testing.assert_allclose(found["base_log_q"], expected, atol=1e-12)
    np.testing.assert_allclose(found["log_det"],
                               np.log(np.abs(np.linalg.det(np.array(found["jacobian"])))),
                               atol=1e-10)
    assert np.array(found["pushed"]).shape == (4, 2)
    assert np.isfinite(found["losses"]).all()
