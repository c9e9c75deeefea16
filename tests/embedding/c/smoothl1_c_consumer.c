/* A C extension that uses smoothl1's kernels as a stranger would: it includes smoothl1.h (found
 * with smoothl1.get_include(); it includes the header Cython generates, _smoothl1_api.h), calls
 * smoothl1_import() once when the module is imported, and then calls the kernels through the
 * function pointers the header declares, without the GIL.
 *
 * One Python function, run(operation, loss, input, target, out, param, grad_scale, strided),
 * reaches every one of the 32 smooth L1 and Huber entry points with a scalar parameter, and
 * run_params(...), the same with `param` an array of one beta or delta per element, the 48
 * per-element-parameter ones (_params, all three losses), so tests/test_embedding.py can
 * compare them with the Python API. Arrays are 1-D NumPy arrays of one dtype, float32 or
 * float64; `out` is None for "loss_sum". Returns the sum (a float) for "loss_sum" and
 * "loss_and_grad", else None.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>
#include <numpy/arrayobject.h>

#include "smoothl1.h"

enum operation { OP_LOSS_SUM, OP_LOSS, OP_GRAD, OP_LOSS_AND_GRAD };

/* One call of operation `op` for loss NAME (smooth_l1 or huber) and dtype SUFFIX (f32 or f64)
 * of C type T, contiguous or strided. The names pasted here are the header's macros. */
#define CALL_KERNEL(NAME, SUFFIX, T)                                                          \
    do {                                                                                      \
        const T *x = (const T *)x_data, *t = (const T *)t_data;                               \
        T *o = (T *)o_data;                                                                   \
        if (strided) {                                                                        \
            switch (op) {                                                                     \
            case OP_LOSS_SUM:                                                                 \
                total = smoothl1_##NAME##_loss_sum_##SUFFIX##_strided(n, x, xs, t, ts, param);\
                break;                                                                        \
            case OP_LOSS:                                                                     \
                smoothl1_##NAME##_loss_##SUFFIX##_strided(n, x, xs, t, ts, o, os, param);     \
                break;                                                                        \
            case OP_GRAD:                                                                     \
                smoothl1_##NAME##_grad_##SUFFIX##_strided(n, x, xs, t, ts, o, os, param,      \
                                                          scale);                             \
                break;                                                                        \
            case OP_LOSS_AND_GRAD:                                                            \
                total = smoothl1_##NAME##_loss_and_grad_##SUFFIX##_strided(                   \
                    n, x, xs, t, ts, o, os, param, scale);                                    \
                break;                                                                        \
            }                                                                                 \
        }                                                                                     \
        else {                                                                                \
            switch (op) {                                                                     \
            case OP_LOSS_SUM:                                                                 \
                total = smoothl1_##NAME##_loss_sum_##SUFFIX(n, x, t, param);                  \
                break;                                                                        \
            case OP_LOSS:                                                                     \
                smoothl1_##NAME##_loss_##SUFFIX(n, x, t, o, param);                           \
                break;                                                                        \
            case OP_GRAD:                                                                     \
                smoothl1_##NAME##_grad_##SUFFIX(n, x, t, o, param, scale);                    \
                break;                                                                        \
            case OP_LOSS_AND_GRAD:                                                            \
                total = smoothl1_##NAME##_loss_and_grad_##SUFFIX(n, x, t, o, param, scale);   \
                break;                                                                        \
            }                                                                                 \
        }                                                                                     \
    } while (0)

/* The same for the per-element-parameter functions: `p` and `ps` are the parameter array and
 * its stride, in place of the scalar `param`. */
#define CALL_PARAMS_KERNEL(NAME, SUFFIX, T)                                                   \
    do {                                                                                      \
        const T *x = (const T *)x_data, *t = (const T *)t_data, *p = (const T *)p_data;       \
        T *o = (T *)o_data;                                                                   \
        if (strided) {                                                                        \
            switch (op) {                                                                     \
            case OP_LOSS_SUM:                                                                 \
                total = smoothl1_##NAME##_loss_sum_##SUFFIX##_params_strided(                 \
                    n, x, xs, t, ts, p, ps);                                                  \
                break;                                                                        \
            case OP_LOSS:                                                                     \
                smoothl1_##NAME##_loss_##SUFFIX##_params_strided(n, x, xs, t, ts, o, os, p,   \
                                                                 ps);                         \
                break;                                                                        \
            case OP_GRAD:                                                                     \
                smoothl1_##NAME##_grad_##SUFFIX##_params_strided(n, x, xs, t, ts, o, os, p,   \
                                                                 ps, scale);                  \
                break;                                                                        \
            case OP_LOSS_AND_GRAD:                                                            \
                total = smoothl1_##NAME##_loss_and_grad_##SUFFIX##_params_strided(            \
                    n, x, xs, t, ts, o, os, p, ps, scale);                                    \
                break;                                                                        \
            }                                                                                 \
        }                                                                                     \
        else {                                                                                \
            switch (op) {                                                                     \
            case OP_LOSS_SUM:                                                                 \
                total = smoothl1_##NAME##_loss_sum_##SUFFIX##_params(n, x, t, p);             \
                break;                                                                        \
            case OP_LOSS:                                                                     \
                smoothl1_##NAME##_loss_##SUFFIX##_params(n, x, t, o, p);                      \
                break;                                                                        \
            case OP_GRAD:                                                                     \
                smoothl1_##NAME##_grad_##SUFFIX##_params(n, x, t, o, p, scale);               \
                break;                                                                        \
            case OP_LOSS_AND_GRAD:                                                            \
                total = smoothl1_##NAME##_loss_and_grad_##SUFFIX##_params(n, x, t, o, p,      \
                                                                          scale);             \
                break;                                                                        \
            }                                                                                 \
        }                                                                                     \
    } while (0)

