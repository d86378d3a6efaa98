"""``torch.distributed.checkpoint.stateful``: objects that ``save`` and ``load`` handle through
their own ``state_dict`` / ``load_state_dict`` (a model, an optimizer, a dataloader...)."""
from typing import Any, Protocol, runtime_checkable

__all__ = ["Stateful"]


@runtime_checkable
class Stateful(Protocol):
    """Anything with ``state_dict()`` and ``load_state_dict(state_dict)``: ``save`` stores its
    state dict, ``load`` loads into that state dict and hands it back to ``load_state_dict``."""

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state_dict: dict[str, Any]) -> None: ...
