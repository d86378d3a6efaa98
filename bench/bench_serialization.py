"""Save and load a 500 MB state_dict (50 float32 tensors of 10 MB): ember vs PyTorch, one run.

    python bench/bench_serialization.py [--dir /tmp] [--repeat 3]

Prints the median of each; ratios are ember / torch (below 1: ember is faster). ember.save
fsyncs the file before renaming it into place (atomic and durable); torch.save does neither,
so "torch.save+fsync" is also shown as the like-for-like reference. Files are deleted after.
"""
import argparse
import os
import statistics
import tempfile
import time

import numpy as np

import ember


def _median(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default="/tmp")
    parser.add_argument("--repeat", type=int, default=3)
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
    results = {}
    try:
        results["ember.save"] = _median(lambda: ember.save(ember_sd, e_path), args.repeat)
        results["ember.load"] = _median(lambda: ember.load(e_path), args.repeat)
        results["ember.load(mmap=True)"] = _median(lambda: ember.load(e_path, mmap=True),
                                                   args.repeat)
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

            results["torch.save"] = _median(lambda: torch.save(torch_sd, t_path), args.repeat)
            results["torch.save+fsync"] = _median(torch_save_fsync, args.repeat)
            results["torch.load"] = _median(lambda: torch.load(t_path, weights_only=True),
                                            args.repeat)
            results["torch.load(mmap=True)"] = _median(
                lambda: torch.load(t_path, weights_only=True, mmap=True), args.repeat)
            results["ember.load(torch file)"] = _median(lambda: ember.load(t_path), args.repeat)
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
