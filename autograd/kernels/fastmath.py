"""float32 transcendental functions that vectorise, and their accurate float64 counterparts.

Public surface: scalar helpers for the loops of ``elementwise``, ``rows`` and ``losses`` (inlined
into them): ``fma``, ``exp_f32``, ``exp_ext``, ``sigmoid_f32``/``sigmoid_f64``, ``tanh_f32``,
``gelu_erf_f32``/``gelu_erf_f64`` and ``gelu_tanh_f32``/``gelu_tanh_f64`` (each GELU helper returns
the pair (GELU(x), GELU'(x))).

Design notes:

* numba calls libm for ``math.exp``, ``math.tanh`` and ``math.erf``: a scalar call per element (there
  is no SVML here) keeps a loop from vectorising.  So the float32 functions are hand-written,
  branch-free polynomial approximations (exp: range reduction with 2**n built from the exponent bits;
  tanh: odd polynomial near 0, 1 − 2/(e^{2|x|}+1) elsewhere; Φ for GELU: e^{−u²/2}·C/(u + g(u)) with
  error-free two-term sums and products), which LLVM vectorises.  Fused multiply-adds are written
  out (``fma``).  Their accuracy, in ulp, is stated beside each one and tested against float64.
* Selects are written ``LIMIT if v > LIMIT else v`` so that a NaN takes the ``else`` side and
  propagates through the arithmetic, with no separate NaN test per element.
* float64 favours accuracy (gradcheck runs in float64): its helpers call libm's exp, tanh and erfc.
* Constants are module-level numpy float32 scalars, which numba freezes into the kernels with their
  float32 type; a bare Python float literal is float64 and would promote float32 arithmetic to
  float64 (half the SIMD width).
"""
import math

import numba
import numba.extending
import numpy as np

from .jit import inline

@numba.extending.intrinsic
def fma(typingctx, a, b, c):
    """a·b + c rounded once (llvm.fma: one vfmadd instruction on AVX2/FMA machines)."""
    if not (a == b == c and isinstance(a, numba.core.types.Float)):
        return None

    def codegen(context, builder, signature, args):
        return builder.fma(*args)
    return a(a, b, c), codegen


# The float32 activation helpers call fma where they want a fused multiply-add: one instruction and
# one rounding instead of two, on the helpers' critical path.  Explicit rather than
# fastmath={"contract"}: LLVM contracts
# a product only where it has a single use, so the kernel storing GELU and GELU' rounded GELU 1 ulp
# differently from the kernel storing GELU alone.  Explicit, every kernel variant computes each
# value the same way, and fma(a, b, -p) with p = a·b is the exact rounding error of p.

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

# tanh (float32).  Eigen's 13/6 rational approximation is off by up to 6.6 ulp
# (|x| in 4..8), so instead: |x| < 0.5625 -> x + x^3 P(x^2) with P a degree-5
# least-squares fit (0.79 ulp), else 1 - 2/(e^{2|x|}+1) (<= 1.8 ulp, saturates to
# exactly ±1: tanh(9.1) rounds to 1).  The expm1 form em/(em+2) needs no polynomial
# branch and is faster, but 2.4 ulp (rounding of em + 2 near 0).
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
# (Φ(−13) = 6e-39 underflows float32).  Against the alternatives: the direct (4,5) rational
# Q = N(u)/D(u) in float32 is faster but 5.5 ulp; the same rational in float64 is 1.8 ulp but
# slower; this form without the two-sums and the division residual is 2.7 ulp; this form 1.76 ulp
# (a float64 Numerical Recipes erfc: 3.2 ulp, several times slower).
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
_EXT_LO = -87.0  # exp_ext: e^-87 = 1.6e-38, just above FLT_MIN
# Beyond these |x| the derivative's x*pdf(x) term is exactly 0 in both
# dtypes; clamping avoids inf*0 = NaN for |x| -> inf.
_PHI_CLAMP_64 = 40.0
_GELU_TANH_CLAMP_64 = 1.0e4


# ---------------------------------------------------------------------------
# float32 scalar helpers (inlined into the loops, which vectorise).
# ---------------------------------------------------------------------------
@inline
def exp_f32(x):
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


