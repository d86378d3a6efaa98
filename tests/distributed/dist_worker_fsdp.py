"""FullyShardedDataParallel's checks, run on every rank by test_dist_fsdp.py through
dist_harness. The oracle is single-process training of the same model on the whole batch with
the mean loss (float64), which every rank computes locally."""
import functools

import numpy as np
from dist_harness import run

import ember
import ember.distributed as dist
import ember.nn.functional as F
from ember import nn
from ember.distributed.algorithms._checkpoint.checkpoint_wrapper import (
    CheckpointImpl,
    CheckpointWrapper,
    apply_activation_checkpointing,
    checkpoint_wrapper,
)
from ember.distributed.fsdp import (
    FullStateDictConfig,
    MixedPrecision,
    ShardingStrategy,
    StateDictType,
)
from ember.distributed.fsdp import FullyShardedDataParallel as FSDP
from ember.distributed.fsdp.sharded_grad_scaler import ShardedGradScaler
from ember.distributed.fsdp.wrap import (
    ModuleWrapPolicy,
    enable_wrap,
    size_based_auto_wrap_policy,
    transformer_auto_wrap_policy,
    wrap,
)
from ember.utils.checkpoint import checkpoint

RANK = SIZE = None
PER_RANK = 4
STRATEGIES = {"full_shard": ShardingStrategy.FULL_SHARD,
              "shard_grad_op": ShardingStrategy.SHARD_GRAD_OP,
              "no_shard": ShardingStrategy.NO_SHARD}


class Block(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.lin = nn.Linear(width, width)
        self.norm = nn.LayerNorm(width)

    def forward(self, x):
        return x + ember.tanh(self.norm(self.lin(x)))


class CheckpointedBlock(Block):
    """A Block whose forward is recomputed in backward (activation checkpointing)."""

    reentrant = False

    def forward(self, x):
        return checkpoint(super().forward, x, use_reentrant=self.reentrant)


class Net(nn.Module):
    """An MLP with nested blocks; 6 -> 7 -> 3, odd sizes so that the flat parameters pad."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(6, 7)
        self.blocks = nn.Sequential(Block(7), Block(7))
        self.head = nn.Linear(7, 3)

    def forward(self, x):
        return self.head(self.blocks(ember.tanh(self.fc1(x))))


def batch():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((PER_RANK * SIZE, 6))
    y = rng.integers(0, 3, PER_RANK * SIZE)
    return ember.from_numpy(x), ember.from_numpy(y)


def mine(t):
    return t[RANK * PER_RANK:(RANK + 1) * PER_RANK]


def fresh(seed=0):
    ember.manual_seed(seed)
    return Net().double()


def full_params(model):
    """The whole parameters under the unwrapped model's names, from the full state dict."""
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


def assert_same(got, want, what, rtol=1e-10):
    assert list(got) == list(want), f"{what}: keys {list(got)} vs {list(want)}"
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=rtol, atol=1e-12,
                                   err_msg=f"{what}: {k}")


def nested_policy(min_num_params=30):
    return functools.partial(size_based_auto_wrap_policy, min_num_params=min_num_params)


def train_equivalence(strategy, optimizer="sgd", steps=3, **fsdp_kwargs):
    x, y = batch()
    model = FSDP(fresh(), sharding_strategy=STRATEGIES[strategy], **fsdp_kwargs)
    ref = fresh()
    make = (lambda ps: ember.optim.SGD(ps, lr=0.1, momentum=0.9)) if optimizer == "sgd" else \
        (lambda ps: ember.optim.Adam(ps, lr=0.01))
    opt, ref_opt = make(model.parameters()), make(ref.parameters())
    for _ in range(steps):
        for m, o, xs, ys in ((model, opt, mine(x), mine(y)), (ref, ref_opt, x, y)):
            o.zero_grad()
            F.cross_entropy(m(xs), ys).backward()
            o.step()
    assert_same(full_params(model), {k: v.numpy() for k, v in ref.state_dict().items()},
                f"{strategy} {optimizer}")
    return model


