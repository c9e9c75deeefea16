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
2. The segment loop. ``segment_loop`` walks one 1-D strided run and, by compile-time flags,
   sums losses (or weights), stores losses, stores gradients, in one pass. Sums go into
   ``LANES`` independent lanes over chunks of ``CHUNK`` elements, so the loop vectorises, and
   chunk sums are combined by ``PairwiseSum`` (a binary counter), so the rounding error grows
   with log(n), not n. ``run_segment`` instantiates the loop for each mode.
3. Plans and items. An N-d call becomes a ``Plan``: dimensions in memory order, size-1
   dimensions dropped, contiguous ones merged (a C or Fortran array is one segment). The flat
   index space is cut into items of ``ITEM_SIZE`` elements, which threads claim one at a time
   (src/smoothl1_pool.h); item sums are combined pairwise in item order, so every result is
   bit-for-bit the same whatever the number of threads.
4. The C API: ``cdef api`` functions over pointers, lengths and element strides, for Cython and
   C callers (declared in ``smoothl1/kernels.pxd``). They call the same segment loop; the
   functions themselves are generated from one table (``tools/generate_capi.py``).
5. The Python entry ``compute``: takes arrays already validated by ``smoothl1._validation``,
   builds a plan and runs it with the GIL released.
"""

from libc.math cimport copysign, fabs, frexp, isinf, NAN
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
    """
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

ctypedef fused SmoothL1Any:
    SmoothL1Params
    PowerOfTwoSmoothL1Params

ctypedef struct HuberParams:
    double delta       # > 0, may be inf
    double half_delta  # 0.5 * delta, or 0.0 when delta is inf (same reason as half_beta)

ctypedef fused LossParams:
    SmoothL1Params
    PowerOfTwoSmoothL1Params
    HuberParams


cdef inline SmoothL1Params smooth_l1_params(double beta) noexcept nogil:
    cdef SmoothL1Params p
    p.beta = beta
    p.divisor = beta if beta > 0 else 1.0
    p.threshold = beta if beta > 0 else 4.9406564584124654e-324
    p.half_beta = 0.0 if isinf(beta) else 0.5 * beta
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
    p.delta = delta
    p.half_delta = 0.0 if isinf(delta) else 0.5 * delta
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


cdef inline double huber_loss_point(double d, const HuberParams* p) noexcept nogil:
    # 0.5 * z**2 if z < delta else delta * (z - 0.5 * delta)
    cdef double z = fabs(d)
    cdef double quadratic = 0.5 * d * d
    cdef double linear = p.delta * (z - p.half_delta)
    return quadratic if z < p.delta else linear


cdef inline double huber_grad_point(double d, const HuberParams* p) noexcept nogil:
    # d if z < delta else delta * sign(d), written as in smooth_l1_grad_point (delta > 0)
    return copysign(p.delta, d) if fabs(d) >= p.delta else d


cdef inline double loss_point(double d, const LossParams* p) noexcept nogil:
    if LossParams is HuberParams:
        return huber_loss_point(d, p)
    else:
        return smooth_l1_loss_point(d, p)


cdef inline double grad_point(double d, const LossParams* p) noexcept nogil:
    if LossParams is HuberParams:
        return huber_grad_point(d, p)
    else:
        return smooth_l1_grad_point(d, p)


# ---------------------------------------------------------------------------------------------
# 2. The segment loop
# ---------------------------------------------------------------------------------------------

cdef enum:
    LANES = 8          # independent partial sums: lets the compiler use SIMD for the sum
    CHUNK = 512        # elements summed into the lanes before a chunk sum is formed
    ITEM_SIZE = 16384  # elements per work item: the unit of threading and of determinism
    MAX_DIMS = 64      # NPY_MAXDIMS of NumPy 2 (NumPy 1 allows 32)
    STACK_ITEMS = 64   # item sums kept on the stack; larger calls allocate n / ITEM_SIZE doubles

