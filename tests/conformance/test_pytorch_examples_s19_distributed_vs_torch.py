"""pytorch/examples' FSDP2 and tensor-parallel examples run by real PyTorch (its own torchrun,
gloo on CPU ranks) meet the oracles their ember runs meet in
tests/acceptance/test_pytorch_examples_s19_distributed.py, replayed by real PyTorch: the
resumed FSDP2 run's checkpoint (through DCP's full state dicts, loaded into a model on the
meta device) is the one-process replay's from the first run's, and the tensor-parallel
example's optimizer steps none of the model's parameters (it was built before
``parallelize_module`` replaced them) while the gradients are one process's, and the 2-D
(FSDP + TP, four ranks) example's losses and parameters are one process's, as are the DDP
DCGAN dry run's printed losses and saved weights. The ranks' random
seeds differ from run to run in both libraries, so each run is compared with its oracle, not
number for number. (With mixed precision PyTorch's sharded run flips a bfloat16 rounding here
and there, which Adam can turn into a visible step, so that variant is checked on ember
only, where the sharded and replayed computations round alike.)"""
import shutil
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("mpi4py")  # the acceptance module's skip condition
if shutil.which("torchrun") is None and not torch.distributed.is_available():
    pytest.skip("this PyTorch build has no torch.distributed", allow_module_level=True)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "acceptance"))
import test_pytorch_examples_s19_distributed as s19  # noqa: E402


def test_fsdp2_example_meets_its_oracle_under_pytorch(tmp_path):
    s19.check_fsdp2_example(tmp_path, "dcp_api", torch=torch)


def test_tensor_parallel_example_meets_its_oracle_under_pytorch(tmp_path):
    s19.check_tensor_parallel_example(tmp_path, "tensor_parallel_example.py", torch=torch)


def test_fsdp_tp_example_meets_its_oracle_under_pytorch(tmp_path):
    s19.check_fsdp_tp_example(tmp_path, torch=torch)


def test_ddp_dcgan_example_meets_its_oracle_under_pytorch(tmp_path):
    from tests.conformance.real_torchvision import real_torchvision
    real_torchvision()  # the replay imports torchvision in this process
    s19.check_dcgan_example(tmp_path, torch=torch)
