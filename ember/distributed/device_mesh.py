"""``DeviceMesh`` and ``init_device_mesh``: the ranks of the world laid out as an n-d array,
with a process group along each dimension, as ``torch.distributed.device_mesh``'s.

NOTE [ Mesh groups ]
For each mesh dimension ``d`` the mesh is cut into the 1-d rows that run along ``d`` (the
other coordinates fixed); each row is a process group. Every rank creates every row's group,
dimensions in order and rows in C order, because ``new_group`` is collective over the world;
it keeps the row it belongs to. A row that is the whole world in rank order is the default
group itself. A mesh sliced by dimension names reuses the parent's groups: the row through
this rank along a kept dimension is the same in the slice.
"""
from __future__ import annotations

import math

import numpy as np

import ember
from ember.distributed.process_group import (
    GroupMember,
    ProcessGroup,
    default_group,
    get_rank,
    get_world_size,
    init_process_group,
    is_initialized,
    new_group,
)

__all__ = ["DeviceMesh", "init_device_mesh"]


class DeviceMesh:
    """An n-d array of global ranks (``mesh``) on devices of one type, with a process group
    along each dimension (NOTE [ Mesh groups ]); every rank of the world must build it.

    Args:
        device_type: ``"cpu"`` or ``"cuda"``.
        mesh: the ranks (a nested list, array or tensor); each at most once.
        mesh_dim_names: a name per dimension, for ``mesh["dp"]`` and ``get_group("dp")``.

    Example::

        >>> # 4 ranks: data parallel over rows, tensor parallel over columns
        >>> mesh = DeviceMesh("cpu", [[0, 1], [2, 3]], mesh_dim_names=("dp", "tp"))
        >>> mesh["tp"].get_group()       # on rank 2: the group of ranks [2, 3]
    """

    def __init__(self, device_type: str, mesh, *, mesh_dim_names: tuple | None = None,
                 backend_override: tuple | None = None, _init_backend: bool = True) -> None:
        if _init_backend and not is_initialized():  # a mesh joins the world, as in PyTorch
            init_process_group()
        self.device_type = device_type
        ranks = np.asarray(mesh.tolist() if isinstance(mesh, ember.Tensor) else mesh,
                           dtype=np.int64)
        if ranks.size != len(np.unique(ranks)):
            raise RuntimeError(f"DeviceMesh cannot have duplicate values, but found "
                               f"{ranks.tolist()}")
        if mesh_dim_names is not None:
            mesh_dim_names = tuple(mesh_dim_names)
            if len(mesh_dim_names) != ranks.ndim:
                raise RuntimeError(f"mesh_dim_names {mesh_dim_names} must name each of the "
                                   f"mesh's {ranks.ndim} dimensions")
            if len(set(mesh_dim_names)) != len(mesh_dim_names):
                raise RuntimeError("Each mesh_dim_name must be unique. Found repeated "
                                   f"mesh_dim_name in mesh_dim_names {mesh_dim_names}")
        self._ranks = ranks
        self.mesh = ember.from_numpy(ranks.astype(np.int32))  # PyTorch's dtype for the mesh
        self.mesh_dim_names = mesh_dim_names
        where = np.argwhere(ranks == get_rank())
        self._coordinate = tuple(int(c) for c in where[0]) if len(where) else None
        self._groups = [self._dim_group(d) for d in range(ranks.ndim)] if _init_backend else []
        self._root_mesh = self  # the mesh this one was sliced from (itself if not a slice)

    def _dim_group(self, dim: int) -> ProcessGroup | int:
        """Create every row's group along ``dim``; return this rank's (or NON_GROUP_MEMBER)."""
        rows = np.moveaxis(self._ranks, dim, -1).reshape(-1, self._ranks.shape[dim])
        world = list(range(get_world_size()))
        mine = GroupMember.NON_GROUP_MEMBER
        for row in rows.tolist():
            group = default_group("DeviceMesh") if row == world else new_group(row)
            if self._coordinate is not None and get_rank() in row:
                mine = group
        return mine

    # ------------------------------------------------------------------------------------------
    # Shape

    @property
    def ndim(self) -> int:
        return self._ranks.ndim

    @property
    def shape(self) -> tuple:
        return tuple(self._ranks.shape)

    def size(self, mesh_dim: int | None = None) -> int:
        """The number of ranks in the mesh, or along ``mesh_dim``."""
        return int(self._ranks.size) if mesh_dim is None else self.shape[mesh_dim]

    def _dim(self, mesh_dim: int | str | None, op: str) -> int:
        if mesh_dim is None:
            if self.ndim > 1:
                raise RuntimeError(f"Found the DeviceMesh have {self.ndim} dimensions. Optional "
                                   f"kwarg `mesh_dim` needs to be specified when "
                                   f"device_mesh.ndim > 1 ({op}).")
            return 0
        if isinstance(mesh_dim, str):
            if self.mesh_dim_names is None or mesh_dim not in self.mesh_dim_names:
                raise KeyError(f"Mesh dimension '{mesh_dim}' does not exist. Available mesh "
                               f"dimensions are: mesh_dim_names={self.mesh_dim_names}")
            return self.mesh_dim_names.index(mesh_dim)
        return int(mesh_dim)

    # ------------------------------------------------------------------------------------------
    # Groups and ranks

    def get_group(self, mesh_dim: int | str | None = None) -> ProcessGroup:
        """The process group along ``mesh_dim`` (name or index; optional for a 1-d mesh)."""
        return self._groups[self._dim(mesh_dim, "get_group")]

    def get_all_groups(self) -> list:
        """The process group along each dimension."""
        return list(self._groups)

    def get_rank(self) -> int:
        """This process's global rank."""
        return get_rank()

    def get_local_rank(self, mesh_dim: int | str | None = None) -> int:
        """This rank's coordinate along ``mesh_dim`` (its rank in that dimension's group)."""
        dim = self._dim(mesh_dim, "get_local_rank")
        if self._coordinate is None:
            raise RuntimeError(f"Rank {get_rank()} is not part of the mesh {self}")
        return self._coordinate[dim]

    def get_coordinate(self) -> tuple | None:
        """This rank's coordinates in the mesh, or None if it is not in the mesh."""
        return self._coordinate

    # ------------------------------------------------------------------------------------------
    # Slicing

    def __getitem__(self, mesh_dim_names: str | tuple) -> "DeviceMesh":
        """The sub-mesh through this rank along the named dimensions (in the mesh's order)."""
        if self.mesh_dim_names is None:
            raise RuntimeError("Cannot slice a DeviceMesh without mesh_dim_names!")
        names = (mesh_dim_names,) if isinstance(mesh_dim_names, str) else tuple(mesh_dim_names)
        if names == self.mesh_dim_names:
            return self
        if any(n not in self.mesh_dim_names for n in names):
            raise KeyError(f"Invalid mesh_dim_names {names} specified. Valid mesh_dim_names are "
                           f"{list(self.mesh_dim_names)}.")
        dims = [self.mesh_dim_names.index(n) for n in names]
        if dims != sorted(dims):
            raise KeyError(f"Invalid mesh_dim_names {names} specified: they must follow the "
                           f"order of the mesh's dimensions {self.mesh_dim_names}.")
        if self._coordinate is None:
            raise RuntimeError(f"Rank {get_rank()} is not part of the mesh {self}")
        index = tuple(slice(None) if d in dims else c for d, c in enumerate(self._coordinate))
        sub = DeviceMesh(self.device_type, self._ranks[index], mesh_dim_names=names,
                         _init_backend=False)
        sub._groups = [self._groups[d] for d in dims]
        sub._root_mesh = self._root_mesh
        return sub

    @staticmethod
    def _concatenate(meshes: list) -> "DeviceMesh":
        """The mesh whose dimensions are those of ``meshes`` in order: the slice of their
        common root mesh by all their dimension names (as FSDP's mesh over data parallel and
        tensor parallel dimensions is the ``(dp, tp)`` mesh both were sliced from)."""
        roots = {id(m._root_mesh) for m in meshes}
        names = tuple(n for m in meshes for n in (m.mesh_dim_names or ()))
        if len(roots) != 1 or len(names) != sum(m.ndim for m in meshes):
            raise RuntimeError(f"DeviceMesh._concatenate: the meshes {meshes} must be named "
                               "slices of one root mesh")
        return meshes[0]._root_mesh[names]

    def __repr__(self) -> str:
        names = "" if self.mesh_dim_names is None else f", mesh_dim_names={self.mesh_dim_names}"
        return f"DeviceMesh('{self.device_type}', {self._ranks.tolist()}{names})"

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, DeviceMesh) and self.device_type == other.device_type
                and self.shape == other.shape and np.array_equal(self._ranks, other._ranks)
                and self.mesh_dim_names == other.mesh_dim_names)

    def __hash__(self) -> int:
        return hash((self.device_type, self.shape, tuple(self._ranks.reshape(-1).tolist()),
                     self.mesh_dim_names))


