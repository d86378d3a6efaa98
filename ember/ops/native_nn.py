"""PyTorch's top-level "native" spellings of the neural-network ops (``torch.convolution``,
``torch.native_layer_norm``, ``torch.embedding_bag``, ``torch.lstm_cell``, ``torch.lstm``, ...):
the ATen signatures (integer modes, positional flags, the auxiliary outputs), each built on
``ember.nn.functional`` or on differentiable ember ops, so gradients come with them."""
from __future__ import annotations

from ember import dtypes as _dt
from ember._tensor import Tensor, _make
from ember.autograd.grad_mode import no_grad
from ember.backend.special import ufunc_at
from ember.ops.rnn import gru_layer, gru_step, lstm_layer
from ember.ops.rnn import lstm_cell as fused_lstm_cell


def _F():
    # ember.nn loads lazily (it imports the whole layer library); these run after import.
    import ember.nn.functional as F
    return F


# ---------------------------------------------------------------------------------------------
# Convolution and sampling


def convolution(input: Tensor, weight: Tensor, bias: Tensor | None, stride, padding, dilation,
                transposed: bool, output_padding, groups: int) -> Tensor:
    """The convolution (or, with ``transposed``, transposed convolution) of any spatial rank,
    picked by ``weight``'s rank: what ``conv{1,2,3}d`` and ``conv_transpose{1,2,3}d`` call."""
    F = _F()
    rank = weight.ndim - 2
    if rank not in (1, 2, 3):
        raise RuntimeError(f"convolution: expected a 3-D, 4-D or 5-D weight, got {weight.ndim}-D")
    if transposed:
        conv = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[rank - 1]
        return conv(input, weight, bias, tuple(stride), tuple(padding), tuple(output_padding),
                    groups, tuple(dilation))
    conv = (F.conv1d, F.conv2d, F.conv3d)[rank - 1]
    return conv(input, weight, bias, tuple(stride), tuple(padding), tuple(dilation), groups)


def conv_tbc(input: Tensor, weight: Tensor, bias: Tensor, pad: int = 0) -> Tensor:
    """A 1-D convolution of a (time, batch, channels) sequence with a (kernel, in, out) weight,
    ``pad`` steps of zeros at both ends of time."""
    if input.ndim != 3:
        raise RuntimeError("conv_tbc: Input must have 3 dims: time, batch, in_channel")
    if weight.ndim != 3:
        raise RuntimeError("conv_tbc: Weight tensor must have 3 dims: kernel_width, "
                           "in_channels, out_channels.")
    if bias.ndim != 1:
        raise RuntimeError("conv_tbc: Bias must be 1-D")
    out = _F().conv1d(input.permute(1, 2, 0), weight.permute(2, 1, 0), bias, padding=pad)
    return out.permute(2, 0, 1)


_INTERPOLATION = ("bilinear", "nearest", "bicubic")
_PADDING = ("zeros", "border", "reflection")


def grid_sampler(input: Tensor, grid: Tensor, interpolation_mode: int, padding_mode: int,
                 align_corners: bool) -> Tensor:
    """``F.grid_sample`` with ATen's integer modes: interpolation 0 bilinear, 1 nearest,
    2 bicubic; padding 0 zeros, 1 border, 2 reflection."""
    return _F().grid_sample(input, grid, _INTERPOLATION[interpolation_mode],
                            _PADDING[padding_mode], align_corners)


def grid_sampler_2d(input: Tensor, grid: Tensor, interpolation_mode: int, padding_mode: int,
                    align_corners: bool) -> Tensor:
    """``grid_sampler`` for 4-D (N, C, H, W) inputs."""
    if input.ndim != 4:
        raise RuntimeError(f"grid_sampler_2d(): expected 4D input, got {input.ndim}D")
    return grid_sampler(input, grid, interpolation_mode, padding_mode, align_corners)