static int
parse_operation(const char *name, enum operation *op)
{
    if (strcmp(name, "loss_sum") == 0) *op = OP_LOSS_SUM;
    else if (strcmp(name, "loss") == 0) *op = OP_LOSS;
    else if (strcmp(name, "grad") == 0) *op = OP_GRAD;
    else if (strcmp(name, "loss_and_grad") == 0) *op = OP_LOSS_AND_GRAD;
    else {
        PyErr_Format(PyExc_ValueError, "unknown operation %s", name);
        return -1;
    }
    return 0;
}

/* Store the array's stride in elements. Returns -1 with an exception set if it is not an
 * aligned 1-D array of `type_num` and `n` elements: the kernels check nothing, that is the
 * caller's job. */
static int
element_stride(PyObject *object, int type_num, Py_ssize_t n, int writeable, Py_ssize_t *stride)
{
    PyArrayObject *array = (PyArrayObject *)object;
    if (!PyArray_Check(object) || PyArray_NDIM(array) != 1 || PyArray_TYPE(array) != type_num
            || PyArray_DIM(array, 0) != n || !PyArray_ISALIGNED(array)
            || (writeable && !PyArray_ISWRITEABLE(array))) {
        PyErr_SetString(PyExc_ValueError, "expected aligned 1-D arrays of one dtype and size");
        return -1;
    }
    *stride = PyArray_STRIDE(array, 0) / (Py_ssize_t)PyArray_ITEMSIZE(array);
    return 0;
}

static PyObject *
run(PyObject *self, PyObject *args)
{
    const char *operation_name, *loss;
    PyObject *input, *target, *out;
    double param, scale;
    int strided, type_num, huber;
    enum operation op;
    Py_ssize_t n, xs, ts, os = 0;
    const void *x_data, *t_data;
    void *o_data = NULL;
    double total = 0.0;

    if (!PyArg_ParseTuple(args, "ssOOOddp", &operation_name, &loss, &input, &target, &out,
                          &param, &scale, &strided))
        return NULL;
    if (parse_operation(operation_name, &op) < 0)
        return NULL;
    if (strcmp(loss, "smooth_l1") != 0 && strcmp(loss, "huber") != 0)
        return PyErr_Format(PyExc_ValueError, "unknown loss %s", loss);
    huber = strcmp(loss, "huber") == 0;
    if (!PyArray_Check(input))
        return PyErr_Format(PyExc_TypeError, "input must be an ndarray");
    type_num = PyArray_TYPE((PyArrayObject *)input);
    if (type_num != NPY_FLOAT32 && type_num != NPY_FLOAT64)
        return PyErr_Format(PyExc_TypeError, "input must be float32 or float64");
    n = PyArray_SIZE((PyArrayObject *)input);
    if (element_stride(input, type_num, n, 0, &xs) < 0
            || element_stride(target, type_num, n, 0, &ts) < 0)
        return NULL;
    x_data = PyArray_DATA((PyArrayObject *)input);
    t_data = PyArray_DATA((PyArrayObject *)target);
    if (op != OP_LOSS_SUM) {
        if (element_stride(out, type_num, n, 1, &os) < 0)
            return NULL;
        o_data = PyArray_DATA((PyArrayObject *)out);
    }
    if (!strided && n > 1 && (xs != 1 || ts != 1 || (op != OP_LOSS_SUM && os != 1)))
        return PyErr_Format(PyExc_ValueError,
                            "the contiguous functions need contiguous arrays");

    Py_BEGIN_ALLOW_THREADS
    if (type_num == NPY_FLOAT32) {
        if (huber) CALL_KERNEL(huber, f32, float);
        else CALL_KERNEL(smooth_l1, f32, float);
    }
    else {
        if (huber) CALL_KERNEL(huber, f64, double);
        else CALL_KERNEL(smooth_l1, f64, double);
    }
    Py_END_ALLOW_THREADS

    if (op == OP_LOSS_SUM || op == OP_LOSS_AND_GRAD)
        return PyFloat_FromDouble(total);
    Py_RETURN_NONE;
}

