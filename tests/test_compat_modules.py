"""Small PyTorch modules that code imports by name: torch.cpu, torch.nn.attention,
torch.utils.hooks, torch.utils.model_zoo."""
import pytest

import ember


def test_cpu_device_module():
    assert ember.cpu.is_available() and ember.cpu.device_count() == 1
    ember.cpu.synchronize()
    a = ember.randn(4, 4)
    with ember.cpu.amp.autocast(dtype=ember.bfloat16):
        assert (a @ a).dtype == ember.bfloat16


def test_sdpa_kernel_accepts_backends_and_rejects_other_values():
    from ember.nn.attention import SDPBackend, sdpa_kernel
    q = ember.randn(1, 2, 3, 4)
    want = ember.nn.functional.scaled_dot_product_attention(q, q, q)
    with sdpa_kernel([SDPBackend.FLASH_ATTENTION, SDPBackend.MATH]):
        assert ember.equal(ember.nn.functional.scaled_dot_product_attention(q, q, q), want)
    with pytest.raises(TypeError), sdpa_kernel("math"):
        pass


def test_hooks_and_model_zoo_names():
    from ember.hub import load_state_dict_from_url
    from ember.utils.hooks import RemovableHandle
    from ember.utils.model_zoo import load_url
    assert load_url is load_state_dict_from_url
    m = ember.nn.Linear(2, 2)
    handle = m.register_forward_hook(lambda *args: None)
    assert isinstance(handle, RemovableHandle)
