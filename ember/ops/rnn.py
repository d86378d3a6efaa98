"""Fused recurrent layers: one primitive runs a whole LSTM or GRU layer in one direction.

The forward loops over time on arrays with in-place NumPy/CuPy and keeps the activated gates;
the backward walks time in reverse on arrays and forms the recurrent weight gradient as one
matmul over all steps. A backward with ``create_graph=True`` differentiates a step-by-step
recomputation instead, so double backward works (at the unfused cost).
"""
from __future__ import annotations

from ember._tensor import _make
from ember.autograd import grad as _grad
from ember.autograd.function import Primitive
from ember.autograd.grad_mode import _State
from ember.backend import cuda_rnn
from ember.backend.device import get_array_module, is_host
from ember.backend.special import matmul as backend_matmul
from ember.ops.linalg import addmm, matmul
from ember.ops.movement import stack

__all__ = ["lstm_layer", "gru_layer", "lstm_cell", "lstm_step", "gru_step"]


def _sigmoid_(x):
    """In-place logistic through tanh: stable for any sign, no overflow warnings."""
    x *= 0.5
    get_array_module(x).tanh(x, out=x)
    x *= 0.5
    x += 0.5
    return x


# ----------------------------------------------------------------------------------------------
# One time step composed of ember ops (differentiable to any order). ``xw`` is the input's
# projection (bias included); each returns the new state. The layers below use these only when
# backward runs with create_graph, and the modules for the cases the fused layers do not cover.

def lstm_step(xw, state, w_hh, b_hh, w_hr):
    """One LSTM step from ``state`` = (h, c); ``w_hr`` projects h (proj_size) when given."""
    h, c = state
    gates = xw + (matmul(h, w_hh.t()) if b_hh is None else addmm(b_hh, h, w_hh.t()))
    hidden = c.shape[-1]
    ifo = gates[:, :2 * hidden].sigmoid()  # i, f in one op; o below keeps PyTorch's order
    g = gates[:, 2 * hidden:3 * hidden].tanh()
    o = gates[:, 3 * hidden:].sigmoid()
    c = ifo[:, hidden:] * c + ifo[:, :hidden] * g
    h = o * c.tanh()
    if w_hr is not None:
        h = matmul(h, w_hr.t())
    return h, c


def gru_step(xw, h, w_hh, b_hh):
    """One GRU step from h."""
    gh = matmul(h, w_hh.t()) if b_hh is None else addmm(b_hh, h, w_hh.t())
    hidden = h.shape[-1]
    rz = (xw[:, :2 * hidden] + gh[:, :2 * hidden]).sigmoid()
    r, z = rz[:, :hidden], rz[:, hidden:]
    n = (xw[:, 2 * hidden:] + r * gh[:, 2 * hidden:]).tanh()
    return n + z * (h - n)


def _composed_layer(step, xw, state, reverse: bool):
    """A whole layer as ``step`` over time: (outputs (T, B, H), final state)."""
    outputs = [None] * xw.shape[0]
    for t in _time_order(xw.shape[0], reverse):
        state = step(xw[t], state)
        outputs[t] = state[0] if isinstance(state, tuple) else state
    return stack(outputs, 0), state


def _differentiable_grads(ctx, outputs, grad_outputs):
    """Backward with create_graph: differentiate a step-by-step recomputation, so the gradients
    are themselves differentiable (double backward), at the unfused cost."""
    inputs = ctx.saved_tensors
    wanted = [x for x, needed in zip(inputs, ctx.needs_input_grad) if needed]
    grads = iter(_grad(outputs, wanted, grad_outputs, create_graph=True, allow_unused=True))
    return tuple(next(grads) if needed else None
                 for _, needed in zip(inputs, ctx.needs_input_grad))


def _time_order(steps: int, reverse: bool):
    return range(steps - 1, -1, -1) if reverse else range(steps)


def _previous(xp, hs, h0, reverse: bool):
    """The state each step started from, stacked in time order: (T, B, H)."""
    prev = xp.empty_like(hs)
    if reverse:
        prev[-1] = h0
        prev[:-1] = hs[1:]
    else:
        prev[0] = h0
        prev[1:] = hs[:-1]
    return prev


def _sigmoid_grad(xp, s):
    """s (1 - s): sigmoid's derivative from its output, in one fresh array."""
    out = xp.subtract(1, s)
    out *= s
    return out


