# The C API (section 4 of the map in src/_smoothl1.pyx): exported_pass, which the generated
# <loss>_pass and <loss>_params_pass functions (loss_runs.pxi) call, and through them the
# `cdef api` functions (capi_functions.pxi, generated from the C API's table).
#
# Declared, with each function's preconditions, in smoothl1/_smoothl1.pxd (the declarations of
# this module, which Cython checks these definitions against) and re-exported under the public
# name smoothl1/kernels.pxd, both generated from the same table as the definitions; `cdef api`
# also writes the C header _smoothl1_api.h (included by the hand-written smoothl1/smoothl1.h).
# The names and signatures are a stable contract, pinned by tests/cython_abi_signatures.txt.
# The AVX2 and AVX-512 modules include this file and export the same functions;
# smoothl1._core.dispatch points this module's __pyx_capi__ at the build in use.


cdef inline double exported_pass(const LossParams* p, const floating* param_values,
                                 Py_ssize_t param_step, int mode, Py_ssize_t n,
                                 const floating* x, Py_ssize_t x_step,
                                 const floating* t, Py_ssize_t t_step,
                                 floating* loss_out, Py_ssize_t loss_step,
                                 floating* grad_out, Py_ssize_t grad_step,
                                 floating* hess_out, Py_ssize_t hess_step,
                                 double grad_scale) noexcept nogil:
    # run_plan on one thread for a 1-D operand: items of ITEM_SIZE elements, their sums
    # combined pairwise in order. The Python API makes the same items of a 1-D array, so the
    # sums here are bit-for-bit its sums, whatever its n_threads. param_values (NULL for a
    # scalar parameter) and param_step are run_segment's. The grad_hess modes sum nothing and
    # take their own loop (grad_scale is 1 for them: they are elementwise), which reads the
    # per-element parameters contiguously: strided ones are gathered a block at a time, as
    # run_segment does.
    cdef PairwiseSum items
    cdef ChunkedSum acc
    cdef const floating* item_params
    cdef floating param_buffer[CHUNK]
    cdef Py_ssize_t start = 0, length
    if mode & STORE_HESS and (param_values == NULL or param_step == 1):
        run_grad_hess_segment(p, mode, n, x, x_step, t, t_step, <const floating*>NULL, 0,
                              param_values, grad_out, grad_step, hess_out, hess_step)
        return 0.0
    if mode & STORE_HESS:
        while start < n:
            length = CHUNK if n - start > CHUNK else n - start
            run_grad_hess_segment(p, mode, length, x + start * x_step, x_step,
                                  t + start * t_step, t_step, <const floating*>NULL, 0,
                                  block_params(param_values, param_step, start, length,
                                               param_buffer),
                                  grad_out + start * grad_step, grad_step,
                                  hess_out + start * hess_step, hess_step)
            start += length
        return 0.0
    pairwise_init(&items)
    while start < n:
        length = ITEM_SIZE if n - start > ITEM_SIZE else n - start
        chunked_init(&acc)
        item_params = param_values
        if param_values != NULL:
            item_params = param_values + start * param_step
        run_segment(p, mode, length, x + start * x_step, x_step, t + start * t_step, t_step,
                    <const floating*>NULL, 0, item_params, param_step,
                    loss_out + start * loss_step, loss_step,
                    grad_out + start * grad_step, grad_step, grad_scale, 1.0, &acc)
        pairwise_add(&items, chunked_total(&acc))
        start += length
    return pairwise_total(&items)


