"""Compiled loop kernels (Numba) for batch norm, tanh's and relu's backward and 2x2 max pooling.

Imported only through :func:`chainrule.kernels.compiled`, never by ``import chainrule``: this
module imports Numba (about 0.3 s) and compiles each kernel on first use (cached on disk
afterwards). Every kernel has a NumPy twin beside the call (the formula the tests compare it
against), used whenever Numba is missing or switched off with
:func:`chainrule.backend.use_compiled`.

Why loops: these ops are a few operations per value, so their cost is the passes over
memory. NumPy makes one pass per ufunc (batch-norm training forward: sum,
subtract, square-sum, scale, shift = five passes and two written arrays); a loop does the
same arithmetic in two passes (statistics, then normalise) and one written array, and
accumulates the statistics in float64 on the way. Tanh's backward (three NumPy passes), relu's
(a mask, then a multiply or a select) and each direction of 2x2 max pooling (a copy of the
four window offsets, then a dozen passes) become one pass each.

Array arguments are C-contiguous (the callers make sure), float32 or float64; per-channel
vectors have the input's dtype; sums are accumulated and returned in float64.
"""
from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np

from . import direct_conv as direct  # the direct convolution: LLVM IR through Numba's llvmlite

# reassociation lets LLVM vectorise the sums (partial sums per SIMD lane) and contract fuses
# multiply-adds; no "nnan"/"ninf", so NaN and inf propagate exactly as in NumPy. NumPy's error
# model too: a float division by zero gives inf or NaN as in NumPy, where Python's would test
# every divisor and raise, a branch that keeps LLVM from vectorising the loop (2.3x on tanh_f32)
_FLAGS = {"reassoc", "contract"}
_njit = numba.njit(cache=True, nogil=True, error_model="numpy", fastmath=_FLAGS)


@_njit
def channel_stats(x3: Any) -> tuple[Any, Any]:
    """Per-channel mean and biased variance of x3 (N, C, S) over N and S, in float64.

    One pass: sums of d = x - k and d*d with k the channel's first value (0 if not finite),
    so the float64 sums do not cancel even when the mean is far from zero.
    """
    N, C, S = x3.shape
    M = N * S
    mean = np.empty(C)
    var = np.empty(C)
    for c in range(C):
        k = np.float64(x3[0, c, 0])
        if not math.isfinite(k):
            k = 0.0
        s1 = 0.0
        s2 = 0.0
        for n in range(N):
            row = x3[n, c]
            for i in range(S):
                d = np.float64(row[i]) - k
                s1 += d
                s2 += d * d
        m = s1 / M
        mean[c] = k + m
        var[c] = max(s2 / M - m * m, 0.0)
    return mean, var


@_njit
def scale_shift(x3: Any, mean: Any, scale: Any, shift: Any, out3: Any) -> None:
    """out3 = (x3 - mean) * scale + shift, per channel (the batch-norm output), one pass."""
    N, C, S = x3.shape
    for n in range(N):
        for c in range(C):
            m, a, b = mean[c], scale[c], shift[c]
            xr = x3[n, c]
            yr = out3[n, c]
            for i in range(S):
                yr[i] = (xr[i] - m) * a + b


@_njit
def grad_sums(g3: Any, x3: Any, mean: Any) -> tuple[Any, Any]:
    """Per-channel sum(g) and sum(g * (x - mean)) of (N, C, S) arrays, in float64, one pass."""
    N, C, S = x3.shape
    sum_g = np.zeros(C)
    sum_gxc = np.zeros(C)
    for n in range(N):
        for c in range(C):
            m = np.float64(mean[c])
            gr = g3[n, c]
            xr = x3[n, c]
            a1 = 0.0
            a2 = 0.0
            for i in range(S):
                gv = np.float64(gr[i])
                a1 += gv
                a2 += gv * (np.float64(xr[i]) - m)
            sum_g[c] += a1
            sum_gxc[c] += a2
    return sum_g, sum_gxc