def grid_sampler_3d(input: Tensor, grid: Tensor, interpolation_mode: int, padding_mode: int,
                    align_corners: bool) -> Tensor:
    """``grid_sampler`` for 5-D (N, C, D, H, W) inputs."""
    if input.ndim != 5:
        raise RuntimeError(f"grid_sampler_3d(): expected 5D input, got {input.ndim}D")
    return grid_sampler(input, grid, interpolation_mode, padding_mode, align_corners)


def affine_grid_generator(theta: Tensor, size, align_corners: bool) -> Tensor:
    """``F.affine_grid`` with ``align_corners`` required."""
    return _F().affine_grid(theta, list(size), align_corners)


def channel_shuffle(input: Tensor, groups: int) -> Tensor:
    """Interleave ``groups`` groups of channels (dim 1): ``nn.ChannelShuffle``'s op."""
    return _F().channel_shuffle(input, groups)


native_channel_shuffle = channel_shuffle


# ---------------------------------------------------------------------------------------------
# Embedding bags


_BAG_MODES = ("sum", "mean", "max")


def embedding_bag(weight: Tensor, indices: Tensor, offsets: Tensor,
                  scale_grad_by_freq: bool = False, mode: int = 0, sparse: bool = False,
                  per_sample_weights: Tensor | None = None, include_last_offset: bool = False,
                  padding_idx: int | None = None) -> tuple:
    """``F.embedding_bag`` with ATen's signature (weight first, ``mode`` 0 sum, 1 mean, 2 max),
    returning (output, offset2bag, bag_size, max_indices) as PyTorch does: the bag of each
    index, the entries per bag (not counting ``padding_idx``) and, for max, the weight row that
    gave each maximum (for mean, ``bag_size`` again; for sum, zeros). PyTorch's float32 CPU
    fast path leaves offset2bag empty for sum; here it is always filled."""
    output = _F().embedding_bag(indices, weight, offsets, None, 2, scale_grad_by_freq,
                                _BAG_MODES[mode], sparse, per_sample_weights,
                                include_last_offset, padding_idx)
    xp = indices._xp
    idx = indices._data.reshape(-1)
    bags = output.shape[0]
    if indices.ndim == 2:  # fixed-length bags, one per row
        starts = xp.arange(bags) * indices.shape[1]
    else:
        starts = offsets._data.astype(xp.int64)
    bag_of = xp.searchsorted(starts[:bags], xp.arange(idx.shape[0]), side="right") - 1
    keep = idx != padding_idx if padding_idx is not None else xp.ones(idx.shape, bool)
    if mode == 0:
        empty = xp.zeros(starts.shape[0], xp.int64)
        return output, _make(bag_of), _make(empty), _make(empty.copy())
    bag_size = xp.bincount(bag_of[keep], minlength=bags).astype(xp.int64)
    if mode == 1:
        return output, _make(bag_of), _make(bag_size), _make(bag_size.copy())
    # max: the first index (in order) whose row reaches each bag's maximum; 0 for an empty bag.
    n, dim = idx.shape[0], weight.shape[1]
    hits = (weight.detach()._data[idx] == output.detach()._data[bag_of]) & keep[:, None]
    first = xp.full((bags, dim), n, xp.int64)
    positions = xp.broadcast_to(xp.arange(n)[:, None], hits.shape)
    rows, cols = xp.nonzero(hits)
    ufunc_at(xp, "minimum", first, (bag_of[rows], cols), positions[rows, cols])
    max_indices = xp.where(first < n, idx[xp.minimum(first, max(n - 1, 0))], 0)
    return output, _make(bag_of), _make(bag_size), _make(max_indices.astype(xp.int64))


def embedding_renorm_(weight: Tensor, indices: Tensor, max_norm: float,
                      norm_type: float) -> Tensor:
    """Scale the rows of ``weight`` that ``indices`` name to a ``norm_type``-norm of at most
    ``max_norm``, in place (what ``F.embedding`` does with ``max_norm``); returns ``weight``."""
    from ember.nn.functional import _renorm_rows
    _renorm_rows(weight, indices, max_norm, norm_type)
    return weight


