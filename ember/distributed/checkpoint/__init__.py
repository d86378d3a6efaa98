"""``torch.distributed.checkpoint`` (DCP): save and load state dicts from many ranks at once,
each rank writing its own shards and loading into any other layout.

``save`` / ``load`` run the planner (``DefaultSavePlanner`` / ``DefaultLoadPlanner``) and
storage layer (``FileSystemWriter`` / ``FileSystemReader``, or ``hf_storage``'s safetensors
ones) on every rank; ``state_dict`` gets and sets model and optimizer state dicts keyed by
parameter names, through DDP and FSDP wrappers. ember writes its metadata as JSON and never
unpickles checkpoint files with plain pickle (NOTE [ ember's DCP files ] in filesystem.py).

Example (single process, or every rank of ``mpiexec -n 2``)::

    import ember.distributed.checkpoint as dcp
    dcp.save({"model": model.state_dict(), "step": 3}, checkpoint_id="ckpt")
    state = {"model": model.state_dict(), "step": 0}
    dcp.load(state, checkpoint_id="ckpt")     # tensors filled in place, state["step"] == 3
"""
from ember.distributed.checkpoint.api import CheckpointException
from ember.distributed.checkpoint.default_planner import DefaultLoadPlanner, DefaultSavePlanner
from ember.distributed.checkpoint.filesystem import FileSystemReader, FileSystemWriter
from ember.distributed.checkpoint.hf_storage import (
    HuggingFaceStorageReader,
    HuggingFaceStorageWriter,
)
from ember.distributed.checkpoint.metadata import (
    BytesStorageMetadata,
    ChunkStorageMetadata,
    Metadata,
    TensorStorageMetadata,
)
from ember.distributed.checkpoint.planner import (
    LoadPlan,
    LoadPlanner,
    ReadItem,
    SavePlan,
    SavePlanner,
    WriteItem,
)
from ember.distributed.checkpoint.state_dict_loader import load, load_state_dict
from ember.distributed.checkpoint.state_dict_saver import async_save, save, save_state_dict
from ember.distributed.checkpoint.storage import StorageReader, StorageWriter

__all__ = ["BytesStorageMetadata", "CheckpointException", "ChunkStorageMetadata",
           "DefaultLoadPlanner", "DefaultSavePlanner", "FileSystemReader", "FileSystemWriter",
           "HuggingFaceStorageReader", "HuggingFaceStorageWriter", "LoadPlan", "LoadPlanner",
           "Metadata", "ReadItem", "SavePlan", "SavePlanner", "StorageReader", "StorageWriter",
           "TensorStorageMetadata", "WriteItem", "async_save", "load", "load_state_dict", "save",
           "save_state_dict"]
