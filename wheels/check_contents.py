"""Check what smoothl1's sdist and wheels contain (run by wheels/build.sh; see wheels/README.md).

    python wheels/check_contents.py --source TREE [--allow-pending] SDIST WHEEL [WHEEL ...]

TREE is the source copy the distributions were built from, after the build (so files the
build generates, such as the Cython API header, are there too). Each wheel must hold the
compiled module and every package file of TREE/src/smoothl1 (.py, .pyi, .pxd, .h, py.typed),
and nothing else: no generated .c, no .pyx, no tests, no caches. Every kind of the public
contract (.pxd, C header, .pyi, py.typed) must be present; --allow-pending turns a kind that
is missing from the source tree too into a warning, for work that has not landed yet. All the
wheels given must list the same files (the wheel and its repaired copy; wheels/build.sh builds
the wheel from the sdist, so the sdist is complete); a repaired wheel may add smoothl1.libs/.
The sdist must hold the Cython source and tests/, and no generated or compiled file.
"""
import argparse
import fnmatch
import pathlib
import sys
import tarfile
import zipfile

PACKAGE = "smoothl1"
PACKAGE_FILES = ("*.py", "*.pyi", "*.pxd", "*.h", "py.typed")
# The public contract for users and for Cython/C consumers, by kind.
CONTRACT = {
    "Cython declarations (.pxd)": "*.pxd",
    "C header (.h)": "*.h",
    "type stubs (.pyi)": "*.pyi",
    "PEP 561 marker (py.typed)": "py.typed",
}
COMPILED = ("smoothl1/_smoothl1.*.so", "smoothl1/_smoothl1.*.pyd")
# The AVX2 and AVX-512 builds of the same kernels (x86-64 only; smoothl1._core.dispatch picks
# one at run time).
COMPILED_OPTIONAL = ("smoothl1/_smoothl1_avx2.*.so", "smoothl1/_smoothl1_avx2.*.pyd",
                     "smoothl1/_smoothl1_avx512.*.so", "smoothl1/_smoothl1_avx512.*.pyd")
FORBIDDEN = ("*.c", "*.cpp", "*.pyx", "*.html", "*.pyc", "*/__pycache__/*", "tests/*",
             "*/tests/*", "*conftest.py")
# The tables (src/smoothl1/_core/losses.py, tools/generate_kernels.py) and the templates are
# sources; the .pxi and .pxd files the build generates from them are not.
SDIST_REQUIRED = ("PKG-INFO", "pyproject.toml", "setup.py", "README.md", "src/_smoothl1.pyx",
                  "src/_smoothl1_avx2.pyx", "src/_smoothl1_avx512.pyx", "src/smoothl1/__init__.py",
                  "src/smoothl1_pool.h", "tools/generate_kernels.py", "tools/simd_variants.py",
                  # the three wings of the package (docs/layout.md) and the table of losses
                  "src/smoothl1/_core/__init__.py", "src/smoothl1/_core/losses.py",
                  "src/smoothl1/_adapters/__init__.py", "src/smoothl1/cli/__init__.py",
                  "src/kernels/capi_functions.pxi.tp", "src/kernels/loss_points.pxi.tp",
                  "src/kernels/loss_runs.pxi.tp", "src/kernels/grad_hess.pxi.tp",
                  "src/kernels/entry_points.pxi.tp", "src/kernels/small_calls.pxi",
                  "src/kernels/block_loop.pxi", "src/kernels/losses/smooth_l1.pxi",
                  "src/smoothl1/_smoothl1.pxd.tp", "src/smoothl1/kernels.pxd.tp",
                  "src/smoothl1/smoothl1_functions.h.tp", "docs/embedding.md")
SDIST_FORBIDDEN = ("*.so", "*.pyd", "*.o", "build/*", "wheels/out/*", "src/_smoothl1.c", "src/_smoothl1_avx2.c",
                   "src/_smoothl1_avx512.c", "*_api.h", "*.pyc", "src/kernels/capi_functions.pxi",
                   "src/kernels/loss_points.pxi", "src/kernels/loss_runs.pxi",
                   "src/kernels/grad_hess.pxi", "src/kernels/entry_points.pxi",
                   "src/smoothl1/_smoothl1.pxd", "src/smoothl1/kernels.pxd",
                   "src/smoothl1/smoothl1_functions.h")

