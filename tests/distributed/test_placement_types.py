"""torch.distributed.tensor's placement types (no process group needed): equality, hashing,
printing and the is_* predicates, as PyTorch defines them."""
from ember.distributed.tensor import Partial, Placement, Replicate, Shard


def test_placements_compare_by_value():
    assert Shard(0) == Shard(0) and Shard(0) != Shard(1) and Replicate() == Replicate()
    assert Partial() == Partial("sum") and Partial("max") != Partial()
    assert len({Shard(1), Shard(1), Replicate(), Replicate(), Partial()}) == 3
    assert all(isinstance(p, Placement) for p in (Shard(0), Replicate(), Partial()))


def test_placements_print_as_pytorch():
    assert [repr(p) for p in (Shard(0), Replicate(), Partial())] == [
        "Shard(dim=0)", "Replicate()", "Partial(sum)"]
    assert [str(p) for p in (Shard(1), Replicate(), Partial("max"))] == ["S(1)", "R", "P(max)"]


def test_predicates():
    assert Shard(0).is_shard() and Shard(0).is_shard(0) and not Shard(0).is_shard(1)
    assert not Shard(0).is_replicate() and not Shard(0).is_partial()
    assert Replicate().is_replicate() and not Replicate().is_shard()
    assert Partial().is_partial() and Partial().is_partial("sum")
    assert not Partial().is_partial("max") and Partial("avg").reduce_op == "avg"
    assert Shard(2).dim == 2
