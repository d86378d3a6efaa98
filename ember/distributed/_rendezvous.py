"""The rendezvous of ranks started without an MPI launcher (``mp.spawn``, ``mp.Process``).

NOTE [ Rendezvous without mpiexec ]
Two MPICH processes started on their own ("singletons") cannot join each other later: every
singleton's world carries the same name, so ``MPI_Comm_connect`` between two of them fails with
"Local and remote groups ... must not overlap". So ember plays the part of mpiexec instead:
rank 0 serves the process-manager interface MPICH's own launcher serves (PMI-1: a key-value
store plus a barrier, spoken as lines of text) on MASTER_ADDR:MASTER_PORT, and every rank points
MPICH at it (``PMI_PORT``, ``PMI_ID``) before MPI starts. ``MPI_Init`` then builds one
COMM_WORLD of ``world_size`` ranks, exactly as under ``mpiexec``. Like PyTorch's TCPStore, the
server only lets the ranks exchange their MPI addresses; every byte of data moves through MPI.

The server is a process of its own (this file run as a script, standard library only), so that
it outlives rank 0 until every rank has finished MPI: it exits once each rank has connected and
closed its connection; and early when a rank aborts, when a rank leaves before all joined, or
when not every rank joined within the timeout. Like mpiexec, it ends the job when a rank aborts
(``MPI_Abort``), or when a rank's connection closes before its ``MPI_Init`` returned (it died
there; a forked rank that is done closes without ``MPI_Finalize``, so only ``MPI_Init`` tells):
the others may wait on it inside MPI, where no closed connection reaches them. So each rank tells
the server its process id before MPI starts and that its ``MPI_Init`` returned, and the server
stops the ranks still connected.

MPICH names a job's shared-memory segments (/dev/shm/mpich_shm_<hash>_<node>) after a hash of
the job's KVS name, and a rank that finds a segment of that name joins it. A rank that ends
without ``MPI_Finalize`` (a forked ``mp.Process`` exits through ``os._exit``; an aborted or
killed rank) leaves its job's segment behind, and a later job of the same KVS name would read
that job's stale messages ("Message truncated" inside ``MPI_Init``, or a hang). Hence a random
KVS name per job, as mpiexec's, and the server removing its job's segments once every rank left.
"""
from __future__ import annotations

import glob
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time

_KEEP: list = []  # the server processes this rank started, kept from garbage collection


