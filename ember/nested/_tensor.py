"""class NestedTensor: a batch of tensors of different shapes held as one packed ember Tensor.

NOTE [ Nested tensor storage ]
Both of PyTorch's layouts keep their components in one packed ``_values`` Tensor, so autograd
is ember's own: every op runs ember ops on ``_values`` (or on the components, which are views
of it), and gradients reach whatever ``_values`` was made from.

* ``jagged``: components differ in one dim, the ragged dim ``_ragged_idx`` (of the nested
  tensor; 1 unless transposed). ``_values`` is the components concatenated along that dim, so
  its shape is the nested shape without the batch dim, with the total length at the ragged
  position. ``_offsets`` (B + 1) say where each component starts; ``_lengths``, when given,
  say how long each is (a non-contiguous nested tensor). The ragged dim's size is a
  :class:`NestedInt` (``j1``), shared by nested tensors of the same offsets, which is how
  binary ops know their operands line up.
* ``strided``: components may differ in any dims. ``_values`` is 1-D, the flattened
  components one after another; ``_sizes`` holds each component's shape.

The nested tensor's own autograd state (``requires_grad``, ``grad_fn``, ``grad``) is that of
``_values``.
"""
from __future__ import annotations

import itertools
import weakref

import ember
from ember._tensor import Size, Tensor

_counter = itertools.count(1)


class NestedInt:
    """The size of a ragged dim (PyTorch's nested SymInt): prints as ``j1``, equals only
    itself, so two nested tensors line up exactly when they share it."""

    __slots__ = ("_id", "__weakref__")

    def __init__(self):
        self._id = next(_counter)

    def __repr__(self) -> str:
        return f"j{self._id}"

    def __eq__(self, other) -> bool:
        return other is self

    def __ne__(self, other) -> bool:
        return other is not self

    def __hash__(self) -> int:
        return hash(("j", self._id))


# One NestedInt per offsets tensor, as PyTorch caches it: nested tensors made from the same
# offsets can be added to each other. Keyed by id (a Tensor's == is elementwise), each entry
# dropped with its tensor.
_ragged_sizes: dict = {}


def ragged_size(offsets: Tensor) -> NestedInt:
    key = id(offsets)
    entry = _ragged_sizes.get(key)
    if entry is None or entry[0]() is not offsets:
        def forget(ref, key=key):
            if _ragged_sizes.get(key, (None,))[0] is ref:
                del _ragged_sizes[key]
        entry = _ragged_sizes[key] = (weakref.ref(offsets, forget), NestedInt())
    return entry[1]


def offsets_of(lengths: list, device) -> Tensor:
    """The int64 offsets (``[0, *cumsum(lengths)]``) of components of these lengths."""
    return ember.tensor([0, *itertools.accumulate(lengths)], dtype=ember.int64, device=device)


