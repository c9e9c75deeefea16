"""Build the compiled kernels, smoothl1._smoothl1 (metadata lives in pyproject.toml), and on
x86-64 their AVX2 build smoothl1._smoothl1_avx2, picked at run time by smoothl1._dispatch.

OpenMP is used where the compiler supports it and dropped, with a printed warning, where it
does not: the library then runs on one thread with identical results. Set SMOOTHL1_DEBUG=1 to
turn Cython's bounds/wraparound/initialized checks back on (for sanitizer and debug runs).
Shipped builds never use -march=native (crashes older CPUs) or -ffast-math (breaks NaN/inf).
"""
import os
import platform
import shutil
import subprocess
import sys
import sysconfig
import tempfile

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

DEBUG = os.environ.get("SMOOTHL1_DEBUG", "") not in ("", "0")


def compiler_is_msvc():
    return sys.platform == "win32" and not os.environ.get("CC", "").endswith("gcc")


def compiler_accepts(flags, source="int main(void) { return 0; }\n"):
    """Whether the C compiler builds and links `source` with `flags`."""
    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "probe.c")
        with open(path, "w") as handle:
            handle.write(source)
        command = cc.split() + flags + [path, "-o", os.path.join(folder, "probe")]
        try:
            return subprocess.run(command, capture_output=True).returncode == 0
        except OSError:
            return False


def openmp_flags():
    """Return (compile_args, link_args) for OpenMP, or ([], []) if the compiler lacks it."""
    if os.environ.get("SMOOTHL1_NO_OPENMP"):
        print("smoothl1: OpenMP disabled by SMOOTHL1_NO_OPENMP; building single-threaded")
        return [], []
    if compiler_is_msvc():
        print("smoothl1: building with OpenMP (/openmp)")
        return ["/openmp"], []
    if sys.platform == "darwin":
        # Apple clang has no bundled OpenMP runtime; wheels/ documents the libomp route.
        flags = os.environ.get("SMOOTHL1_OPENMP_FLAGS")
        if not flags:
            print("smoothl1: WARNING: macOS build without OpenMP (set SMOOTHL1_OPENMP_FLAGS "
                  "to use libomp); the library runs single-threaded")
            return [], []
        compile_args = flags.split()
        return compile_args, compile_args + ["-lomp"]
    source = "#include <omp.h>\nint main(void) { return omp_get_max_threads() > 0 ? 0 : 1; }\n"
    ok = compiler_accepts(["-fopenmp"], source)
    if ok:
        print("smoothl1: building with OpenMP (-fopenmp)")
        return ["-fopenmp"], ["-fopenmp"]
    print("smoothl1: WARNING: the compiler does not support OpenMP; building single-threaded")
    return [], []


def compile_args():
    if compiler_is_msvc():
        return ["/O2", "/fp:precise"]
    # -ffp-contract=off: no fused multiply-add contraction, so every path rounds the same way
    # and loss_and_grad is bit-for-bit the separate calls on every CPU.
    # -fno-trapping-math: lets GCC turn the two branches of each formula into SIMD selects. It
    # changes no value (NaN and inf behave as in IEEE arithmetic); it only allows operations
    # whose result is discarded to raise status flags, and the kernels restore the caller's
    # flags anyway. (Unlike -ffast-math, which we never use.) Clang does this by default.
    # -fno-wrapv: Python's own CFLAGS carry -fwrapv, which stops GCC from vectorising the
    # float32 loops (it can no longer prove the index arithmetic does not wrap).
    args = ["-O3", "-ffp-contract=off", "-fno-trapping-math", "-fno-wrapv"]
    if DEBUG:
        args += ["-O1", "-g", "-fno-omit-frame-pointer"]
    return args


omp_compile, omp_link = openmp_flags()
directives = {"boundscheck": DEBUG, "wraparound": DEBUG, "initializedcheck": DEBUG}

extension = Extension(
    "smoothl1._smoothl1",
    sources=["src/_smoothl1.pyx"],
    include_dirs=[numpy.get_include()],
    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_23_API_VERSION")],
    extra_compile_args=compile_args() + omp_compile,
    extra_link_args=omp_link,
)

def avx2_variant():
    """The AVX2 build of the same kernels, where the compiler targets x86-64 and accepts
    -mavx2 (chosen at run time by smoothl1._dispatch; never -march=native)."""
    if compiler_is_msvc() or platform.machine().lower() not in ("x86_64", "amd64"):
        return []
    if os.environ.get("SMOOTHL1_NO_AVX2") or not compiler_accepts(["-mavx2"]):
        print("smoothl1: no AVX2 variant (baseline kernels only)")
        return []
    print("smoothl1: building the AVX2 variant of the kernels (-mavx2)")
    return [Extension(
        "smoothl1._smoothl1_avx2",
        sources=["src/_smoothl1_avx2.pyx"],
        include_dirs=[numpy.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_23_API_VERSION")],
        extra_compile_args=compile_args() + omp_compile + ["-mavx2"],
        extra_link_args=omp_link,
    )]


# `cdef api` (the C API, section 4 of the .pyx) makes Cython write _smoothl1_api.h next to the
# generated .c; the package ships a copy, found by smoothl1.get_include(). The header is generated,
# never committed: when it is missing, Cython runs again even if the .c is up to date.
API_HEADER = "src/_smoothl1_api.h"
ext_modules = cythonize([extension] + avx2_variant(), compiler_directives=directives, annotate=False,
                        language_level=3, force=not os.path.exists(API_HEADER))
shutil.copyfile(API_HEADER, "src/smoothl1/_smoothl1_api.h")

setup(ext_modules=ext_modules)
