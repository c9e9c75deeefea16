# Small calls (section 6 of the map in src/_smoothl1.pyx; docs/contract.md section 21). The
# public functions of every loss are compiled (kernels/entry_points.pxi, generated from the
# table of losses) and hand their arguments to loss_call or grad_hess_call. A common call --
# ndarrays of one native float dtype, target and weight of input's shape or Python numbers, a
# Python number as the parameter, a string reduction, outputs apart from the inputs -- is
# checked and run here with no Python object made for a number. Any other call, and every call
# that is not valid, goes to the one validation path (smoothl1._core.api._run,
# smoothl1._core.grad_hess.grad_hess), so the errors and their messages are that path's: the
# checks here never raise, they only decide that a call is common. A common call runs the very
# functions the general path runs (run_loss, run_grad_hess), so the bits are the same.

from cpython.dict cimport PyDict_GetItem
from cpython.float cimport PyFloat_AS_DOUBLE
from cpython.long cimport PyLong_AsLongLongAndOverflow

cdef enum:
    WANT_LOSS = 1
    WANT_GRAD = 2

cdef object general_loss_path = None        # smoothl1._core.api._run
cdef object general_grad_hess_path = None   # smoothl1._core.grad_hess.grad_hess
cdef tuple table_rows = ()                  # smoothl1._core.losses.LOSSES, by loss code


def load_general_paths():
    """Import the general path into this build. smoothl1._core.api calls this at import, for
    the build in use (a call in a finalizer at interpreter shutdown can import nothing); a
    build it did not load imports it at its first call that needs it."""
    global general_loss_path, general_grad_hess_path, table_rows
    from smoothl1._core.api import _run
    from smoothl1._core.grad_hess import grad_hess
    from smoothl1._core.losses import LOSSES
    general_loss_path, general_grad_hess_path, table_rows = _run, grad_hess, LOSSES


ctypedef struct SmallCall:
    PyObject* operands[N_OPERANDS]   # as plan_call takes them: NULL for a number, or absent
    bint is_double
    int type_num
    double param
    bint target_is_number, weight_is_number
    double target_value, weight_value   # the numbers, and below, rounded to float32
    float target_single, weight_single
    int threads


cdef bint plain_array(object value, int type_num):
    # An ndarray itself (a subclass may report other properties than the kernels read), of
    # type_num in native byte order, aligned, with strides in whole elements: what the kernels
    # take as it is, and what the general path would pass on unchanged.
    cdef cnp.ndarray array
    if type(value) is not cnp.ndarray:
        return False
    array = <cnp.ndarray>value
    if cnp.PyArray_TYPE(array) != type_num or not cnp.PyArray_ISNOTSWAPPED(array) \
            or not cnp.PyArray_ISALIGNED(array):
        return False
    return whole_element_strides(array)


cdef bint same_shape(cnp.ndarray a, cnp.ndarray b):
    cdef int k
    if cnp.PyArray_NDIM(a) != cnp.PyArray_NDIM(b):
        return False
    for k in range(cnp.PyArray_NDIM(a)):
        if cnp.PyArray_DIMS(a)[k] != cnp.PyArray_DIMS(b)[k]:
            return False
    return True


cdef void memory_range(cnp.ndarray array, char** low, char** high):
    # The bytes the array's elements span: [low, high); empty for an array of no elements.
    cdef char* start = <char*>cnp.PyArray_DATA(array)
    cdef char* end = start
    cdef Py_ssize_t extent
    cdef int k
    if cnp.PyArray_SIZE(array) == 0:
        low[0] = high[0] = start
        return
    for k in range(cnp.PyArray_NDIM(array)):
        extent = (cnp.PyArray_DIMS(array)[k] - 1) * cnp.PyArray_STRIDES(array)[k]
        if extent < 0:
            start += extent
        else:
            end += extent
    low[0] = start
    high[0] = end + cnp.PyArray_ITEMSIZE(array)


cdef bint apart(cnp.ndarray a, cnp.ndarray b):
    # Whether no byte of a's elements is a byte of b's: the cheap test of address ranges
    # (np.may_share_memory's), which settles the common call; interleaved or partly
    # overlapping arrays go to the general path's exact test.
    cdef char* a_low
    cdef char* a_high
    cdef char* b_low
    cdef char* b_high
    memory_range(a, &a_low, &a_high)
    memory_range(b, &b_low, &b_high)
    return a_high <= b_low or b_high <= a_low or a_low == a_high or b_low == b_high


cdef bint same_view(cnp.ndarray a, cnp.ndarray b):
    # (of the same shape) the same elements in the same places: an output that is its input
    # is written element by element after the element is read (docs/contract.md section 6)
    cdef int k
    if cnp.PyArray_DATA(a) != cnp.PyArray_DATA(b):
        return False
    for k in range(cnp.PyArray_NDIM(a)):
        if cnp.PyArray_STRIDES(a)[k] != cnp.PyArray_STRIDES(b)[k]:
            return False
    return True


