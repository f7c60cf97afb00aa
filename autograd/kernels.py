"""Numba kernels for numbagrad: fused elementwise activations, softmax family, matmul.

Every public function takes float32 or float64 numpy arrays of any shape and
layout, never mutates its inputs and returns a new array of the same dtype.

Design notes (all measured on the project's 2-core AVX2 machines, see
benchmarks/bench_kernels.py and benchmarks/bench_matmul.py):

* Kernels are module-level ``@njit(cache=True, error_model="numpy")`` functions
  without explicit signatures, so importing this module compiles nothing; the
  first call per dtype compiles (or loads the on-disk cache).  ``warm_up()``
  pays that cost up front.
* ``error_model="numpy"``: numba's default ("python") adds a zero-division
  check to every division, which blocks vectorisation (~10x slower loops).
* Outputs are allocated by numpy in the Python wrappers and passed in:
  allocating a large array inside a kernel costs several times the kernel
  itself (page faults in numba's allocator path).
* Kernels are serial numba code; the elementwise ones (activations) are split
  over two threads for large arrays by ``_run_elementwise``: the calling thread
  and one helper thread started on first use claim chunks, and the caller never
  waits for a helper that did not start.  Not ``parallel=True``: such a kernel
  launched right after a BLAS product waits for the cores that OpenBLAS threads
  are still spinning on (~8 ms), and below ~1e5 elements serial is faster.
* float32 transcendental functions are hand-written, branch-free polynomial
  approximations (exp: range reduction with 2**n built from the exponent bits;
  tanh: odd polynomial near 0, 1 − 2/(e^{2|x|}+1) elsewhere; Φ for GELU:
  e^{−u²/2}·C/(u + g(u)) with error-free two-term sums and products) so LLVM
  can vectorise the loops; fused multiply-adds are written out (``_fma``).
  ``math.exp``/``math.tanh``/``math.erf`` are scalar libm calls in numba (no
  SVML here) and keep loops scalar (~3.5x slower for sigmoid at 1e6 elements).
* Large axpy updates (plain SGD, ``add_`` with ``alpha``) call numpy's own
  BLAS (autograd/blas.py), whose threads are the ones the weight-gradient
  products just ran on and left half of each gradient's cache lines with:
  the MLP step's SGD update 75-80 -> 45-53 us.
* float64 kernels favour accuracy (gradcheck with eps=1e-6 runs in float64):
  they use libm ``math.exp``/``math.tanh``/``math.erfc``.
"""

from __future__ import annotations

import itertools
import math
import os
import queue
import threading
import time

import numba
import numba.extending
import numpy as np

from . import blas, buffer_pool

__all__ = [
    "sigmoid_forward",
    "sigmoid_backward",
    "tanh_forward",
    "tanh_backward",
    "relu_forward",
    "relu_backward",
    "bias_relu_",
    "gelu_forward",
    "gelu_backward",
    "gelu_backward_from_derivative",
    "softmax_forward",
    "softmax_backward",
    "log_softmax_forward",
    "log_softmax_backward",
    "logsumexp_lastdim",
    "cross_entropy_rows",
    "cross_entropy_grad",
    "matmul",
    "matmul_numba",
    "im2col",
    "col2im",
    "max_pool2d_forward",
    "plane_scatter_add",
    "plane_gather",
    "avg_pool2d_forward",
    "avg_pool2d_adjoint",
    "warm_up",
]

_njit = numba.njit(cache=True, error_model="numpy", nogil=True)


@numba.extending.intrinsic
def _fma(typingctx, a, b, c):
    """a·b + c rounded once (llvm.fma: one vfmadd instruction on AVX2/FMA machines)."""
    if not (a == b == c and isinstance(a, numba.core.types.Float)):
        return None

    def codegen(context, builder, signature, args):
        return builder.fma(*args)
    return a(a, b, c), codegen


# The float32 activation helpers call _fma where they want a fused multiply-add: FMAs made those
# kernels 1.2-1.3x faster than a separate multiply and add (sigmoid 0.76 -> 0.59 ms per 1e6, GELU
# 1.31 -> 1.01 ms, in earlier forms).  Explicit rather than fastmath={"contract"}: LLVM contracts
# a product only where it has a single use, so the kernel storing GELU and GELU' rounded GELU 1 ulp
# differently from the kernel storing GELU alone.  Explicit, every kernel variant computes each
# value the same way, and _fma(a, b, -p) with p = a·b is the exact rounding error of p.

# Scalar helpers are inlined at numba-IR level: left to LLVM's inliner, the
# larger ones (tanh, Φ) stayed out-of-line calls, which kept the loop scalar
# (tanh 14 ns/element instead of ~1 ns).
_njit_inline = numba.njit(cache=True, error_model="numpy", nogil=True, inline="always")

_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)

# ---------------------------------------------------------------------------
# Constants.  Module-level numpy float32 scalars are frozen into the kernels
# with their float32 type; a bare Python float literal would be float64 and
# silently promote float32 arithmetic to float64 (slower, half the SIMD width).
# Constants that are exact in float32 (0, 0.5, 1, 2, 3) are also used by the
# dtype-generic kernels: float64 op float32-constant stays float64, exactly.
# ---------------------------------------------------------------------------
_f = np.float32
_ZERO = _f(0.0)
_HALF = _f(0.5)
_ONE = _f(1.0)
_TWO = _f(2.0)

# exp (float32): x = n*ln2 + r, |r| <= ln2/2, Cephes expf polynomial for e^r.
# ln2 is split in two (C1 has few mantissa bits, so n*C1 is exact).
_EXP_HI = _f(88.8)  # e^88.8 > FLT_MAX: rounds to +inf through the scaling
_EXP_LO = _f(-104.0)  # e^-104 < half the smallest subnormal: rounds to 0
_LOG2E = _f(1.44269504088896341)
_LN2_C1 = _f(0.693359375)
_LN2_C2 = _f(-2.12194440e-4)
_NEG_LN2_C1 = -_LN2_C1
_NEG_LN2_C2 = -_LN2_C2
_EP0 = _f(1.9875691500e-4)
_EP1 = _f(1.3981999507e-3)
_EP2 = _f(8.3334519073e-3)
_EP3 = _f(4.1665795894e-2)
_EP4 = _f(1.6666665459e-1)
_EP5 = _f(5.0000001201e-1)
_I127 = np.int32(127)
_I23 = np.int32(23)
_I1 = np.int32(1)

# Activation exp (float32, argument in [-87.33, 88]): n = round(a·log2 e) by adding 1.5·2^23 (the
# integer lands in the low mantissa bits, whose bits then give 2^n directly), and e^r − 1 for
# |r| <= ln2/2 as r + r²·(E0 + E1 r + E2 r² + E3 r³ + E4 r⁴), a minimax fit (1.3e-8 relative, against
# Cephes' 7 coefficients).  One 2^n scaling: results must stay normal, so arguments below
# _EXP_FLUSH (e^-87.33 = 1.2e-38, the smallest normal float32) give 0 instead of a subnormal.
_ROUND_MAGIC = _f(12582912.0)
_EXP_FLUSH = _f(-87.33)
_EXP_ZERO = _f(-88.0)  # rounds to n = −127: 2^n is built as +0.0, so e^a = 0 without a select
_EM0 = _f(0.4999999701976776)
_EM1 = _f(0.1666654348373413)
_EM2 = _f(0.04166720062494278)
_EM3 = _f(0.008366546593606472)
_EM4 = _f(0.0013882508501410484)

# tanh (float32).  Eigen's 13/6 rational approximation was measured at up to
# 6.6 ulp here (|x| in 4..8), so instead: |x| < 0.5625 -> x + x^3 P(x^2) with P
# a degree-5 least-squares fit (0.79 ulp), else 1 - 2/(e^{2|x|}+1) (<= 1.8 ulp,
# saturates to exactly ±1: tanh(9.1) rounds to 1).  The expm1 form em/(em+2) needs no
# polynomial branch and measured 1.8x faster, but 2.4 ulp (rounding of em + 2 near 0).
_TANH_SPLIT = _f(0.5625)
_TANH_SAT = _f(9.1)
_TP0 = _f(-0.3333333270192715)
_TP1 = _f(0.13333292522516113)
_TP2 = _f(-0.053959416910206774)
_TP3 = _f(0.021780845462316355)
_TP4 = _f(-0.008406554055510102)
_TP5 = _f(0.002385805189420745)

