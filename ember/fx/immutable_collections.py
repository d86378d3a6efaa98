"""``torch.fx.immutable_collections``: the list and dict types that ``Node.args`` holds."""
from ember.fx.node import immutable_dict, immutable_list

__all__ = ["immutable_list", "immutable_dict"]
