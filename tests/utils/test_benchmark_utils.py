"""ember.utils.benchmark: Timer on a deterministic clock, Measurement statistics against NumPy,
and Compare's / Measurement's text against torch.utils.benchmark for the same data."""
import random
import re
import timeit

import numpy as np
import pytest

import ember
import ember.utils.benchmark as benchmark
from ember.utils.benchmark.utils.common import Measurement, TaskSpec

STEP = 2.0 ** -20  # an exact binary step: the fake clock adds without rounding error


def _clocked_timer(steps=(1,), **kwargs) -> benchmark.Timer:
    """A Timer whose clock advances by ``STEP * steps[i]`` on the i-th execution (cycling):
    its measurements are exact."""
    clock = {"t": 0.0, "i": 0, "steps": steps}
    stmt = "c['t'] += STEP * c['steps'][c['i'] % len(c['steps'])]; c['i'] += 1"
    return benchmark.Timer(stmt, globals={"c": clock, "STEP": STEP},
                           timer=lambda: clock["t"], **kwargs)


def test_timeit_measures_one_block():
    m = _clocked_timer().timeit(1000)
    assert m.number_per_run == 1000
    assert m.raw_times == [1000 * STEP]
    assert m.times == [STEP] and m.median == STEP and m.mean == STEP and m.iqr == 0.0


def test_blocked_autorange_blocks_and_run_time():
    calls = []
    m = _clocked_timer().blocked_autorange(callback=lambda n, t: calls.append((n, t)),
                                           min_run_time=0.2)
    # The smallest power of ten taking >= 10 ms: 10**5 * 2**-20 s = 95 ms.
    assert m.number_per_run == 100_000
    assert len(m.raw_times) == 3 and sum(m.raw_times) >= 0.2
    assert calls == [(100_000, t) for t in m.raw_times]


def test_statistics_match_numpy():
    m = _clocked_timer(steps=(1, 3, 2, 7, 5)).blocked_autorange(min_run_time=1.0)
    times = np.array(m.raw_times) / m.number_per_run
    assert m.times == pytest.approx(times.tolist())
    assert m.median == pytest.approx(np.median(times))
    assert m.mean == pytest.approx(np.mean(times))
    assert m.iqr == pytest.approx(np.percentile(times, 75) - np.percentile(times, 25))


def test_statistics_on_given_times():
    raw = [4.0, 1.0, 3.0, 2.0, 10.0]
    m = Measurement(10, raw, TaskSpec("x", "pass"))
    t = np.array(raw) / 10
    assert m.median == pytest.approx(np.median(t)) and m.mean == pytest.approx(np.mean(t))
    assert m.iqr == pytest.approx(np.percentile(t, 75) - np.percentile(t, 25))
    assert m.has_warnings  # IQR is 2/3 of the median


def test_timer_agrees_with_timeit():
    clock = {"t": 0.0}
    t = timeit.Timer("c['t'] += 0.5", globals={"c": clock}, timer=lambda: clock["t"])
    m = benchmark.Timer("c['t'] += 0.5", globals={"c": clock},
                        timer=lambda: clock["t"]).timeit(8)
    assert m.raw_times == [t.timeit(8)] == [4.0]


def test_adaptive_autorange_stops_when_confident():
    m = _clocked_timer().adaptive_autorange(threshold=0.1, max_run_time=5.0)
    assert 4 <= len(m.raw_times) and m.meets_confidence(0.1)


def test_repeat_and_autorange_defer_to_blocked_autorange():
    t = benchmark.Timer("pass")
    with pytest.raises(NotImplementedError):
        t.repeat()
    with pytest.raises(NotImplementedError):
        t.autorange()


def test_num_threads_set_for_measurement_and_restored():
    seen = []
    before = ember.get_num_threads()
    benchmark.Timer("seen.append(torch.get_num_threads())", globals={"seen": seen},
                    num_threads=1).timeit(1)
    assert set(seen) == {1}
    assert ember.get_num_threads() == before


def test_torch_name_is_ember_in_statements():
    m = benchmark.Timer("torch.ones(2) + ember.ones(2)").timeit(3)
    assert m.number_per_run == 3


def test_measurement_repr_layout():
    m = Measurement(100, [1.0e-4, 1.1e-4, 1.2e-4, 1.3e-4, 1.0e-4],
                    TaskSpec("x + y", "pass", label="add", sub_label="64", description="ember"))
    lines = repr(m).splitlines()
    assert re.fullmatch(r"<ember\.utils\.benchmark\.utils\.common\.Measurement object at "
                        r"0x[0-9a-f]+>", lines[0])
    assert lines[1:] == ["add: 64", "ember", "  Median: 1.10 us",
                         "  IQR:    0.20 us (1.00 to 1.20)",
                         "  5 measurements, 100 runs per measurement, 1 thread",
                         "  WARNING: Interquartile range is 18.2% of the median measurement.",
                         "           This could indicate system fluctuation."]
    one = Measurement(10, [2e-3], TaskSpec("f()", "setup()", num_threads=2))
    assert repr(one).splitlines()[1:] == ["f()", "setup: setup()", "  200.00 us",
                                          "  1 measurement, 10 runs , 2 threads"]


