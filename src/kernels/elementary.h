/* Elementary functions for the kernels' point functions (log-cosh, Cauchy): log, log1p, exp
 * and expm1 on the ranges those losses need, written without branches or calls so that the
 * compiler vectorises the loops that inline them (the C library's functions are calls, which
 * keep a loop scalar: ten times slower than NumPy's own vectorised log1p).
 *
 * The algorithms and coefficients are fdlibm's (e_log.c, s_log1p.c, e_exp.c, s_expm1.c; Sun
 * Microsystems, freely distributable), each branch turned into a select: errors below one ulp
 * as there. Every operation is an IEEE operation, evaluated in the order written (the build
 * forbids FMA contraction), so the scalar and the SIMD builds give the same bits.
 *
 * Included by the point functions of src/kernels/losses/ (log_cosh.pxi, cauchy.pxi). */
#ifndef SMOOTHL1_ELEMENTARY_H
#define SMOOTHL1_ELEMENTARY_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) || defined(__clang__)
#define SMOOTHL1_ELEMENTARY static inline __attribute__((always_inline))
#else
#define SMOOTHL1_ELEMENTARY static __forceinline
#endif

#define SMOOTHL1_LN2_HI 6.93147180369123816490e-01   /* ln 2 in 32 bits: k * LN2_HI is exact */
#define SMOOTHL1_LN2_LO 1.90821492927058770002e-10   /* ln 2 - LN2_HI */
#define SMOOTHL1_INV_LN2 1.44269504088896338700e+00
/* x + SHIFTER - SHIFTER rounds x to an integer (|x| < 2**51), and the low bits of x + SHIFTER
   are that integer in two's complement */
#define SMOOTHL1_SHIFTER 6755399441055744.0          /* 1.5 * 2**52 */

SMOOTHL1_ELEMENTARY uint64_t smoothl1_bits(double x) {
    uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    return bits;
}

SMOOTHL1_ELEMENTARY double smoothl1_from_bits(uint64_t bits) {
    double x;
    memcpy(&x, &bits, sizeof x);
    return x;
}

/* 2**k for an integer-valued double k in [-1022, 1023] */
SMOOTHL1_ELEMENTARY double smoothl1_power_of_two(double k) {
    uint64_t integer = smoothl1_bits(k + SMOOTHL1_SHIFTER) - smoothl1_bits(SMOOTHL1_SHIFTER);
    return smoothl1_from_bits((integer + 1023) << 52);
}

/* log(2**k * (1 + f)) + c for |f| <= sqrt(2) - 1 and a small correction c (fdlibm's log
   after its argument reduction) */
SMOOTHL1_ELEMENTARY double smoothl1_log_reduced(double f, double k, double c) {
    const double Lg1 = 6.666666666666735130e-01, Lg2 = 3.999999999940941908e-01,
                 Lg3 = 2.857142874366239149e-01, Lg4 = 2.222219843214978396e-01,
                 Lg5 = 1.818357216161805012e-01, Lg6 = 1.531383769920937332e-01,
                 Lg7 = 1.479819860511658591e-01;
    double hfsq = 0.5 * f * f;
    double s = f / (2.0 + f);
    double z = s * s;
    double R = z * (Lg1 + z * (Lg2 + z * (Lg3 + z * (Lg4 + z * (Lg5 + z * (Lg6 + z * Lg7))))));
    return k * SMOOTHL1_LN2_HI - ((hfsq - (s * (hfsq + R) + (k * SMOOTHL1_LN2_LO + c))) - f);
}

/* u = 2**k * m with m in [sqrt(2)/2, sqrt(2)), for a positive normal u: returns m - 1 and sets k
   (a double), from the bits of u */
