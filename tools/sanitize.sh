#!/usr/bin/env bash
# Build smoothl1 with AddressSanitizer + UndefinedBehaviorSanitizer and run the test suite
# against that build (docs/guarantees.md).
#
#   bash tools/sanitize.sh                      # the whole suite (about 6 minutes on 2 cores)
#   bash tools/sanitize.sh tests/test_fuzz.py   # or any pytest arguments instead of "tests"
#
# What it does:
# 1. copies the work tree (git-tracked plus untracked, non-ignored files: no build outputs,
#    no in-place .so) to a temporary folder;
# 2. builds and installs it (not editable) into a fresh venv with SMOOTHL1_DEBUG=1 (Cython's
#    boundscheck/wraparound/initializedcheck on, -O1 -g) and
#    CFLAGS/LDFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer", all kernel builds
#    (baseline, AVX2, AVX-512);
# 3. runs pytest from a folder outside the source tree holding a copy of tests/, with libasan
#    (and libstdc++) preloaded, since python itself is not instrumented, after checking that
#    the smoothl1 it imports is the venv's sanitized build; on every core (pytest-xdist,
#    `-n auto`, whose worker processes inherit the preload and the sanitizer options; `-n 0`
#    among the arguments runs one process); Hypothesis runs with a fixed seed, so that a
#    report reproduces with the same command;
# 4. fails on any sanitizer report: ASan aborts on its first error and UBSan is told to
#    (halt_on_error=1), and every report, from the test process or any child it starts, is
#    also written to a log folder that must stay empty.
#
# ASAN_OPTIONS has detect_leaks=0: CPython does not free everything at exit, so LeakSanitizer
# would report the interpreter, not smoothl1 (tests/test_leaks.py checks for leaks instead).
# Threads: the kernels' pool (src/smoothl1_pool.h) is compiled with them, so ASan sees it, and
# the threaded tests run threaded (n_threads > 1 and inputs over 32768 elements) under ASan.
# Under ASan, tests/test_leaks.py skips its RSS and C-heap checks (ASan's allocator quarantines
# freed memory) and tests/test_threads.py makes fewer calls; they see libasan in LD_PRELOAD.
#
# Environment: PYTHON (default python3); KEEP_WORK=1 keeps the temporary folder.
set -euo pipefail

SCRIPT_NAME=sanitize
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

logged() {
    local log="$WORK/$1.log"; shift
    if ! "$@" >"$log" 2>&1; then
        tail -n 60 "$log" >&2
        die "'$*' failed (log above)"
    fi
}

command -v gcc >/dev/null || die "gcc not found (the sanitizer runtimes come with it)"
LIBASAN=$(gcc -print-file-name=libasan.so)
[[ -e $LIBASAN ]] || die "libasan not found (gcc -print-file-name=libasan.so gave '$LIBASAN'); install the gcc package's sanitizer runtimes (Debian: libasan8/libubsan1, part of gcc)"
LIBASAN=$(readlink -f "$LIBASAN")
# libstdc++ is preloaded too (after libasan): ASan intercepts __cxa_throw and must find the real
# one when it starts; C++ extensions loaded later (matplotlib's ft2font, used by the CLI tests)
# would otherwise abort with "CHECK failed ... real___cxa_throw" on their first exception.
LIBSTDCXX=$(readlink -f "$(gcc -print-file-name=libstdc++.so.6)")
[[ -e $LIBSTDCXX ]] || die "libstdc++.so.6 not found (gcc -print-file-name=libstdc++.so.6)"

# The sanitized build is always compiled (its log must show the flags; tools/build_cache.py
# would key it apart from the others anyway).
export SMOOTHL1_BUILD_CACHE=0   # off (unset, it would be the user's cache folder)

SRC="$WORK/src"
copy_work_tree "$SRC"

