"""kornia on ember, where kornia is installed (it is not a test dependency: its package requires
PyTorch; .ci/run installs it and its kornia-rs wheel without dependencies). Colour conversions,
filters (Gaussian, Sobel, median, Canny), geometry (rotation matrices, affine and perspective
warps, a homography from four points, rotate, resize, crop_and_resize), morphology, SSIM and
PSNR, a seeded AugmentationSequential, gradients through ``warp_affine`` and an image
registration loop run with ``torch`` resolved to ember in a fresh interpreter; the values are
checked here against NumPy formulas.
tests/conformance/test_thirdparty_s17_kornia_torchdiffeq_vs_torch.py compares every value with
real PyTorch's."""
from __future__ import annotations

import colorsys
import functools
import importlib.util
import textwrap

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from tests.acceptance import script_report

if importlib.util.find_spec("kornia") is None:  # (importing it would import torch)
    pytest.skip("kornia is not installed", allow_module_level=True)

SCRIPT = script_report.OUT_SOURCE + textwrap.dedent('''
    import json
    import torch
    import kornia
    import kornia.augmentation as K
    from kornia.geometry import transform as T


    torch.manual_seed(0)
    image = torch.rand(2, 3, 10, 12)
    report = {"image": out(image)}

    hsv = kornia.color.rgb_to_hsv(image)
    report["color"] = out({
        "gray": kornia.color.rgb_to_grayscale(image), "hsv": hsv,
        "hsv_back": kornia.color.hsv_to_rgb(hsv), "lab": kornia.color.rgb_to_lab(image)})

    report["filters"] = out({
        "gaussian": kornia.filters.gaussian_blur2d(image, (5, 5), (1.5, 1.5)),
        "sobel": kornia.filters.sobel(image),
        "median": kornia.filters.median_blur(image, (3, 3)),
        "canny": kornia.filters.canny(image, low_threshold=0.1, high_threshold=0.2)})

    center = torch.tensor([[5.5, 4.5], [3.0, 6.0]])
    rotation = T.get_rotation_matrix2d(center, torch.tensor([30.0, -45.0]),
                                       torch.tensor([[1.0, 1.0], [0.8, 0.8]]))
    src = torch.tensor([[[0.0, 0.0], [11.0, 0.0], [11.0, 9.0], [0.0, 9.0]]]).repeat(2, 1, 1)
    dst = src + torch.tensor([[[1.0, 0.5], [-1.0, 1.0], [-0.5, -1.0], [1.5, -0.5]]])
    homography = T.get_perspective_transform(src, dst)
    boxes = torch.tensor([[[1.0, 1.0], [7.0, 1.0], [7.0, 7.0], [1.0, 7.0]],
                          [[2.0, 2.0], [11.0, 2.0], [11.0, 8.0], [2.0, 8.0]]])
    report["geometry"] = out({
        "rotation_matrix": rotation,
        "warp_affine": T.warp_affine(image, rotation, (10, 12)),
        "homography": homography, "src": src, "dst": dst,
        "warp_perspective": T.warp_perspective(image, homography, (10, 12)),
        "rotate": T.rotate(image, torch.tensor([90.0, 15.0])),
        "resize": T.resize(image, (5, 6)),
        "resize_antialias": T.resize(image, (5, 6), antialias=True),
        "boxes": boxes, "crop_and_resize": T.crop_and_resize(image, boxes, (4, 4))})

    kernel = torch.ones(3, 3)
    report["morphology"] = out({"dilation": kornia.morphology.dilation(image, kernel),
                                "erosion": kornia.morphology.erosion(image, kernel)})

    blurred = kornia.filters.gaussian_blur2d(image, (3, 3), (1.0, 1.0))
    report["losses"] = out({"blurred": blurred,
                            "ssim_loss": kornia.losses.ssim_loss(image, blurred, 5),
                            "ssim_map": kornia.metrics.ssim(image, blurred, 5),
                            "psnr": kornia.metrics.psnr(image, blurred, 1.0),
                            "psnr_loss": kornia.losses.psnr_loss(image, blurred, 1.0)})

    augment = K.AugmentationSequential(
        K.RandomHorizontalFlip(p=0.5),
        K.RandomAffine(degrees=20.0, translate=(0.1, 0.1), scale=(0.9, 1.1), p=1.0),
        K.ColorJitter(0.2, 0.2, 0.2, 0.05, p=1.0))
    torch.manual_seed(7)
    augmented = augment(image)
    params = {p.name: {k: out(v) for k, v in p.data.items() if isinstance(v, torch.Tensor)}
              for p in augment._params}
    torch.manual_seed(7)
    report["augmentation"] = {"output": out(augmented), "params": params,
                              "repeat": out(augment(image))}

    # gradients of a weighted sum of warp_affine's output, by the image and by the matrix
    img = image[:1].clone().requires_grad_(True)
    matrix = rotation[:1].clone().requires_grad_(True)
    weights = torch.linspace(0, 1, 12)
    (T.warp_affine(img, matrix, (10, 12)) * weights).sum().backward()
    report["warp_grads"] = out({"weights": weights, "image": img.grad, "matrix": matrix.grad})

    # image registration: recover a known affine warp with Adam
    target_matrix = torch.tensor([[[1.0, 0.1, 0.8], [-0.1, 1.0, -0.5]]])
    smooth = kornia.filters.gaussian_blur2d(image[:1], (5, 5), (2.0, 2.0))
    target = T.warp_affine(smooth, target_matrix, (10, 12))
    estimate = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]], requires_grad=True)
    optimizer = torch.optim.Adam([estimate], lr=0.05)
    losses = []
    for step in range(8):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(T.warp_affine(smooth, estimate, (10, 12)), target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    report["registration"] = {"losses": losses, "matrix": out(estimate),
                              "target": out(target_matrix)}
    print(json.dumps(report))
''')

