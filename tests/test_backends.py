import ember


def test_backend_switches_read_by_pytorch_code():
    assert ember.backends.mps.is_available() is False
    ember.backends.cudnn.deterministic = True
    assert ember.backends.cudnn.deterministic is True
    ember.backends.cudnn.deterministic = False
    assert ember.accelerator.is_available() == ember.cuda.is_available()
    if not ember.cuda.is_available():
        assert ember.accelerator.current_accelerator() is None