SMOOTHL1_ELEMENTARY double smoothl1_log_split(double u, double* k) {
    uint64_t bits = smoothl1_bits(u);
    uint64_t mantissa = bits & 0x000fffffffffffffULL;
    int upper = mantissa >= 0x0006a09e00000000ULL;    /* m >= sqrt(2): take m / 2 */
    double exponent = smoothl1_from_bits((bits >> 52) | 0x4330000000000000ULL)
                      - (4503599627370496.0 + 1023.0);
    *k = exponent + (upper ? 1.0 : 0.0);
    return smoothl1_from_bits(mantissa | (upper ? 0x3fe0000000000000ULL
                                                : 0x3ff0000000000000ULL)) - 1.0;
}

/* log(1 + y) for y >= 0, +inf or NaN (fdlibm's log1p: 1 + y is rounded, and the correction
   c restores what the rounding lost; below sqrt(2) - 1, f is y itself) */
SMOOTHL1_ELEMENTARY double smoothl1_log1p_nonnegative(double y) {
    double u = 1.0 + y;
    double k, f = smoothl1_log_split(u, &k);
    double c = (u < 2.0 ? y - (u - 1.0) : 1.0 - (u - y)) / u;
    int direct = y < 0.41421356237309503;
    double result = smoothl1_log_reduced(direct ? y : f, direct ? 0.0 : k, direct ? 0.0 : c);
    return y < INFINITY ? result : y;
}

/* exp(x) for x <= 0, -inf or NaN: subnormal results are rounded once (2**k is applied in two
   halves, each a normal number) */
SMOOTHL1_ELEMENTARY double smoothl1_exp_nonpositive(double x) {
    const double P1 = 1.66666666666666019037e-01, P2 = -2.77777777770155933842e-03,
                 P3 = 6.61375632143793436117e-05, P4 = -1.65339022054652515390e-06,
                 P5 = 4.13813679705723846039e-08;
    double clamped = x > -760.0 ? x : -760.0;         /* keeps k and its halves in range */
    double k = (clamped * SMOOTHL1_INV_LN2 + SMOOTHL1_SHIFTER) - SMOOTHL1_SHIFTER;
    double hi = clamped - k * SMOOTHL1_LN2_HI, lo = k * SMOOTHL1_LN2_LO;
    double r = hi - lo;
    double t = r * r;
    double c = r - t * (P1 + t * (P2 + t * (P3 + t * (P4 + t * P5))));
    double y = 1.0 - ((lo - (r * c) / (2.0 - c)) - hi);
    double k1 = (0.5 * k + SMOOTHL1_SHIFTER) - SMOOTHL1_SHIFTER;
    double result = (y * smoothl1_power_of_two(k1)) * smoothl1_power_of_two(k - k1);
    result = x == x ? result : x;                      /* NaN stays NaN */
    return x < -746.0 ? 0.0 : result;                 /* exp(-746) < 2**-1075 */
}

/* exp(x) - 1 for x in [0, 1.5 * ln 2] (fdlibm's expm1 with its reduction k = 0 or 1) */
SMOOTHL1_ELEMENTARY double smoothl1_expm1_unit(double x) {
    const double Q1 = -3.33333333333331316428e-02, Q2 = 1.58730158725481460165e-03,
                 Q3 = -7.93650757867487942473e-05, Q4 = 4.00821782732936239552e-06,
                 Q5 = -2.01099218183624371326e-07;
    int reduced = x > 0.5 * SMOOTHL1_LN2_HI + 0.5 * SMOOTHL1_LN2_LO;   /* k = 1 */
    double hi = reduced ? x - SMOOTHL1_LN2_HI : x, lo = reduced ? SMOOTHL1_LN2_LO : 0.0;
    double r = hi - lo, c = (hi - r) - lo;
    double hfx = 0.5 * r, hxs = r * hfx;
    double r1 = 1.0 + hxs * (Q1 + hxs * (Q2 + hxs * (Q3 + hxs * (Q4 + hxs * Q5))));
    double t = 3.0 - r1 * hfx;
    double e = hxs * ((r1 - t) / (6.0 - r * t));
    double e1 = (r * (e - c) - c) - hxs;
    double twice = r < -0.25 ? -2.0 * (e1 - (r + 0.5)) : 1.0 + 2.0 * (r - e1);
    return reduced ? twice : r - (r * e - hxs);
}

#endif