step "fresh venv with the build dependencies and the test extras"
VENV="$WORK/venv"
"$PYTHON" -m venv "$VENV"
PY="$VENV/bin/python"
logged pip-upgrade "$PY" -m pip install --upgrade pip
# The build requirements of pyproject.toml, for --no-build-isolation (so the extension is built
# with these flags in this venv, not in an isolated one that would hide what was used).
logged pip-build-deps "$PY" -m pip install "setuptools>=68" "Cython>=3.1" "numpy>=2.0" wheel

step "build with SMOOTHL1_DEBUG=1 and -fsanitize=address,undefined (log: $WORK/build.log)"
SAN_FLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer"
(cd "$SRC" && SMOOTHL1_DEBUG=1 CFLAGS="$SAN_FLAGS" LDFLAGS="$SAN_FLAGS" \
    logged build "$PY" -m pip install -v --no-build-isolation --no-cache-dir ".[test]")
grep -E "^ *smoothl1: " "$WORK/build.log" | sed 's/^ *//' | sort -u || true
grep -q -- "-fsanitize=address,undefined" "$WORK/build.log" \
    || die "the build log shows no -fsanitize flags: CFLAGS did not reach the compiler"

RUN="$WORK/run"
mkdir "$RUN"
cp -r "$SRC/tests" "$RUN/tests"
cp -r "$SRC/docs" "$RUN/docs"      # the samples tests/test_embedding_docs.py and test_cli_docs.py run
cp "$SRC/pyproject.toml" "$RUN/"   # the pytest settings; nothing else of the tree
LOGS="$WORK/sanitizer-logs"
mkdir "$LOGS"
in_run() {
    (cd "$RUN" && env -u PYTHONPATH \
        LD_PRELOAD="$LIBASAN:$LIBSTDCXX${LD_PRELOAD:+:$LD_PRELOAD}" \
        ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:log_path=$LOGS/asan:log_exe_name=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
        UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$LOGS/ubsan:log_exe_name=1" \
        "$PY" "$@")
}
report_logs() {
    local found=0 f
    for f in "$LOGS"/*; do
        [[ -e $f ]] || continue
        found=1
        printf '\n---- %s\n' "$f" >&2
        cat "$f" >&2
    done
    return $found
}

step "import check: the smoothl1 under test is the venv's sanitized build"
in_run - "$VENV" <<'PY' || { report_logs || true; die "import check failed"; }
import pathlib, sys
import smoothl1, smoothl1._smoothl1 as baseline
from smoothl1._core.dispatch import build, kernels
venv = pathlib.Path(sys.argv[1]).resolve()
for module in (smoothl1, baseline, kernels):
    where = pathlib.Path(module.__file__).resolve()
    if venv not in where.parents:
        sys.exit(f"sanitize: ERROR: {module.__name__} imported from {where}, not the venv")
for module in {baseline, kernels}:
    binary = pathlib.Path(module.__file__).read_bytes()
    for marker in (b"__asan_report_load8", b"__ubsan_handle_"):
        if marker not in binary:
            sys.exit(f"sanitize: ERROR: {module.__file__} has no {marker.decode()} calls: "
                     "not a sanitized build")
    print(f"sanitized: {module.__name__} ({pathlib.Path(module.__file__).name})")
print(f"kernel build in use: {build}; smoothl1 from {pathlib.Path(smoothl1.__file__).parent}")
PY

if [[ $# -gt 0 ]]; then SELECTION=("$@"); else SELECTION=(tests); fi
step "pytest ${SELECTION[*]} under ASan+UBSan (from $RUN)"
status=0
in_run -m pytest -ra -p no:cacheprovider -n auto --hypothesis-seed=0 "${SELECTION[@]}" || status=$?
if ! report_logs; then
    die "sanitizer report(s) above (pytest exit $status)"
fi
[[ $status == 0 ]] || die "the test suite failed under the sanitizers (pytest exit $status)"

step "done in $((SECONDS - START)) s: no sanitizer report"
