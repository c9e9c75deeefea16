# The block loop (section 2 of the map in src/_smoothl1.pyx): one pass over a block of at
# most CHUNK elements per mode, and the 1-D strided segment walker of the C API.

cdef inline double summed_value(const SummingMode* mode_tag, const Weighting* weighting,
                                const LossParams* p, Py_ssize_t i,
                                const floating* x, Py_ssize_t x_step,
                                const floating* t, Py_ssize_t t_step,
                                const floating* w, Py_ssize_t w_step,
                                const floating* param_values) noexcept nogil:
    # What a summing pass adds up for element i: the (weighted) loss, or the weight.
    cdef double weight = w[i * w_step] if is_weighted(weighting) else 1.0
    cdef double d
    cdef LossParams element
    if SummingMode is SumWeightTag:
        return weight
    else:   # (an else: no unreachable code in the weight's instances)
        element = element_params(p, param_values, i)
        d = <double>x[i * x_step] - <double>t[i * t_step]
        if is_weighted(weighting):
            return weight * loss_point(d, &element)
        return loss_point(d, &element)


cdef inline void store_values(const StoringMode* mode_tag, const Weighting* weighting,
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
    cdef double weight = w[i * w_step] if is_weighted(weighting) else 1.0
    cdef double d = <double>x[i * x_step] - <double>t[i * t_step]
    cdef double loss, grad
    cdef LossParams element = element_params(p, param_values, i)
    if StoringMode in LossStoringMode:
        loss = loss_point(d, &element)
        if is_weighted(weighting):
            loss = weight * loss
            loss = loss if loss == loss else NAN
        loss_out[i * loss_step] = <floating>loss
    if StoringMode in GradStoringMode:
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



cdef extern from *:
    """
    /* Whether whole float64 chunks sum in registers (chunk_pass). Not with Clang (14): it
       leaves chunk_pass's loop scalar for the longer point functions (log-cosh's mean ran
       10-17 times slower than GCC's build), while it vectorises the stored path below. */
    #if defined(__clang__)
    #define SMOOTHL1_SUM_IN_REGISTERS 0
    #else
    #define SMOOTHL1_SUM_IN_REGISTERS 1
    #endif
    """
    const bint SUM_IN_REGISTERS "SMOOTHL1_SUM_IN_REGISTERS"


cdef inline double chunk_pass(const SummingMode* mode_tag, const Weighting* weighting,
                              const LossParams* p, Py_ssize_t start,
                              const double* x, Py_ssize_t x_step,
                              const double* t, Py_ssize_t t_step,
                              const double* w, Py_ssize_t w_step,
                              double* loss_out, Py_ssize_t loss_step,
                              double* grad_out, Py_ssize_t grad_step,
                              double grad_scale, double weight_norm,
                              const double* param_values, const double* norms) noexcept nogil:
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
            if SummingMode in StoringMode:
                store_values(mode_tag, weighting, p, i, x, x_step, t, t_step, w, w_step,
                             loss_out, loss_step, grad_out, grad_step, grad_scale, weight_norm,
                             param_values, norms)
    return lanes_total(lanes)



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
    cdef double own_values[CHUNK]
    cdef double* summed = values
    cdef double lanes[LANES]
    cdef Py_ssize_t i, k, piece
    if values == NULL:
        summed = &own_values[0]
    # A private copy of the parameters: a float64 output could otherwise alias them as far
    # as the compiler knows, and it would refuse to vectorise the stores.
    cdef LossParams params = p[0]
    p = &params
    if steps != NULL:
        if Mode in SummingMode:
            for i in range(n):
                summed[i] = summed_value(mode_tag, weighting, p, i, x, steps.x, t, steps.t, w,
                                         steps.w, param_values)
        if Mode in StoringMode:
            for i in range(n):
                store_values(mode_tag, weighting, p, i, x, steps.x, t, steps.t, w, steps.w,
                             loss_out, steps.loss, grad_out, steps.grad, grad_scale,
                             weight_norm, param_values, norms)
        return lane_sum(summed, n) if values == NULL else 0.0
    if Mode not in SummingMode:
        for i in range(n):
            store_values(mode_tag, weighting, p, i, x, 1, t, 1, w, 1, loss_out, 1, grad_out, 1,
                         grad_scale, weight_norm, param_values, norms)
        return 0.0
    else:   # (an else, so that Cython writes none of this for the modes above)
        # A whole float64 chunk sums in registers (chunk_pass). A float32 one is stored first
        # and summed after (the same lane_sum, so the same bits): GCC vectorises chunk_pass's
        # float32 loop at half width with spills (the float-to-double conversions), and the
        # simple loops below run 1.2x (smooth L1) to 2x (pseudo-Huber, log-cosh, Cauchy)
        # faster. A summing pass that also stores (the loss and its gradient) stores the
        # summed value and the gradient in one loop, so each difference and its loss are
        # computed once: float32 loss+grad then took 0.27 ns an element instead of 0.335 for
        # smooth L1, 3.9 instead of 5.7 for log-cosh (one AVX-512 thread, 10^5 elements).
        # Clang stores float64 chunks too (SUM_IN_REGISTERS, above).
        if floating is double and SUM_IN_REGISTERS and n == CHUNK and values == NULL:
            return chunk_pass(mode_tag, weighting, p, 0, x, 1, t, 1, w, 1, loss_out, 1,
                              grad_out, 1, grad_scale, weight_norm, param_values, norms)
        if n == CHUNK and values == NULL:
            # A whole chunk is stored and summed a piece of SUB_BLOCK values at a time: each
            # lane's additions are one chain of dependent additions (3-4 cycles each), and
            # the chain of a whole chunk, summed after its loop, stalled the next chunk's
            # loop; a piece's chain overlaps the next piece's loop. Lane k still adds elements
            # k, k + LANES, ... in order: lane_sum's bits. (float32 smooth L1 on one AVX-512
            # thread, 10^5-10^6 elements: the loss 0.195 -> 0.147 ns an element, the loss and
            # its gradient 0.28 -> 0.235; the mean of 3e7 on one thread 11.5 -> 7.0 ms.) Its
            # own loop, not the one below cut into pieces: GCC vectorises these constant trip
            # counts well, and one loop over pieces of variable length ran 1.25x slower.
            for k in range(LANES):
                lanes[k] = 0.0
            for piece in range(CHUNK // SUB_BLOCK):
                for i in range(piece * SUB_BLOCK, (piece + 1) * SUB_BLOCK):
                    summed[i] = summed_value(mode_tag, weighting, p, i, x, 1, t, 1, w, 1,
                                             param_values)
                    if Mode in StoringMode:
                        store_values(mode_tag, weighting, p, i, x, 1, t, 1, w, 1, loss_out, 1,
                                     grad_out, 1, grad_scale, weight_norm, param_values, norms)
                lanes_add(lanes, summed + piece * SUB_BLOCK, SUB_BLOCK)
            return lanes_total(lanes)
        for i in range(n):
            summed[i] = summed_value(mode_tag, weighting, p, i, x, 1, t, 1, w, 1,
                                     param_values)
            if Mode in StoringMode:
                store_values(mode_tag, weighting, p, i, x, 1, t, 1, w, 1, loss_out, 1,
                             grad_out, 1, grad_scale, weight_norm, param_values, norms)
        return lane_sum(summed, n) if values == NULL else 0.0



cdef double run_mode(const Weighting* weighting, int mode, const LossParams* p, Py_ssize_t n,
                     const floating* x, const floating* t, const floating* w,
                     const floating* param_values, const double* norms,
                     floating* loss_out, floating* grad_out, double grad_scale,
                     double weight_norm, double* values, const RunSteps* steps) noexcept nogil:
    # block_pass specialised for the mode (the weighting and the loss are fused already). A
    # group weighting is only passed with a gradient mode, but leaving out its other instances
    # (which Cython analyses anyway) changed GCC's inlining of the callers: 7% more code, and
    # a slower compile.
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

