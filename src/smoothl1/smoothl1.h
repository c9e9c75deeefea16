/* smoothl1.h: smoothl1's Smooth L1, Huber and pseudo-Huber kernels for C and C++
 * (docs/embedding.md).
 *
 *     #define PY_SSIZE_T_CLEAN
 *     #include "smoothl1.h"       compile with -I followed by what smoothl1.get_include() prints
 *
 *     if (smoothl1_import() < 0)  once per .c file, with the GIL held, before any kernel
 *         return NULL;            (a Python exception is set)
 *     total = smoothl1_huber_loss_sum_f64(n, input, target, 1.0);    no GIL needed
 *
 * The kernels are the functions of the Python API's build (AVX-512, AVX2 or baseline, as
 * smoothl1._core.dispatch picks; all give the same bits), fetched at run time from the module
 * smoothl1._smoothl1: nothing is linked against smoothl1, and the pointers are filled by
 * smoothl1_import(). They are static, so each .c file that calls kernels imports once. They
 * stay valid while that interpreter runs; after Py_FinalizeEx they must not be called (the
 * module may be gone), and a second Py_Initialize cannot bring them back: NumPy cannot be
 * loaded twice in a process, so smoothl1_import() then returns -1. Include this
 * header before any system header (it includes Python.h).
 *
 * Names, signatures, conventions and preconditions (nothing is checked: n >= 0, a valid
 * parameter, or valid parameters in the array of a _params function, valid aligned pointers,
 * no zero output stride when n > 1, ...) are written in kernels.pxd, next to this file; the
 * declarations themselves are in _smoothl1_api.h, which Cython generates and which includes
 * Python.h, and every signature, with its parameters' names, is in the X-macro list
 * SMOOTHL1_FOR_EACH_FUNCTION(X) of smoothl1_functions.h (generated from the same table). They
 * are a stable contract: functions are added, never changed or removed (docs/contract.md
 * section 9).
 */
#ifndef SMOOTHL1_H
#define SMOOTHL1_H

/* The smoothl1 release this header comes with (smoothl1.__version__). */
#define SMOOTHL1_VERSION "0.1.0"
#define SMOOTHL1_VERSION_MAJOR 0
#define SMOOTHL1_VERSION_MINOR 1
#define SMOOTHL1_VERSION_PATCH 0
/* For #if tests: SMOOTHL1_VERSION_HEX >= 0x000100 is release 0.1.0 or later. */
#define SMOOTHL1_VERSION_HEX \
    ((SMOOTHL1_VERSION_MAJOR << 16) | (SMOOTHL1_VERSION_MINOR << 8) | SMOOTHL1_VERSION_PATCH)

/* Cython generates _smoothl1_api.h in C style (casts like (T)x, 0 for a null pointer): a C++
 * caller compiling with -Wold-style-cast or -Wzero-as-null-pointer-constant would see hundreds
 * of warnings that are not in its code. The rest of this file, and what it includes, are a
 * system header to GCC and clang, which report no warnings there. Python.h is included here
 * too (by _smoothl1_api.h): include smoothl1.h before Python.h for the same quiet from it. */
#if defined(__GNUC__)
#pragma GCC system_header
#endif

#include "_smoothl1_api.h"
/* SMOOTHL1_FOR_EACH_FUNCTION(X): every function's return type, name and parameters, in C. */
#include "smoothl1_functions.h"

/* Import smoothl1._smoothl1 and fill this file's function pointers. Returns 0, or -1 with a
 * Python exception set (smoothl1 or NumPy not importable, or a smoothl1 whose functions do not
 * have the signatures this header was generated for). Call it with the GIL held. */
#define smoothl1_import() import_smoothl1___smoothl1()

#endif /* SMOOTHL1_H */