cdef bint number_value(object value, double* result):
    # A Python float, or an int of 64 bits, as the general path converts it (np.asarray gives
    # int64, cast to double); bool and every other type are not numbers here.
    cdef long long integer
    cdef int overflow = 0
    if type(value) is float:
        result[0] = PyFloat_AS_DOUBLE(value)
        return True
    if type(value) is int:
        integer = PyLong_AsLongLongAndOverflow(value, &overflow)
        if overflow:
            return False
        result[0] = <double>integer
        return True
    return False


cdef bint common_operand(SmallCall* call, int op, object value, bint* is_number,
                         double* number):
    # target or weight: an array of input's shape and dtype, or a number
    if plain_array(value, call.type_num) \
            and same_shape(<cnp.ndarray>value, <cnp.ndarray>call.operands[OP_INPUT]):
        call.operands[op] = <PyObject*>value
        return True
    is_number[0] = True
    return number_value(value, number)


cdef bint common_inputs(SmallCall* call, int loss_code, object input, object target,
                        object weight, object param, object n_threads):
    # Fills call from the inputs of a common call; False for any other call.
    cdef long long threads
    cdef int overflow = 0, op
    for op in range(N_OPERANDS):
        call.operands[op] = NULL
    call.target_is_number = call.weight_is_number = False
    if type(input) is not cnp.ndarray:
        return False
    call.type_num = cnp.PyArray_TYPE(<cnp.ndarray>input)
    if call.type_num != cnp.NPY_DOUBLE and call.type_num != cnp.NPY_FLOAT \
            or not plain_array(input, call.type_num):
        return False
    call.is_double = call.type_num == cnp.NPY_DOUBLE
    call.operands[OP_INPUT] = <PyObject*>input
    if not common_operand(call, OP_TARGET, target, &call.target_is_number,
                          &call.target_value):
        return False
    if weight is not None and not common_operand(call, OP_WEIGHT, weight,
                                                 &call.weight_is_number, &call.weight_value):
        return False
    if not number_value(param, &call.param) or not param_accepted(loss_code, call.param):
        return False
    if n_threads is None:
        call.threads = choose_threads(cnp.PyArray_SIZE(<cnp.ndarray>input), None)
        return True
    if type(n_threads) is not int:
        return False
    threads = PyLong_AsLongLongAndOverflow(n_threads, &overflow)
    if overflow or threads < 1:
        return False
    call.threads = <int>min(threads, N_THREADS_CLAMP)   # as validation.check_n_threads
    return True


cdef bint common_output(SmallCall* call, int op, object value):
    # An output buffer of input's shape and dtype, writeable, contiguous (so none of its
    # elements share memory), apart from the other outputs, and from each input unless it is
    # that very input (the cases the general path takes without a copy or an error).
    cdef cnp.ndarray output, input = <cnp.ndarray>call.operands[OP_INPUT]
    cdef int k
    if not plain_array(value, call.type_num):
        return False
    output = <cnp.ndarray>value
    if not same_shape(output, input) or not cnp.PyArray_ISWRITEABLE(output) \
            or not (cnp.PyArray_IS_C_CONTIGUOUS(output) or cnp.PyArray_IS_F_CONTIGUOUS(output)):
        return False
    for k in range(N_OPERANDS):
        if call.operands[k] == NULL:
            continue
        if k >= OP_LOSS:   # another output
            if not apart(output, <cnp.ndarray>call.operands[k]):
                return False
        elif not apart(output, <cnp.ndarray>call.operands[k]) \
                and not same_view(output, <cnp.ndarray>call.operands[k]):
            return False
    call.operands[op] = <PyObject*>value
    return True


cdef void place_numbers(SmallCall* call, const void** target_number,
                        const void** weight_number) noexcept:
    # Where the kernels read a number target or weight: the double, or the float it rounds to
    # (a C cast, as validation converts numbers: beyond float32's range is inf, quietly; the
    # caller clears the flags it raises).
    target_number[0] = weight_number[0] = NULL
    if call.target_is_number:
        call.target_single = <float>call.target_value
        target_number[0] = <void*>&call.target_value if call.is_double \
            else <void*>&call.target_single
    if call.weight_is_number:
        call.weight_single = <float>call.weight_value
        weight_number[0] = <void*>&call.weight_value if call.is_double \
            else <void*>&call.weight_single


cdef int table_code(dict table, object name):
    # The code of a str name in one of the tables the general path checks names against
    # (REDUCTIONS, CURVATURES), or -1 for any other value.
    cdef PyObject* code
    if type(name) is not str:
        return -1
    code = PyDict_GetItem(table, name)
    return -1 if code == NULL else <int><object>code


