"""Save and load a 500 MB state_dict (50 float32 tensors of 10 MB): ember vs PyTorch, one run.

    python bench/bench_serialization.py [--dir /tmp] [--repeat 5]

Prints the median of each; ratios are ember / torch (below 1: ember is faster). ember.save
fsyncs the file before renaming it into place (atomic and durable); torch.save does neither,
so "torch.save+fsync" is also shown as the like-for-like reference. ember.load checks every
record's CRC-32, torch.load none.

Each loader reads both files, the one ember wrote and the one torch wrote (same tensors), so a
difference between files shows apart from one between loaders. Timings on a shared machine
depend on what ran just before (other processes; memory freed or still warm), so each round
runs the jobs in a new random order, the first round is a warm-up that is not counted, and the
spread (min-max) is printed beside each median, with the median CPU time of the process (all
its threads), which other processes on the machine disturb less. Files are deleted after.
"""
import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ember  # noqa: E402


def _times(jobs: list, repeat: int) -> dict:
    """(wall, CPU) seconds of each (name, fn) over ``repeat`` rounds after one warm-up round,
    each round in a new random order, so that no job always follows the same one."""
    times = {name: [] for name, _ in jobs}
    order = random.Random(0)
    for round_ in range(repeat + 1):
        for name, fn in order.sample(jobs, len(jobs)):
            cpu = time.process_time()
            start = time.perf_counter()
            fn()
            if round_:
                times[name].append((time.perf_counter() - start, time.process_time() - cpu))
    return times


def _report(title: str, times: dict, pairs: list) -> None:
    print(f"{title:32s} {'wall ms (min-max)':>24s} {'cpu ms':>8s}")
    medians = {}
    for name, t in times.items():
        wall = [w for w, _ in t]
        medians[name] = statistics.median(wall), statistics.median(c for _, c in t)
        print(f"  {name:30s} {medians[name][0] * 1e3:8.1f} ({min(wall) * 1e3:5.0f}-"
              f"{max(wall) * 1e3:5.0f}) {medians[name][1] * 1e3:8.1f}")
    for e_name, t_name in pairs:
        if e_name in medians and t_name in medians:
            (e_wall, e_cpu), (t_wall, t_cpu) = medians[e_name], medians[t_name]
            print(f"  ratio {e_name} / {t_name}: {e_wall / t_wall:.2f} (cpu {e_cpu / t_cpu:.2f})")


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
    try:
        import torch
        torch.set_num_threads(2)
    except ImportError:
        torch = None

    workdir = tempfile.mkdtemp(prefix="ember_bench_", dir=args.dir)
    e_path, t_path = os.path.join(workdir, "ember.pt"), os.path.join(workdir, "torch.pt")
    save_jobs = [("ember.save", lambda: ember.save(ember_sd, e_path))]
    load_jobs = [("ember.load(ember file)", lambda: ember.load(e_path)),
                 ("ember.load(ember file, mmap)", lambda: ember.load(e_path, mmap=True))]
    if torch is not None:
        torch_sd = {k: torch.from_numpy(v) for k, v in arrays.items()}

        def torch_save_fsync():
            with open(t_path, "wb") as f:
                torch.save(torch_sd, f)
                f.flush()
                os.fsync(f.fileno())

        save_jobs += [("torch.save", lambda: torch.save(torch_sd, t_path)),
                      ("torch.save+fsync", torch_save_fsync)]
        load_jobs += [
            ("torch.load(ember file)", lambda: torch.load(e_path, weights_only=True)),
            ("ember.load(torch file)", lambda: ember.load(t_path)),
            ("torch.load(torch file)", lambda: torch.load(t_path, weights_only=True)),
            ("torch.load(torch file, mmap)",
             lambda: torch.load(t_path, weights_only=True, mmap=True))]
    try:
        save_times = _times(save_jobs, args.repeat)
        load_times = _times(load_jobs, args.repeat)  # of the files the last saves wrote
    finally:
        for path in (e_path, t_path):
            if os.path.exists(path):
                os.remove(path)
        os.rmdir(workdir)

    print(f"state_dict: {args.tensors} tensors, {total_mb:.0f} MB; median of {args.repeat} "
          "(min-max)")
    _report("save", save_times, [("ember.save", "torch.save"),
                                 ("ember.save", "torch.save+fsync")])
    _report("load", load_times, [
        ("ember.load(ember file)", "torch.load(torch file)"),
        ("ember.load(torch file)", "torch.load(torch file)"),
        ("ember.load(ember file)", "torch.load(ember file)"),
        ("ember.load(ember file, mmap)", "torch.load(torch file, mmap)")])


if __name__ == "__main__":
    main()
