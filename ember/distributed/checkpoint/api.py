"""``torch.distributed.checkpoint.api``: the error a failed collective checkpoint step raises
on every rank, naming the ranks that failed and why."""
from __future__ import annotations

__all__ = ["CheckpointException"]


class CheckpointException(BaseException):
    """A checkpoint step failed on some ranks; ``failures`` maps each such rank to its error
    (a BaseException, as PyTorch's, so that it is not swallowed by ``except Exception``)."""

    def __init__(self, msg: str, failures: dict) -> None:
        super().__init__(msg, failures)
        self._failures = failures

    @property
    def failures(self) -> dict:
        return self._failures

    def __str__(self) -> str:
        lines = [f"CheckpointException ranks:{list(self._failures)}"]
        for rank, error in self._failures.items():
            lines.append(f"rank {rank}: {type(error).__name__}: {error}")
        return "\n".join(lines)
