"""Save and load a 500 MB state_dict (50 float32 tensors of 10 MB): ember vs PyTorch, one run.

    python bench/bench_serialization.py [--dir /tmp] [--repeat 5]

Prints the median of each; ratios are ember / torch (below 1: ember is faster). ember.save
fsyncs the file before renaming it into place (atomic and durable); torch.save does neither,
so "torch.save+fsync" is also shown as the like-for-like reference. Files are deleted after.
"""
import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ember  # noqa: E402


def _medians(jobs: list, repeat: int) -> dict:
    """Median seconds of each (name, fn), the jobs interleaved so that load from other
    processes on the machine falls on ember and torch alike."""
    times = {name: [] for name, _ in jobs}
    for _ in range(repeat):
        for name, fn in jobs:
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default="/tmp")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--tensors", type=int, default=50)
    parser.add_argument("--mb", type=int, default=10)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    numel = args.mb * (1 << 20) // 4
    arrays = {f"layer{i}.weight": rng.standard_normal(numel, dtype=np.float32)
              for i in range(args.tensors)}
    ember_sd = {k: ember.from_numpy(v) for k, v in arrays.items()}
    total_mb = sum(a.nbytes for a in arrays.values()) / (1 << 20)

    workdir = tempfile.mkdtemp(prefix="ember_bench_", dir=args.dir)
    e_path, t_path = os.path.join(workdir, "ember.pt"), os.path.join(workdir, "torch.pt")
    jobs = [("ember.save", lambda: ember.save(ember_sd, e_path)),
            ("ember.load", lambda: ember.load(e_path)),
            ("ember.load(mmap=True)", lambda: ember.load(e_path, mmap=True))]
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        torch_sd = {k: torch.from_numpy(v) for k, v in arrays.items()}

        def torch_save_fsync():
            with open(t_path, "wb") as f:
                torch.save(torch_sd, f)
                f.flush()
                os.fsync(f.fileno())

        jobs += [("torch.save", lambda: torch.save(torch_sd, t_path)),
                 ("torch.save+fsync", torch_save_fsync),
                 ("torch.load", lambda: torch.load(t_path, weights_only=True)),
                 ("torch.load(mmap=True)",
                  lambda: torch.load(t_path, weights_only=True, mmap=True)),
                 ("ember.load(torch file)", lambda: ember.load(t_path))]
    try:
        results = _medians(jobs, args.repeat)
    finally:
        for path in (e_path, t_path):
            if os.path.exists(path):
                os.remove(path)
        os.rmdir(workdir)

    print(f"state_dict: {args.tensors} tensors, {total_mb:.0f} MB; median of {args.repeat}")
    for name, seconds in results.items():
        print(f"  {name:26s} {seconds * 1e3:9.1f} ms")
    for e_name, t_name in [("ember.save", "torch.save"), ("ember.save", "torch.save+fsync"),
                           ("ember.load", "torch.load"),
                           ("ember.load(mmap=True)", "torch.load(mmap=True)")]:
        if t_name in results:
            print(f"  ratio {e_name} / {t_name}: {results[e_name] / results[t_name]:.2f}")


if __name__ == "__main__":
    main()
