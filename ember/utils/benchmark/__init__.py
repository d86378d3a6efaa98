"""``ember.utils.benchmark`` (``torch.utils.benchmark``): time statements with ``Timer``, read
``Measurement`` statistics, tabulate many results with ``Compare``, and draw random inputs
with ``Fuzzer``.

    import ember.utils.benchmark as benchmark
    t = benchmark.Timer("x @ x", globals={"x": ember.randn(64, 64)}, description="ember")
    print(t.blocked_autorange(min_run_time=0.2))

Built on Python's ``timeit``; only Python statements are supported (no C++ or Callgrind).
"""
from ember.utils.benchmark.utils.common import Measurement, TaskSpec, select_unit
from ember.utils.benchmark.utils.compare import Compare
from ember.utils.benchmark.utils.fuzzer import FuzzedParameter, FuzzedTensor, Fuzzer, ParameterAlias
from ember.utils.benchmark.utils.timer import Language, Timer

__all__ = ["Compare", "FuzzedParameter", "FuzzedTensor", "Fuzzer", "Language", "Measurement",
           "ParameterAlias", "TaskSpec", "Timer", "select_unit"]
