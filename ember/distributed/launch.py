"""``python -m ember.distributed.launch``: PyTorch's deprecated launcher, on ember.distributed.run.

It takes torchrun's options plus ``--use-env``: without it each rank also gets
``--local-rank=LOCAL_RANK`` as its first argument (PyTorch 2's dashed spelling; a script's
``argparse`` may accept ``--local_rank`` too by naming both), with it only the ``LOCAL_RANK``
variable, which torchrun always sets.

Example::

    python -m ember.distributed.launch --nproc_per_node=2 train.py
"""
from __future__ import annotations

import argparse
import warnings

from ember.distributed import run as _run

__all__ = ["get_args_parser", "launch", "main", "parse_args"]


def get_args_parser() -> argparse.ArgumentParser:
    parser = _run.get_args_parser()
    parser.add_argument("--use-env", "--use_env", action="store_true",
                        help="pass the local rank in LOCAL_RANK only, not as --local-rank")
    return parser


def parse_args(args: list | None) -> argparse.Namespace:
    return get_args_parser().parse_args(args)


def launch(args: argparse.Namespace) -> int:
    """Start the job; returns mpiexec's exit code (non-zero when a rank failed)."""
    return _run.run(args, local_rank_argument=not args.use_env)


def main(args: list | None = None) -> None:
    warnings.warn("The module ember.distributed.launch is deprecated and will be removed in "
                  "future. Use torchrun (python -m ember.distributed.run).\nNote that --use-env "
                  "is set by default in torchrun.\nIf your script expects `--local-rank` "
                  "argument to be set, please change it to read from os.environ['LOCAL_RANK'] "
                  "instead.", FutureWarning, stacklevel=2)
    _run.exit_on_failure(launch(parse_args(args)), "ember.distributed.launch")


if __name__ == "__main__":
    main()
