"""ember.profiler: recorded op names and counts, self vs total time, schedules, traces, the
table's layout (against torch.profiler where it is installed), and no hook left behind."""
import gzip
import json
import os
import re
import sys
import threading
import time

import numpy as np
import pytest

import ember
from ember.profiler import (
    ProfilerAction,
    ProfilerActivity,
    profile,
    record_function,
    schedule,
    tensorboard_trace_handler,
)


def _counts(prof, **kwargs) -> dict:
    return {e.key: e.count for e in prof.key_averages(**kwargs)}


def _workload(lib, a):
    with lib.profiler.record_function("block"):
        for _ in range(3):
            b = lib.matmul(a, a)
        return lib.relu(b)


def test_op_names_and_counts():
    a = ember.randn(4, 4)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        _workload(ember, a)
    assert _counts(prof) == {"block": 1, "aten::matmul": 3, "aten::mm": 3, "aten::relu": 1}


def test_op_counts_match_torch():
    torch = pytest.importorskip("torch")
    with profile() as prof:
        _workload(ember, ember.ones(4, 4))
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as ref:
        _workload(torch, torch.ones(4, 4))
    ref_counts = _counts(ref)
    for name, count in _counts(prof).items():  # torch also records helpers ember has not
        assert ref_counts[name] == count, name


def test_operators_and_methods_are_named_like_aten():
    x = ember.randn(3, 3)
    with profile() as prof:
        x + x
        x * 2
        x @ x
        x.sum()
        x.t()
        ember.zeros(2)
    names = set(_counts(prof))
    assert {"aten::add", "aten::mul", "aten::matmul", "aten::sum", "aten::t",
            "aten::zeros"} <= names
    assert not any(n.startswith("aten::_") for n in names)


def test_self_and_total_times_nest():
    a = ember.randn(32, 32)
    with profile() as prof:
        with record_function("outer"):
            a @ a
            with record_function("inner"):
                a + a
                (a * a).sum()
    events = prof.events()
    by_name = {e.name: e for e in events}
    outer, inner = by_name["outer"], by_name["inner"]
    assert inner.cpu_parent is outer and outer.cpu_parent is None
    for e in events:
        assert 0 <= e.self_cpu_time_total <= e.cpu_time_total
        assert e.cpu_time_total >= sum(c.cpu_time_total for c in e.cpu_children)
        assert e.self_cpu_time_total == pytest.approx(
            e.cpu_time_total - sum(c.cpu_time_total for c in e.cpu_children))
    assert {c.name for c in inner.cpu_children} == {"aten::add", "aten::mul", "aten::sum"}
    # Every microsecond is some event's self time exactly once.
    top = [e for e in events if e.cpu_parent is None]
    assert events.self_cpu_time_total == pytest.approx(sum(e.cpu_time_total for e in top))
    avg = {e.key: e for e in prof.key_averages()}
    assert avg["outer"].cpu_time_total == pytest.approx(outer.cpu_time_total)


def test_record_function_decorator_and_inactive_use():
    @record_function("helper")
    def helper(x):
        return x + 1

    helper(ember.ones(2))  # no profiler: nothing happens
    with profile() as prof:
        helper(ember.ones(2))
        helper(ember.ones(2))
    assert _counts(prof)["helper"] == 2
    helper_event = next(e for e in prof.events() if e.name == "helper")
    assert [c.name for c in helper_event.cpu_children] == ["aten::add"]


def test_no_hook_left_and_ops_unchanged_after_exit():
    x = ember.randn(5, 5)
    before = (x @ x + x).numpy()
    add = ember.Tensor.__add__
    with profile(record_shapes=True, profile_memory=True, with_stack=True, with_flops=True,
                 with_modules=True):
        x @ x + x
    assert sys.getprofile() is None and threading.getprofile() is None
    assert ember.Tensor.__add__ is add
    np.testing.assert_array_equal((x @ x + x).numpy(), before)


