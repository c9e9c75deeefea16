# cython: language_level=3
# cython: boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
# cython: freethreading_compatible=True
"""smoothl1._smoothl1_avx2: the kernels of _smoothl1.pyx, compiled for AVX2 (x86-64 only).

The very same source, included whole; setup.py builds it with -mavx2 and smoothl1._core.dispatch
uses it only when the CPU reports AVX2 (and SMOOTHL1_BASELINE is not set), so one wheel runs
on every x86-64 CPU. Results are bit-for-bit those of the baseline module: IEEE operations,
no FMA contraction, and the same fixed summation order (tests/test_dispatch.py checks it).
"""
include "_smoothl1.pyx"
