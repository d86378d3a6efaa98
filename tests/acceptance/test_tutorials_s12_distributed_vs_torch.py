"""The distributed tutorials of test_tutorials_s12_distributed.py run by real PyTorch (gloo on
CPU): the same text with the same substitutions prints what the ember runs are checked to
print (test_tutorials_s12_distributed.EXPECTED); with ``Join`` over DDP +
``ZeroRedundancyOptimizer`` (Adam) PyTorch's ranks make the parameter updates ember's are
checked against (``check_zero_join_updates``: the gradients of ``Linear(1, 1)(1).sum()`` do
not depend on the initial weights, which the two random generators draw differently)."""
import sys

import pytest

torch = pytest.importorskip("torch")
if not torch.distributed.is_available() or not torch.distributed.is_gloo_available():
    pytest.skip("this PyTorch has no gloo backend", allow_module_level=True)

import test_tutorials_s12_distributed as s12  # noqa: E402


def _torch_lines(folder, code, *args, launcher=(), sentence=None):
    proc = s12.run_tutorial(folder, code, *args, python=sys.executable, launcher=launcher)
    if "terminate called without an active exception" in proc.stderr:
        # PyTorch's gloo at times aborts a rank at exit when the script never destroyed its
        # process group (the Join scripts); what the ranks printed came before.
        proc.returncode = 0
    return s12.lines(proc, sentence)


@s12.needs_mpi
@pytest.mark.parametrize("name", ["non_blocking", "all_reduce", "all_reduce_fork", "collectives",
                                  "ring",
                                  "join_counter"])
def test_pytorch_prints_the_same(tmp_path, name):
    assert _torch_lines(tmp_path, s12.SCRIPTS[name]()) == s12.EXPECTED[name]


@s12.needs_mpi
def test_ddp_demos_as_pytorch(tmp_path):
    assert _torch_lines(tmp_path, s12.ddp_script()) == s12.DEMO_LINES


@s12.needs_mpi
def test_elastic_ddp_under_torchrun_as_pytorch(tmp_path):
    assert _torch_lines(tmp_path, s12.elastic_script(),
                        launcher=["-m", "torch.distributed.run", *s12.torchrun_args()],
                        sentence=s12.ELASTIC_SENTENCE) == s12.ELASTIC_LINES


@s12.needs_mpi
def test_join_with_zero_updates_as_pytorch(tmp_path):
    assert _torch_lines(tmp_path, s12.SCRIPTS["join_zero"]()) == s12.EXPECTED["join_zero"]
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(2)]
    s12.check_zero_join_updates(ranks)
