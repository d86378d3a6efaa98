"""``ember.distributed.constants`` (``torch.distributed.constants``): the default collective
timeout, 30 minutes, and no separate NCCL timeout."""
from datetime import timedelta

from ember.distributed import constants, default_pg_timeout


def test_default_timeouts():
    assert constants.default_pg_timeout == default_pg_timeout == timedelta(minutes=30)
    assert constants.default_pg_nccl_timeout is None