class _Store:
    """The state the ranks share: the key-value store, the barrier, who is connected."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.kvs: dict = {}
        self.cond = threading.Condition()
        self.waiting = 0  # ranks in the current barrier
        self.generation = 0  # barriers completed
        self.joined: set = set()
        self.open = 0  # connections of joined ranks still open
        self.failed = False  # a rank aborted, or left before every rank joined
        self.kvsname = f"ember_{os.getpid()}_{secrets.token_hex(8)}"  # see the NOTE
        self.pids: dict = {}  # rank -> process id, from each rank's hello before MPI_Init
        self.connected: set = set()  # ranks whose PMI connection is open
        self.ready: set = set()  # ranks whose MPI_Init returned

    def finished(self, deadline: float) -> bool:
        with self.cond:
            if self.failed:
                return True
            if len(self.joined) == self.size:
                return self.open == 0
            return time.monotonic() > deadline

    def serve(self, conn: socket.socket) -> None:
        rank = connected = None
        with conn, conn.makefile("rb") as lines:
            for line in lines:
                fields = dict(item.split("=", 1) for item in line.decode().split() if "=" in item)
                cmd = fields.get("cmd", "")
                if cmd == "initack" and rank is None:
                    rank = int(fields.get("pmiid", -1))
                    reply = self.join(rank)
                    if reply.startswith("cmd=initack rc=0"):
                        connected = rank
                elif cmd == "ember_hello":  # join()'s, not MPICH's
                    with self.cond:
                        self.pids[int(fields["rank"])] = int(fields["pid"])
                    reply = ""
                elif cmd == "abort":
                    self.abort()
                    reply = ""
                elif cmd == "ember_ready":  # ready()'s, answered once recorded
                    with self.cond:
                        self.ready.add(int(fields["rank"]))
                    reply = "cmd=ember_ready_ack rc=0\n"
                else:
                    reply = self.answer(cmd, fields)
                if reply:
                    conn.sendall(reply.encode())
        if connected is not None:
            with self.cond:
                self.connected.discard(connected)
                self.open -= 1
                self.failed |= len(self.joined) < self.size
                if connected not in self.ready:  # it died in MPI_Init: end the job
                    self.abort()

    def join(self, rank: int) -> str:
        with self.cond:
            if not 0 <= rank < self.size or rank in self.joined:
                return f"cmd=initack rc=-1 msg=rank_{rank}_is_taken_or_not_in_[0,{self.size})\n"
            self.joined.add(rank)
            self.connected.add(rank)
            self.open += 1
        return (f"cmd=initack rc=0\ncmd=set size={self.size}\ncmd=set rank={rank}\n"
                "cmd=set debug=0\n")

    def answer(self, cmd: str, fields: dict) -> str:
        if cmd == "init":
            return "cmd=response_to_init rc=0 pmi_version=1 pmi_subversion=1\n"
        if cmd == "get_maxes":
            return "cmd=maxes rc=0 kvsname_max=256 keylen_max=64 vallen_max=1024\n"
        if cmd == "get_appnum":
            return "cmd=appnum rc=0 appnum=0\n"
        if cmd == "get_universe_size":
            return f"cmd=universe_size rc=0 size={self.size}\n"
        if cmd == "get_my_kvsname":  # unique per job, so that two jobs' worlds never look alike
            return f"cmd=my_kvsname rc=0 kvsname={self.kvsname}\n"
        if cmd == "put":
            with self.cond:
                self.kvs[fields.get("key")] = fields.get("value", "")
            return "cmd=put_result rc=0\n"
        if cmd == "get":
            with self.cond:
                value = self.kvs.get(fields.get("key"))
            if value is None:
                return "cmd=get_result rc=1 found=FALSE msg=key_not_found\n"
            return f"cmd=get_result rc=0 found=TRUE value={value}\n"
        if cmd == "barrier_in":
            with self.cond:
                generation = self.generation
                self.waiting += 1
                if self.waiting == self.size:
                    self.waiting, self.generation = 0, generation + 1
                    self.cond.notify_all()
                while self.generation == generation:
                    self.cond.wait()
            return "cmd=barrier_out rc=0\n"
        if cmd == "finalize":
            return "cmd=finalize_ack rc=0\n"
        return f"cmd={cmd}_result rc=-1 msg=not_served_by_ember's_rendezvous\n"

    def abort(self) -> None:
        """End the job, as mpiexec does (see the NOTE): stop every rank still connected (an open
        connection: the process id is still theirs), the aborting one included; it has said
        why on its stderr already."""
        with self.cond:
            self.failed = True
            for rank in self.connected:
                if rank in self.pids:
                    try:
                        os.kill(self.pids[rank], signal.SIGTERM)
                    except OSError:
                        pass

    def remove_segments(self) -> None:
        """Remove the shared memory MPICH made for this job (see the NOTE)."""
        world_id = 0x811C9DC5  # MPICH's world id: the 32-bit FNV-1a hash of the KVS name
        for byte in self.kvsname.encode():
            world_id = ((world_id ^ byte) * 0x01000193) & 0xFFFFFFFF
        for kind in ("shm", "vci"):
            for path in glob.glob(f"/dev/shm/mpich_{kind}_{world_id:x}_*"):
                try:
                    os.unlink(path)
                except OSError:
                    pass


def _serve(listener: socket.socket, size: int, timeout: float) -> None:
    store = _Store(size)
    deadline = time.monotonic() + timeout
    listener.settimeout(0.2)
    while not store.finished(deadline):
        try:
            conn, _ = listener.accept()
        except socket.timeout:
            continue
        conn.settimeout(None)
        threading.Thread(target=store.serve, args=(conn,), daemon=True).start()
    store.remove_segments()


def _address(host: str) -> str:
    # MPICH reads PMI_PORT as host:port and may resolve a name to IPv6; hand it the IPv4
    # address the server listens on
    return socket.getaddrinfo(host, None, socket.AF_INET, socket.SOCK_STREAM)[0][4][0]


def join(rank: int, world_size: int, host: str, port: int, timeout: float) -> None:
    """Make this process's coming ``MPI_Init`` join rank ``rank`` of a ``world_size`` world.

    Rank 0 starts the server on ``host:port``; the others wait (up to ``timeout`` seconds) until
    it answers. Each rank tells the server its process id (see the NOTE). MPI must not have
    started yet in this process.
    """
    hello = f"cmd=ember_hello rank={rank} pid={os.getpid()}\n".encode()
    address = _address(host)
    if rank == 0:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((address, port))
        except OSError as e:
            listener.close()
            raise RuntimeError(f"init_process_group: rank 0 cannot listen on {host}:{port} "
                               f"(MASTER_ADDR:MASTER_PORT): {e}") from None
        listener.listen(max(world_size, 16))
        with listener:
            _KEEP.append(subprocess.Popen(
                [sys.executable, "-I", os.path.abspath(__file__), str(listener.fileno()),
                 str(world_size), str(timeout)],
                pass_fds=(listener.fileno(),), stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
        with socket.create_connection((address, port)) as conn:  # listening: the server queues it
            conn.sendall(hello)
    else:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with socket.create_connection((address, port), timeout=1.0) as conn:
                    conn.sendall(hello)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"init_process_group: rank {rank} found no rank 0 at "
                                       f"{host}:{port} (MASTER_ADDR:MASTER_PORT) within "
                                       f"{timeout:g} s") from None
                time.sleep(0.05)
    os.environ.update(PMI_PORT=f"{address}:{port}", PMI_ID=str(rank))


def ready() -> None:
    """Tell the server that this rank's ``MPI_Init`` returned: a rank that leaves before that
    died in it, and the server ends the job (see the NOTE)."""
    host, port = os.environ["PMI_PORT"].rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port))) as conn, conn.makefile("rb") as answer:
            conn.sendall(f"cmd=ember_ready rank={os.environ['PMI_ID']}\n".encode())
            answer.readline()
    except OSError:  # the job ended already
        pass


def forget() -> None:
    """Drop the variables ``join`` set, once MPI has read them: a process this one starts
    later must not join the world as a second copy of this rank."""
    os.environ.pop("PMI_PORT", None)
    os.environ.pop("PMI_ID", None)


if __name__ == "__main__":
    fd, size, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    _serve(socket.socket(fileno=fd), size, seconds)
