# Cauchy, or Lorentzian (docs/contract.md section 16): its parameter structs and point
# functions. The dispatch that reaches them is generated from its row in
# src/smoothl1/_core/losses.py.
#
# With a = |q| = |d| / delta (0 when delta is inf: the loss is then 0.5 * d**2, also at
# d = inf), the loss takes one logarithm in every regime (smoothl1_cauchy_loss below says
# which), and the derivatives two regimes, so that no square overflows and nothing cancels:
#   a < 1 (near):  w = a**2; the gradient d / (1 + w), irls 1 / (1 + w), exact (1 - a) (1 + a)
#                  / (1 + w)**2, with 1 - a = (delta - |d|) / delta (no cancellation near
#                  |d| = delta).
#   a >= 1 (far):  s = delta / |d| = 1 / a and v = s**2 (no q**2, which overflows past
#                  a = 1e154): the gradient delta sign(d) s / (1 + v), irls v / (1 + v),
#                  exact irls (s - 1) (s + 1) / (1 + v), negative (the loss is not convex
#                  there), with s - 1 = (delta - |d|) / |d|.
# The elementary functions are the kernels' own (kernels/elementary.h): no calls, so the
# loops vectorise, and every build gives the same bits. Curvatures are 0 at d = ±inf, for
# every delta (docs/contract.md section 11).

cdef extern from *:
    """
    #include <float.h>
    #include "kernels/elementary.h"
    /* a = |d| / delta: 0 for a finite d and delta = inf, and 0 also for d = ±inf there (the
       loss is then 0.5 * d**2), where the quotient is inf / inf; NaN for a NaN d. (A select
       on the data, not on delta: GCC unswitches a loop on a select of a loop-invariant
       condition, and its copies then fail to vectorise.) */
    SMOOTHL1_ALWAYS_INLINE double smoothl1_cauchy_ratio(double z, double delta) {
        double a = z / delta;
        return (a != a) & (z == INFINITY) ? 0.0 : a;
    }
    /* The loss, 0.5 delta**2 log1p(a**2), with one quotient and one logarithm (fdlibm's
       reduction, kernels/elementary.h) in every regime, the regime choosing what goes in:
         w = a**2 < 2**-60:   0.5 d**2 (log1p(w) / w rounds to 1; w may underflow);
         a < 2**27:           delta (delta (0.5 log1p(w))), log1p(w) from u = 1 + w and the
                              correction c = (what rounding 1 + w lost) / u; below
                              sqrt(2) - 1, f is w itself (no rounding at all);
         a >= 2**27:          delta (delta log(a)), as log1p(w) = 2 log(a) + log1p(1/w) and
                              log1p(1/w) < 2**-54 is below half an ulp of 2 log(a) > 37.
       a is |d| / delta from |d| 2**-600 when |d| > 2**400: a quotient that still overflows
       then (or for |d| <= 2**400) needs delta < 2**-600, where the loss underflows to 0 for
       any a, so log(a) may be taken of DBL_MAX instead. delta (delta L) never loses bits to an
       intermediate underflow that the result would not have: delta L is about |d| a. */
    SMOOTHL1_ALWAYS_INLINE double smoothl1_cauchy_loss(double d, double delta) {
        double z = fabs(d);
        int big = z > smoothl1_power_of_two(400.0);
        double scaled = smoothl1_cauchy_ratio(big ? z * smoothl1_power_of_two(-600.0) : z,
                                              delta);         /* a, or a 2**-600 when big */
        double a = big ? scaled * smoothl1_power_of_two(600.0) : scaled;
        double w = a * a;
        int huge = a >= 134217728.0, direct = w < 0.41421356237309503;
        double y = huge ? 0.0 : w, u = 1.0 + y;
        double k, f = smoothl1_log_split(huge ? (scaled < DBL_MAX ? scaled : DBL_MAX) : u, &k);
        double c = (u < 2.0 ? y - (u - 1.0) : 1.0 - (u - y)) / u;
        double logarithm = smoothl1_log_reduced(
            direct ? w : f,
            direct ? 0.0 : (huge & big ? k + 600.0 : k),
            direct | huge ? 0.0 : c);                    /* log1p(w), or log(a) when huge */
        double loss = delta * (delta * ((huge ? 1.0 : 0.5) * logarithm));
        loss = w < smoothl1_power_of_two(-60.0) ? 0.5 * d * d : loss;
        loss = z < INFINITY ? loss : z;
        return d == d ? loss : d;   /* NaN: d's own */
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

