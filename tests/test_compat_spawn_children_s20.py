"""``python -m ember.compat``: multiprocessing children started by "spawn" or "forkserver" (fresh
interpreters, e.g. SubprocVecEnv's or DataLoader workers' processes) resolve ``torch`` to ember
too, and find the functions and classes the script defines."""
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent("""
    import multiprocessing
    import os
    import sys
    import torch


    class Scale:
        def __init__(self, factor):
            self.factor = factor


    def child_report(scale):
        import torch as child_torch  # the child's own import
        doubled = child_torch.arange(3) * scale.factor
        return child_torch.__spec__.name, doubled.tolist(), sys.argv[1:]


    if __name__ == "__main__":
        for method in ("spawn", "forkserver"):
            with multiprocessing.get_context(method).Pool(1) as pool:
                print(method, *pool.apply(child_report, (Scale(2),)))
        print("parent", torch.__spec__.name, __name__, os.path.isabs(__file__))  # as python does
""")


def test_spawned_and_forkserver_children_import_ember_as_torch(tmp_path):
    script = tmp_path / "spawning.py"
    script.write_text(SCRIPT)
    done = subprocess.run([sys.executable, "-m", "ember.compat", "spawning.py", "arg1"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines() == ["spawn ember [0, 2, 4] ['arg1']",
                                        "forkserver ember [0, 2, 4] ['arg1']",
                                        "parent ember __main__ True"]
