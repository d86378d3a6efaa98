"""ember.distributed's data-parallel API against torch.distributed's, without starting MPI
(the multi-process behaviour is in tests/distributed/test_dist_api.py): names, signatures,
the error hierarchy, DebugLevel, Future, Join's contract, GradBucket, ZeRO's partition."""
import inspect
import warnings

import pytest

torch = pytest.importorskip("torch")
tdist = pytest.importorskip("torch.distributed")
if not tdist.is_available():
    pytest.skip("this torch build has no torch.distributed", allow_module_level=True)
pytest.importorskip("torch.distributed.algorithms")
pytest.importorskip("torch.distributed.optim")

import ember  # noqa: E402
import ember.distributed as edist  # noqa: E402
from ember.distributed.algorithms import Join, Joinable  # noqa: E402
from ember.distributed.optim import ZeroRedundancyOptimizer  # noqa: E402
from ember.nn.parallel import DistributedDataParallel  # noqa: E402

FUNCTIONS = ["send_object_list", "recv_object_list", "new_subgroups",
             "new_subgroups_by_enumeration", "monitored_barrier", "all_reduce_coalesced",
             "all_gather_coalesced", "get_backend_config", "is_backend_available",
             "get_default_backend_for_device", "get_pg_count", "get_node_local_rank",
             "init_device_mesh"]


def _parameters(fn):
    return [(p.name, p.kind, p.default if p.default is not p.empty and
             isinstance(p.default, (bool, int, float, str, type(None))) else "<object>")
            for p in inspect.signature(fn).parameters.values()]


@pytest.mark.parametrize("name", FUNCTIONS)
def test_functions_have_torchs_signature(name):
    assert _parameters(getattr(edist, name)) == _parameters(getattr(tdist, name))


@pytest.mark.parametrize("ours, theirs", [
    (DistributedDataParallel.join, torch.nn.parallel.DistributedDataParallel.join),
    (DistributedDataParallel.register_comm_hook,
     torch.nn.parallel.DistributedDataParallel.register_comm_hook),
    (ZeroRedundancyOptimizer.__init__, tdist.optim.ZeroRedundancyOptimizer.__init__),
    (ZeroRedundancyOptimizer.consolidate_state_dict,
     tdist.optim.ZeroRedundancyOptimizer.consolidate_state_dict),
    (ZeroRedundancyOptimizer.step, tdist.optim.ZeroRedundancyOptimizer.step),
    (Join.__init__, tdist.algorithms.Join.__init__),
], ids=lambda f: getattr(f, "__qualname__", ""))
def test_methods_have_torchs_signature(ours, theirs):
    assert _parameters(ours) == _parameters(theirs)


def test_device_mesh_methods_match():
    from torch.distributed.device_mesh import DeviceMesh as TorchMesh
    for name in ["get_group", "get_all_groups", "size", "get_rank", "get_local_rank",
                 "get_coordinate", "__getitem__"]:
        assert _parameters(getattr(edist.DeviceMesh, name)) == \
            _parameters(getattr(TorchMesh, name)), name


def test_error_classes_follow_torchs_hierarchy():
    for name in ["DistError", "DistBackendError", "DistNetworkError", "DistStoreError",
                 "QueueEmptyError"]:
        ours = [c.__name__ for c in getattr(edist, name).__mro__]
        theirs = [c.__name__ for c in getattr(tdist, name).__mro__]
        assert ours == theirs


def test_debug_level(monkeypatch):
    assert [(m.name, int(m)) for m in edist.DebugLevel] == \
        [(name, int(value)) for name, value in tdist.DebugLevel.__members__.items()]
    before = edist.get_debug_level()
    try:
        edist.set_debug_level(edist.DebugLevel.DETAIL)
        assert edist.get_debug_level() == edist.DebugLevel.DETAIL
        monkeypatch.setenv("TORCH_DISTRIBUTED_DEBUG", "info")
        edist.set_debug_level_from_env()
        assert edist.get_debug_level() == edist.DebugLevel.INFO
        assert str(edist.get_debug_level()) == "DebugLevel.INFO"
        monkeypatch.setenv("TORCH_DISTRIBUTED_DEBUG", "LOUD")
        with pytest.raises(ValueError, match="OFF, INFO, or DETAIL"):
            edist.set_debug_level_from_env()
    finally:
        edist.set_debug_level(before)


def test_get_node_local_rank(monkeypatch):
    for name in ["LOCAL_RANK", "MPI_LOCALRANKID", "OMPI_COMM_WORLD_LOCAL_RANK",
                 "MV2_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID"]:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(RuntimeError) as theirs:
        tdist.get_node_local_rank()
    with pytest.raises(RuntimeError) as ours:
        edist.get_node_local_rank()
    assert str(ours.value) == str(theirs.value)
    assert edist.get_node_local_rank(3) == tdist.get_node_local_rank(3) == 3
    monkeypatch.setenv("LOCAL_RANK", "2")
    assert edist.get_node_local_rank(5) == tdist.get_node_local_rank(5) == 2