# ---------------------------------------------------------------------------------------------
# Normalization and dropout with their statistics


def native_layer_norm(input: Tensor, normalized_shape, weight: Tensor | None,
                      bias: Tensor | None, eps: float) -> tuple:
    """(output, mean, rstd) of layer normalization over the trailing ``normalized_shape``
    dims; mean and rstd keep those dims with size 1."""
    out = _F().layer_norm(input, list(normalized_shape), weight, bias, eps)  # checks first
    dims = tuple(range(input.ndim - len(normalized_shape), input.ndim))
    with no_grad():  # the statistics are saved values, not differentiable outputs
        return (out,) + _mean_rstd(input, dims, True, eps)


def _mean_rstd(input: Tensor, dims: tuple, keepdim: bool, eps: float) -> tuple:
    """Mean and 1/sqrt(biased var + eps) over ``dims``; half input's computed in float32
    and rounded once, as PyTorch's."""
    half = _dt.is_half(input.dtype)
    x = input.float() if half else input
    mean = x.mean(dims, keepdim=keepdim)
    rstd = (x.var(dims, unbiased=False, keepdim=keepdim) + eps).rsqrt()
    return (mean.to(input.dtype), rstd.to(input.dtype)) if half else (mean, rstd)


def native_batch_norm(input: Tensor, weight: Tensor | None, bias: Tensor | None,
                      running_mean: Tensor | None, running_var: Tensor | None, training: bool,
                      momentum: float, eps: float) -> tuple:
    """(output, save_mean, save_invstd) of batch normalization over all dims but 1; in
    training the batch's mean and 1/sqrt(var + eps) (and the running statistics are updated),
    in evaluation two empty tensors."""
    # torch.native_batch_norm skips F.batch_norm's checks (eps=0 in training is accepted)
    out = _F()._batch_norm(input, running_mean, running_var, weight, bias, training, momentum,
                           eps)
    if not training:
        empty = input.new_empty((0,))
        return out, empty, empty.clone()
    dims = tuple(d for d in range(input.ndim) if d != 1)
    with no_grad():  # the statistics are saved values, not differentiable outputs
        return (out,) + _mean_rstd(input, dims, False, eps)


