"""``torch.distributed.nn.api``: RemoteModule."""
