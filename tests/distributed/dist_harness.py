"""The harness of the mpiexec workers: ``python WORKER.py OUTDIR BACKEND CHECK...`` runs the
named ``check_*`` functions on every rank and writes ``PASS name`` or ``FAIL name: why`` lines
to OUTDIR/rankR.txt; ``launch_and_read`` starts a worker from a test and reads them back."""
import os
import shutil
import subprocess
import sys
import traceback

import ember.distributed as dist

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def raises(fn, error, *fragments):
    """Call ``fn``; it must raise ``error`` with each of ``fragments`` in its message."""
    try:
        fn()
    except error as e:
        for fragment in fragments:
            assert fragment in str(e), f"{fragment!r} not in {e}"
        return e
    raise AssertionError(f"expected {error.__name__}")


def run(checks: dict, setup=None) -> None:
    """The worker's main: init, ``setup()``, run ``checks["check_" + name]()`` for each named
    check, report, destroy."""
    out, backend, names = sys.argv[1], sys.argv[2], sys.argv[3:]
    dist.init_process_group(backend)
    if setup is not None:
        setup()
    with open(os.path.join(out, f"rank{dist.get_rank()}.txt"), "w") as report:
        for name in names:
            try:
                checks["check_" + name]()
                report.write(f"PASS {name}\n")
            except Exception:
                why = traceback.format_exc().strip().replace("\n", " | ")
                report.write(f"FAIL {name}: {why}\n")
            report.flush()
    dist.destroy_process_group()


def assert_passed(results: dict, name: str) -> None:
    """Every rank's report of check ``name`` is empty (what a rank prints is its failure)."""
    for rank, checks in results.items():
        assert checks[name] == "", f"rank {rank}: {checks[name]}"


def mpiexec() -> str | None:
    """The ``mpiexec`` next to this Python (the mpich wheel's), or on PATH; None if absent."""
    here = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    return here if os.path.exists(here) else shutil.which("mpiexec")


def launch_and_read(worker: str, n: int, names: list, tmp_path, backend: str = "mpi",
                    env: dict | None = None, timeout: float = 180) -> dict:
    """Run ``worker`` on ``n`` ranks; returns {rank: {check name: "" if passed else why}}."""
    cmd = [mpiexec(), "-n", str(n), sys.executable,
           os.path.join(os.path.dirname(__file__), worker), str(tmp_path), backend, *names]
    environ = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""),
                   OMP_NUM_THREADS="1", **(env or {}))
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=environ,
                          cwd=REPO)
    results = {}
    for rank in range(n):
        path = os.path.join(tmp_path, f"rank{rank}.txt")
        lines = open(path).read().splitlines() if os.path.exists(path) else []
        results[rank] = {line.split()[1].rstrip(":"): line.partition(": ")[2] if
                         line.startswith("FAIL") else "" for line in lines}
    if proc.returncode != 0 or any(len(r) != len(names) for r in results.values()):
        raise AssertionError(f"mpiexec exited with {proc.returncode}; stdout:\n{proc.stdout}"
                             f"\nstderr:\n{proc.stderr[-3000:]}\nreports: {results}")
    return results
