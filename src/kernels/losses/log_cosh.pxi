# Log-cosh (docs/contract.md section 16): its parameter structs and point functions. The
# dispatch that reaches them is generated from its row in src/smoothl1/_core/losses.py.
#
# With a = |q| = |d| / delta (0 when delta is inf: the loss is then 0.5 * d**2, also at
# d = inf), two regimes, so that nothing overflows and nothing cancels:
#   a < 1 (near):  u = expm1(a) and t = cosh(a) - 1 = u**2 / (2 (1 + u)); log(cosh(a)) =
#                  log1p(t), and the loss is written d**2 * (log1p(t) / a**2) (no delta**2,
#                  which over- or underflows where the loss does not), with t / a**2 =
#                  (u / a)**2 / (2 (1 + u)); tanh(a) / a = (u / a) (u + 2) / (u (u + 2) + 2);
#                  1 / cosh(a)**2 = 1 / (1 + t)**2.
#   a >= 1 (far):  e = exp(-2a); log(cosh(a)) = a - log(2) + log1p(e), the loss delta * (|d| -
#                  delta (log(2) - log1p(e))) (no cosh, which overflows past a = 710);
#                  tanh(a) = (1 - e) / (1 + e); 1 / cosh(a)**2 = 4 e / (1 + e)**2, with e
#                  corrected for the rounding of a (the curvature's condition number is 2a).
# The elementary functions are the kernels' own (kernels/elementary.h): no calls, so the
# loops vectorise, and every build gives the same bits. Curvatures are 0 at d = ±inf, for
# every delta (docs/contract.md section 11).