# Modes of a pass, combined as bit flags.
cdef enum:
    SUM_LOSS = 1       # return the (weighted) sum of losses
    STORE_LOSS = 2     # write the (weighted) elementwise loss
    STORE_GRAD = 4     # write the (weighted, scaled) elementwise gradient
    SUM_WEIGHT = 8     # return the sum of weights (for the weighted mean)


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
    cdef int level
    for level in range(64):
        if (s.count >> level) & 1:
            total = s.partial[level] if empty else s.partial[level] + total
            empty = False
    return total


# Compile-time tags. Each loop below is a fused function specialised per mode, weighting and
# layout (as well as per loss and dtype), so that inside one instance every flag is a constant:
# the compiler drops unused work and vectorises the contiguous instances. This does not rely on
# the C compiler choosing to inline anything.
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
ctypedef fused Weighting:
    UnweightedTag
    WeightedTag

ctypedef struct ContiguousTag:   # every step is 1
    char unused
ctypedef struct StridedTag:
    char unused
ctypedef fused Layout:
    ContiguousTag
    StridedTag


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


cdef inline double summed_value(const Mode* mode_tag, const Weighting* weighting,
                                const LossParams* p, Py_ssize_t i,
                                const floating* x, Py_ssize_t x_step,
                                const floating* t, Py_ssize_t t_step,
                                const floating* w, Py_ssize_t w_step) noexcept nogil:
    # What a summing pass adds up for element i: the (weighted) loss, or the weight.
    cdef double weight = w[i * w_step] if Weighting is WeightedTag else 1.0
    cdef double d
    if mode_flags(mode_tag) == SUM_WEIGHT:
        return weight
    d = <double>x[i * x_step] - <double>t[i * t_step]
    if Weighting is WeightedTag:
        return weight * loss_point(d, p)
    return loss_point(d, p)


cdef inline void store_values(const Mode* mode_tag, const Weighting* weighting,
                              const LossParams* p, Py_ssize_t i,
                              const floating* x, Py_ssize_t x_step,
                              const floating* t, Py_ssize_t t_step,
                              const floating* w, Py_ssize_t w_step,
                              floating* loss_out, Py_ssize_t loss_step,
                              floating* grad_out, Py_ssize_t grad_step,
                              double grad_scale, double weight_norm) noexcept nogil:
    # Writes the (weighted) loss and/or the scaled gradient of element i: grad * grad_scale
    # without weights, grad * (weight / weight_norm) with them (weight_norm is the weight sum
    # for "mean", else 1; dividing the weight first stays exact when the weights are tiny,
    # where 1 / weight_norm would overflow). Both inputs are read before either output is
    # written, so an output may be an input array.
    # NaN bits: IEEE leaves open which NaN a product of two NaNs returns, and the compiled
    # loops (SIMD builds, loop variants) order operands differently; GCC may also compile
    # sign(d) * NaN to a sign flip. Weighted values have such products (a NaN weight, or the
    # NaN weight sum of weights summing to 0, times a NaN loss or gradient), so a weighted NaN
    # is stored as the canonical quiet NaN (np.nan's bits). Unweighted values have one NaN
    # source, d, which every loop propagates alike: they need no such select.
    cdef int mode = mode_flags(mode_tag)
    cdef double weight = w[i * w_step] if Weighting is WeightedTag else 1.0
    cdef double d = <double>x[i * x_step] - <double>t[i * t_step]
    cdef double loss, grad
    if mode & STORE_LOSS:
        loss = loss_point(d, p)
        if Weighting is WeightedTag:
            loss = weight * loss
            loss = loss if loss == loss else NAN
        loss_out[i * loss_step] = <floating>loss
    if mode & STORE_GRAD:
        grad = grad_point(d, p)
        if Weighting is WeightedTag:
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
    cdef Py_ssize_t i, k
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
                              double grad_scale, double weight_norm) noexcept nogil:
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
            lanes[k] += summed_value(mode_tag, weighting, p, i, x, x_step, t, t_step, w, w_step)
            if mode_flags(mode_tag) & (STORE_LOSS | STORE_GRAD):
                store_values(mode_tag, weighting, p, i, x, x_step, t, t_step, w, w_step,
                             loss_out, loss_step, grad_out, grad_step, grad_scale, weight_norm)
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


