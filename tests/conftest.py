import os
import sys

# Under pytest-xdist the workers share the machine's cores: one BLAS / OpenMP thread each
# (unless the environment says otherwise), set before NumPy loads its BLAS where it has not
# yet, and inherited by the scripts tests run in subprocesses (PyTorch's included).
# Oversubscribed threads made the third-party stage 1.45x slower on 2 cores.
_ONE_THREAD = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1 and not any(
    v in os.environ for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"))
if _ONE_THREAD:
    os.environ.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

# One folder per test session for the reports of third-party scripts run under ember
# (tests/acceptance/script_report.py), made by the process that starts the session: xdist's
# workers inherit it.
if "EMBER_SCRIPT_REPORTS" not in os.environ:
    import atexit
    import shutil
    import tempfile
    _REPORTS = tempfile.mkdtemp(prefix="ember-script-reports-")
    os.environ["EMBER_SCRIPT_REPORTS"] = _REPORTS
    atexit.register(shutil.rmtree, _REPORTS, ignore_errors=True)

import ember  # noqa: E402

if _ONE_THREAD:  # (a pytest plugin may have loaded NumPy first: resize its pool where possible)
    ember.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed():
    ember.manual_seed(0)
    np.random.seed(0)
    yield


@pytest.fixture(autouse=True)
def _torch_distribution_validation():
    """Real torch.compile turns PyTorch's distribution argument checks off process-wide: keep
    them as they were for the tests after one that compiles (where torch is loaded at all)."""
    torch = sys.modules.get("torch")
    validate = torch.distributions.Distribution._validate_args if torch else __debug__
    yield
    torch = sys.modules.get("torch")  # (perhaps imported by the test)
    if torch is not None:
        torch.distributions.Distribution.set_default_validate_args(validate)


@pytest.fixture
def plain_dispatch_after():
    """For tests whose objects install __torch_function__ dispatch (a tracer-less fx Proxy):
    uninstall it afterwards if it was off before, so that later tests see the plain functions."""
    from ember import overrides
    installed_before = overrides._installed
    yield
    if not installed_before:
        overrides._uninstall()