@inline
def _expm1_poly(r):
    """e^r − 1 for |r| <= ~0.36 (relative error 1.3e-8)."""
    r2 = r * r
    q = fma(r2, fma(r2, _EM4, fma(r, _EM3, _EM2)), fma(r, _EM1, _EM0))
    return fma(r2, q, r)


@inline
def _exp_parts(a):
    """(s, p) with e^a = s·(1 + p), s a power of two, for a in [−87.33, 88] (NaN gives NaN p).
    From a = −88 down, n = −127 and s comes out as +0.0."""
    t = fma(a, _LOG2E, _ROUND_MAGIC)
    n = t - _ROUND_MAGIC
    r = fma(n, _NEG_LN2_C2, fma(n, _NEG_LN2_C1, a))
    s = np.int32((np.float32(t).view(np.int32) + _I127) << _I23).view(np.float32)
    return s, _expm1_poly(r)


@inline
def _exp_parts2(a_hi, a_lo):
    """_exp_parts of a_hi + a_lo, with |a_lo| small; a_hi − n·ln2 is exact, so a_lo keeps its bits."""
    t = fma(a_hi + a_lo, _LOG2E, _ROUND_MAGIC)
    n = t - _ROUND_MAGIC
    r = fma(n, _NEG_LN2_C2, fma(n, _NEG_LN2_C1, a_hi)) + a_lo
    s = np.int32((np.float32(t).view(np.int32) + _I127) << _I23).view(np.float32)
    return s, _expm1_poly(r)


# The selects below are written `LIMIT if v > LIMIT else v` (and the like) so that a NaN takes the
# `else` side and propagates through the arithmetic: no separate NaN test per element.
@inline
def sigmoid_f32(x):
    """σ(x) = 1/(1+e^-|x|) for x >= 0, e^-|x|/(1+e^-|x|) for x < 0 (no cancellation)."""
    # Clamped at −88, e^-|x| comes out as 0 by itself: n = −127 makes the scale 2^n = +0.0.
    a = -abs(x)
    s, p = _exp_parts(_EXP_ZERO if a < _EXP_ZERO else a)
    e = fma(s, p, s)
    num = e if np.signbit(x) else _ONE  # a blend on the sign bit, no comparison
    return num / (_ONE + e)


@inline
def tanh_f32(x):
    """tanh(x) for float32: odd polynomial near 0, 1 − 2/(e^{2|x|}+1) elsewhere."""
    a = abs(x)
    x2 = x * x
    p = fma(x2, fma(x2, fma(x2, fma(x2, fma(x2, _TP5, _TP4), _TP3), _TP2), _TP1), _TP0)
    small = fma(x, x2 * p, x)
    ac = _TANH_SAT if a > _TANH_SAT else a
    s, q = _exp_parts(ac + ac)
    big = math.copysign(_ONE - _TWO / fma(s, q, s + _ONE), x)
    return small if a < _TANH_SPLIT else big


@inline
def gelu_erf_f32(x):
    """(GELU(x), GELU'(x)) = (x·Φ(x), Φ(x) + x·φ(x)) for float32 x, Φ the normal CDF."""
    u = abs(x)
    u = _GELU_U_MAX if u > _GELU_U_MAX else u
    # e^{−u²/2} = s·(1 + p), from u² = uu + uu_err exactly.
    uu = u * u
    s, p = _exp_parts2(_NEG_HALF * uu, _NEG_HALF * fma(u, u, -uu))
    # Q(u) = C/(u + g) = qh + ql, with u + g = u + g(0) + (g − g(0)) = dh + dl (two-sums).
    gm = fma(u, fma(u, fma(u, fma(u, _GM4, _GM3), _GM2), _GM1), _GM0)
    gs = fma(u, fma(u, fma(u, fma(u, fma(u, _GS5, _GS4), _GS3), _GS2), _GS1), _ONE)
    v = (u * gm) / gs
    a = u + _GP0
    bb = a - u
    e1 = (u - (a - bb)) + (_GP0 - bb)
    dh = a + v
    dl = e1 + (v - (dh - a))  # |a| >= |v|
    qh = _C_PHI / dh
    ql = fma(-qh, dl, fma(-qh, dh, _C_PHI)) * (qh * _INV_C_PHI)  # C − qh·dh is exact
    # x·Φ(−u) = x·s·(qh + ql)·(1 + p), rounded once at the end (x·s is exact).
    xs = x * s
    w = fma(xs, qh, xs * fma(qh, p, ql))
    y = w if x <= _ZERO else x - w
    y = _ZERO if x < -_GELU_U_MAX else y
    y = x if x > _GELU_U_MAX else y
    # GELU' = Φ(x) + x·φ(x) = ±e^{−u²/2}·(Q(u) − u·C) (+1 for x > 0).
    hs = (fma(u, _NEG_C_PHI, qh) + ql) * s
    he = fma(hs, p, hs)
    d = he if x < _ZERO else _ONE - he
    d = _ZERO if x < -_GELU_U_MAX else d
    d = _ONE if x > _GELU_U_MAX else d
    return y, d