def _derivative_times(xp, y, other, out, sigmoid: bool) -> None:
    """out = y' * other, with y' the derivative of sigmoid (s (1 - s)) or tanh (1 - t^2)
    from its output y."""
    if sigmoid:
        xp.subtract(1, y, out=out)
        out *= y
    else:
        xp.multiply(y, y, out=out)
        xp.subtract(1, out, out=out)
    out *= other


def _tanh_grad(xp, t):
    """1 - t^2: tanh's derivative from its output, in one fresh array."""
    out = xp.multiply(t, t)
    xp.subtract(1, out, out=out)
    return out


def _recurrent_grads(xp, dgates, prev, b_hh):
    """d w_hh as one (G, T*B) @ (T*B, H) matmul; d b_hh as one sum."""
    flat = dgates.reshape(-1, dgates.shape[-1])
    dw = flat.T @ prev.reshape(-1, prev.shape[-1])
    db = None if b_hh is None else _make(flat.sum(0))
    return _make(dw), db


# NOTE [ Recurrent products in column blocks ]
# OpenBLAS multiplies a few rows (a small batch) by a weight at about half its speed once the
# weight's (K, N) panel outgrows about 128 KiB (measured with sgemm and dgemm: the
# 20 x 256 @ 256 x 1024 forward step takes 205 us whole and 104 us as 8 blocks of 128 columns;
# the 20 x 1024 @ 1024 x 256 backward step 139 us whole and 102 us in blocks of 32). So on the
# host each step's product runs over column blocks of at most _PANEL_BYTES, copied contiguous
# once per layer call. From batch 64 (forward) or 32 (backward) whole products are as fast or
# faster; batch 1 is a matrix-vector product; cuBLAS takes the product whole.
_PANEL_BYTES = 1 << 17
_BLOCKED_DTYPES = frozenset({"float32", "float64"})


