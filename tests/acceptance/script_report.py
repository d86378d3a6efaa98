"""A library's acceptance script run in a fresh interpreter (the library binds ``torch`` when
imported, so each run needs its own), its last stdout line read back as a JSON report."""
from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

# The acceptance scripts' shared helper, prepended to their source: ``out(value)`` makes a
# report's values JSON-ready (tensors as nested lists, sequences as lists, dicts with str keys
# in sorted order).
OUT_SOURCE = '''
import torch


def out(v):
    if isinstance(v, torch.Tensor):
        return v.detach().tolist()
    if isinstance(v, (list, tuple)):
        return [out(x) for x in v]
    if isinstance(v, dict):
        return {str(k): out(x) for k, x in sorted(v.items(), key=lambda kv: str(kv[0]))}
    return v
'''


def run_script(source: str, name: str, *command_prefix: str, tmp_path) -> dict:
    """Write ``source`` as ``tmp_path/name`` and run it with ``command_prefix`` (``-m
    ember.compat`` resolves ``torch`` to ember; nothing runs it on real PyTorch). Within one
    test session a script's report under ember is computed once (see ``REPORTS``): a
    library's acceptance test and its conformance test both ask for it."""
    cached = _cached_report(source, name, command_prefix)
    if cached is not None and cached.exists():
        return json.loads(cached.read_text())
    script = tmp_path / name
    script.write_text(source)
    done = subprocess.run([sys.executable, *command_prefix, str(script)], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    line = done.stdout.strip().splitlines()[-1]
    report = json.loads(line)
    if cached is not None:  # written whole, then renamed: a reader never sees half of it
        partial = cached.with_suffix(f".{os.getpid()}")
        partial.write_text(line)
        os.replace(partial, cached)
    return report


def run_library_script(scripts: dict, library: str, *command_prefix: str, tmp_path) -> dict:
    """``run_script`` of ``scripts[library]`` (a file holding one script per library); skips
    the calling test where ``library`` (an import name) is not installed (importing it would
    import torch)."""
    if importlib.util.find_spec(library) is None:
        import pytest
        pytest.skip(f"{library} is not installed")
    return run_script(scripts[library], f"{library}_script.py", *command_prefix,
                      tmp_path=tmp_path)


# The folder of this session's reports of scripts run under ember (tests/conftest.py makes it
# once per session; xdist's workers inherit it): deterministic scripts, so one run serves all.
REPORTS = "EMBER_SCRIPT_REPORTS"


def _cached_report(source: str, name: str, command_prefix: tuple) -> Path | None:
    folder = os.environ.get(REPORTS)
    if folder is None or tuple(command_prefix) != ("-m", "ember.compat"):
        return None
    key = hashlib.sha256("\0".join((name, source)).encode()).hexdigest()
    return Path(folder) / f"{key}.json"


def run_driver(driver, *command_prefix: str) -> dict:
    """A model driver's report per model: one JSON line per model on stdout (``driver``, a
    path, run from its folder under ``command_prefix``)."""
    done = subprocess.run([sys.executable, *command_prefix, str(driver)], capture_output=True,
                          text=True, timeout=900, cwd=driver.parent)
    assert done.returncode == 0, done.stderr[-3000:]
    reports = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return {r["model"]: r for r in reports}


def assert_reports_close(got, expected, rtol: float, atol: float, path: str = "") -> None:
    """Numbers within ``rtol``/``atol`` of PyTorch's, everything else (keys, lengths, ints,
    strings, booleans) equal."""
    if isinstance(expected, dict):
        assert isinstance(got, dict) and sorted(got) == sorted(expected), path
        for key in expected:
            assert_reports_close(got[key], expected[key], rtol, atol, f"{path}/{key}")
    elif isinstance(expected, list):
        assert isinstance(got, list) and len(got) == len(expected), path
        for i, (g, e) in enumerate(zip(got, expected)):
            assert_reports_close(g, e, rtol, atol, f"{path}[{i}]")
    elif isinstance(expected, float) and not isinstance(got, bool):
        assert isinstance(got, (int, float)), path
        assert (math.isnan(got) and math.isnan(expected)) or math.isclose(
            got, expected, rel_tol=rtol, abs_tol=atol), (path, got, expected)
    else:
        assert type(got) is type(expected) and got == expected, (path, got, expected)


# Runs a script under real PyTorch with real torchvision usable (its compiled ops stood in for),
# from any folder.
REAL_TORCHVISION = (
    str(Path(__file__).resolve().parents[1] / "conformance" / "real_torchvision.py"),)


def pytorch_prefix() -> tuple[str, ...]:
    """What goes before a script run on real PyTorch: where torchvision is installed, libraries
    import it under PyTorch, so it must be usable."""
    return REAL_TORCHVISION if importlib.util.find_spec("torchvision") else ()


def reports_under_both(acceptance_module: str, tmp_path) -> tuple[dict, dict]:
    """(ember's report, PyTorch's report) of the script of ``tests/acceptance/<module>.py``
    (its ``run_script``), each run in a fresh interpreter. Importing that module skips the
    calling test where its library is not installed."""
    acceptance = importlib.import_module(f"tests.acceptance.{acceptance_module}")
    return (acceptance.run_script("-m", "ember.compat", tmp_path=tmp_path),
            acceptance.run_script(*pytorch_prefix(), tmp_path=tmp_path))
