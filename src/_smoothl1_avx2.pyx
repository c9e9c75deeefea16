# cython: language_level=3
# cython: boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
# cython: freethreading_compatible=True
"""The kernels of _smoothl1.pyx compiled for AVX2 (x86-64 only), as the module
``smoothl1._smoothl1_avx2``.

The very same source, included whole; setup.py builds it with -mavx2 and smoothl1._core.dispatch
uses it only when the CPU reports AVX2 (and SMOOTHL1_BASELINE is not set), so one wheel runs
on every x86-64 CPU. Results are bit-for-bit those of the baseline module: IEEE operations,
no FMA contraction, and the same fixed summation order (tests/test_dispatch.py checks it).
Cython reads this file only when tools/simd_variants.py cannot derive the module's C from
the baseline's (which it renames instead, a minute of Cython less; the module's docstring is
then the baseline's).
"""
include "_smoothl1.pyx"
