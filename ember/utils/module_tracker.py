"""``torch.utils.module_tracker``: which modules the code running now is inside."""
from __future__ import annotations

import logging

from ember.autograd.engine import current_graph_task_id, queue_callback
from ember.autograd.graph import register_multi_grad_hook
from ember.nn.modules._hooks import register_module_forward_hook, register_module_forward_pre_hook
from ember.utils._pytree import tree_flatten

__all__ = ["ModuleTracker"]

logger = logging.getLogger(__name__)


class ModuleTracker:
    """``with ModuleTracker() as tracker:`` keeps ``tracker.parents``, the names of the
    modules whose forward (or whose backward, for outputs that require grad) is running, plus
    ``"Global"``. A module first met outside any known parent is named by its class, and its
    submodules ``"Parent.child"``.
    """

    def __init__(self) -> None:
        self.parents = {"Global"}
        self._known_modules: dict = {}
        self._named_children_of: set = set()
        self._handles: list = []
        self._reset_queued = False

    @property
    def is_bw(self) -> bool:
        """Whether a backward pass is running now."""
        return current_graph_task_id() != -1

    def _name(self, module) -> str:
        name = self._known_modules.setdefault(module, type(module).__name__)
        if module not in self._named_children_of:
            self._named_children_of.add(module)
            for child_name, child in module.named_children():
                self._known_modules[child] = f"{name}.{child_name}"
                self._name(child)
        return name

    def _reset_after_backward(self) -> None:
        """Once the running backward pass ends, only "Global" is a parent again: a module
        whose inputs need no gradient is entered by the backward pass but never left."""
        if self._reset_queued:
            return

        def reset() -> None:
            self.parents = {"Global"}
            self._reset_queued = False

        queue_callback(reset)
        self._reset_queued = True

    def _enter(self, name: str, phase: str):
        def enter(*_) -> None:
            if phase == "backward":
                self._reset_after_backward()
            if name in self.parents:
                logger.info("The module hierarchy tracking seems to be broken as this Module "
                            "was already entered. %s during %s", name, phase)
            self.parents.add(name)
        return enter

    def _leave(self, name: str, phase: str):
        def leave(*_) -> None:
            if name in self.parents:
                self.parents.remove(name)
            else:
                logger.info("The Module hierarchy tracking is confused as we're exiting a "
                            "Module that was never entered. %s during %s", name, phase)
        return leave

    def _hook_grads(self, tree, fn) -> None:
        """Run ``fn`` when the gradients of the tensors in ``tree`` that require grad are
        computed (the backward pass reaching or leaving the module)."""
        from ember._tensor import Tensor
        tensors = [t for t in tree_flatten(tree)[0] if isinstance(t, Tensor) and t.requires_grad]
        if tensors:
            self._handles.append(register_multi_grad_hook(tensors, fn))

    def _forward_pre_hook(self, module, args) -> None:
        name = self._name(module)
        self._enter(name, "forward")()
        self._hook_grads(args, self._leave(name, "backward"))

    def _forward_hook(self, module, args, output) -> None:
        name = self._name(module)
        self._leave(name, "forward")()
        self._hook_grads(output, self._enter(name, "backward"))

    def __enter__(self) -> ModuleTracker:
        self._handles += [register_module_forward_pre_hook(self._forward_pre_hook),
                          register_module_forward_hook(self._forward_hook)]
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