# GELU (exact), float32: for u = |x|, Φ(−u) = e^{−u²/2}·Q(u) and Q(u) = C/(u + g(u)), C = 1/√(2π)
# rounded to float32 and g = P/S a (4,5) rational fitted for relative error (5e-10) on [0, 13].
# This form keeps relative accuracy in the left tail (1 + erf(x/√2), PyTorch's float32 formula,
# cancels for x < −3) and damps the rounding errors of P and S by g/(u+g); u + g is kept as an
# exact two-term sum.  e^{−u²/2} takes its argument as the exact two-term u² (u·u and its FMA
# rounding error), so the exponent loses nothing to rounding u².  Beyond |x| = 13 GELU is 0 or x
# (Φ(−13) = 6e-39 underflows float32).  GELU forward, measured at 1e6 elements, serial: the direct
# (4,5) rational Q = N(u)/D(u) in float32: 1.0 ms but 5.5 ulp; the same rational in float64:
# 1.6 ms, 1.8 ulp; this form without the two-sums and the division residual: 1.33 ms, 2.7 ulp;
# this form: 1.41 ms, 1.76 ulp (the previous float64 Numerical Recipes erfc: 5.0 ms, 3.2 ulp).
_GELU_U_MAX = _f(13.0)
_C_PHI = _f(0.3989422804014327)   # 1/√(2π), float32
_INV_C_PHI = _f(2.5066282746310002)
_NEG_HALF = _f(-0.5)
_NEG_C_PHI = -_C_PHI
_GP0 = _f(0.7978845834732056)   # g(0) = 2C
# g(u) − g(0) = u·M(u)/S(u), M = (P − P(0))/u − P(0)·(S − 1)/u: no rounding of g(0) + small.
_GM0 = _f(-0.3633802533149719)
_GM1 = _f(-0.281960666179657)
_GM2 = _f(-0.10415215790271759)
_GM3 = _f(-0.020639488473534584)
_GM4 = _f(-0.001899797935038805)
_GS1 = _f(1.0759196281433105)
_GS2 = _f(0.5567283630371094)
_GS3 = _f(0.16667547821998596)
_GS4 = _f(0.02885247766971588)
_GS5 = _f(0.0023810435086488724)

# GELU (tanh approximation), float32: ½(1 + tanh w) = σ(2w), 2w = x(A + Bx²).  2w is formed in
# float64 and split in float32 hi + lo, because e^{2w} in the left tail has the absolute error of
# 2w as relative error (|2w| reaches 87).  Beyond |x| = 10 (2w = ±87.3) the result is 0 or x.
_GT_A_64 = 2.0 * 0.7978845608028654
_GT_B_64 = 2.0 * 0.7978845608028654 * 0.044715
_GT_X_MAX = _f(10.0)
_GT_2K0 = _f(2.0 * 0.7978845608028654)
_GT_2K0_3K1 = _f(2.0 * 0.7978845608028654 * 3.0 * 0.044715)

# float64 constants (the float64 kernels call libm).
_INV_SQRT2_64 = 0.7071067811865476
_INV_SQRT_2PI_64 = 0.3989422804014327
_GELU_K0_64 = 0.7978845608028654
_GELU_K1_64 = 0.044715
_GELU_3K1_64 = 3.0 * 0.044715
_EXT_LO = -87.0  # _exp_ext: e^-87 = 1.6e-38, just above FLT_MIN
# Beyond these |x| the derivative's x*pdf(x) term is exactly 0 in both
# dtypes; clamping avoids inf*0 = NaN for |x| -> inf.
_PHI_CLAMP_64 = 40.0
_GELU_TANH_CLAMP_64 = 1.0e4


# ---------------------------------------------------------------------------
# float32 scalar helpers (inlined into the loops, which vectorise).
# ---------------------------------------------------------------------------
@_njit_inline
def _exp_f32(x):
    """e^x for float32, ~1 ulp, branch-free; exact 0 / inf saturation, NaN kept (softmax family).

    2**n is built as two exponent-field multiplies (2**(n>>1) * 2**(n-(n>>1)))
    so subnormal results and the overflow to inf round correctly.
    """
    xc = x if x > _EXP_LO else _EXP_LO  # NaN -> LO here, restored below
    xc = xc if xc < _EXP_HI else _EXP_HI
    n = np.floor(xc * _LOG2E + _HALF)
    r = xc - n * _LN2_C1
    r = r - n * _LN2_C2
    p = ((((_EP0 * r + _EP1) * r + _EP2) * r + _EP3) * r + _EP4) * r + _EP5
    p = p * (r * r) + r + _ONE
    ni = np.int32(n)
    n1 = ni >> _I1
    n2 = ni - n1
    s1 = np.int32((n1 + _I127) << _I23).view(np.float32)
    s2 = np.int32((n2 + _I127) << _I23).view(np.float32)
    y = (p * s1) * s2
    return y if x == x else x


@_njit_inline
def _expm1_poly(r):
    """e^r − 1 for |r| <= ~0.36 (relative error 1.3e-8)."""
    r2 = r * r
    q = _fma(r2, _fma(r2, _EM4, _fma(r, _EM3, _EM2)), _fma(r, _EM1, _EM0))
    return _fma(r2, q, r)


@_njit_inline
def _exp_parts(a):
    """(s, p) with e^a = s·(1 + p), s a power of two, for a in [−87.33, 88] (NaN gives NaN p).
    From a = −88 down, n = −127 and s comes out as +0.0."""
    t = _fma(a, _LOG2E, _ROUND_MAGIC)
    n = t - _ROUND_MAGIC
    r = _fma(n, _NEG_LN2_C2, _fma(n, _NEG_LN2_C1, a))
    s = np.int32((np.float32(t).view(np.int32) + _I127) << _I23).view(np.float32)
    return s, _expm1_poly(r)


@_njit_inline
def _exp_parts2(a_hi, a_lo):
    """_exp_parts of a_hi + a_lo, with |a_lo| small; a_hi − n·ln2 is exact, so a_lo keeps its bits."""
    t = _fma(a_hi + a_lo, _LOG2E, _ROUND_MAGIC)
    n = t - _ROUND_MAGIC
    r = _fma(n, _NEG_LN2_C2, _fma(n, _NEG_LN2_C1, a_hi)) + a_lo
    s = np.int32((np.float32(t).view(np.int32) + _I127) << _I23).view(np.float32)
    return s, _expm1_poly(r)


# The selects below are written `LIMIT if v > LIMIT else v` (and the like) so that a NaN takes the
# `else` side and propagates through the arithmetic: no separate NaN test per element.
@_njit_inline
def _sigmoid_f32(x):
    """σ(x) = 1/(1+e^-|x|) for x >= 0, e^-|x|/(1+e^-|x|) for x < 0 (no cancellation)."""
    # Clamped at −88, e^-|x| comes out as 0 by itself: n = −127 makes the scale 2^n = +0.0.
    a = -abs(x)
    s, p = _exp_parts(_EXP_ZERO if a < _EXP_ZERO else a)
    e = _fma(s, p, s)
    num = e if np.signbit(x) else _ONE  # a blend on the sign bit, no comparison
    return num / (_ONE + e)


@_njit_inline
def _tanh_f32(x):
    """tanh(x) for float32: odd polynomial near 0, 1 − 2/(e^{2|x|}+1) elsewhere."""
    a = abs(x)
    x2 = x * x
    p = _fma(x2, _fma(x2, _fma(x2, _fma(x2, _fma(x2, _TP5, _TP4), _TP3), _TP2), _TP1), _TP0)
    small = _fma(x, x2 * p, x)
    ac = _TANH_SAT if a > _TANH_SAT else a
    s, q = _exp_parts(ac + ac)
    big = math.copysign(_ONE - _TWO / _fma(s, q, s + _ONE), x)
    return small if a < _TANH_SPLIT else big


@_njit_inline
def _gelu_erf_f32(x):
    """(GELU(x), GELU'(x)) = (x·Φ(x), Φ(x) + x·φ(x)) for float32 x, Φ the normal CDF."""
    u = abs(x)
    u = _GELU_U_MAX if u > _GELU_U_MAX else u
    # e^{−u²/2} = s·(1 + p), from u² = uu + uu_err exactly.
    uu = u * u
    s, p = _exp_parts2(_NEG_HALF * uu, _NEG_HALF * _fma(u, u, -uu))
    # Q(u) = C/(u + g) = qh + ql, with u + g = u + g(0) + (g − g(0)) = dh + dl (two-sums).
    gm = _fma(u, _fma(u, _fma(u, _fma(u, _GM4, _GM3), _GM2), _GM1), _GM0)
    gs = _fma(u, _fma(u, _fma(u, _fma(u, _fma(u, _GS5, _GS4), _GS3), _GS2), _GS1), _ONE)
    v = (u * gm) / gs
    a = u + _GP0
    bb = a - u
    e1 = (u - (a - bb)) + (_GP0 - bb)
    dh = a + v
    dl = e1 + (v - (dh - a))  # |a| >= |v|
    qh = _C_PHI / dh
    ql = _fma(-qh, dl, _fma(-qh, dh, _C_PHI)) * (qh * _INV_C_PHI)  # C − qh·dh is exact
    # x·Φ(−u) = x·s·(qh + ql)·(1 + p), rounded once at the end (x·s is exact).
    xs = x * s
    w = _fma(xs, qh, xs * _fma(qh, p, ql))
    y = w if x <= _ZERO else x - w
    y = _ZERO if x < -_GELU_U_MAX else y
    y = x if x > _GELU_U_MAX else y
    # GELU' = Φ(x) + x·φ(x) = ±e^{−u²/2}·(Q(u) − u·C) (+1 for x > 0).
    hs = (_fma(u, _NEG_C_PHI, qh) + ql) * s
    he = _fma(hs, p, hs)
    d = he if x < _ZERO else _ONE - he
    d = _ZERO if x < -_GELU_U_MAX else d
    d = _ONE if x > _GELU_U_MAX else d
    return y, d


