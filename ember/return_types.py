"""Named tuples returned by ops with several results (PyTorch's ``torch.return_types``)."""
from collections import namedtuple


def _return_type(name: str, fields: list):
    base = namedtuple(name, fields)

    def __repr__(self) -> str:
        items = ",\n".join(f"{f}={v!r}" for f, v in zip(self._fields, self))
        return f"torch.return_types.{name}(\n{items})"

    return type(name, (base,), {"__slots__": (), "__repr__": __repr__,
                                "__module__": __name__})


max = _return_type("max", ["values", "indices"])  # noqa: A001
min = _return_type("min", ["values", "indices"])  # noqa: A001
sort = _return_type("sort", ["values", "indices"])
topk = _return_type("topk", ["values", "indices"])
kthvalue = _return_type("kthvalue", ["values", "indices"])
median = _return_type("median", ["values", "indices"])
nanmedian = _return_type("nanmedian", ["values", "indices"])
mode = _return_type("mode", ["values", "indices"])
cummax = _return_type("cummax", ["values", "indices"])
cummin = _return_type("cummin", ["values", "indices"])
aminmax = _return_type("aminmax", ["min", "max"])
slogdet = _return_type("slogdet", ["sign", "logabsdet"])
linalg_slogdet = _return_type("linalg_slogdet", ["sign", "logabsdet"])
geqrf = _return_type("geqrf", ["a", "tau"])
linalg_ldl_factor = _return_type("linalg_ldl_factor", ["LD", "pivots"])
linalg_ldl_factor_ex = _return_type("linalg_ldl_factor_ex", ["LD", "pivots", "info"])
