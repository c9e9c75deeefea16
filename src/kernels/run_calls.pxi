# Running a validated call (section 5 of the map in src/_smoothl1.pyx): its plan, built from the
# arrays (build_plan, section 3; plan_call, with a target or weight given as a number), the
# number of threads (choose_threads), and the run, with the GIL released but for plans of fewer
# than GIL_RELEASE_MIN_SIZE elements (execute). run_loss and run_grad_hess run one call of a
# loss function or of grad_hess: compute and compute_grad_hess (kernels/python_entry.pxi) and
# the small calls (kernels/small_calls.pxi) run them both.

# Below this many elements a call runs on one thread: starting threads costs more than it saves.
# Measured with `python -m smoothl1 bench`; see docs/threads.md.
PARALLEL_MIN_SIZE = 1 << 15
cdef Py_ssize_t _parallel_min_size = PARALLEL_MIN_SIZE
# Below this many elements a call keeps the GIL (docs/contract.md section 8): it computes in
# about a microsecond, less than other Python threads would wait for the GIL to come back.
cdef enum:
    GIL_RELEASE_MIN_SIZE = 1 << 10


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


cdef void run_and_combine(const LossParams* p, Plan* plan, int mode, double grad_scale,
                          double weight_norm, int n_threads, bint is_double, double* totals,
                          double* partials) noexcept nogil:
    # execute's computation, with or without the GIL
    cdef PairwiseSum ranges
    cdef Py_ssize_t g, k
    # NaN and inf inputs raise IEEE flags inside the loops; the caller's flags are restored,
    # so the library never reports floating-point exceptions of its own.
    cdef int raised_before = raised_flags()
    if is_double:
        run_plan(p, plan, mode, grad_scale, weight_norm, n_threads, <double>0)
    else:
        run_plan(p, plan, mode, grad_scale, weight_norm, n_threads, <float>0)
    if plan.ranges_per_group != 1 and mode & (SUM_LOSS | SUM_WEIGHT):
        # group g's range sums, pairwise, into partials[g] (g <= its first range sum's
        # index, so nothing unread is overwritten), then stored as whole totals are (0
        # for groups of no elements). Not for a pass that sums nothing (a gradient along
        # axes): it has no results, and totals is then one double, not one a group.
        for g in range(plan.n_groups):
            pairwise_init(&ranges)
            for k in range(plan.ranges_per_group):
                pairwise_add(&ranges, partials[g * plan.ranges_per_group + k])
            partials[g] = pairwise_total(&ranges)
        plan.partials = totals
        store_group_totals(plan, 0, plan.n_groups, partials, plan.result_divisors)
    clear_flags_raised_since(raised_before)


cdef int execute(const LossParams* p, Plan* plan, int mode, double grad_scale,
                 double weight_norm, int n_threads, bint is_double, double* totals) except -1:
    # Runs the plan. Each group's sum goes where plan.results says (store_group_totals), or,
    # without results, to totals (n_groups doubles, group order). Items write whole groups'
    # totals there directly; groups of several ranges leave their range sums in a buffer,
    # combined here.
    cdef Py_ssize_t n_partials = plan.n_groups * plan.ranges_per_group
    cdef double stack_partials[STACK_ITEMS]
    cdef double* partials = totals
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
    # A small plan keeps the GIL: releasing and taking it back costs more than its whole
    # computation (NumPy's ufuncs keep it below 500 elements for the same reason).
    if plan.size >= GIL_RELEASE_MIN_SIZE:
        with nogil:
            run_and_combine(p, plan, mode, grad_scale, weight_norm, n_threads, is_double,
                            totals, partials)
    else:
        run_and_combine(p, plan, mode, grad_scale, weight_norm, n_threads, is_double, totals,
                        partials)
    plan.partials = NULL
    if partials != stack_partials and partials != totals:
        free(partials)
    return 0


cdef int choose_threads(Py_ssize_t size, object n_threads):
    if n_threads is None:
        return 1 if size < _parallel_min_size else smoothl1_pool_get_limit()
    return n_threads


cdef int plan_call(Plan* plan, PyObject** operands, const void* target_number,
                   const void* weight_number, const bint* reduced, int* kept_axes) except -1:
    # build_plan, with a target or weight given as a number (the small calls of
    # kernels/small_calls.pxi) rather than an array: its operand is NULL for build_plan, which
    # gives it a step of 0 everywhere, as a 0-d array, and then reads it at the number.
    cdef int n_kept = build_plan(plan, operands, reduced, kept_axes)
    if target_number != NULL:
        plan.data[OP_TARGET] = <char*>target_number
    if weight_number != NULL:
        plan.data[OP_WEIGHT] = <char*>weight_number
    return n_kept


cdef int run_grad_hess(int loss_kind, double param, bint param_array, int curvature,
                       PyObject** operands, const void* target_number,
                       const void* weight_number, int threads, bint is_double) except -1:
    # One validated grad_hess call, elementwise: one group, as reduction="none".
    cdef Plan plan
    cdef bint reduced[MAX_DIMS]
    cdef int kept_axes[MAX_DIMS]
    cdef double total = 0.0
    cdef int k
    for k in range(cnp.PyArray_NDIM(<cnp.ndarray>operands[OP_INPUT])):
        reduced[k] = True
    plan_call(&plan, operands, target_number, weight_number, reduced, kept_axes)
    return execute_loss(loss_kind, param, param_array, &plan, STORE_GRAD | curvature, 1.0,
                        1.0, threads, is_double, &total)


