"""``torch.distributed._composable``: the composable APIs, of which ember has FSDP2
(``_composable.fsdp``)."""