@_njit_inline
def _gelu_tanh_f32(x):
    """(GELU(x), GELU'(x)) for the tanh approximation, float32 x: x·σ(2w) and
    σ(2w) + 2x·w'(x)·σ(2w)(1 − σ(2w)), w'(x) = √(2/π)(1 + 3·0.044715x²)."""
    xc = _GT_X_MAX if x > _GT_X_MAX else x
    xc = -_GT_X_MAX if xc < -_GT_X_MAX else xc
    x64 = np.float64(xc)
    v = x64 * (_GT_A_64 + _GT_B_64 * (x64 * x64))
    vh = np.float32(v)
    vl = np.float32(v - np.float64(vh))
    # e = e^{−|2w|} = s·(1 + p); σ(2w) = num/(1 + e), 1 − σ(2w) = other/(1 + e).  x·num and 1 + e
    # are each rounded once (x·s and 1 + s are exact).
    s, p = _exp_parts2(-abs(vh), vl if vh < _ZERO else -vl)
    e = _fma(s, p, s)
    num = e if vh < _ZERO else _ONE
    other = _ONE if vh < _ZERO else e
    den = _fma(s, p, s + _ONE)
    xs = xc * s
    y = (_fma(xs, p, xs) if vh < _ZERO else xc) / den
    y = _ZERO if x < -_GT_X_MAX else y
    y = x if x > _GT_X_MAX else y
    inv = _ONE / den
    sig = num * inv
    c = xc * _fma(xc * xc, _GT_2K0_3K1, _GT_2K0)
    d = _fma(sig, c * (other * inv), sig)
    d = _ZERO if x < -_GT_X_MAX else d
    d = _ONE if x > _GT_X_MAX else d
    return y, d


@_njit_inline
def _exp_ext(a):
    """e^a for a float64 argument using the float32 exp, float64 result (softmax family).

    a = hi + lo with hi = float32(a): e^a = e^hi·(1+lo) to ~1 ulp of float32,
    so large arguments computed in float64 (x − max) lose nothing to
    rounding the argument to float32 first (that alone costs |a|·2^-24).
    Results below ~1.6e-38 are flushed to 0; NaN propagates.
    """
    ac = a if a > _EXT_LO else _EXT_LO
    hi = np.float32(ac)
    lo = ac - np.float64(hi)
    y = np.float64(_exp_f32(hi)) * (1.0 + lo)
    # Flush below float32's normal range instead of producing subnormals,
    # whose arithmetic is microcode-slow (gelu_erf was 1.8x slower on wide data).
    y = y if a >= _EXT_LO else 0.0
    return y if a == a else a


@_njit_inline
def _sigmoid_f64(x):
    e = math.exp(-abs(x))
    num = 1.0 if x >= 0.0 else e
    return num / (1.0 + e)


@_njit_inline
def _gelu_erf_f64(x):
    # Φ(x) = erfc(-x/√2)/2 stays accurate in the left tail, where 1 + erf(x/√2) would cancel.
    cdf = 0.5 * math.erfc(-x * _INV_SQRT2_64)
    y = x * cdf if cdf != 0.0 else 0.0  # -inf * 0 -> 0
    xc = min(max(x, -_PHI_CLAMP_64), _PHI_CLAMP_64)
    d = cdf + xc * (_INV_SQRT_2PI_64 * math.exp(-0.5 * xc * xc))
    return y, d


@_njit_inline
def _gelu_tanh_f64(x):
    # ½(1+tanh w) = σ(2w): the sigmoid form has no cancellation for x < 0.
    w = _GELU_K0_64 * (x + _GELU_K1_64 * x * x * x)
    s = _sigmoid_f64(2.0 * w)
    y = x * s if s != 0.0 else 0.0
    xc = min(max(x, -_GELU_TANH_CLAMP_64), _GELU_TANH_CLAMP_64)
    dw = _GELU_K0_64 * (1.0 + _GELU_3K1_64 * xc * xc)
    d = s + 2.0 * xc * dw * (s * (1.0 - s))
    return y, d


# ---------------------------------------------------------------------------
# Elementwise kernels on 1-D contiguous views: kernel(inputs..., outputs...).
# Each element is computed independently of its neighbours, so any split of the
# range into chunks gives bit-identical results (see _run_elementwise).
# ---------------------------------------------------------------------------
@_njit
def _sigmoid_fwd_f32(x, out):
    for i in range(x.size):
        out[i] = _sigmoid_f32(x[i])


@_njit
def _sigmoid_fwd_f64(x, out):
    for i in range(x.size):
        out[i] = _sigmoid_f64(x[i])


@_njit
def _sigmoid_bwd(g, y, out):
    for i in range(g.size):
        yi = y[i]
        out[i] = g[i] * (yi * (_ONE - yi))


@_njit
def _tanh_fwd_f32(x, out):
    for i in range(x.size):
        out[i] = _tanh_f32(x[i])


@_njit
def _tanh_fwd_f64(x, out):
    for i in range(x.size):
        out[i] = math.tanh(x[i])


@_njit
def _tanh_bwd(g, y, out):
    for i in range(g.size):
        yi = y[i]
        # (1-y)(1+y) instead of 1-y*y: no cancellation when |y| -> 1.
        out[i] = g[i] * ((_ONE - yi) * (_ONE + yi))


@_njit
def _relu_fwd(x, out):
    for i in range(x.size):
        xi = x[i]
        out[i] = _ZERO if xi <= _ZERO else xi  # NaN propagates like torch.relu


@_njit
def _relu_bwd(g, y, out):
    for i in range(g.size):
        out[i] = g[i] if y[i] > _ZERO else _ZERO


@_njit
def _bias_relu_inplace(out, bias):
    # out: (rows, n) C-contiguous, bias: (n,); one pass over the product right after BLAS wrote it.
    rows, n = out.shape
    for i in range(rows):
        row = out[i]
        for j in range(n):
            v = row[j] + bias[j]
            row[j] = _ZERO if v <= _ZERO else v  # NaN propagates like torch.relu


@_njit
def _mul(g, d, out):
    for i in range(g.size):
        out[i] = g[i] * d[i]


# GELU: forward alone, forward with the derivative (saved for backward, so the backward is one
# multiplication), and grad·GELU'(x) recomputed from x.  The float32 ones compute y and GELU' from
# the same intermediate values; LLVM drops what a kernel does not store.
@_njit
def _gelu_erf_fwd_f32(x, out):
    for i in range(x.size):
        out[i] = _gelu_erf_f32(x[i])[0]


@_njit
def _gelu_erf_fwd_grad_f32(x, out, dout):
    for i in range(x.size):
        y, d = _gelu_erf_f32(x[i])
        out[i] = y
        dout[i] = d


@_njit
def _gelu_erf_bwd_f32(g, x, out):
    for i in range(x.size):
        out[i] = g[i] * _gelu_erf_f32(x[i])[1]


@_njit
def _gelu_erf_fwd_f64(x, out):
    for i in range(x.size):
        out[i] = _gelu_erf_f64(x[i])[0]


@_njit
def _gelu_erf_fwd_grad_f64(x, out, dout):
    for i in range(x.size):
        y, d = _gelu_erf_f64(x[i])
        out[i] = y
        dout[i] = d


@_njit
def _gelu_erf_bwd_f64(g, x, out):
    for i in range(x.size):
        out[i] = g[i] * _gelu_erf_f64(x[i])[1]


@_njit
def _gelu_tanh_fwd_f32(x, out):
    for i in range(x.size):
        out[i] = _gelu_tanh_f32(x[i])[0]


@_njit
def _gelu_tanh_fwd_grad_f32(x, out, dout):
    for i in range(x.size):
        y, d = _gelu_tanh_f32(x[i])
        out[i] = y
        dout[i] = d


@_njit
def _gelu_tanh_bwd_f32(g, x, out):
    for i in range(x.size):
        out[i] = g[i] * _gelu_tanh_f32(x[i])[1]


@_njit
def _gelu_tanh_fwd_f64(x, out):
    for i in range(x.size):
        out[i] = _gelu_tanh_f64(x[i])[0]


@_njit
def _gelu_tanh_fwd_grad_f64(x, out, dout):
    for i in range(x.size):
        y, d = _gelu_tanh_f64(x[i])
        out[i] = y
        dout[i] = d


@_njit
def _gelu_tanh_bwd_f64(g, x, out):
    for i in range(x.size):
        out[i] = g[i] * _gelu_tanh_f64(x[i])[1]


# ---------------------------------------------------------------------------
# Row-wise kernels on 2-D contiguous (rows, n) views.  Reductions accumulate in
# float64 (accuracy for float32 rows; the loops are latency-bound either way),
# while the exp / scale passes stay separate loops so they vectorise.  float32
# kernels form x − max in float64 and use _exp_ext: rounding x − max to float32
# would cost |x − max|·2^-24 relative error in e^{x−max}.
# ---------------------------------------------------------------------------
@_njit_inline
def _row_max(row):
    m = -np.inf
    for j in range(row.shape[0]):
        v = row[j]
        if v > m:
            m = v
    return m


@_njit
def _softmax_f32(x, out):
    n = x.shape[1]
    for r in range(x.shape[0]):
        xr = x[r]
        orow = out[r]
        m = _row_max(xr)
        for j in range(n):
            orow[j] = _exp_ext(xr[j] - m)
        _scale_to_unit_sum_f32(orow)


