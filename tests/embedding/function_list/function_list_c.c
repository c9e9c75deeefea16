/* A C consumer of smoothl1's X-macro list, SMOOTHL1_FOR_EACH_FUNCTION (smoothl1_functions.h,
 * docs/embedding.md): it checks at compile time that every listed signature is the type of the
 * function pointer _smoothl1_api.h declares, and reports at run time whether smoothl1_import()
 * set each listed pointer. tests/test_capi_function_list.py builds and runs it. */
#define PY_SSIZE_T_CLEAN
#include "smoothl1.h"
#include <math.h>

/* C11: _Generic picks 1 only when the pointer has exactly the listed type. */
#define CHECK_TYPE(ret, name, params) \
    _Static_assert(_Generic((name), ret (*) params: 1, default: 0), \
                   #name " is not declared with its listed signature");
SMOOTHL1_FOR_EACH_FUNCTION(CHECK_TYPE)

/* One function type per listed function, named after it: the list gives declarations too. */
#define DECLARE_TYPE(ret, name, params) typedef ret (*name##_type) params;
SMOOTHL1_FOR_EACH_FUNCTION(DECLARE_TYPE)

static int
append(PyObject *list, const char *name, int is_set)
{
    PyObject *item = Py_BuildValue("(sO)", name, is_set ? Py_True : Py_False);
    int status = item == NULL ? -1 : PyList_Append(list, item);
    Py_XDECREF(item);
    return status;
}

/* listed() -> [(name, whether smoothl1_import() set its pointer)], in the list's order */
static PyObject *
listed(PyObject *self, PyObject *unused)
{
    PyObject *result = PyList_New(0);
    if (result == NULL)
        return NULL;
#define APPEND(ret, name, params) \
    if (append(result, #name, name != NULL) < 0) { \
        Py_DECREF(result); \
        return NULL; \
    }
    SMOOTHL1_FOR_EACH_FUNCTION(APPEND)
#undef APPEND
    return result;
}

/* huber_sum(): the Huber sum of {1, -3} against {0, 0}, delta 1, through a listed type */
static PyObject *
huber_sum(PyObject *self, PyObject *unused)
{
    const double input[2] = {1.0, -3.0}, target[2] = {0.0, 0.0};
    smoothl1_huber_loss_sum_f64_type kernel = smoothl1_huber_loss_sum_f64;
    return PyFloat_FromDouble(kernel(2, input, target, 1.0));
}

/* empty_means(n), for n == 0: (the kernel's sum of no element, that sum / n as C computes it,
 * the mean docs/embedding.md advises: n > 0 ? total / n : NAN). n comes from the caller so
 * that the division happens at run time, as in a real caller. */
static PyObject *
empty_means(PyObject *self, PyObject *argument)
{
    Py_ssize_t n = PyLong_AsSsize_t(argument);
    double total;
    if (n == -1 && PyErr_Occurred())
        return NULL;
    if (n != 0) {
        PyErr_SetString(PyExc_ValueError, "n must be 0");
        return NULL;
    }
    total = smoothl1_huber_loss_sum_f64(n, NULL, NULL, 1.0);
    return Py_BuildValue("(ddd)", total, total / n, n > 0 ? total / n : NAN);
}

static PyMethodDef methods[] = {
    {"listed", listed, METH_NOARGS, "[(name, pointer set)] of every listed function"},
    {"huber_sum", huber_sum, METH_NOARGS, "a Huber sum through a listed function type"},
    {"empty_means", empty_means, METH_O, "the sum and means of no element"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "function_list_c", NULL, -1, methods};

PyMODINIT_FUNC
PyInit_function_list_c(void)
{
    PyObject *result;
    if (smoothl1_import() < 0)
        return NULL;
    result = PyModule_Create(&module);
    if (result != NULL && PyModule_AddIntConstant(result, "count", SMOOTHL1_FUNCTION_COUNT) < 0) {
        Py_DECREF(result);
        return NULL;
    }
    return result;
}
