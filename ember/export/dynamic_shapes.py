"""``torch.export.Dim`` and the ``dynamic_shapes`` argument of ``export``: which dims of the
example inputs may vary, checked against the inputs' structure and given symbols."""
from __future__ import annotations

from typing import Any

from ember.export._errors import ConstraintViolationError, UserError, UserErrorType
from ember.export._symbolic import Expr, ValueRanges, int_oo

__all__ = ["Dim", "dims", "ShapesCollection"]

_DOCS = ("For more information about this error, see: "
         "https://pytorch.org/docs/main/generated/exportdb/index.html#dynamic-shapes-validation")


class _DimHint:
    """``Dim.AUTO`` (dynamic unless the program needs it static), ``Dim.DYNAMIC`` (dynamic, an
    error if the program specializes it) and ``Dim.STATIC`` (the example's size)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def __repr__(self) -> str:
        return f"DimHint({self.kind})"


class Dim:
    """A named dynamic dim with an inclusive range: use the same Dim for dims that are always
    equal.

    Args:
        name: the name in error messages and suggested fixes.
        min, max: the range of sizes the exported program accepts (default 0 and unbounded).

    Example::

        >>> batch = Dim("batch", min=2, max=64)
        >>> ep = ember.export.export(model, (x,), dynamic_shapes={"x": {0: batch}})
    """

    AUTO = _DimHint("AUTO")
    STATIC = _DimHint("STATIC")
    DYNAMIC = _DimHint("DYNAMIC")

    def __init__(self, name: str, *, min: int | None = None, max: int | None = None) -> None:
        lower = 0 if min is None else min
        upper = int_oo if max is None else max
        if upper < lower:
            raise UserError(UserErrorType.INVALID_INPUT,
                            f"Cannot create Dim with inconsistent min={min}, max={max}")
        self.__name__ = name
        self.min = lower
        self.max = upper

    def __repr__(self) -> str:
        parts = [repr(self.__name__)]
        if self.min != 2:
            parts.append(f"min={self.min}")
        if self.max != int_oo:
            parts.append(f"max={self.max}")
        return f"Dim({', '.join(parts)})"


def dims(*names: str, min: int | None = None, max: int | None = None) -> tuple[Dim, ...]:
    """One :class:`Dim` per name, all with the same range."""
    return tuple(Dim(name, min=min, max=max) for name in names)


class ShapesCollection:
    """Dynamic shapes keyed by the input tensors themselves (``shapes[x] = {0: batch}``);
    ``dynamic_shapes(model, args, kwargs)`` turns it into the usual nested form."""

    def __init__(self) -> None:
        self._shapes: dict[int, tuple[Any, Any]] = {}

    def __setitem__(self, tensor, shape) -> None:
        self._shapes[id(tensor)] = (tensor, shape)

    def __getitem__(self, tensor):
        return self._shapes[id(tensor)][1]

    def dynamic_shapes(self, m, args: tuple, kwargs: dict | None = None):
        from ember._tensor import Tensor

        def spec(x):
            if isinstance(x, Tensor):
                return self._shapes.get(id(x), (None, None))[1]
            if isinstance(x, (tuple, list)):
                return type(x)(spec(v) for v in x)
            if isinstance(x, dict):
                return {k: spec(v) for k, v in x.items()}
            return None
        return spec((tuple(args), dict(kwargs or {}))) if kwargs else spec(tuple(args))


# ------------------------------------------------------------------------------------------------
# Resolving dynamic_shapes against the example inputs


class DimInfo:
    """How one input dim is treated: its symbol (None when static), the Dim or hint that made
    it dynamic, and the size of the example."""

    def __init__(self, symbol: Expr | None, source: Any, hint: int) -> None:
        self.symbol = symbol
        self.source = source
        self.hint = hint


def _spec_error(msg: str, sep: str = "\n") -> UserError:
    return UserError(UserErrorType.INVALID_INPUT, f"{msg}{sep}{_DOCS}")


def _match(value: Any, spec: Any, path: str, out: dict, is_leaf) -> None:
    """Pair each tensor of ``value`` with its per-dim spec, raising on a structure mismatch."""
    if is_leaf(value):
        out[id(value)] = (value, spec, path)
        return
    if spec is None:
        return
    if isinstance(value, (tuple, list)):
        if not isinstance(spec, (tuple, list)) or len(spec) != len(value):
            n = len(spec) if isinstance(spec, (tuple, list)) else 1
            raise _spec_error("Detected mismatch between the structure of `inputs` and "
                              f"`dynamic_shapes`: `inputs{path}` has {len(value)} elements, "
                              f"but `dynamic_shapes{path}` has {n} elements")
        for i, (v, s) in enumerate(zip(value, spec)):
            _match(v, s, f"{path}[{i}]", out, is_leaf)
    elif isinstance(value, dict):
        if not isinstance(spec, dict) or set(spec) != set(value):
            raise _spec_error("Detected mismatch between the structure of `inputs` and "
                              f"`dynamic_shapes`: `inputs{path}` has keys {sorted(value)}, "
                              f"but `dynamic_shapes{path}` has keys "
                              f"{sorted(spec) if isinstance(spec, dict) else spec}")
        for k, v in value.items():
            _match(v, spec[k], f"{path}[{k!r}]", out, is_leaf)


def _per_dim(tensor, spec: Any, path: str) -> dict[int, Any]:
    if spec is None:
        return {}
    if isinstance(spec, dict):
        for d in spec:
            if not isinstance(d, int) or not -tensor.dim() <= d < tensor.dim():
                raise _spec_error(f"Dim {d} of the spec at `dynamic_shapes{path}` is out of "
                                  f"range for a tensor of shape {tensor.shape}")
        return {d % tensor.dim(): s for d, s in spec.items()}
    if isinstance(spec, (tuple, list)):
        if len(spec) != tensor.dim():
            raise _spec_error(f"Expected dynamic shape spec {spec} specified at "
                              f"`dynamic_shapes{path}` to have the same length as the actual "
                              f"tensor shape {tensor.shape} (expected {tensor.dim()}, but got "
                              f"{len(spec)} instead)")
        return dict(enumerate(spec))
    raise _spec_error(f"Unexpected dynamic shape spec {spec!r} at `dynamic_shapes{path}`: "
                      "expected a dict or a tuple of Dims")


def resolve(names: list[str], values: list, dynamic_shapes: Any,
            ranges: dict[str, ValueRanges]) -> dict[int, list[DimInfo]]:
    """Check ``dynamic_shapes`` against the inputs (``names``/``values``: the forward's
    arguments as given) and give each dynamic dim its symbol; returns, by ``id`` of each input
    tensor, one DimInfo per dim, and fills ``ranges`` with each symbol's range."""
    from ember._tensor import Tensor

    def is_leaf(v):
        return isinstance(v, Tensor)
    if dynamic_shapes is None:
        specs: Any = [None] * len(values)
    elif isinstance(dynamic_shapes, dict):
        if set(dynamic_shapes) != set(names):
            raise _spec_error(f"When `dynamic_shapes` is specified as a dict, its top-level "
                              f"keys must be the arg names {names} of `inputs`, but here they "
                              f"are {list(dynamic_shapes)}. Alternatively, you could also "
                              "ignore arg names entirely and specify `dynamic_shapes` as a "
                              "list/tuple matching `inputs`.", " ")
        specs = [dynamic_shapes[n] for n in names]
    elif isinstance(dynamic_shapes, (tuple, list)):
        if len(dynamic_shapes) != len(values):
            raise _spec_error("Detected mismatch between the structure of `inputs` and "
                              f"`dynamic_shapes`: `inputs` has {len(values)} elements, but "
                              f"`dynamic_shapes` has {len(dynamic_shapes)} elements")
        specs = list(dynamic_shapes)
    else:
        raise _spec_error(f"Unexpected type of `dynamic_shapes`: {type(dynamic_shapes)}")
    matched: dict[int, tuple] = {}
    for name, value, spec in zip(names, values, specs):
        _match(value, spec, f"['{name}']", matched, is_leaf)
    symbols: dict[str, Expr] = {}
    infos: dict[int, list[DimInfo]] = {}
    for key, (tensor, spec, path) in matched.items():
        per_dim = _per_dim(tensor, spec, path)
        row = []
        for d, size in enumerate(tensor.shape):
            row.append(_dim_info(per_dim.get(d), size, f"L{path}.size()[{d}]", symbols,
                                 ranges))
        infos[key] = row
    return infos


