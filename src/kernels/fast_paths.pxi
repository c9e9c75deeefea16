# The fast paths of the block loop: sums with a loop of their own that adds the same values
# in the same order, bit for bit. A parameter repeating every LANES elements (lane_chunk_pass),
# interleaved columns summed along axis 0 (column_pass), boxes summed along their 4
# coordinates (box_pass, run_boxes).

cdef double lane_chunk_pass(const PlainWeighting* weighting, const LossParams* p,
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



ctypedef fused ColumnMode:   # column_pass sums losses or weights, and stores nothing
    SumLossTag
    SumWeightTag


cdef void column_pass(const ColumnMode* mode_tag, const PlainWeighting* weighting,
                      const LossParams* p,
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

