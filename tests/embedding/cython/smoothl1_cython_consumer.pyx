# cython: boundscheck=False, wraparound=False
"""A Cython extension that uses smoothl1's kernels as a stranger would: it cimports them from
the installed package (``smoothl1.kernels``) and calls them without the GIL on 1-D memoryviews.

Each of the first four Python functions below reaches every loss x dtype x layout instance of
one operation, so tests/test_embedding.py can compare all 32 C entry points of smooth L1 and
Huber with the Python API. ``loss`` is "smooth_l1" or "huber"; ``strided`` chooses the
_strided function, else the contiguous one (which then requires contiguous arrays). The last,
loss_and_grad_params, reaches the 12 per-element-parameter loss_and_grad functions of the three
losses (the C consumer calls every _params function).
"""
from smoothl1.kernels cimport (
    smoothl1_huber_grad_f32, smoothl1_huber_grad_f32_strided,
    smoothl1_huber_grad_f64, smoothl1_huber_grad_f64_strided,
    smoothl1_huber_loss_and_grad_f32, smoothl1_huber_loss_and_grad_f32_strided,
    smoothl1_huber_loss_and_grad_f64, smoothl1_huber_loss_and_grad_f64_strided,
    smoothl1_huber_loss_f32, smoothl1_huber_loss_f32_strided,
    smoothl1_huber_loss_f64, smoothl1_huber_loss_f64_strided,
    smoothl1_huber_loss_sum_f32, smoothl1_huber_loss_sum_f32_strided,
    smoothl1_huber_loss_sum_f64, smoothl1_huber_loss_sum_f64_strided,
    smoothl1_huber_loss_and_grad_f32_params, smoothl1_huber_loss_and_grad_f32_params_strided,
    smoothl1_huber_loss_and_grad_f64_params, smoothl1_huber_loss_and_grad_f64_params_strided,
    smoothl1_pseudo_huber_loss_and_grad_f32_params,
    smoothl1_pseudo_huber_loss_and_grad_f32_params_strided,
    smoothl1_pseudo_huber_loss_and_grad_f64_params,
    smoothl1_pseudo_huber_loss_and_grad_f64_params_strided,
    smoothl1_smooth_l1_loss_and_grad_f32_params,
    smoothl1_smooth_l1_loss_and_grad_f32_params_strided,
    smoothl1_smooth_l1_loss_and_grad_f64_params,
    smoothl1_smooth_l1_loss_and_grad_f64_params_strided,
    smoothl1_smooth_l1_grad_f32, smoothl1_smooth_l1_grad_f32_strided,
    smoothl1_smooth_l1_grad_f64, smoothl1_smooth_l1_grad_f64_strided,
    smoothl1_smooth_l1_loss_and_grad_f32, smoothl1_smooth_l1_loss_and_grad_f32_strided,
    smoothl1_smooth_l1_loss_and_grad_f64, smoothl1_smooth_l1_loss_and_grad_f64_strided,
    smoothl1_smooth_l1_loss_f32, smoothl1_smooth_l1_loss_f32_strided,
    smoothl1_smooth_l1_loss_f64, smoothl1_smooth_l1_loss_f64_strided,
    smoothl1_smooth_l1_loss_sum_f32, smoothl1_smooth_l1_loss_sum_f32_strided,
    smoothl1_smooth_l1_loss_sum_f64, smoothl1_smooth_l1_loss_sum_f64_strided,
)

ctypedef fused real:
    float
    double


cdef inline const real* first(const real[:] a) noexcept nogil:
    # Pointer to element 0 (the last one in memory for a negative stride); NULL when empty.
    return &a[0] if a.shape[0] > 0 else NULL


cdef inline Py_ssize_t step(const real[:] a) noexcept nogil:
    return a.strides[0] // <Py_ssize_t>sizeof(real)


cdef bint check(str loss, bint strided, const real[:] input, const real[:] target,
                const real[:] out, tuple losses=("smooth_l1", "huber")) except -1:
    if loss not in losses:
        raise ValueError(f"unknown loss {loss!r}")
    if not (target.shape[0] == out.shape[0] == input.shape[0]):
        raise ValueError("arrays of different lengths")
    if not strided and input.shape[0] > 1 and not (step(input) == step(target) == step(out) == 1):
        raise ValueError("the contiguous functions need contiguous arrays")
    return True