def _dim_info(spec: Any, size: int, where: str, symbols: dict[str, Expr],
              ranges: dict[str, ValueRanges]) -> DimInfo:
    if spec is None or spec is Dim.STATIC:
        return DimInfo(None, None, size)
    if isinstance(spec, int):
        if spec != size:
            raise ConstraintViolationError(f"Static shape constraint of {spec} does not match "
                                           f"input size of {size}, for {where}")
        return DimInfo(None, None, size)
    if isinstance(spec, Dim):
        if size not in ValueRanges(spec.min, spec.max):
            raise ConstraintViolationError(f"{size} not in range [{spec.min}, {spec.max}]")
        symbol = symbols.get(spec.__name__)
        if symbol is None:
            symbol = symbols[spec.__name__] = Expr.symbol(f"s{len(ranges)}")
            ranges[symbol.args[0]] = ValueRanges(spec.min, spec.max)
        return DimInfo(symbol, spec, size)
    if isinstance(spec, _DimHint):
        if spec is Dim.AUTO and size in (0, 1):  # PyTorch specializes sizes 0 and 1
            return DimInfo(None, None, size)
        symbol = Expr.symbol(f"s{len(ranges)}")
        ranges[symbol.args[0]] = ValueRanges(2 if spec is Dim.AUTO else 0, int_oo)
        return DimInfo(symbol, spec, size)
    raise _spec_error(f"Unexpected dynamic shape spec {spec!r} for {where}")