def check_full_shard_matches_single_process():
    model = train_equivalence("full_shard")
    shard = next(model.parameters())
    total = sum(p.numel() for p in fresh().parameters())
    assert shard.shape == (-(-total // SIZE),), shard.shape  # padded, one block per rank
    assert len(list(model.parameters())) == 1


def check_shard_grad_op_matches_single_process():
    train_equivalence("shard_grad_op")


def check_no_shard_matches_single_process():
    model = train_equivalence("no_shard")
    assert next(model.parameters()).numel() == sum(p.numel() for p in fresh().parameters())
    np.testing.assert_allclose(model.module.fc1.weight.numpy(),
                               model.state_dict()["fc1.weight"].numpy())  # stays a view


def check_nested_units_match_single_process():
    for strategy in STRATEGIES:
        model = train_equivalence(strategy, "adam", auto_wrap_policy=nested_policy())
        # the units and names PyTorch 2.13 makes of this model with this policy
        assert [type(u.module).__name__ for u in FSDP.fsdp_modules(model)] == \
            ["Net", "Linear", "Linear", "Linear"]
        assert [n for n, _ in model.named_parameters()] == [
            "_fsdp_wrapped_module._flat_param",
            "_fsdp_wrapped_module.fc1._fsdp_wrapped_module._flat_param",
            "_fsdp_wrapped_module.blocks.0.lin._fsdp_wrapped_module._flat_param",
            "_fsdp_wrapped_module.blocks.1.lin._fsdp_wrapped_module._flat_param"]
    model = train_equivalence("full_shard", "adam", steps=1, auto_wrap_policy=nested_policy(20))
    assert [type(u.module).__name__ for u in FSDP.fsdp_modules(model)] == \
        ["Net", "Linear", "Sequential", "Linear", "Linear", "Linear"]


def check_use_orig_params_matches_single_process():
    x, y = batch()
    for strategy in STRATEGIES:
        model = train_equivalence(strategy, "adam", use_orig_params=True,
                                  auto_wrap_policy=nested_policy())
        # PyTorch 2.13's names: the original ones, under the wrappers' prefixes
        wrapped = {"fc1", "blocks.0.lin", "blocks.1.lin"}
        want = [f"_fsdp_wrapped_module.{m}." + ("_fsdp_wrapped_module." if m in wrapped else "")
                + k for m, k in (n.rsplit(".", 1) for n, _ in fresh().named_parameters())]
        assert [n for n, _ in model.named_parameters()] == want
        head = model.module.head.weight  # between iterations: this rank's part of it
        assert head.shape == ((3, 7) if strategy == "no_shard" else (head.numel(),))
        shards = [None] * SIZE
        dist.all_gather_object(shards, head.numel())
        assert sum(shards) == (21 if strategy != "no_shard" else 21 * SIZE)
        ref = fresh()
        ref.load_state_dict(model.state_dict())
        model.zero_grad()
        F.cross_entropy(model(mine(x)), mine(y)).backward()
        F.cross_entropy(ref(x), y).backward()
        got = model.clip_grad_norm_(0.05)
        want = nn.utils.clip_grad_norm_(ref.parameters(), 0.05)
        np.testing.assert_allclose(got.item(), want.item(), rtol=1e-10)


def check_transformer_policy_and_module_wrap_policy():
    for policy in (functools.partial(transformer_auto_wrap_policy, transformer_layer_cls={Block}),
                   ModuleWrapPolicy({Block})):
        model = train_equivalence("full_shard", "adam", steps=2, auto_wrap_policy=policy)
        wrapped = [type(u.module).__name__ for u in FSDP.fsdp_modules(model)]
        assert wrapped == ["Net", "Block", "Block"], wrapped


def check_activation_checkpointing_inside_units():
    x, y = batch()
    for reentrant in (False, True):
        CheckpointedBlock.reentrant = reentrant
        for strategy in STRATEGIES:
            model = fresh()
            model.blocks = nn.Sequential(CheckpointedBlock(7), CheckpointedBlock(7)).double()
            ref = fresh()
            ref.load_state_dict(model.state_dict())
            model = FSDP(model, sharding_strategy=STRATEGIES[strategy],
                         auto_wrap_policy=ModuleWrapPolicy({CheckpointedBlock}))
            F.cross_entropy(model(mine(x)), mine(y)).backward()
            F.cross_entropy(ref(x), y).backward()
            sgd_all((model, ref))
            assert_same(full_params(model), {k: v.numpy() for k, v in ref.state_dict().items()},
                        f"checkpointing {strategy} reentrant={reentrant}")


def check_apply_activation_checkpointing_to_units():
    # the FSDP T5 example's order: wrap with FSDP, then checkpoint the blocks inside the units
    x, y = batch()
    model = FSDP(fresh(), auto_wrap_policy=ModuleWrapPolicy({Block}))
    apply_activation_checkpointing(
        model, checkpoint_wrapper_fn=functools.partial(
            checkpoint_wrapper, checkpoint_impl=CheckpointImpl.NO_REENTRANT),
        check_fn=lambda m: isinstance(m, Block))
    assert sum(isinstance(m, CheckpointWrapper) for m in model.modules()) == 2
    ref = fresh()
    for _ in range(2):
        F.cross_entropy(model(mine(x)), mine(y)).backward()
        F.cross_entropy(ref(x), y).backward()
        sgd_all((model, ref))
    assert_same(full_params(model), {k: v.numpy() for k, v in ref.state_dict().items()},
                "apply_activation_checkpointing")


def check_sharded_grad_scaler_skips_when_any_rank_overflows():
    x, y = batch()
    model, ref = FSDP(fresh()), fresh()
    opt = ember.optim.SGD(model.parameters(), lr=0.1)
    ref_opt = ember.optim.SGD(ref.parameters(), lr=0.1)
    scaler = ShardedGradScaler("cpu", init_scale=2.0 ** 8)
    before = full_params(model)
    for step in range(2):
        opt.zero_grad()
        scaler.scale(F.cross_entropy(model(mine(x)), mine(y))).backward()
        if step == 0 and RANK == SIZE - 1:  # one rank's shard overflows
            next(model.parameters()).grad[0] = float("inf")
        scaler.step(opt)
        scaler.update()
        if step == 0:  # every rank skipped, and every rank backed off
            assert_same(full_params(model), before, "skipped step")
            assert scaler.get_scale() == 2.0 ** 7, scaler.get_scale()
    ref_opt.zero_grad()
    F.cross_entropy(ref(x), y).backward()
    ref_opt.step()  # the one clean step (scaling by a power of two is exact)
    assert_same(full_params(model), {k: v.numpy() for k, v in ref.state_dict().items()},
                "scaled step")


def check_full_shard_frees_between_forward_and_backward():
    x, y = batch()
    for strategy, kept in (("full_shard", False), ("shard_grad_op", True)):
        model = FSDP(fresh(), sharding_strategy=STRATEGIES[strategy],
                     auto_wrap_policy=nested_policy())
        loss = F.cross_entropy(model(mine(x)), mine(y))
        handles = [u._handle for u in FSDP.fsdp_modules(model)]
        assert len(handles) == 4 and all(h.unsharded == kept for h in handles), strategy
        if not kept:  # the original parameters are placeholders holding one element
            assert model.module.head.weight.stride() == (0, 0)
        loss.backward()
        assert not any(h.unsharded for h in handles)
        assert all(h.flat_param.grad is not None for h in handles)


def check_no_sync_accumulates_then_reduces():
    x, y = batch()
    for strategy in STRATEGIES:
        model = FSDP(fresh(), sharding_strategy=STRATEGIES[strategy],
                     auto_wrap_policy=nested_policy())
        ref = fresh()
        xs, ys = mine(x), mine(y)
        half = PER_RANK // 2
        with model.no_sync():
            (F.cross_entropy(model(xs[:half]), ys[:half]) / 2).backward()
        assert all(p.grad is None for p in model.parameters())
        (F.cross_entropy(model(xs[half:]), ys[half:]) / 2).backward()
        F.cross_entropy(ref(x), y).backward()
        sgd_all((model, ref))
        assert_same(full_params(model), {k: v.numpy() for k, v in ref.state_dict().items()},
                    f"no_sync {strategy}")


def sgd_all(models, lr=0.5):
    with ember.no_grad():
        for m in models:
            for p in m.parameters():
                p.sub_(lr * p.grad)
                p.grad = None


def check_gradient_accumulation_without_no_sync():
    x, y = batch()
    model = FSDP(fresh(), auto_wrap_policy=nested_policy())
    ref = fresh()
    for _ in range(2):  # two backward passes add into the shards' gradients
        F.cross_entropy(model(mine(x)), mine(y)).backward()
        F.cross_entropy(ref(x), y).backward()
    sgd_all((model, ref))
    assert_same(full_params(model), {k: v.numpy() for k, v in ref.state_dict().items()},
                "accumulation")


def check_clip_grad_norm_matches_single_process():
    x, y = batch()
    for strategy in STRATEGIES:
        for norm_type in (2.0, 1.0, float("inf")):
            model = FSDP(fresh(), sharding_strategy=STRATEGIES[strategy],
                         auto_wrap_policy=nested_policy())
            ref = fresh()
            F.cross_entropy(model(mine(x)), mine(y)).backward()
            F.cross_entropy(ref(x), y).backward()
            got = model.clip_grad_norm_(0.05, norm_type)
            want = nn.utils.clip_grad_norm_(ref.parameters(), 0.05, norm_type)
            np.testing.assert_allclose(got.item(), want.item(), rtol=1e-10,
                                       err_msg=f"{strategy} {norm_type}")
            assert got.item() > 0.05  # the clipping did something
            sgd_all((model, ref))
            assert_same(full_params(model), {k: v.numpy() for k, v in ref.state_dict().items()},
                        f"clip {strategy} {norm_type}")


def check_full_state_dict_keys_and_round_trip():
    for policy, orig in ((None, False), (nested_policy(), False), (nested_policy(), True)):
        model = FSDP(fresh(), auto_wrap_policy=policy, use_orig_params=orig)
        plain = fresh(5)
        state = model.state_dict()
        assert list(state) == list(plain.state_dict()), list(state)
        model.load_state_dict(plain.state_dict())
        assert_same(full_params(model), {k: v.numpy() for k, v in plain.state_dict().items()},
                    "loaded")
        cfg = FullStateDictConfig(offload_to_cpu=True, rank0_only=True)
        with FSDP.state_dict_type(model, StateDictType.FULL_STATE_DICT, cfg):
            state = model.state_dict()
        assert (len(state) > 0) == (RANK == 0)
        previous = FSDP.set_state_dict_type(model, StateDictType.FULL_STATE_DICT, cfg)
        assert previous.state_dict_config == FullStateDictConfig()
        assert FSDP.get_state_dict_type(model).state_dict_config.rank0_only
        FSDP.set_state_dict_type(model, previous.state_dict_type, previous.state_dict_config)
        try:
            model.load_state_dict({"fc1.weight": plain.fc1.weight.detach()})
        except RuntimeError as e:
            assert 'Missing key(s) in state_dict: "fc1.bias"' in str(e) and "head.bias" in str(e)
        else:
            raise AssertionError("a partial state dict must fail with strict=True")
        assert ("_fsdp_wrapped_module._flat_param" in dict(model.named_parameters())) != orig


def check_optim_state_dict_round_trip():
    """Train 2 steps, save the model's and the optimizer's full state dicts, load both into a
    model built from another seed, train 2 more: the same as 4 steps in one go."""
    from ember.distributed.fsdp import FullOptimStateDictConfig
    x, y = batch()

    def build(seed, orig):
        model = FSDP(fresh(seed), auto_wrap_policy=nested_policy(), use_orig_params=orig)
        return model, ember.optim.Adam(model.parameters(), lr=0.01)

    def train(model, optim, steps):
        for _ in range(steps):
            optim.zero_grad()
            F.cross_entropy(model(mine(x)), mine(y)).backward()
            optim.step()

    for orig in (False, True):
        model, optim = build(0, orig)
        train(model, optim, 4)
        first, first_optim = build(0, orig)
        train(first, first_optim, 2)
        model_sd, optim_sd = first.state_dict(), FSDP.optim_state_dict(first, first_optim)
        assert sorted(optim_sd["state"]) == sorted(model_sd)  # the parameters' own names
        assert optim_sd["state"]["head.weight"]["exp_avg"].shape == (3, 7)  # whole
        resumed, resumed_optim = build(3, orig)
        resumed.load_state_dict(model_sd)
        resumed_optim.load_state_dict(
            FSDP.optim_state_dict_to_load(resumed, resumed_optim, optim_sd))
        train(resumed, resumed_optim, 2)
        assert_same(full_params(resumed), full_params(model), f"resumed orig={orig}")
    cfg = FullOptimStateDictConfig(rank0_only=True)
    with FSDP.state_dict_type(model, StateDictType.FULL_STATE_DICT, None, cfg):
        assert (len(FSDP.optim_state_dict(model, optim)) > 0) == (RANK == 0)


def check_state_dict_of_a_plain_module_holding_units():
    x, y = batch()
    outer = nn.Sequential(FSDP(fresh(), auto_wrap_policy=nested_policy()), nn.Linear(3, 2))
    plain = nn.Sequential(fresh(5), nn.Linear(3, 2))
    assert list(outer.state_dict()) == list(plain.state_dict())
    outer.load_state_dict(plain.state_dict())
    assert_same({k: v.numpy() for k, v in outer.state_dict().items()},
                {k: v.numpy() for k, v in plain.state_dict().items()}, "outer")
    outer[0](x).sum().backward()  # still trains after the round trip


def check_ignored_modules_keep_their_parameters():
    x, y = batch()
    net = fresh()
    model = FSDP(net, ignored_modules=[net.head])
    names = {n: tuple(p.shape) for n, p in model.named_parameters()}
    assert names["_fsdp_wrapped_module.head.weight"] == (3, 7)
    assert len(names) == 3
    assert list(model.state_dict()) == list(fresh().state_dict())
    F.cross_entropy(model(mine(x)), mine(y)).backward()
    ref = fresh()
    F.cross_entropy(ref(mine(x)), mine(y)).backward()  # the ignored head: local gradient only
    np.testing.assert_allclose(net.head.weight.grad.numpy(), ref.head.weight.grad.numpy(),
                               rtol=1e-12)


def check_frozen_unit_trains_the_rest():
    x, y = batch()
    models = []
    for seed in (0, 0):
        net = fresh(seed)
        net.fc1.requires_grad_(False)
        models.append(net)
    model, ref = FSDP(models[0], auto_wrap_policy=nested_policy()), models[1]
    F.cross_entropy(model(mine(x)), mine(y)).backward()
    F.cross_entropy(ref(x), y).backward()
    frozen = model.module.fc1.module._flat_param
    assert not frozen.requires_grad and frozen.grad is None
    with ember.no_grad():
        for m in (model, ref):
            for p in m.parameters():
                if p.grad is not None:
                    p.sub_(0.5 * p.grad)
    assert_same(full_params(model), {k: v.numpy() for k, v in ref.state_dict().items()}, "frozen")


def check_summon_full_params_writeback():
    model = FSDP(fresh(), auto_wrap_policy=nested_policy())
    with FSDP.summon_full_params(model):
        assert model.module.head.weight.shape == (3, 7)
        model.module.head.weight.fill_(1.5)
        model.module.blocks[0].lin.module.bias.fill_(-2.0)
    with FSDP.summon_full_params(model, writeback=False):
        assert (model.module.head.weight.numpy() == 1.5).all()
        assert (model.module.blocks[0].lin.module.bias.numpy() == -2.0).all()
        model.module.head.weight.fill_(0.0)
    with FSDP.summon_full_params(model, rank0_only=True, writeback=False):
        if RANK == 0:
            assert (model.module.head.weight.numpy() == 1.5).all()
    try:
        with FSDP.summon_full_params(model, rank0_only=True):
            pass
    except NotImplementedError as e:
        assert "rank0_only" in str(e)
    else:
        raise AssertionError("rank0_only with writeback must fail")


def check_sync_module_states_broadcasts_rank0():
    model = FSDP(fresh(RANK), sync_module_states=True, auto_wrap_policy=nested_policy())
    mine_ = full_params(model)
    everyone = [None] * SIZE
    dist.all_gather_object(everyone, {k: v.tolist() for k, v in mine_.items()})
    assert all(e == everyone[0] for e in everyone)
    assert_same(mine_, {k: v.numpy() for k, v in fresh(0).state_dict().items()}, "synced")


def check_mixed_precision():
    x, y = batch()
    precision = MixedPrecision(param_dtype=ember.float32, reduce_dtype=ember.float32)
    model = FSDP(fresh(), mixed_precision=precision, auto_wrap_policy=nested_policy())
    ref = fresh().float()
    out = model(mine(x))
    assert out.dtype == ember.float32
    F.cross_entropy(out, mine(y)).backward()
    F.cross_entropy(ref(x.float()), y).backward()
    assert next(model.parameters()).grad.dtype == ember.float64  # the shards keep their dtype
    sgd_all((model, ref))
    got = full_params(model)
    assert all(v.dtype == np.float64 for v in got.values())
    assert_same(got, {k: v.double().numpy() for k, v in ref.state_dict().items()},
                "mixed precision", rtol=1e-5)


def check_eval_forward_and_wrap_api():
    x, _ = batch()
    model = FSDP(fresh(), auto_wrap_policy=nested_policy())
    with ember.no_grad():
        got = model(x)
    np.testing.assert_allclose(got.numpy(), fresh()(x).detach().numpy(), rtol=1e-12)
    with enable_wrap(wrapper_cls=FSDP, sharding_strategy=ShardingStrategy.SHARD_GRAD_OP):
        layer = wrap(nn.Linear(3, 2))
    assert isinstance(layer, FSDP) and layer.sharding_strategy == ShardingStrategy.SHARD_GRAD_OP
    assert wrap(nn.Linear(3, 2)).__class__ is nn.Linear  # outside enable_wrap: unchanged
    assert layer.in_features == 3  # attributes of the wrapped module show through


def check_errors():
    cases = [
        (lambda: FSDP(fresh(), sharding_strategy=ShardingStrategy.HYBRID_SHARD),
         NotImplementedError, "HYBRID_SHARD"),
        (lambda: FSDP(nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2).double())), ValueError,
         "one dtype"),
        (lambda: FSDP(nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2).requires_grad_(False))),
         ValueError, "requires_grad"),
    ]
    for make, kind, words in cases:
        try:
            make()
        except kind as e:
            assert words in str(e), str(e)
        else:
            raise AssertionError(f"expected {kind.__name__} about {words}")
    model = FSDP(fresh())
    with FSDP.state_dict_type(model, StateDictType.SHARDED_STATE_DICT):
        try:
            model.state_dict()
        except NotImplementedError as e:
            assert "FULL_STATE_DICT" in str(e)
        else:
            raise AssertionError("SHARDED_STATE_DICT is not implemented")


def check_torch_compat_import():
    from ember.compat import torch_is_ember
    with torch_is_ember():
        import torch
        import torch.distributed.fsdp
        from torch.distributed.fsdp import FullyShardedDataParallel
        assert FullyShardedDataParallel is FSDP
        assert torch.distributed.fsdp.FullyShardedDataParallel is FSDP


def _setup():
    global RANK, SIZE
    RANK, SIZE = dist.get_rank(), dist.get_world_size()


if __name__ == "__main__":
    run(globals(), _setup)