def test_backend_queries():
    for backend in ["gloo", "GLOO", "nccl", "cpu:gloo,cuda:nccl", "tcp"]:
        expected = tdist.is_backend_available(backend)
        if backend.lower() in ("gloo",):
            expected = edist.is_available()  # ember runs "gloo" on MPI
        assert edist.is_backend_available(backend) == expected, backend
    assert edist.get_default_backend_for_device("cuda") == \
        tdist.get_default_backend_for_device("cuda") == "nccl"
    assert edist.get_default_backend_for_device(ember.device("cpu")) == "mpi"
    assert edist.default_pg_timeout == tdist.default_pg_timeout


def test_coalesced_collectives_warn_as_torchs():
    for name in ["all_reduce_coalesced", "all_gather_coalesced"]:
        messages = []
        for module, make in [(tdist, torch.ones), (edist, ember.ones)]:
            args = ([make(2)],) if name == "all_reduce_coalesced" else ([[make(2)]], [make(2)])
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                with pytest.raises((RuntimeError, ValueError)):
                    getattr(module, name)(*args)  # no process group
            assert caught[0].category is FutureWarning
            messages.append(str(caught[0].message).replace("torch.", "ember."))
        assert messages[0] == messages[1]


def _future_story(Future):
    """What a user observes of a Future: then-chains, callbacks, errors."""
    seen = []
    f = Future()
    child = f.then(lambda fut: fut.value() * 2)
    f.add_done_callback(lambda fut: seen.append(fut.value()))
    story = [f.done(), child.done()]
    f.set_result(21)
    story += [f.done(), child.wait(), f.wait(), seen]
    with pytest.raises(RuntimeError) as twice:
        f.set_result(1)
    story.append(str(twice.value))
    g = Future()
    g.set_exception(ValueError("boom"))
    with pytest.raises(ValueError, match="boom"):
        g.wait()
    h = Future()
    failing = h.then(lambda fut: 1 / 0)
    h.set_result(0)
    with pytest.raises(RuntimeError) as error:
        failing.wait()
    story.append(str(error.value).splitlines()[0])
    return story


def test_future_behaves_as_torchs():
    assert _future_story(edist.Future) == _future_story(torch.futures.Future)


def test_join_contract():
    for J in (Join, tdist.algorithms.Join):
        with pytest.raises(ValueError, match="at least one joinable"):
            J([])

    class Incomplete(Joinable):
        def __init__(self):
            super().__init__()

    with pytest.raises(TypeError):
        Incomplete()
    assert inspect.isabstract(Joinable) and inspect.isabstract(tdist.algorithms.Joinable)
    assert issubclass(DistributedDataParallel, Joinable)
    assert issubclass(ZeroRedundancyOptimizer, Joinable)


def test_grad_bucket_api():
    params = [ember.zeros(2, 3), ember.zeros(4)]
    buffer = ember.arange(10, dtype=ember.float32)
    bucket = edist.GradBucket(1, buffer, params, [0, 6], is_last=True)
    public = {n for n in dir(tdist.GradBucket) if not n.startswith("_")}
    assert public <= {n for n in dir(bucket) if not n.startswith("_")}
    grads = bucket.gradients()
    assert [tuple(g.shape) for g in grads] == [(2, 3), (4,)]
    assert grads[1].tolist() == [6.0, 7.0, 8.0, 9.0]
    bucket.set_buffer(ember.zeros(10))
    assert grads[0].sum().item() == 0 and bucket.index() == 1 and bucket.is_last()


class _Param:
    """Stands for a parameter: the partition only asks its size."""

    def __init__(self, n):
        self.n = n

    def numel(self):
        return self.n


def _partition(cls, sizes_per_group, world_size):
    zero = object.__new__(cls)  # the partition needs no process group
    groups = [{"params": [_Param(n) for n in sizes], "lr": 0.1} for sizes in sizes_per_group]
    zero.param_groups, zero.world_size = groups, world_size
    zero._partition_parameters_cache = []  # torch's
    zero._partition_cache = None  # ember's
    index = {id(p): i for i, p in enumerate(p for g in groups for p in g["params"])}
    return [[[index[id(p)] for p in g["params"]] for g in rank_groups]
            for rank_groups in zero._partition_parameters()]


@pytest.mark.parametrize("world_size", [2, 3, 4])
def test_zero_partition_is_torchs(world_size):
    sizes = [[30, 7, 7, 128, 1, 64, 7], [5, 5, 300, 2]]
    assert _partition(ZeroRedundancyOptimizer, sizes, world_size) == \
        _partition(tdist.optim.ZeroRedundancyOptimizer, sizes, world_size)


def test_supports_complex_and_other_engines():
    for op in edist.ReduceOp:
        assert edist.supports_complex(op) == tdist.supports_complex(getattr(tdist.ReduceOp,
                                                                             op.name)), op
    assert edist.is_ucc_available() is edist.is_xccl_available() is False