def test_previous_profile_function_restored():
    def other(frame, event, arg):
        return None

    sys.setprofile(other)
    try:
        with profile():
            ember.ones(2) + 1
        assert sys.getprofile() is other
    finally:
        sys.setprofile(None)


def test_exception_inside_op_keeps_nesting():
    a, b = ember.ones(2, 3), ember.ones(4, 5)
    with profile() as prof:
        with record_function("outer"):
            with pytest.raises(RuntimeError):
                a @ b
            a + a
    outer = next(e for e in prof.events() if e.name == "outer")
    assert [c.name for c in outer.cpu_children] == ["aten::matmul", "aten::add"]


def test_threads_started_inside_are_recorded():
    x = ember.ones(3)

    def work():
        x * 2

    with profile() as prof:
        t = threading.Thread(target=work)
        t.start()
        t.join()
        x + 1
    threads = {e.name: e.thread for e in prof.events()}
    assert threads["aten::mul"] != threads["aten::add"]


def test_backward_nodes_modules_optimizer():
    model = ember.nn.Sequential(ember.nn.Linear(4, 3), ember.nn.ReLU())
    opt = ember.optim.SGD(model.parameters(), lr=0.1)
    with profile(with_modules=True) as prof:
        opt.zero_grad()
        model(ember.randn(2, 4)).sum().backward()
        opt.step()
    names = set(_counts(prof))
    assert {"nn.Module: Sequential_0", "nn.Module: Linear_0", "nn.Module: ReLU_0",
            "aten::linear", "AddmmBackward0", "ReluBackward0",
            "torch::autograd::AccumulateGrad", "Optimizer.step#SGD.step",
            "Optimizer.zero_grad#SGD.zero_grad"} <= names


def test_record_shapes_and_grouping():
    a, b = ember.ones(2, 3), ember.ones(3, 4)
    with profile(record_shapes=True) as prof:
        ember.mm(a, b)
        ember.mm(b.t(), a.t())
    rows = {(e.key, str(e.input_shapes)): e.count
            for e in prof.key_averages(group_by_input_shape=True)}
    assert rows[("aten::mm", "[[2, 3], [3, 4]]")] == 1
    assert rows[("aten::mm", "[[4, 3], [3, 2]]")] == 1
    assert "Input Shapes" in prof.key_averages(group_by_input_shape=True).table()


def test_profile_memory_counts_allocations_not_views():
    x = ember.ones(1000)
    with profile(profile_memory=True) as prof:
        y = x + x
        x.view(10, 100)
    avg = {e.key: e for e in prof.key_averages()}
    assert avg["aten::add"].self_cpu_memory_usage == y.numel() * 4
    assert avg["aten::view"].cpu_memory_usage == 0
    table = prof.key_averages().table()
    assert "CPU Mem" in table and "3.91 KB" in table


def test_with_flops_matrix_product():
    a, b = ember.ones(4, 8), ember.ones(8, 3)
    with profile(with_flops=True) as prof:
        ember.mm(a, b)
    assert {e.key: e.flops for e in prof.key_averages()}["aten::mm"] == 2 * 4 * 8 * 3
    assert "Total FLOPs" in prof.key_averages().table()


def test_with_stack_points_at_caller(tmp_path):
    with profile(with_stack=True) as prof:
        ember.ones(2) + 1
    event = next(e for e in prof.events() if e.name == "aten::add")
    assert event.stack[0].startswith(__file__) and "test_with_stack_points_at_caller" in \
        event.stack[0]
    path = tmp_path / "stacks.txt"
    prof.export_stacks(str(path))
    lines = path.read_text().splitlines()
    assert any(line.rsplit(" ", 1)[0].endswith(";aten::add") for line in lines)
    table = prof.key_averages(group_by_stack_n=1).table()
    assert "Source Location" in table


