# cython: language_level=3
# cython: boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
# cython: freethreading_compatible=True
"""Compiled kernels of smoothl1 (the module ``smoothl1._smoothl1``).

How this file is built, in the order it is read:

1. Parameters and point functions. Each formula of docs/contract.md section 1 is written once, as an inline
   function of one difference ``d = input - target`` in double precision; float32 data is
   widened on load, so float32 results are rounded once, when they are stored. Each loss has a
   parameter struct whose fields are computed once per call (``*_params``); the fused type
   ``LossParams`` lets every loop below be compiled once per loss, with no runtime switch.
   Second derivatives (docs/contract.md section 11) have one point function per loss and
   curvature kind ("exact", "irls"; "one" is the constant 1), picked by ``hess_point``.
2. The block loop. ``block_pass`` makes one pass over a block of at most ``CHUNK`` elements
   and, by compile-time flags, sums losses (or weights), stores losses, stores gradients.
   Sums go into ``LANES`` independent lanes, so the loop vectorises, and chunk sums are
   combined by ``PairwiseSum`` (a binary counter), so the rounding error grows with log(n),
   not n. ``run_mode`` instantiates the loop for each mode; ``run_segment`` walks a 1-D
   strided run (the C API's entry) block by block. Gradient and curvature
   (``STORE_GRAD | STORE_HESS_*``), elementwise with nothing summed, have their own plain
   loop, ``grad_hess_loop``, instantiated by ``run_grad_hess_segment``. Three sums have a
   loop of their own that adds the same values in the same order, bit for bit: boxes summed
   along their 4 coordinates (``box_pass``, each box's sum straight from its elements, an
   ``(N, 1)`` weight read once a box), interleaved columns summed along axis 0
   (``column_pass``), and a parameter that repeats every ``LANES`` elements, a per-coordinate
   beta of boxes (``lane_chunk_pass``, its values derived once a chunk, not once an element).
3. Plans and items. An N-d call becomes a ``Plan``: dimensions in memory order (the kept
   ones before the reduced ones for a reduction along axes, so each group's elements are a
   range of the flat index), size-1 dimensions dropped, contiguous ones merged (a C or
   Fortran array is one run), broadcast operands given zero steps. Blocks follow the chunk
   grid of each group; an operand that is not one run over a block (a per-row target of
   boxes, say) is gathered into a chunk buffer, outputs scattered back. The work is cut into
   items of whole groups or ``ITEM_SIZE`` ranges of one; threads claim items one at a time
   (src/smoothl1_pool.h), and each group's range sums are combined pairwise in order, so
   every result is bit-for-bit the same whatever the number of threads.
4. The C API: ``cdef api`` functions over pointers, lengths and element strides, for Cython and
   C callers (declared in ``smoothl1/kernels.pxd``), with one parameter or (``_params``) a
   pointer and stride of per-element ones. They call the same segment loop; the functions
   themselves are generated from one table (``tools/generate_capi.py``).
5. The Python entry ``compute``: takes arrays already validated by ``smoothl1._validation``,
   builds a plan and runs it with the GIL released.
"""

from libc.math cimport copysign, fabs, frexp, isinf, sqrt, NAN
from cpython.ref cimport PyObject
from libc.stdlib cimport malloc, free
from libc.stdint cimport int64_t

cimport numpy as cnp

cnp.import_array()

ctypedef fused floating:
    float
    double

cdef extern from *:
    """
    #include <fenv.h>
    #if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
    static int smoothl1_cpu_has_avx2(void) {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") != 0;
    }
    /* The x86-64-v4 subset the AVX-512 build is compiled for; like "avx2", these also check
       that the OS saves the wider registers. */
    static int smoothl1_cpu_has_avx512(void) {
        __builtin_cpu_init();
        return smoothl1_cpu_has_avx2() && __builtin_cpu_supports("avx512f")
            && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")
            && __builtin_cpu_supports("avx512bw");
    }
    #else
    static int smoothl1_cpu_has_avx2(void) { return 0; }
    static int smoothl1_cpu_has_avx512(void) { return 0; }
    #endif
    /* Pseudo-Huber's formulas (section 1 of this file explains them). They are C, always
       inlined, because GCC's inliner reaches its growth limit in this large module before
       it inlines Cython functions of their size into every loop, and a call left in a loop
       keeps it scalar (four to ten times slower). s = min(z, delta) / max(z, delta): with
       g = sqrt(1 + s*s), sqrt(1 + q**2) is g for z < delta and g / s beyond. Each selects on
       z < delta before and after its division and square root; setup.py builds with
       -fno-thread-jumps so that GCC does not make those selects one branch whose two sides
       (each with its own division and square root) the vectoriser would then both compute. */
    #include <math.h>
    #if defined(__GNUC__) || defined(__clang__)
    #define SMOOTHL1_ALWAYS_INLINE static inline __attribute__((always_inline))
    #else
    #define SMOOTHL1_ALWAYS_INLINE static __forceinline
    #endif
    SMOOTHL1_ALWAYS_INLINE double smoothl1_pseudo_huber_ratio(double z, double delta,
                                                              double finite_delta) {
        int inside = z < delta;
        return (inside ? z : finite_delta) / (inside ? delta : z);
    }
    SMOOTHL1_ALWAYS_INLINE double smoothl1_pseudo_huber_loss(double d, double delta,
                                                             double finite_delta) {
        double z = fabs(d), s = smoothl1_pseudo_huber_ratio(z, delta, finite_delta);
        double g = sqrt(1.0 + s * s);
        int inside = z < delta;
        return z * ((inside ? z : delta) / (g + (inside ? 1.0 : s)));
    }
    SMOOTHL1_ALWAYS_INLINE double smoothl1_pseudo_huber_grad(double d, double delta,
                                                             double finite_delta) {
        double z = fabs(d), s = smoothl1_pseudo_huber_ratio(z, delta, finite_delta);
        double inverse_g = 1.0 / sqrt(1.0 + s * s);
        return (z < delta ? d : copysign(delta, d)) * inverse_g;
    }
    SMOOTHL1_ALWAYS_INLINE double smoothl1_pseudo_huber_irls(double d, double delta,
                                                             double finite_delta) {
        double z = fabs(d), s = smoothl1_pseudo_huber_ratio(z, delta, finite_delta);
        double inverse_g = 1.0 / sqrt(1.0 + s * s);
        return (z < delta ? 1.0 : s) * inverse_g;
    }
    SMOOTHL1_ALWAYS_INLINE double smoothl1_pseudo_huber_exact(double d, double delta,
                                                              double finite_delta) {
        double irls = smoothl1_pseudo_huber_irls(d, delta, finite_delta);
        return irls * irls * irls;
    }
    """
    double c_pseudo_huber_loss "smoothl1_pseudo_huber_loss"(
        double d, double delta, double finite_delta) noexcept nogil
    double c_pseudo_huber_grad "smoothl1_pseudo_huber_grad"(
        double d, double delta, double finite_delta) noexcept nogil
    double c_pseudo_huber_irls "smoothl1_pseudo_huber_irls"(
        double d, double delta, double finite_delta) noexcept nogil
    double c_pseudo_huber_exact "smoothl1_pseudo_huber_exact"(
        double d, double delta, double finite_delta) noexcept nogil
    int smoothl1_cpu_has_avx2() noexcept nogil
    int smoothl1_cpu_has_avx512() noexcept nogil
    ctypedef struct fexcept_t:
        pass
    int FE_ALL_EXCEPT
    int fegetexceptflag(fexcept_t* flags, int excepts) noexcept nogil
    int fesetexceptflag(const fexcept_t* flags, int excepts) noexcept nogil


# ---------------------------------------------------------------------------------------------
# 1. Parameters and point functions
# ---------------------------------------------------------------------------------------------

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

ctypedef struct HuberParams:
    double delta         # > 0, may be inf
    double half_delta    # 0.5 * delta, or 0.0 when delta is inf (same reason as half_beta)
    double finite_delta  # delta, or 0.0 when delta is inf: the irls curvature delta / z is
                         # then 0 at z = inf (as for a finite delta), not inf / inf

ctypedef struct PseudoHuberParams:
    # Pseudo-Huber is computed in two regimes, so that no square overflows and nothing cancels
    # (see its point functions).
    double delta         # > 0, may be inf
    double finite_delta  # delta, or 0.0 when delta is inf: r = finite_delta / z is then 0 at
                         # z = inf (the only z that reaches the outer regime), not inf / inf

ctypedef struct HuberArrayParams:
    # Huber with a delta per element: the fields of HuberParams, filled per element.
    double delta
    double half_delta
    double finite_delta

ctypedef fused HuberAny:
    HuberParams
    HuberArrayParams

ctypedef struct PseudoHuberArrayParams:
    # Pseudo-Huber with a delta per element: the fields of PseudoHuberParams, per element.
    double delta
    double finite_delta

ctypedef fused PseudoHuberAny:
    PseudoHuberParams
    PseudoHuberArrayParams

ctypedef fused LossParams:
    SmoothL1Params
    PowerOfTwoSmoothL1Params
    SmoothL1ArrayParams
    HuberParams
    HuberArrayParams
    PseudoHuberParams
    PseudoHuberArrayParams


cdef inline void set_smooth_l1(SmoothL1Any* p, double beta) noexcept nogil:
    # The one place the smooth L1 fields are derived from beta (scalar or per element).
    p.beta = beta
    p.divisor = beta if beta > 0 else 1.0
    p.threshold = beta if beta > 0 else 4.9406564584124654e-324
    p.half_beta = 0.0 if isinf(beta) else 0.5 * beta


cdef inline void set_huber(HuberAny* p, double delta) noexcept nogil:
    p.delta = delta
    p.half_delta = 0.0 if isinf(delta) else 0.5 * delta
    p.finite_delta = 0.0 if isinf(delta) else delta


cdef inline void set_pseudo_huber(PseudoHuberAny* p, double delta) noexcept nogil:
    p.delta = delta
    p.finite_delta = 0.0 if isinf(delta) else delta


cdef inline SmoothL1Params smooth_l1_params(double beta) noexcept nogil:
    cdef SmoothL1Params p
    set_smooth_l1(&p, beta)
    return p


cdef inline bint has_exact_inverse(double divisor) noexcept nogil:
    # divisor is a power of two (mantissa exactly 1/2: not inf, NaN, 0 or negative) whose
    # reciprocal does not overflow (2**-1074 has none); the reciprocal of a power of two is
    # then a power of two, exact.
    cdef int exponent
    return frexp(divisor, &exponent) == 0.5 and not isinf(1.0 / divisor)


cdef inline PowerOfTwoSmoothL1Params power_of_two_params(const SmoothL1Params* general) noexcept nogil:
    # Only for a divisor with has_exact_inverse.
    cdef PowerOfTwoSmoothL1Params p
    p.beta = general.beta
    p.divisor = general.divisor
    p.threshold = general.threshold
    p.half_beta = general.half_beta
    p.inverse = 1.0 / general.divisor
    return p


cdef inline HuberParams huber_params(double delta) noexcept nogil:
    cdef HuberParams p
    set_huber(&p, delta)
    return p


cdef inline PseudoHuberParams pseudo_huber_params(double delta) noexcept nogil:
    cdef PseudoHuberParams p
    set_pseudo_huber(&p, delta)
    return p


cdef inline LossParams element_params(const LossParams* p, const floating* param_values,
                                      Py_ssize_t i) noexcept nogil:
    # The parameters of element i: the call's own, or built from the element's beta or delta
    # (the division d / beta of an array parameter cannot become a multiplication). An invalid
    # beta (< 0) or delta (<= 0), or NaN, becomes NaN, which makes the element's loss NaN: a
    # reduction that writes nothing but its result has its parameters checked after the call,
    # and only when the result is NaN (smoothl1._api.evaluate), which saves a pass over them.
    cdef LossParams element
    cdef double value
    if LossParams is SmoothL1ArrayParams:
        value = <double>param_values[i]
        set_smooth_l1(&element, value if value >= 0 else NAN)
        return element
    elif LossParams is HuberArrayParams:
        value = <double>param_values[i]
        set_huber(&element, value if value > 0 else NAN)
        return element
    elif LossParams is PseudoHuberArrayParams:
        value = <double>param_values[i]
        set_pseudo_huber(&element, value if value > 0 else NAN)
        return element
    else:
        return p[0]


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


cdef inline double smooth_l1_exact_hess_point(double d, const SmoothL1Any* p) noexcept nogil:
    # 1 / beta if z < beta else 0 (beta = 0 never takes the first branch: 0 everywhere)
    return 1.0 / p.divisor if fabs(d) < p.beta else 0.0


cdef inline double smooth_l1_irls_hess_point(double d, const SmoothL1Any* p) noexcept nogil:
    # grad / d = min(1 / beta, 1 / z) = 1 / max(beta, z), one correctly rounded division:
    # 1 / beta at d = 0 (its limit), and for beta = 0 (plain L1) 1 / z, whose limit at
    # d = 0 is +inf (1 / 0). 0 at z = inf, and for every d when beta = inf (the loss is 0).
    cdef double z = fabs(d)
    return 1.0 / (z if z > p.beta else p.beta)


# Pseudo-Huber: with q = d / delta and z = |d|, the ratio s = min(z, delta) / max(z, delta)
# (q inside, r = delta / z beyond; finite_delta / z, so 0 at z = delta = inf) and
# g = sqrt(1 + s*s), which never overflows (s <= 1): sqrt(1 + q**2) is g inside and g / r
# outside, so loss, gradient and curvature share one division and one square root (and 1 / g).
# The formulas are the C functions smoothl1_pseudo_huber_* above (always inlined: see there).

cdef inline double pseudo_huber_loss_point(double d, const PseudoHuberAny* p) noexcept nogil:
    # delta**2 * (sqrt(1 + q**2) - 1), without the cancellation of "- 1": inside
    # z * (z / (g + 1)) (= d**2 / (sqrt(1 + q**2) + 1)), outside z * (delta / (g + r)) (the
    # same, divided through by 1/r). Nothing overflows before the result does; z = inf gives
    # inf * delta.
    return c_pseudo_huber_loss(d, p.delta, p.finite_delta)


cdef inline double pseudo_huber_grad_point(double d, const PseudoHuberAny* p) noexcept nogil:
    # d / sqrt(1 + q**2): d * (1 / g) inside, delta * sign(d) * (1 / g) outside (±delta at
    # d = ±inf). Multiplying by 1 / g (two roundings, not one) lets the curvatures reuse it.
    return c_pseudo_huber_grad(d, p.delta, p.finite_delta)