# the script's report, run under ``command_prefix`` (``-m ember.compat``: on ember)
run_script = functools.partial(script_report.run_script, SCRIPT, "kornia_script.py")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    return run_script("-m", "ember.compat", tmp_path=tmp_path_factory.mktemp("kornia"))


def _correlate(planes: np.ndarray, kernel: np.ndarray, pad_mode: str) -> np.ndarray:
    """Each (..., H, W) plane correlated with ``kernel``, padded to keep its size."""
    ph, pw = kernel.shape[0] // 2, kernel.shape[1] // 2
    padded = np.pad(planes, [(0, 0)] * (planes.ndim - 2) + [(ph, ph), (pw, pw)], mode=pad_mode)
    return np.einsum("...ij,ij->...", sliding_window_view(padded, kernel.shape, axis=(-2, -1)),
                     kernel)


def _gaussian(size: int, sigma: float) -> np.ndarray:
    x = np.arange(size) - size // 2
    g = np.exp(-x ** 2 / (2 * sigma ** 2))
    return np.outer(g, g) / g.sum() ** 2


def _bilinear_matrix(xs: np.ndarray, ys: np.ndarray, h: int, w: int) -> np.ndarray:
    """The (points, h*w) weights of bilinear samples at pixel coordinates (xs, ys), zero
    outside the image (grid_sample's zeros padding with align_corners=True)."""
    weights = np.zeros((xs.size, h * w))
    x0, y0 = np.floor(xs).astype(int), np.floor(ys).astype(int)
    for dx in (0, 1):
        for dy in (0, 1):
            xi, yi = x0 + dx, y0 + dy
            wgt = (1 - np.abs(xs - xi)) * (1 - np.abs(ys - yi))
            inside = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
            rows = np.nonzero(inside)[0]
            weights[rows, yi[inside] * w + xi[inside]] += wgt[inside]
    return weights


def _warp_matrix(dst_to_src: np.ndarray, h: int, w: int) -> np.ndarray:
    """Bilinear weights of a warp whose output pixel (x, y) samples ``dst_to_src @ (x, y, 1)``
    (divided by its third coordinate) of an h x w input."""
    ys, xs = np.mgrid[0:h, 0:w].reshape(2, -1).astype(np.float64)
    mapped = dst_to_src @ np.stack([xs, ys, np.ones_like(xs)])
    return _bilinear_matrix(mapped[0] / mapped[2], mapped[1] / mapped[2], h, w)


def _warp(planes: np.ndarray, src_to_dst: np.ndarray) -> np.ndarray:
    """kornia's warp of (C, H, W) planes by a 2x3 or 3x3 source-to-destination matrix."""
    h, w = planes.shape[-2:]
    full = np.vstack([src_to_dst, [0, 0, 1]]) if src_to_dst.shape[0] == 2 else src_to_dst
    weights = _warp_matrix(np.linalg.inv(full), h, w)
    return (planes.reshape(len(planes), -1) @ weights.T).reshape(planes.shape)


def _rotation(center, degrees: float, scale: float) -> np.ndarray:
    """OpenCV's getRotationMatrix2D: rotation by ``degrees`` (counter-clockwise on screen)
    about ``center``, scaled."""
    a, b = scale * np.cos(np.radians(degrees)), scale * np.sin(np.radians(degrees))
    cx, cy = center
    return np.array([[a, b, (1 - a) * cx - b * cy], [-b, a, b * cx + (1 - a) * cy]])


