"""``parallelize_module``: apply a tensor-parallel plan to a module's submodules."""
from __future__ import annotations

import warnings
from fnmatch import fnmatch

from ember.distributed.device_mesh import DeviceMesh
from ember.distributed.tensor.parallel.style import ParallelStyle
from ember.nn.modules.module import Module

__all__ = ["parallelize_module"]


def parallelize_module(module: Module, device_mesh: DeviceMesh | None = None,
                       parallelize_plan: ParallelStyle | dict[str, ParallelStyle] | None = None,
                       *, src_data_rank: int | None = 0) -> Module:
    """Parallelize ``module`` (in place; returned) over the 1-d ``device_mesh`` by
    ``parallelize_plan``: a ``ParallelStyle`` for the module itself, or a dict from submodule
    paths (dot-separated, each part an ``fnmatch`` pattern over child names, so ``"layers.*"``
    matches every layer) to styles. Parameters are distributed from rank ``src_data_rank``
    (None: every rank keeps its own values).

    Example::

        >>> parallelize_module(mlp, mesh, {"up": ColwiseParallel(), "down": RowwiseParallel()})
    """
    if device_mesh is None:
        raise RuntimeError("parallelize_module needs a device_mesh (ember keeps no current mesh)")
    if parallelize_plan is None:
        warnings.warn("No parallelize_plan is provided and auto-parallel is not supported at the "
                      "moment, so this parallelize_module call will do nothing.", stacklevel=2)
        return module
    if isinstance(parallelize_plan, ParallelStyle):
        parallelize_plan.src_data_rank = src_data_rank
        return parallelize_plan._apply(module, device_mesh)
    if not isinstance(parallelize_plan, dict):
        raise TypeError("Expect Union[ParallelStyle, Dict[str, ParallelStyle]] for parallelize_plan"
                        f", {type(parallelize_plan)} found!")
    for path, style in parallelize_plan.items():
        if path == "":
            parallelize_module(module, device_mesh, style, src_data_rank=src_data_rank)
            continue
        token, _, rest = path.partition(".")
        children = [child for name, child in module.named_children() if fnmatch(name, token)]
        if not children:
            warnings.warn(f"Parallelize plan key '{path}' could not be resolved: no submodule "
                          f"matching token '{token}' in module {module}, skipping this plan "
                          "entry.", stacklevel=2)
            continue
        for child in children:
            parallelize_module(child, device_mesh, {rest: style} if rest else style,
                               src_data_rank=src_data_rank)
    return module
