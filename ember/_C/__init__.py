"""``torch._C``'s Python-visible names that user code reaches for: the ``__torch_function__``
switches (see ember/overrides.py) and the TorchScript settings scripts toggle. ember has no C
extension; this module only names them."""
from ember import overrides as _overrides
from ember._C import _functorch  # noqa: F401  (reached as torch._C._functorch.<name>)
from ember.overrides import (  # noqa: F401
                             DisableTorchFunction,
                             DisableTorchFunctionSubclass,
                             _disabled_torch_function_impl,
                             _get_current_function_mode,
                             _get_current_function_mode_stack,
                             _is_torch_function_enabled,
                             _is_torch_function_mode_enabled,
                             _len_torch_function_stack,
)

_pop_torch_function_stack = _overrides._pop_mode
_push_on_torch_function_stack = _overrides._push_mode


# the TorchDispatchMode stack (see ember/_dispatch.py)
def _len_torch_dispatch_stack() -> int:
    from ember import _dispatch
    return len(_dispatch.current_stack())


def _get_dispatch_stack_at(index: int):
    from ember import _dispatch
    return _dispatch.current_stack()[index]


def _pop_torch_dispatch_stack(mode_key=None):
    from ember import _dispatch
    return _dispatch.pop_mode()


def _push_on_torch_dispatch_stack(mode) -> None:
    from ember import _dispatch
    _dispatch.push_mode(mode)

from ember._tensor import Tensor as _Tensor  # noqa: E402
from ember.autograd.engine import current_graph_task_id as _current_graph_task_id  # noqa: E402,F401
from ember.autograd.engine import will_engine_execute_node as _will_engine_execute_node  # noqa: E402,F401
from ember.jit import _set_autocast_mode as _jit_set_autocast_mode  # noqa: E402,F401
from ember.jit._trace import Graph, Node, Value  # noqa: E402,F401  (a trace graph's classes)

# The metaclass of Tensor, which libraries name in annotations (Lightning's checkpoint loader):
# ember's Tensor is a plain class, so it is ``type``.
_TensorMeta = type(_Tensor)


class ScriptModule:
    """``torch.ScriptModule``: the compiled module object TorchScript keeps behind a scripted
    module. ember's scripted modules are Python modules (``ember.jit.ScriptModule``), so no
    object is one; the name is for annotations and ``isinstance`` checks."""


def _log_api_usage_once(event: str) -> None:
    """PyTorch records API-usage events for its telemetry; ember keeps none."""


def _get_tracing_state():
    """The active ``jit._get_trace_graph`` trace's state (``push_scope``, ``pop_scope``), None
    when not tracing (``jit.trace`` runs the function eagerly, with no tracer)."""
    from ember.jit._trace import get_tracing_state
    return get_tracing_state()


def _get_accelerator():
    """The current accelerator's device (``device(type='cpu')`` where none is usable)."""
    from ember.accelerator import current_accelerator
    from ember.backend.device import Device
    return current_accelerator() or Device("cpu")


def _are_functorch_transforms_active() -> bool:
    """Whether code runs inside a functorch transform that sees batched values: ember's
    ``func.vmap`` (it calls the function once per sample). ``func.grad``/``jvp`` differentiate
    through the ordinary autograd graph, so inside them every tensor op behaves as outside."""
    from ember import autograd
    return autograd._vmap_depth > 0


def _is_alias_of(tensor: _Tensor, other: _Tensor) -> bool:
    """Whether the two tensors view one storage (either a view of the other, or both views of
    a third), whatever parts of it they cover."""
    from ember.storage import root_array
    return root_array(tensor._data) is root_array(other._data)


def _get_privateuse1_backend_name() -> str:
    """The name of PyTorch's out-of-tree device slot (ember registers no backend there)."""
    return "privateuseone"


class _nn:
    """``torch._C._nn``: the helpers of ``torch.nn`` that libraries reach for."""

    @staticmethod
    def _parse_to(*args, **kwargs) -> tuple:
        """``Tensor.to``/``Module.to``'s arguments as (device, dtype, non_blocking,
        memory_format)."""
        from ember.ops.conversion import _parse_to
        flags = [a for a in args if isinstance(a, bool)]
        non_blocking = kwargs.get("non_blocking", flags[0] if flags else False)
        dtype, device, _, memory_format = _parse_to(args, dict(kwargs))
        return device, dtype, non_blocking, memory_format
