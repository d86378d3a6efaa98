"""``torch.utils.tensorboard``: ``SummaryWriter``, which needs the ``tensorboard`` package
(``pip install tensorboard``)."""
try:
    import tensorboard  # noqa: F401
except ImportError as e:
    raise ImportError("ember.utils.tensorboard needs the tensorboard package: "
                      "pip install tensorboard") from e

from ember.utils.tensorboard.writer import SummaryWriter

__all__ = ["SummaryWriter"]