cdef void segment_loop(const Mode* mode_tag, const Weighting* weighting, const Layout* layout,
                       const LossParams* p, Py_ssize_t n,
                       const floating* x, Py_ssize_t x_step,
                       const floating* t, Py_ssize_t t_step,
                       const floating* w, Py_ssize_t w_step,
                       floating* loss_out, Py_ssize_t loss_step,
                       floating* grad_out, Py_ssize_t grad_step,
                       double grad_scale, double weight_norm, ChunkedSum* acc) noexcept nogil:
    # One pass over a 1-D segment, adding what the mode sums to acc (NULL if it sums nothing).
    # Summing modes go chunk by chunk, following the chunk grid of acc: a whole contiguous
    # chunk is one vectorised loop (chunk_pass) that sums in registers and stores as it goes;
    # otherwise the summed values go through a small buffer into acc, then the stores are
    # made. Either way each input is read before an output can overwrite it (in-place use).
    cdef int mode = mode_flags(mode_tag)
    cdef bint sums = mode & (SUM_LOSS | SUM_WEIGHT)
    cdef bint stores = mode & (STORE_LOSS | STORE_GRAD)
    cdef double values[CHUNK]
    cdef Py_ssize_t start, length, i
    # A private copy of the parameters: a float64 output could otherwise alias them as far
    # as the compiler knows, and it would refuse to vectorise the stores.
    cdef LossParams params = p[0]
    p = &params
    if Layout is ContiguousTag:
        x_step = t_step = w_step = loss_step = grad_step = 1
    if not sums:
        for i in range(n):
            store_values(mode_tag, weighting, p, i, x, x_step, t, t_step, w, w_step,
                         loss_out, loss_step, grad_out, grad_step, grad_scale, weight_norm)
        return
    start = 0
    while start < n:
        length = CHUNK - acc.n_pending
        if length > n - start:
            length = n - start
        if length == CHUNK and Layout is ContiguousTag:
            pairwise_add(&acc.chunks, chunk_pass(mode_tag, weighting, p, start, x, x_step,
                                                 t, t_step, w, w_step, loss_out, loss_step,
                                                 grad_out, grad_step, grad_scale,
                                                 weight_norm))
        else:
            # strided data (GCC vectorises this simple loop, with gathers or if-converted
            # scalar code, but leaves chunk_pass's unrolled lanes as branches), and the pieces
            # of a chunk cut by segment ends
            for i in range(length):
                values[i] = summed_value(mode_tag, weighting, p, start + i, x, x_step, t,
                                         t_step, w, w_step)
            chunked_add(acc, values, length)
            if stores:
                for i in range(start, start + length):
                    store_values(mode_tag, weighting, p, i, x, x_step, t, t_step, w, w_step,
                                 loss_out, loss_step, grad_out, grad_step, grad_scale,
                                 weight_norm)
        start += length


cdef void run_weighting(const Weighting* weighting, const Layout* layout, int mode,
                        const LossParams* p, Py_ssize_t n,
                        const floating* x, Py_ssize_t x_step,
                        const floating* t, Py_ssize_t t_step,
                        const floating* w, Py_ssize_t w_step,
                        floating* loss_out, Py_ssize_t loss_step,
                        floating* grad_out, Py_ssize_t grad_step,
                        double grad_scale, double weight_norm, ChunkedSum* acc) noexcept nogil:
    if mode == SUM_LOSS:
        segment_loop(<SumLossTag*>NULL, weighting, layout, p, n, x, x_step, t, t_step, w,
                     w_step, loss_out, loss_step, grad_out, grad_step, grad_scale, weight_norm,
                     acc)
    elif mode == STORE_LOSS:
        segment_loop(<StoreLossTag*>NULL, weighting, layout, p, n, x, x_step, t, t_step, w,
                     w_step, loss_out, loss_step, grad_out, grad_step, grad_scale, weight_norm,
                     acc)
    elif mode == STORE_GRAD:
        segment_loop(<StoreGradTag*>NULL, weighting, layout, p, n, x, x_step, t, t_step, w,
                     w_step, loss_out, loss_step, grad_out, grad_step, grad_scale, weight_norm,
                     acc)
    elif mode == SUM_LOSS | STORE_GRAD:
        segment_loop(<SumLossStoreGradTag*>NULL, weighting, layout, p, n, x, x_step, t,
                     t_step, w, w_step, loss_out, loss_step, grad_out, grad_step, grad_scale,
                     weight_norm, acc)
    elif mode == STORE_LOSS | STORE_GRAD:
        segment_loop(<StoreLossStoreGradTag*>NULL, weighting, layout, p, n, x, x_step, t,
                     t_step, w, w_step, loss_out, loss_step, grad_out, grad_step, grad_scale,
                     weight_norm, acc)
    elif mode == SUM_WEIGHT:
        segment_loop(<SumWeightTag*>NULL, weighting, layout, p, n, x, x_step, t, t_step, w,
                     w_step, loss_out, loss_step, grad_out, grad_step, grad_scale, weight_norm,
                     acc)


