"""Build the compiled kernels, smoothl1._smoothl1 (metadata lives in pyproject.toml), and on
x86-64 their AVX2 and AVX-512 builds smoothl1._smoothl1_avx2 and smoothl1._smoothl1_avx512,
picked at run time by smoothl1._core.dispatch.

Threads come from the kernels' own pool (src/smoothl1_pool.h: POSIX threads, or Windows
threads), not OpenMP, so no OpenMP runtime is linked or shipped. Set SMOOTHL1_DEBUG=1 to
turn Cython's bounds/wraparound/initialized checks back on (for sanitizer and debug runs).
Shipped builds never use -march=native (crashes older CPUs) or -ffast-math (breaks NaN/inf).
"""
import hashlib
import importlib.util
import os
import platform
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

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


def thread_flags():
    """(compile_args, link_args) for POSIX threads (src/smoothl1_pool.h); MSVC needs none."""
    if compiler_is_msvc():
        return [], []
    return ["-pthread"], ["-pthread"]


# (see compile_args; -Werror: Clang only warns about an optimisation flag it does not have)
NO_THREAD_JUMPS = ["-fno-thread-jumps"] if not compiler_is_msvc() and compiler_accepts(
    ["-Werror", "-fno-thread-jumps"]) else []
# (see compile_args; GCC refuses -mllvm)
CLANG_INLINE_THRESHOLD = ["-mllvm", "-inline-threshold=1000"] if not compiler_is_msvc() and \
    compiler_accepts(["-Werror", "-mllvm", "-inline-threshold=1000"]) else []
# (see compile_args)
INLINE_UNIT_GROWTH = ["--param", "inline-unit-growth=1000"] if not compiler_is_msvc() and \
    compiler_accepts(["-Werror", "--param", "inline-unit-growth=1000"]) else []


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
    # -fno-math-errno: sqrt (pseudo-Huber) becomes the IEEE instruction alone; otherwise GCC
    # adds a call to the library sqrt for NaN results, only to set errno, which nothing here
    # reads, and that call keeps the loops scalar. No value changes (Clang's default on most
    # platforms).
    # -fno-thread-jumps: pseudo-Huber's formulas select on one condition (|d| < delta) both
    # before and after their division and square root. GCC's jump threading merges those
    # selects into one branch around the whole formula, and the vectoriser then computes both
    # of its sides: every division and square root twice (objdump of the AVX-512 build: 4
    # vdivpd and 2 vsqrtpd per 8 elements of grad_hess instead of 2 and 1). Without the pass
    # the pseudo-Huber loops run about twice as fast in every build, with the same values.
    # Probed: Clang has no such pass.
    # --param inline-unit-growth=1000: GCC stops inlining once the whole file has grown by
    # 40% (its default), and this file's loops, one per loss, dtype and mode, pass that: the
    # point functions of the losses compiled last (log-cosh, Cauchy) were then left as calls
    # in some loops (log_cosh_loss(reduction="none") ran 25 times slower than its mean, one
    # scalar call an element). With the limit raised, every loop inlines its point functions
    # and vectorises. The same values; the compiled file is about a quarter larger.
    # -mllvm -inline-threshold=1000 (Clang): Clang's inliner, like GCC's, left the Cython
    # dispatch of the point functions (loss_point, grad_point) as calls in some loops, which
    # keeps them scalar: log-cosh ran 10-20 times and Cauchy's "none" 25 times slower than in
    # GCC's build. With the higher threshold every loop inlines them (measured with Clang 14;
    # the same bits: tools/clang_check.sh).
    # -g0: no debug information (Python's own CFLAGS carry -g): the installed package is 15
    # MB instead of about 50, and each kernel file compiles about a quarter faster. The code
    # is the same. SMOOTHL1_DEBUG=1 turns -g back on.
    args = ["-O3", "-ffp-contract=off", "-fno-trapping-math", "-fno-wrapv", "-fno-math-errno"]
    args += NO_THREAD_JUMPS + INLINE_UNIT_GROWTH + CLANG_INLINE_THRESHOLD
    if DEBUG:
        args += ["-O1", "-g", "-fno-omit-frame-pointer"]
    else:
        args += ["-g0"]
    return args


thread_compile, thread_link = thread_flags()


