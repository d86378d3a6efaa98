"""AdaptiveLogSoftmaxWithLoss: the adaptive softmax of Grave et al. (2016) for large
vocabularies."""
from __future__ import annotations

from collections import namedtuple
from collections.abc import Sequence

from ember import dtypes as _dt
from ember._creation import zeros
from ember._tensor import Tensor
from ember.nn import functional as F
from ember.nn.modules.container import ModuleList, Sequential
from ember.nn.modules.linear import Linear
from ember.nn.modules.module import Module
from ember.ops.movement import cat

__all__ = ["AdaptiveLogSoftmaxWithLoss"]

_ASMoutput = namedtuple("_ASMoutput", ["output", "loss"])


class AdaptiveLogSoftmaxWithLoss(Module):
    """Log-softmax over ``n_classes`` split at ``cutoffs`` into a head (the frequent classes
    plus one entry per cluster) and tail clusters, each a two-layer projection whose hidden
    size shrinks by ``div_value`` per cluster.

    Args:
        in_features: size of each input sample.
        n_classes: number of classes.
        cutoffs: increasing class indices in [1, n_classes - 1] that start the clusters.
        div_value: the hidden size of cluster i is ``in_features // div_value ** (i + 1)``.
        head_bias: give the head a bias.

    ``forward(input, target)`` returns ``(output, loss)``: the log-probability of each target
    (N,) and their negated mean. ``log_prob(input)`` gives all (N, n_classes) log-probabilities,
    ``predict(input)`` their argmax.

    Example::

        >>> asm = AdaptiveLogSoftmaxWithLoss(16, 100, cutoffs=[10, 50])
        >>> out, loss = asm(ember.randn(4, 16), ember.tensor([1, 20, 60, 99]))
        >>> out.shape, asm.log_prob(ember.randn(4, 16)).shape
        (torch.Size([4]), torch.Size([4, 100]))
    """

    def __init__(self, in_features: int, n_classes: int, cutoffs: Sequence[int],
                 div_value: float = 4.0, head_bias: bool = False, device=None,
                 dtype=None) -> None:
        super().__init__()
        cutoffs = list(cutoffs)
        if len(cutoffs) == 0:
            raise ValueError("cutoffs should be a sequence of length larger than 0")
        if (cutoffs != sorted(cutoffs) or min(cutoffs) <= 0 or max(cutoffs) > n_classes - 1
                or len(set(cutoffs)) != len(cutoffs) or any(int(c) != c for c in cutoffs)):
            raise ValueError("cutoffs should be a sequence of unique, positive integers sorted "
                             "in an increasing order, where each value is between 1 and "
                             "n_classes-1")
        self.in_features = in_features
        self.n_classes = n_classes
        self.cutoffs = cutoffs + [n_classes]
        self.div_value = div_value
        self.head_bias = head_bias
        self.shortlist_size = self.cutoffs[0]
        self.n_clusters = len(self.cutoffs) - 1
        self.head_size = self.shortlist_size + self.n_clusters
        self.head = Linear(in_features, self.head_size, bias=head_bias, device=device,
                           dtype=dtype)
        self.tail = ModuleList()
        for i in range(self.n_clusters):
            hidden = int(in_features // (div_value ** (i + 1)))
            size = self.cutoffs[i + 1] - self.cutoffs[i]
            self.tail.append(Sequential(
                Linear(in_features, hidden, bias=False, device=device, dtype=dtype),
                Linear(hidden, size, bias=False, device=device, dtype=dtype)))

    def reset_parameters(self) -> None:
        self.head.reset_parameters()
        for projection in self.tail:
            for layer in projection:
                layer.reset_parameters()

    def _check(self, input: Tensor, target: Tensor) -> None:
        if target.ndim == 1:
            if input.shape[0] != target.shape[0]:
                raise RuntimeError("Input and target should have the same size in the batch "
                                   "dimension.")
            if input.ndim != 2:
                raise RuntimeError("1D target tensor expects 2D input tensors, but found "
                                   f"inputs with size {input.shape}")
        elif target.ndim == 0:
            if input.ndim != 1:
                raise RuntimeError("0D target tensor expects 1D input tensors, but found "
                                   f"inputs with size {input.shape}")
        else:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")

    def forward(self, input: Tensor, target: Tensor) -> _ASMoutput:
        self._check(input, target)
        batched = target.ndim > 0
        if not batched:
            input, target = input.unsqueeze(0), target.unsqueeze(0)
        if target.numel() and (int(target.min()) < 0 or int(target.max()) >= self.n_classes):
            raise RuntimeError(f"Target values should be in [0, {self.n_classes - 1}], but "
                               f"values in range [{int(target.min())}, {int(target.max())}] "
                               "were found. ")
        # each target's head column: itself in the shortlist, else its cluster's entry
        head_column = target.clone()
        output = zeros(target.shape[0], dtype=input.dtype, device=input.device)
        for i, (low, high) in enumerate(zip(self.cutoffs, self.cutoffs[1:])):
            rows = ((target >= low) & (target < high)).nonzero().reshape(-1)
            if rows.numel() == 0:
                continue
            head_column = head_column.index_fill(0, rows, self.shortlist_size + i)
            cluster = F.log_softmax(self.tail[i](input.index_select(0, rows)), dim=1)
            local = cluster.gather(1, (target.index_select(0, rows) - low).unsqueeze(1))
            output = output.index_add(0, rows, local.squeeze(1))
        head = F.log_softmax(self.head(input), dim=1)
        output = output + head.gather(1, head_column.to(_dt.int64).unsqueeze(1)).squeeze(1)
        loss = (-output).mean()
        return _ASMoutput(output if batched else output.squeeze(0), loss)

    def _full_log_prob(self, input: Tensor) -> Tensor:
        head = F.log_softmax(self.head(input), dim=1)
        parts = [head[:, :self.shortlist_size]]
        for i, projection in enumerate(self.tail):
            column = self.shortlist_size + i
            parts.append(F.log_softmax(projection(input), dim=1) + head[:, column:column + 1])
        return cat(parts, 1)

    def log_prob(self, input: Tensor) -> Tensor:
        """The log-probabilities of all classes: (N, in_features) -> (N, n_classes)."""
        return self._full_log_prob(input)

    def predict(self, input: Tensor) -> Tensor:
        """The most probable class of each row: (N, in_features) -> (N,)."""
        return self._full_log_prob(input).argmax(dim=1)
