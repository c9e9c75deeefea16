# The Python entry (section 5 of the map in src/_smoothl1.pyx): compute and compute_grad_hess
# take arrays already validated by smoothl1._core.validation and run them (run_loss,
# run_grad_hess, kernels/run_calls.pxi); the values of their arguments (CURVATURES,
# REDUCTIONS, the thread limits) and the module's functions on the CPU and the thread pool.

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
