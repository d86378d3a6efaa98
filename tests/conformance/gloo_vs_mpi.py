"""Run one script on 2 ranks (or ``world_size``) twice, on real PyTorch (gloo, one process
per rank) and on ember (mpiexec, ``torch`` resolved to ember), and read back each rank's JSON
report from both: for the conformance tests of ember's distributed features."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _mpiexec() -> str | None:
    here = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    return here if os.path.exists(here) else shutil.which("mpiexec")


def reports_on_both(script: str, tmp_path, world_size: int = 2) -> list[tuple[dict, dict]]:
    """``(ember's report, PyTorch's report)`` of each of ``world_size`` ranks; ``script`` is
    run as ``script FRAMEWORK OUTDIR`` and writes OUTDIR/rankR.json."""
    pytest.importorskip("mpi4py")
    if _mpiexec() is None:
        pytest.skip("mpiexec is not installed")
    port = str(_free_port())
    (tmp_path / "torch").mkdir()
    (tmp_path / "ember").mkdir()
    procs = [subprocess.Popen([sys.executable, script, "torch", str(tmp_path / "torch")],
                              env=dict(os.environ, MASTER_ADDR="127.0.0.1", MASTER_PORT=port,
                                       RANK=str(r), WORLD_SIZE=str(world_size)),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
             for r in range(world_size)]
    ember_run = subprocess.run([_mpiexec(), "-n", str(world_size), sys.executable, script,
                                "ember", str(tmp_path / "ember")], capture_output=True,
                               text=True, timeout=120)
    for p in procs:
        out, _ = p.communicate(timeout=120)
        assert p.returncode == 0, out.decode()[-3000:]
    assert ember_run.returncode == 0, (ember_run.stdout + ember_run.stderr)[-3000:]
    return [(json.loads((tmp_path / "ember" / f"rank{rank}.json").read_text()),
             json.loads((tmp_path / "torch" / f"rank{rank}.json").read_text()))
            for rank in range(world_size)]