@_njit_inline
def _scale_to_unit_sum_f32(row):
    # row /= Σ row (summed in float64), as one float32 multiply per element
    s = 0.0
    for j in range(row.shape[0]):
        s += row[j]
    inv = np.float32(1.0 / s)
    for j in range(row.shape[0]):
        row[j] = row[j] * inv


@_njit
def _softmax_f64(x, out):
    n = x.shape[1]
    for r in range(x.shape[0]):
        xr = x[r]
        orow = out[r]
        m = _row_max(xr)
        s = 0.0
        for j in range(n):
            e = math.exp(xr[j] - m)
            orow[j] = e
            s += e
        inv = 1.0 / s
        for j in range(n):
            orow[j] = orow[j] * inv


@_njit
def _log_softmax_f32(x, out):
    n = x.shape[1]
    for r in range(x.shape[0]):
        xr = x[r]
        orow = out[r]
        m = _row_max(xr)
        for j in range(n):
            orow[j] = _exp_ext(xr[j] - m)  # scratch: out is overwritten below
        s = 0.0
        for j in range(n):
            s += orow[j]
        lse = math.log(s)
        for j in range(n):
            orow[j] = (xr[j] - m) - lse


@_njit
def _log_softmax_f64(x, out):
    n = x.shape[1]
    for r in range(x.shape[0]):
        xr = x[r]
        orow = out[r]
        m = _row_max(xr)
        s = 0.0
        for j in range(n):
            s += math.exp(xr[j] - m)
        lse = math.log(s)
        for j in range(n):
            orow[j] = (xr[j] - m) - lse


# Short float32 rows (10 classes) leave the per-row loops above too short to vectorise: the blocked
# kernels below shift a block of rows into one buffer and take e^{x−max} over it in a single loop, then
# finish each row. The same operations in the same order as the per-row kernels, so bit-identical;
# measured (float32, 128 rows): 10 columns 8.3 -> 4.6 us, 64: 30 -> 24 us, 256: 108 -> 106 us, 1000:
# 381 -> 409 us, hence _NARROW_ROWS.
_NARROW_ROWS = 256
_ROW_BLOCK_ELEMENTS = 1024


@_njit_inline
def _shifted_rows(x, first, stop, shifted):
    # x[r] − max(x[r]) in float64 for rows first..stop-1, one row after another; returns the count.
    n = x.shape[1]
    k = 0
    for r in range(first, stop):
        xr = x[r]
        m = _row_max(xr)
        for j in range(n):
            shifted[k + j] = xr[j] - m
        k += n
    return k