def _step_product(xp, w, out, batch_limit: int, scale=None) -> list:
    """``h @ w`` into ``out`` (B, N) as (weight block, out view) pairs for ``_run_product``:
    w's columns split per NOTE [ Recurrent products in column blocks ] when 1 < B <
    ``batch_limit``, each block C-contiguous (BLAS runs a transposed weight about 2x slower)
    and times ``scale`` (one factor per column) when given."""
    rows, cols = w.shape
    width = cols
    if is_host(xp) and 1 < out.shape[0] < batch_limit and w.dtype.name in _BLOCKED_DTYPES:
        width = max(16, _PANEL_BYTES // (rows * w.dtype.itemsize) // 16 * 16)
    pairs = []
    for j in range(0, cols, width):
        part = w[:, j:j + width]
        if scale is not None:
            block = xp.empty_like(w, shape=part.shape, order="C")
            xp.multiply(part, scale[j:j + width], out=block)
        elif width < cols or not part.flags.c_contiguous:
            block = xp.ascontiguousarray(part)
        else:
            block = part
        pairs.append((block, out[:, j:j + width]))
    return pairs


def _run_product(h, pairs) -> None:
    for w, out in pairs:
        backend_matmul(h, w, out=out)


def _fused_cells(xp, like) -> bool:
    """Whether an LSTM step's elementwise work runs as one CUDA kernel (see cuda_rnn)."""
    return not is_host(xp) and like.dtype.name in cuda_rnn.DTYPES


class LSTMLayer(Primitive, node_name="MkldnnRnnLayerBackward0"):  # PyTorch CPU's name
    @staticmethod
    def forward(ctx, xw, h0, c0, w_hh, b_hh, reverse):
        """xw (T, B, 4H): the input projection with b_ih. Returns (output, h_n, c_n)."""
        xp = get_array_module(xw)
        steps, batch = xw.shape[:2]
        hidden = h0.shape[-1]
        # sigmoid(x) = tanh(x / 2) / 2 + 1/2: with the i, f, o pre-activations halved up front
        # (input and recurrent weight columns), each step runs one tanh over all four gates and
        # one affine (slope, shift) that turns it into sigmoid on i, f, o and keeps tanh on g
        slope = xp.full(4 * hidden, 0.5, xw.dtype)
        slope[2 * hidden:3 * hidden] = 1
        shift = 1 - slope
        gates = xw + b_hh if b_hh is not None else xw.copy()  # activated in place below
        gates *= slope
        # Buffers made like xw (C order), so that a meta xw gives meta buffers.
        hs = xp.empty_like(xw, shape=(steps, batch, hidden), order="C")
        cs = xp.empty_like(hs)
        tanh_c = xp.empty_like(hs)
        rec = xp.empty_like(xw, shape=(batch, 4 * hidden), order="C")
        product = _step_product(xp, w_hh.T, rec, 64, scale=slope)  # rec = h @ (w_hh.T * slope)
        h, c = h0, c0
        fused = _fused_cells(xp, xw)
        for t in _time_order(steps, reverse):
            g = gates[t]
            _run_product(h, product)
            if fused:
                cuda_rnn.lstm_cell_forward(g, rec, c, cs[t], tanh_c[t], hs[t])
                h, c = hs[t], cs[t]
                continue
            g += rec
            xp.tanh(g, out=g)
            g *= slope
            g += shift
            c_t = cs[t]
            xp.multiply(g[:, hidden:2 * hidden], c, out=c_t)
            xp.multiply(g[:, :hidden], g[:, 2 * hidden:3 * hidden], out=rec[:, :hidden])
            c_t += rec[:, :hidden]
            xp.tanh(c_t, out=tanh_c[t])
            xp.multiply(g[:, 3 * hidden:], tanh_c[t], out=hs[t])
            h, c = hs[t], c_t
        ctx.reverse = reverse
        ctx.save_for_backward(xw, h0, c0, w_hh, b_hh)
        ctx.state = (gates, hs, cs, tanh_c, h0, c0, w_hh, b_hh)
        return hs, h.copy(), c.copy()

    @staticmethod
    def backward(ctx, g_out, g_h, g_c):
        if _State.enabled:  # create_graph
            xw, h0, c0, w_hh, b_hh = ctx.saved_tensors
            out, (h, c) = _composed_layer(
                lambda x, state: lstm_step(x, state, w_hh, b_hh, None), xw, (h0, c0),
                ctx.reverse)
            return _differentiable_grads(ctx, (out, h, c), (g_out, g_h, g_c))
        gates, hs, cs, tanh_c, h0, c0, w_hh, b_hh = ctx.state
        xp = get_array_module(gates)
        steps, batch = gates.shape[:2]
        hidden = h0.shape[-1]
        reverse = ctx.reverse
        g4 = gates.reshape(steps, batch, 4, hidden)
        i, f, g, o = g4[:, :, 0], g4[:, :, 1], g4[:, :, 2], g4[:, :, 3]
        # Everything but the recurrence, for all steps at once: d c_t / d h_t, d o_t / d h_t
        # and d (i, f, g)_t / d c_t as coefficients (sigmoid' = s(1-s), tanh' = 1-t^2)
        dc_dh = xp.empty_like(tanh_c)
        do_dh = xp.empty_like(tanh_c)
        coef = xp.empty_like(gates, shape=(steps, batch, 3, hidden), order="C")
        _derivative_times(xp, tanh_c, o, dc_dh, sigmoid=False)
        _derivative_times(xp, o, tanh_c, do_dh, sigmoid=True)
        _derivative_times(xp, i, g, coef[:, :, 0], sigmoid=True)
        _derivative_times(xp, f, _previous(xp, cs, c0, reverse), coef[:, :, 1], sigmoid=True)
        _derivative_times(xp, g, i, coef[:, :, 2], sigmoid=False)
        dgates = xp.empty_like(gates)
        d4 = dgates.reshape(steps, batch, 4, hidden)
        dh = xp.zeros_like(h0) if g_h is None else g_h._data.copy()
        dc = xp.zeros_like(c0) if g_c is None else g_c._data.copy()
        g_out = None if g_out is None else g_out._data
        tmp = xp.empty_like(dh)
        fused = _fused_cells(xp, gates)
        no_grad = xp.zeros((), dh.dtype)
        product = _step_product(xp, w_hh, dh, 32)  # dh = dgates[t] @ w_hh
        for t in _time_order(steps, not reverse):
            if fused:
                cuda_rnn.lstm_cell_backward(dh, no_grad if g_out is None else g_out[t], dc_dh[t],
                                            do_dh[t], coef[t], f[t], dc, dgates[t])
                _run_product(dgates[t], product)
                continue
            if g_out is not None:
                dh += g_out[t]
            xp.multiply(dh, dc_dh[t], out=tmp)
            dc += tmp
            xp.multiply(dh, do_dh[t], out=d4[t, :, 3])
            xp.multiply(dc[:, None], coef[t], out=d4[t, :, :3])
            dc *= f[t]
            _run_product(dgates[t], product)
        dw, db = _recurrent_grads(xp, dgates, _previous(xp, hs, h0, reverse), b_hh)
        return _make(dgates), _make(dh), _make(dc), dw, db


class GRULayer(Primitive, node_name="GruLayerBackward0"):
    @staticmethod
    def forward(ctx, xw, h0, w_hh, b_hh, reverse):
        """xw (T, B, 3H): the input projection with b_ih. Returns (output, h_n)."""
        xp = get_array_module(xw)
        steps = xw.shape[0]
        hidden = h0.shape[-1]
        gates = xw.copy()  # r, z, n activated in place below
        # h W_hn^T + b_hn, kept for backward; made like xw so that a meta xw gives meta buffers
        hn = xp.empty_like(xw, shape=xw.shape[:2] + (hidden,), order="C")
        hs = xp.empty_like(hn)
        gh = xp.empty_like(xw, shape=xw.shape[1:], order="C")
        product = _step_product(xp, w_hh.T, gh, 64)  # gh = h @ w_hh.T
        h = h0
        for t in _time_order(steps, reverse):
            _run_product(h, product)
            if b_hh is not None:
                gh += b_hh
            g = gates[t]
            rz = g[:, :2 * hidden]
            rz += gh[:, :2 * hidden]
            _sigmoid_(rz)
            n = g[:, 2 * hidden:]
            hn[t] = gh[:, 2 * hidden:]
            n += g[:, :hidden] * hn[t]
            xp.tanh(n, out=n)
            # h' = n + z * (h - n)
            h_t = hs[t]
            xp.subtract(h, n, out=h_t)
            h_t *= g[:, hidden:2 * hidden]
            h_t += n
            h = h_t
        ctx.reverse = reverse
        ctx.save_for_backward(xw, h0, w_hh, b_hh)
        ctx.state = (gates, hn, hs, h0, w_hh, b_hh)
        return hs, h.copy()

    @staticmethod
    def backward(ctx, g_out, g_h):
        if _State.enabled:  # create_graph
            xw, h0, w_hh, b_hh = ctx.saved_tensors
            out, h = _composed_layer(lambda x, state: gru_step(x, state, w_hh, b_hh), xw, h0,
                                     ctx.reverse)
            return _differentiable_grads(ctx, (out, h), (g_out, g_h))
        gates, hn, hs, h0, w_hh, b_hh = ctx.state
        xp = get_array_module(gates)
        steps = gates.shape[0]
        hidden = h0.shape[-1]
        dh = xp.zeros_like(h0) if g_h is None else g_h._data.copy()
        g_out = None if g_out is None else g_out._data
        dxw = xp.empty_like(gates)
        dgh = xp.empty_like(gates)  # grads of h W_hh^T + b_hh
        reverse = ctx.reverse
        back = xp.empty_like(dh)
        product = _step_product(xp, w_hh, back, 32)  # back = dgh[t] @ w_hh
        for t in _time_order(steps, not reverse):
            h_prev = h0 if t == (steps - 1 if reverse else 0) else hs[t + 1 if reverse else t - 1]
            if g_out is not None:
                dh += g_out[t]
            g = gates[t]
            r, z, n = g[:, :hidden], g[:, hidden:2 * hidden], g[:, 2 * hidden:]
            dx = dxw[t]
            dr, dz, dn = dx[:, :hidden], dx[:, hidden:2 * hidden], dx[:, 2 * hidden:]
            # dz = dh * (h_prev - n) * z(1-z)
            xp.subtract(h_prev, n, out=dz)
            dz *= dh
            dz *= z
            dz *= 1 - z
            # dn (pre-tanh) = dh * (1 - z) * (1 - n^2)
            xp.multiply(n, n, out=dn)
            xp.subtract(1, dn, out=dn)
            dn *= 1 - z
            dn *= dh
            # dr = dn * hn * r(1-r)
            xp.multiply(dn, hn[t], out=dr)
            dr *= r
            dr *= 1 - r
            dgt = dgh[t]
            dgt[:, :2 * hidden] = dx[:, :2 * hidden]
            xp.multiply(dn, r, out=dgt[:, 2 * hidden:])
            dh *= z
            _run_product(dgt, product)
            dh += back
        prev = _previous(xp, hs, h0, reverse)
        dw, db = _recurrent_grads(xp, dgh, prev, b_hh)
        return _make(dxw), _make(dh), dw, db


class LSTMCellStep(Primitive, node_name="ThnnFusedLstmCellBackward0"):  # fused, as on CUDA
    """One LSTM step (``nn.LSTMCell``) as one node: scripts that loop over time in Python
    (PyTorch's time_sequence_prediction) record 2 nodes per step instead of ~15."""

    @staticmethod
    def forward(ctx, xw, h, c, w_hh, b_hh):
        """xw (B, 4H): the input projection with b_ih. Returns (h', c')."""
        xp = get_array_module(xw)
        hidden = c.shape[-1]
        gates = xw + h @ w_hh.T  # activated in place: i, f, o through sigmoid, g through tanh
        if b_hh is not None:
            gates += b_hh
        _sigmoid_(gates[:, :2 * hidden])
        xp.tanh(gates[:, 2 * hidden:3 * hidden], out=gates[:, 2 * hidden:3 * hidden])
        _sigmoid_(gates[:, 3 * hidden:])
        i, f, g, o = (gates[:, k * hidden:(k + 1) * hidden] for k in range(4))
        c_new = f * c
        c_new += i * g
        tanh_c = xp.tanh(c_new)
        ctx.save_for_backward(xw, h, c, w_hh, b_hh)
        ctx.state = (gates, c, tanh_c, h, w_hh, b_hh is not None)
        return o * tanh_c, c_new

    @staticmethod
    def backward(ctx, g_h, g_c):
        if _State.enabled:  # create_graph: differentiate the composed step
            xw, h, c, w_hh, b_hh = ctx.saved_tensors
            return _differentiable_grads(ctx, lstm_step(xw, (h, c), w_hh, b_hh, None),
                                         (g_h, g_c))
        gates, c, tanh_c, h, w_hh, has_bias = ctx.state
        xp = get_array_module(gates)
        hidden = c.shape[-1]
        i, f, g, o = (gates[:, k * hidden:(k + 1) * hidden] for k in range(4))
        dc = xp.zeros_like(c) if g_c is None else g_c._data.copy()
        dgates = xp.empty_like(gates)
        if g_h is None:
            dgates[:, 3 * hidden:] = 0
        else:
            dh = g_h._data
            dc += dh * o * _tanh_grad(xp, tanh_c)
            xp.multiply(dh * tanh_c, _sigmoid_grad(xp, o), out=dgates[:, 3 * hidden:])
        xp.multiply(dc * g, _sigmoid_grad(xp, i), out=dgates[:, :hidden])
        xp.multiply(dc * c, _sigmoid_grad(xp, f), out=dgates[:, hidden:2 * hidden])
        xp.multiply(dc * i, _tanh_grad(xp, g), out=dgates[:, 2 * hidden:3 * hidden])
        return (_make(dgates), _make(dgates @ w_hh), _make(dc * f), _make(dgates.T @ h),
                _make(dgates.sum(0)) if has_bias else None)


def lstm_cell(xw, h, c, w_hh, b_hh):
    """One LSTM step from (h, c) with the projected input ``xw`` (B, 4H): (h', c')."""
    return LSTMCellStep.apply(xw, h, c, w_hh, b_hh)


def lstm_layer(xw, h0, c0, w_hh, b_hh, reverse: bool):
    """One LSTM layer in one direction over the projected input ``xw`` (T, B, 4H).

    Returns (output (T, B, H), h_n (B, H), c_n (B, H))."""
    return LSTMLayer.apply(xw, h0, c0, w_hh, b_hh, reverse)


def gru_layer(xw, h0, w_hh, b_hh, reverse: bool):
    """One GRU layer in one direction over the projected input ``xw`` (T, B, 3H).

    Returns (output (T, B, H), h_n (B, H))."""
    return GRULayer.apply(xw, h0, w_hh, b_hh, reverse)