cdef void run_segment(const LossParams* p, int mode, Py_ssize_t n,
                      const floating* x, Py_ssize_t x_step,
                      const floating* t, Py_ssize_t t_step,
                      const floating* w, Py_ssize_t w_step,
                      floating* loss_out, Py_ssize_t loss_step,
                      floating* grad_out, Py_ssize_t grad_step,
                      double grad_scale, double weight_norm, ChunkedSum* acc) noexcept nogil:
    """One pass of `mode` over a 1-D strided segment of n elements (steps in elements).

    Adds the losses (SUM_LOSS) or weights (SUM_WEIGHT) to acc, which may be NULL for modes
    that sum nothing. `w` may be NULL (no weights) except for SUM_WEIGHT; outputs the mode
    does not write may be NULL. Gradients are scaled as store_values says. Picks the
    specialised loop for the mode, the weighting and the layout.
    """
    cdef bint contiguous = ((mode == SUM_WEIGHT or (x_step == 1 and t_step == 1))
                            and (w == NULL or w_step == 1)
                            and (not (mode & STORE_LOSS) or loss_step == 1)
                            and (not (mode & STORE_GRAD) or grad_step == 1))
    if w == NULL and contiguous:
        run_weighting(<UnweightedTag*>NULL, <ContiguousTag*>NULL, mode, p, n, x, x_step, t,
                      t_step, w, w_step, loss_out, loss_step, grad_out, grad_step, grad_scale,
                      weight_norm, acc)
    elif w == NULL:
        run_weighting(<UnweightedTag*>NULL, <StridedTag*>NULL, mode, p, n, x, x_step, t,
                      t_step, w, w_step, loss_out, loss_step, grad_out, grad_step, grad_scale,
                      weight_norm, acc)
    elif contiguous:
        run_weighting(<WeightedTag*>NULL, <ContiguousTag*>NULL, mode, p, n, x, x_step, t,
                      t_step, w, w_step, loss_out, loss_step, grad_out, grad_step, grad_scale,
                      weight_norm, acc)
    else:
        run_weighting(<WeightedTag*>NULL, <StridedTag*>NULL, mode, p, n, x, x_step, t,
                      t_step, w, w_step, loss_out, loss_step, grad_out, grad_step, grad_scale,
                      weight_norm, acc)


# ---------------------------------------------------------------------------------------------
# 3. Plans and items
# ---------------------------------------------------------------------------------------------

cdef enum:
    N_OPERANDS = 5
    OP_INPUT = 0
    OP_TARGET = 1
    OP_WEIGHT = 2
    OP_LOSS = 3
    OP_GRAD = 4

ctypedef struct Plan:
    int ndim                              # >= 1; dimension ndim - 1 is the innermost
    Py_ssize_t size
    Py_ssize_t shape[MAX_DIMS]
    char* data[N_OPERANDS]                # NULL for an absent operand
    Py_ssize_t steps[N_OPERANDS][MAX_DIMS]  # strides in elements