@pytest.mark.parametrize("args", [dict(wait=1, warmup=1, active=2),
                                  dict(wait=1, warmup=1, active=2, repeat=2, skip_first=1),
                                  dict(wait=0, warmup=1, active=1, repeat=3),
                                  dict(wait=2, warmup=0, active=3, repeat=1, skip_first=2)])
def test_schedule_actions(args):
    with pytest.warns(UserWarning) if args["warmup"] == 0 else _nothing():
        s = schedule(**args)
    actions = [s(i) for i in range(16)]
    cycle = args["wait"] + args["warmup"] + args["active"]
    first = args.get("skip_first", 0)
    assert actions[:first] == [ProfilerAction.NONE] * first
    assert actions[first + cycle - 1] is ProfilerAction.RECORD_AND_SAVE
    torch = pytest.importorskip("torch")
    with pytest.warns(UserWarning) if args["warmup"] == 0 else _nothing():
        ref = torch.profiler.schedule(**args)
    assert [a.name for a in actions] == [ref(i).name for i in range(16)]


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _run_steps(prof_module, lib, steps: int, **kwargs) -> list:
    ready = []
    x = lib.ones(2)
    with prof_module.profile(on_trace_ready=lambda p: ready.append(
            (p.step_num, sorted(_counts(p)))), **kwargs) as p:
        for _ in range(steps):
            x + x
            p.step()
    return ready


@pytest.mark.parametrize("args,steps", [(dict(wait=1, warmup=1, active=2, repeat=1), 6),
                                        (dict(wait=0, warmup=1, active=1), 3),
                                        (dict(wait=1, warmup=1, active=1, repeat=2), 7)])
def test_schedule_drives_trace_ready(args, steps):
    ready = _run_steps(ember.profiler, ember, steps, schedule=schedule(**args))
    cycle = args["wait"] + args["warmup"] + args["active"]
    assert ready[0] == (cycle, ["ProfilerStep*", "aten::add"])
    torch = pytest.importorskip("torch")
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = _run_steps(torch.profiler, torch, steps, schedule=torch.profiler.schedule(**args))
    assert ready == ref


def test_chrome_trace_is_valid_json(tmp_path):
    a = ember.randn(3, 3)
    with profile(record_shapes=True) as prof:
        with record_function("region"):
            a @ a
    for name, opener in [("trace.json", open), ("trace.json.gz", gzip.open)]:
        path = tmp_path / name
        prof.export_chrome_trace(str(path))
        with opener(path, "rt") as f:
            doc = json.load(f)
        ranges = [e for e in doc["traceEvents"] if e["ph"] == "X"]
        by_name = {e["name"]: e for e in ranges}
        assert {"region", "aten::matmul", "aten::mm"} <= set(by_name)
        assert by_name["region"]["cat"] == "user_annotation"
        assert by_name["aten::mm"]["cat"] == "cpu_op"
        assert by_name["aten::mm"]["args"]["Input Dims"] == [[3, 3], [3, 3]]
        region, mm = by_name["region"], by_name["aten::mm"]
        assert region["ts"] <= mm["ts"] and mm["ts"] + mm["dur"] <= region["ts"] + \
            region["dur"] + 1e-3
        assert all(e["dur"] >= 0 and e["pid"] == os.getpid() for e in ranges)


def test_tensorboard_trace_handler_writes_trace(tmp_path):
    logdir = tmp_path / "log"
    with profile(schedule=schedule(wait=0, warmup=1, active=1, repeat=1),
                 on_trace_ready=tensorboard_trace_handler(str(logdir), worker_name="w0")) as p:
        for _ in range(3):
            ember.ones(2) * 3
            p.step()
    files = os.listdir(logdir)
    assert len(files) == 1 and re.fullmatch(r"w0\.\d+\.pt\.trace\.json", files[0])
    doc = json.loads((logdir / files[0]).read_text())
    assert "aten::mul" in {e["name"] for e in doc["traceEvents"]}