cdef inline double pseudo_huber_irls_hess_point(double d,
                                                const PseudoHuberAny* p) noexcept nogil:
    # grad / d = 1 / sqrt(1 + q**2): 1 / g inside, r / g outside; 1 at d = 0, 0 at ±inf
    return c_pseudo_huber_irls(d, p.delta, p.finite_delta)


cdef inline double pseudo_huber_exact_hess_point(double d,
                                                 const PseudoHuberAny* p) noexcept nogil:
    # (1 + q**2) ** -1.5, the cube of the irls curvature (a few ulps in double; 0 at ±inf)
    return c_pseudo_huber_exact(d, p.delta, p.finite_delta)


cdef inline double loss_point(double d, const LossParams* p) noexcept nogil:
    if LossParams is HuberParams:
        return huber_loss_point(d, p)
    elif LossParams is HuberArrayParams:
        return huber_loss_point(d, p)
    elif LossParams is PseudoHuberParams or LossParams is PseudoHuberArrayParams:
        return pseudo_huber_loss_point(d, p)
    else:
        return smooth_l1_loss_point(d, p)


cdef inline double grad_point(double d, const LossParams* p) noexcept nogil:
    if LossParams is HuberParams:
        return huber_grad_point(d, p)
    elif LossParams is HuberArrayParams:
        return huber_grad_point(d, p)
    elif LossParams is PseudoHuberParams or LossParams is PseudoHuberArrayParams:
        return pseudo_huber_grad_point(d, p)
    else:
        return smooth_l1_grad_point(d, p)


# Curvature kinds (docs/contract.md section 11), as compile-time tags like the modes below.
ctypedef struct ExactCurvatureTag:   # the true second derivative
    char unused
ctypedef struct IrlsCurvatureTag:    # grad / d, the majorize-minimize curvature
    char unused
ctypedef struct UnitCurvatureTag:    # 1 everywhere
    char unused
ctypedef fused Curvature:
    ExactCurvatureTag
    IrlsCurvatureTag
    UnitCurvatureTag


cdef inline double hess_point(const Curvature* kind, double d, const LossParams* p) noexcept nogil:
    # The curvature at d; NaN for a NaN d whatever the kind (a NaN residual has no curvature,
    # and 1 or 0 would hide it).
    cdef double hess
    if Curvature is UnitCurvatureTag:
        hess = 1.0
    elif Curvature is ExactCurvatureTag:
        if LossParams is HuberParams or LossParams is HuberArrayParams:
            hess = huber_exact_hess_point(d, p)
        elif LossParams is PseudoHuberParams or LossParams is PseudoHuberArrayParams:
            hess = pseudo_huber_exact_hess_point(d, p)
        else:
            hess = smooth_l1_exact_hess_point(d, p)
    else:
        if LossParams is HuberParams or LossParams is HuberArrayParams:
            hess = huber_irls_hess_point(d, p)
        elif LossParams is PseudoHuberParams or LossParams is PseudoHuberArrayParams:
            hess = pseudo_huber_irls_hess_point(d, p)
        else:
            hess = smooth_l1_irls_hess_point(d, p)
    return hess if d == d else d


# ---------------------------------------------------------------------------------------------
# 2. The segment loop
# ---------------------------------------------------------------------------------------------

cdef enum:
    LANES = 8          # independent partial sums: lets the compiler use SIMD for the sum
    CHUNK = 512        # elements summed into the lanes before a chunk sum is formed
    ITEM_SIZE = 16384  # elements per work item: the unit of threading and of determinism
    MAX_DIMS = 64      # NPY_MAXDIMS of NumPy 2 (NumPy 1 allows 32)
    STACK_ITEMS = 64   # item sums kept on the stack; larger calls allocate n / ITEM_SIZE doubles
    MAX_COLUMNS = 16   # the most interleaved groups column_pass sums at once (see there)

# Modes of a pass, combined as bit flags.
cdef enum:
    SUM_LOSS = 1       # return the (weighted) sum of losses
    STORE_LOSS = 2     # write the (weighted) elementwise loss
    STORE_GRAD = 4     # write the (weighted, scaled) elementwise gradient
    SUM_WEIGHT = 8     # return the sum of weights (for the weighted mean)
    STORE_HESS_EXACT = 16  # with STORE_GRAD: write the (weighted) curvature of that kind
    STORE_HESS_IRLS = 32   # (docs/contract.md section 11); grad_hess_loop, not segment_loop,
    STORE_HESS_ONE = 64    # runs these modes
    STORE_HESS = STORE_HESS_EXACT | STORE_HESS_IRLS | STORE_HESS_ONE
    SUM_BOXES = 128    # with SUM_LOSS (and SUM_WEIGHT): the sums of each group of 4 elements
                       # (a box), made by box_pass, instead of each element's value


ctypedef struct PairwiseSum:
    # Pairwise summation as a binary counter: partial[k] holds the sum of a complete, aligned
    # block of 2**k values, so the tree (and the result) depends only on the sequence of values.
    double partial[64]
    Py_ssize_t count


cdef inline void pairwise_init(PairwiseSum* s) noexcept nogil:
    s.count = 0


cdef inline void pairwise_add(PairwiseSum* s, double value) noexcept nogil:
    cdef int level = 0
    cdef Py_ssize_t carry = s.count
    while carry & 1:
        value = s.partial[level] + value
        level += 1
        carry >>= 1
    s.partial[level] = value
    s.count += 1


cdef inline double pairwise_total(const PairwiseSum* s) noexcept nogil:
    cdef double total = 0.0
    cdef bint empty = True
    cdef int level = 0
    while (s.count >> level) != 0:   # up to the highest level in use (one per short group)
        if (s.count >> level) & 1:
            total = s.partial[level] if empty else s.partial[level] + total
            empty = False
        level += 1
    return total


# Compile-time tags. Each loop below is a fused function specialised per mode and weighting
# (as well as per loss and dtype), so that inside one instance every flag is a constant: the
# compiler drops unused work and vectorises the loops, which all run over contiguous blocks
# (section 3 gathers the other layouts into buffers). This does not rely on the C compiler
# choosing to inline anything.
ctypedef struct SumLossTag:
    char unused
ctypedef struct StoreLossTag:
    char unused
ctypedef struct StoreGradTag:
    char unused
ctypedef struct SumLossStoreGradTag:
    char unused
ctypedef struct StoreLossStoreGradTag:
    char unused
ctypedef struct SumWeightTag:
    char unused
ctypedef fused Mode:
    SumLossTag
    StoreLossTag
    StoreGradTag
    SumLossStoreGradTag
    StoreLossStoreGradTag
    SumWeightTag

ctypedef struct UnweightedTag:
    char unused
ctypedef struct WeightedTag:
    char unused
ctypedef struct GroupWeightedTag:   # weighted; the gradient's normaliser comes per element
    char unused                     # (the weight sum of the element's group, section 3)
ctypedef fused Weighting:
    UnweightedTag
    WeightedTag
    GroupWeightedTag


cdef inline int mode_flags(const Mode* tag) noexcept nogil:
    if Mode is SumLossTag:
        return SUM_LOSS
    elif Mode is StoreLossTag:
        return STORE_LOSS
    elif Mode is StoreGradTag:
        return STORE_GRAD
    elif Mode is SumLossStoreGradTag:
        return SUM_LOSS | STORE_GRAD
    elif Mode is StoreLossStoreGradTag:
        return STORE_LOSS | STORE_GRAD
    else:
        return SUM_WEIGHT


cdef inline bint is_weighted(const Weighting* tag) noexcept nogil:
    if Weighting is UnweightedTag:
        return False
    else:
        return True


cdef inline double summed_value(const Mode* mode_tag, const Weighting* weighting,
                                const LossParams* p, Py_ssize_t i,
                                const floating* x, Py_ssize_t x_step,
                                const floating* t, Py_ssize_t t_step,
                                const floating* w, Py_ssize_t w_step,
                                const floating* param_values) noexcept nogil:
    # What a summing pass adds up for element i: the (weighted) loss, or the weight.
    cdef double weight = w[i * w_step] if is_weighted(weighting) else 1.0
    cdef double d
    cdef LossParams element
    if mode_flags(mode_tag) == SUM_WEIGHT:
        return weight
    element = element_params(p, param_values, i)
    d = <double>x[i * x_step] - <double>t[i * t_step]
    if is_weighted(weighting):
        return weight * loss_point(d, &element)
    return loss_point(d, &element)


cdef inline void store_values(const Mode* mode_tag, const Weighting* weighting,
                              const LossParams* p, Py_ssize_t i,
                              const floating* x, Py_ssize_t x_step,
                              const floating* t, Py_ssize_t t_step,
                              const floating* w, Py_ssize_t w_step,
                              floating* loss_out, Py_ssize_t loss_step,
                              floating* grad_out, Py_ssize_t grad_step,
                              double grad_scale, double weight_norm,
                              const floating* param_values, const double* norms) noexcept nogil:
    # Writes the (weighted) loss and/or the scaled gradient of element i: grad * grad_scale
    # without weights, grad * (weight / weight_norm) with them (weight_norm is the weight sum
    # for "mean", else 1; dividing the weight first stays exact when the weights are tiny,
    # where 1 / weight_norm would overflow; norms[i] replaces it for a group-weighted pass).
    # Both inputs are read before either output is written, so an output may be an input array.
    # NaN bits: IEEE leaves open which NaN a product of two NaNs returns, and the compiled
    # loops (SIMD builds, loop variants) order operands differently; GCC may also compile
    # sign(d) * NaN to a sign flip. Weighted values have such products (a NaN weight, or the
    # NaN weight sum of weights summing to 0, times a NaN loss or gradient), so a weighted NaN
    # is stored as the canonical quiet NaN (np.nan's bits). Unweighted values have one NaN
    # source, d, which every loop propagates alike: they need no such select.
    cdef int mode = mode_flags(mode_tag)
    cdef double weight = w[i * w_step] if is_weighted(weighting) else 1.0
    cdef double d = <double>x[i * x_step] - <double>t[i * t_step]
    cdef double loss, grad
    cdef LossParams element = element_params(p, param_values, i)
    if mode & STORE_LOSS:
        loss = loss_point(d, &element)
        if is_weighted(weighting):
            loss = weight * loss
            loss = loss if loss == loss else NAN
        loss_out[i * loss_step] = <floating>loss
    if mode & STORE_GRAD:
        grad = grad_point(d, &element)
        if Weighting is GroupWeightedTag:
            grad = grad * (weight / norms[i])
            grad = grad if grad == grad else NAN
        elif Weighting is WeightedTag:
            grad = grad * (weight / weight_norm)
            grad = grad if grad == grad else NAN
        else:
            grad = grad * grad_scale
        grad_out[i * grad_step] = <floating>grad


cdef inline double lanes_total(const double* lanes) noexcept nogil:
    # The LANES (8) partial sums, added pairwise in a fixed tree.
    return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5])
                                                              + (lanes[6] + lanes[7]))


cdef inline double lane_sum(const double* values, Py_ssize_t n) noexcept nogil:
    # Sum of n <= CHUNK values in LANES interleaved partial sums (a SIMD-friendly order that
    # is fixed, so results are reproducible), the tail into lane 0.
    cdef double lanes[LANES]
    cdef double total = 0.0
    cdef Py_ssize_t i, k
    if n < LANES:
        # everything goes to lane 0, and adding the other lanes' +0.0 changes nothing (lane 0
        # starts at +0.0, so it is never -0.0): the same bits, for the short groups of an
        # axis reduction (a box's 4 coordinates)
        for i in range(n):
            total += values[i]
        return total
    for k in range(LANES):
        lanes[k] = 0.0
    i = 0
    while i + LANES <= n:
        for k in range(LANES):
            lanes[k] += values[i + k]
        i += LANES
    while i < n:
        lanes[0] += values[i]
        i += 1
    return lanes_total(lanes)


