# The Python entry (section 5 of the map in src/_smoothl1.pyx): compute and compute_grad_hess
# take arrays already validated by smoothl1._core.validation, build a plan (section 3) and run it
# (run_loss, run_grad_hess: the small calls of kernels/small_calls.pxi run them too), with the
# GIL released but for plans of fewer than GIL_RELEASE_MIN_SIZE elements; small helpers of the
# Python side.

# Below this many elements a call runs on one thread: starting threads costs more than it saves.
# Measured with `python -m smoothl1 bench`; see docs/threads.md.
PARALLEL_MIN_SIZE = 1 << 15
cdef Py_ssize_t _parallel_min_size = PARALLEL_MIN_SIZE
# Below this many elements a call keeps the GIL (docs/contract.md section 8): it computes in
# about a microsecond, less than other Python threads would wait for the GIL to come back.
cdef enum:
    GIL_RELEASE_MIN_SIZE = 1 << 10

#: curvature="..." of the grad_hess functions: its mode bits (docs/contract.md section 11)
CURVATURES = {"exact": STORE_HESS_EXACT, "irls": STORE_HESS_IRLS, "one": STORE_HESS_ONE}
REDUCTION_NONE = 0
REDUCTION_SUM = 1
REDUCTION_MEAN = 2
#: reduction= of the loss functions, and the kernel's reduction of each. The two means by name
#: (docs/contract.md section 20), as smoothl1.torch names them: "weighted_mean" is "mean", and
#: "element_mean" a mean whose divisor the caller replaces where there are weights.
REDUCTIONS = {"none": REDUCTION_NONE, "mean": REDUCTION_MEAN, "sum": REDUCTION_SUM,
              "weighted_mean": REDUCTION_MEAN, "element_mean": REDUCTION_MEAN}
#: A larger n_threads is taken as this (and clamped further to MAX_THREADS and the work items).
N_THREADS_CLAMP = 1 << 16

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


def compute_grad_hess(int loss_kind, double param, int curvature, cnp.ndarray input,
                      cnp.ndarray target, object weight, cnp.ndarray grad_out,
                      cnp.ndarray hess_out, object n_threads, object param_values=None):
    """Run one validated grad_hess call: writes grad_out and hess_out, elementwise.

    curvature is a value of CURVATURES; param a scalar beta or delta, or, if param_values is
    given, unused: param_values is then the array of per-element parameters (the OP_PARAM
    operand, as in compute). Preconditions as for compute, with hess_out checked like
    grad_out, and grad_out and hess_out not overlapping.
    """
    cdef PyObject* operands[N_OPERANDS]
    operands[OP_INPUT] = <PyObject*>input
    operands[OP_TARGET] = <PyObject*>target
    operands[OP_WEIGHT] = NULL if weight is None else <PyObject*>weight
    operands[OP_PARAM] = NULL if param_values is None else <PyObject*>param_values
    operands[OP_LOSS] = NULL
    operands[OP_GRAD] = <PyObject*>grad_out
    operands[OP_HESS] = <PyObject*>hess_out
    run_grad_hess(loss_kind, param, param_values is not None, curvature, operands, NULL, NULL,
                  choose_threads(cnp.PyArray_SIZE(input), n_threads),
                  cnp.PyArray_TYPE(input) == cnp.NPY_DOUBLE)


