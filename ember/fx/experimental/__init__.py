"""``torch.fx.experimental``: passes built on FX (``optimization.fuse``)."""