class NestedTensor(Tensor):
    """A nested tensor (see NOTE [ Nested tensor storage ]); ``isinstance(nt, ember.Tensor)``
    holds, as in PyTorch. Ops reach it through ``__torch_function__``
    (``ember/nested/_ops.py``)."""

    is_nested = True
    is_sparse = False

    # ------------------------------------------------------------------------------------------
    # Construction (internal; the public constructors are in ember/nested/__init__.py)

    @staticmethod
    def _jagged(values: Tensor, offsets: Tensor, lengths: Tensor | None = None,
                ragged_idx: int = 1, size: NestedInt | None = None) -> "NestedTensor":
        nt = object.__new__(NestedTensor)
        d = nt.__dict__
        d["_values"] = values
        d["_offsets"] = offsets
        d["_lengths"] = lengths
        d["_ragged_idx"] = ragged_idx
        d["_size"] = ragged_size(offsets) if size is None else size
        d["_sizes"] = None
        starts = [int(o) for o in offsets.tolist()]
        d["_starts"] = starts[:-1]
        d["_lens"] = ([int(n) for n in lengths.tolist()] if lengths is not None
                      else [b - a for a, b in zip(starts[:-1], starts[1:])])
        return nt

    @staticmethod
    def _strided(values: Tensor, sizes: list) -> "NestedTensor":
        nt = object.__new__(NestedTensor)
        d = nt.__dict__
        d["_values"] = values
        d["_offsets"] = d["_lengths"] = d["_size"] = None
        d["_ragged_idx"] = 0
        d["_sizes"] = [tuple(s) for s in sizes]
        numels = [Size(s).numel() for s in d["_sizes"]]
        d["_starts"] = [0, *itertools.accumulate(numels)][:-1]
        d["_lens"] = numels
        return nt

    def _is_jagged(self) -> bool:
        return self._sizes is None

    # ------------------------------------------------------------------------------------------
    # Metadata

    @property
    def layout(self):
        return ember.jagged if self._is_jagged() else ember.strided

    @property
    def dtype(self):
        return self._values.dtype

    @property
    def device(self):
        return self._values.device

    @property
    def is_cuda(self) -> bool:
        return self._values.is_cuda

    @property
    def is_cpu(self) -> bool:
        return self._values.is_cpu

    @property
    def shape(self) -> Size:
        if not self._is_jagged():
            raise RuntimeError("Internal error: NestedTensorImpl doesn't support sizes. "
                               "Please file an issue.")
        inner = list(self._values.shape)
        inner[self._ragged_idx - 1] = self._size
        return Size([len(self._starts)] + inner)

    def size(self, dim: int | None = None):
        """The shape (jagged layout: the ragged dim's size is a ``NestedInt``); with ``dim``,
        one size (strided layout: only a dim all components agree on has one)."""
        if self._is_jagged():
            return self.shape if dim is None else self.shape[dim]
        if dim is None:
            return self.shape
        dim = self._dim_index(dim)
        if dim == 0:
            return len(self._sizes)
        sizes = {s[dim - 1] for s in self._sizes}
        if len(sizes) != 1:
            raise RuntimeError(f"Given dimension {dim} is irregular and does not have a size.")
        return sizes.pop()

    def dim(self) -> int:
        return self._values.dim() + 1 if self._is_jagged() else (
            len(self._sizes[0]) + 1 if self._sizes else 1)

    @property
    def ndim(self) -> int:
        return self.dim()

    def _dim_index(self, dim: int) -> int:
        n = self.dim()
        if not -n <= dim < n:
            raise IndexError(f"Dimension out of range (expected to be in range of "
                             f"[{-n}, {n - 1}], but got {dim})")
        return dim % n

    def numel(self) -> int:
        if self._is_jagged() and self._lengths is None:
            return self._values.numel()
        return sum(c.numel() for c in self.unbind())

    def element_size(self) -> int:
        return self._values.element_size()

    def is_contiguous(self, memory_format=None) -> bool:
        return self._lengths is None and self._values.is_contiguous()

    def is_floating_point(self) -> bool:
        return self._values.is_floating_point()

    def is_complex(self) -> bool:
        return self._values.is_complex()

    def __len__(self) -> int:
        if not self._is_jagged():
            raise RuntimeError("Internal error: NestedTensorImpl doesn't support sizes. "
                               "Please file an issue.")
        return len(self._starts)

    def __hash__(self) -> int:
        return id(self)

    # ------------------------------------------------------------------------------------------
    # Autograd state: that of the packed values

    @property
    def requires_grad(self) -> bool:
        return self._values.requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        self._values.requires_grad = value

    def requires_grad_(self, requires_grad: bool = True) -> "NestedTensor":
        self._values.requires_grad_(requires_grad)
        return self

    @property
    def grad_fn(self):
        return self._values.grad_fn

    @property
    def is_leaf(self) -> bool:
        return self._values.is_leaf

    @property
    def grad(self):
        grad = self._values.grad
        return None if grad is None else self._like(grad)

    @grad.setter
    def grad(self, value) -> None:
        self._values.grad = None if value is None else value._values

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        if gradient is None:
            raise RuntimeError("grad can be implicitly created only for scalar outputs")
        self._values.backward(gradient._values, retain_graph, create_graph, inputs)

    def detach(self) -> "NestedTensor":
        return self._like(self._values.detach())

    # ------------------------------------------------------------------------------------------
    # Components

    def _like(self, values: Tensor, ragged_idx: int | None = None) -> "NestedTensor":
        """A nested tensor of this one's structure over new packed ``values`` (jagged: dims
        other than the batch and ragged ones may differ)."""
        if self._is_jagged():
            return NestedTensor._jagged(values, self._offsets, self._lengths,
                                        ragged_idx or self._ragged_idx, self._size)
        if values.dim() == 1:
            return NestedTensor._strided(values, self._sizes)
        # packed rows (see _ops.packed): component i has _lens[i] rows of values' other dims
        rows = [s[0] for s in self._sizes]
        return NestedTensor._strided(values.reshape(-1),
                                     [(n,) + tuple(values.shape[1:]) for n in rows])

    def unbind(self, dim: int = 0) -> tuple:
        """The components, views of the packed values (``dim`` must be 0)."""
        if dim != 0:
            raise RuntimeError("unbind(): only supported for NestedTensor on dim=0")
        v = self._values
        if self._is_jagged():
            axis = self._ragged_idx - 1
            return tuple(v.narrow(axis, start, n) for start, n in zip(self._starts, self._lens))
        return tuple(v.narrow(0, start, n).view(shape)
                     for start, n, shape in zip(self._starts, self._lens, self._sizes))

    def __iter__(self):
        return iter(self.unbind())

    def __getitem__(self, index):
        """``nt[i]`` and ``nt[i, ...]``: component ``i`` (indexed further); ``nt[..., k]``:
        the regular trailing dims indexed in every component."""
        if isinstance(index, tuple) and index and isinstance(index[0], int):
            return self.unbind()[index[0]][index[1:]]
        if isinstance(index, int):
            return self.unbind()[index]
        if isinstance(index, tuple) and index and index[0] is Ellipsis and all(
                isinstance(i, (int, slice)) for i in index[1:]):
            if not self._is_jagged():
                from ember.nested._ops import from_components
                return from_components([c[index] for c in self.unbind()], self)
            if self.dim() - len(index[1:]) > self._ragged_idx:
                return self._like(self._values[index])
        raise RuntimeError("slice(): not supported for NestedTensor on dim=0 (index a "
                           "nested tensor's batch dim with an int, or its regular trailing "
                           "dims after ...)")

    def values(self) -> Tensor:
        """The packed values (jagged layout: the components concatenated along the ragged
        dim; strided layout: flattened), a view of this nested tensor's buffer."""
        return self._values[...]

    def offsets(self) -> Tensor:
        if not self._is_jagged():
            raise AttributeError("'Tensor' object has no attribute 'offsets' (only jagged "
                                 "nested tensors have offsets)")
        return self._offsets

    def lengths(self) -> Tensor | None:
        if not self._is_jagged():
            raise AttributeError("'Tensor' object has no attribute 'lengths'")
        return self._lengths

    def _max_sizes(self) -> list:
        comps = [tuple(c.shape) for c in self.unbind()]
        return [max(s[d] for s in comps) for d in range(self.dim() - 1)] if comps else []

    def to_padded_tensor(self, padding: float, output_size=None) -> Tensor:
        """A dense tensor: each component padded with ``padding`` to the largest component's
        shape (or to ``output_size``), stacked along dim 0."""
        from ember.nested import to_padded_tensor
        return to_padded_tensor(self, padding, output_size)

    # ------------------------------------------------------------------------------------------
    # Conversions

    def to(self, *args, **kwargs) -> "NestedTensor":
        """The nested tensor with its values (and offsets) moved or cast as ``Tensor.to``."""
        values = self._values.to(*args, **kwargs)
        if values is self._values:
            return self
        if not self._is_jagged() or values.device == self._offsets.device:
            return self._like(values)
        lengths = None if self._lengths is None else self._lengths.to(values.device)
        return NestedTensor._jagged(values, self._offsets.to(values.device), lengths,
                                    self._ragged_idx, self._size)

    def cpu(self) -> "NestedTensor":
        return self.to("cpu")

    def cuda(self, device=None, non_blocking: bool = False) -> "NestedTensor":
        return self.to("cuda" if device is None else device)

    def contiguous(self, memory_format=None) -> "NestedTensor":
        if self.is_contiguous():
            return self
        from ember.nested._ops import from_components
        return from_components(self.unbind(), self)

    def clone(self, *, memory_format=None) -> "NestedTensor":
        if self._lengths is not None:
            from ember.nested._ops import from_components
            return from_components(self.unbind(), self)
        return self._like(self._values.clone())

    # ------------------------------------------------------------------------------------------
    # Printing

    def __repr__(self) -> str:
        if self._is_jagged():
            size = ", ".join(repr(s) for s in self.shape)
            parts = [f"size=({size})", f"offsets={self._offsets!r}"]
            if self.grad_fn is not None:
                parts.append(f"grad_fn=<{type(self.grad_fn).__name__} object at "
                             f"{id(self.grad_fn):#x}>")
            elif self.requires_grad:
                parts.append("requires_grad=True")
            parts.append(f"contiguous={self.is_contiguous()}")
            return f"NestedTensor({', '.join(parts)})"
        with ember.no_grad():
            shown = [c.detach().requires_grad_(self.requires_grad) for c in self.unbind()]
        body = ",\n".join("\n".join("  " + line for line in repr(c).split("\n"))
                          for c in shown)
        suffix = ""
        if self.grad_fn is not None:
            suffix = f", grad_fn=<{type(self.grad_fn).__name__}>"
        elif self.requires_grad:
            suffix = ", requires_grad=True"
        return f"nested_tensor([\n{body}\n]{suffix})"

    def __format__(self, spec: str) -> str:
        return repr(self) if not spec else format(repr(self), spec)

    # ------------------------------------------------------------------------------------------
    # Ops: PyTorch's functions and Tensor methods, through the __torch_function__ protocol

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        from ember.nested._ops import dispatch
        return dispatch(func, args, kwargs or {})
