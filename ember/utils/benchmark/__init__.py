"""``ember.utils.benchmark`` (``torch.utils.benchmark``): time statements with ``Timer``, read
``Measurement`` statistics, and tabulate many results with ``Compare``.

    import ember.utils.benchmark as benchmark
    t = benchmark.Timer("x @ x", globals={"x": ember.randn(64, 64)}, description="ember")
    print(t.blocked_autorange(min_run_time=0.2))

Built on Python's ``timeit``; only Python statements are supported (no C++ or Callgrind).
"""
from ember.utils.benchmark.utils.common import Measurement, TaskSpec, select_unit
from ember.utils.benchmark.utils.compare import Compare
from ember.utils.benchmark.utils.timer import Language, Timer

__all__ = ["Compare", "Language", "Measurement", "TaskSpec", "Timer", "select_unit"]