def load_tool(name):
    """tools/<name>.py, loaded by its path (tools/ is not a package)."""
    spec = importlib.util.spec_from_file_location(name, f"tools/{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def generate_kernel_sources():
    """Write the kernels' per-loss dispatch (src/kernels/loss_points.pxi, loss_runs.pxi), the
    C API's `cdef api` definitions (src/kernels/capi_functions.pxi), its .pxd declarations
    (src/smoothl1/_smoothl1.pxd, kernels.pxd) and its C list (smoothl1_functions.h) from the
    table of losses
    (src/smoothl1/_core/losses.py) and the C API's table (tools/generate_kernels.py); files
    whose text is unchanged are left alone (no rebuild)."""
    for path in load_tool("generate_kernels").generate():
        print(f"smoothl1: generated {os.path.relpath(path)}")


generate_kernel_sources()
subprocess.run([sys.executable, "tools/generate_stubs.py"], check=True)   # the .pyi stubs

# The files of the one compiled unit src/_smoothl1.pyx includes (src/kernels/, the generated
# ones too), and the pool.
KERNEL_SOURCES = sorted(str(path) for path in Path("src/kernels").rglob("*.pxi")) + [
    "src/kernels/elementary.h", "src/smoothl1_pool.h"]
directives = {"boundscheck": DEBUG, "wraparound": DEBUG, "initializedcheck": DEBUG}

extension = Extension(
    "smoothl1._smoothl1",
    sources=["src/_smoothl1.pyx"],
    depends=KERNEL_SOURCES,
    include_dirs=[numpy.get_include()],
    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_23_API_VERSION")],
    extra_compile_args=compile_args() + thread_compile,
    extra_link_args=thread_link,
)

# x86-64 builds of the same kernels beyond the baseline (SSE2), chosen at run time by
# smoothl1._core.dispatch from what the CPU reports; never -march=native. AVX-512 asks for
# 512-bit vectors: GCC's generic tuning otherwise keeps 256-bit ones, and with them most of the gain.
SIMD_VARIANTS = [
    ("avx2", ["-mavx2"]),
    ("avx512", ["-mavx2", "-mavx512f", "-mavx512dq", "-mavx512vl", "-mavx512bw",
                "-mprefer-vector-width=512"]),
]


def simd_variants():
    """Extensions smoothl1._smoothl1_<name> for SIMD_VARIANTS the compiler accepts, on x86-64
    with GCC or Clang (MSVC gets the baseline only). SMOOTHL1_NO_SIMD=1 builds none (for quick
    development builds; SMOOTHL1_NO_AVX2, its older name, still works). Their source is the C
    derived from the baseline's (derive_simd_sources, below), src/_smoothl1_<name>.c."""
    if compiler_is_msvc() or platform.machine().lower() not in ("x86_64", "amd64"):
        return []
    if os.environ.get("SMOOTHL1_NO_SIMD") or os.environ.get("SMOOTHL1_NO_AVX2"):
        print("smoothl1: no SIMD variants (SMOOTHL1_NO_SIMD is set; baseline kernels only)")
        return []
    variants = []
    for name, flags in SIMD_VARIANTS:
        if not compiler_accepts(flags):
            print(f"smoothl1: no {name} variant (the compiler refuses {' '.join(flags)})")
            continue
        print(f"smoothl1: building the {name} variant of the kernels ({' '.join(flags)})")
        variants.append(Extension(
            f"smoothl1._smoothl1_{name}",
            sources=[f"src/_smoothl1_{name}.c"],
            depends=KERNEL_SOURCES,
            include_dirs=[numpy.get_include()],
            define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_23_API_VERSION")],
            extra_compile_args=compile_args() + thread_compile + flags,
            extra_link_args=thread_link,
        ))
    return variants


def write_if_changed(path, text):
    """Write text to path unless it holds it already (an unchanged file keeps its date, so an
    in-place build does not compile it again)."""
    if not os.path.exists(path) or Path(path).read_text(encoding="utf-8") != text:
        Path(path).write_text(text, encoding="utf-8")


def derive_simd_sources(variants):
    """Write each variant's C, derived from Cython's C of the baseline module by renaming it
    (tools/simd_variants.py), instead of running Cython on src/_smoothl1_<name>.pyx: the same
    kernels, a minute of Cython less per variant. Returns the variants it could not derive
    (C from a Cython whose output tools/simd_variants.py does not know), which Cython then
    builds from their .pyx as before."""
    # pip runs setup.py three times (requirements, metadata, wheel): derive once (a second
    # or two a variant), and again only when the content of the baseline's C or of the tool
    # changed (the build cache rewrites the C at every run, so dates would not tell), as a key
    # kept in build/ says.
    baseline_c = Path("src/_smoothl1.c").read_text(encoding="utf-8")
    key = hashlib.sha256((baseline_c + Path("tools/simd_variants.py").read_text(
        encoding="utf-8")).encode()).hexdigest()
    derivation = None
    left = []
    for variant in variants:
        module = variant.name.rpartition(".")[2]
        stamp = Path("build") / f"smoothl1-derived-{module}.key"
        if os.path.exists(variant.sources[0]) and stamp.exists() \
                and stamp.read_text() == key:
            continue
        derivation = derivation or load_tool("simd_variants")
        try:
            text = derivation.derive(baseline_c, "smoothl1", "_smoothl1", module)
        except Exception as error:   # DerivationError, or a Cython whose C the tool misreads
            print(f"smoothl1: Cython runs for {variant.name}: its C cannot be derived from "
                  f"the baseline's ({type(error).__name__}: {error})")
            variant.sources = [f"src/{module}.pyx"]
            left.append(variant)
            continue
        write_if_changed(variant.sources[0], text)
        stamp.parent.mkdir(exist_ok=True)
        stamp.write_text(key)
    return left


# `cdef api` (the C API, section 4 of the .pyx) makes Cython write _smoothl1_api.h next to the
# generated .c; the package ships a copy, found by smoothl1.get_include(). The header is generated,
# never committed: when it is missing, Cython runs again even if the .c is up to date.
API_HEADER = "src/_smoothl1_api.h"
# The kernel builds are independent: the C compiler runs them all at once (threads). All at
# once even on fewer cores: three builds of about equal length on two cores take one and a half
# rounds that way, two rounds two at a time (the third alone on one core). Each takes at most
# about 1.5 GB of memory (Cython's, which runs once, before them). When the variants' C cannot
# be derived, Cython builds them at once too on Linux (its worker processes; elsewhere they
# would be spawned, which a build backend's setup.py is not written for).
def memory_bytes():
    """The machine's memory, or None where os.sysconf cannot tell."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


# (one build at a time per 2 GB of memory, so that a small machine is not pushed into swap)
JOBS = len(SIMD_VARIANTS) + 1
if memory_bytes() is not None:
    JOBS = max(1, min(JOBS, memory_bytes() // (2 << 30)))
CYTHON_JOBS = JOBS if sys.platform.startswith("linux") else 0
# The build cache: Cython's output and each compiled extension are reused from, and stored in,
# the user's cache folder (or SMOOTHL1_BUILD_CACHE=<folder>; =0 turns it off), so that pip's
# second build of the same sources compiles nothing (tools/build_cache.py says what each is
# keyed by).
build_cache = load_tool("build_cache")
variants = simd_variants()
# Cython runs on the baseline module only (about a minute); the variants' C is derived from its
# output (derive_simd_sources).
cython_outputs = ["src/_smoothl1.c", API_HEADER]
cython_key = build_cache.cython_key(
    extension.sources + KERNEL_SOURCES
    + [str(path) for path in Path("src/smoothl1").glob("*.pxd")], directives)
from_cache = build_cache.restore_cython(cython_key, cython_outputs)
ext_modules = cythonize([extension], compiler_directives=directives, annotate=False,
                        language_level=3, force=not os.path.exists(API_HEADER))
if not from_cache:
    build_cache.store_cython(cython_key, cython_outputs)
left = derive_simd_sources(variants)
ext_modules += [variant for variant in variants if variant not in left]
if left:
    ext_modules += cythonize(left, compiler_directives=directives, annotate=False,
                             nthreads=CYTHON_JOBS, language_level=3)
shutil.copyfile(API_HEADER, "src/smoothl1/_smoothl1_api.h")

setup(ext_modules=ext_modules, options={"build_ext": {"parallel": JOBS}},
      cmdclass={"build_ext": build_cache.cached_build_ext(build_ext)})