cdef extern from *:
    """
    #include "kernels/elementary.h"
    #define SMOOTHL1_LN2 0.693147180559945309417232121458176568
    /* a = |d| / delta: 0 for a finite d and delta = inf, and 0 also for d = ±inf there (the
       loss is then 0.5 * d**2), where the quotient is inf / inf; NaN for a NaN d. (A select
       on the data, not on delta: GCC unswitches a loop on a select of a loop-invariant
       condition, and its copies then fail to vectorise.) */
    SMOOTHL1_ALWAYS_INLINE double smoothl1_log_cosh_ratio(double z, double delta) {
        double a = z / delta;
        return (a != a) & (z == INFINITY) ? 0.0 : a;
    }
    /* u = expm1(a) near (else 0), and u / a with its limit 1 at a = 0 */
    SMOOTHL1_ALWAYS_INLINE double smoothl1_log_cosh_u(double a) {
        return smoothl1_expm1_unit(a < 1.0 ? a : 0.0);
    }
    SMOOTHL1_ALWAYS_INLINE double smoothl1_log_cosh_u_over_a(double u, double a) {
        return a > 0.0 ? u / a : 1.0;
    }
    /* e = exp(-2a) far (else 1) */
    SMOOTHL1_ALWAYS_INLINE double smoothl1_log_cosh_e(double a) {
        return smoothl1_exp_nonpositive(a < 1.0 ? 0.0 : -2.0 * a);
    }
    /* tanh(a) / a near */
    SMOOTHL1_ALWAYS_INLINE double smoothl1_log_cosh_near_ratio(double u, double a) {
        return smoothl1_log_cosh_u_over_a(u, a) * ((u + 2.0) / (u * (u + 2.0) + 2.0));
    }
    SMOOTHL1_ALWAYS_INLINE double smoothl1_log_cosh_loss(double d, double delta) {
        double z = fabs(d), a = smoothl1_log_cosh_ratio(z, delta);
        double u = smoothl1_log_cosh_u(a), e = smoothl1_log_cosh_e(a);
        double t = (0.5 * u) * (u / (1.0 + u));
        int near = a < 1.0;
        double logarithm = smoothl1_log1p_nonnegative(near ? t : e);    /* log1p(t) or (e) */
        double u_over_a = smoothl1_log_cosh_u_over_a(u, a);
        double log1p_t_over_t = t > 0.0 ? logarithm / t : 1.0;
        double near_loss = 0.5 * d * (d * (log1p_t_over_t * (u_over_a * u_over_a) / (1.0 + u)));
        double far_loss = delta * (z - delta * (SMOOTHL1_LN2 - logarithm));
        return d == d ? (near ? near_loss : far_loss) : d;   /* NaN: d's own */
    }
    /* delta * tanh(q): d (tanh(a) / a) near (d itself for delta = inf), delta sign(d) tanh(a)
       far (±delta at d = ±inf) */
    SMOOTHL1_ALWAYS_INLINE double smoothl1_log_cosh_grad(double d, double delta) {
        double z = fabs(d), a = smoothl1_log_cosh_ratio(z, delta);
        double u = smoothl1_log_cosh_u(a), e = smoothl1_log_cosh_e(a);
        double far_grad = copysign(delta * ((1.0 - e) / (1.0 + e)), d);
        double grad = a < 1.0 ? d * smoothl1_log_cosh_near_ratio(u, a) : far_grad;
        return d == d ? grad : d;   /* NaN: d's own, in every loop (see pseudo_huber.pxi) */
    }
    /* tanh(q) / q: 1 at d = 0 (and everywhere for delta = inf), 0 at d = ±inf */
    SMOOTHL1_ALWAYS_INLINE double smoothl1_log_cosh_irls(double d, double delta) {
        double z = fabs(d), a = smoothl1_log_cosh_ratio(z, delta);
        double u = smoothl1_log_cosh_u(a), e = smoothl1_log_cosh_e(a);
        double far_irls = ((1.0 - e) / (1.0 + e)) * (delta / z);   /* delta / z: no overflow */
        double irls = a < 1.0 ? smoothl1_log_cosh_near_ratio(u, a) : far_irls;
        return z == INFINITY ? 0.0 : irls;   /* 0 at ±inf, also for delta = inf */
    }
    /* The rounding error of a = z / delta, where a < 512 (else 0; exp(-2a) is 0 there): the
       true quotient is a + a r. The exact product a * delta is Dekker's, on copies of z and
       delta scaled by the same power of two, so that nothing overflows. */
    SMOOTHL1_ALWAYS_INLINE double smoothl1_quotient_error(double z, double delta, double a) {
        const double split = 134217729.0;                  /* 2**27 + 1 */
        double exponent = smoothl1_from_bits(((smoothl1_bits(delta) >> 52) & 0x7ff)
                                             | 0x4330000000000000ULL)
                          - (4503599627370496.0 + 1023.0);
        double scale = smoothl1_power_of_two(-fmax(-1000.0, fmin(1000.0, exponent)));
        double small = a < 512.0 ? a : 0.0;
        double zs = z * scale, ds = delta * scale;
        double a_high = small * split - (small * split - small), a_low = small - a_high;
        double d_high = ds * split - (ds * split - ds), d_low = ds - d_high;
        double product = small * ds;
        double product_error = ((a_high * d_high - product) + a_high * d_low + a_low * d_high)
                               + a_low * d_low;
        double r = ((zs - product) - product_error) / zs;
        return a < 512.0 ? small * r : 0.0;
    }
    /* 1 / cosh(q)**2: 1 at d = 0 (and everywhere for delta = inf), 0 at d = ±inf */
    SMOOTHL1_ALWAYS_INLINE double smoothl1_log_cosh_exact(double d, double delta) {
        double z = fabs(d), a = smoothl1_log_cosh_ratio(z, delta);
        double u = smoothl1_log_cosh_u(a), e = smoothl1_log_cosh_e(a);
        double cosh_a = 1.0 + (0.5 * u) * (u / (1.0 + u));
        /* exp(-2 (a + a r)) = e (1 - 2 a r) to first order */
        double corrected = e * (1.0 - 2.0 * smoothl1_quotient_error(z, delta, a));
        double far_exact = (4.0 * corrected) / ((1.0 + corrected) * (1.0 + corrected));
        double exact = a < 1.0 ? 1.0 / (cosh_a * cosh_a) : far_exact;
        return z == INFINITY ? 0.0 : exact;
    }
    """
    double smoothl1_log_cosh_loss(double d, double delta) noexcept nogil
    double smoothl1_log_cosh_grad(double d, double delta) noexcept nogil
    double smoothl1_log_cosh_irls(double d, double delta) noexcept nogil
    double smoothl1_log_cosh_exact(double d, double delta) noexcept nogil


ctypedef struct LogCoshParams:
    double delta         # > 0, may be inf (then a = 0: the quadratic limit)

ctypedef struct LogCoshArrayParams:
    # Log-cosh with a delta per element: the fields of LogCoshParams, per element.
    double delta

ctypedef fused LogCoshAny:
    LogCoshParams
    LogCoshArrayParams


cdef inline void set_log_cosh(LogCoshAny* p, double delta) noexcept nogil:
    p.delta = delta