def test_color_conversions_match_numpy(report):
    image = np.array(report["image"], np.float64)
    color = report["color"]
    gray = np.tensordot([0.299, 0.587, 0.114], image, axes=(0, 1))[:, None]
    np.testing.assert_allclose(color["gray"], gray, atol=1e-6)
    hsv = np.array(color["hsv"])
    expected = np.array([[colorsys.rgb_to_hsv(*pixel) for pixel in picture.reshape(3, -1).T]
                         for picture in image])
    hue_gap = np.angle(np.exp(1j * (hsv[:, 0].reshape(2, -1) - 2 * np.pi * expected[..., 0])))
    np.testing.assert_allclose(hue_gap, 0, atol=1e-5)
    np.testing.assert_allclose(hsv[:, 1:].reshape(2, 2, -1), expected[..., 1:].transpose(0, 2, 1),
                               atol=1e-5)
    np.testing.assert_allclose(color["hsv_back"], image, atol=1e-5)
    linear = np.where(image > 0.04045, ((image + 0.055) / 1.055) ** 2.4, image / 12.92)
    to_xyz = np.array([[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169],
                       [0.019334, 0.119193, 0.950227]])
    xyz = np.einsum("ij,bjhw->bihw", to_xyz, linear) / np.array([0.95047, 1.0, 1.08883])[:, None,
                                                                                         None]
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 4 / 29)
    lab = np.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], 1)
    np.testing.assert_allclose(color["lab"], lab, atol=1e-3)


def test_filters_and_morphology_match_numpy(report):
    image = np.array(report["image"], np.float64)
    filters = report["filters"]
    gaussian = _correlate(image, _gaussian(5, 1.5), "reflect")
    np.testing.assert_allclose(filters["gaussian"], gaussian, atol=1e-6)
    sobel_x = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]) / 8
    gx, gy = (_correlate(image, k, "edge") for k in (sobel_x, sobel_x.T))
    np.testing.assert_allclose(filters["sobel"], np.sqrt(gx ** 2 + gy ** 2 + 1e-6), atol=1e-6)
    padded = np.pad(image, [(0, 0), (0, 0), (1, 1), (1, 1)], mode="reflect")
    median = np.median(sliding_window_view(padded, (3, 3), axis=(-2, -1)), axis=(-2, -1))
    np.testing.assert_allclose(filters["median"], median, atol=1e-7)
    magnitude, edges = (np.array(x) for x in filters["canny"])
    assert magnitude.shape == edges.shape == (2, 1, 10, 12)
    assert set(np.unique(edges)) <= {0.0, 1.0} and edges.any()
    assert (magnitude[edges == 1] > 0.1).all()  # an edge passes the low threshold
    windows = sliding_window_view(np.pad(image, [(0, 0), (0, 0), (1, 1), (1, 1)], mode="edge"),
                                  (3, 3), axis=(-2, -1))
    morphology = report["morphology"]
    np.testing.assert_allclose(morphology["dilation"], windows.max(axis=(-2, -1)), atol=0)
    np.testing.assert_allclose(morphology["erosion"], windows.min(axis=(-2, -1)), atol=0)


def test_geometry_matches_numpy(report):
    image = np.array(report["image"], np.float64)
    geometry = report["geometry"]
    rotations = [_rotation((5.5, 4.5), 30.0, 1.0), _rotation((3.0, 6.0), -45.0, 0.8)]
    np.testing.assert_allclose(geometry["rotation_matrix"], rotations, atol=1e-6)
    for b in range(2):
        np.testing.assert_allclose(geometry["warp_affine"][b], _warp(image[b], rotations[b]),
                                   atol=1e-5)
        homography = np.array(geometry["homography"][b])
        src = np.c_[geometry["src"][b], np.ones(4)]
        mapped = src @ homography.T
        np.testing.assert_allclose(mapped[:, :2] / mapped[:, 2:], geometry["dst"][b], atol=1e-4)
        np.testing.assert_allclose(geometry["warp_perspective"][b], _warp(image[b], homography),
                                   atol=1e-4)
        # rotate turns about the image centre
        rotated = _warp(image[b], _rotation((5.5, 4.5), [90.0, 15.0][b], 1.0))
        np.testing.assert_allclose(geometry["rotate"][b], rotated, atol=1e-5)
        (x0, y0), _, (x1, y1), _ = geometry["boxes"][b]
        ys, xs = np.meshgrid(np.linspace(y0, y1, 4), np.linspace(x0, x1, 4), indexing="ij")
        crop = image[b].reshape(3, -1) @ _bilinear_matrix(xs.ravel(), ys.ravel(), 10, 12).T
        np.testing.assert_allclose(geometry["crop_and_resize"][b], crop.reshape(3, 4, 4),
                                   atol=1e-5)
    # halving with half-pixel centres averages each 2x2 block
    blocks = image.reshape(2, 3, 5, 2, 6, 2).mean(axis=(3, 5))
    np.testing.assert_allclose(geometry["resize"], blocks, atol=1e-6)
    antialiased = np.array(geometry["resize_antialias"])
    assert antialiased.shape == blocks.shape and antialiased.std() < blocks.std()