cdef double run_item(const LossParams* p, const Plan* plan, int mode, double grad_scale,
                     double weight_norm, Py_ssize_t first, Py_ssize_t last,
                     floating dtype_tag) noexcept nogil:
    # Elements [first, last) of the plan's flat (memory-order) index space, one segment of the
    # innermost dimension at a time, all summed into one ChunkedSum: the item's sum does not
    # depend on where segments begin and end.
    cdef Py_ssize_t index[MAX_DIMS]
    cdef Py_ssize_t offset[N_OPERANDS]
    cdef Py_ssize_t rest = first, position = first, length
    cdef int inner = plan.ndim - 1, k, op
    cdef ChunkedSum acc
    cdef const floating* w
    for k in range(inner, -1, -1):
        index[k] = rest % plan.shape[k]
        rest = rest // plan.shape[k]
    chunked_init(&acc)
    while position < last:
        length = plan.shape[inner] - index[inner]
        if length > last - position:
            length = last - position
        for op in range(N_OPERANDS):
            offset[op] = 0
            for k in range(plan.ndim):
                offset[op] += index[k] * plan.steps[op][k]
        w = NULL
        if plan.data[OP_WEIGHT] != NULL:
            w = (<const floating*>plan.data[OP_WEIGHT]) + offset[OP_WEIGHT]
        run_segment(
            p, mode, length,
            (<const floating*>plan.data[OP_INPUT]) + offset[OP_INPUT], plan.steps[OP_INPUT][inner],
            (<const floating*>plan.data[OP_TARGET]) + offset[OP_TARGET], plan.steps[OP_TARGET][inner],
            w, plan.steps[OP_WEIGHT][inner],
            (<floating*>plan.data[OP_LOSS]) + offset[OP_LOSS], plan.steps[OP_LOSS][inner],
            (<floating*>plan.data[OP_GRAD]) + offset[OP_GRAD], plan.steps[OP_GRAD][inner],
            grad_scale, weight_norm, &acc)
        position += length
        index[inner] += length
        k = inner
        while k > 0 and index[k] == plan.shape[k]:
            index[k] = 0
            k -= 1
            index[k] += 1
    return chunked_total(&acc)


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

cdef enum:
    PARAMS_SMOOTH_L1 = 0
    PARAMS_POWER_OF_TWO_SMOOTH_L1 = 1
    PARAMS_HUBER = 2

ctypedef struct PlanTask:
    # One threaded run_plan call, as the pool's threads see it: run_item's arguments, and which
    # of its compiled instances to call (the pool calls one C function for all of them).
    const void* params
    int params_kind
    bint is_double
    const Plan* plan
    int mode
    double grad_scale
    double weight_norm
    double* item_sums


cdef void run_task_item(void* context, Py_ssize_t item) noexcept nogil:
    cdef const PlanTask* task = <const PlanTask*>context
    cdef Py_ssize_t first = item * ITEM_SIZE
    cdef Py_ssize_t last = min(task.plan.size, first + ITEM_SIZE)
    cdef double total
    if task.params_kind == PARAMS_HUBER:
        if task.is_double:
            total = run_item(<const HuberParams*>task.params, task.plan, task.mode,
                             task.grad_scale, task.weight_norm, first, last, <double>0)
        else:
            total = run_item(<const HuberParams*>task.params, task.plan, task.mode,
                             task.grad_scale, task.weight_norm, first, last, <float>0)
    elif task.params_kind == PARAMS_POWER_OF_TWO_SMOOTH_L1:
        if task.is_double:
            total = run_item(<const PowerOfTwoSmoothL1Params*>task.params, task.plan, task.mode,
                             task.grad_scale, task.weight_norm, first, last, <double>0)
        else:
            total = run_item(<const PowerOfTwoSmoothL1Params*>task.params, task.plan, task.mode,
                             task.grad_scale, task.weight_norm, first, last, <float>0)
    else:
        if task.is_double:
            total = run_item(<const SmoothL1Params*>task.params, task.plan, task.mode,
                             task.grad_scale, task.weight_norm, first, last, <double>0)
        else:
            total = run_item(<const SmoothL1Params*>task.params, task.plan, task.mode,
                             task.grad_scale, task.weight_norm, first, last, <float>0)
    task.item_sums[item] = total


