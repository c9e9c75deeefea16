# Pseudo-Huber (Charbonnier; docs/contract.md section 10): its parameter structs and point
# functions. The dispatch that reaches them is generated from its row in
# src/smoothl1/_core/losses.py.
#
# With q = d / delta and z = |d|, the ratio s = min(z, delta) / max(z, delta) (q inside,
# r = delta / z beyond; finite_delta / z, so 0 at z = delta = inf) and g = sqrt(1 + s*s),
# which never overflows (s <= 1): sqrt(1 + q**2) is g inside and g / r outside, so loss,
# gradient and curvature share one division and one square root (and 1 / g). The formulas
# are C, always inlined (see platform.pxi): each selects on z < delta before and after its
# division and square root; setup.py builds with -fno-thread-jumps so that GCC does not make
# those selects one branch whose two sides (each with its own division and square root) the
# vectoriser would then both compute.

cdef extern from *:
    """
    SMOOTHL1_ALWAYS_INLINE double smoothl1_pseudo_huber_ratio(double z, double delta,
                                                              double finite_delta) {
        int inside = z < delta;
        return (inside ? z : finite_delta) / (inside ? delta : z);
    }
    /* delta**2 * (sqrt(1 + q**2) - 1), without the cancellation of "- 1": inside
       z * (z / (g + 1)) (= d**2 / (sqrt(1 + q**2) + 1)), outside z * (delta / (g + r)) (the
       same, divided through by 1/r). Nothing overflows before the result does; z = inf gives
       inf * delta. */
    SMOOTHL1_ALWAYS_INLINE double smoothl1_pseudo_huber_loss(double d, double delta,
                                                             double finite_delta) {
        double z = fabs(d), s = smoothl1_pseudo_huber_ratio(z, delta, finite_delta);
        double g = sqrt(1.0 + s * s);
        int inside = z < delta;
        return z * ((inside ? z : delta) / (g + (inside ? 1.0 : s)));
    }
    /* d / sqrt(1 + q**2): d * (1 / g) inside, delta * sign(d) * (1 / g) outside (±delta at
       d = ±inf). Multiplying by 1 / g (two roundings, not one) lets the curvatures reuse it.
       A NaN d is the gradient itself: which of two NaN operands a product returns depends on
       the order the compiler gives them, which differs between loops (docs/contract.md
       section 11: grad_hess's grad is the *_grad function's, bit for bit). */
    SMOOTHL1_ALWAYS_INLINE double smoothl1_pseudo_huber_grad(double d, double delta,
                                                             double finite_delta) {
        double z = fabs(d), s = smoothl1_pseudo_huber_ratio(z, delta, finite_delta);
        double inverse_g = 1.0 / sqrt(1.0 + s * s);
        double grad = (z < delta ? d : copysign(delta, d)) * inverse_g;
        return d == d ? grad : d;
    }
    /* grad / d = 1 / sqrt(1 + q**2): 1 / g inside, r / g outside; 1 at d = 0, 0 at ±inf */
    SMOOTHL1_ALWAYS_INLINE double smoothl1_pseudo_huber_irls(double d, double delta,
                                                             double finite_delta) {
        double z = fabs(d), s = smoothl1_pseudo_huber_ratio(z, delta, finite_delta);
        double inverse_g = 1.0 / sqrt(1.0 + s * s);
        return (z < delta ? 1.0 : s) * inverse_g;
    }
    /* (1 + q**2) ** -1.5, the cube of the irls curvature (a few ulps in double; 0 at ±inf) */
    SMOOTHL1_ALWAYS_INLINE double smoothl1_pseudo_huber_exact(double d, double delta,
                                                              double finite_delta) {
        double irls = smoothl1_pseudo_huber_irls(d, delta, finite_delta);
        return irls * irls * irls;
    }
    """
    double smoothl1_pseudo_huber_loss(double d, double delta, double finite_delta) noexcept nogil
    double smoothl1_pseudo_huber_grad(double d, double delta, double finite_delta) noexcept nogil
    double smoothl1_pseudo_huber_irls(double d, double delta, double finite_delta) noexcept nogil
    double smoothl1_pseudo_huber_exact(double d, double delta,
                                       double finite_delta) noexcept nogil


ctypedef struct PseudoHuberParams:
    # Pseudo-Huber is computed in two regimes, so that no square overflows and nothing cancels
    # (see its point functions).
    double delta         # > 0, may be inf
    double finite_delta  # delta, or 0.0 when delta is inf: r = finite_delta / z is then 0 at
                         # z = inf (the only z that reaches the outer regime), not inf / inf

ctypedef struct PseudoHuberArrayParams:
    # Pseudo-Huber with a delta per element: the fields of PseudoHuberParams, per element.
    double delta
    double finite_delta

ctypedef fused PseudoHuberAny:
    PseudoHuberParams
    PseudoHuberArrayParams


cdef inline void set_pseudo_huber(PseudoHuberAny* p, double delta) noexcept nogil:
    p.delta = delta
    p.finite_delta = 0.0 if isinf(delta) else delta

