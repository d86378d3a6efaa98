"""``python -m ember.distributed.run`` (PyTorch's ``torchrun``): run a script on N ranks.

The ranks are started by ``mpiexec`` (MPICH's Hydra), one argument set per rank, each with the
variables torchrun gives its workers (``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``,
``LOCAL_WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``, ...), so ``init_process_group()`` finds
MPI's world and the ``env://`` variables agree with it. One node; the job ends, with mpiexec's
non-zero exit code, when a rank fails (torchrun's restarts and elastic membership are not run).

Example::

    python -m ember.distributed.run --standalone --nproc_per_node=2 train.py --epochs 3
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys

from ember.distributed._mpi import INSTALL_HINT

__all__ = ["get_args_parser", "main", "parse_args", "run"]


def get_args_parser() -> argparse.ArgumentParser:
    """torchrun's options; those of elasticity and logging are accepted and have no effect."""
    parser = argparse.ArgumentParser(description="ember distributed launcher (torchrun's "
                                                 "options, ranks started by mpiexec)")
    parser.add_argument("--nnodes", default="1:1", help="must be 1 (or 1:1): one node")
    parser.add_argument("--nproc-per-node", "--nproc_per_node", default="1",
                        help="ranks on this node: a number, 'cpu', 'gpu' or 'auto'")
    parser.add_argument("--standalone", action="store_true",
                        help="one node, MASTER_ADDR=localhost and a free MASTER_PORT")
    parser.add_argument("--node-rank", "--node_rank", type=int, default=0)
    parser.add_argument("--master-addr", "--master_addr", default="127.0.0.1")
    parser.add_argument("--master-port", "--master_port", type=int, default=None,
                        help="default 29500 (a free port with --standalone)")
    parser.add_argument("--rdzv-id", "--rdzv_id", default="none")
    parser.add_argument("--max-restarts", "--max_restarts", type=int, default=0)
    parser.add_argument("--role", default="default")
    parser.add_argument("-m", "--module", action="store_true",
                        help="run training_script as a module, like python -m")
    parser.add_argument("--no-python", "--no_python", action="store_true",
                        help="run training_script as an executable, without python")
    parser.add_argument("--run-path", "--run_path", action="store_true")
    for *short, name in (["--rdzv-backend"], ["--rdzv-endpoint"], ["--rdzv-conf"],
                         ["--monitor-interval"], ["--start-method"], ["--log-dir"],
                         ["-r", "--redirects"], ["-t", "--tee"], ["--local-ranks-filter"],
                         ["--local-addr"], ["--logs-specs"]):
        parser.add_argument(*short, name, "--" + name[2:].replace("-", "_"),
                            help=argparse.SUPPRESS)
    parser.add_argument("training_script")
    parser.add_argument("training_script_args", nargs=argparse.REMAINDER)
    return parser


def parse_args(args: list | None) -> argparse.Namespace:
    return get_args_parser().parse_args(args)


def _nproc(value: str) -> int:
    if value in ("gpu", "auto"):
        from ember import cuda
        if cuda.is_available():
            return cuda.device_count()
        if value == "gpu":
            raise ValueError("Cuda is not available.")
        value = "cpu"
    if value == "cpu":
        return os.cpu_count() or 1
    return int(value)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mpiexec() -> str:
    """The ``mpiexec`` next to this Python (the mpich wheel's) or on PATH."""
    here = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    found = here if os.path.exists(here) else shutil.which("mpiexec")
    if found is None:
        raise RuntimeError(f"ember.distributed.run starts ranks with mpiexec, which is not "
                           f"installed: {INSTALL_HINT}")
    return found


def command(args: argparse.Namespace, local_rank_argument: bool = False) -> list:
    """The mpiexec command line: one ``-n 1 -env ... program`` set per rank, ``:``-separated.

    ``local_rank_argument`` passes ``--local-rank=R`` to each rank (torch.distributed.launch
    without ``--use-env``).
    """
    if args.nnodes not in ("1", "1:1") or args.node_rank != 0:
        raise ValueError(f"ember.distributed.run starts the ranks of one node (--nnodes=1), not "
                         f"--nnodes={args.nnodes}; on several nodes start the job with "
                         "`mpiexec -n N -hosts a,b python script.py`")
    if args.max_restarts:
        raise ValueError("ember.distributed.run does not restart failed ranks (--max-restarts "
                         "must be 0)")
    nproc = _nproc(str(args.nproc_per_node))
    addr = "localhost" if args.standalone else args.master_addr
    port = args.master_port or (_free_port() if args.standalone else 29500)
    if args.no_python:
        program = [args.training_script]
    else:  # mpi4py's runner: a rank that raises or exits non-zero aborts the job (MPI_Abort)
        # instead of waiting in MPI_Finalize for ranks that wait for it. Output is buffered as
        # under torchrun (no -u): an unbuffered print's text and newline are two writes, which
        # the ranks' concurrent output splits apart.
        program = [sys.executable, "-m", "mpi4py", *(["-m"] if args.module else []),
                   args.training_script]
    shared = {"WORLD_SIZE": nproc, "LOCAL_WORLD_SIZE": nproc, "ROLE_WORLD_SIZE": nproc,
              "GROUP_RANK": 0, "ROLE_NAME": args.role, "MASTER_ADDR": addr, "MASTER_PORT": port,
              "TORCHELASTIC_RUN_ID": args.rdzv_id, "TORCHELASTIC_RESTART_COUNT": 0,
              "TORCHELASTIC_MAX_RESTARTS": 0}
    if nproc > 1 and "OMP_NUM_THREADS" not in os.environ:
        shared["OMP_NUM_THREADS"] = 1  # as torchrun does: N ranks must not each take every core
    cmd = [mpiexec()]
    for name, value in shared.items():
        cmd += ["-genv", name, str(value)]
    for rank in range(nproc):
        extra = [f"--local-rank={rank}"] if local_rank_argument else []
        cmd += [*([":"] if rank else []), "-n", "1", "-env", "RANK", str(rank),
                "-env", "LOCAL_RANK", str(rank), "-env", "ROLE_RANK", str(rank),
                *program, *extra, *args.training_script_args]
    return cmd


def run(args: argparse.Namespace, local_rank_argument: bool = False) -> int:
    """Start the job and wait for it; returns mpiexec's exit code (non-zero if a rank failed).
    Ctrl-C and SIGTERM are passed on to mpiexec, which stops the ranks."""
    proc = subprocess.Popen(command(args, local_rank_argument))
    previous = signal.signal(signal.SIGTERM, lambda *_: proc.send_signal(signal.SIGTERM))
    try:
        while True:
            try:
                return proc.wait()
            except KeyboardInterrupt:
                proc.send_signal(signal.SIGINT)
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(args: list | None = None) -> None:
    """The command line (``torchrun``'s): exits with the job's code when a rank failed."""
    exit_on_failure(run(parse_args(args)), "ember.distributed.run")


def exit_on_failure(code: int, launcher: str) -> None:
    if code:
        print(f"{launcher}: the job failed (mpiexec exited with code {code})", file=sys.stderr)
        sys.exit(code)


if __name__ == "__main__":
    main()