def compute(int loss_kind, double param, cnp.ndarray input, cnp.ndarray target, object weight,
            int reduction, object loss_out, object grad_out, bint want_loss, bint want_grad,
            object n_threads, object grad_norm=None, object param_values=None,
            object axes=None, bint float64_groups=False, object reduced_out=None):
    """Run one validated call. Returns the reduced loss (a float) or None for "none"; with
    `axes` (a tuple of distinct dimensions, reduction "sum" or "mean"), an ndarray of the
    reduced values, of input's shape without those dimensions: of input's dtype (each value
    rounded once), or float64 with float64_groups (for smoothl1.dask, which adds them up).

    grad_norm, if given, replaces the gradient's normaliser (the element count or weight sum
    of "mean", else 1): smoothl1.dask passes the global count or weight sum of all blocks
    (with axes and weights, an array of the weight sum of each group, of the reduced shape).
    param_values, if given, is an array of the per-element parameters (param is then unused).
    reduced_out, if given with axes (not with float64_groups), is the checked `out` of the
    reduced shape and input's dtype, overlapping no input: where it holds the groups in the
    plan's order (see results_view) the kernel writes the reduced values straight into it
    and returns it, else they go through an array of their own, as without it.

    Preconditions (checked by smoothl1._core.validation, not here): input, target, weight (or None),
    param_values (or None), loss_out and grad_out (or None) are aligned, native-order arrays of
    input's shape (or, for the first four, of a shape that broadcasts to it) and of one dtype, float32 or float64, whose strides are multiples of the
    item size; outputs are writeable and do not overlap inputs except as the identical array;
    param and every parameter value are valid.
    """
    cdef PyObject* operands[N_OPERANDS]
    cdef double total = 0.0
    operands[OP_INPUT] = <PyObject*>input
    operands[OP_TARGET] = <PyObject*>target
    operands[OP_WEIGHT] = NULL if weight is None else <PyObject*>weight
    operands[OP_PARAM] = NULL if param_values is None else <PyObject*>param_values
    operands[OP_LOSS] = NULL if loss_out is None else <PyObject*>loss_out
    operands[OP_GRAD] = NULL if grad_out is None else <PyObject*>grad_out
    operands[OP_HESS] = NULL
    groups = run_loss(loss_kind, param, param_values is not None, operands, NULL, NULL,
                      reduction, want_loss, want_grad,
                      choose_threads(cnp.PyArray_SIZE(input), n_threads), grad_norm, axes,
                      float64_groups, reduced_out, &total)
    if not want_loss or reduction == REDUCTION_NONE:
        return None
    return total if groups is None else groups


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


cdef extern from "numpy/arrayobject.h":
    object PyArray_NewLikeArray(cnp.ndarray prototype, cnp.NPY_ORDER order, void* descr,
                                int subok)
    object PyArray_Scalar(void* data, cnp.dtype descr, object base)


cdef object new_array_like(cnp.ndarray input):
    return PyArray_NewLikeArray(input, cnp.NPY_KEEPORDER, NULL, 0)


def empty_like(cnp.ndarray input):
    """A new, uninitialised base ndarray of input's shape, dtype and memory order (like NumPy's
    order='K'), so that results of Fortran-ordered or transposed inputs stay contiguous."""
    return new_array_like(input)


import numpy as _numpy
cdef cnp.dtype FLOAT32_DTYPE = cnp.PyArray_DescrFromType(cnp.NPY_FLOAT)
cdef cnp.dtype FLOAT64_DTYPE = cnp.PyArray_DescrFromType(cnp.NPY_DOUBLE)


cdef object scalar_of(bint is_double, double value):
    # value rounded once to float32 (unless is_double), as a NumPy scalar of that dtype (a NaN
    # as np.nan: the bits of a sum of NaNs depend on the order of the additions). A C cast:
    # a float32 overflow gives inf quietly (NumPy's own cast would warn), and the caller's
    # floating-point flags are kept (the cast may raise overflow, underflow or inexact).
    cdef float rounded
    cdef int raised_before
    if value != value:
        value = NAN
    if is_double:
        return PyArray_Scalar(&value, FLOAT64_DTYPE, None)
    raised_before = raised_flags()
    rounded = <float>value
    clear_flags_raised_since(raised_before)
    return PyArray_Scalar(&rounded, FLOAT32_DTYPE, None)


def reduced_scalar(cnp.ndarray input, double value):
    """value rounded once to input's dtype, as a NumPy scalar (see scalar_of)."""
    return scalar_of(cnp.PyArray_TYPE(input) == cnp.NPY_DOUBLE, value)


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


cdef bint whole_element_strides(cnp.ndarray array):
    # The kernels step in whole elements.
    cdef Py_ssize_t itemsize = cnp.PyArray_ITEMSIZE(array)
    cdef int k
    for k in range(cnp.PyArray_NDIM(array)):
        if cnp.PyArray_STRIDES(array)[k] % itemsize:
            return False
    return True


def aligned(*arrays):
    """Whether every array (None is skipped) is aligned with strides in whole elements, as
    the kernels need: one cheap C-level test for the common case, before validation looks
    closer (smoothl1._core.validation copies misaligned inputs, refuses misaligned outputs)."""
    cdef cnp.ndarray array
    for value in arrays:
        if value is None:
            continue
        array = <cnp.ndarray?>value
        if not cnp.PyArray_ISALIGNED(array) or not whole_element_strides(array):
            return False
    return True
