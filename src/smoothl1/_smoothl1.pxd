# Declarations of the C API of the compiled module smoothl1._smoothl1 (section 4 of
# src/_smoothl1.pyx), for Cython. This file carries the module's dotted name so that Cython,
# when a caller cimports these functions, fetches them at import time from
# smoothl1._smoothl1.__pyx_capi__; it also makes Cython check the definitions against these
# declarations when the module is built.
#
# Do not cimport from here: the public, documented name is smoothl1.kernels
# (``from smoothl1.kernels cimport ...``), where the conventions and preconditions are written.
# Names and signatures are a stable contract (docs/contract.md section 9), pinned by
# tests/cython_abi_signatures.txt: add functions freely, never change or remove one.

cdef double smoothl1_smooth_l1_loss_sum_f32(
        Py_ssize_t n, const float* input, const float* target, double beta) noexcept nogil
cdef void smoothl1_smooth_l1_loss_f32(
        Py_ssize_t n, const float* input, const float* target, float* loss_out,
        double beta) noexcept nogil
cdef void smoothl1_smooth_l1_grad_f32(
        Py_ssize_t n, const float* input, const float* target, float* grad_out, double beta,
        double grad_scale) noexcept nogil
cdef double smoothl1_smooth_l1_loss_and_grad_f32(
        Py_ssize_t n, const float* input, const float* target, float* grad_out, double beta,
        double grad_scale) noexcept nogil

cdef double smoothl1_smooth_l1_loss_sum_f32_strided(
        Py_ssize_t n, const float* input, Py_ssize_t input_stride,
        const float* target, Py_ssize_t target_stride, double beta) noexcept nogil
cdef void smoothl1_smooth_l1_loss_f32_strided(
        Py_ssize_t n, const float* input, Py_ssize_t input_stride,
        const float* target, Py_ssize_t target_stride, float* loss_out, Py_ssize_t loss_stride,
        double beta) noexcept nogil
cdef void smoothl1_smooth_l1_grad_f32_strided(
        Py_ssize_t n, const float* input, Py_ssize_t input_stride,
        const float* target, Py_ssize_t target_stride, float* grad_out, Py_ssize_t grad_stride,
        double beta, double grad_scale) noexcept nogil
cdef double smoothl1_smooth_l1_loss_and_grad_f32_strided(
        Py_ssize_t n, const float* input, Py_ssize_t input_stride,
        const float* target, Py_ssize_t target_stride, float* grad_out, Py_ssize_t grad_stride,
        double beta, double grad_scale) noexcept nogil

cdef double smoothl1_smooth_l1_loss_sum_f64(
        Py_ssize_t n, const double* input, const double* target, double beta) noexcept nogil
cdef void smoothl1_smooth_l1_loss_f64(
        Py_ssize_t n, const double* input, const double* target, double* loss_out,
        double beta) noexcept nogil
cdef void smoothl1_smooth_l1_grad_f64(
        Py_ssize_t n, const double* input, const double* target, double* grad_out,
        double beta, double grad_scale) noexcept nogil
cdef double smoothl1_smooth_l1_loss_and_grad_f64(
        Py_ssize_t n, const double* input, const double* target, double* grad_out,
        double beta, double grad_scale) noexcept nogil

cdef double smoothl1_smooth_l1_loss_sum_f64_strided(
        Py_ssize_t n, const double* input, Py_ssize_t input_stride,
        const double* target, Py_ssize_t target_stride, double beta) noexcept nogil
cdef void smoothl1_smooth_l1_loss_f64_strided(
        Py_ssize_t n, const double* input, Py_ssize_t input_stride,
        const double* target, Py_ssize_t target_stride,
        double* loss_out, Py_ssize_t loss_stride, double beta) noexcept nogil
cdef void smoothl1_smooth_l1_grad_f64_strided(
        Py_ssize_t n, const double* input, Py_ssize_t input_stride,
        const double* target, Py_ssize_t target_stride,
        double* grad_out, Py_ssize_t grad_stride, double beta,
        double grad_scale) noexcept nogil