@_njit
def _softmax_narrow_f32(x, out):
    rows, n = x.shape
    block = max(1, _ROW_BLOCK_ELEMENTS // n)
    shifted = np.empty(block * n)
    flat = out.reshape(-1)
    for first in range(0, rows, block):
        stop = min(first + block, rows)
        count = _shifted_rows(x, first, stop, shifted)
        base = first * n
        for i in range(count):
            flat[base + i] = _exp_ext(shifted[i])
        for r in range(first, stop):
            _scale_to_unit_sum_f32(out[r])


@_njit
def _log_softmax_narrow_f32(x, out):
    rows, n = x.shape
    block = max(1, _ROW_BLOCK_ELEMENTS // n)
    shifted = np.empty(block * n)
    e = np.empty(block * n, np.float32)
    for first in range(0, rows, block):
        stop = min(first + block, rows)
        count = _shifted_rows(x, first, stop, shifted)
        for i in range(count):
            e[i] = _exp_ext(shifted[i])
        k = 0
        for r in range(first, stop):
            s = 0.0
            for j in range(n):
                s += e[k + j]
            lse = math.log(s)
            orow = out[r]
            for j in range(n):
                orow[j] = shifted[k + j] - lse
            k += n


@_njit
def _logsumexp_f32(x, out):
    n = x.shape[1]
    for r in range(x.shape[0]):
        xr = x[r]
        m = _row_max(xr)
        if math.isinf(m):  # all -inf (or empty) -> -inf; any +inf -> +inf
            out[r] = m
            continue
        s = 0.0
        for j in range(n):
            s += _exp_ext(xr[j] - m)
        out[r] = m + math.log(s)


@_njit
def _logsumexp_f64(x, out):
    n = x.shape[1]
    for r in range(x.shape[0]):
        xr = x[r]
        m = _row_max(xr)
        if math.isinf(m):
            out[r] = m
            continue
        s = 0.0
        for j in range(n):
            s += math.exp(xr[j] - m)
        out[r] = m + math.log(s)


@_njit
def _softmax_bwd_f32(g, y, out):
    n = g.shape[1]
    for r in range(g.shape[0]):
        gr = g[r]
        yr = y[r]
        orow = out[r]
        d = 0.0
        for j in range(n):
            d += gr[j] * yr[j]
        d32 = np.float32(d)  # keep the second loop in float32 (full SIMD width)
        for j in range(n):
            orow[j] = yr[j] * (gr[j] - d32)


@_njit
def _softmax_bwd_f64(g, y, out):
    n = g.shape[1]
    for r in range(g.shape[0]):
        gr = g[r]
        yr = y[r]
        orow = out[r]
        d = 0.0
        for j in range(n):
            d += gr[j] * yr[j]
        for j in range(n):
            orow[j] = yr[j] * (gr[j] - d)


@_njit
def _log_softmax_bwd_f32(g, y, out):
    n = g.shape[1]
    for r in range(g.shape[0]):
        gr = g[r]
        yr = y[r]
        orow = out[r]
        s = 0.0
        for j in range(n):
            s += gr[j]
        for j in range(n):
            orow[j] = gr[j] - _exp_ext(np.float64(yr[j])) * s


@_njit
def _log_softmax_bwd_f64(g, y, out):
    n = g.shape[1]
    for r in range(g.shape[0]):
        gr = g[r]
        yr = y[r]
        orow = out[r]
        s = 0.0
        for j in range(n):
            s += gr[j]
        for j in range(n):
            orow[j] = gr[j] - math.exp(yr[j]) * s


# ---------------------------------------------------------------------------
# Matmul kernel: i-p-j order so the inner loop streams contiguous rows of b and
# out and vectorises; operands must be C-contiguous.
# ---------------------------------------------------------------------------
@_njit
def _matmul_kernel(a, b, out):
    m, k = a.shape
    n = b.shape[1]
    for i in range(m):
        orow = out[i]
        for j in range(n):
            orow[j] = 0
        for p in range(k):
            aip = a[i, p]
            brow = b[p]
            for j in range(n):
                orow[j] += aip * brow[j]


# ---------------------------------------------------------------------------
# Python wrappers.
# ---------------------------------------------------------------------------
def _check_float(x, name="x"):
    x = np.asarray(x)
    if x.dtype != _F32 and x.dtype != _F64:
        raise TypeError(f"{name}: expected float32 or float64 array, got {x.dtype}")
    return x


def _c(x):
    # np.ascontiguousarray would turn a 0-d array into shape (1,).
    return x if x.flags.c_contiguous else np.array(x, order="C", copy=True)


# ---------------------------------------------------------------------------
# Two threads for large elementwise calls.  The machine has 2 cores; the kernels
# are nogil, so a large call is cut into chunks that the calling thread and one
# helper thread (a daemon started on first use) claim from a shared counter.
# The caller never waits for a helper that has not started: it runs whatever is
# left itself, then waits only for a chunk the helper is in the middle of.  When
# the helper barely ran (its core busy: OpenBLAS threads keep spinning ~100 ms
# after a BLAS call, OpenMP threads of torch, another process), calls stay
# serial for a back-off time that doubles from 2 ms to 128 ms while the helper
# keeps finding no core, and resets once it helps.  A failed try costs ~40 us.
# Thresholds: see _PARALLEL_MIN_* below.
# NUMBAGRAD_KERNEL_THREADS=1 keeps every call serial.
# ---------------------------------------------------------------------------
_THREADS = os.environ.get("NUMBAGRAD_KERNEL_THREADS", "2") != "1"
_BACKOFF_MIN_S = 0.002
_BACKOFF_MAX_S = 0.128
_CHUNK_ALIGN = 4096  # elements: chunks start on the same vector alignment as the whole array
_CHUNKS_PER_CALL = 8  # the faster thread takes more of them (load balance)
_MIN_CHUNK = 32768
_helper_jobs = None
_helper_lock = threading.Lock()
_helper_off_until = 0.0
_helper_backoff = _BACKOFF_MIN_S


def _helper_main(jobs):
    while True:
        jobs.get().help()


def _helper():
    global _helper_jobs
    if _helper_jobs is None:
        with _helper_lock:
            if _helper_jobs is None:
                jobs = queue.SimpleQueue()
                threading.Thread(target=_helper_main, args=(jobs,), name="numbagrad-kernel-helper",
                                 daemon=True).start()
                _helper_jobs = jobs
    return _helper_jobs


def _forget_helper():
    # A forked child has no helper thread; it starts its own when needed.
    global _helper_jobs, _helper_lock
    _helper_jobs = None
    _helper_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_helper)


class _SplitCall:
    """One elementwise call cut into chunks; ``run_chunks`` claims and runs chunks until none is left."""

    __slots__ = ("kernel", "arrays", "size", "chunk", "claim", "busy", "helped", "error")

    def __init__(self, kernel, arrays, size, chunk):
        self.kernel = kernel
        self.arrays = arrays
        self.size = size
        self.chunk = chunk
        self.claim = itertools.count().__next__  # atomic under the GIL
        self.busy = threading.Lock()  # held by the helper while it works on this call
        self.helped = 0
        self.error = None

    def run_chunks(self):
        kernel, arrays, size, chunk = self.kernel, self.arrays, self.size, self.chunk
        done = 0
        while True:
            lo = self.claim() * chunk
            if lo >= size:
                return done
            hi = lo + chunk
            kernel(*[a[lo:hi] for a in arrays])
            done += 1

    def help(self):
        with self.busy:
            try:
                self.helped = self.run_chunks()
            except BaseException as exc:  # noqa: BLE001 - re-raised in the calling thread
                self.error = exc


def _run_elementwise(kernel, arrays, parallel_min):
    """``kernel(*arrays)`` on equal-length 1-D contiguous arrays (inputs then outputs), split over two
    threads when there are at least ``parallel_min`` elements."""
    global _helper_off_until, _helper_backoff
    size = arrays[0].size
    if size < parallel_min or not _THREADS or time.perf_counter() < _helper_off_until:
        kernel(*arrays)
        return
    chunk = max(_MIN_CHUNK, -(-size // _CHUNKS_PER_CALL))
    chunk = -(-chunk // _CHUNK_ALIGN) * _CHUNK_ALIGN
    call = _SplitCall(kernel, arrays, size, chunk)
    _helper().put(call)
    try:
        mine = call.run_chunks()
    finally:
        with call.busy:  # wait for the chunk the helper is running, if any
            pass
    if call.error is not None:
        raise call.error
    if 4 * min(mine, call.helped) < mine + call.helped:  # one thread did (nearly) everything
        _helper_off_until = time.perf_counter() + _helper_backoff
        _helper_backoff = min(2 * _helper_backoff, _BACKOFF_MAX_S)
    else:
        _helper_backoff = _BACKOFF_MIN_S


# Sizes from which a call is split over two threads, measured with
# `benchmarks/bench_kernels.py --threads` (float32, median per call, serial -> 2 threads):
#   sigmoid fwd 3e4: 19 -> 27 us, 6e4: 36 -> 42 us, 1e5: 58 -> 49 us, 2e5: 111 -> 85 us, 1e6: 516 -> 284 us;
#   tanh fwd 6e4: 53 -> 47 us;  GELU fwd+derivative 3e4: 54 -> 62 us, 6e4: 100 -> 66 us;
#   relu fwd 2e5: 26 -> 63 us, 5e5: 60 -> 66 us, 1e6: 115 -> 93 us;  sigmoid bwd 5e5: 82 -> 78 us,
#   1e6: 161 -> 116 us.  Handing chunks to the helper costs ~30 us (its wake-up), so the thresholds
#   sit above the break-even points (~7e4 and ~6e5), leaving margin for a machine shared with other work.
#   Right after a 512x784 @ 784x256 BLAS product a sigmoid over 1e5 / 2e5 / 1e6 took 56 / 110 /
#   548 us serial and 58 / 101 / 339 us with these settings (the helper mostly finds no free core,
#   and the back-off keeps the probing rare).
_PARALLEL_MIN_MATH = 1 << 17         # transcendental kernels (sigmoid, tanh, GELU)
_PARALLEL_MIN_MEMORY = 3 << 18       # memory-bound kernels (relu, backward from saved values)


def _unary(x, k32, k64, parallel_min, outputs=1):
    """Outputs (``outputs`` arrays shaped like x) of an elementwise kernel of x."""
    x = _c(_check_float(x))
    outs = [buffer_pool.empty_like(x) for _ in range(outputs)]
    # ravel: a view of these C-contiguous arrays, and half the cost of reshape(-1) (52 against 118 ns)
    _run_elementwise(k32 if x.dtype == _F32 else k64, (x.ravel(), *[o.ravel() for o in outs]),
                     parallel_min)
    return outs[0] if outputs == 1 else tuple(outs)


def _binary(g, y, k32, k64, parallel_min, yname="out"):
    g = _check_float(g, "grad")
    y = _check_float(y, yname)
    if g.dtype != y.dtype:
        raise TypeError(f"grad dtype {g.dtype} != {yname} dtype {y.dtype}")
    if g.shape != y.shape:
        raise ValueError(f"grad shape {g.shape} != {yname} shape {y.shape}")
    g = _c(g)
    y = _c(y)
    out = buffer_pool.empty_like(y)
    _run_elementwise(k32 if y.dtype == _F32 else k64, (g.ravel(), y.ravel(), out.ravel()),
                     parallel_min)
    return out


def sigmoid_forward(x):
    """σ(x) = 1/(1+e^{−x}); for x<0 computed as e^x/(1+e^x) (full relative accuracy)."""
    return _unary(x, _sigmoid_fwd_f32, _sigmoid_fwd_f64, _PARALLEL_MIN_MATH)


def sigmoid_backward(grad, out):
    """grad·σ'(x) with σ'(x) = σ(x)(1−σ(x)), from the saved output in one pass."""
    return _binary(grad, out, _sigmoid_bwd, _sigmoid_bwd, _PARALLEL_MIN_MEMORY)


def tanh_forward(x):
    """tanh(x)."""
    return _unary(x, _tanh_fwd_f32, _tanh_fwd_f64, _PARALLEL_MIN_MATH)


def tanh_backward(grad, out):
    """grad·(1 − tanh²(x)) from the saved output, evaluated as (1−y)(1+y)."""
    return _binary(grad, out, _tanh_bwd, _tanh_bwd, _PARALLEL_MIN_MEMORY)


def relu_forward(x):
    """max(x, 0) (NaN propagates)."""
    return _unary(x, _relu_fwd, _relu_fwd, _PARALLEL_MIN_MEMORY)


def relu_backward(grad, out):
    """grad where out > 0 else 0 (subgradient 0 at x = 0)."""
    return _binary(grad, out, _relu_bwd, _relu_bwd, _PARALLEL_MIN_MEMORY)


def bias_relu_(out, bias=None):
    """``out = max(out + bias, 0)`` in place (``bias`` over the last axis, or None), for the fresh
    C-contiguous result of a linear layer's product: adding the bias and the activation cost one pass."""
    if bias is None:
        flat = out.reshape(-1)
        _run_elementwise(_relu_fwd, (flat, flat), _PARALLEL_MIN_MEMORY)
    else:
        _bias_relu_inplace(out.reshape(-1, out.shape[-1]), bias)
    return out


_GELU_KERNELS = {
    "none": (_gelu_erf_fwd_f32, _gelu_erf_fwd_f64, _gelu_erf_fwd_grad_f32, _gelu_erf_fwd_grad_f64,
             _gelu_erf_bwd_f32, _gelu_erf_bwd_f64),
    "tanh": (_gelu_tanh_fwd_f32, _gelu_tanh_fwd_f64, _gelu_tanh_fwd_grad_f32, _gelu_tanh_fwd_grad_f64,
             _gelu_tanh_bwd_f32, _gelu_tanh_bwd_f64),
}


def _gelu_kernels(approximate):
    try:
        return _GELU_KERNELS[approximate]
    except (KeyError, TypeError):
        raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}") from None


def gelu_forward(x, approximate="none", with_derivative=False):
    """GELU as in PyTorch; with ``with_derivative``, the pair (GELU(x), GELU'(x)) from one pass.

    "none": x·Φ(x), Φ(x) = ½(1 + erf(x/√2)) = ½ erfc(−x/√2) (relative accuracy kept for x < 0).
    "tanh": ½x(1 + tanh w), w = √(2/π)(x + 0.044715x³), evaluated as x·σ(2w).
    """
    f32, f64, fg32, fg64, _, _ = _gelu_kernels(approximate)
    if with_derivative:
        return _unary(x, fg32, fg64, _PARALLEL_MIN_MATH, outputs=2)
    return _unary(x, f32, f64, _PARALLEL_MIN_MATH)


def gelu_backward(grad, x, approximate="none"):
    """grad·GELU'(x), recomputed from the INPUT x.

    "none": Φ(x) + x·φ(x), φ(x) = e^{−x²/2}/√(2π).
    "tanh": σ(2w) + 2x·w'(x)·σ(2w)(1−σ(2w)), w'(x) = √(2/π)(1 + 3·0.044715x²).
    """
    _, _, _, _, b32, b64 = _gelu_kernels(approximate)
    return _binary(grad, x, b32, b64, _PARALLEL_MIN_MATH, yname="x")


def gelu_backward_from_derivative(grad, derivative):
    """grad·GELU'(x) from the derivative saved by ``gelu_forward(..., with_derivative=True)``."""
    return _binary(grad, derivative, _mul, _mul, _PARALLEL_MIN_MEMORY, yname="derivative")


def _rows(x):
    """(C-contiguous x, its (rows, n) view) for last-axis kernels."""
    x = _c(_check_float(x))
    if x.ndim == 0:
        raise ValueError("last-axis reduction needs at least 1 dimension")
    return x, x.reshape(-1, x.shape[-1]) if x.size else None


def _softmax_kernel(x2):
    if x2.dtype != _F32:
        return _softmax_f64
    return _softmax_narrow_f32 if x2.shape[1] < _NARROW_ROWS else _softmax_f32


def _log_softmax_kernel(x2):
    if x2.dtype != _F32:
        return _log_softmax_f64
    return _log_softmax_narrow_f32 if x2.shape[1] < _NARROW_ROWS else _log_softmax_f32


def softmax_forward(x):
    """softmax over the last axis: e^{x−max} / Σ e^{x−max}."""
    x, x2 = _rows(x)
    out = np.empty_like(x)
    if x2 is not None:
        _softmax_kernel(x2)(x2, out.reshape(x2.shape))
    return out


def log_softmax_forward(x):
    """log-softmax over the last axis: (x − max) − log Σ e^{x−max}."""
    x, x2 = _rows(x)
    out = np.empty_like(x)
    if x2 is not None:
        _log_softmax_kernel(x2)(x2, out.reshape(x2.shape))
    return out


@_njit
def _cross_entropy_rows(logp, target, weight, has_weight, ignore_index, losses, row_weights):
    # losses[i] = -w_i·logp[i, t_i] with w_i = weight[t_i] (or 1), 0 where t_i = ignore_index.
    # Returns (the first row whose target is out of range, or -1; Σ losses; Σ w) in float64.
    loss_sum = 0.0
    weight_sum = 0.0
    classes = logp.shape[1]
    for i in range(logp.shape[0]):
        t = target[i]
        if t == ignore_index:
            losses[i] = 0.0
            row_weights[i] = 0.0
            continue
        if t < 0 or t >= classes:
            return i, loss_sum, weight_sum
        w = weight[t] if has_weight else 1.0
        loss = -logp[i, t] * w
        losses[i] = loss
        row_weights[i] = w
        loss_sum += loss
        weight_sum += w
    return -1, loss_sum, weight_sum


@_njit
def _cross_entropy_grad(logp, target, row_weights, coef, g, g_stride, out):
    # out[i, j] = (e^logp[i, j] − [j = t_i])·w_i·coef·g_i  (g one value, g_stride 0, or one per row).
    classes = logp.shape[1]
    for i in range(logp.shape[0]):
        c = row_weights[i] * coef * g[i * g_stride]
        t = target[i]
        for j in range(classes):
            p = math.exp(logp[i, j])
            out[i, j] = ((p - 1.0) if j == t else p) * c


def cross_entropy_rows(logp, target, weight, ignore_index):
    """Per-row losses −wᵢ·logp[i, tᵢ] and weights wᵢ (0 where tᵢ = ignore_index) of (N, C) log-probabilities
    and int64 targets, with their sums; raises IndexError naming an out-of-range target."""
    losses = np.empty(logp.shape[0], logp.dtype)
    row_weights = np.empty(logp.shape[0], logp.dtype)
    has_weight = weight is not None
    bad, loss_sum, weight_sum = _cross_entropy_rows(logp, target, weight if has_weight else losses, has_weight,
                                                    ignore_index, losses, row_weights)
    if bad >= 0:
        classes = logp.shape[1]
        raise IndexError(f"cross_entropy: target {int(target[bad])} is out of bounds for {classes} classes "
                         f"(expected values in [0, {classes - 1}] or ignore_index={ignore_index})")
    return losses, row_weights, loss_sum, weight_sum


@_njit
def _cross_entropy_grad_f32(logp, target, row_weights, coef, g, g_stride, out):
    # _cross_entropy_grad with e^logp taken over the whole block first, in one loop that vectorises
    # (math.exp is a scalar libm call per element); within 2 ulp of it. (128, 10) 4.3 -> 2.8 us,
    # (512, 10) 16.1 -> 9.8 us, (128, 1000) 312 -> 88 us.
    flat_out = out.reshape(-1)
    flat_logp = logp.reshape(-1)
    for k in range(flat_out.size):
        flat_out[k] = _exp_f32(flat_logp[k])
    classes = logp.shape[1]
    for i in range(logp.shape[0]):
        c = row_weights[i] * coef * g[i * g_stride]
        t = target[i]
        row = out[i]
        counted = 0 <= t < classes  # not an ignored row (ignore_index)
        p_t = row[t] if counted else 0.0
        for j in range(classes):
            row[j] = row[j] * c
        if counted:
            row[t] = (p_t - 1.0) * c


def cross_entropy_grad(logp, target, row_weights, coef, g):
    """(softmax − onehot(t))·wᵢ·coef·gᵢ in one pass, g a scalar array or one value per row."""
    logp = _c(logp)  # the float32 kernel walks logp and out as flat arrays
    out = np.empty_like(logp)
    g = np.ascontiguousarray(g, dtype=logp.dtype).reshape(-1)
    kernel = _cross_entropy_grad_f32 if logp.dtype == _F32 else _cross_entropy_grad
    kernel(logp, target, row_weights, coef, g, 0 if g.size == 1 else 1, out)
    return out


def logsumexp_lastdim(x):
    """log Σ_j e^{x_j} over the last axis (max-shifted); returns shape x.shape[:-1].

    An empty last axis gives −inf, like torch.logsumexp.
    """
    x, x2 = _rows(x)
    out = np.empty(x.shape[:-1], dtype=x.dtype)
    if x2 is not None:
        (_logsumexp_f32 if x.dtype == _F32 else _logsumexp_f64)(x2, out.reshape(-1))
    elif out.size:
        out.fill(-np.inf)
    return out


def _row_binary(g, y, k32, k64):
    g = _check_float(g, "grad")
    y = _check_float(y, "out")
    if g.dtype != y.dtype:
        raise TypeError(f"grad dtype {g.dtype} != out dtype {y.dtype}")
    if g.shape != y.shape:
        raise ValueError(f"grad shape {g.shape} != out shape {y.shape}")
    if y.ndim == 0:
        raise ValueError("last-axis reduction needs at least 1 dimension")
    g = _c(g)
    y = _c(y)
    out = buffer_pool.empty_like(y)
    if y.size:
        shape2 = (-1, y.shape[-1])
        (k32 if y.dtype == _F32 else k64)(g.reshape(shape2), y.reshape(shape2), out.reshape(shape2))
    return out


def softmax_backward(grad, out):
    """out·(grad − Σ_j grad_j·out_j) over the last axis (out = saved softmax)."""
    return _row_binary(grad, out, _softmax_bwd_f32, _softmax_bwd_f64)


def log_softmax_backward(grad, out):
    """grad − e^{out}·Σ_j grad_j over the last axis (out = saved log-softmax)."""
    return _row_binary(grad, out, _log_softmax_bwd_f32, _log_softmax_bwd_f64)


# Matmul dispatch, measured with benchmarks/bench_matmul.py --grid (float32,
# median per call incl. wrapper, OpenBLAS 0.3.31 via numpy 2.4, 2 cores):
#   k=1 (outer product):  m=n=16: numpy 1.6 us vs numba 2.0 us;  m=n=64: 7.25 vs
#     2.61 us (2.8x);  256: 98.9 vs 10.8 us (9.2x);  512: 388 vs 36.9 us (10.5x).
#   k=2: break-even (0.7x at 64, 0.99x at 256, 1.08x at 512).
#   k>=4: BLAS wins everywhere (0.2x-0.7x), incl. tiny shapes (1x1x1: numpy
#     1.18 us vs 1.97 us): numba's dispatch + the Python wrapper cost more
#     than numpy's small-matrix path, and OpenBLAS's packed kernels win as soon
#     as k grows (64x64x64: 8.65 vs 31.1 us; 64x784x128: ~124 vs ~450 us).
# So the kernel is used only for k == 1 products with >= 4096 outputs (e.g. the
# weight gradient x.T @ grad for batch size 1).
_MM_MIN_OUTER = 4096


def _use_numba_matmul(m, k, n):
    """True where the Numba kernel measured faster than BLAS (see comment above)."""
    return k == 1 and m * n >= _MM_MIN_OUTER


def _check_mm(a, b):
    a = _check_float(a, "a")
    b = _check_float(b, "b")
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"matmul expects 2-D arrays, got {a.ndim}-D and {b.ndim}-D")
    if a.shape[1] != b.shape[0]:
        raise ValueError(f"matmul shape mismatch: {a.shape} @ {b.shape}")
    if a.dtype != b.dtype:
        raise TypeError(f"matmul dtype mismatch: {a.dtype} @ {b.dtype}")
    return a, b


def matmul_numba(a, b):
    """a @ b always with the hand-written Numba kernel (benchmarks, tests)."""
    a, b = _check_mm(a, b)
    out = np.empty((a.shape[0], b.shape[1]), dtype=a.dtype)
    _matmul_kernel(_c(a), _c(b), out)
    return out


def matmul(a, b):
    """a @ b for 2-D float arrays of one dtype: Numba kernel where measured faster, else BLAS."""
    # Validation fast path: this sits on every linear layer's critical path.
    if not (type(a) is np.ndarray and type(b) is np.ndarray and a.ndim == 2 and b.ndim == 2
            and a.dtype == b.dtype and (a.dtype == _F32 or a.dtype == _F64)
            and a.shape[1] == b.shape[0]):
        a, b = _check_mm(a, b)
    m, k = a.shape
    n = b.shape[1]
    if _use_numba_matmul(m, k, n):
        out = np.empty((m, n), dtype=a.dtype)
        _matmul_kernel(_c(a), _c(b), out)
        return out
    return a @ b


def warm_up(dtypes=("float32",)):
    """Compile (or load from numba's disk cache) every kernel for the given dtypes."""
    for dt in dtypes:
        dt = np.dtype(dt)
        x = np.linspace(-3, 3, 12, dtype=dt).reshape(3, 4)
        g = np.ones_like(x)
        for fwd, bwd in (
            (sigmoid_forward, sigmoid_backward),
            (tanh_forward, tanh_backward),
            (relu_forward, relu_backward),
            (softmax_forward, softmax_backward),
            (log_softmax_forward, log_softmax_backward),
        ):
            bwd(g, fwd(x))
        for approx in ("none", "tanh"):
            gelu_backward(g, x, approx)
            gelu_forward(x, approx)
            gelu_backward_from_derivative(g, gelu_forward(x, approx, with_derivative=True)[1])
        logsumexp_lastdim(x)
        wide = np.zeros((1, _NARROW_ROWS), dt)  # rows long enough for the per-row float32 kernels
        softmax_forward(wide)
        log_softmax_forward(wide)
        bias_relu_(x.copy(), x[0].copy())
        targets = np.array([0, 3, -100])
        logp = log_softmax_forward(x)
        losses, row_weights, _, _ = cross_entropy_rows(logp, targets, None, -100)
        cross_entropy_rows(logp, targets, x[0].copy(), -100)
        cross_entropy_grad(logp, targets, row_weights, 1.0, losses)
        matmul_numba(x, x.T)
        image = x.reshape(1, 1, 3, 4)
        col2im(im2col(image, 2, 2, 1, 1, 0, 0, 2, 3), image.shape, 2, 2, 1, 1, 0, 0, 2, 3)
        pooled, idx = max_pool2d_forward(image, 2, 2, 1, 1, 0, 0, 2, 3)
        plane_scatter_add(plane_gather(image, idx), idx, image.shape)
        blas_axpy = blas.axpy_function(dt)
        if blas_axpy is not None:  # axpy_ calls it only for large arrays, so small ones would not compile it
            _blas_axpy_kernel(blas_axpy, x.reshape(-1).copy(), g.reshape(-1), dt.type(0))


# ---------------------------------------------------------------------------
# Convolution and pooling (autograd/ops/conv.py).  Images are (N, C, H, W),
# C-contiguous; the window geometry (kernel kh×kw, stride sh×sw, zero padding
# ph×pw, output oh×ow) is computed by the caller.  Column matrices are
# (C·kh·kw, N·oh·ow), so one BLAS product with the (O, C·kh·kw) weight matrix
# makes the whole batch's convolution.  Measured (float32, 2 cores, median;
# shapes N,C,H,O,k): im2col + BLAS beats a direct Numba convolution kernel
# except at C=1 (64,1,28,8,3: 0.64 ms direct vs 0.53-0.89 ms; 64,8,13,16,3:
# 3.3 ms vs 0.85 ms; 32,16,16,32,3: 7.8 ms vs 1.5 ms).  im2col itself is
# kh·kw strided numpy slice copies: 2-3x faster than a Numba gather loop
# (152 µs vs 450 µs at 64,1,28,3; 0.50 vs 1.6 ms at 32,16,16,3), whose short
# rows (ow elements) don't vectorise.  col2im (a scatter-add) is a Numba
# kernel: as fast as kh·kw numpy `+=` slices at C=1 and 30% faster from C=8.
# ---------------------------------------------------------------------------
@_njit
def _col2im_kernel(cols, kh, kw, sh, sw, ph, pw, oh, ow, out):
    # out must be zeroed: overlapping windows (stride < kernel) add up.
    n_img, n_ch, h, w = out.shape
    plane = oh * ow
    for c in range(n_ch):
        for i in range(kh):
            for j in range(kw):
                row = cols[(c * kh + i) * kw + j]
                for n in range(n_img):
                    base = n * plane
                    for y in range(oh):
                        hy = y * sh - ph + i
                        if hy < 0 or hy >= h:
                            continue
                        dst = out[n, c, hy]
                        start = base + y * ow
                        for xo in range(ow):
                            wx = xo * sw - pw + j
                            if 0 <= wx < w:
                                dst[wx] += row[start + xo]


@_njit
def _max_pool_kernel(x, kh, kw, sh, sw, ph, pw, oh, ow, out, idx):
    # idx: flat position (hy·W + wx) of each window's maximum in its (H, W) plane.  As PyTorch:
    # the first maximum wins ties and a NaN wins (the last NaN's position).  Window bounds are
    # clipped once per window (padding is never selected), so the inner loops have no branches
    # but the comparison.
    n_img, n_ch, h, w = x.shape
    for n in range(n_img):
        for c in range(n_ch):
            src = x[n, c]
            for y in range(oh):
                h0 = max(y * sh - ph, 0)
                h1 = min(y * sh - ph + kh, h)
                for xo in range(ow):
                    w0 = max(xo * sw - pw, 0)
                    w1 = min(xo * sw - pw + kw, w)
                    best = src[h0, w0]
                    best_at = h0 * w + w0
                    for hy in range(h0, h1):
                        row = src[hy]
                        for wx in range(w0, w1):
                            v = row[wx]
                            if v > best or v != v:
                                best = v
                                best_at = hy * w + wx
                    out[n, c, y, xo] = best
                    idx[n, c, y, xo] = best_at


@_njit
def _plane_scatter_add_kernel(g, idx, out):
    # out[p, idx[p, k]] += g[p, k]; out (planes, H·W) zeroed by the caller.
    planes, m = g.shape
    for p in range(planes):
        for k in range(m):
            out[p, idx[p, k]] += g[p, k]


@_njit
def _plane_gather_kernel(x, idx, out):
    planes, m = idx.shape
    for p in range(planes):
        for k in range(m):
            out[p, k] = x[p, idx[p, k]]


def _check_window(x, name, kh, kw, sh, sw, ph, pw, oh, ow):
    x = _check_float(x, name)
    if x.ndim != 4:
        raise ValueError(f"{name}: expected a 4-D (N, C, H, W) array, got shape {x.shape}")
    if min(kh, kw, sh, sw, oh, ow) < 1 or min(ph, pw) < 0:
        raise ValueError(f"invalid window: kernel {kh}x{kw}, stride {sh}x{sw}, padding {ph}x{pw}, "
                         f"output {oh}x{ow}")
    return _c(x)


def im2col(x, kh, kw, sh, sw, ph, pw, oh, ow):
    """The (C·kh·kw, N·oh·ow) column matrix of the zero-padded windows of x (N, C, H, W):
    row (c, i, j), column (n, y, x) holds x[n, c, y·sh − ph + i, x·sw − pw + j] (0 outside)."""
    x = _check_window(x, "x", kh, kw, sh, sw, ph, pw, oh, ow)
    n, c, h, w = x.shape
    if ph or pw:
        padded = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=x.dtype)
        padded[:, :, ph:ph + h, pw:pw + w] = x
        x = padded
    cols = np.empty((c, kh, kw, n, oh, ow), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            window = x[:, :, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw]
            cols[:, i, j] = window.transpose(1, 0, 2, 3)
    return cols.reshape(c * kh * kw, n * oh * ow)


def col2im(cols, shape, kh, kw, sh, sw, ph, pw, oh, ow):
    """The adjoint of ``im2col``: each column entry added back at its pixel of an array of ``shape``
    (N, C, H, W); entries that fell on padding are dropped."""
    cols = _c(_check_float(cols, "cols"))
    n, c, h, w = shape
    if cols.shape != (c * kh * kw, n * oh * ow):
        raise ValueError(f"cols shape {cols.shape} does not match image {shape} with kernel {kh}x{kw} "
                         f"and output {oh}x{ow}")
    out = np.zeros(shape, dtype=cols.dtype)
    if cols.size:
        _col2im_kernel(cols, kh, kw, sh, sw, ph, pw, oh, ow, out)
    return out


def max_pool2d_forward(x, kh, kw, sh, sw, ph, pw, oh, ow):
    """(max over each window, flat int64 position of that maximum in its H×W plane)."""
    x = _check_window(x, "x", kh, kw, sh, sw, ph, pw, oh, ow)
    n, c = x.shape[:2]
    out = np.empty((n, c, oh, ow), dtype=x.dtype)
    idx = np.empty((n, c, oh, ow), dtype=np.int64)
    if out.size:
        _max_pool_kernel(x, kh, kw, sh, sw, ph, pw, oh, ow, out, idx)
    return out, idx


def plane_scatter_add(g, idx, shape):
    """An array of ``shape`` (N, C, H, W), zero but for g (N, C, ...) added at the flat H×W
    positions ``idx`` (same shape as g) of each plane."""
    g = _c(_check_float(g, "grad"))
    if g.shape != idx.shape:
        raise ValueError(f"grad shape {g.shape} != index shape {idx.shape}")
    planes = shape[0] * shape[1]
    out = np.zeros(shape, dtype=g.dtype)
    if g.size:
        _plane_scatter_add_kernel(g.reshape(planes, -1), _c(idx).reshape(planes, -1), out.reshape(planes, -1))
    return out


def plane_gather(x, idx):
    """x (N, C, H, W) read at the flat H×W positions ``idx`` (N, C, ...) of each plane."""
    x = _c(_check_float(x, "x"))
    planes = x.shape[0] * x.shape[1]
    out = np.empty(idx.shape, dtype=x.dtype)
    if out.size:
        _plane_gather_kernel(x.reshape(planes, -1), _c(idx).reshape(planes, -1), out.reshape(planes, -1))
    return out


# ---------------------------------------------------------------------------
# Optimizer kernels: in-place, one pass over memory (autograd/ops/inplace.py).
# Arguments are 1-D contiguous arrays of one dtype and scalars already cast to
# that dtype, so float32 updates stay float32 (as in PyTorch).  Each mirrors
# the order of operations of PyTorch's single-tensor update so trajectories
# agree to rounding.  Switches are loop-invariant: small ones are selects, the
# Adam kernel has one loop per (amsgrad, eps_inside_sqrt) so each vectorises
# (a branchy single loop measured 5.9 ms per 1e6 float32, now ~1.2 ms).
# ---------------------------------------------------------------------------
@_njit
def _addcmul_kernel(x, a, b, value):
    for i in range(x.size):
        x[i] = x[i] + value * a[i] * b[i]


@_njit
def _addcdiv_kernel(x, a, b, value):
    for i in range(x.size):
        x[i] = x[i] + value * a[i] / b[i]


@_njit
def _lerp_kernel(x, end, weight):
    # PyTorch's two-sided form: exact at weight 0 and at weight 1.
    one = weight - weight + 1
    if weight < 0.5:
        for i in range(x.size):
            x[i] = x[i] + weight * (end[i] - x[i])
    else:
        w1 = one - weight
        for i in range(x.size):
            x[i] = end[i] - (end[i] - x[i]) * w1


@_njit
def _axpy_kernel(x, y, alpha):
    for i in range(x.size):
        x[i] = x[i] + alpha * y[i]


def axpy_(x, y, alpha):
    """x += alpha·y for flat C-contiguous arrays ``x`` and ``y`` of one float dtype (``alpha`` a scalar
    of that dtype): numpy's BLAS from ``_BLAS_AXPY_MIN`` elements, multithreaded on the cores the last
    product used (autograd/blas.py says why), the Numba loop below that (no ctypes call to pay)."""
    if x.size >= _BLAS_AXPY_MIN:
        function = blas.axpy_function(x.dtype)
        if function is not None and x.size <= function.int_max:
            _blas_axpy_kernel(function, x, y, alpha)
            return
    _axpy_kernel(x, y, alpha)


# OpenBLAS splits an axpy over its threads above 10,000 elements; below, a BLAS call on one thread
# only adds the call (~1.5 us) to the Numba loop's time.
_BLAS_AXPY_MIN = 16384


@_njit
def _blas_axpy_kernel(axpy, x, y, alpha):
    x_start, y_start = x.ctypes.data, y.ctypes.data
    nbytes = x.size * x.itemsize
    if x_start != y_start and x_start < y_start + nbytes and y_start < x_start + nbytes:
        _axpy_kernel(x, y, alpha)  # partly overlapping arrays: the loop's order, which threads would not keep
    else:
        axpy(x.size, alpha, y_start, 1, x_start, 1)


@_njit
def _sgd_step_kernel(p, g, buf, neg_lr, momentum, one_minus_dampening, weight_decay, sign,
                     use_momentum, first_step, nesterov):
    for i in range(p.size):
        gi = sign * g[i]
        if weight_decay != 0:
            gi = gi + weight_decay * p[i]
        if use_momentum:
            if first_step:
                b = gi
            else:
                b = buf[i] * momentum + one_minus_dampening * gi
            buf[i] = b
            if nesterov:
                gi = gi + momentum * b
            else:
                gi = b
        p[i] = p[i] + neg_lr * gi


@_njit_inline
def _adam_moments(p, g, m, v, decay, weight_decay, has_weight_decay, lerp_weight, w1, small_weight, beta2,
                  one_minus_beta2, sign):
    # Selects, not branches, so the loop stays vectorised (measured 5.9 ms -> 1.1 ms at 1e6 float32).
    pi = p * decay
    gi = sign * g
    gd = gi + weight_decay * pi
    gi = gd if has_weight_decay else gi
    lo = m + lerp_weight * (gi - m)
    hi = gi - (gi - m) * w1
    mi = lo if small_weight else hi
    vi = v * beta2 + one_minus_beta2 * gi * gi
    return pi, mi, vi


@_njit_inline
def _adam_loop(p, g, m, v, vmax, decay, weight_decay, has_weight_decay, lerp_weight, w1, small_weight, beta2,
               one_minus_beta2, neg_step_size, bc2_sqrt, bias_correction2, eps, sign, amsgrad, eps_inside_sqrt):
    for i in range(p.size):
        pi, mi, vi = _adam_moments(p[i], g[i], m[i], v[i], decay, weight_decay, has_weight_decay,
                                   lerp_weight, w1, small_weight, beta2, one_minus_beta2, sign)
        m[i] = mi
        v[i] = vi
        if amsgrad:
            vm = vmax[i]
            vi = vm if vm >= vi else vi
            vmax[i] = vi
        if eps_inside_sqrt:
            denom = np.sqrt(vi / bias_correction2 + eps)
        else:
            denom = np.sqrt(vi) / bc2_sqrt + eps
        p[i] = pi + neg_step_size * mi / denom


@_njit
def _adam_step_kernel(p, g, m, v, vmax, decay, weight_decay, lerp_weight, beta2, one_minus_beta2,
                      neg_step_size, bc2_sqrt, bias_correction2, eps, sign, amsgrad, eps_inside_sqrt):
    one = lerp_weight - lerp_weight + 1
    small_weight = lerp_weight < 0.5
    w1 = one - lerp_weight
    has_weight_decay = weight_decay != 0
    # One loop per (amsgrad, eps_inside_sqrt): literal flags let LLVM drop the unused denominator.
    if amsgrad:
        if eps_inside_sqrt:
            _adam_loop(p, g, m, v, vmax, decay, weight_decay, has_weight_decay, lerp_weight, w1, small_weight,
                       beta2, one_minus_beta2, neg_step_size, bc2_sqrt, bias_correction2, eps, sign, True, True)
        else:
            _adam_loop(p, g, m, v, vmax, decay, weight_decay, has_weight_decay, lerp_weight, w1, small_weight,
                       beta2, one_minus_beta2, neg_step_size, bc2_sqrt, bias_correction2, eps, sign, True, False)
    elif eps_inside_sqrt:
        _adam_loop(p, g, m, v, vmax, decay, weight_decay, has_weight_decay, lerp_weight, w1, small_weight,
                   beta2, one_minus_beta2, neg_step_size, bc2_sqrt, bias_correction2, eps, sign, False, True)
    else:
        _adam_loop(p, g, m, v, vmax, decay, weight_decay, has_weight_decay, lerp_weight, w1, small_weight,
                   beta2, one_minus_beta2, neg_step_size, bc2_sqrt, bias_correction2, eps, sign, False, False)


# ---------------------------------------------------------------------------
# Average pooling (autograd/ops/conv.py): kh·kw strided numpy slice additions,
# vectorised by numpy, no gather needed.
# ---------------------------------------------------------------------------
def _avg_pool_divisor(h, w, kh, kw, sh, sw, ph, pw, oh, ow, count_include_pad, dtype):
    """kh·kw, or per window (oh, ow) the number of its pixels inside the unpadded image."""
    if count_include_pad or (ph == 0 and pw == 0):
        return dtype.type(kh * kw)
    rows = np.minimum(np.arange(oh) * sh - ph + kh, h) - np.maximum(np.arange(oh) * sh - ph, 0)
    cols = np.minimum(np.arange(ow) * sw - pw + kw, w) - np.maximum(np.arange(ow) * sw - pw, 0)
    return np.outer(rows, cols).astype(dtype)


def avg_pool2d_forward(x, kh, kw, sh, sw, ph, pw, oh, ow, count_include_pad=True):
    """Mean of each zero-padded window of x (N, C, H, W), divided by kh·kw or, when not
    ``count_include_pad``, by the window's count of real pixels."""
    x = _check_window(x, "x", kh, kw, sh, sw, ph, pw, oh, ow)
    n, c, h, w = x.shape
    if ph or pw:
        padded = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=x.dtype)
        padded[:, :, ph:ph + h, pw:pw + w] = x
        x = padded
    out = np.zeros((n, c, oh, ow), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            out += x[:, :, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw]
    out /= _avg_pool_divisor(h, w, kh, kw, sh, sw, ph, pw, oh, ow, count_include_pad, x.dtype)
    return out


def avg_pool2d_adjoint(g, shape, kh, kw, sh, sw, ph, pw, oh, ow, count_include_pad=True):
    """The transpose of ``avg_pool2d_forward``: each g / divisor added over its window in an
    array of ``shape`` (N, C, H, W); what falls on the padding is dropped."""
    g = _check_float(g, "grad")
    n, c, h, w = shape
    if g.shape != (n, c, oh, ow):
        raise ValueError(f"grad shape {g.shape} != pooled shape {(n, c, oh, ow)}")
    share = g / _avg_pool_divisor(h, w, kh, kw, sh, sw, ph, pw, oh, ow, count_include_pad, g.dtype)
    padded = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=g.dtype)
    for i in range(kh):
        for j in range(kw):
            padded[:, :, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw] += share
    return np.ascontiguousarray(padded[:, :, ph:ph + h, pw:pw + w]) if ph or pw else padded