cdef double run_plan(const LossParams* p, const Plan* plan, int mode, double grad_scale,
                     double weight_norm, int n_threads, double* item_sums,
                     floating dtype_tag) noexcept nogil:
    # Items are fixed by ITEM_SIZE and combined in item order: the result is the same for any
    # n_threads, whichever thread ran which item. item_sums has room for one double per item.
    # Threads claim one item at a time: with few items, blocks would leave one thread a whole
    # item more, and a thread the OS does not run would hold up its whole block.
    cdef Py_ssize_t n_items = (plan.size + ITEM_SIZE - 1) // ITEM_SIZE, item
    cdef PairwiseSum items
    cdef PlanTask task
    if n_threads > 1:
        task.params = p
        if LossParams is HuberParams:
            task.params_kind = PARAMS_HUBER
        elif LossParams is PowerOfTwoSmoothL1Params:
            task.params_kind = PARAMS_POWER_OF_TWO_SMOOTH_L1
        else:
            task.params_kind = PARAMS_SMOOTH_L1
        task.is_double = floating is double
        task.plan = plan
        task.mode = mode
        task.grad_scale = grad_scale
        task.weight_norm = weight_norm
        task.item_sums = item_sums
        smoothl1_pool_run(run_task_item, &task, n_items, n_threads)
    else:
        for item in range(n_items):
            item_sums[item] = run_item(p, plan, mode, grad_scale, weight_norm,
                                       item * ITEM_SIZE,
                                       min(plan.size, (item + 1) * ITEM_SIZE), dtype_tag)
    pairwise_init(&items)
    for item in range(n_items):
        pairwise_add(&items, item_sums[item])
    return pairwise_total(&items)


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


cdef inline double exported_pass(const LossParams* p, int mode, Py_ssize_t n,
                                 const floating* x, Py_ssize_t x_step,
                                 const floating* t, Py_ssize_t t_step,
                                 floating* loss_out, Py_ssize_t loss_step,
                                 floating* grad_out, Py_ssize_t grad_step,
                                 double grad_scale) noexcept nogil:
    # run_plan on one thread for a 1-D operand: items of ITEM_SIZE elements, their sums
    # combined pairwise in order. The Python API makes the same items of a 1-D array, so the
    # sums here are bit-for-bit its sums, whatever its n_threads.
    cdef PairwiseSum items
    cdef ChunkedSum acc
    cdef Py_ssize_t start = 0, length
    pairwise_init(&items)
    while start < n:
        length = ITEM_SIZE if n - start > ITEM_SIZE else n - start
        chunked_init(&acc)
        run_segment(p, mode, length, x + start * x_step, x_step, t + start * t_step, t_step,
                    <const floating*>NULL, 0, loss_out + start * loss_step, loss_step,
                    grad_out + start * grad_step, grad_step, grad_scale, 1.0, &acc)
        pairwise_add(&items, chunked_total(&acc))
        start += length
    return pairwise_total(&items)


cdef inline double smooth_l1_pass(double beta, int mode, Py_ssize_t n,
                                  const floating* x, Py_ssize_t x_step,
                                  const floating* t, Py_ssize_t t_step,
                                  floating* loss_out, Py_ssize_t loss_step,
                                  floating* grad_out, Py_ssize_t grad_step,
                                  double grad_scale) noexcept nogil:
    cdef SmoothL1Params p = smooth_l1_params(beta)
    cdef PowerOfTwoSmoothL1Params fast
    if has_exact_inverse(p.divisor):
        fast = power_of_two_params(&p)
        return exported_pass(&fast, mode, n, x, x_step, t, t_step, loss_out, loss_step,
                             grad_out, grad_step, grad_scale)
    return exported_pass(&p, mode, n, x, x_step, t, t_step, loss_out, loss_step,
                         grad_out, grad_step, grad_scale)


cdef inline double huber_pass(double delta, int mode, Py_ssize_t n,
                              const floating* x, Py_ssize_t x_step,
                              const floating* t, Py_ssize_t t_step,
                              floating* loss_out, Py_ssize_t loss_step,
                              floating* grad_out, Py_ssize_t grad_step,
                              double grad_scale) noexcept nogil:
    cdef HuberParams p = huber_params(delta)
    return exported_pass(&p, mode, n, x, x_step, t, t_step, loss_out, loss_step,
                         grad_out, grad_step, grad_scale)