def native_group_norm(input: Tensor, weight: Tensor | None, bias: Tensor | None, N: int,
                      C: int, HxW: int, group: int, eps: float) -> tuple:
    """(output, mean, rstd) of group normalization, mean and rstd of shape (N, group)."""
    out = _F().group_norm(input, group, weight, bias, eps)
    return (out,) + _mean_rstd(input.reshape(N, group, C // group * HxW), (-1,), False, eps)


def native_dropout(input: Tensor, p: float, train: bool | None) -> tuple:
    """(output, mask): dropout keeping each element with probability 1 - p (scaled by
    1 / (1 - p)) and the boolean mask of kept elements; all kept when ``train`` is False."""
    if train is False:
        return input.clone(), input.new_ones(input.shape).bool()
    from ember._creation import rand_like
    with no_grad():
        mask = rand_like(input if input.is_floating_point() else input.float()) >= p
    scale = 0.0 if p >= 1 else 1.0 / (1.0 - p)
    return input * mask * scale, mask


def native_norm(input: Tensor, p=2, dim=None, keepdim: bool = False, dtype=None) -> Tensor:
    """The p-norm of ``input`` (PyTorch runs it on sparse tensors only; here any layout)."""
    if input.is_sparse:
        input = input.to_dense()
    if dtype is not None:
        input = input.to(dtype)
    return input.norm(2 if p is None else p, dim, keepdim)


def norm_except_dim(v: Tensor, pow: float = 2, dim: int = 0) -> Tensor:
    """The ``pow``-norm of ``v`` over every dim but ``dim``, keeping the dims (size 1), as
    weight normalization uses it; ``dim=-1`` gives the norm of the whole tensor."""
    if dim == -1:
        return v.norm(pow)
    dims = tuple(d for d in range(v.ndim) if d != dim)
    return v.norm(pow, dims, keepdim=True)


# ---------------------------------------------------------------------------------------------
# Recurrent cells and layers


def _linear(x: Tensor, w: Tensor, b: Tensor | None) -> Tensor:
    out = x @ w.mT
    return out if b is None else out + b


def rnn_tanh_cell(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor,
                  b_ih: Tensor | None = None, b_hh: Tensor | None = None) -> Tensor:
    """One Elman RNN step: tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)."""
    return (_linear(input, w_ih, b_ih) + _linear(hx, w_hh, b_hh)).tanh()


def rnn_relu_cell(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor,
                  b_ih: Tensor | None = None, b_hh: Tensor | None = None) -> Tensor:
    """One Elman RNN step with ReLU: relu(x W_ih^T + b_ih + h W_hh^T + b_hh)."""
    return (_linear(input, w_ih, b_ih) + _linear(hx, w_hh, b_hh)).relu()


def lstm_cell(input: Tensor, hx, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,
              b_hh: Tensor | None = None) -> tuple:
    """One LSTM step from ``hx = (h, c)``: the gates (input, forget, cell, output) are the
    four chunks of x W_ih^T + b_ih + h W_hh^T + b_hh; returns (h', c')."""
    h, c = hx
    return fused_lstm_cell(_linear(input, w_ih, b_ih), h, c, w_hh, b_hh)


def gru_cell(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor,
             b_ih: Tensor | None = None, b_hh: Tensor | None = None) -> Tensor:
    """One GRU step: reset and update gates r, z from x and h, the candidate
    n = tanh(x_n + r * h_n), and h' = (1 - z) * n + z * h."""
    return gru_step(_linear(input, w_ih, b_ih), hx, w_hh, b_hh)


# One layer in one direction over the whole sequence x (T, B, F), from the state tuple:
# (output (T, B, H), final state tuple). The LSTM and GRU runners are ember's fused layers.

def _lstm_direction(x, state, w_ih, w_hh, b_ih, b_hh, reverse: bool):
    # b_ih joins b_hh, which the fused layer adds anyway
    bias = b_hh if b_ih is None else b_ih if b_hh is None else b_ih + b_hh
    out, h, c = lstm_layer(_linear(x, w_ih, None), state[0], state[1], w_hh, bias,
                               reverse)
    return out, (h, c)


def _gru_direction(x, state, w_ih, w_hh, b_ih, b_hh, reverse: bool):
    out, h = gru_layer(_linear(x, w_ih, b_ih), state[0], w_hh, b_hh, reverse)
    return out, (h,)


def _elman_direction(activation: str):
    def run(x, state, w_ih, w_hh, b_ih, b_hh, reverse: bool):
        from ember.ops.movement import stack
        xw = _linear(x, w_ih, b_ih)  # the input projection of every step in one matmul
        h = state[0]
        outputs = [None] * x.shape[0]
        for t in (range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])):
            pre = xw[t] + _linear(h, w_hh, b_hh)
            h = pre.tanh() if activation == "tanh" else pre.relu()
            outputs[t] = h
        return stack(outputs), (h,)
    return run


