# smoothl1.kernels: the Smooth L1 and Huber kernels for Cython callers, with no Python object
# in the loop.
#
#     from smoothl1.kernels cimport smoothl1_huber_loss_and_grad_f64
#
#     with nogil:
#         total = smoothl1_huber_loss_and_grad_f64(n, &x[0], &t[0], &g[0], 1.0, 1.0)
#
# These are the compiled kernels of the Python API (module smoothl1._smoothl1), not a copy:
# Cython fetches them from smoothl1._smoothl1.__pyx_capi__ when the cimporting module is
# imported (declared in smoothl1/_smoothl1.pxd, re-exported here). C extensions reach the same
# functions through the header _smoothl1_api.h in smoothl1.get_include(). README, "Calling
# from Cython and C", has complete examples. Adding functions is fine; changing or removing one
# is a breaking change (docs/contract.md section 9).
#
# Names: smoothl1_<loss>_<operation>_<dtype>[_strided]
#   loss       smooth_l1 (parameter beta) or huber (parameter delta)
#   dtype      f32 (float) or f64 (double)
#   operation  loss_sum       returns  sum_i loss(d_i)
#              loss           writes   loss_out[i] = loss(d_i)
#              grad           writes   grad_out[i] = grad(d_i) * grad_scale
#              loss_and_grad  writes   grad_out[i] = grad(d_i) * grad_scale,
#                             returns  sum_i loss(d_i), in one pass
#   where d_i = input[i] - target[i], and loss and grad (the derivative w.r.t. input) are the
#   formulas of smoothl1.smooth_l1_loss and smoothl1.huber_loss (README, "Definitions").
#
# Signatures, shown for Huber and float64 (the other three families differ only in name, in
# float for double in the arrays, and in beta for delta):
#   double smoothl1_huber_loss_sum_f64(Py_ssize_t n, const double* input,
#                                      const double* target, double delta)
#   void smoothl1_huber_loss_f64(Py_ssize_t n, const double* input, const double* target,
#                                double* loss_out, double delta)
#   void smoothl1_huber_grad_f64(Py_ssize_t n, const double* input, const double* target,
#                                double* grad_out, double delta, double grad_scale)
#   double smoothl1_huber_loss_and_grad_f64(Py_ssize_t n, const double* input,
#                                           const double* target, double* grad_out,
#                                           double delta, double grad_scale)
#   The _strided functions take a stride after each array:
#   double smoothl1_huber_loss_and_grad_f64_strided(
#       Py_ssize_t n, const double* input, Py_ssize_t input_stride,
#       const double* target, Py_ssize_t target_stride,
#       double* grad_out, Py_ssize_t grad_stride, double delta, double grad_scale)
#
# Layout. In the contiguous functions element i of an array is p[i]; in the _strided ones it is
# p[i * stride]. Strides count elements, not bytes (a NumPy array's is a.strides[0] //
# a.itemsize); zero repeats one value (a scalar target); negative walks backwards from p, which
# points at element 0 (NumPy's convention: p is the last element in memory, unlike Fortran
# BLAS, whose pointer for a negative incx is the first in memory).
#
# Results are those of the Python API for the same 1-D data:
#   - each elementwise value is computed in double precision and rounded once to the dtype;
#   - sums are accumulated in double, cut into items of 16384 elements like the Python API's,
#     and combined pairwise in order, so loss_sum and loss_and_grad return bit for bit the
#     Python API's reduction="sum" result before it is rounded to the dtype (round it to float
#     for f32); dividing by n, with grad_scale = 1.0 / n, gives reduction="mean" bit for bit;
#   - loss_and_grad returns and writes exactly what loss_sum and grad do separately;
#   - NaN and infinities behave as in the Python API. Weights are not offered at this level.
#
# Preconditions. Nothing is checked (that is the caller's job here); breaking a precondition is
# undefined behaviour, never an error report.
#   - n >= 0. With n == 0 nothing is read or written and sums are 0.0.
#   - beta >= 0, delta > 0, neither NaN; inf is allowed. grad_scale is any double.
#   - Every pointer addresses, with its stride, n readable (inputs) or writable (outputs)
#     elements of its type, naturally aligned; when n == 0 pointers may be anything, NULL too.
#   - An output may be the very same array as an input (same pointer and same stride): each
#     element is read before it is written. No other overlap of an output with an input is
#     allowed, and an output's elements must be distinct (no zero output stride when n > 1).
#
# Behaviour. Every function is noexcept nogil, needs no GIL, allocates nothing, keeps no state
# (so it is reentrant and may be called from many threads at once) and runs on the calling
# thread only (no OpenMP). Unlike the Python API, it leaves the floating-point environment
# alone: NaN and infinite data may raise IEEE status flags, as in BLAS.

from smoothl1._smoothl1 cimport (
    smoothl1_smooth_l1_loss_sum_f32,
    smoothl1_smooth_l1_loss_f32,
    smoothl1_smooth_l1_grad_f32,
    smoothl1_smooth_l1_loss_and_grad_f32,
    smoothl1_smooth_l1_loss_sum_f32_strided,
    smoothl1_smooth_l1_loss_f32_strided,
    smoothl1_smooth_l1_grad_f32_strided,
    smoothl1_smooth_l1_loss_and_grad_f32_strided,
)
from smoothl1._smoothl1 cimport (
    smoothl1_smooth_l1_loss_sum_f64,
    smoothl1_smooth_l1_loss_f64,
    smoothl1_smooth_l1_grad_f64,
    smoothl1_smooth_l1_loss_and_grad_f64,
    smoothl1_smooth_l1_loss_sum_f64_strided,
    smoothl1_smooth_l1_loss_f64_strided,
    smoothl1_smooth_l1_grad_f64_strided,
    smoothl1_smooth_l1_loss_and_grad_f64_strided,
)
from smoothl1._smoothl1 cimport (
    smoothl1_huber_loss_sum_f32,
    smoothl1_huber_loss_f32,
    smoothl1_huber_grad_f32,
    smoothl1_huber_loss_and_grad_f32,
    smoothl1_huber_loss_sum_f32_strided,
    smoothl1_huber_loss_f32_strided,
    smoothl1_huber_grad_f32_strided,
    smoothl1_huber_loss_and_grad_f32_strided,
)
from smoothl1._smoothl1 cimport (
    smoothl1_huber_loss_sum_f64,
    smoothl1_huber_loss_f64,
    smoothl1_huber_grad_f64,
    smoothl1_huber_loss_and_grad_f64,
    smoothl1_huber_loss_sum_f64_strided,
    smoothl1_huber_loss_f64_strided,
    smoothl1_huber_grad_f64_strided,
    smoothl1_huber_loss_and_grad_f64_strided,
)