# The `cdef api` functions themselves: one per loss x operation x dtype x layout, generated
# from the table in tools/generate_capi.py (the build writes the .pxi; it is not committed).
include "_smoothl1_capi.pxi"


# ---------------------------------------------------------------------------------------------
# 5. The Python entry
# ---------------------------------------------------------------------------------------------

# Below this many elements a call runs on one thread: starting threads costs more than it saves.
# Measured with `python -m smoothl1 bench`; see README "Threads".
PARALLEL_MIN_SIZE = 1 << 15
cdef Py_ssize_t _parallel_min_size = PARALLEL_MIN_SIZE

SMOOTH_L1 = 0
HUBER = 1
REDUCTION_NONE = 0
REDUCTION_SUM = 1
REDUCTION_MEAN = 2

#: The most threads one call uses (larger n_threads are clamped to it, and to the work items).
MAX_THREADS = SMOOTHL1_MAX_THREADS
#: The kernels use their own thread pool (src/smoothl1_pool.h), not OpenMP.
HAVE_OPENMP = False


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


cdef int build_plan(Plan* plan, PyObject** operands) except -1:
    # operands[op] are arrays of the input's shape, or NULL (callers broadcast before).
    # Dimensions are ordered by the input's |stride| (memory order, as NumPy's order='K'),
    # size-1 dimensions are dropped, and neighbours contiguous in every operand are merged.
    cdef cnp.ndarray first = <cnp.ndarray>operands[OP_INPUT]
    cdef int ndim = cnp.PyArray_NDIM(first), k, j, op, dim, kept = 0
    cdef cnp.npy_intp* shape = cnp.PyArray_DIMS(first)
    cdef Py_ssize_t itemsize = cnp.PyArray_ITEMSIZE(first)
    cdef Py_ssize_t steps[N_OPERANDS][MAX_DIMS]
    cdef int order[MAX_DIMS]
    cdef bint mergeable
    plan.size = cnp.PyArray_SIZE(first)
    for op in range(N_OPERANDS):
        plan.data[op] = NULL
        for k in range(ndim):
            steps[op][k] = 0
        if operands[op] != NULL:
            plan.data[op] = <char*>cnp.PyArray_DATA(<cnp.ndarray>operands[op])
            for k in range(ndim):
                steps[op][k] = cnp.PyArray_STRIDES(<cnp.ndarray>operands[op])[k] // itemsize
    for k in range(ndim):
        if shape[k] != 1:
            order[kept] = k
            kept += 1
    # insertion sort, outermost (largest |stride|) first; stable, so C order is kept on ties
    for k in range(1, kept):
        j = k
        while j > 0 and abs(steps[OP_INPUT][order[j - 1]]) < abs(steps[OP_INPUT][order[j]]):
            order[j], order[j - 1] = order[j - 1], order[j]
            j -= 1
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
    return 0


cdef double execute(const LossParams* p, Plan* plan, int mode, double grad_scale,
                    double weight_norm, int n_threads, bint is_double) except? -1.0:
    cdef Py_ssize_t n_items = (plan.size + ITEM_SIZE - 1) // ITEM_SIZE
    cdef double stack_sums[STACK_ITEMS]
    cdef double* item_sums = stack_sums
    cdef double result
    cdef fexcept_t saved_flags
    if n_items > STACK_ITEMS:
        item_sums = <double*>malloc(n_items * sizeof(double))
        if item_sums == NULL:
            raise MemoryError()
    if n_threads > n_items:
        n_threads = <int>n_items if n_items > 0 else 1
    if n_threads > SMOOTHL1_MAX_THREADS:
        n_threads = SMOOTHL1_MAX_THREADS
    with nogil:
        # NaN and inf inputs raise IEEE flags inside the loops; the caller's flags are restored,
        # so the library never reports floating-point exceptions of its own.
        fegetexceptflag(&saved_flags, FE_ALL_EXCEPT)
        if is_double:
            result = run_plan(p, plan, mode, grad_scale, weight_norm, n_threads, item_sums,
                              <double>0)
        else:
            result = run_plan(p, plan, mode, grad_scale, weight_norm, n_threads, item_sums,
                              <float>0)
        fesetexceptflag(&saved_flags, FE_ALL_EXCEPT)
    if item_sums != stack_sums:
        free(item_sums)
    return result