cdef inline double chunk_pass(const Mode* mode_tag, const Weighting* weighting,
                              const LossParams* p, Py_ssize_t start,
                              const floating* x, Py_ssize_t x_step,
                              const floating* t, Py_ssize_t t_step,
                              const floating* w, Py_ssize_t w_step,
                              floating* loss_out, Py_ssize_t loss_step,
                              floating* grad_out, Py_ssize_t grad_step,
                              double grad_scale, double weight_norm,
                              const floating* param_values, const double* norms) noexcept nogil:
    # One whole chunk from element `start` on: returns lane_sum of its CHUNK summed values,
    # bit for bit, without storing them first (lane k adds up elements k, k + LANES, ... in
    # order), and makes the mode's stores in the same loop, so each difference is computed
    # once. Element i's inputs are read before its outputs are written (in-place use).
    cdef double lanes[LANES]
    cdef Py_ssize_t row, k, i
    for k in range(LANES):
        lanes[k] = 0.0
    for row in range(CHUNK // LANES):
        for k in range(LANES):
            i = start + row * LANES + k
            lanes[k] += summed_value(mode_tag, weighting, p, i, x, x_step, t, t_step, w, w_step,
                                     param_values)
            if mode_flags(mode_tag) & (STORE_LOSS | STORE_GRAD):
                store_values(mode_tag, weighting, p, i, x, x_step, t, t_step, w, w_step,
                             loss_out, loss_step, grad_out, grad_step, grad_scale, weight_norm,
                             param_values, norms)
    return lanes_total(lanes)


cdef double lane_chunk_pass(const Weighting* weighting, const LossParams* p,
                            const floating* x, const floating* t, const floating* w,
                            const floating* lane_values) noexcept nogil:
    # chunk_pass of a SUM_LOSS mode for a parameter array that repeats every LANES elements
    # (a per-coordinate beta of boxes): element i's parameter is lane_values[i % LANES]. The
    # same values and additions as chunk_pass, bit for bit, but each lane's parameters are
    # derived once a chunk, not once an element: they stay in registers across its rows.
    cdef double lanes[LANES]
    cdef LossParams element[LANES]
    cdef Py_ssize_t row, k, i
    cdef double value
    for k in range(LANES):
        lanes[k] = 0.0
        element[k] = element_params(p, lane_values, k)
    for row in range(CHUNK // LANES):
        for k in range(LANES):
            i = row * LANES + k
            value = loss_point(<double>x[i] - <double>t[i], &element[k])
            if is_weighted(weighting):   # as summed_value weighs it
                value = <double>w[i] * value
            lanes[k] += value
    return lanes_total(lanes)


ctypedef struct ChunkedSum:
    # The sum of a sequence of values, fed in pieces of any length: values are grouped in
    # chunks of CHUNK by their position in the sequence, each chunk is added up by lane_sum
    # and chunk sums pairwise. So the result depends on the sequence alone, not on how it was
    # cut into segments (which depends on the memory layout of the outputs, for example).
    double pending[CHUNK]
    Py_ssize_t n_pending
    PairwiseSum chunks


cdef inline void chunked_init(ChunkedSum* acc) noexcept nogil:
    acc.n_pending = 0
    pairwise_init(&acc.chunks)


cdef inline void chunked_add(ChunkedSum* acc, const double* values, Py_ssize_t n) noexcept nogil:
    # n <= CHUNK - acc.n_pending (callers cut their pieces at chunk boundaries)
    cdef Py_ssize_t i
    if acc.n_pending == 0 and n == CHUNK:
        pairwise_add(&acc.chunks, lane_sum(values, CHUNK))
        return
    for i in range(n):
        acc.pending[acc.n_pending + i] = values[i]
    acc.n_pending += n
    if acc.n_pending == CHUNK:
        pairwise_add(&acc.chunks, lane_sum(acc.pending, CHUNK))
        acc.n_pending = 0


cdef inline double chunked_total(ChunkedSum* acc) noexcept nogil:
    if acc.n_pending:
        pairwise_add(&acc.chunks, lane_sum(acc.pending, acc.n_pending))
        acc.n_pending = 0
    return pairwise_total(&acc.chunks)


ctypedef struct RunSteps:
    # element steps of the operands of one strided run (input, target, weight, loss, grad)
    Py_ssize_t x, t, w, loss, grad


cdef double block_pass(const Mode* mode_tag, const Weighting* weighting, const LossParams* p,
                       Py_ssize_t n, const floating* x, const floating* t, const floating* w,
                       const floating* param_values, const double* norms,
                       floating* loss_out, floating* grad_out, double grad_scale,
                       double weight_norm, double* values, const RunSteps* steps) noexcept nogil:
    # One pass over a contiguous block of n <= CHUNK elements: makes the mode's stores and,
    # for a summing mode, returns the lane_sum of the n summed values (a whole chunk sums in
    # registers, chunk_pass), or leaves them in `values` if that is not NULL (for the sums of
    # groups shorter than a chunk) and returns 0. Each input is read before an output can
    # overwrite it (in-place use). With `steps`, the operands are strided runs instead (one row
    # of a plan, or of a strided call of the C API, whose per-element parameters are
    # contiguous all the same: run_segment gathers strided ones; no norms): the simple loops
    # below, which GCC vectorises with gathers or if-converted code, cost less than copying
    # the runs first.
    cdef int mode = mode_flags(mode_tag)
    cdef double own_values[CHUNK]
    cdef double* summed = values
    cdef Py_ssize_t i
    if values == NULL:
        summed = &own_values[0]
    # A private copy of the parameters: a float64 output could otherwise alias them as far
    # as the compiler knows, and it would refuse to vectorise the stores.
    cdef LossParams params = p[0]
    p = &params
    if steps != NULL:
        if mode & (SUM_LOSS | SUM_WEIGHT):
            for i in range(n):
                summed[i] = summed_value(mode_tag, weighting, p, i, x, steps.x, t, steps.t, w,
                                         steps.w, param_values)
        if mode & (STORE_LOSS | STORE_GRAD):
            for i in range(n):
                store_values(mode_tag, weighting, p, i, x, steps.x, t, steps.t, w, steps.w,
                             loss_out, steps.loss, grad_out, steps.grad, grad_scale,
                             weight_norm, param_values, norms)
        return lane_sum(summed, n) if values == NULL else 0.0
    if not (mode & (SUM_LOSS | SUM_WEIGHT)):
        for i in range(n):
            store_values(mode_tag, weighting, p, i, x, 1, t, 1, w, 1, loss_out, 1, grad_out, 1,
                         grad_scale, weight_norm, param_values, norms)
        return 0.0
    if n == CHUNK and values == NULL:
        return chunk_pass(mode_tag, weighting, p, 0, x, 1, t, 1, w, 1, loss_out, 1, grad_out,
                          1, grad_scale, weight_norm, param_values, norms)
    for i in range(n):
        summed[i] = summed_value(mode_tag, weighting, p, i, x, 1, t, 1, w, 1, param_values)
    if mode & (STORE_LOSS | STORE_GRAD):
        for i in range(n):
            store_values(mode_tag, weighting, p, i, x, 1, t, 1, w, 1, loss_out, 1, grad_out, 1,
                         grad_scale, weight_norm, param_values, norms)
    return lane_sum(summed, n) if values == NULL else 0.0


cdef void column_pass(const Mode* mode_tag, const Weighting* weighting, const LossParams* p,
                      Py_ssize_t rows, Py_ssize_t columns, const floating* x,
                      const floating* t, const floating* w, const floating* param_values,
                      double* totals) noexcept nogil:
    # The sums of the columns of a C-ordered (rows, columns) block (rows <= CHUNK, columns <=
    # MAX_COLUMNS), as lane_sum gives them, bit for bit, for each column copied out: the
    # per-column sums of a reduction along axis 0 of boxes, read in memory order. Lane k of
    # column c is acc[k * columns + c], the position of row k's element of column c in every
    # block of LANES rows, so one contiguous vector loop adds whole blocks; the rows after the
    # last whole block go to lane 0, in order, as in lane_sum (with fewer than LANES rows,
    # lane 0 is the sequential sum and the other lanes add +0.0, which changes nothing).
    cdef double acc[LANES * MAX_COLUMNS]
    cdef double lanes[LANES]
    cdef Py_ssize_t width = LANES * columns, end = rows // LANES * width, block = 0, m, c, k
    cdef LossParams params = p[0]   # a private copy, as in block_pass
    p = &params
    for m in range(width):
        acc[m] = 0.0
    while block < end:
        for m in range(width):
            acc[m] += summed_value(mode_tag, weighting, p, block + m, x, 1, t, 1, w, 1,
                                   param_values)
        block += width
    for m in range(end, rows * columns):
        acc[m % columns] += summed_value(mode_tag, weighting, p, m, x, 1, t, 1, w, 1,
                                         param_values)
    for c in range(columns):
        for k in range(LANES):
            lanes[k] = acc[k * columns + c]
        totals[c] = lanes_total(lanes)


ctypedef struct BoxWeightTag:   # box_pass: one weight per box (an (N, 1) weight), its own step
    char unused
ctypedef fused BoxWeighting:
    UnweightedTag
    WeightedTag
    BoxWeightTag


cdef void box_pass(const BoxWeighting* weighting, const LossParams* p, Py_ssize_t n_boxes,
                   const floating* x, const floating* t, const floating* w,
                   Py_ssize_t box_weight_step, const floating* param_values,
                   double* loss_totals, double* weight_totals) noexcept nogil:
    # The loss sums of n_boxes consecutive groups of 4 contiguous elements (a loss per box),
    # and, if weight_totals is not NULL, their weight sums: each added up as lane_sum adds 4
    # values (in order, from +0.0), so bit for bit short_group_sums of block_pass's values,
    # but without storing the values and reading them back. The loop runs across boxes, which
    # the compiler vectorises with the 4 coordinates as interleaved loads. With BoxWeightTag,
    # box j's weight is w[j * box_weight_step], read once and used for its 4 elements (the
    # same products and sums as the weight broadcast to them, without gathering it).
    cdef LossParams params = p[0]   # a private copy, as in block_pass
    cdef Py_ssize_t j
    cdef int k
    cdef double total, weight
    p = &params
    for j in range(n_boxes):
        total = 0.0
        if BoxWeighting is BoxWeightTag:
            weight = <double>w[j * box_weight_step]
            for k in range(4):
                total = total + weight * summed_value(<SumLossTag*>NULL, <UnweightedTag*>NULL,
                                                      p, 4 * j + k, x, 1, t, 1, w, 1,
                                                      param_values)
        elif BoxWeighting is WeightedTag:
            for k in range(4):
                total = total + summed_value(<SumLossTag*>NULL, <WeightedTag*>NULL, p,
                                             4 * j + k, x, 1, t, 1, w, 1, param_values)
        else:
            for k in range(4):
                total = total + summed_value(<SumLossTag*>NULL, <UnweightedTag*>NULL, p,
                                             4 * j + k, x, 1, t, 1, w, 1, param_values)
        loss_totals[j] = total
    if weight_totals == NULL:
        return
    for j in range(n_boxes):
        total = 0.0
        for k in range(4):
            if BoxWeighting is BoxWeightTag:
                total = total + <double>w[j * box_weight_step]
            else:
                total = total + <double>w[4 * j + k]
        weight_totals[j] = total


cdef double run_mode(const Weighting* weighting, int mode, const LossParams* p, Py_ssize_t n,
                     const floating* x, const floating* t, const floating* w,
                     const floating* param_values, const double* norms,
                     floating* loss_out, floating* grad_out, double grad_scale,
                     double weight_norm, double* values, const RunSteps* steps) noexcept nogil:
    # block_pass specialised for the mode (the weighting and the loss are fused already)
    if mode == SUM_LOSS:
        return block_pass(<SumLossTag*>NULL, weighting, p, n, x, t, w, param_values, norms,
                          loss_out, grad_out, grad_scale, weight_norm, values, steps)
    elif mode == STORE_LOSS:
        return block_pass(<StoreLossTag*>NULL, weighting, p, n, x, t, w, param_values, norms,
                          loss_out, grad_out, grad_scale, weight_norm, values, steps)
    elif mode == STORE_GRAD:
        return block_pass(<StoreGradTag*>NULL, weighting, p, n, x, t, w, param_values, norms,
                          loss_out, grad_out, grad_scale, weight_norm, values, steps)
    elif mode == SUM_LOSS | STORE_GRAD:
        return block_pass(<SumLossStoreGradTag*>NULL, weighting, p, n, x, t, w, param_values,
                          norms, loss_out, grad_out, grad_scale, weight_norm, values, steps)
    elif mode == STORE_LOSS | STORE_GRAD:
        return block_pass(<StoreLossStoreGradTag*>NULL, weighting, p, n, x, t, w, param_values,
                          norms, loss_out, grad_out, grad_scale, weight_norm, values, steps)
    else:
        return block_pass(<SumWeightTag*>NULL, weighting, p, n, x, t, w, param_values, norms,
                          loss_out, grad_out, grad_scale, weight_norm, values, steps)


cdef enum:
    UNWEIGHTED = 0
    WEIGHTED = 1
    GROUP_WEIGHTED = 2


cdef void run_boxes(const LossParams* p, int mode, int weighting, Py_ssize_t n,
                    const floating* x, const floating* t, const floating* w,
                    Py_ssize_t box_weight_step, const floating* param_values,
                    double* values) noexcept nogil:
    # box_pass over a contiguous block of n elements (n / 4 boxes) for a SUM_BOXES mode: the
    # loss sums to values[0 .. n / 4), the weight sums (SUM_WEIGHT) to values[CHUNK / 2 ..).
    # A box_weight_step >= 0 says that w holds one weight per box, that far apart.
    cdef double* weight_totals = values + CHUNK // 2 if mode & SUM_WEIGHT else NULL
    if weighting == UNWEIGHTED:
        box_pass(<UnweightedTag*>NULL, p, n // 4, x, t, w, 0, param_values, values,
                 weight_totals)
    elif box_weight_step >= 0:
        box_pass(<BoxWeightTag*>NULL, p, n // 4, x, t, w, box_weight_step, param_values,
                 values, weight_totals)
    else:
        box_pass(<WeightedTag*>NULL, p, n // 4, x, t, w, 0, param_values, values,
                 weight_totals)


cdef inline double run_block(const LossParams* p, int mode, int weighting, Py_ssize_t n,
                             const floating* x, const floating* t, const floating* w,
                             const floating* param_values, const double* norms,
                             floating* loss_out, floating* grad_out, double grad_scale,
                             double weight_norm, double* values,
                             const RunSteps* steps) noexcept nogil:
    """One pass of `mode` over a contiguous block of n <= CHUNK elements (see block_pass).

    `w` is NULL when unweighted; `param_values` holds the per-element parameters of the array
    losses (else unused); `norms` the per-element gradient normalisers of GROUP_WEIGHTED;
    outputs the mode does not write may be NULL; `steps` is NULL for contiguous blocks.
    """
    if weighting == UNWEIGHTED:
        return run_mode(<UnweightedTag*>NULL, mode, p, n, x, t, w, param_values, norms,
                        loss_out, grad_out, grad_scale, weight_norm, values, steps)
    elif weighting == WEIGHTED:
        return run_mode(<WeightedTag*>NULL, mode, p, n, x, t, w, param_values, norms,
                        loss_out, grad_out, grad_scale, weight_norm, values, steps)
    return run_mode(<GroupWeightedTag*>NULL, mode, p, n, x, t, w, param_values, norms,
                    loss_out, grad_out, grad_scale, weight_norm, values, steps)


cdef inline const floating* block_params(const floating* param_values, Py_ssize_t param_step,
                                         Py_ssize_t start, Py_ssize_t n,
                                         floating* buffer) noexcept nogil:
    # The per-element parameters of elements [start, start + n) as one contiguous run, which
    # is how the block loops read them: the array itself for step 1, else gathered into
    # buffer (n <= CHUNK: a block's worth, so contiguous data keep their vectorised loop).
    # NULL (a scalar parameter) stays NULL.
    cdef Py_ssize_t i
    if param_values == NULL:
        return NULL
    if param_step == 1:
        return param_values + start
    for i in range(n):
        buffer[i] = param_values[(start + i) * param_step]
    return buffer


cdef void run_segment(const LossParams* p, int mode, Py_ssize_t n,
                      const floating* x, Py_ssize_t x_step,
                      const floating* t, Py_ssize_t t_step,
                      const floating* w, Py_ssize_t w_step,
                      const floating* param_values, Py_ssize_t param_step,
                      floating* loss_out, Py_ssize_t loss_step,
                      floating* grad_out, Py_ssize_t grad_step,
                      double grad_scale, double weight_norm, ChunkedSum* acc) noexcept nogil:
    """One pass of `mode` over a 1-D strided segment of n elements (steps in elements).

    Adds the losses (SUM_LOSS) or weights (SUM_WEIGHT) to acc, which may be NULL for modes
    that sum nothing. `w` may be NULL (no weights) except for SUM_WEIGHT; `param_values` holds
    the per-element parameters of the array losses (element i's at i * param_step, any step),
    NULL for the others, whose one parameter is p's; outputs the mode does not write may be
    NULL. Gradients are scaled as store_values says. The segment goes in blocks that follow
    acc's chunk grid (whole chunks when nothing is pending).
    """
    cdef bint sums = mode & (SUM_LOSS | SUM_WEIGHT)
    cdef int weighting = UNWEIGHTED if w == NULL else WEIGHTED
    cdef double values[CHUNK]
    cdef floating param_buffer[CHUNK]
    cdef RunSteps steps
    cdef const RunSteps* strided = NULL
    cdef const floating* params
    cdef Py_ssize_t start = 0, length
    steps.x = x_step
    steps.t = t_step
    steps.w = w_step
    steps.loss = loss_step
    steps.grad = grad_step
    if not ((mode == SUM_WEIGHT or (x_step == 1 and t_step == 1)) and (w == NULL or w_step == 1)
            and (not (mode & STORE_LOSS) or loss_step == 1)
            and (not (mode & STORE_GRAD) or grad_step == 1)):
        strided = &steps
    while start < n:
        length = CHUNK - (acc.n_pending if sums else 0)
        if length > n - start:
            length = n - start
        params = block_params(param_values, param_step, start, length, param_buffer)
        if not sums:
            run_block(p, mode, weighting, length, x + start * x_step, t + start * t_step,
                      NULL if w == NULL else w + start * w_step, params, NULL,
                      loss_out + start * loss_step, grad_out + start * grad_step, grad_scale,
                      weight_norm, NULL, strided)
        elif length == CHUNK:
            pairwise_add(&acc.chunks, run_block(
                p, mode, weighting, length, x + start * x_step, t + start * t_step,
                NULL if w == NULL else w + start * w_step, params, NULL,
                loss_out + start * loss_step, grad_out + start * grad_step, grad_scale,
                weight_norm, NULL, strided))
        else:   # a piece of a chunk cut by the segment's ends
            run_block(p, mode, weighting, length, x + start * x_step, t + start * t_step,
                      NULL if w == NULL else w + start * w_step, params, NULL,
                      loss_out + start * loss_step, grad_out + start * grad_step, grad_scale,
                      weight_norm, values, strided)
            chunked_add(acc, values, length)
        start += length


ctypedef struct ContiguousTag:   # grad_hess_loop's layouts: every step is 1, or not
    char unused
ctypedef struct StridedTag:
    char unused
ctypedef fused Layout:
    ContiguousTag
    StridedTag


cdef void grad_hess_loop(const Curvature* kind, const Weighting* weighting,
                         const Layout* layout, const LossParams* p, Py_ssize_t n,
                         const floating* x, Py_ssize_t x_step,
                         const floating* t, Py_ssize_t t_step,
                         const floating* w, Py_ssize_t w_step,
                         const floating* param_values,
                         floating* grad_out, Py_ssize_t grad_step,
                         floating* hess_out, Py_ssize_t hess_step) noexcept nogil:
    # Gradient and curvature of each element, each times its weight, in one pass: nothing is
    # summed, so no chunks or lanes. Both inputs are read before either output is written.
    # param_values (step 1) holds the per-element parameters of the array losses (else
    # unused); they come gathered into a contiguous block, never with StridedTag.
    cdef Py_ssize_t i
    cdef double d, weight, grad, hess
    cdef LossParams params = p[0]   # a private copy, as in block_pass
    cdef LossParams element
    p = &params
    if Layout is ContiguousTag:
        x_step = t_step = w_step = grad_step = hess_step = 1
    for i in range(n):
        d = <double>x[i * x_step] - <double>t[i * t_step]
        element = element_params(p, param_values, i)
        if LossParams is PseudoHuberParams or LossParams is PseudoHuberArrayParams:
            # the C formulas themselves, not their Cython point functions: GCC would not
            # inline those here (see smoothl1_pseudo_huber_*), and a call keeps the loop scalar
            grad = c_pseudo_huber_grad(d, element.delta, element.finite_delta)
            if Curvature is ExactCurvatureTag:
                hess = c_pseudo_huber_exact(d, element.delta, element.finite_delta)
            elif Curvature is IrlsCurvatureTag:
                hess = c_pseudo_huber_irls(d, element.delta, element.finite_delta)
            else:
                hess = 1.0
            hess = hess if d == d else d     # as hess_point
        else:
            grad = grad_point(d, &element)
            hess = hess_point(kind, d, &element)
        if Weighting is WeightedTag:
            # a weighted NaN is stored as the canonical NaN, as in store_values
            weight = w[i * w_step]
            grad = weight * grad
            grad = grad if grad == grad else NAN
            hess = weight * hess
            hess = hess if hess == hess else NAN
        grad_out[i * grad_step] = <floating>grad
        hess_out[i * hess_step] = <floating>hess


cdef void run_grad_hess_kind(const Curvature* kind, const LossParams* p, Py_ssize_t n,
                             const floating* x, Py_ssize_t x_step,
                             const floating* t, Py_ssize_t t_step,
                             const floating* w, Py_ssize_t w_step,
                             const floating* param_values,
                             floating* grad_out, Py_ssize_t grad_step,
                             floating* hess_out, Py_ssize_t hess_step) noexcept nogil:
    cdef bint contiguous = (x_step == 1 and t_step == 1 and (w == NULL or w_step == 1)
                            and grad_step == 1 and hess_step == 1)
    if w == NULL and contiguous:
        grad_hess_loop(kind, <UnweightedTag*>NULL, <ContiguousTag*>NULL, p, n, x, x_step, t,
                       t_step, w, w_step, param_values, grad_out, grad_step, hess_out,
                       hess_step)
    elif w == NULL:
        grad_hess_loop(kind, <UnweightedTag*>NULL, <StridedTag*>NULL, p, n, x, x_step, t,
                       t_step, w, w_step, param_values, grad_out, grad_step, hess_out,
                       hess_step)
    elif contiguous:
        grad_hess_loop(kind, <WeightedTag*>NULL, <ContiguousTag*>NULL, p, n, x, x_step, t,
                       t_step, w, w_step, param_values, grad_out, grad_step, hess_out,
                       hess_step)
    else:
        grad_hess_loop(kind, <WeightedTag*>NULL, <StridedTag*>NULL, p, n, x, x_step, t,
                       t_step, w, w_step, param_values, grad_out, grad_step, hess_out,
                       hess_step)


cdef void run_grad_hess_segment(const LossParams* p, int mode, Py_ssize_t n,
                                const floating* x, Py_ssize_t x_step,
                                const floating* t, Py_ssize_t t_step,
                                const floating* w, Py_ssize_t w_step,
                                const floating* param_values,
                                floating* grad_out, Py_ssize_t grad_step,
                                floating* hess_out, Py_ssize_t hess_step) noexcept nogil:
    """run_segment for the modes STORE_GRAD | STORE_HESS_<kind>: picks the specialised loop
    for the curvature kind, the weighting and the layout. `w` may be NULL (no weights);
    `param_values`, contiguous, holds the per-element parameters of the array losses (else
    it is unused, and may be NULL)."""
    if mode & STORE_HESS_EXACT:
        run_grad_hess_kind(<ExactCurvatureTag*>NULL, p, n, x, x_step, t, t_step, w, w_step,
                           param_values, grad_out, grad_step, hess_out, hess_step)
    elif mode & STORE_HESS_IRLS:
        run_grad_hess_kind(<IrlsCurvatureTag*>NULL, p, n, x, x_step, t, t_step, w, w_step,
                           param_values, grad_out, grad_step, hess_out, hess_step)
    else:
        run_grad_hess_kind(<UnitCurvatureTag*>NULL, p, n, x, x_step, t, t_step, w, w_step,
                           param_values, grad_out, grad_step, hess_out, hess_step)


# ---------------------------------------------------------------------------------------------
# 3. Plans and items
# ---------------------------------------------------------------------------------------------

cdef enum:
    N_OPERANDS = 7
    OP_INPUT = 0
    OP_TARGET = 1
    OP_WEIGHT = 2
    OP_PARAM = 3      # the per-element beta or delta (docs/contract.md section 13)
    OP_LOSS = 4
    OP_GRAD = 5
    MAX_GROUPS_PER_ITEM = ITEM_SIZE // CHUNK   # groups of >= CHUNK elements in one item
    OP_HESS = 6       # the curvature of a grad_hess call (docs/contract.md section 11)

ctypedef struct Plan:
    int ndim                              # >= 1; dimension ndim - 1 is the innermost
    Py_ssize_t size
    Py_ssize_t shape[MAX_DIMS]
    char* data[N_OPERANDS]                # NULL for an absent operand
    Py_ssize_t steps[N_OPERANDS][MAX_DIMS]  # strides in elements
    bint row_invariant[N_OPERANDS]        # the operand only varies along the innermost dimension
    bint dense[N_OPERANDS]                # the operand's memory is the flat index space, step 1
    # Groups (the sums of a reduction along axes; one group of every element otherwise): the
    # flat index is group * group_size + position in the group, the reduced dimensions being
    # the innermost. Items hold either up to groups_per_item whole groups of fewer than
    # ITEM_SIZE elements, or one ITEM_SIZE range of one group (ranges_per_group per group).
    Py_ssize_t group_size
    Py_ssize_t n_groups
    Py_ssize_t groups_per_item
    Py_ssize_t ranges_per_group
    Py_ssize_t n_tiles                    # items per range: ceil(n_groups / groups_per_item)
    # 2 to MAX_COLUMNS when the groups are the interleaved columns of a (group_size, columns)
    # C-ordered block that every operand reads in full (boxes summed along axis 0): sums then
    # go through column_pass, an item holding every column; else 0
    Py_ssize_t columns
    Py_ssize_t n_items
    double* partials                      # [group * ranges_per_group + range]: written by items
    const double* group_norms             # weight sum per group for the weighted mean's
                                          # gradient along axes, else NULL
    # Where each group's total goes (store_group_totals): results[group], rounded once to
    # float or double, after division by result_divisors[group] (or by result_divisor when
    # that is NULL); with results NULL, the total itself to partials[group].
    void* results
    bint results_double
    const double* result_divisors
    double result_divisor
    # A weighted mean along axes, loss only, of groups shorter than a chunk: each block's
    # weight sums are made just before its loss sums and divide them (run_item), instead of
    # a SUM_WEIGHT pass over the whole array and an array of weight sums
    bint fused_weight_sums


cdef void copy_runs(floating* buffer, floating* data, const Py_ssize_t* steps,
                    const Plan* plan, const Py_ssize_t* start_index, Py_ssize_t n,
                    bint gather) noexcept nogil:
    # Copies the n elements of an operand from the multi-index start_index on (flat order)
    # into the contiguous buffer (gather) or back from it (scatter), one run of the innermost
    # dimension at a time; runs as short as a box's 4 coordinates cost a few instructions.
    cdef Py_ssize_t index[MAX_DIMS]
    cdef int inner = plan.ndim - 1, k
    cdef Py_ssize_t offset = 0, done = 0, length, j
    cdef Py_ssize_t inner_step = steps[inner], row_length = plan.shape[inner]
    cdef Py_ssize_t rows, row_step, r
    cdef floating* source
    cdef floating value
    if gather and inner > 0 and start_index[inner] == 0 and n % row_length == 0 \
            and start_index[inner - 1] + n // row_length <= plan.shape[inner - 1]:
        # whole rows of the two innermost dimensions (boxes: rows of 4). Short rows are
        # copied column by column, so the inner loop runs over many rows, not over 4.
        rows = n // row_length
        row_step = steps[inner - 1]
        source = data
        for k in range(plan.ndim):
            source += start_index[k] * steps[k]
        if row_length == 4 and inner_step == 0:   # a per-box value: read once, stored 4 times
            for r in range(rows):
                value = source[r * row_step]
                buffer[4 * r] = value
                buffer[4 * r + 1] = value
                buffer[4 * r + 2] = value
                buffer[4 * r + 3] = value
        elif row_length == 4:   # (N, 4) boxes: one 4-element copy per row, unrolled
            for r in range(rows):
                buffer[4 * r] = source[r * row_step]
                buffer[4 * r + 1] = source[r * row_step + inner_step]
                buffer[4 * r + 2] = source[r * row_step + 2 * inner_step]
                buffer[4 * r + 3] = source[r * row_step + 3 * inner_step]
        elif row_length >= 16:
            for r in range(rows):
                for j in range(row_length):
                    buffer[r * row_length + j] = source[r * row_step + j * inner_step]
        else:
            for j in range(row_length):
                for r in range(rows):
                    buffer[r * row_length + j] = source[r * row_step + j * inner_step]
        return
    for k in range(plan.ndim):
        index[k] = start_index[k]
        offset += index[k] * steps[k]
    length = row_length - index[inner]
    offset -= index[inner] * inner_step   # offset of the run's first element, index[inner] = 0
    source = data + offset + start_index[inner] * inner_step
    while True:
        if length > n - done:
            length = n - done
        if gather:
            if inner_step == 0:
                for j in range(length):
                    buffer[done + j] = source[0]
            else:
                for j in range(length):
                    buffer[done + j] = source[j * inner_step]
        else:
            for j in range(length):
                source[j * inner_step] = buffer[done + j]
        done += length
        if done >= n:
            return
        k = inner - 1
        index[k] += 1
        offset += steps[k]
        while index[k] == plan.shape[k]:
            offset -= index[k] * steps[k]
            index[k] = 0
            k -= 1
            index[k] += 1
            offset += steps[k]
        source = data + offset
        length = row_length


cdef double process_block(const LossParams* p, const Plan* plan, int mode, int weighting,
                          Py_ssize_t first, Py_ssize_t n, double grad_scale,
                          double weight_norm, const double* norms, double* values,
                          floating* buffers, Py_ssize_t* cached) noexcept nogil:
    # Elements [first, first + n) of the plan's flat index space (n <= CHUNK), as one
    # contiguous block: each operand is its own data where that is one run with step 1, else
    # a CHUNK-sized slice of `buffers`, gathered before (inputs) or scattered after (outputs)
    # the pass. An input whose buffer already holds the same run is not gathered again:
    # cached[2 op], cached[2 op + 1] are the start and n of the run in the buffer, the start
    # being the position along the row for a row-invariant input (a per-column target, say:
    # every block of whole rows reads the same run) and the flat index for the others (the
    # same block passed twice: a weighted mean's weight sums, then its losses). Returns
    # run_block's value (0 for a SUM_BOXES mode, whose sums go to values: run_boxes).
    cdef Py_ssize_t index[MAX_DIMS]
    cdef floating* blocks[N_OPERANDS]
    cdef Py_ssize_t rest = first, run_start
    cdef int inner = plan.ndim - 1, k, op
    cdef bint needed, is_output, contiguous
    cdef double result
    cdef RunSteps steps
    cdef Py_ssize_t box_weight_step = -1   # >= 0: a weight per box, read in place (run_boxes)
    cdef floating lane_values[LANES]       # a parameter repeating every LANES elements
    cdef Py_ssize_t offsets[N_OPERANDS]   # of element `first` in each operand
    for op in range(N_OPERANDS):
        offsets[op] = 0
    for k in range(inner, -1, -1):
        index[k] = rest % plan.shape[k]
        rest = rest // plan.shape[k]
        # offsets summed here, while index[k] is in a register: a loop over index[] after it
        # is vectorised over MAX_DIMS and stalls on loading what was just stored
        for op in range(N_OPERANDS):
            offsets[op] += index[k] * plan.steps[op][k]
    if index[inner] + n <= plan.shape[inner] and plan.data[OP_PARAM] == NULL \
            and weighting != GROUP_WEIGHTED:
        # The block is one run of every operand (a 1-D strided array, long rows): read and
        # written in place, strided or not.
        for op in range(N_OPERANDS):
            blocks[op] = NULL
            if plan.data[op] != NULL:
                blocks[op] = (<floating*>plan.data[op]) + offsets[op]
        steps.x = plan.steps[OP_INPUT][inner]
        steps.t = plan.steps[OP_TARGET][inner]
        steps.w = plan.steps[OP_WEIGHT][inner]
        steps.loss = plan.steps[OP_LOSS][inner]
        steps.grad = plan.steps[OP_GRAD][inner]
        if mode & STORE_HESS:   # gradient and curvature: their own loop, strided or not
            run_grad_hess_segment(p, mode, n, blocks[OP_INPUT], steps.x, blocks[OP_TARGET],
                                  steps.t, blocks[OP_WEIGHT], steps.w, blocks[OP_PARAM],
                                  blocks[OP_GRAD],
                                  steps.grad, blocks[OP_HESS], plan.steps[OP_HESS][inner])
            return 0.0
        contiguous = ((mode == SUM_WEIGHT or (steps.x == 1 and steps.t == 1))
                      and (blocks[OP_WEIGHT] == NULL or steps.w == 1)
                      and (not (mode & STORE_LOSS) or steps.loss == 1)
                      and (not (mode & STORE_GRAD) or steps.grad == 1))
        for op in range(N_OPERANDS):
            cached[2 * op] = -1
        if mode & SUM_BOXES:
            if contiguous:
                run_boxes(p, mode, weighting, n, blocks[OP_INPUT], blocks[OP_TARGET],
                          blocks[OP_WEIGHT], -1, NULL, values)
                return 0.0
        else:
            return run_block(p, mode, weighting, n, blocks[OP_INPUT], blocks[OP_TARGET],
                             blocks[OP_WEIGHT], blocks[OP_PARAM], norms, blocks[OP_LOSS],
                             blocks[OP_GRAD], grad_scale, weight_norm, values,
                             NULL if contiguous else &steps)
        # a strided run of boxes: gathered below, as the other layouts are
    for op in range(N_OPERANDS):
        blocks[op] = NULL
        is_output = op == OP_LOSS or op == OP_GRAD or op == OP_HESS
        if op == OP_LOSS:
            needed = mode & STORE_LOSS
        elif op == OP_GRAD:
            needed = mode & STORE_GRAD
        elif op == OP_HESS:
            needed = mode & STORE_HESS
        elif op == OP_INPUT or op == OP_TARGET:
            needed = mode != SUM_WEIGHT
        else:
            needed = True
        if not needed or plan.data[op] == NULL:
            continue
        if plan.dense[op]:
            blocks[op] = (<floating*>plan.data[op]) + first
            cached[2 * op] = -1
            continue
        if plan.steps[op][inner] == 1 and index[inner] + n <= plan.shape[inner]:
            blocks[op] = (<floating*>plan.data[op]) + offsets[op]
            cached[2 * op] = -1
            continue
        if op == OP_WEIGHT and mode & SUM_BOXES and plan.steps[op][inner] == 0 \
                and inner > 0 and plan.shape[inner] == 4 \
                and index[inner - 1] + n // 4 <= plan.shape[inner - 1]:
            # one weight per box (a box is a row: the group of 4 is the innermost dimension),
            # the block's boxes one run of them: read in place by box_pass, not gathered
            blocks[op] = (<floating*>plan.data[op]) + offsets[op]
            box_weight_step = plan.steps[op][inner - 1]
            cached[2 * op] = -1
            continue
        if op == OP_PARAM and mode == SUM_LOSS and values == NULL and n == CHUNK \
                and plan.row_invariant[op] and LANES % plan.shape[inner] == 0:
            # a parameter that repeats every LANES elements: its LANES values (from the
            # block's position in the row on), for lane_chunk_pass instead of a gather
            for k in range(LANES):
                lane_values[k] = (<floating*>plan.data[op])[
                    (index[inner] + k) % plan.shape[inner] * plan.steps[op][inner]]
            blocks[op] = lane_values
            continue
        blocks[op] = buffers + op * CHUNK
        if is_output:
            continue
        run_start = index[inner] if plan.row_invariant[op] else first
        if cached[2 * op] == run_start and cached[2 * op + 1] == n:
            continue
        copy_runs(blocks[op], <floating*>plan.data[op], plan.steps[op], plan, index, n, True)
        cached[2 * op] = run_start
        cached[2 * op + 1] = n
    if mode & STORE_HESS:   # every block is one run with step 1 here
        run_grad_hess_segment(p, mode, n, blocks[OP_INPUT], 1, blocks[OP_TARGET], 1,
                              blocks[OP_WEIGHT], 1, blocks[OP_PARAM], blocks[OP_GRAD], 1,
                              blocks[OP_HESS], 1)
        result = 0.0
    elif blocks[OP_PARAM] == lane_values:
        if weighting == UNWEIGHTED:
            result = lane_chunk_pass(<UnweightedTag*>NULL, p, blocks[OP_INPUT],
                                     blocks[OP_TARGET], blocks[OP_WEIGHT], lane_values)
        else:
            result = lane_chunk_pass(<WeightedTag*>NULL, p, blocks[OP_INPUT],
                                     blocks[OP_TARGET], blocks[OP_WEIGHT], lane_values)
    elif mode & SUM_BOXES:
        run_boxes(p, mode, weighting, n, blocks[OP_INPUT], blocks[OP_TARGET],
                  blocks[OP_WEIGHT], box_weight_step, blocks[OP_PARAM], values)
        result = 0.0
    else:
        result = run_block(p, mode, weighting, n, blocks[OP_INPUT], blocks[OP_TARGET],
                           blocks[OP_WEIGHT], blocks[OP_PARAM], norms, blocks[OP_LOSS],
                           blocks[OP_GRAD], grad_scale, weight_norm, values, NULL)
    if blocks[OP_LOSS] == buffers + OP_LOSS * CHUNK:
        copy_runs(blocks[OP_LOSS], <floating*>plan.data[OP_LOSS], plan.steps[OP_LOSS], plan,
                  index, n, False)
    if blocks[OP_GRAD] == buffers + OP_GRAD * CHUNK:
        copy_runs(blocks[OP_GRAD], <floating*>plan.data[OP_GRAD], plan.steps[OP_GRAD], plan,
                  index, n, False)
    if blocks[OP_HESS] == buffers + OP_HESS * CHUNK:
        copy_runs(blocks[OP_HESS], <floating*>plan.data[OP_HESS], plan.steps[OP_HESS], plan,
                  index, n, False)
    return result


cdef void store_group_totals(const Plan* plan, Py_ssize_t first_group, Py_ssize_t n,
                             const double* totals, const double* divisors) noexcept nogil:
    # The totals of groups first_group, ..., first_group + n - 1, as Plan.results says, over
    # divisors[0 .. n) (those groups' divisors), or over plan.result_divisor when divisors is
    # NULL; a NaN result as np.nan (its bits would depend on the order of the additions, as in
    # reduced_scalar). Each loop is simple enough to vectorise: an axis reduction of boxes has
    # a group every four elements, and a division or a conversion per group must not cost a
    # scalar instruction.
    cdef Py_ssize_t j
    cdef double divisor = plan.result_divisor, value
    cdef double* doubles = <double*>plan.results
    cdef float* floats = <float*>plan.results
    # A sum (divisor 1) or a mean over a power-of-two count (a box's 4 coordinates): totals
    # times the exact inverse are the same doubles as totals over the divisor, without a
    # division a group, which would bound the float32 loop as much as the losses' own.
    cdef bint multiply = divisors == NULL and has_exact_inverse(divisor)
    cdef double inverse = 1.0 / divisor if multiply else 1.0
    if plan.results == NULL:
        for j in range(n):
            plan.partials[first_group + j] = totals[j]
    elif divisors != NULL and plan.results_double:
        for j in range(n):
            value = totals[j] / divisors[j]
            doubles[first_group + j] = value if value == value else NAN
    elif divisors != NULL:
        for j in range(n):
            value = totals[j] / divisors[j]
            floats[first_group + j] = <float>(value if value == value else NAN)
    elif plan.results_double and multiply:
        for j in range(n):
            value = totals[j] * inverse
            doubles[first_group + j] = value if value == value else NAN
    elif multiply:
        for j in range(n):
            value = totals[j] * inverse
            floats[first_group + j] = <float>(value if value == value else NAN)
    elif plan.results_double:
        for j in range(n):
            value = totals[j] / divisor
            doubles[first_group + j] = value if value == value else NAN
    else:
        for j in range(n):
            value = totals[j] / divisor
            floats[first_group + j] = <float>(value if value == value else NAN)


cdef inline void weight_sum_divisors(const double* weight_sums, Py_ssize_t n,
                                     double* divisors) noexcept nogil:
    # A weighted mean's divisors: each group's weight sum, NaN where it is 0 (so the mean is
    # NaN, as for the full weighted mean, not a signed infinity)
    cdef Py_ssize_t j
    for j in range(n):
        divisors[j] = weight_sums[j] if weight_sums[j] != 0 else NAN


cdef inline const double* stored_divisors(const Plan* plan, Py_ssize_t first_group) noexcept nogil:
    # plan.result_divisors from group first_group on, or NULL (plan.result_divisor for all)
    return NULL if plan.result_divisors == NULL else plan.result_divisors + first_group


cdef inline void short_group_sums(const double* values, Py_ssize_t n_groups, Py_ssize_t size,
                                  double* totals) noexcept nogil:
    # lane_sum of each of n_groups consecutive groups of size < CHUNK values. A box's 4
    # coordinates (the loss per box) are summed by a loop of its own, which the compiler
    # vectorises across groups (it knows the stride); its additions are lane_sum's for n = 4.
    cdef Py_ssize_t j
    if size == 4:
        for j in range(n_groups):
            totals[j] = (((0.0 + values[4 * j]) + values[4 * j + 1]) + values[4 * j + 2]) \
                + values[4 * j + 3]
        return
    for j in range(n_groups):
        totals[j] = lane_sum(values + j * size, size)


cdef void run_columns(const LossParams* p, const Plan* plan, int mode, Py_ssize_t start,
                      Py_ssize_t rows, double* totals, floating dtype_tag) noexcept nogil:
    # column_pass over rows [start, start + rows) of every column (a summing mode, no stores)
    cdef Py_ssize_t offset = start * plan.columns
    cdef const floating* x = (<const floating*>plan.data[OP_INPUT]) + offset
    cdef const floating* t = (<const floating*>plan.data[OP_TARGET]) + offset
    cdef const floating* w = NULL
    cdef const floating* param_values = NULL
    if plan.data[OP_WEIGHT] != NULL:
        w = (<const floating*>plan.data[OP_WEIGHT]) + offset
    if plan.data[OP_PARAM] != NULL:
        param_values = (<const floating*>plan.data[OP_PARAM]) + offset
    if mode == SUM_WEIGHT:
        column_pass(<SumWeightTag*>NULL, <WeightedTag*>NULL, p, rows, plan.columns, x, t, w,
                    param_values, totals)
    elif w == NULL:
        column_pass(<SumLossTag*>NULL, <UnweightedTag*>NULL, p, rows, plan.columns, x, t, w,
                    param_values, totals)
    else:
        column_pass(<SumLossTag*>NULL, <WeightedTag*>NULL, p, rows, plan.columns, x, t, w,
                    param_values, totals)


cdef void run_item(const LossParams* p, const Plan* plan, int mode, double grad_scale,
                   double weight_norm, Py_ssize_t item, floating dtype_tag) noexcept nogil:
    # One item: its groups' sums (or range sums) go to plan.partials, which depend on the
    # values alone, so not on which thread runs the item. A group's sum is the same whatever
    # the item: chunks of CHUNK from the group's start (lane_sum each), chunk sums pairwise
    # within an ITEM_SIZE range, range sums pairwise (execute). Blocks of whole chunks of a
    # group; groups shorter than a chunk are packed several to a block.
    cdef Py_ssize_t tile = item % plan.n_tiles, part = item // plan.n_tiles
    cdef Py_ssize_t size = plan.group_size, k, j, g, first, n, start, end, per_block
    cdef Py_ssize_t first_group = tile * plan.groups_per_item
    cdef Py_ssize_t end_group = min(plan.n_groups, first_group + plan.groups_per_item)
    cdef bint sums = mode & (SUM_LOSS | SUM_WEIGHT)
    cdef int weighting = UNWEIGHTED if plan.data[OP_WEIGHT] == NULL else WEIGHTED
    cdef bint group_norms = plan.group_norms != NULL and (mode & STORE_GRAD)
    cdef floating buffers[N_OPERANDS * CHUNK]
    cdef Py_ssize_t cached[2 * N_OPERANDS]
    cdef double values[CHUNK]
    cdef double norms[CHUNK]
    cdef PairwiseSum range_sums[MAX_GROUPS_PER_ITEM]
    cdef double group_totals[CHUNK]
    cdef double weight_totals[CHUNK]
    cdef double total
    for k in range(2 * N_OPERANDS):
        cached[k] = -1
    if size < CHUNK:
        per_block = (CHUNK // size) * size
        first = first_group * size
        while first < end_group * size:
            n = min(per_block, end_group * size - first)
            if size == 4 and mode == SUM_LOSS:
                # a loss per box: the loss sums (and a weighted mean's weight sums) of the
                # block's boxes in one pass (box_pass), the same values, bit for bit, as the
                # general path below
                process_block(p, plan, SUM_BOXES | SUM_LOSS
                              | (SUM_WEIGHT if plan.fused_weight_sums else 0),
                              weighting, first, n, grad_scale, weight_norm, NULL, values,
                              buffers, cached)
                if plan.fused_weight_sums:
                    weight_sum_divisors(values + CHUNK // 2, n // 4, weight_totals)
                    store_group_totals(plan, first // 4, n // 4, values, weight_totals)
                else:
                    store_group_totals(plan, first // 4, n // 4, values,
                                       stored_divisors(plan, first // 4))
                first += n
                continue
            if group_norms:
                for j in range(n):
                    norms[j] = plan.group_norms[(first + j) // size]
            total = process_block(p, plan,
                                  SUM_WEIGHT if plan.fused_weight_sums and sums else mode,
                                  GROUP_WEIGHTED if group_norms else weighting,
                                  first, n, grad_scale, weight_norm, norms,
                                  values if sums else NULL, buffers, cached)
            if sums and plan.fused_weight_sums:
                # a weighted mean's loss pass, its groups' weight sums summed just before it,
                # block by block, as a SUM_WEIGHT pass would (the same values, bit for bit)
                short_group_sums(values, n // size, size, group_totals)
                weight_sum_divisors(group_totals, n // size, weight_totals)
                process_block(p, plan, mode, weighting, first, n, grad_scale, weight_norm,
                              norms, values, buffers, cached)
                short_group_sums(values, n // size, size, group_totals)
                store_group_totals(plan, first // size, n // size, group_totals, weight_totals)
            elif sums:
                short_group_sums(values, n // size, size, group_totals)
                store_group_totals(plan, first // size, n // size, group_totals,
                                   stored_divisors(plan, first // size))
            first += n
        return
    start = part * ITEM_SIZE
    end = min(size, start + ITEM_SIZE)
    for g in range(end_group - first_group):
        pairwise_init(&range_sums[g])
    while start < end:
        n = min(<Py_ssize_t>CHUNK, end - start)
        if plan.columns and (mode == SUM_LOSS or mode == SUM_WEIGHT):
            run_columns(p, plan, mode, start, n, group_totals, dtype_tag)
            for g in range(plan.columns):
                pairwise_add(&range_sums[g], group_totals[g])
            start += n
            continue
        for g in range(first_group, end_group):
            if group_norms:
                weight_norm = plan.group_norms[g]
            total = process_block(p, plan, mode, weighting, g * size + start, n, grad_scale,
                                  weight_norm, NULL, NULL, buffers, cached)
            if sums:
                pairwise_add(&range_sums[g - first_group], total)
        start += n
    if sums and plan.ranges_per_group == 1:   # whole groups: their totals
        for g in range(end_group - first_group):
            group_totals[g] = pairwise_total(&range_sums[g])
        store_group_totals(plan, first_group, end_group - first_group, group_totals,
                           stored_divisors(plan, first_group))
    elif sums:
        for g in range(first_group, end_group):
            plan.partials[g * plan.ranges_per_group + part] = pairwise_total(
                &range_sums[g - first_group])


# The thread pool (src/smoothl1_pool.h): the calling thread claims items itself and helpers join
# as they wake, so a call never waits for a helper the OS has not scheduled.
cdef extern from "smoothl1_pool.h":
    ctypedef void (*smoothl1_item_fn)(void* context, Py_ssize_t item) noexcept nogil
    int SMOOTHL1_MAX_THREADS
    void smoothl1_pool_init()
    void smoothl1_pool_run(smoothl1_item_fn fn, void* context, Py_ssize_t n_items,
                           int n_threads) noexcept nogil
    int smoothl1_pool_get_limit() noexcept nogil
    void smoothl1_pool_set_limit(int limit) noexcept nogil
    void smoothl1_pool_statistics(int* helpers, int64_t* helper_items) noexcept nogil

smoothl1_pool_init()

# Which LossParams instance a PlanTask carries: the pool calls one C function for all of them.
cdef enum:
    PARAMS_SMOOTH_L1 = 0
    PARAMS_POWER_OF_TWO_SMOOTH_L1 = 1
    PARAMS_SMOOTH_L1_ARRAY = 2
    PARAMS_HUBER = 3
    PARAMS_HUBER_ARRAY = 4
    PARAMS_PSEUDO_HUBER = 5
    PARAMS_PSEUDO_HUBER_ARRAY = 6

ctypedef struct PlanTask:
    # One threaded run_plan call, as the pool's threads see it: run_item's arguments, and which
    # of its compiled instances to call.
    const void* params
    int params_kind
    bint is_double
    const Plan* plan
    int mode
    double grad_scale
    double weight_norm


cdef inline int params_kind(const LossParams* p) noexcept nogil:
    if LossParams is HuberParams:
        return PARAMS_HUBER
    elif LossParams is HuberArrayParams:
        return PARAMS_HUBER_ARRAY
    elif LossParams is PseudoHuberParams:
        return PARAMS_PSEUDO_HUBER
    elif LossParams is PseudoHuberArrayParams:
        return PARAMS_PSEUDO_HUBER_ARRAY
    elif LossParams is PowerOfTwoSmoothL1Params:
        return PARAMS_POWER_OF_TWO_SMOOTH_L1
    elif LossParams is SmoothL1ArrayParams:
        return PARAMS_SMOOTH_L1_ARRAY
    else:
        return PARAMS_SMOOTH_L1


cdef inline void run_task_item_with(const LossParams* p, const PlanTask* task,
                                    Py_ssize_t item) noexcept nogil:
    if task.is_double:
        run_item(p, task.plan, task.mode, task.grad_scale, task.weight_norm, item, <double>0)
    else:
        run_item(p, task.plan, task.mode, task.grad_scale, task.weight_norm, item, <float>0)


cdef void run_task_item(void* context, Py_ssize_t item) noexcept nogil:
    cdef const PlanTask* task = <const PlanTask*>context
    if task.params_kind == PARAMS_HUBER:
        run_task_item_with(<const HuberParams*>task.params, task, item)
    elif task.params_kind == PARAMS_HUBER_ARRAY:
        run_task_item_with(<const HuberArrayParams*>task.params, task, item)
    elif task.params_kind == PARAMS_PSEUDO_HUBER:
        run_task_item_with(<const PseudoHuberParams*>task.params, task, item)
    elif task.params_kind == PARAMS_PSEUDO_HUBER_ARRAY:
        run_task_item_with(<const PseudoHuberArrayParams*>task.params, task, item)
    elif task.params_kind == PARAMS_POWER_OF_TWO_SMOOTH_L1:
        run_task_item_with(<const PowerOfTwoSmoothL1Params*>task.params, task, item)
    elif task.params_kind == PARAMS_SMOOTH_L1_ARRAY:
        run_task_item_with(<const SmoothL1ArrayParams*>task.params, task, item)
    else:
        run_task_item_with(<const SmoothL1Params*>task.params, task, item)


cdef void run_plan(const LossParams* p, const Plan* plan, int mode, double grad_scale,
                   double weight_norm, int n_threads, floating dtype_tag) noexcept nogil:
    # Items are fixed by the plan, and each writes its own partial sums: the results are the
    # same for any n_threads, whichever thread ran which item. Threads claim one item at a
    # time: with few items, blocks would leave one thread a whole item more, and a thread the
    # OS does not run would hold up its whole block.
    cdef Py_ssize_t n_items = plan.n_items, item
    cdef PlanTask task
    if n_threads > 1:
        task.params = p
        task.params_kind = params_kind(p)
        task.is_double = floating is double
        task.plan = plan
        task.mode = mode
        task.grad_scale = grad_scale
        task.weight_norm = weight_norm
        smoothl1_pool_run(run_task_item, &task, n_items, n_threads)
    else:
        for item in range(n_items):
            run_item(p, plan, mode, grad_scale, weight_norm, item, dtype_tag)


# ---------------------------------------------------------------------------------------------
# 4. The C API
# ---------------------------------------------------------------------------------------------
# Declared, with each function's preconditions, in smoothl1/_smoothl1.pxd (the declarations of
# this module, which Cython checks these definitions against) and re-exported under the public
# name smoothl1/kernels.pxd, both generated from the same table as the definitions; `cdef api`
# also writes the C header _smoothl1_api.h (included by the hand-written smoothl1/smoothl1.h).
# The names and signatures are a stable contract, pinned by tests/cython_abi_signatures.txt.
# The AVX2 and AVX-512 modules include this file and export the same functions;
# smoothl1._dispatch points this module's __pyx_capi__ at the build in use.


cdef inline double exported_pass(const LossParams* p, const floating* param_values,
                                 Py_ssize_t param_step, int mode, Py_ssize_t n,
                                 const floating* x, Py_ssize_t x_step,
                                 const floating* t, Py_ssize_t t_step,
                                 floating* loss_out, Py_ssize_t loss_step,
                                 floating* grad_out, Py_ssize_t grad_step,
                                 floating* hess_out, Py_ssize_t hess_step,
                                 double grad_scale) noexcept nogil:
    # run_plan on one thread for a 1-D operand: items of ITEM_SIZE elements, their sums
    # combined pairwise in order. The Python API makes the same items of a 1-D array, so the
    # sums here are bit-for-bit its sums, whatever its n_threads. param_values (NULL for a
    # scalar parameter) and param_step are run_segment's. The grad_hess modes sum nothing and
    # take their own loop (grad_scale is 1 for them: they are elementwise), which reads the
    # per-element parameters contiguously: strided ones are gathered a block at a time, as
    # run_segment does.
    cdef PairwiseSum items
    cdef ChunkedSum acc
    cdef const floating* item_params
    cdef floating param_buffer[CHUNK]
    cdef Py_ssize_t start = 0, length
    if mode & STORE_HESS and (param_values == NULL or param_step == 1):
        run_grad_hess_segment(p, mode, n, x, x_step, t, t_step, <const floating*>NULL, 0,
                              param_values, grad_out, grad_step, hess_out, hess_step)
        return 0.0
    if mode & STORE_HESS:
        while start < n:
            length = CHUNK if n - start > CHUNK else n - start
            run_grad_hess_segment(p, mode, length, x + start * x_step, x_step,
                                  t + start * t_step, t_step, <const floating*>NULL, 0,
                                  block_params(param_values, param_step, start, length,
                                               param_buffer),
                                  grad_out + start * grad_step, grad_step,
                                  hess_out + start * hess_step, hess_step)
            start += length
        return 0.0
    pairwise_init(&items)
    while start < n:
        length = ITEM_SIZE if n - start > ITEM_SIZE else n - start
        chunked_init(&acc)
        item_params = param_values
        if param_values != NULL:
            item_params = param_values + start * param_step
        run_segment(p, mode, length, x + start * x_step, x_step, t + start * t_step, t_step,
                    <const floating*>NULL, 0, item_params, param_step,
                    loss_out + start * loss_step, loss_step,
                    grad_out + start * grad_step, grad_step, grad_scale, 1.0, &acc)
        pairwise_add(&items, chunked_total(&acc))
        start += length
    return pairwise_total(&items)


cdef inline double smooth_l1_pass(double beta, int mode, Py_ssize_t n,
                                  const floating* x, Py_ssize_t x_step,
                                  const floating* t, Py_ssize_t t_step,
                                  floating* loss_out, Py_ssize_t loss_step,
                                  floating* grad_out, Py_ssize_t grad_step,
                                  floating* hess_out, Py_ssize_t hess_step,
                                  double grad_scale) noexcept nogil:
    cdef SmoothL1Params p = smooth_l1_params(beta)
    cdef PowerOfTwoSmoothL1Params fast
    if has_exact_inverse(p.divisor):
        fast = power_of_two_params(&p)
        return exported_pass(&fast, <const floating*>NULL, 0, mode, n, x, x_step, t, t_step,
                             loss_out, loss_step, grad_out, grad_step, hess_out, hess_step,
                             grad_scale)
    return exported_pass(&p, <const floating*>NULL, 0, mode, n, x, x_step, t, t_step, loss_out,
                         loss_step, grad_out, grad_step, hess_out, hess_step, grad_scale)


cdef inline double huber_pass(double delta, int mode, Py_ssize_t n,
                              const floating* x, Py_ssize_t x_step,
                              const floating* t, Py_ssize_t t_step,
                              floating* loss_out, Py_ssize_t loss_step,
                              floating* grad_out, Py_ssize_t grad_step,
                              floating* hess_out, Py_ssize_t hess_step,
                              double grad_scale) noexcept nogil:
    cdef HuberParams p = huber_params(delta)
    return exported_pass(&p, <const floating*>NULL, 0, mode, n, x, x_step, t, t_step, loss_out,
                         loss_step, grad_out, grad_step, hess_out, hess_step, grad_scale)


cdef inline double pseudo_huber_pass(double delta, int mode, Py_ssize_t n,
                                     const floating* x, Py_ssize_t x_step,
                                     const floating* t, Py_ssize_t t_step,
                                     floating* loss_out, Py_ssize_t loss_step,
                                     floating* grad_out, Py_ssize_t grad_step,
                                     floating* hess_out, Py_ssize_t hess_step,
                                     double grad_scale) noexcept nogil:
    cdef PseudoHuberParams p = pseudo_huber_params(delta)
    return exported_pass(&p, <const floating*>NULL, 0, mode, n, x, x_step, t, t_step, loss_out,
                         loss_step, grad_out, grad_step, hess_out, hess_step, grad_scale)


# Per-element parameters (docs/contract.md section 13): element i's beta or delta is
# param[i * param_step]. A step of 0 is one parameter for every element: it runs the scalar
# pass above, whose results are the same bits (a power-of-two beta's multiplication included)
# and which reads the parameter once. n == 0 reads nothing, as everywhere.

cdef inline double smooth_l1_params_pass(const floating* beta, Py_ssize_t beta_step, int mode,
                                         Py_ssize_t n, const floating* x, Py_ssize_t x_step,
                                         const floating* t, Py_ssize_t t_step,
                                         floating* loss_out, Py_ssize_t loss_step,
                                         floating* grad_out, Py_ssize_t grad_step,
                                         floating* hess_out, Py_ssize_t hess_step,
                                         double grad_scale) noexcept nogil:
    cdef SmoothL1ArrayParams p
    if beta_step == 0 and n > 0:
        return smooth_l1_pass(<double>beta[0], mode, n, x, x_step, t, t_step, loss_out,
                              loss_step, grad_out, grad_step, hess_out, hess_step, grad_scale)
    set_smooth_l1(&p, 1.0)   # not read: every element builds its own from beta
    return exported_pass(&p, beta, beta_step, mode, n, x, x_step, t, t_step, loss_out,
                         loss_step, grad_out, grad_step, hess_out, hess_step, grad_scale)


cdef inline double huber_params_pass(const floating* delta, Py_ssize_t delta_step, int mode,
                                     Py_ssize_t n, const floating* x, Py_ssize_t x_step,
                                     const floating* t, Py_ssize_t t_step,
                                     floating* loss_out, Py_ssize_t loss_step,
                                     floating* grad_out, Py_ssize_t grad_step,
                                     floating* hess_out, Py_ssize_t hess_step,
                                     double grad_scale) noexcept nogil:
    cdef HuberArrayParams p
    if delta_step == 0 and n > 0:
        return huber_pass(<double>delta[0], mode, n, x, x_step, t, t_step, loss_out,
                          loss_step, grad_out, grad_step, hess_out, hess_step, grad_scale)
    set_huber(&p, 1.0)
    return exported_pass(&p, delta, delta_step, mode, n, x, x_step, t, t_step, loss_out,
                         loss_step, grad_out, grad_step, hess_out, hess_step, grad_scale)


cdef inline double pseudo_huber_params_pass(const floating* delta, Py_ssize_t delta_step,
                                            int mode, Py_ssize_t n,
                                            const floating* x, Py_ssize_t x_step,
                                            const floating* t, Py_ssize_t t_step,
                                            floating* loss_out, Py_ssize_t loss_step,
                                            floating* grad_out, Py_ssize_t grad_step,
                                            floating* hess_out, Py_ssize_t hess_step,
                                            double grad_scale) noexcept nogil:
    cdef PseudoHuberArrayParams p
    if delta_step == 0 and n > 0:
        return pseudo_huber_pass(<double>delta[0], mode, n, x, x_step, t, t_step, loss_out,
                                 loss_step, grad_out, grad_step, hess_out, hess_step,
                                 grad_scale)
    set_pseudo_huber(&p, 1.0)
    return exported_pass(&p, delta, delta_step, mode, n, x, x_step, t, t_step, loss_out,
                         loss_step, grad_out, grad_step, hess_out, hess_step, grad_scale)


# The `cdef api` functions themselves: one per loss x operation x dtype x parameter kind x
# layout (the per-element kinds for the operations the table offers them with), generated
# from the table in tools/generate_capi.py (the build writes the .pxi; it is not committed).
include "_smoothl1_capi.pxi"


# ---------------------------------------------------------------------------------------------
# 5. The Python entry
# ---------------------------------------------------------------------------------------------

# Below this many elements a call runs on one thread: starting threads costs more than it saves.
# Measured with `python -m smoothl1 bench`; see docs/threads.md.
PARALLEL_MIN_SIZE = 1 << 15
cdef Py_ssize_t _parallel_min_size = PARALLEL_MIN_SIZE

SMOOTH_L1 = 0
HUBER = 1
PSEUDO_HUBER = 2
#: curvature="..." of the grad_hess functions: its mode bits (docs/contract.md section 11)
CURVATURES = {"exact": STORE_HESS_EXACT, "irls": STORE_HESS_IRLS, "one": STORE_HESS_ONE}
REDUCTION_NONE = 0
REDUCTION_SUM = 1
REDUCTION_MEAN = 2

#: The most threads one call uses (larger n_threads are clamped to it, and to the work items).
MAX_THREADS = SMOOTHL1_MAX_THREADS


def cpu_has_avx2():
    """Whether this CPU runs AVX2 code (the _smoothl1_avx2 variant); False off x86."""
    return bool(smoothl1_cpu_has_avx2())


def cpu_has_avx512():
    """Whether this CPU runs the _smoothl1_avx512 variant (AVX-512 F, DQ, VL and BW, as in
    x86-64-v4); False off x86."""
    return bool(smoothl1_cpu_has_avx512())


def max_threads():
    """Threads a call with n_threads=None uses on a large input: set by smoothl1._threads from
    the environment at import, and by threadpoolctl."""
    return smoothl1_pool_get_limit()


def set_max_threads(int limit):
    """Set max_threads(), clamped to [1, MAX_THREADS]."""
    smoothl1_pool_set_limit(limit)


def pool_statistics():
    """{"helpers": helper threads this module's pool has started in this process (none before
    its first threaded call), "helper_items": work items they have run}."""
    cdef int helpers
    cdef int64_t helper_items
    smoothl1_pool_statistics(&helpers, &helper_items)
    return {"helpers": helpers, "helper_items": helper_items}


cdef int build_plan(Plan* plan, PyObject** operands, const bint* reduced,
                    int* kept_axes) except -1:
    # operands[op] are arrays of the input's shape or of a shape that broadcasts to it, or
    # NULL;
    # reduced[k] says whether dimension k is summed over (every one for a full reduction, and
    # for "none", where the groups do not matter). Kept dimensions come first, then reduced
    # ones, each ordered by the input's |stride| (memory order, as NumPy's order='K'): so a
    # group is a contiguous range of the flat index. Size-1 dimensions are dropped, and
    # neighbours contiguous in every operand are merged (a C or Fortran array is one run).
    # kept_axes receives the kept dimensions of size > 1 in plan order (the group order).
    cdef cnp.ndarray first = <cnp.ndarray>operands[OP_INPUT]
    cdef int ndim = cnp.PyArray_NDIM(first), k, j, op, dim, kept = 0, n_kept = 0
    cdef cnp.npy_intp* shape = cnp.PyArray_DIMS(first)
    cdef Py_ssize_t itemsize = cnp.PyArray_ITEMSIZE(first)
    cdef Py_ssize_t steps[N_OPERANDS][MAX_DIMS]
    cdef int order[MAX_DIMS]
    cdef bint mergeable
    cdef Py_ssize_t run
    cdef int offset
    cdef cnp.ndarray operand
    plan.size = cnp.PyArray_SIZE(first)
    plan.group_size = 1
    plan.n_groups = 1
    for k in range(ndim):
        if reduced[k]:
            plan.group_size *= shape[k]
        else:
            plan.n_groups *= shape[k]
    for op in range(N_OPERANDS):
        plan.data[op] = NULL
        for k in range(ndim):
            steps[op][k] = 0
        if operands[op] != NULL:
            # an operand of fewer dimensions or of size-1 ones broadcasts: step 0 there
            operand = <cnp.ndarray>operands[op]
            plan.data[op] = <char*>cnp.PyArray_DATA(operand)
            offset = ndim - cnp.PyArray_NDIM(operand)
            for k in range(offset, ndim):
                if cnp.PyArray_DIMS(operand)[k - offset] == shape[k]:
                    steps[op][k] = cnp.PyArray_STRIDES(operand)[k - offset] // itemsize
    for k in range(ndim):
        if shape[k] != 1:
            order[kept] = k
            kept += 1
    # insertion sort, kept before reduced, then outermost (largest |stride|) first; stable,
    # so C order is kept on ties
    for k in range(1, kept):
        j = k
        while j > 0 and ((reduced[order[j - 1]] and not reduced[order[j]])
                         or (reduced[order[j - 1]] == reduced[order[j]]
                             and abs(steps[OP_INPUT][order[j - 1]])
                             < abs(steps[OP_INPUT][order[j]]))):
            order[j], order[j - 1] = order[j - 1], order[j]
            j -= 1
    for k in range(kept):
        if not reduced[order[k]]:
            kept_axes[n_kept] = order[k]
            n_kept += 1
    plan.ndim = 0
    for k in range(kept):
        dim = order[k]
        mergeable = plan.ndim > 0
        for op in range(N_OPERANDS):
            if mergeable:
                mergeable = plan.steps[op][plan.ndim - 1] == shape[dim] * steps[op][dim]
        if mergeable:
            plan.shape[plan.ndim - 1] *= shape[dim]
            for op in range(N_OPERANDS):
                plan.steps[op][plan.ndim - 1] = steps[op][dim]
        else:
            plan.shape[plan.ndim] = shape[dim]
            for op in range(N_OPERANDS):
                plan.steps[op][plan.ndim] = steps[op][dim]
            plan.ndim += 1
    if plan.ndim == 0:   # 0-d, all dimensions of size 1, or no elements (nothing runs then)
        plan.ndim = 1
        plan.shape[0] = 1 if plan.size else 0
        for op in range(N_OPERANDS):
            plan.steps[op][0] = 0
    for op in range(N_OPERANDS):
        plan.row_invariant[op] = True
        plan.dense[op] = True
        run = 1
        for k in range(plan.ndim - 1, -1, -1):
            if k < plan.ndim - 1 and plan.steps[op][k] != 0:
                plan.row_invariant[op] = False
            if plan.steps[op][k] != run:
                plan.dense[op] = False
            run *= plan.shape[k]
    plan.n_items = 0
    plan.n_tiles = 1
    plan.columns = 0
    plan.groups_per_item = 1
    plan.ranges_per_group = 0
    if plan.size:
        plan.ranges_per_group = (plan.group_size + ITEM_SIZE - 1) // ITEM_SIZE
        plan.groups_per_item = max(1, ITEM_SIZE // plan.group_size)
        if plan.group_size >= ITEM_SIZE and plan.steps[OP_INPUT][plan.ndim - 1] != 1:
            # Long groups whose elements are not adjacent, as the columns of boxes summed
            # along axis 0: an item takes the same range of several groups, which share cache
            # lines, so memory is read once rather than once per group.
            plan.groups_per_item = min(plan.n_groups, <Py_ssize_t>MAX_GROUPS_PER_ITEM)
        plan.columns = 0
        if plan.ndim == 2 and plan.group_size >= CHUNK and plan.group_size == plan.shape[1] \
                and 2 <= plan.n_groups <= MAX_COLUMNS:
            plan.columns = plan.n_groups
            for op in range(OP_LOSS):   # the inputs: each read in full, C order
                if plan.data[op] != NULL and (plan.steps[op][0] != 1
                                              or plan.steps[op][1] != plan.n_groups):
                    plan.columns = 0
            if plan.columns:
                plan.groups_per_item = plan.columns
        plan.n_tiles = (plan.n_groups + plan.groups_per_item - 1) // plan.groups_per_item
        plan.n_items = plan.n_tiles * plan.ranges_per_group
    plan.partials = NULL
    plan.group_norms = NULL
    plan.results = NULL
    plan.results_double = True
    plan.result_divisors = NULL
    plan.result_divisor = 1.0
    plan.fused_weight_sums = False
    return n_kept


cdef int execute(const LossParams* p, Plan* plan, int mode, double grad_scale,
                 double weight_norm, int n_threads, bint is_double, double* totals) except -1:
    # Runs the plan. Each group's sum goes where plan.results says (store_group_totals), or,
    # without results, to totals (n_groups doubles, group order). Items write whole groups'
    # totals there directly; groups of several ranges leave their range sums in a buffer,
    # combined here.
    cdef Py_ssize_t n_partials = plan.n_groups * plan.ranges_per_group, g, k
    cdef double stack_partials[STACK_ITEMS]
    cdef double* partials = totals
    cdef PairwiseSum ranges
    cdef fexcept_t saved_flags
    if plan.ranges_per_group != 1:   # several ranges, or none (groups of no elements)
        n_partials = max(n_partials, plan.n_groups)
        partials = stack_partials
        if n_partials > STACK_ITEMS:
            partials = <double*>malloc(n_partials * sizeof(double))
            if partials == NULL:
                raise MemoryError()
    plan.partials = partials
    if n_threads > plan.n_items:
        n_threads = <int>plan.n_items if plan.n_items > 0 else 1
    if n_threads > SMOOTHL1_MAX_THREADS:
        n_threads = SMOOTHL1_MAX_THREADS
    with nogil:
        # NaN and inf inputs raise IEEE flags inside the loops; the caller's flags are restored,
        # so the library never reports floating-point exceptions of its own.
        fegetexceptflag(&saved_flags, FE_ALL_EXCEPT)
        if is_double:
            run_plan(p, plan, mode, grad_scale, weight_norm, n_threads, <double>0)
        else:
            run_plan(p, plan, mode, grad_scale, weight_norm, n_threads, <float>0)
        if plan.ranges_per_group != 1:
            # group g's range sums, pairwise, into partials[g] (g <= its first range sum's
            # index, so nothing unread is overwritten), then stored as whole totals are (0
            # for groups of no elements)
            for g in range(plan.n_groups):
                pairwise_init(&ranges)
                for k in range(plan.ranges_per_group):
                    pairwise_add(&ranges, partials[g * plan.ranges_per_group + k])
                partials[g] = pairwise_total(&ranges)
            plan.partials = totals
            store_group_totals(plan, 0, plan.n_groups, partials, plan.result_divisors)
        fesetexceptflag(&saved_flags, FE_ALL_EXCEPT)
    plan.partials = NULL
    if partials != stack_partials and partials != totals:
        free(partials)
    return 0


cdef int execute_loss(int loss_kind, double param, bint param_array, Plan* plan, int mode,
                      double grad_scale, double weight_norm, int n_threads, bint is_double,
                      double* totals) except -1:
    cdef SmoothL1Params smooth_l1
    cdef PowerOfTwoSmoothL1Params power_of_two
    cdef SmoothL1ArrayParams smooth_l1_array
    cdef HuberParams huber
    cdef HuberArrayParams huber_array
    cdef PseudoHuberParams pseudo_huber
    cdef PseudoHuberArrayParams pseudo_huber_array
    if param_array:   # each element's parameter comes from the OP_PARAM operand
        if loss_kind == SMOOTH_L1:
            set_smooth_l1(&smooth_l1_array, 1.0)
            return execute(&smooth_l1_array, plan, mode, grad_scale, weight_norm, n_threads,
                           is_double, totals)
        if loss_kind == PSEUDO_HUBER:
            set_pseudo_huber(&pseudo_huber_array, 1.0)
            return execute(&pseudo_huber_array, plan, mode, grad_scale, weight_norm,
                           n_threads, is_double, totals)
        set_huber(&huber_array, 1.0)
        return execute(&huber_array, plan, mode, grad_scale, weight_norm, n_threads, is_double,
                       totals)
    if loss_kind == PSEUDO_HUBER:
        pseudo_huber = pseudo_huber_params(param)
        return execute(&pseudo_huber, plan, mode, grad_scale, weight_norm, n_threads,
                       is_double, totals)
    if loss_kind == SMOOTH_L1:
        smooth_l1 = smooth_l1_params(param)
        if has_exact_inverse(smooth_l1.divisor):
            power_of_two = power_of_two_params(&smooth_l1)
            return execute(&power_of_two, plan, mode, grad_scale, weight_norm, n_threads,
                           is_double, totals)
        return execute(&smooth_l1, plan, mode, grad_scale, weight_norm, n_threads, is_double,
                       totals)
    huber = huber_params(param)
    return execute(&huber, plan, mode, grad_scale, weight_norm, n_threads, is_double, totals)


cdef int choose_threads(Py_ssize_t size, object n_threads):
    if n_threads is None:
        return 1 if size < _parallel_min_size else smoothl1_pool_get_limit()
    return n_threads


def compute_grad_hess(int loss_kind, double param, int curvature, cnp.ndarray input,
                      cnp.ndarray target, object weight, cnp.ndarray grad_out,
                      cnp.ndarray hess_out, object n_threads, object param_values=None):
    """Run one validated grad_hess call: writes grad_out and hess_out, elementwise.

    curvature is a value of CURVATURES; param a scalar beta or delta, or, if param_values is
    given, unused: param_values is then the array of per-element parameters (the OP_PARAM
    operand, as in compute). Preconditions as for compute, with hess_out checked like
    grad_out, and grad_out and hess_out not overlapping.
    """
    cdef Plan plan
    cdef PyObject* operands[N_OPERANDS]
    cdef bint is_double = cnp.PyArray_TYPE(input) == cnp.NPY_DOUBLE
    cdef bint reduced[MAX_DIMS]
    cdef int kept_axes[MAX_DIMS]
    cdef double total = 0.0
    cdef int k
    operands[OP_INPUT] = <PyObject*>input
    operands[OP_TARGET] = <PyObject*>target
    operands[OP_WEIGHT] = NULL if weight is None else <PyObject*>weight
    operands[OP_PARAM] = NULL if param_values is None else <PyObject*>param_values
    operands[OP_LOSS] = NULL
    operands[OP_GRAD] = <PyObject*>grad_out
    operands[OP_HESS] = <PyObject*>hess_out
    for k in range(cnp.PyArray_NDIM(input)):
        reduced[k] = True   # elementwise: one group, as reduction="none"
    build_plan(&plan, operands, reduced, kept_axes)
    execute_loss(loss_kind, param, param_values is not None, &plan, STORE_GRAD | curvature,
                 1.0, 1.0, choose_threads(cnp.PyArray_SIZE(input), n_threads), is_double,
                 &total)


def compute(int loss_kind, double param, cnp.ndarray input, cnp.ndarray target, object weight,
            int reduction, object loss_out, object grad_out, bint want_loss, bint want_grad,
            object n_threads, object grad_norm=None, object param_values=None,
            object axes=None, bint float64_groups=False):
    """Run one validated call. Returns the reduced loss (a float) or None for "none"; with
    `axes` (a tuple of distinct dimensions, reduction "sum" or "mean"), an ndarray of the
    reduced values, of input's shape without those dimensions: of input's dtype (each value
    rounded once), or float64 with float64_groups (for smoothl1.dask, which adds them up).

    grad_norm, if given, replaces the gradient's normaliser (the element count or weight sum
    of "mean", else 1): smoothl1.dask passes the global count or weight sum of all blocks
    (with axes and weights, an array of the weight sum of each group, of the reduced shape).
    param_values, if given, is an array of the per-element parameters (param is then unused).

    Preconditions (checked by smoothl1._validation, not here): input, target, weight (or None),
    param_values (or None), loss_out and grad_out (or None) are aligned, native-order arrays of
    input's shape (or, for the first four, of a shape that broadcasts to it) and of one dtype, float32 or float64, whose strides are multiples of the
    item size; outputs are writeable and do not overlap inputs except as the identical array;
    param and every parameter value are valid.
    """
    cdef Plan plan
    cdef PyObject* operands[N_OPERANDS]
    cdef bint is_double = cnp.PyArray_TYPE(input) == cnp.NPY_DOUBLE
    cdef bint reduced[MAX_DIMS]
    cdef int kept_axes[MAX_DIMS]
    cdef int mode = 0, threads, ndim = cnp.PyArray_NDIM(input), n_kept
    cdef Py_ssize_t k
    cdef double total = 0.0, weight_total = 1.0, grad_scale = 1.0, weight_norm = 1.0
    cdef Py_ssize_t size = cnp.PyArray_SIZE(input)
    cdef double* totals = &total
    cdef double* weight_sums = &weight_total
    cdef cnp.ndarray group_totals = None, group_weights = None
    operands[OP_INPUT] = <PyObject*>input
    operands[OP_TARGET] = <PyObject*>target
    operands[OP_WEIGHT] = NULL if weight is None else <PyObject*>weight
    operands[OP_PARAM] = NULL if param_values is None else <PyObject*>param_values
    operands[OP_LOSS] = NULL if loss_out is None else <PyObject*>loss_out
    operands[OP_GRAD] = NULL if grad_out is None else <PyObject*>grad_out
    operands[OP_HESS] = NULL
    for k in range(ndim):
        reduced[k] = axes is None or reduction == REDUCTION_NONE or k in axes
    n_kept = build_plan(&plan, operands, reduced, kept_axes)
    if axes is not None and reduction != REDUCTION_NONE:
        # (execute writes every group's value; group weights only for the mean)
        group_totals = _numpy.empty(plan.n_groups,
                                    _numpy.float64 if float64_groups else input.dtype)
        # the loss alone of short groups: their weight sums are made with them (run_item)
        plan.fused_weight_sums = (reduction == REDUCTION_MEAN and weight is not None
                                  and want_loss and not want_grad and grad_norm is None
                                  and 0 < plan.group_size < CHUNK)
        if reduction == REDUCTION_MEAN and weight is not None \
                and not plan.fused_weight_sums:
            # A float64 result array holds the weight sums first: each group's mean replaces
            # its weight sum once the group is summed (store_group_totals reads the divisor
            # before it writes), which spares an array of fresh pages as large.
            group_weights = group_totals if group_totals.dtype == _numpy.float64 \
                else _numpy.empty(plan.n_groups)
            weight_sums = <double*>cnp.PyArray_DATA(group_weights)
    threads = choose_threads(size, n_threads)
    if reduction == REDUCTION_MEAN:
        if weight is None:
            weight_total = <double>plan.group_size
            grad_scale = 1.0 / weight_total   # as PyTorch: a multiplication by 1/N
        elif not plan.fused_weight_sums:
            execute_loss(loss_kind, param, param_values is not None, &plan, SUM_WEIGHT, 1.0,
                         1.0, threads, is_double, weight_sums)
            for k in range(plan.n_groups):
                if weight_sums[k] == 0:
                    weight_sums[k] = NAN   # the weighted mean is undefined: NaN loss and gradient
            weight_norm = weight_sums[0]
            if group_weights is not None:
                plan.group_norms = weight_sums
    if grad_norm is not None:
        if weight is None:
            grad_scale = 1.0 / <double>grad_norm
        elif group_totals is not None:   # one weight sum per group, in input's axis order
            if group_weights is None:
                group_weights = _numpy.empty(plan.n_groups)
                weight_sums = <double*>cnp.PyArray_DATA(group_weights)
            plan_axes = [kept_axes[k] for k in range(n_kept)]
            kept = [axis for axis in range(ndim) if axis not in axes and input.shape[axis] != 1]
            group_weights[:] = _numpy.asarray(grad_norm, dtype=_numpy.float64).reshape(
                [input.shape[axis] for axis in kept]).transpose(
                [kept.index(axis) for axis in plan_axes]).ravel()
            group_weights[group_weights == 0] = NAN
            plan.group_norms = weight_sums
        else:
            weight_norm = NAN if grad_norm == 0 else <double>grad_norm
    if want_loss:
        mode |= STORE_LOSS if reduction == REDUCTION_NONE else SUM_LOSS
    if want_grad:
        mode |= STORE_GRAD
    if group_totals is not None:
        # each group's sum, or its mean: the sum over its weight sum or its element count
        plan.results = cnp.PyArray_DATA(group_totals)
        plan.results_double = is_double or float64_groups
        if reduction == REDUCTION_MEAN and weight is None:
            plan.result_divisor = weight_total
        elif reduction == REDUCTION_MEAN and not plan.fused_weight_sums:
            plan.result_divisors = weight_sums
    execute_loss(loss_kind, param, param_values is not None, &plan, mode, grad_scale,
                 weight_norm, threads, is_double, totals)
    if not want_loss or reduction == REDUCTION_NONE:
        return None
    if group_totals is not None:
        # group order is the plan's order of the kept dimensions: back to input's order
        plan_axes = [kept_axes[k] for k in range(n_kept)]
        return group_totals.reshape([input.shape[axis] for axis in plan_axes]).transpose(
            _numpy.argsort(plan_axes)).reshape(
            [input.shape[k] for k in range(ndim) if k not in axes])
    if reduction == REDUCTION_MEAN:
        return total / weight_total
    return total


cdef extern from "numpy/arrayobject.h":
    object PyArray_NewLikeArray(cnp.ndarray prototype, cnp.NPY_ORDER order, void* descr,
                                int subok)


def empty_like(cnp.ndarray input):
    """A new, uninitialised base ndarray of input's shape, dtype and memory order (like NumPy's
    order='K'), so that results of Fortran-ordered or transposed inputs stay contiguous."""
    return PyArray_NewLikeArray(input, cnp.NPY_KEEPORDER, NULL, 0)


import numpy as _numpy
_FLOAT32_SCALAR = _numpy.float32
_FLOAT64_SCALAR = _numpy.float64


def reduced_scalar(cnp.ndarray input, double value):
    """value rounded once to input's dtype, as a NumPy scalar (a NaN as np.nan). A C cast, so
    a float32 overflow gives inf quietly (NumPy's own cast would warn), and the caller's
    floating-point flags are kept (the cast may raise overflow, underflow or inexact)."""
    cdef fexcept_t saved_flags
    cdef float rounded
    if value != value:
        value = NAN   # np.nan: the bits of a sum of NaNs depend on the order of the additions
    if cnp.PyArray_TYPE(input) == cnp.NPY_DOUBLE:
        return _FLOAT64_SCALAR(value)
    fegetexceptflag(&saved_flags, FE_ALL_EXCEPT)
    rounded = <float>value
    fesetexceptflag(&saved_flags, FE_ALL_EXCEPT)
    return _FLOAT32_SCALAR(<double>rounded)


cdef class KeptFloatingPointFlags:
    """``with KeptFloatingPointFlags():`` leaves the calling thread's floating-point status
    flags as they were before the block: smoothl1 reports no flags of its own, inexact included
    (docs/contract.md section 5). Around the kernel call, the conversion of Python numbers
    and the parameter set-up."""
    cdef fexcept_t saved_flags

    def __enter__(self):
        fegetexceptflag(&self.saved_flags, FE_ALL_EXCEPT)
        return self

    def __exit__(self, *exception_info):
        fesetexceptflag(&self.saved_flags, FE_ALL_EXCEPT)
        return False


ctypedef fused wide_real:
    double
    long double


cdef void narrow(const wide_real* source, floating* result, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        result[i] = <floating>source[i]


def quiet_cast(cnp.ndarray values, cnp.ndarray like):
    """values (real numbers of any integer or float dtype, made by np.asarray from Python
    numbers) as a new C-ordered array of like's dtype, converted as C converts: beyond the
    range +-inf, below it a subnormal or 0, raising nothing (NumPy's cast would warn, or raise
    under np.errstate). Floating-point flags are left to the caller's KeptFloatingPointFlags."""
    cdef bint long_double = cnp.PyArray_TYPE(values) == cnp.NPY_LONGDOUBLE
    cdef cnp.ndarray source, result
    cdef Py_ssize_t n = cnp.PyArray_SIZE(values)
    cdef char* data
    # to double first, where that is exact (float16, float32) or cannot fail (integers)
    source = values.astype(values.dtype if long_double else _numpy.float64, order="C")
    result = _numpy.empty_like(source, like.dtype)
    data = <char*>cnp.PyArray_DATA(source)
    if cnp.PyArray_TYPE(like) == cnp.NPY_DOUBLE:
        if long_double:
            narrow(<const long double*>data, <double*>cnp.PyArray_DATA(result), n)
        else:
            result[...] = source
    elif long_double:
        narrow(<const long double*>data, <float*>cnp.PyArray_DATA(result), n)
    else:
        narrow(<const double*>data, <float*>cnp.PyArray_DATA(result), n)
    return result


def aligned(*arrays):
    """Whether every array (None is skipped) is aligned with strides in whole elements, as
    the kernels need: one cheap C-level test for the common case, before validation looks
    closer (smoothl1._validation copies misaligned inputs, refuses misaligned outputs)."""
    cdef cnp.ndarray array
    cdef int k
    cdef Py_ssize_t itemsize
    for value in arrays:
        if value is None:
            continue
        array = <cnp.ndarray?>value
        if not cnp.PyArray_ISALIGNED(array):
            return False
        itemsize = cnp.PyArray_ITEMSIZE(array)
        for k in range(cnp.PyArray_NDIM(array)):
            if cnp.PyArray_STRIDES(array)[k] % itemsize:
                return False
    return True
