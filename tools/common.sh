# Shared by tools/sanitize.sh and wheels/build.sh (sourced, after `set -euo pipefail`): the
# temporary work folder, step and error messages, and the copy of the work tree both build from.
# Set SCRIPT_NAME first: it prefixes every message and names the work folder.
# Environment: KEEP_WORK=1 keeps the work folder.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PYTHON=${PYTHON:-python3}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/smoothl1-$SCRIPT_NAME.XXXXXX")
START=$SECONDS

cleanup() {
    if [[ ${KEEP_WORK:-0} == 1 ]]; then echo "$SCRIPT_NAME: work folder kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
step() { printf '\n== %s [%4ds]: %s\n' "$SCRIPT_NAME" "$((SECONDS - START))" "$*"; }
die() { printf '\n%s: ERROR: %s\n' "$SCRIPT_NAME" "$*" >&2; exit 1; }

# copy_work_tree DEST: the files git tracks or would track (uncommitted work is included: CI
# runs on the tree it is given), without ignored files (build outputs, the in-place .so and .c,
# venvs) and without tracked files deleted here.
copy_work_tree() {
    local dest=$1
    step "copy of the work tree (tracked and untracked-but-not-ignored files) in $dest"
    git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1 || die "$ROOT is not a git work tree"
    mkdir "$dest"
    (cd "$ROOT" && git ls-files -z --cached --others --exclude-standard \
        | while IFS= read -r -d '' f; do [[ -f $f || -L $f ]] && printf '%s\0' "$f"; done \
        | tar --null -T - -cf - | tar -xf - -C "$dest")
    [[ -f $dest/pyproject.toml && -f $dest/src/_smoothl1.pyx ]] || die "the copy lacks pyproject.toml or src/_smoothl1.pyx"
}
