// A C++ consumer of smoothl1.h, compiled by tests/test_capi_function_list.py with
// -Wall -Wextra -Wold-style-cast -Wzero-as-null-pointer-constant -Werror (docs/embedding.md):
// the header must add no warning. It also checks the X-macro list's signatures with
// static_assert, and calls one kernel.
#define PY_SSIZE_T_CLEAN
#include "smoothl1.h"   // first: it includes Python.h, in its quiet part

#include <type_traits>

#define CHECK_TYPE(ret, name, params) \
    static_assert(std::is_same<decltype(name), ret (*) params>::value, \
                  #name " is not declared with its listed signature");
SMOOTHL1_FOR_EACH_FUNCTION(CHECK_TYPE)

// huber_sum(): the Huber sum of {1, -3} against {0, 0}, delta 1
static PyObject *
huber_sum(PyObject *, PyObject *)
{
    const double input[2] = {1.0, -3.0}, target[2] = {0.0, 0.0};
    return PyFloat_FromDouble(smoothl1_huber_loss_sum_f64(2, input, target, 1.0));
}

static PyMethodDef methods[] = {
    {"huber_sum", huber_sum, METH_NOARGS, "a Huber sum, from C++"},
    {nullptr, nullptr, 0, nullptr},
};

static PyModuleDef module = {PyModuleDef_HEAD_INIT, "function_list_cpp", nullptr, -1, methods,
                             nullptr, nullptr, nullptr, nullptr};

PyMODINIT_FUNC
PyInit_function_list_cpp()
{
    if (smoothl1_import() < 0)
        return nullptr;
    return PyModule_Create(&module);
}