cdef double execute_loss(int loss_kind, double param, Plan* plan, int mode,
                         double grad_scale, double weight_norm, int n_threads,
                         bint is_double) except? -1.0:
    cdef SmoothL1Params smooth_l1
    cdef PowerOfTwoSmoothL1Params power_of_two
    cdef HuberParams huber
    if loss_kind == SMOOTH_L1:
        smooth_l1 = smooth_l1_params(param)
        if has_exact_inverse(smooth_l1.divisor):
            power_of_two = power_of_two_params(&smooth_l1)
            return execute(&power_of_two, plan, mode, grad_scale, weight_norm, n_threads,
                           is_double)
        return execute(&smooth_l1, plan, mode, grad_scale, weight_norm, n_threads, is_double)
    huber = huber_params(param)
    return execute(&huber, plan, mode, grad_scale, weight_norm, n_threads, is_double)


def compute(int loss_kind, double param, cnp.ndarray input, cnp.ndarray target, object weight,
            int reduction, object loss_out, object grad_out, bint want_loss, bint want_grad,
            object n_threads, object grad_norm=None):
    """Run one validated call. Returns the reduced loss (a float) or None for "none".

    grad_norm, if given, replaces the gradient's normaliser (the element count or weight sum
    of "mean", else 1): smoothl1.dask passes the global count or weight sum of all blocks.

    Preconditions (checked by smoothl1._validation, not here): input, target, weight (or None),
    loss_out and grad_out (or None) are aligned, native-order arrays of input's shape and of
    one dtype, float32 or float64, whose strides are multiples of the item size; outputs are
    writeable and do not overlap inputs except as the identical array; param is valid.
    """
    cdef Plan plan
    cdef PyObject* operands[N_OPERANDS]
    cdef bint is_double = cnp.PyArray_TYPE(input) == cnp.NPY_DOUBLE
    cdef int mode = 0, threads
    cdef double total, weight_sum = 1.0, grad_scale = 1.0, weight_norm = 1.0
    cdef Py_ssize_t size = cnp.PyArray_SIZE(input)
    operands[OP_INPUT] = <PyObject*>input
    operands[OP_TARGET] = <PyObject*>target
    operands[OP_WEIGHT] = NULL if weight is None else <PyObject*>weight
    operands[OP_LOSS] = NULL if loss_out is None else <PyObject*>loss_out
    operands[OP_GRAD] = NULL if grad_out is None else <PyObject*>grad_out
    build_plan(&plan, operands)
    if n_threads is None:
        threads = 1 if size < _parallel_min_size else smoothl1_pool_get_limit()
    else:
        threads = n_threads
    if reduction == REDUCTION_MEAN:
        if weight is None:
            weight_sum = <double>size
            grad_scale = 1.0 / weight_sum   # as PyTorch: a multiplication by 1/N
        else:
            weight_sum = execute_loss(loss_kind, param, &plan, SUM_WEIGHT, 1.0, 1.0, threads,
                                      is_double)
            if weight_sum == 0:
                weight_sum = NAN   # the weighted mean is undefined: NaN loss and gradient
            weight_norm = weight_sum
    if grad_norm is not None:
        if weight is None:
            grad_scale = 1.0 / <double>grad_norm
        else:
            weight_norm = NAN if grad_norm == 0 else <double>grad_norm
    if want_loss:
        mode |= STORE_LOSS if reduction == REDUCTION_NONE else SUM_LOSS
    if want_grad:
        mode |= STORE_GRAD
    total = execute_loss(loss_kind, param, &plan, mode, grad_scale, weight_norm, threads,
                         is_double)
    if not want_loss or reduction == REDUCTION_NONE:
        return None
    if reduction == REDUCTION_MEAN:
        return total / weight_sum
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