def test_merge_pools_times_per_task():
    spec = TaskSpec("x", "pass", label="l")
    merged = Measurement.merge([Measurement(10, [1.0], spec), Measurement(5, [1.0, 2.0], spec),
                                Measurement(1, [3.0], TaskSpec("y", "pass"))])
    assert len(merged) == 2
    assert merged[0].number_per_run == 1 and merged[0].raw_times == [0.1, 0.2, 0.4]


def _m(median: float, n: int = 5, **spec) -> Measurement:
    return Measurement(1, [median] * n, TaskSpec("y + y", "pass", **spec))


def test_compare_layout():
    results = [_m(8.4e-7, label="Ops", sub_label="[16, 16]", description="add"),
               _m(8.2e-7, label="Ops", sub_label="[16, 16]", description="mul"),
               _m(1.158e-6, label="Ops", sub_label="[64, 64]", description="add"),
               _m(1.079e-6, label="Ops", sub_label="[64, 64]", description="mul"),
               _m(8.24e-7, label="Ops", sub_label="[16, 16]", description="add", num_threads=2)]
    assert str(benchmark.Compare(results)).splitlines() == [
        "[-------------- Ops ---------------]",
        "                |   add    |   mul  ",
        "1 threads: -------------------------",
        "      [16, 16]  |   840.0  |   820.0",
        "      [64, 64]  |  1158.0  |  1079.0",
        "2 threads: -------------------------",
        "      [16, 16]  |   824.0  |        ",
        "",
        "Times are in nanoseconds (ns).",
    ]


def test_compare_rejects_other_objects():
    with pytest.raises(ValueError):
        benchmark.Compare([1.0])


def _random_specs(seed: int = 0) -> list:
    rng = random.Random(seed)
    specs = []
    for label in ["Ops", None]:
        for threads in [1, 4]:
            for sub in ["[16, 16]", "[64, 1024]", None]:
                for desc in ["add", "a long description"]:
                    if rng.random() < 0.2:
                        continue  # an empty cell
                    base = rng.uniform(1e-7, 1e-3)
                    times = [base * 1000 * rng.uniform(0.9, 1.3)
                             for _ in range(rng.choice([1, 2, 5, 9]))]
                    specs.append((dict(stmt="x + y", setup="pass", label=label, sub_label=sub,
                                       description=desc, num_threads=threads), 1000, times))
    return specs


@pytest.mark.parametrize("options", [(), ("trim",), ("trim", "color"), ("warn",),
                                     ("rowwise", "warn", "trim")])
def test_compare_text_matches_torch(options):
    torch = pytest.importorskip("torch")
    from torch.utils.benchmark.utils import common as tcommon
    specs = _random_specs()
    texts = []
    for compare, spec_cls, measurement in [
            (torch.utils.benchmark.Compare, tcommon.TaskSpec, tcommon.Measurement),
            (benchmark.Compare, TaskSpec, Measurement)]:
        c = compare([measurement(n, times, spec_cls(**kw)) for kw, n, times in specs])
        if "trim" in options:
            c.trim_significant_figures()
        if "color" in options:
            c.colorize()
        if "rowwise" in options:
            c.colorize(rowwise=True)
        if "warn" in options:
            c.highlight_warnings()
        texts.append(str(c))
    assert texts[1] == texts[0]


def test_measurement_matches_torch():
    pytest.importorskip("torch")
    from torch.utils.benchmark.utils import common as tcommon
    specs = _random_specs(1) + [(dict(stmt="a\nb", setup="s\nt", sub_label="x"), 3, [1e-3]),
                                (dict(stmt="a", setup="s", description="d"), 3, [1, 2, 3, 4])]
    for kw, n, times in specs:
        ours = Measurement(n, times, TaskSpec(**kw))
        ref = tcommon.Measurement(n, times, tcommon.TaskSpec(**kw))
        assert repr(ours).split("\n", 1)[1] == repr(ref).split("\n", 1)[1]
        assert (ours.significant_figures, ours.has_warnings, ours.title) == \
            (ref.significant_figures, ref.has_warnings, ref.title)
        assert ours.median == pytest.approx(ref.median) and ours.iqr == pytest.approx(ref.iqr)
