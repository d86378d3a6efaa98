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