def test_trace_names_its_time_in_ns_and_records_the_options(tmp_path):
    before = time.time_ns()
    with profile(record_shapes=True, with_stack=True,
                 on_trace_ready=tensorboard_trace_handler(str(tmp_path), worker_name="w0")):
        ember.ones(2) * 3
    (name,) = os.listdir(tmp_path)
    assert before <= int(name.split(".")[1]) <= time.time_ns()
    doc = json.loads((tmp_path / name).read_text())
    assert doc["record_shapes"] == doc["with_stack"] == 1 and "profile_memory" not in doc


def _header_columns(table: str) -> list:
    header = table.splitlines()[1]
    return re.split(r"\s{2,}", header.strip())


def _rule_widths(table: str) -> list:
    return [len(d) for d in table.splitlines()[0].split()]


def test_table_layout():
    with profile() as prof:
        ember.ones(3) + 1
    table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=5)
    lines = table.splitlines()
    assert _header_columns(table) == ["Name", "Self CPU %", "Self CPU", "CPU total %",
                                      "CPU total", "CPU time avg", "# of Calls"]
    assert lines[0] == lines[2] == lines[-2] and set(lines[0]) == {"-", " "}
    assert _rule_widths(table)[1:] == [12] * 6
    assert re.fullmatch(r"Self CPU time total: \d+\.\d{3}(us|ms|s)", lines[-1])
    assert len({len(line) for line in lines[:-1]}) == 1  # every row as wide as the rules


@pytest.mark.parametrize("options,group", [({}, {}), ({"profile_memory": True}, {}),
                                           ({"record_shapes": True},
                                            {"group_by_input_shape": True}),
                                           ({"with_flops": True}, {})])
def test_table_header_matches_torch(options, group):
    torch = pytest.importorskip("torch")
    with profile(**options) as prof:
        _workload(ember, ember.ones(4, 4))
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU],
                                **options) as ref:
        _workload(torch, torch.ones(4, 4))
    for sort_by in ["self_cpu_time_total", "cpu_time_total", "count"]:
        ours = prof.key_averages(**group).table(sort_by=sort_by, row_limit=3)
        theirs = ref.key_averages(**group).table(sort_by=sort_by, row_limit=3)
        assert _header_columns(ours) == _header_columns(theirs)
        assert _rule_widths(ours)[1:-1] == _rule_widths(theirs)[1:-1]
        assert ours.splitlines()[-1].startswith("Self CPU time total: ")
        assert theirs.splitlines()[-1].startswith("Self CPU time total: ")


def test_table_sorting_and_name_clipping():
    a = ember.randn(8, 8)
    with profile() as prof:
        for _ in range(4):
            a + a
        a @ a
    table = prof.key_averages().table(sort_by="count", max_name_column_width=10)
    first_row = table.splitlines()[3]
    assert first_row.split()[0] == "aten::a..." and first_row.split()[-1] == "4"


def test_legacy_autograd_profiler():
    from ember.autograd import profiler as legacy
    x = ember.ones(2)
    with legacy.profile() as prof:
        with legacy.record_function("legacy"):
            x + 1
    assert {e.name for e in prof.function_events} == {"legacy", "aten::add"}
    assert "Self CPU time total" in prof.table()
    with legacy.profile(enabled=False) as off:
        ember.ones(2) + 1
    assert len(off.function_events) == 0


def test_lazy_attribute_and_activities():
    assert ember.profiler.profile is profile
    assert ProfilerActivity.CPU in ember.profiler.supported_activities()
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        ember.ones(1) + 1
    assert prof.key_averages()[0].device_time_total == 0


def test_a_running_cprofile_is_reinstalled_after_profiling():
    import cProfile
    import sys

    from ember.profiler import ProfilerActivity, profile
    outer = cProfile.Profile()
    outer.enable()
    try:
        with profile(activities=[ProfilerActivity.CPU], with_stack=True) as prof:
            ember.ones(3).sum()
        assert sys.getprofile() is outer  # cProfile collects again
    finally:
        outer.disable()
    assert any(e.key == "aten::sum" for e in prof.key_averages())