def _layers(input: Tensor, states: list, params, has_biases: bool, num_layers: int,
            dropout: float, train: bool, bidirectional: bool, batch_first: bool, direction):
    """Run ``direction`` for each layer and direction: (output, final states), where
    ``states[j]`` is the tuple of state tensors of layer-direction j."""
    from ember.ops.movement import cat
    per = 4 if has_biases else 2
    directions = 2 if bidirectional else 1
    if len(params) != per * num_layers * directions:
        raise RuntimeError(f"Expected {per * num_layers * directions} parameters (projections "
                           f"are not supported), got {len(params)}")
    x = input.transpose(0, 1) if batch_first else input
    batched = x.ndim == 3
    if not batched:
        x = x.unsqueeze(1)
        states = [tuple(s.unsqueeze(0) for s in st) for st in states]
    finals = []
    for layer in range(num_layers):
        outputs = []
        for d in range(directions):
            j = layer * directions + d
            weights = list(params[j * per:(j + 1) * per]) + [None, None] * (not has_biases)
            out, state = direction(x, states[j], *weights, reverse=bool(d))
            outputs.append(out)
            finals.append(state)
        x = cat(outputs, -1) if directions == 2 else outputs[0]
        if dropout and train and layer < num_layers - 1:
            x = _F().dropout(x, dropout, True)
    if not batched:
        x = x.squeeze(1)
        finals = [tuple(s.squeeze(0) for s in st) for st in finals]
    return (x.transpose(0, 1) if batch_first else x), finals


def _one_state_rnn(direction, input, hx, params, has_biases, num_layers, dropout, train,
                   bidirectional, batch_first) -> tuple:
    from ember.ops.movement import stack
    states = [(h,) for h in hx.unbind(0)]
    out, finals = _layers(input, states, params, has_biases, num_layers, dropout, train,
                          bidirectional, batch_first, direction)
    return out, stack([f[0] for f in finals])


def rnn_tanh(input: Tensor, hx: Tensor, params, has_biases: bool, num_layers: int,
             dropout: float, train: bool, bidirectional: bool, batch_first: bool) -> tuple:
    """A multi-layer Elman RNN (tanh) over a sequence: (output, h_n), as ``nn.RNN`` computes
    with its flat parameter list (w_ih, w_hh[, b_ih, b_hh] per layer and direction)."""
    return _one_state_rnn(_elman_direction("tanh"), input, hx, params, has_biases, num_layers,
                          dropout, train, bidirectional, batch_first)


def rnn_relu(input: Tensor, hx: Tensor, params, has_biases: bool, num_layers: int,
             dropout: float, train: bool, bidirectional: bool, batch_first: bool) -> tuple:
    """A multi-layer Elman RNN (ReLU) over a sequence: (output, h_n)."""
    return _one_state_rnn(_elman_direction("relu"), input, hx, params, has_biases, num_layers,
                          dropout, train, bidirectional, batch_first)


def gru(input: Tensor, hx: Tensor, params, has_biases: bool, num_layers: int, dropout: float,
        train: bool, bidirectional: bool, batch_first: bool) -> tuple:
    """A multi-layer GRU over a sequence: (output, h_n)."""
    return _one_state_rnn(_gru_direction, input, hx, params, has_biases, num_layers, dropout,
                          train, bidirectional, batch_first)


def lstm(input: Tensor, hx, params, has_biases: bool, num_layers: int, dropout: float,
         train: bool, bidirectional: bool, batch_first: bool) -> tuple:
    """A multi-layer LSTM over a sequence from ``hx = (h_0, c_0)``: (output, h_n, c_n)."""
    from ember.ops.movement import stack
    h0, c0 = hx
    states = list(zip(h0.unbind(0), c0.unbind(0)))
    out, finals = _layers(input, states, params, has_biases, num_layers, dropout, train,
                          bidirectional, batch_first, _lstm_direction)
    return out, stack([f[0] for f in finals]), stack([f[1] for f in finals])


# ---------------------------------------------------------------------------------------------
# Segment reductions


_SEGMENT_REDUCTIONS = ("sum", "prod", "mean", "max", "min")
# What an empty segment gives without ``initial``: the reduction's identity (NaN for mean).
_EMPTY = {"sum": 0.0, "prod": 1.0, "mean": float("nan"), "max": float("-inf"),
          "min": float("inf")}