def init_device_mesh(device_type: str, mesh_shape: tuple, *,
                     mesh_dim_names: tuple | None = None,
                     backend_override: tuple | None = None) -> DeviceMesh:
    """A DeviceMesh of the whole world laid out in ``mesh_shape`` (ranks in C order); every
    rank must call it after ``init_process_group``.

    Example::

        >>> # mpiexec -n 4 python train.py
        >>> mesh = init_device_mesh("cpu", (2, 2), mesh_dim_names=("dp", "tp"))
        >>> mesh.get_local_rank("tp")
    """
    mesh_shape = tuple(int(n) for n in mesh_shape)
    if mesh_dim_names is not None and len(mesh_dim_names) != len(mesh_shape):
        raise RuntimeError("mesh_shape and mesh_dim_names should have same length! Found "
                           f"len(mesh_dim_names): {len(mesh_dim_names)} and "
                           f"len(mesh_shape):{len(mesh_shape)}.")
    if device_type and not device_type.isalpha():
        raise RuntimeError(f"Device type with index is not supported but got {device_type}. If "
                           "you maintained a 'ember.device' object, it's recommended to pass in "
                           "'device.type'.")
    if not is_initialized():
        init_process_group()
    size = get_world_size()
    if math.prod(mesh_shape) > size:
        raise RuntimeError(f"Mesh should not be bigger than default world size {size}, but "
                           f"found {math.prod(mesh_shape)} ranks!")
    if math.prod(mesh_shape) != size:
        raise RuntimeError(f"init_device_mesh: the mesh {mesh_shape} must hold all {size} ranks")
    mesh = np.arange(size, dtype=np.int64).reshape(mesh_shape)
    return DeviceMesh(device_type, mesh, mesh_dim_names=mesh_dim_names)