cdef object run_loss(int loss_kind, double param, bint param_array, PyObject** operands,
                     const void* target_number, const void* weight_number, int reduction,
                     bint want_loss, bint want_grad, int threads, object grad_norm,
                     object axes, bint float64_groups, object reduced_out, double* total):
    # One validated call of a loss function (see compute, and kernels/small_calls.pxi, whose
    # target or weight may be a number): the reduced loss goes to *total, or, along axes, is
    # returned (an ndarray of the reduced values); else None is returned.
    cdef Plan plan
    cdef cnp.ndarray input = <cnp.ndarray>operands[OP_INPUT]
    cdef bint is_double = cnp.PyArray_TYPE(input) == cnp.NPY_DOUBLE
    cdef bint weighted = operands[OP_WEIGHT] != NULL or weight_number != NULL
    cdef bint reduced[MAX_DIMS]
    cdef int kept_axes[MAX_DIMS]
    cdef int mode = 0, ndim = cnp.PyArray_NDIM(input), n_kept
    cdef Py_ssize_t k
    cdef double weight_total = 1.0, grad_scale = 1.0, weight_norm = 1.0
    cdef double* totals = total
    cdef double* weight_sums = &weight_total
    cdef cnp.ndarray group_totals = None, group_weights = None
    cdef bint written_in_place = False
    total[0] = 0.0
    for k in range(ndim):
        reduced[k] = axes is None or reduction == REDUCTION_NONE or k in axes
    n_kept = plan_call(&plan, operands, target_number, weight_number, reduced, kept_axes)
    if axes is not None and reduction != REDUCTION_NONE:
        # (execute writes every group's value, if the loss is wanted; group weights only for
        # the mean)
        if want_loss and reduced_out is not None:
            group_totals = results_view(reduced_out, input, axes,
                                        [kept_axes[k] for k in range(n_kept)])
            written_in_place = group_totals is not None
        if want_loss and group_totals is None:
            group_totals = _numpy.empty(plan.n_groups,
                                        _numpy.float64 if float64_groups else input.dtype)
        # Short groups: their weight sums are made block by block, just before their losses
        # and gradients (run_item), rather than by a SUM_WEIGHT pass into an array of one
        # double a group, which is as large as the input for groups of one float64 element
        plan.fused_weight_sums = (reduction == REDUCTION_MEAN and weighted
                                  and grad_norm is None and 0 < plan.group_size < CHUNK)
        if reduction == REDUCTION_MEAN and weighted and not plan.fused_weight_sums:
            # A float64 result array holds the weight sums first: each group's mean replaces
            # its weight sum once the group is summed (store_group_totals reads the divisor
            # before it writes), which spares an array of fresh pages as large.
            group_weights = group_totals if group_totals is not None \
                and group_totals.dtype == _numpy.float64 else _numpy.empty(plan.n_groups)
            weight_sums = <double*>cnp.PyArray_DATA(group_weights)
    if reduction == REDUCTION_MEAN:
        if not weighted:
            weight_total = <double>plan.group_size
            grad_scale = 1.0 / weight_total   # as PyTorch: a multiplication by 1/N
        elif not plan.fused_weight_sums:
            execute_loss(loss_kind, param, param_array, &plan, SUM_WEIGHT, 1.0, 1.0, threads,
                         is_double, weight_sums)
            for k in range(plan.n_groups):
                if weight_sums[k] == 0:
                    weight_sums[k] = NAN   # the weighted mean is undefined: NaN loss and gradient
            weight_norm = weight_sums[0]
            if group_weights is not None:
                plan.group_norms = weight_sums
    if grad_norm is not None:
        if not weighted:
            grad_scale = 1.0 / <double>grad_norm
        elif axes is not None:   # one weight sum per group, in input's axis order
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
        if reduction == REDUCTION_MEAN and not weighted:
            plan.result_divisor = weight_total
        elif reduction == REDUCTION_MEAN and not plan.fused_weight_sums:
            plan.result_divisors = weight_sums
    execute_loss(loss_kind, param, param_array, &plan, mode, grad_scale, weight_norm, threads,
                 is_double, totals)
    if not want_loss or reduction == REDUCTION_NONE:
        return None
    if written_in_place:
        return reduced_out
    if group_totals is not None:
        # group order is the plan's order of the kept dimensions: back to input's order
        plan_axes = [kept_axes[k] for k in range(n_kept)]
        return group_totals.reshape([input.shape[axis] for axis in plan_axes]).transpose(
            _numpy.argsort(plan_axes)).reshape(
            [input.shape[k] for k in range(ndim) if k not in axes])
    if reduction == REDUCTION_MEAN:
        total[0] = total[0] / weight_total
    return None


def results_view(cnp.ndarray out, cnp.ndarray input, object axes, list plan_axes):
    """out (a writeable array of the reduced shape of input along axes, of input's dtype) as
    the 1-D array of the groups' results in the plan's order (plan_axes: the kept dimensions
    longer than 1, outermost first), a view of out's memory; None where out's layout does not
    allow one (out is then filled from an array of its size). Any out whose memory follows the
    input's order qualifies: a C-ordered out of a C-ordered input, a Fortran-ordered one of a
    Fortran-ordered input, a row of results per box."""
    cdef Py_ssize_t expected = cnp.PyArray_ITEMSIZE(out)
    cdef cnp.npy_intp size = 1
    # out's stride along each kept dimension of input (out has none along a reduced one
    # without keepdims; plan_axes holds no reduced one)
    kept = [axis for axis in range(input.ndim) if out.ndim == input.ndim or axis not in axes]
    strides = dict(zip(kept, (<object>out).strides))
    for axis in reversed(plan_axes):   # innermost first
        if strides[axis] != expected:
            return None
        expected *= input.shape[axis]
        size *= input.shape[axis]
    view = cnp.PyArray_SimpleNewFromData(1, &size, cnp.PyArray_TYPE(out),
                                         cnp.PyArray_DATA(out))
    cnp.set_array_base(view, out)   # keeps out alive while the view is
    return view
