# Small helpers of the Python side (section 5 of the map in src/_smoothl1.pyx), for the package's
# modules (smoothl1._core, the adapters) and the small calls (kernels/small_calls.pxi): new
# arrays of an input's layout (new_array_like, empty_like), results as NumPy scalars (scalar_of,
# reduced_scalar), the caller's floating-point flags kept (KeptFloatingPointFlags), quiet casts
# (quiet_cast) and the kernels' alignment test (aligned). NumPy is imported here as _numpy,
# which run_loss (kernels/run_calls.pxi, included after this file) uses too.

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