def _segments(data: Tensor, lengths, reduce: str, initial) -> Tensor:
    """The reduction of consecutive segments of ``lengths`` rows of ``data`` (dim 0): one
    scatter-reduce of every row into its segment's slot, which starts at ``initial`` (or the
    reduction's identity) and so gives ``initial`` for an empty segment."""
    xp = data._xp
    counts = xp.asarray(lengths, dtype=xp.int64)
    segment_of = _make(xp.repeat(xp.arange(counts.shape[0]), counts))
    shape = (counts.shape[0], *data.shape[1:])
    start = _EMPTY[reduce] if initial is None else initial
    base = data.new_full(shape, 0.0 if reduce == "mean" and initial is None else start)
    if reduce in ("sum", "mean"):
        out = base.index_add(0, segment_of, data)
    else:
        index = segment_of.reshape(-1, *[1] * (data.ndim - 1)).expand(data.shape)
        out = base.scatter_reduce(0, index, data, {"max": "amax", "min": "amin"}.get(
            reduce, reduce), include_self=True)
    if reduce != "mean":
        return out
    count = _make(counts.astype(data._data.dtype).reshape(-1, *[1] * (data.ndim - 1)))
    return (out / count.clamp_min(1)).where(count > 0, data.new_full(shape, start))


def segment_reduce(data: Tensor, reduce: str, *, lengths: Tensor | None = None,
                   indices: Tensor | None = None, offsets: Tensor | None = None, axis: int = 0,
                   unsafe: bool = False, initial=None) -> Tensor:
    """Reduce consecutive segments of ``data`` along ``axis`` (``reduce``: sum, prod, mean,
    max / amax, min / amin), the segments given by their ``lengths`` (or ``offsets``, their
    boundaries). ``lengths`` may carry leading batch dims, matching ``data``'s dims before
    ``axis`` (which must then be ``lengths``' last dim). An empty segment gives ``initial``,
    or the reduction's identity (NaN for mean)."""
    from ember.ops.movement import stack
    reduce = {"amax": "max", "amin": "min"}.get(reduce, reduce)
    if reduce not in _SEGMENT_REDUCTIONS:
        raise RuntimeError("reduce argument must be either sum, prod, mean, amax or amin, got "
                           f"{reduce}")
    if indices is not None:
        raise RuntimeError("segment_reduce(): indices based reduction is not supported yet.")
    if lengths is None and offsets is None:
        raise RuntimeError("segment_reduce(): Either lengths or offsets must be defined.")
    if not (data.is_floating_point() or data.is_complex()):
        raise NotImplementedError(f'"_segment_reduce_cpu" not implemented for '
                                  f"'{data.dtype}'")
    if lengths is None:
        bounds = offsets._data
        lengths = _make(bounds[..., 1:] - bounds[..., :-1])
    axis = axis % data.ndim
    if axis != lengths.ndim - 1:
        raise RuntimeError("segment_reduce(): Expected axis to be the last dimension of lengths "
                           f"but got {axis}.")
    sizes = lengths._xp.asarray(lengths._data).tolist()
    if not unsafe:
        rows = [sizes] if lengths.ndim == 1 else _rows(sizes)
        if any(sum(r) != data.shape[axis] for r in rows) or any(v < 0 for r in rows for v in r):
            raise RuntimeError("segment_reduce(): Expected all rows of lengths along axis to sum "
                               "to data.size(lengths.dim()-1) when !unsafe.")
    if lengths.ndim == 1:
        return _segments(data, sizes, reduce, initial)
    # Batched lengths: one independent segmentation per leading index.
    return stack([segment_reduce(data[i], reduce, lengths=lengths[i], axis=axis - 1,
                                 unsafe=True, initial=initial)
                  for i in range(data.shape[0])])


def _rows(nested: list) -> list:
    """The innermost lists of a nested list."""
    if not nested or not isinstance(nested[0], list):
        return [nested]
    return [row for part in nested for row in _rows(part)]