def kernel_address():
    """Address of the function that smoothl1_smooth_l1_loss_sum_f32 calls here, so that a test
    can check that Cython fetched the build smoothl1._core.dispatch chose."""
    return <size_t><void*>smoothl1_smooth_l1_loss_sum_f32


def loss_sum(str loss, const real[:] input, const real[:] target, double param, bint strided):
    """The sum of elementwise losses, a double."""
    check(loss, strided, input, target, input)
    cdef Py_ssize_t n = input.shape[0], si = step(input), st = step(target)
    cdef const real* x = first(input)
    cdef const real* t = first(target)
    cdef bint huber = loss == "huber"
    cdef double total
    with nogil:
        if real is float:
            if huber:
                total = (smoothl1_huber_loss_sum_f32_strided(n, x, si, t, st, param) if strided
                         else smoothl1_huber_loss_sum_f32(n, x, t, param))
            else:
                total = (smoothl1_smooth_l1_loss_sum_f32_strided(n, x, si, t, st, param) if strided
                         else smoothl1_smooth_l1_loss_sum_f32(n, x, t, param))
        else:
            if huber:
                total = (smoothl1_huber_loss_sum_f64_strided(n, x, si, t, st, param) if strided
                         else smoothl1_huber_loss_sum_f64(n, x, t, param))
            else:
                total = (smoothl1_smooth_l1_loss_sum_f64_strided(n, x, si, t, st, param) if strided
                         else smoothl1_smooth_l1_loss_sum_f64(n, x, t, param))
    return total


def loss(str loss, const real[:] input, const real[:] target, real[:] loss_out, double param,
         bint strided):
    """Write the elementwise losses into loss_out."""
    check(loss, strided, input, target, loss_out)
    cdef Py_ssize_t n = input.shape[0], si = step(input), st = step(target), so = step(loss_out)
    cdef const real* x = first(input)
    cdef const real* t = first(target)
    cdef real* out = <real*>first(loss_out)
    cdef bint huber = loss == "huber"
    with nogil:
        if real is float:
            if huber:
                if strided:
                    smoothl1_huber_loss_f32_strided(n, x, si, t, st, out, so, param)
                else:
                    smoothl1_huber_loss_f32(n, x, t, out, param)
            else:
                if strided:
                    smoothl1_smooth_l1_loss_f32_strided(n, x, si, t, st, out, so, param)
                else:
                    smoothl1_smooth_l1_loss_f32(n, x, t, out, param)
        else:
            if huber:
                if strided:
                    smoothl1_huber_loss_f64_strided(n, x, si, t, st, out, so, param)
                else:
                    smoothl1_huber_loss_f64(n, x, t, out, param)
            else:
                if strided:
                    smoothl1_smooth_l1_loss_f64_strided(n, x, si, t, st, out, so, param)
                else:
                    smoothl1_smooth_l1_loss_f64(n, x, t, out, param)


def grad(str loss, const real[:] input, const real[:] target, real[:] grad_out, double param,
         double grad_scale, bint strided):
    """Write the elementwise gradient times grad_scale into grad_out."""
    check(loss, strided, input, target, grad_out)
    cdef Py_ssize_t n = input.shape[0], si = step(input), st = step(target), sg = step(grad_out)
    cdef const real* x = first(input)
    cdef const real* t = first(target)
    cdef real* g = <real*>first(grad_out)
    cdef bint huber = loss == "huber"
    with nogil:
        if real is float:
            if huber:
                if strided:
                    smoothl1_huber_grad_f32_strided(n, x, si, t, st, g, sg, param, grad_scale)
                else:
                    smoothl1_huber_grad_f32(n, x, t, g, param, grad_scale)
            else:
                if strided:
                    smoothl1_smooth_l1_grad_f32_strided(n, x, si, t, st, g, sg, param, grad_scale)
                else:
                    smoothl1_smooth_l1_grad_f32(n, x, t, g, param, grad_scale)
        else:
            if huber:
                if strided:
                    smoothl1_huber_grad_f64_strided(n, x, si, t, st, g, sg, param, grad_scale)
                else:
                    smoothl1_huber_grad_f64(n, x, t, g, param, grad_scale)
            else:
                if strided:
                    smoothl1_smooth_l1_grad_f64_strided(n, x, si, t, st, g, sg, param, grad_scale)
                else:
                    smoothl1_smooth_l1_grad_f64(n, x, t, g, param, grad_scale)