@_njit
def batch_norm_grad(g3: Any, x3: Any, mean: Any, a: Any, k: Any, d: Any, out3: Any) -> None:
    """out3 = a * g - k * (x - mean) + d, per channel (the batch-norm input gradient), one pass."""
    N, C, S = x3.shape
    for n in range(N):
        for c in range(C):
            m, ac, kc, dc = mean[c], a[c], k[c], d[c]
            gr = g3[n, c]
            xr = x3[n, c]
            o = out3[n, c]
            for i in range(S):
                o[i] = ac * gr[i] - kc * (xr[i] - m) + dc


@_njit
def tanh_grad(y: Any, g: Any, out: Any) -> None:
    """out = g * (1 - y*y) over flat arrays (tanh's backward from its output), one pass."""
    one = y.dtype.type(1)  # typed: a float64 literal would upcast a float32 loop
    for i in range(y.size):
        v = y[i]
        out[i] = g[i] * (one - v * v)


@_njit
def layer_norm_rows(x2: Any, w: Any, b: Any, eps: float, y2: Any, mean: Any, rstd: Any) -> None:
    """Layer norm of each row of x2 (R, K): the row's mean, the variance of the centred
    values (stable under a large mean), y = (x - mean) * rstd * w + b (w and b of length K,
    or length 0 for none). Writes y2 (R, K), mean (R,) and rstd (R,); xhat is not stored (the
    backward recomputes it from x: a third less memory traffic, as PyTorch's kernel)."""
    R, K = x2.shape
    for r in range(R):
        xr = x2[r]
        m = 0.0
        for k in range(K):
            m += xr[k]
        m /= K
        v = 0.0
        for k in range(K):
            d = xr[k] - m
            v += d * d
        s = 1.0 / math.sqrt(v / K + eps)
        mean[r] = m
        rstd[r] = s
        yr = y2[r]
        for k in range(K):
            h = (xr[k] - m) * s
            if w.size:
                h = h * w[k]
            if b.size:
                h = h + b[k]
            yr[k] = h


@_njit
def layer_norm_rows_grad(g2: Any, x2: Any, mean: Any, rstd: Any, w: Any, gx2: Any, gw: Any,
                         gb: Any) -> None:
    """The backward of :func:`layer_norm_rows`: with xhat = (x - mean) * rstd per row,
    gx = rstd * (gw_ - mean(gw_) - xhat * mean(gw_ * xhat)) with gw_ = g * w; gw += g * xhat
    and gb += g over the rows (gw, gb of length K, or 0 when not wanted; gx2 of size 0 when
    not wanted)."""
    R, K = g2.shape
    for r in range(R):
        gr, xr, m, s = g2[r], x2[r], mean[r], rstd[r]
        if gw.size:
            for k in range(K):
                gw[k] += gr[k] * ((xr[k] - m) * s)
        if gb.size:
            for k in range(K):
                gb[k] += gr[k]
        if gx2.size == 0:
            continue
        mg = 0.0
        mgx = 0.0
        for k in range(K):
            a = gr[k] * w[k] if w.size else gr[k]
            mg += a
            mgx += a * ((xr[k] - m) * s)
        mg /= K
        mgx /= K
        out = gx2[r]
        for k in range(K):
            a = gr[k] * w[k] if w.size else gr[k]
            out[k] = s * (a - mg - ((xr[k] - m) * s) * mgx)


# tanh(x) for float32 as Eigen's rational approximation (odd degree 13 over even degree 6, x
# clamped to +-7.9053): within 4e-7 of tanh, and plain arithmetic that vectorises where
# libm's scalar tanh does not
_TANH_P = (4.89352455891786e-03, 6.37261928875436e-04, 1.48572235717979e-05,
           5.12229709037114e-08, -8.60467152213735e-11, 2.00018790482477e-13,
           -2.76076847742355e-16)
_TANH_Q = (4.89352518554385e-03, 2.26843463243900e-03, 1.18534705686654e-04,
           1.19825839466702e-06)


@_njit
def tanh_f32(x: Any) -> Any:
    """tanh of one float32 value by the rational approximation above."""
    c = np.float32(7.90531110763549805)
    x = c if x > c else x  # selects, not min/max: they vectorise, and NaN passes through
    x = -c if x < -c else x
    x2 = x * x
    p = np.float32(_TANH_P[6])
    p = x2 * p + np.float32(_TANH_P[5])
    p = x2 * p + np.float32(_TANH_P[4])
    p = x2 * p + np.float32(_TANH_P[3])
    p = x2 * p + np.float32(_TANH_P[2])
    p = x2 * p + np.float32(_TANH_P[1])
    p = x2 * p + np.float32(_TANH_P[0])
    q = np.float32(_TANH_Q[3])
    q = x2 * q + np.float32(_TANH_Q[2])
    q = x2 * q + np.float32(_TANH_Q[1])
    q = x2 * q + np.float32(_TANH_Q[0])
    return x * p / q


