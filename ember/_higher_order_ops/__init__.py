"""``torch._higher_order_ops``: PyTorch's control-flow operators (``cond``, ``while_loop``,
``scan``, ``associative_scan``, ``map``) and ``foreach_map``. PyTorch captures them with
``torch.compile`` so that data-dependent control flow stays in one graph; ember compiles
nothing, so each runs its Python loop eagerly, and autograd differentiates through the ops the
loop runs."""
from ember._higher_order_ops.associative_scan import associative_scan
from ember._higher_order_ops.cond import cond
from ember._higher_order_ops.foreach_map import foreach_map
from ember._higher_order_ops.map import map
from ember._higher_order_ops.scan import scan
from ember._higher_order_ops.while_loop import while_loop

__all__ = ["associative_scan", "cond", "foreach_map", "map", "scan", "while_loop"]
