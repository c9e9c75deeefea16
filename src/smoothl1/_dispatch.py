"""Which build of the kernels runs: the AVX2 one where the CPU has AVX2, else the baseline.

Both are compiled from src/_smoothl1.pyx and give bit-for-bit the same results; only speed
differs. SMOOTHL1_BASELINE=1 in the environment forces the baseline build (for comparisons).
The C/Cython API (smoothl1.kernels) is always the baseline module's.
"""
import importlib
import os

from . import _smoothl1 as baseline

kernels = baseline
if not os.environ.get("SMOOTHL1_BASELINE") and baseline.cpu_has_avx2():
    try:
        kernels = importlib.import_module("smoothl1._smoothl1_avx2")
    except ImportError:   # built without the variant (non-x86 compiler, SMOOTHL1_NO_AVX2)
        kernels = baseline

#: name of the kernel build in use, for `smoothl1 --version` and the benchmark
build = "avx2" if kernels is not baseline else "baseline"
