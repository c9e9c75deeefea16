# Smooth L1 (docs/contract.md section 1): its parameter structs and point functions. The
# dispatch that reaches them is generated from its row in src/smoothl1/_core/losses.py.

ctypedef struct SmoothL1Params:
    double beta       # where the quadratic part ends; >= 0, may be inf
    double divisor    # beta, or 1.0 when beta == 0: the quadratic branch is then never
                      # selected, and no division by zero happens even in unselected lanes
    double threshold  # beta, or the smallest subnormal when beta == 0: the gradient is
                      # sign(d) where |d| >= threshold, and sign(0) = 0 comes from d / 1
    double half_beta  # 0.5 * beta, or 0.0 when beta is inf: then only |d| = inf reaches the
                      # linear branch, and inf - 0 keeps the loss inf (inf - inf would be NaN)

ctypedef struct PowerOfTwoSmoothL1Params:
    # Smooth L1 whose divisor is a power of two with a finite reciprocal (beta = 1, the
    # default, 0.5, 2, ...; beta = 0 too, whose divisor is 1). Then d * (1 / divisor) is the
    # exact value of d / divisor, rounded once, so it is the same double, bit for bit; and a
    # SIMD multiplication costs a fraction of a division, which bounds the loop otherwise.
    # (The table's fast_scalar variant of SmoothL1Params.)
    double beta
    double divisor
    double threshold
    double half_beta
    double inverse    # 1 / divisor, exact

ctypedef struct SmoothL1ArrayParams:
    # Smooth L1 with a beta per element (docs/contract.md section 13): the fields of
    # SmoothL1Params, filled for each element from its own beta inside the loop.
    double beta
    double divisor
    double threshold
    double half_beta

ctypedef fused SmoothL1Any:
    SmoothL1Params
    PowerOfTwoSmoothL1Params
    SmoothL1ArrayParams


cdef inline void set_smooth_l1(SmoothL1Any* p, double beta) noexcept nogil:
    # The one place the smooth L1 fields are derived from beta (scalar or per element).
    p.beta = beta
    p.divisor = beta if beta > 0 else 1.0
    p.threshold = beta if beta > 0 else 4.9406564584124654e-324
    p.half_beta = 0.0 if isinf(beta) else 0.5 * beta


cdef inline bint smooth_l1_fast_applies(const SmoothL1Params* p) noexcept nogil:
    return has_exact_inverse(p.divisor)


cdef inline PowerOfTwoSmoothL1Params smooth_l1_fast_params(
        const SmoothL1Params* general) noexcept nogil:
    # Only where smooth_l1_fast_applies.
    cdef PowerOfTwoSmoothL1Params p
    p.beta = general.beta
    p.divisor = general.divisor
    p.threshold = general.threshold
    p.half_beta = general.half_beta
    p.inverse = 1.0 / general.divisor
    return p


cdef inline double over_beta(double d, const SmoothL1Any* p) noexcept nogil:
    # d / divisor, correctly rounded (see PowerOfTwoSmoothL1Params)
    if SmoothL1Any is PowerOfTwoSmoothL1Params:
        return d * p.inverse
    else:
        return d / p.divisor


cdef inline double smooth_l1_loss_point(double d, const SmoothL1Any* p) noexcept nogil:
    # 0.5 * z**2 / beta if z < beta else z - 0.5 * beta. The quadratic branch is computed as
    # 0.5 * d * (d / beta): the same value, but z*z can no longer overflow or underflow when
    # the result itself is representable. Both branches are computed and one is selected, so
    # the compiler can vectorise; NaN fails the comparison and propagates through z - ...
    cdef double z = fabs(d)
    cdef double quadratic = 0.5 * d * over_beta(d, p)
    cdef double linear = z - p.half_beta
    return quadratic if z < p.beta else linear


cdef inline double smooth_l1_grad_point(double d, const SmoothL1Any* p) noexcept nogil:
    # d / beta if z < beta else sign(d), written as: sign(d) where z >= beta, else d / beta.
    # The same thing (NaN fails the test and d / beta is NaN), but copysign and one select are
    # cheaper in SIMD than a three-way sign; `threshold` makes sign(0) = 0 when beta = 0.
    cdef double quadratic = over_beta(d, p)
    return copysign(1.0, d) if fabs(d) >= p.threshold else quadratic


cdef inline double smooth_l1_exact_hess_point(double d, const SmoothL1Any* p) noexcept nogil:
    # 1 / beta if z < beta else 0 (beta = 0 never takes the first branch: 0 everywhere)
    return 1.0 / p.divisor if fabs(d) < p.beta else 0.0


cdef inline double smooth_l1_irls_hess_point(double d, const SmoothL1Any* p) noexcept nogil:
    # grad / d = min(1 / beta, 1 / z) = 1 / max(beta, z), one correctly rounded division:
    # 1 / beta at d = 0 (its limit), and for beta = 0 (plain L1) 1 / z, whose limit at
    # d = 0 is +inf (1 / 0). 0 at z = inf, and for every d when beta = inf (the loss is 0).
    cdef double z = fabs(d)
    return 1.0 / (z if z > p.beta else p.beta)