@_njit
def lstm_gates_f32(a: Any, gi: Any, b: Any, c_prev: Any, c: Any, h: Any, tc: Any) -> None:
    """One LSTM step's pointwise part on float32, in place on a (B, 4H) that holds h_prev @
    W_hh^T: adds the projected inputs gi (B, 4H) and the bias b (4H), then a becomes
    sigmoid(i), sigmoid(f), tanh(g), sigmoid(o) (sigmoid(x) = (1 + tanh(x/2)) / 2); then
    c = f c_prev + i g, tc = tanh(c), h = o tc."""
    B, H = c.shape
    half = np.float32(0.5)
    for b_ in range(B):
        ab, gb = a[b_], gi[b_]
        for k in range(2 * H):  # i, f
            ab[k] = half + half * tanh_f32(half * (ab[k] + gb[k] + b[k]))
        for k in range(2 * H, 3 * H):  # g
            ab[k] = tanh_f32(ab[k] + gb[k] + b[k])
        for k in range(3 * H, 4 * H):  # o
            ab[k] = half + half * tanh_f32(half * (ab[k] + gb[k] + b[k]))
        for k in range(H):
            cv = ab[H + k] * c_prev[b_, k] + ab[k] * ab[2 * H + k]
            c[b_, k] = cv
            t = tanh_f32(cv)
            tc[b_, k] = t
            h[b_, k] = ab[3 * H + k] * t


@_njit
def lstm_gates_grad(act: Any, tc: Any, c_prev: Any, dh: Any, dc: Any, d: Any) -> None:
    """The backward of one LSTM step's pointwise part: with dh the gradient of h (B, H) and
    dc that of c from the next step, adds dh o (1 - tc^2) to dc, writes the pre-activation
    gradients d (B, 4H) and leaves dc f in dc (the gradient of c_prev)."""
    B, H = dh.shape
    one = act.dtype.type(1)
    for b in range(B):
        for k in range(H):
            i, f = act[b, k], act[b, H + k]
            g, o = act[b, 2 * H + k], act[b, 3 * H + k]
            t, gh = tc[b, k], dh[b, k]
            cv = dc[b, k] + gh * o * (one - t * t)
            d[b, k] = cv * g * i * (one - i)
            d[b, H + k] = cv * c_prev[b, k] * f * (one - f)
            d[b, 2 * H + k] = cv * i * (one - g * g)
            d[b, 3 * H + k] = gh * t * o * (one - o)
            dc[b, k] = cv * f


@numba.njit(cache=True, nogil=True)
def index_add_rows(index: Any, g2: Any, out2: Any) -> None:
    """out2[index[k]] += g2[k] for every k in order (rows of length D): an embedding's
    weight gradient, repeated indices summed as PyTorch's loop sums them."""
    D = g2.shape[1]
    for k in range(index.size):
        row, src = out2[index[k]], g2[k]
        for d in range(D):
            row[d] += src[d]


@numba.njit(cache=True, nogil=True)  # no fastmath: erf of NaN and inf as the C library
def erf(x: Any, out: Any) -> None:
    """out = erf(x) over flat arrays: the C library's erf, compiled (NumPy has no erf; one
    Python call per element is 100x slower)."""
    for i in range(x.size):
        out[i] = math.erf(x[i])


# erf(x) for float32 as Eigen's rational approximation (odd degree 13 over even degree 8, x
# clamped to +-4): within 3.4e-7 of erf (at most 6 float32 ulps, near +-1), and plain
# arithmetic that vectorises: 30x the C library's scalar erf
_ERF_P = (-1.60960333262415e-02, -2.95459980854025e-03, -7.34990630326855e-04,
          -5.69250639462346e-05, -2.10102402082508e-06, 2.77068142495902e-08,
          -2.72614225801306e-10)
