"""Which build of the kernels runs: the widest SIMD build the CPU supports.

On x86-64 the wheel holds three builds of src/_smoothl1.pyx: the baseline (SSE2), AVX2 and
AVX-512 (F, DQ, VL, BW). They give bit-for-bit the same results; only speed differs.
SMOOTHL1_BASELINE=1 in the environment forces the baseline build (for comparisons).

The C/Cython API (smoothl1.kernels, smoothl1.h) runs the same build: C and Cython consumers
fetch its functions by name from ``smoothl1._smoothl1.__pyx_capi__`` after importing that
module, which imports this package (and so this module) first; below, that table is pointed at
the chosen build's functions, which have the same names and signatures.
"""
import importlib
import os

from .. import _smoothl1 as baseline
from .threads import configure, register_with_threadpoolctl

configure(baseline)

#: (build name, whether this CPU runs it), widest first
_CANDIDATES = (("avx512", baseline.cpu_has_avx512), ("avx2", baseline.cpu_has_avx2))


def _load(name, cpu_has):
    """smoothl1._smoothl1_<name> if this CPU runs it and this install has it, else None."""
    if not cpu_has():
        return None
    try:
        return configure(importlib.import_module(f"smoothl1._smoothl1_{name}"))
    except ImportError:   # built without the variant (older compiler, SMOOTHL1_NO_SIMD)
        return None


kernels = baseline
#: name of the kernel build in use, for `smoothl1 --version` and the benchmark
build = "baseline"
if not os.environ.get("SMOOTHL1_BASELINE"):
    for _name, _cpu_has in _CANDIDATES:
        _module = _load(_name, _cpu_has)
        if _module is not None:
            kernels, build = _module, _name
            break
if kernels is not baseline:
    baseline.__pyx_capi__.update(kernels.__pyx_capi__)
register_with_threadpoolctl(kernels)


def available_builds():
    """{build name: module} of every build this CPU can run and this install has."""
    builds = {"baseline": baseline}
    for name, cpu_has in _CANDIDATES:
        module = _load(name, cpu_has)
        if module is not None:
            builds[name] = module
    return builds
