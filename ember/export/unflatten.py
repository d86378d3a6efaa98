"""``torch.export.unflatten``: an exported program as a module tree shaped like the original
(submodules at their names, parameters and buffers at their fully qualified names)."""
from __future__ import annotations

from ember.export.exported_program import ExportedProgram
from ember.nn import Module

__all__ = ["unflatten", "UnflattenedModule"]


class UnflattenedModule(Module):
    """The module tree of an ExportedProgram; ``forward`` runs the whole exported graph
    (ember does not split it into one graph per submodule)."""

    def __init__(self, ep: ExportedProgram) -> None:
        super().__init__()
        gm = ep.module()
        for name, child in gm.named_children():
            self.add_module(name, child)
        for name, p in gm._parameters.items():
            self.register_parameter(name, p)
        for name, b in gm._buffers.items():
            self.register_buffer(name, b, name not in gm._non_persistent_buffers_set)
        for spec in ep.graph_signature.input_specs:
            if spec.target is not None and "." not in spec.target and \
                    spec.target in ep.constants and not hasattr(self, spec.target):
                object.__setattr__(self, spec.target, ep.constants[spec.target])
        self.graph = gm.graph
        self._program = type(gm).forward  # generated code; it reads its state from ``self``

    def forward(self, *args, **kwargs):
        return self._program(self, *args, **kwargs)


def unflatten(module: ExportedProgram, flat_args_adapter=None) -> UnflattenedModule:
    """The module tree of ``module`` (an ExportedProgram), with the original fully qualified
    names for its state.

    Example::

        >>> m = ember.export.unflatten(ember.export.export(model, (x,)))
        >>> m.state_dict().keys() == model.state_dict().keys()
    """
    return UnflattenedModule(module)