def loss_and_grad(str loss, const real[:] input, const real[:] target, real[:] grad_out,
                  double param, double grad_scale, bint strided):
    """Write the scaled gradient into grad_out and return the sum of losses, in one pass."""
    check(loss, strided, input, target, grad_out)
    cdef Py_ssize_t n = input.shape[0], si = step(input), st = step(target), sg = step(grad_out)
    cdef const real* x = first(input)
    cdef const real* t = first(target)
    cdef real* g = <real*>first(grad_out)
    cdef bint huber = loss == "huber"
    cdef double total
    with nogil:
        if real is float:
            if huber:
                total = (smoothl1_huber_loss_and_grad_f32_strided(
                             n, x, si, t, st, g, sg, param, grad_scale) if strided
                         else smoothl1_huber_loss_and_grad_f32(n, x, t, g, param, grad_scale))
            else:
                total = (smoothl1_smooth_l1_loss_and_grad_f32_strided(
                             n, x, si, t, st, g, sg, param, grad_scale) if strided
                         else smoothl1_smooth_l1_loss_and_grad_f32(n, x, t, g, param, grad_scale))
        else:
            if huber:
                total = (smoothl1_huber_loss_and_grad_f64_strided(
                             n, x, si, t, st, g, sg, param, grad_scale) if strided
                         else smoothl1_huber_loss_and_grad_f64(n, x, t, g, param, grad_scale))
            else:
                total = (smoothl1_smooth_l1_loss_and_grad_f64_strided(
                             n, x, si, t, st, g, sg, param, grad_scale) if strided
                         else smoothl1_smooth_l1_loss_and_grad_f64(n, x, t, g, param, grad_scale))
    return total


def loss_and_grad_params(str loss, const real[:] input, const real[:] target, real[:] grad_out,
                         const real[:] param, double grad_scale, bint strided):
    """loss_and_grad with one beta or delta per element, param[i] (any stride, 0 too); loss
    is "smooth_l1", "huber" or "pseudo_huber"."""
    cdef tuple losses = ("smooth_l1", "huber", "pseudo_huber")
    check(loss, strided, input, target, grad_out, losses)
    check(loss, strided, input, param, grad_out, losses)   # param's length and layout too
    cdef Py_ssize_t n = input.shape[0], si = step(input), st = step(target), sg = step(grad_out)
    cdef Py_ssize_t sp = step(param)
    cdef const real* x = first(input)
    cdef const real* t = first(target)
    cdef const real* p = first(param)
    cdef real* g = <real*>first(grad_out)
    cdef int kind = losses.index(loss)
    cdef double total
    with nogil:
        if real is float:
            if kind == 0:
                total = (smoothl1_smooth_l1_loss_and_grad_f32_params_strided(
                             n, x, si, t, st, g, sg, p, sp, grad_scale) if strided
                         else smoothl1_smooth_l1_loss_and_grad_f32_params(n, x, t, g, p,
                                                                          grad_scale))
            elif kind == 1:
                total = (smoothl1_huber_loss_and_grad_f32_params_strided(
                             n, x, si, t, st, g, sg, p, sp, grad_scale) if strided
                         else smoothl1_huber_loss_and_grad_f32_params(n, x, t, g, p, grad_scale))
            else:
                total = (smoothl1_pseudo_huber_loss_and_grad_f32_params_strided(
                             n, x, si, t, st, g, sg, p, sp, grad_scale) if strided
                         else smoothl1_pseudo_huber_loss_and_grad_f32_params(n, x, t, g, p,
                                                                             grad_scale))
        else:
            if kind == 0:
                total = (smoothl1_smooth_l1_loss_and_grad_f64_params_strided(
                             n, x, si, t, st, g, sg, p, sp, grad_scale) if strided
                         else smoothl1_smooth_l1_loss_and_grad_f64_params(n, x, t, g, p,
                                                                          grad_scale))
            elif kind == 1:
                total = (smoothl1_huber_loss_and_grad_f64_params_strided(
                             n, x, si, t, st, g, sg, p, sp, grad_scale) if strided
                         else smoothl1_huber_loss_and_grad_f64_params(n, x, t, g, p, grad_scale))
            else:
                total = (smoothl1_pseudo_huber_loss_and_grad_f64_params_strided(
                             n, x, si, t, st, g, sg, p, sp, grad_scale) if strided
                         else smoothl1_pseudo_huber_loss_and_grad_f64_params(n, x, t, g, p,
                                                                             grad_scale))
    return total
