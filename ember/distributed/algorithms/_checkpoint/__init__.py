"""``torch.distributed.algorithms._checkpoint``: activation-checkpointing wrappers for modules
(see ``checkpoint_wrapper``)."""
