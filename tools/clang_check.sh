#!/usr/bin/env bash
# Build smoothl1 with Clang, the compiler of the macOS wheels, and check that it computes the
# GCC build's bits (docs/guarantees.md): .ci/run runs it once, after wheels/build.sh.
#
#   bash tools/clang_check.sh [GCC_WHEEL]
#
# 1. copies the work tree and builds its kernels in place with CC=clang (the build flags of
#    setup.py; Clang accepts all but GCC's -fno-thread-jumps and inline parameter, which setup.py
#    probes and leaves out);
# 2. prints tools/bits_digest.py's digests of the Clang build, the widest SIMD build this CPU
#    runs and the baseline, and compares them with the same digests of the GCC build: the wheel
#    wheels/build.sh made (GCC_WHEEL, default wheels/out/smoothl1-*.whl), installed in a
#    temporary venv; any difference fails;
# 3. runs the suite's bit checks against the Clang build: the SIMD builds against the baseline
#    (tests/test_dispatch.py) and every thread count against one (tests/test_threads.py).
# Speed is not checked here (a shared CI machine times nothing reliably): docs/speed.md gives
# the bench rows of both compilers, measured side by side with `bench --against`.
#
# Environment: PYTHON (default python3), with NumPy, Cython and setuptools (the build's
# requirements) and pytest with pytest-xdist; CLANG (default clang); KEEP_WORK=1.
set -euo pipefail

SCRIPT_NAME=clang
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

CLANG=${CLANG:-clang}
command -v "$CLANG" >/dev/null || die "$CLANG not found (Debian: apt-get install clang)"
WHEEL=${1:-$(compgen -G "$ROOT/wheels/out/smoothl1-*.whl" | head -n 1 || true)}
[[ -n $WHEEL && -f $WHEEL ]] \
    || die "no GCC wheel to compare with: run wheels/build.sh first, or pass one"

SRC="$WORK/src"
copy_work_tree "$SRC"
step "build the kernels in place with $("$CLANG" --version | head -n 1) (log: $WORK/build.log)"
(cd "$SRC" && CC="$CLANG" LDSHARED="$CLANG -shared" "$PYTHON" setup.py build_ext --inplace \
    >"$WORK/build.log" 2>&1) || { tail -n 40 "$WORK/build.log" >&2; die "the Clang build failed"; }
# (the compiler's name is in each object's .comment section; GCC's start-up files add theirs)
for so in "$SRC"/src/smoothl1/_smoothl1*.so; do
    grep -q -a "clang version" "$so" \
        || die "$so was not compiled by Clang: CC did not reach the build"
done

step "the GCC wheel, $(basename "$WHEEL"), in a temporary venv"
# A venv of its own (a venv made from a venv would see the base interpreter's packages, not
# PYTHON's), with the NumPy the Clang build is tested with.
"$PYTHON" -m venv "$WORK/gcc-venv"
NUMPY_VERSION=$("$PYTHON" -c 'import numpy; print(numpy.__version__)')
"$WORK/gcc-venv/bin/python" -m pip install --quiet "$WHEEL" "numpy==$NUMPY_VERSION" \
    >"$WORK/gcc-venv.log" 2>&1 \
    || { cat "$WORK/gcc-venv.log" >&2; die "the GCC wheel did not install"; }

# From an empty folder, so that neither the source tree nor the copy is imported by accident.
RUN="$WORK/run"
mkdir "$RUN"
digest() {   # digest NAME PYTHON [PYTHONPATH] -- with and without SMOOTHL1_BASELINE
    local name=$1 python=$2 path=${3:-}
    (cd "$RUN" && env -u PYTHONPATH ${path:+PYTHONPATH=$path} \
        "$python" "$SRC/tools/bits_digest.py") >"$WORK/$name.txt"
    (cd "$RUN" && env -u PYTHONPATH ${path:+PYTHONPATH=$path} SMOOTHL1_BASELINE=1 \
        "$python" "$SRC/tools/bits_digest.py") >>"$WORK/$name.txt"
}
step "bit digests: every loss, function, reduction, curvature and dtype, 1 and 2 threads"
digest gcc "$WORK/gcc-venv/bin/python"
digest clang "$PYTHON" "$SRC/src"
builds=$(cut -d' ' -f1 "$WORK/clang.txt" | sort -u | tr '\n' ' ')
lines=$(wc -l <"$WORK/clang.txt")
if ! diff "$WORK/gcc.txt" "$WORK/clang.txt" >"$WORK/digest.diff"; then
    head -n 40 "$WORK/digest.diff" >&2
    die "the Clang build's bits differ from the GCC build's (lines above: < GCC, > Clang)"
fi
echo "clang: the same bits as GCC: $lines digests (builds: $builds)"

step "the suite's bit checks against the Clang build"
(cd "$RUN" && cp -r "$SRC/tests" tests && cp "$SRC/pyproject.toml" . \
    && PYTHONPATH="$SRC/src" "$PYTHON" -m pytest -q -p no:cacheprovider -n 2 \
        tests/test_dispatch.py tests/test_threads.py)

step "done in $((SECONDS - START)) s"
