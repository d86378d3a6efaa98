"""torch.backends.cuda's attention flags against PyTorch: the global switches, the deprecated
sdp_kernel context and what scaled_dot_product_attention does on the CPU when they leave no
kernel."""
import warnings

import pytest

import ember

torch = pytest.importorskip("torch")


def _run(lib):
    cuda = lib.backends.cuda
    seen = []

    def flags():
        seen.append((cuda.flash_sdp_enabled(), cuda.math_sdp_enabled(),
                     cuda.mem_efficient_sdp_enabled(), cuda.cudnn_sdp_enabled()))
    q = lib.ones(1, 1, 2, 4)
    flags()
    cuda.enable_flash_sdp(False)
    flags()
    cuda.enable_math_sdp(False)
    flags()
    try:
        lib.nn.functional.scaled_dot_product_attention(q, q, q)
        seen.append("ran")
    except RuntimeError as exc:
        seen.append(str(exc).splitlines()[0][:40])
    cuda.enable_flash_sdp(True)
    cuda.enable_math_sdp(True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        with cuda.sdp_kernel(enable_math=False, enable_cudnn=False):
            flags()
    flags()
    return seen


def test_sdp_flags_match_torch():
    assert _run(ember) == _run(torch)


def test_preferred_linalg_library_matches_torch():
    for lib in (torch, ember):
        assert str(lib.backends.cuda.preferred_linalg_library()).lower().endswith("default")