# The type stubs (src/smoothl1/__init__.pyi, dask.pyi) are generated from the table of losses
# by every build, by tools/generate_stubs.py: the sdist ships the generator, the wheels the
# stubs.
SDIST_REQUIRED += ("tools/generate_stubs.py",)
SDIST_FORBIDDEN += ("src/smoothl1/__init__.pyi", "src/smoothl1/dask.pyi")


def matches(name, patterns):
    return any(fnmatch.fnmatch(name, pattern) for pattern in patterns)


def check_sdist(path, source, errors):
    with tarfile.open(path) as archive:
        names = [name.split("/", 1)[1] for name in archive.getnames() if "/" in name]
    # The suite ships in the sdist (MANIFEST.in), so that packagers can run it from there.
    tests = sorted(p.relative_to(source).as_posix() for p in (source / "tests").rglob("*")
                   if p.is_file() and "__pycache__" not in p.parts)
    for required in SDIST_REQUIRED + tuple(tests):
        if required not in names:
            errors.append(f"{path.name}: missing {required}")
    for name in names:
        if matches(name, SDIST_FORBIDDEN):
            errors.append(f"{path.name}: must not contain {name}")
    print(f"sdist {path.name}: {len(names)} entries")


def check_wheel(path, source_files, errors):
    with zipfile.ZipFile(path) as archive:
        names = [name for name in archive.namelist() if not name.endswith("/")]
    package = sorted(name for name in names if name.startswith(PACKAGE + "/"))
    compiled = [name for name in package if matches(name, COMPILED)]
    variants = [name for name in package if matches(name, COMPILED_OPTIONAL)]
    if len(compiled) != 1:
        errors.append(f"{path.name}: expected one compiled smoothl1._smoothl1, found {compiled}")
    for name in source_files:
        if name not in names:
            errors.append(f"{path.name}: missing {name} (present in the source tree)")
    for name in names:
        top = name.split("/", 1)[0]
        if top not in (PACKAGE, PACKAGE + ".libs") and not top.endswith(".dist-info"):
            errors.append(f"{path.name}: unexpected top-level entry {name}")
        if matches(name, FORBIDDEN):
            errors.append(f"{path.name}: must not contain {name}")
        if top == PACKAGE and name not in source_files and name not in compiled + variants:
            errors.append(f"{path.name}: {name} is in the wheel but not in the source tree")
    entry_points = [name for name in names if name.endswith(".dist-info/entry_points.txt")]
    if not entry_points:
        errors.append(f"{path.name}: no entry_points.txt (the smoothl1 command)")
    return set(package)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=pathlib.Path, required=True)
    parser.add_argument("--allow-pending", action="store_true")
    parser.add_argument("sdist", type=pathlib.Path)
    parser.add_argument("wheels", type=pathlib.Path, nargs="+")
    args = parser.parse_args()

    package_dir = args.source / "src" / PACKAGE
    source_files = sorted(
        f"{PACKAGE}/{path.relative_to(package_dir).as_posix()}"
        for path in package_dir.rglob("*")
        if path.is_file() and matches(path.name, PACKAGE_FILES) and "__pycache__" not in path.parts
    )
    errors, warnings = [], []
    check_sdist(args.sdist, args.source, errors)
    listings = {wheel: check_wheel(wheel, source_files, errors) for wheel in args.wheels}

    first, *others = args.wheels
    for other in others:
        if listings[other] != listings[first]:
            errors.append(f"{other.name} and {first.name} differ: "
                          f"{sorted(listings[other] ^ listings[first])}")

    print(f"\ncontract files in {first.name}:")
    for kind, pattern in CONTRACT.items():
        found = [name for name in sorted(listings[first]) if fnmatch.fnmatch(name.rsplit("/", 1)[-1], pattern)]
        if found:
            print(f"  ok       {kind}: {', '.join(found)}")
        elif args.allow_pending and not any(fnmatch.fnmatch(n.rsplit("/", 1)[-1], pattern)
                                            for n in source_files):
            print(f"  PENDING  {kind}: not in the source tree yet")
            warnings.append(kind)
        else:
            print(f"  MISSING  {kind}")
            errors.append(f"{first.name}: no {kind}")

    for error in errors:
        print(f"check_contents: ERROR: {error}", file=sys.stderr)
    if warnings:
        print(f"check_contents: WARNING: pending (allowed by --allow-pending): {', '.join(warnings)}")
    if errors:
        return 1
    print(f"check_contents: ok ({len(args.wheels)} wheels, {args.sdist.name})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
