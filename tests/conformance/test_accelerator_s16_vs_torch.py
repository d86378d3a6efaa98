"""``ember.accelerator`` against ``torch.accelerator`` on this machine: the same functions, and
where neither library has a device, the same errors."""
import warnings

import pytest

import ember

torch = pytest.importorskip("torch")

# CUDA graphs behind a device-generic class: not in ember.accelerator (ember.cuda has them)
NOT_BUILT = {"Graph"}


def test_same_functions():
    assert set(torch.accelerator.__all__) - NOT_BUILT <= set(dir(ember.accelerator))


@pytest.mark.skipif(torch.accelerator.is_available() or ember.accelerator.is_available(),
                    reason="an accelerator is usable")
@pytest.mark.parametrize("name", sorted(set(torch.accelerator.__all__) - NOT_BUILT))
def test_same_answers_without_a_device(name):
    args = (0,) if name in ("set_device_index", "set_device_idx", "device_index") else ()

    def outcome(module):
        try:
            result = getattr(module.accelerator, name)(*args)
            if name == "device_index":
                with result:
                    pass
            return ("value", result)
        except Exception as e:
            return (type(e).__name__, str(e))

    with warnings.catch_warnings(record=True) as ember_warnings:
        warnings.simplefilter("always")
        got = outcome(ember)
    with warnings.catch_warnings(record=True) as torch_warnings:
        warnings.simplefilter("always")
        expected = outcome(torch)
    assert got == expected
    assert [str(w.message) for w in ember_warnings] == [str(w.message) for w in torch_warnings]


def test_set_stream_needs_a_stream():
    for module in (ember, torch):
        with pytest.raises(TypeError):
            module.accelerator.set_stream(None)


def test_cpu_module_matches_torch():
    assert set(torch.cpu.__all__) <= set(ember.cpu.__all__)
    ours, theirs = ember.cpu.get_capabilities(), torch.cpu.get_capabilities()
    shared = set(ours) & set(theirs)
    assert {"architecture", "num_logical_cores"} <= shared
    assert {k: ours[k] for k in shared} == {k: theirs[k] for k in shared}