_ERF_Q = (-1.42647390514189e-02, -7.37332916720468e-03, -1.68282697438203e-03,
          -2.13374055278905e-04, -1.45660718464996e-05)


@_njit
def erf_f32(x: Any, out: Any) -> None:
    """out = erf(x) over flat float32 arrays by the rational approximation above (NaN stays
    NaN, +-inf gives +-1)."""
    c = np.float32(4.0)
    for i in range(x.size):
        v = x[i]
        v = c if v > c else v  # selects: they vectorise, and NaN passes through
        v = -c if v < -c else v
        v2 = v * v
        p = v2 * np.float32(_ERF_P[6]) + np.float32(_ERF_P[5])
        p = v2 * p + np.float32(_ERF_P[4])
        p = v2 * p + np.float32(_ERF_P[3])
        p = v2 * p + np.float32(_ERF_P[2])
        p = v2 * p + np.float32(_ERF_P[1])
        p = v2 * p + np.float32(_ERF_P[0])
        q = v2 * np.float32(_ERF_Q[4]) + np.float32(_ERF_Q[3])
        q = v2 * q + np.float32(_ERF_Q[2])
        q = v2 * q + np.float32(_ERF_Q[1])
        q = v2 * q + np.float32(_ERF_Q[0])
        out[i] = v * p / q


@numba.njit(cache=True, nogil=True)  # no fastmath: comparisons must see NaN
def relu_grad(x: Any, g: Any, out: Any) -> None:
    """out = g where x > 0 or x is NaN, else exactly 0, over flat arrays (relu's backward).

    A select, not ``g * (x > 0)``: an inf or NaN g must give 0 where relu is flat, as
    PyTorch's ``threshold_backward``; one pass, and the select vectorises.
    """
    zero = g.dtype.type(0)
    for i in range(x.size):
        out[i] = zero if x[i] <= 0 else g[i]


@numba.njit(cache=True, nogil=True)  # no fastmath: comparisons must see NaN
def max_pool_2x2(x: Any, y: Any, idx: Any) -> None:
    """2x2 max pooling with stride 2 of x (N, C, H, W) into y and idx (N, C, OH, OW).

    idx is the window offset of the maximum (0..3, row-major). As PyTorch's CPU kernel: the
    first maximum wins ties, a NaN beats everything and the last NaN in a window wins.
    """
    N, C, OH, OW = y.shape
    for n in range(N):
        for c in range(C):
            for i in range(OH):
                r0 = x[n, c, 2 * i]
                r1 = x[n, c, 2 * i + 1]
                yr = y[n, c, i]
                ir = idx[n, c, i]
                for j in range(OW):
                    m = r0[2 * j]
                    k = 0
                    v = r0[2 * j + 1]
                    t = (v > m) | (v != v)  # selects, not branches: the loop vectorises
                    m = v if t else m
                    k = 1 if t else k
                    v = r1[2 * j]
                    t = (v > m) | (v != v)
                    m = v if t else m
                    k = 2 if t else k
                    v = r1[2 * j + 1]
                    t = (v > m) | (v != v)
                    m = v if t else m
                    k = 3 if t else k
                    yr[j] = m
                    ir[j] = k


@numba.njit(cache=True, nogil=True)
def max_unpool_2x2(gy: Any, idx: Any, gx: Any) -> None:
    """The backward of :func:`max_pool_2x2`: gx[2i + a, 2j + b] = gy[i, j] where idx == 2a + b.

    Writes the first 2*OH rows and 2*OW columns of every gx plane, zeros included.
    """
    N, C, OH, OW = gy.shape
    zero = gy.dtype.type(0)
    for n in range(N):
        for c in range(C):
            for i in range(OH):
                g = gy[n, c, i]
                ir = idx[n, c, i]
                r0 = gx[n, c, 2 * i]
                r1 = gx[n, c, 2 * i + 1]
                for w in range(2 * OW):  # one output column at a time: vectorises
                    j = w >> 1
                    k = ir[j] - (w & 1)  # 0: top row, 2: bottom row, else elsewhere
                    v = g[j]
                    r0[w] = v if k == 0 else zero
                    r1[w] = v if k == 2 else zero