cdef double smoothl1_smooth_l1_loss_and_grad_f64_strided(
        Py_ssize_t n, const double* input, Py_ssize_t input_stride,
        const double* target, Py_ssize_t target_stride,
        double* grad_out, Py_ssize_t grad_stride, double beta,
        double grad_scale) noexcept nogil

cdef double smoothl1_huber_loss_sum_f32(
        Py_ssize_t n, const float* input, const float* target, double delta) noexcept nogil
cdef void smoothl1_huber_loss_f32(
        Py_ssize_t n, const float* input, const float* target, float* loss_out,
        double delta) noexcept nogil
cdef void smoothl1_huber_grad_f32(
        Py_ssize_t n, const float* input, const float* target, float* grad_out, double delta,
        double grad_scale) noexcept nogil
cdef double smoothl1_huber_loss_and_grad_f32(
        Py_ssize_t n, const float* input, const float* target, float* grad_out, double delta,
        double grad_scale) noexcept nogil

cdef double smoothl1_huber_loss_sum_f32_strided(
        Py_ssize_t n, const float* input, Py_ssize_t input_stride,
        const float* target, Py_ssize_t target_stride, double delta) noexcept nogil
cdef void smoothl1_huber_loss_f32_strided(
        Py_ssize_t n, const float* input, Py_ssize_t input_stride,
        const float* target, Py_ssize_t target_stride, float* loss_out, Py_ssize_t loss_stride,
        double delta) noexcept nogil
cdef void smoothl1_huber_grad_f32_strided(
        Py_ssize_t n, const float* input, Py_ssize_t input_stride,
        const float* target, Py_ssize_t target_stride, float* grad_out, Py_ssize_t grad_stride,
        double delta, double grad_scale) noexcept nogil
cdef double smoothl1_huber_loss_and_grad_f32_strided(
        Py_ssize_t n, const float* input, Py_ssize_t input_stride,
        const float* target, Py_ssize_t target_stride, float* grad_out, Py_ssize_t grad_stride,
        double delta, double grad_scale) noexcept nogil

cdef double smoothl1_huber_loss_sum_f64(
        Py_ssize_t n, const double* input, const double* target, double delta) noexcept nogil
cdef void smoothl1_huber_loss_f64(
        Py_ssize_t n, const double* input, const double* target, double* loss_out,
        double delta) noexcept nogil
cdef void smoothl1_huber_grad_f64(
        Py_ssize_t n, const double* input, const double* target, double* grad_out,
        double delta, double grad_scale) noexcept nogil
cdef double smoothl1_huber_loss_and_grad_f64(
        Py_ssize_t n, const double* input, const double* target, double* grad_out,
        double delta, double grad_scale) noexcept nogil

cdef double smoothl1_huber_loss_sum_f64_strided(
        Py_ssize_t n, const double* input, Py_ssize_t input_stride,
        const double* target, Py_ssize_t target_stride, double delta) noexcept nogil
cdef void smoothl1_huber_loss_f64_strided(
        Py_ssize_t n, const double* input, Py_ssize_t input_stride,
        const double* target, Py_ssize_t target_stride,
        double* loss_out, Py_ssize_t loss_stride, double delta) noexcept nogil
cdef void smoothl1_huber_grad_f64_strided(
        Py_ssize_t n, const double* input, Py_ssize_t input_stride,
        const double* target, Py_ssize_t target_stride,
        double* grad_out, Py_ssize_t grad_stride, double delta,
        double grad_scale) noexcept nogil
cdef double smoothl1_huber_loss_and_grad_f64_strided(
        Py_ssize_t n, const double* input, Py_ssize_t input_stride,
        const double* target, Py_ssize_t target_stride,
        double* grad_out, Py_ssize_t grad_stride, double delta,
        double grad_scale) noexcept nogil
