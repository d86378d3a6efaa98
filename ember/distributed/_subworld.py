"""A default process group on some of the MPI world's processes.

NOTE [ A process group inside a larger world ]
PyTorch lets some of RPC's workers form a process group of their own (the DDP trainers among
a master and a parameter server: ``init_process_group(world_size=2, init_method=...)`` next to
``init_rpc(world_size=4)``). In ember both run on one MPI world, started by whichever comes
first, so when ``init_process_group`` finds that world larger than ``world_size``, its ranks
meet at the init method's address (as PyTorch's TCPStore has them meet): each tells rank 0 its
MPI world rank, rank 0 answers with everyone's, and ``MPI_Comm_create_group``, collective over
those processes only, makes the group's communicator, ranked by the ranks they were given.
"""
from __future__ import annotations

import json
import os
import socket
import time
from urllib.parse import urlparse


def _address(init_method: str | None) -> tuple:
    if init_method is not None and init_method.startswith("tcp://"):
        url = urlparse(init_method)
        return url.hostname, url.port
    if init_method in (None, "env://") and "MASTER_ADDR" in os.environ \
            and "MASTER_PORT" in os.environ:
        return os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"])
    raise ValueError(f"init_process_group: a group of some of MPI's processes meets through "
                     f"env:// (MASTER_ADDR, MASTER_PORT) or tcp://host:port, not {init_method!r}")


def _world_ranks(host: str, port: int, rank: int, world_size: int, mine: int,
                 timeout: float) -> list:
    """The MPI world rank of each of the group's ranks, learnt through rank 0 at host:port."""
    deadline = time.monotonic() + timeout
    if rank == 0:
        ranks = [mine] + [None] * (world_size - 1)
        with socket.create_server((host, port), reuse_port=False) as server:
            server.settimeout(timeout)
            peers = []
            for _ in range(world_size - 1):
                conn, _ = server.accept()
                theirs, their_world_rank = json.loads(conn.makefile().readline())
                ranks[theirs] = their_world_rank
                peers.append(conn)
            for conn in peers:
                with conn:
                    conn.sendall((json.dumps(ranks) + "\n").encode())
        return ranks
    while True:
        try:
            conn = socket.create_connection((host, port), timeout=1.0)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"init_process_group: rank 0 did not open {host}:{port} "
                                   f"within {timeout:g} s") from None
            time.sleep(0.05)
    with conn:
        conn.settimeout(max(deadline - time.monotonic(), 1.0))
        conn.sendall((json.dumps([rank, mine]) + "\n").encode())
        return json.loads(conn.makefile().readline())


def create(comm, init_method: str | None, world_size: int, rank: int, timeout: float):
    """The communicator of the group of ``world_size`` processes of ``comm`` (see the NOTE);
    this process is its ``rank``."""
    if not 0 <= rank < world_size:
        raise ValueError(f"init_process_group: rank {rank} is not in [0, {world_size})")
    host, port = _address(init_method)
    members = _world_ranks(host, port, rank, world_size, comm.Get_rank(), timeout)
    group = comm.Get_group().Incl(members)
    try:
        return comm.Create_group(group)
    finally:
        group.Free()
