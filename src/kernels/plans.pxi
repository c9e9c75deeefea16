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
    # A weighted mean along axes of groups shorter than a chunk (Dask's given weight sums
    # aside): each block's weight sums are made just before its loss sums and gradients,
    # which they divide (run_item), instead of a SUM_WEIGHT pass over the whole array and an
    # array of weight sums (one double a group: as large as the input for groups of one)
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


cdef inline bint operands_in_place(const Plan* plan, int mode) noexcept nogil:
    # Whether every block of the plan is read and written in place with step 1, as
    # process_block would find it, block after block: every operand dense (its memory is the
    # flat index space), no per-element parameters to gather, no curvatures.
    cdef int op
    if plan.data[OP_PARAM] != NULL or mode & STORE_HESS:
        return False
    for op in range(N_OPERANDS):
        if op != OP_PARAM and op != OP_HESS and plan.data[op] != NULL and not plan.dense[op]:
            return False
    return True


cdef inline floating* operand_at(const Plan* plan, int op, Py_ssize_t first,
                                 floating dtype_tag) noexcept nogil:
    # Element `first` of a dense operand, NULL for an absent one.
    if plan.data[op] == NULL:
        return NULL
    return (<floating*>plan.data[op]) + first


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
    cdef Py_ssize_t at
    # Dense operands (flat arrays, C-contiguous ones reduced whole): each block straight to
    # run_block, as process_block would pass it, without its per-block work (the block's
    # index and offsets, the operand checks). Those hundred cycles between two blocks of 4 KB
    # an operand stall the stream of loads from memory: the flat mean of 3e7 doubles on one
    # thread took a quarter longer with them (docs/speed.md, bench --against).
    cdef bint in_place = operands_in_place(plan, mode) and not group_norms
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
            if plan.fused_weight_sums:
                # a weighted mean's pass, its groups' weight sums summed just before it, block
                # by block, as a SUM_WEIGHT pass would (the same values, bit for bit): they
                # divide the groups' loss sums and normalise their gradients
                process_block(p, plan, SUM_WEIGHT, weighting, first, n, grad_scale,
                              weight_norm, NULL, values, buffers, cached)
                short_group_sums(values, n // size, size, group_totals)
                weight_sum_divisors(group_totals, n // size, weight_totals)
                if mode & STORE_GRAD:
                    for j in range(n):
                        norms[j] = weight_totals[j // size]
                process_block(p, plan, mode,
                              GROUP_WEIGHTED if mode & STORE_GRAD else weighting, first, n,
                              grad_scale, weight_norm, norms, values if sums else NULL,
                              buffers, cached)
                if sums:
                    short_group_sums(values, n // size, size, group_totals)
                    store_group_totals(plan, first // size, n // size, group_totals,
                                       weight_totals)
                first += n
                continue
            if group_norms:
                for j in range(n):
                    norms[j] = plan.group_norms[(first + j) // size]
            total = process_block(p, plan, mode, GROUP_WEIGHTED if group_norms else weighting,
                                  first, n, grad_scale, weight_norm, norms,
                                  values if sums else NULL, buffers, cached)
            if sums:
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
            if in_place:
                at = g * size + start
                total = run_block(p, mode, weighting, n, operand_at(plan, OP_INPUT, at, dtype_tag),
                                  operand_at(plan, OP_TARGET, at, dtype_tag),
                                  operand_at(plan, OP_WEIGHT, at, dtype_tag), NULL, NULL,
                                  operand_at(plan, OP_LOSS, at, dtype_tag),
                                  operand_at(plan, OP_GRAD, at, dtype_tag), grad_scale,
                                  weight_norm, NULL, NULL)
            else:
                total = process_block(p, plan, mode, weighting, g * size + start, n,
                                      grad_scale, weight_norm, NULL, NULL, buffers, cached)
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
