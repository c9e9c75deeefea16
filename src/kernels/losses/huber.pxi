# Huber (docs/contract.md section 1): its parameter structs and point functions. The dispatch
# that reaches them is generated from its row in src/smoothl1/_core/losses.py.

ctypedef struct HuberParams:
    double delta         # > 0, may be inf
    double half_delta    # 0.5 * delta, or 0.0 when delta is inf (same reason as half_beta)
    double finite_delta  # delta, or 0.0 when delta is inf: the irls curvature delta / z is
                         # then 0 at z = inf (as for a finite delta), not inf / inf

ctypedef struct HuberArrayParams:
    # Huber with a delta per element: the fields of HuberParams, filled per element.
    double delta
    double half_delta
    double finite_delta

ctypedef fused HuberAny:
    HuberParams
    HuberArrayParams


cdef inline void set_huber(HuberAny* p, double delta) noexcept nogil:
    p.delta = delta
    p.half_delta = 0.0 if isinf(delta) else 0.5 * delta
    p.finite_delta = 0.0 if isinf(delta) else delta


cdef inline double huber_loss_point(double d, const HuberAny* p) noexcept nogil:
    # 0.5 * z**2 if z < delta else delta * (z - 0.5 * delta)
    cdef double z = fabs(d)
    cdef double quadratic = 0.5 * d * d
    cdef double linear = p.delta * (z - p.half_delta)
    return quadratic if z < p.delta else linear


cdef inline double huber_grad_point(double d, const HuberAny* p) noexcept nogil:
    # d if z < delta else delta * sign(d), written as in smooth_l1_grad_point (delta > 0)
    return copysign(p.delta, d) if fabs(d) >= p.delta else d


cdef inline double huber_exact_hess_point(double d, const HuberAny* p) noexcept nogil:
    # 1 if z < delta else 0
    return 1.0 if fabs(d) < p.delta else 0.0


cdef inline double huber_irls_hess_point(double d, const HuberAny* p) noexcept nogil:
    # grad / d = min(1, delta / z): 1 at d = 0 (its limit), never 0 for finite d, 0 at inf
    cdef double z = fabs(d)
    return 1.0 if z < p.delta else p.finite_delta / z
