"""``torch._inductor.config``: settings scripts assign before ``torch.compile`` (e.g.
``config.coordinate_descent_tuning = True``). ember compiles nothing, so they are kept and
read back, and change nothing."""
coordinate_descent_tuning = False
triton = type("triton", (), {"unique_kernel_names": False, "cudagraphs": False})
max_autotune = False
freezing = False
fx_graph_cache = False
