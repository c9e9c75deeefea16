# Cauchy, or Lorentzian (docs/contract.md section 16): its parameter structs and point
# functions. The dispatch that reaches them is generated from its row in
# src/smoothl1/_core/losses.py.
#
# With a = |q| = |d| / delta (0 when delta is inf: the loss is then 0.5 * d**2, also at
# d = inf), two regimes, so that no square overflows and nothing cancels:
#   a < 1 (near):  w = a**2; the loss is 0.5 * d**2 * (log1p(w) / w) (no delta**2, which
#                  over- or underflows where the loss does not; the ratio's limit at w = 0 is
#                  1), the gradient d / (1 + w), irls 1 / (1 + w), exact (1 - a) (1 + a) /
#                  (1 + w)**2, with 1 - a = (delta - |d|) / delta (no cancellation near
#                  |d| = delta).
#   a >= 1 (far):  s = delta / |d| = 1 / a and v = s**2 (no q**2, which overflows past
#                  a = 1e154): log1p(q**2) = 2 log(a) + log1p(v) (log(a) from a scaled copy
#                  where a itself overflows), the loss delta * (delta * (log(a) +
#                  0.5 log1p(v))), the gradient delta sign(d) s / (1 + v), irls v / (1 + v),
#                  exact irls (s - 1) (s + 1) / (1 + v), negative (the loss is not convex
#                  there), with s - 1 = (delta - |d|) / |d|.
# The elementary functions are the kernels' own (kernels/elementary.h): no calls, so the
# loops vectorise, and every build gives the same bits. Curvatures are 0 at d = ±inf, for
# every delta (docs/contract.md section 11).

cdef extern from *:
    """
    #include "kernels/elementary.h"
    /* a = |d| / delta: 0 for a finite d and delta = inf, and 0 also for d = ±inf there (the
       loss is then 0.5 * d**2), where the quotient is inf / inf; NaN for a NaN d. (A select
       on the data, not on delta: GCC unswitches a loop on a select of a loop-invariant
       condition, and its copies then fail to vectorise.) */
    SMOOTHL1_ALWAYS_INLINE double smoothl1_cauchy_ratio(double z, double delta) {
        double a = z / delta;
        return (a != a) & (z == INFINITY) ? 0.0 : a;
    }
    /* log(a) for a >= 1: where a overflows for a finite |d| (|d| / delta > DBL_MAX), log of
       the quotient of |d| 2**-550 and delta 2**550, plus 1100 log(2) */
    SMOOTHL1_ALWAYS_INLINE double smoothl1_cauchy_log_ratio(double z, double delta, double a) {
        int overflow = a - z == INFINITY;    /* a is inf, z finite: then delta < 1, so the
                                                scaled delta below does not overflow */
        double scaled = (z * smoothl1_power_of_two(-550.0))
                        / (delta * smoothl1_power_of_two(550.0));
        return smoothl1_log_normal(overflow ? scaled : a) + (overflow ? 762.4618986159398 : 0.0);
    }
    SMOOTHL1_ALWAYS_INLINE double smoothl1_cauchy_loss(double d, double delta) {
        double z = fabs(d), a = smoothl1_cauchy_ratio(z, delta);
        double w = a * a, s = delta / z, v = s * s;
        int near = a < 1.0;
        double logarithm = smoothl1_log1p_nonnegative(near ? w : v);    /* log1p(w) or (v) */
        double log_a = smoothl1_cauchy_log_ratio(z, delta, near ? 1.0 : a);
        double near_loss = 0.5 * d * (d * (w > 0.0 ? logarithm / w : 1.0));
        double far_loss = delta * (delta * (log_a + 0.5 * logarithm));
        return d == d ? (near ? near_loss : far_loss) : d;   /* NaN: d's own */
    }
    SMOOTHL1_ALWAYS_INLINE double smoothl1_cauchy_grad(double d, double delta) {
        double z = fabs(d), a = smoothl1_cauchy_ratio(z, delta);
        double s = delta / z;
        double far_grad = copysign(delta * (s / (1.0 + s * s)), d);
        double grad = a < 1.0 ? d / (1.0 + a * a) : far_grad;
        return d == d ? grad : d;   /* NaN: d's own, in every loop (see pseudo_huber.pxi) */
    }
    SMOOTHL1_ALWAYS_INLINE double smoothl1_cauchy_irls(double d, double delta) {
        double z = fabs(d), a = smoothl1_cauchy_ratio(z, delta);
        double s = delta / z, v = s * s;
        double irls = a < 1.0 ? 1.0 / (1.0 + a * a) : v / (1.0 + v);
        return z == INFINITY ? 0.0 : irls;   /* 0 at ±inf, also for delta = inf */
    }
    SMOOTHL1_ALWAYS_INLINE double smoothl1_cauchy_exact(double d, double delta) {
        double z = fabs(d), a = smoothl1_cauchy_ratio(z, delta);
        double w = a * a, s = delta / z, v = s * s;
        double one_minus_a = (delta - z) / delta;       /* NaN for delta = inf: then 1 - 0 */
        one_minus_a = one_minus_a == one_minus_a ? one_minus_a : 1.0 - a;
        double near_exact = (one_minus_a * (1.0 + a)) / ((1.0 + w) * (1.0 + w));
        double far_exact = (v / (1.0 + v)) * ((((delta - z) / z) * (s + 1.0)) / (1.0 + v));
        double exact = a < 1.0 ? near_exact : far_exact;
        return z == INFINITY ? 0.0 : exact;
    }
    """
    double smoothl1_cauchy_loss(double d, double delta) noexcept nogil
    double smoothl1_cauchy_grad(double d, double delta) noexcept nogil
    double smoothl1_cauchy_irls(double d, double delta) noexcept nogil
    double smoothl1_cauchy_exact(double d, double delta) noexcept nogil


ctypedef struct CauchyParams:
    double delta         # > 0, may be inf (then a = 0: the quadratic limit)

ctypedef struct CauchyArrayParams:
    # Cauchy with a delta per element: the fields of CauchyParams, per element.
    double delta

ctypedef fused CauchyAny:
    CauchyParams
    CauchyArrayParams


cdef inline void set_cauchy(CauchyAny* p, double delta) noexcept nogil:
    p.delta = delta

