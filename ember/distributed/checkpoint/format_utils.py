"""Converting between distributed checkpoints and single ``torch.save`` files
(``torch.distributed.checkpoint.format_utils``), in one process."""
from __future__ import annotations

import os

from ember.distributed.checkpoint.default_planner import _EmptyStateDictLoadPlanner
from ember.distributed.checkpoint.filesystem import FileSystemReader
from ember.distributed.checkpoint.state_dict_loader import _load_state_dict
from ember.distributed.checkpoint.state_dict_saver import save

__all__ = ["_EmptyStateDictLoadPlanner", "_load_state_dict", "dcp_to_torch_save",
           "torch_save_to_dcp"]


def dcp_to_torch_save(dcp_checkpoint_dir: str | os.PathLike,
                      torch_save_path: str | os.PathLike) -> None:
    """Write the whole distributed checkpoint in ``dcp_checkpoint_dir`` as one ``torch.save``
    file, nested as it was saved.

    Example::

        >>> dcp_to_torch_save("ckpt", "model.pt"); state = ember.load("model.pt")
    """
    from ember.serialization import save as torch_save
    state_dict: dict = {}
    _load_state_dict(state_dict, storage_reader=FileSystemReader(dcp_checkpoint_dir),
                     planner=_EmptyStateDictLoadPlanner(), no_dist=True)
    torch_save(state_dict, torch_save_path)


def torch_save_to_dcp(torch_save_path: str | os.PathLike,
                      dcp_checkpoint_dir: str | os.PathLike) -> None:
    """Write the state dict in the ``torch.save`` file ``torch_save_path`` as a distributed
    checkpoint (read with ``weights_only=True``: the file runs no code)."""
    from ember.serialization import load as torch_load
    save(torch_load(torch_save_path, weights_only=True), checkpoint_id=dcp_checkpoint_dir,
         no_dist=True)
