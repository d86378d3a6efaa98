"""``ember._C``'s names that libraries call: the accelerator query, the privateuse1 name,
``_nn._parse_to`` (what ``Module.to`` and accelerate parse ``to``'s arguments with),
``_log_api_usage_once`` (torchmetrics)."""
import ember

C = ember._C


def test_accelerator_and_backend_names():
    expected = "cuda" if ember.cuda.is_available() else "cpu"
    assert C._get_accelerator() == ember.device(expected)
    assert C._get_privateuse1_backend_name() == "privateuseone"
    assert C._log_api_usage_once("torchmetrics.metric.Accuracy") is None


def test_parse_to_returns_device_dtype_non_blocking_memory_format():
    cpu = ember.device("cpu")
    assert C._nn._parse_to("cpu", ember.float16) == (cpu, ember.float16, False, None)
    assert C._nn._parse_to(ember.ones(1, dtype=ember.int8)) == (cpu, ember.int8, False, None)
    assert C._nn._parse_to(dtype=ember.float64, non_blocking=True) == (
        None, ember.float64, True, None)
    assert C._nn._parse_to(ember.float32, memory_format=ember.channels_last) == (
        None, ember.float32, False, ember.channels_last)
    assert C._nn._parse_to(cpu, ember.bfloat16, True) == (cpu, ember.bfloat16, True, None)


def test_tensor_metaclass_and_script_module_names():
    # Lightning annotates with them: Tensor's metaclass (ember's Tensor is a plain class) and
    # TorchScript's compiled-module type, of which ember's Python scripted modules are not
    assert C._TensorMeta is type(ember.Tensor) and isinstance(ember.Tensor, C._TensorMeta)
    assert ember.ScriptModule is C.ScriptModule
    assert not isinstance(ember.jit.script(ember.nn.Linear(2, 2)), ember.ScriptModule)