/* run_params(operation, loss, input, target, out, param, grad_scale, strided): as run, with
 * `param` a 1-D array of input's dtype and size, one beta or delta per element (any stride,
 * 0 too), and loss "smooth_l1", "huber" or "pseudo_huber". */
static PyObject *
run_params(PyObject *self, PyObject *args)
{
    const char *operation_name, *loss;
    PyObject *input, *target, *out, *param;
    double scale;
    int strided, type_num, loss_kind;
    enum operation op;
    Py_ssize_t n, xs, ts, ps, os = 0;
    const void *x_data, *t_data, *p_data;
    void *o_data = NULL;
    double total = 0.0;

    if (!PyArg_ParseTuple(args, "ssOOOOdp", &operation_name, &loss, &input, &target, &out,
                          &param, &scale, &strided))
        return NULL;
    if (parse_operation(operation_name, &op) < 0)
        return NULL;
    if (strcmp(loss, "smooth_l1") == 0) loss_kind = 0;
    else if (strcmp(loss, "huber") == 0) loss_kind = 1;
    else if (strcmp(loss, "pseudo_huber") == 0) loss_kind = 2;
    else return PyErr_Format(PyExc_ValueError, "unknown loss %s", loss);
    if (!PyArray_Check(input))
        return PyErr_Format(PyExc_TypeError, "input must be an ndarray");
    type_num = PyArray_TYPE((PyArrayObject *)input);
    if (type_num != NPY_FLOAT32 && type_num != NPY_FLOAT64)
        return PyErr_Format(PyExc_TypeError, "input must be float32 or float64");
    n = PyArray_SIZE((PyArrayObject *)input);
    if (element_stride(input, type_num, n, 0, &xs) < 0
            || element_stride(target, type_num, n, 0, &ts) < 0
            || element_stride(param, type_num, n, 0, &ps) < 0)
        return NULL;
    x_data = PyArray_DATA((PyArrayObject *)input);
    t_data = PyArray_DATA((PyArrayObject *)target);
    p_data = PyArray_DATA((PyArrayObject *)param);
    if (op != OP_LOSS_SUM) {
        if (element_stride(out, type_num, n, 1, &os) < 0)
            return NULL;
        o_data = PyArray_DATA((PyArrayObject *)out);
    }
    if (!strided && n > 1 && (xs != 1 || ts != 1 || ps != 1 || (op != OP_LOSS_SUM && os != 1)))
        return PyErr_Format(PyExc_ValueError,
                            "the contiguous functions need contiguous arrays");

    Py_BEGIN_ALLOW_THREADS
    if (type_num == NPY_FLOAT32) {
        if (loss_kind == 0) CALL_PARAMS_KERNEL(smooth_l1, f32, float);
        else if (loss_kind == 1) CALL_PARAMS_KERNEL(huber, f32, float);
        else CALL_PARAMS_KERNEL(pseudo_huber, f32, float);
    }
    else {
        if (loss_kind == 0) CALL_PARAMS_KERNEL(smooth_l1, f64, double);
        else if (loss_kind == 1) CALL_PARAMS_KERNEL(huber, f64, double);
        else CALL_PARAMS_KERNEL(pseudo_huber, f64, double);
    }
    Py_END_ALLOW_THREADS

    if (op == OP_LOSS_SUM || op == OP_LOSS_AND_GRAD)
        return PyFloat_FromDouble(total);
    Py_RETURN_NONE;
}

/* kernel_address(): where the header's pointer smoothl1_smooth_l1_loss_sum_f32 points, so that
 * a test can check that the import function fetched the build smoothl1._core.dispatch chose. */
static PyObject *
kernel_address(PyObject *self, PyObject *unused)
{
    return PyLong_FromVoidPtr((void *)smoothl1_smooth_l1_loss_sum_f32);
}

static PyMethodDef methods[] = {
    {"run", run, METH_VARARGS,
     "run(operation, loss, input, target, out, param, grad_scale, strided)"},
    {"run_params", run_params, METH_VARARGS,
     "run_params(operation, loss, input, target, out, param_array, grad_scale, strided)"},
    {"kernel_address", kernel_address, METH_NOARGS,
     "Address of the function smoothl1_smooth_l1_loss_sum_f32 points at."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "smoothl1_c_consumer", NULL, -1, methods,
};

PyMODINIT_FUNC
PyInit_smoothl1_c_consumer(void)
{
    import_array();
    /* Imports smoothl1._smoothl1 and fills the header's function pointers (once per file that
     * includes the header: the pointers are static). */
    if (smoothl1_import() < 0)
        return NULL;
    return PyModule_Create(&module);
}