@inline
def gelu_tanh_f32(x):
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
    e = fma(s, p, s)
    num = e if vh < _ZERO else _ONE
    other = _ONE if vh < _ZERO else e
    den = fma(s, p, s + _ONE)
    xs = xc * s
    y = (fma(xs, p, xs) if vh < _ZERO else xc) / den
    y = _ZERO if x < -_GT_X_MAX else y
    y = x if x > _GT_X_MAX else y
    inv = _ONE / den
    sig = num * inv
    c = xc * fma(xc * xc, _GT_2K0_3K1, _GT_2K0)
    d = fma(sig, c * (other * inv), sig)
    d = _ZERO if x < -_GT_X_MAX else d
    d = _ONE if x > _GT_X_MAX else d
    return y, d


@inline
def exp_ext(a):
    """e^a for a float64 argument using the float32 exp, float64 result (softmax family).

    a = hi + lo with hi = float32(a): e^a = e^hi·(1+lo) to ~1 ulp of float32,
    so large arguments computed in float64 (x − max) lose nothing to
    rounding the argument to float32 first (that alone costs |a|·2^-24).
    Results below ~1.6e-38 are flushed to 0; NaN propagates.
    """
    ac = a if a > _EXT_LO else _EXT_LO
    hi = np.float32(ac)
    lo = ac - np.float64(hi)
    y = np.float64(exp_f32(hi)) * (1.0 + lo)
    # Flush below float32's normal range instead of producing subnormals,
    # whose arithmetic is microcode-slow (which made gelu_erf slower on wide data).
    y = y if a >= _EXT_LO else 0.0
    return y if a == a else a


@inline
def sigmoid_f64(x):
    e = math.exp(-abs(x))
    num = 1.0 if x >= 0.0 else e
    return num / (1.0 + e)


@inline
def gelu_erf_f64(x):
    # Φ(x) = erfc(-x/√2)/2 stays accurate in the left tail, where 1 + erf(x/√2) would cancel.
    cdf = 0.5 * math.erfc(-x * _INV_SQRT2_64)
    y = x * cdf if cdf != 0.0 else 0.0  # -inf * 0 -> 0
    xc = min(max(x, -_PHI_CLAMP_64), _PHI_CLAMP_64)
    d = cdf + xc * (_INV_SQRT_2PI_64 * math.exp(-0.5 * xc * xc))
    return y, d


@inline
def gelu_tanh_f64(x):
    # ½(1+tanh w) = σ(2w): the sigmoid form has no cancellation for x < 0.
    w = _GELU_K0_64 * (x + _GELU_K1_64 * x * x * x)
    s = sigmoid_f64(2.0 * w)
    y = x * s if s != 0.0 else 0.0
    xc = min(max(x, -_GELU_TANH_CLAMP_64), _GELU_TANH_CLAMP_64)
    dw = _GELU_K0_64 * (1.0 + _GELU_3K1_64 * xc * xc)
    d = s + 2.0 * xc * dw * (s * (1.0 - s))
    return y, d

