"""A library's acceptance script run in a fresh interpreter (the library binds ``torch`` when
imported, so each run needs its own), its last stdout line read back as a JSON report."""
from __future__ import annotations

import json
import subprocess
import sys


def run_script(source: str, name: str, *command_prefix: str, tmp_path) -> dict:
    """Write ``source`` as ``tmp_path/name`` and run it with ``command_prefix`` (``-m
    ember.compat`` resolves ``torch`` to ember; nothing runs it on real PyTorch)."""
    script = tmp_path / name
    script.write_text(source)
    done = subprocess.run([sys.executable, *command_prefix, str(script)], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_driver(driver, *command_prefix: str) -> dict:
    """A model driver's report per model: one JSON line per model on stdout (``driver``, a
    path, run from its folder under ``command_prefix``)."""
    done = subprocess.run([sys.executable, *command_prefix, str(driver)], capture_output=True,
                          text=True, timeout=900, cwd=driver.parent)
    assert done.returncode == 0, done.stderr[-3000:]
    reports = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return {r["model"]: r for r in reports}
