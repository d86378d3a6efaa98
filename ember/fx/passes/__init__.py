"""``torch.fx.passes``: graph passes (``shape_prop``)."""
from ember.fx.passes import shape_prop  # noqa: F401
