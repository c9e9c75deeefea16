# cython: language_level=3
# cython: boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
# cython: freethreading_compatible=True
"""The kernels of _smoothl1.pyx compiled for AVX-512 (x86-64 only), as the module
``smoothl1._smoothl1_avx512``.

The very same source, included whole; setup.py builds it with AVX-512 F/DQ/VL/BW (the
x86-64-v4 set) and 512-bit vectors, and smoothl1._core.dispatch uses it only when the CPU reports
all of them (and SMOOTHL1_BASELINE is not set). Twice the SIMD width, twice the registers and
mask registers instead of blends; results are bit-for-bit those of the baseline module (IEEE
operations, no FMA contraction, one fixed summation order; tests/test_speed_properties.py).
Cython reads this file only when tools/simd_variants.py cannot derive the module's C from
the baseline's (which it renames instead, a minute of Cython less; the module's docstring is
then the baseline's).
"""
include "_smoothl1.pyx"
