import pytest

import ember


def test_backend_switches_read_by_pytorch_code():
    assert ember.backends.mps.is_available() is False
    ember.backends.cudnn.deterministic = True
    assert ember.backends.cudnn.deterministic is True
    ember.backends.cudnn.deterministic = False
    assert ember.accelerator.is_available() == ember.cuda.is_available()
    if not ember.cuda.is_available():
        assert ember.accelerator.current_accelerator() is None


def test_cudnn_and_mps_are_importable_submodules():
    import ember.backends.cudnn as cudnn
    import ember.backends.mps as mps
    assert cudnn is ember.backends.cudnn and mps is ember.backends.mps
    saved = cudnn.benchmark
    cudnn.benchmark = True
    assert ember.backends.cudnn.benchmark is True
    cudnn.benchmark = saved
    assert cudnn.is_available() == ember.cuda.is_available()
    assert mps.is_built() is False


def test_cuda_mkldnn_opt_einsum_openmp_are_importable_submodules():
    import ember.backends.cuda as cuda
    import ember.backends.mkldnn as mkldnn
    import ember.backends.openmp as openmp
    import ember.backends.opt_einsum as opt_einsum
    assert cuda is ember.backends.cuda and mkldnn is ember.backends.mkldnn
    assert openmp.is_available() is False and mkldnn.is_available() is False
    assert opt_einsum.is_available() == (opt_einsum.get_opt_einsum() is not None)
    with mkldnn.flags(enabled=True):
        assert mkldnn.enabled is True
    assert mkldnn.enabled is False


def test_sdp_flags_are_the_sdpa_kernel_choice():
    import warnings

    import ember.backends.cuda as cuda
    import ember.nn.functional as F
    from ember.nn.attention import SDPBackend, sdpa_kernel
    q = ember.randn(1, 2, 4, 8)
    assert cuda.flash_sdp_enabled() and cuda.math_sdp_enabled()
    cuda.enable_math_sdp(False)
    cuda.enable_flash_sdp(False)
    try:
        assert not cuda.math_sdp_enabled() and cuda.mem_efficient_sdp_enabled()
        with pytest.raises(RuntimeError, match="No viable backend"):  # none left on the CPU
            F.scaled_dot_product_attention(q, q, q)
    finally:
        cuda.enable_math_sdp(True)
        cuda.enable_flash_sdp(True)
    with sdpa_kernel(SDPBackend.MATH):
        assert cuda.math_sdp_enabled() and not cuda.flash_sdp_enabled()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with cuda.sdp_kernel(enable_flash=False, enable_mem_efficient=False,
                             enable_cudnn=False):
            assert cuda.math_sdp_enabled() and not cuda.flash_sdp_enabled()
    assert caught[0].category is FutureWarning
    assert cuda.flash_sdp_enabled()


def test_cuda_matmul_flags_libraries_and_fft_cache():
    import ember.backends.cuda as cuda
    cuda.matmul.allow_tf32 = True
    assert ember.backends.cuda.matmul.allow_tf32 is True
    cuda.matmul.allow_tf32 = False
    assert cuda.preferred_linalg_library() == "default"
    assert cuda.preferred_linalg_library("cusolver") == "cusolver"
    cuda.preferred_linalg_library("default")
    with pytest.raises(RuntimeError, match="Unknown input value"):
        cuda.preferred_blas_library("nope")
    cuda.cufft_plan_cache.clear()
    assert cuda.cufft_plan_cache[0].max_size == cuda.cufft_plan_cache.max_size


def test_type_aliases():
    import ember.types as types
    assert isinstance(3, types.Number.__args__) and isinstance(2.5, types.Number.__args__)
    assert ember.device in types.Device.__args__
