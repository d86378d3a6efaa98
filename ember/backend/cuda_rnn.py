"""The LSTM cell's elementwise work on CUDA as one kernel per time step and direction.

ember's LSTM layer runs each step as a matrix product and about ten in-place array operations
(the gates' activations, the cell and hidden updates; the backward's products and sums). On a
GPU every one of those is a kernel launch of a few microseconds for a (batch, hidden) array, so
a step costs its launches, not its arithmetic. These kernels do a step's elementwise part in one
launch; the matrix products stay with cuBLAS. Same formulas, in the same order, as the CPU path
in ``ember.ops.rnn`` (sigmoid as tanh(x / 2) / 2 + 1/2, the halving folded into the weights).
"""
from __future__ import annotations

import functools

import numpy as np

from ember.backend import cuda

# float32 and float64: CuPy's ElementwiseKernel types; the half types take the array-op path.
DTYPES = frozenset({"float32", "float64"})

_FORWARD = """
const long long row = (long long)(i / hidden) * 4 * hidden + i % hidden;
const T gi = tanh(gates[row] + rec[row]) * (T)0.5 + (T)0.5;
const T gf = tanh(gates[row + hidden] + rec[row + hidden]) * (T)0.5 + (T)0.5;
const T gg = tanh(gates[row + 2 * hidden] + rec[row + 2 * hidden]);
const T go = tanh(gates[row + 3 * hidden] + rec[row + 3 * hidden]) * (T)0.5 + (T)0.5;
gates[row] = gi;
gates[row + hidden] = gf;
gates[row + 2 * hidden] = gg;
gates[row + 3 * hidden] = go;
c = gf * c_prev + gi * gg;
tanh_c = tanh(c);
h = go * tanh_c;
"""

_BACKWARD = """
const long long row = (long long)(i / hidden) * 4 * hidden + i % hidden;
const long long coef_row = (long long)(i / hidden) * 3 * hidden + i % hidden;
const T dh_t = dh + g_out;
const T dc_t = dc + dh_t * dc_dh;
dgates[row + 3 * hidden] = dh_t * do_dh;
dgates[row] = dc_t * coef[coef_row];
dgates[row + hidden] = dc_t * coef[coef_row + hidden];
dgates[row + 2 * hidden] = dc_t * coef[coef_row + 2 * hidden];
dc = dc_t * f;
"""


@functools.lru_cache(maxsize=None)
def _kernels():
    cp = cuda.cupy()
    forward = cp.ElementwiseKernel("raw T rec, T c_prev, int32 hidden",
                                   "raw T gates, T c, T tanh_c, T h", _FORWARD,
                                   "ember_lstm_cell_forward")
    backward = cp.ElementwiseKernel(
        "T dh, T g_out, T dc_dh, T do_dh, raw T coef, T f, int32 hidden", "T dc, raw T dgates",
        _BACKWARD, "ember_lstm_cell_backward")
    return forward, backward


def lstm_cell_forward(gates, rec, c_prev, c, tanh_c, h) -> None:
    """One step: ``gates`` (B, 4H, C-contiguous; pre-activations with i, f, o halved) plus
    ``rec`` (h_prev @ the recurrent weights, likewise halved) activated in place; the new cell
    state into ``c``, its tanh into ``tanh_c`` and the hidden state into ``h`` (each (B, H))."""
    forward, _ = _kernels()
    forward(rec, c_prev, np.int32(c.shape[-1]), gates, c, tanh_c, h)


def lstm_cell_backward(dh, g_out, dc_dh, do_dh, coef, f, dc, dgates) -> None:
    """One step back: with dh_t = dh + g_out and dc_t = dc + dh_t * dc_dh, writes the gates'
    gradient (``dgates`` (B, 4H): dc_t * ``coef`` (B, 3, H) for i, f, g and dh_t * do_dh for o)
    and the cell gradient passed back, dc_t * f, into ``dc``."""
    _, backward = _kernels()
    backward(dh, g_out, dc_dh, do_dh, coef, f, np.int32(dc.shape[-1]), dc, dgates)