def test_ssim_and_psnr_match_numpy(report):
    image = np.array(report["image"], np.float64)
    losses = report["losses"]
    blurred = np.array(losses["blurred"], np.float64)
    np.testing.assert_allclose(blurred, _correlate(image, _gaussian(3, 1.0), "reflect"),
                               atol=1e-6)
    mse = ((image - blurred) ** 2).mean()
    assert np.isclose(losses["psnr"], 10 * np.log10(1 / mse), rtol=1e-5)
    assert np.isclose(losses["psnr_loss"], -losses["psnr"], rtol=1e-6)

    def mean(x):
        return _correlate(x, _gaussian(5, 1.5), "reflect")
    mu1, mu2 = mean(image), mean(blurred)
    var1, var2 = mean(image ** 2) - mu1 ** 2, mean(blurred ** 2) - mu2 ** 2
    cov = mean(image * blurred) - mu1 * mu2
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    ssim = ((2 * mu1 * mu2 + c1) * (2 * cov + c2)
            / ((mu1 ** 2 + mu2 ** 2 + c1) * (var1 + var2 + c2)))
    np.testing.assert_allclose(losses["ssim_map"], ssim, atol=1e-4)
    assert np.isclose(losses["ssim_loss"], (1 - ssim.mean()) / 2, atol=1e-5)


def test_seeded_augmentation_repeats_within_its_ranges(report):
    augmentation = report["augmentation"]
    assert augmentation["output"] == augmentation["repeat"]  # one seed, one result
    params = augmentation["params"]
    assert sorted(params) == ["ColorJitter_2", "RandomAffine_1", "RandomHorizontalFlip_0"]
    affine = params["RandomAffine_1"]
    assert all(abs(a) <= 20 for a in affine["angle"])
    assert np.all(np.abs(affine["translations"]) <= [1.2, 1.0])
    assert np.all((np.array(affine["scale"]) >= 0.9) & (np.array(affine["scale"]) <= 1.1))
    jitter = params["ColorJitter_2"]
    assert all(0.8 <= b <= 1.2 for b in jitter["brightness_factor"])
    assert all(abs(h) <= 0.05 for h in jitter["hue_factor"])
    assert np.array(augmentation["output"]).shape == (2, 3, 10, 12)


def test_warp_affine_gradients_match_numpy(report):
    image = np.array(report["image"], np.float64)[0]
    grads = report["warp_grads"]
    rotation = np.array(report["geometry"]["rotation_matrix"][0])
    weights = np.broadcast_to(np.array(grads["weights"]), (10, 12)).ravel()

    def objective(matrix):
        return (_warp(image, matrix).reshape(3, -1) * weights).sum()
    # the warp is linear in the image: its gradient is the sampling matrix's transpose
    sampling = _warp_matrix(np.linalg.inv(np.vstack([rotation, [0, 0, 1]])), 10, 12)
    np.testing.assert_allclose(grads["image"][0], np.broadcast_to(weights @ sampling,
                                                                  (3, 120)).reshape(3, 10, 12),
                               atol=1e-5)
    step = 1e-6
    numeric = np.zeros((2, 3))
    for index in np.ndindex(2, 3):
        delta = np.zeros((2, 3))
        delta[index] = step
        numeric[index] = (objective(rotation + delta) - objective(rotation - delta)) / (2 * step)
    np.testing.assert_allclose(grads["matrix"][0], numeric, rtol=1e-3, atol=1e-3)


def test_registration_converges_toward_the_target(report):
    registration = report["registration"]
    losses = registration["losses"]
    assert losses[-1] < 0.2 * losses[0]
    target = np.array(registration["target"])
    start = np.array([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
    assert np.abs(np.array(registration["matrix"]) - target).sum() < np.abs(start - target).sum()