cdef int common_reduction(object reduction, bint weighted):
    # The reduction code of a common call, or -1: "element_mean" with weights divides by the
    # element count, which the general path does (without weights it is the mean).
    if weighted and type(reduction) is str and reduction == "element_mean":
        return -1
    return table_code(REDUCTIONS, reduction)


cdef object loss_call(int loss_code, int wanted, object input, object target, object param,
                      object reduction, object weight, object avg_factor, object axis,
                      object keepdims, object loss_out, object grad_out, object n_threads):
    """What <loss>_loss (wanted WANT_LOSS), <loss>_grad (WANT_GRAD, its out as grad_out) and
    <loss>_loss_and_grad return."""
    cdef SmallCall call
    cdef int reduction_code = -1
    cdef double total
    cdef const void* target_number
    cdef const void* weight_number
    cdef bint want_loss = wanted & WANT_LOSS, want_grad = wanted & WANT_GRAD
    # (the checks may raise flags too: inexact converting a large int, invalid comparing NaN)
    cdef int raised_before = raised_flags()
    cdef bint common = (avg_factor is None and axis is None and keepdims is False
                        and common_inputs(&call, loss_code, input, target, weight, param,
                                          n_threads))
    if common:
        reduction_code = common_reduction(reduction, weight is not None)
        common = reduction_code >= 0
    if common and loss_out is not None:   # a loss array: only that of reduction="none"
        common = reduction_code == REDUCTION_NONE and common_output(&call, OP_LOSS, loss_out)
    if common and grad_out is not None:
        common = common_output(&call, OP_GRAD, grad_out)
    if not common:
        clear_flags_raised_since(raised_before)
        if general_loss_path is None:
            load_general_paths()
        return general_loss_path(
            table_rows[loss_code], input, target, param=param, weight=weight,
            reduction=reduction, loss_out=loss_out, grad_out=grad_out, n_threads=n_threads,
            want_loss=want_loss, want_grad=want_grad,
            grad_out_name="grad_out" if want_loss else "out", axis=axis, keepdims=keepdims,
            avg_factor=avg_factor)
    if want_loss and reduction_code == REDUCTION_NONE and loss_out is None:
        loss_out = new_array_like(<cnp.ndarray>call.operands[OP_INPUT])
        call.operands[OP_LOSS] = <PyObject*>loss_out
    if want_grad and grad_out is None:
        grad_out = new_array_like(<cnp.ndarray>call.operands[OP_INPUT])
        call.operands[OP_GRAD] = <PyObject*>grad_out
    place_numbers(&call, &target_number, &weight_number)
    run_loss(loss_code, call.param, False, call.operands, target_number, weight_number,
             reduction_code, want_loss, want_grad, call.threads, None, None, False, None,
             &total)
    clear_flags_raised_since(raised_before)
    if not want_loss:
        return grad_out
    value = loss_out if reduction_code == REDUCTION_NONE else scalar_of(call.is_double, total)
    return (value, grad_out) if want_grad else value


cdef object grad_hess_call(int loss_code, object input, object target, object param,
                           object weight, object curvature, object grad_out, object hess_out,
                           object n_threads):
    """What <loss>_grad_hess returns: (grad, hess)."""
    cdef SmallCall call
    cdef int curvature_code = table_code(CURVATURES, curvature)
    cdef const void* target_number
    cdef const void* weight_number
    cdef int raised_before = raised_flags()   # (as in loss_call)
    cdef bint common = curvature_code >= 0 and common_inputs(&call, loss_code, input, target,
                                                             weight, param, n_threads)
    if common and grad_out is not None:
        common = common_output(&call, OP_GRAD, grad_out)
    if common and hess_out is not None:
        common = common_output(&call, OP_HESS, hess_out)
    if not common:
        clear_flags_raised_since(raised_before)
        if general_grad_hess_path is None:
            load_general_paths()
        return general_grad_hess_path(
            table_rows[loss_code], input, target, param=param, weight=weight,
            curvature=curvature, grad_out=grad_out, hess_out=hess_out, n_threads=n_threads)
    if grad_out is None:
        grad_out = new_array_like(<cnp.ndarray>call.operands[OP_INPUT])
        call.operands[OP_GRAD] = <PyObject*>grad_out
    if hess_out is None:
        hess_out = new_array_like(<cnp.ndarray>call.operands[OP_INPUT])
        call.operands[OP_HESS] = <PyObject*>hess_out
    place_numbers(&call, &target_number, &weight_number)
    run_grad_hess(loss_code, call.param, False, curvature_code, call.operands, target_number,
                  weight_number, call.threads, call.is_double)
    clear_flags_raised_since(raised_before)
    return grad_out, hess_out
