"""``torch._functorch``: the Python side of PyTorch's function transforms; ember's transforms
live in ``ember.func`` and this package names the helpers libraries import from here."""
