"""An opt-in cache of the kernels' build for runs that build the same sources many times (CI:
the wheel, the README's command on each CPython). Off unless SMOOTHL1_BUILD_CACHE names a folder;
setup.py loads this file by its path.

Two layers, each keyed by a SHA-256 of everything its output depends on, by content, never by
path (isolated build environments live in fresh temporary folders):

- Cython's output (the .c files and the C API header), which no interpreter's version changes:
  the sources (.pyx, the kernels' .pxi and .h, the package's .pxd), Cython's version, the
  compiler directives and the text of NumPy's .pxd (not NumPy's version: the .pxd is what
  Cython reads, and it is the same across most releases). One Cython run serves every CPython
  whose newest NumPy has the same .pxd.
- each compiled extension: its C source, the files it includes, the full compiler and linker
  command lines (CFLAGS and LDFLAGS included), the compiler's version, the interpreter's
  version and extension suffix, and NumPy's version (its headers). Only a build for the same
  interpreter with the same flags reuses one.

A miss builds as usual and stores the result; a file is stored under a temporary name and
renamed, so concurrent builds never read half a file. A cache that cannot be read or written
is a miss, never an error.
"""
import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path


def folder():
    """The cache folder (created), or None when SMOOTHL1_BUILD_CACHE is unset."""
    path = os.environ.get("SMOOTHL1_BUILD_CACHE", "")
    if not path:
        return None
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:
        return None
    return Path(path)


def digest(*parts):
    """SHA-256 of strings and of the contents of Path objects, in order."""
    hasher = hashlib.sha256()
    for part in parts:
        data = part.read_bytes() if isinstance(part, Path) else repr(part).encode()
        hasher.update(len(data).to_bytes(8, "little"))
        hasher.update(data)
    return hasher.hexdigest()[:32]


def write_atomically(path, write):
    """Call write(temporary) for a file beside `path`, then rename it to `path`, so that no
    build ever reads half a file; a failure leaves nothing behind (the cache just misses)."""
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        write(temporary)
        os.replace(temporary, path)
    except OSError:
        temporary.unlink(missing_ok=True)


def store(path, source):
    """Copy `source` to `path` atomically."""
    write_atomically(path, lambda temporary: shutil.copyfile(source, temporary))


def cython_key(sources, directives):
    """Key of Cython's output for `sources` (paths, relative to setup.py) and `directives`."""
    import Cython
    import numpy
    numpy_pxd = sorted(Path(numpy.get_include()).parent.parent.glob("__init__*.pxd"))
    return digest(Cython.__version__, sorted(directives.items()),
                  *[part for path in sorted(sources) for part in (str(path), Path(path))],
                  *[part for path in numpy_pxd for part in (path.name, path)])


def restore_cython(key, outputs):
    """Put the cached `outputs` (paths) in place, newer than every source, if the cache has them
    all; whether it did."""
    cache = folder()
    archive = cache / f"cython-{key}.zip" if cache else None
    if archive is None or not archive.exists():
        return False
    try:
        with zipfile.ZipFile(archive) as zipped:
            if sorted(zipped.namelist()) != sorted(outputs):
                return False
            zipped.extractall()
    except (OSError, zipfile.BadZipFile):
        return False
    for path in outputs:
        os.utime(path)            # newer than the sources: Cython sees them up to date
    print(f"smoothl1: Cython's output from the build cache ({archive})")
    return True


def store_cython(key, outputs):
    cache = folder()
    if cache is None or not all(os.path.exists(path) for path in outputs):
        return

    def write_zip(temporary):
        with zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as zipped:
            for path in outputs:
                zipped.write(path)

    write_atomically(cache / f"cython-{key}.zip", write_zip)


_compiler_version = {}


def compiler_version(command):
    """The first line of `<compiler> --version` ('' when it cannot run)."""
    program = command[0] if command else "cc"
    if program not in _compiler_version:
        try:
            output = subprocess.run([program, "--version"], capture_output=True, text=True).stdout
        except OSError:
            output = ""
        _compiler_version[program] = output.splitlines()[0] if output else ""
    return _compiler_version[program]


def extension_key(build_ext, extension):
    """Key of one compiled extension as `build_ext` (a setuptools command) would build it."""
    import numpy
    compiler = build_ext.compiler
    compile_command = list(getattr(compiler, "compiler_so", []) or [])
    link_command = list(getattr(compiler, "linker_so", []) or [])
    return digest(
        extension.name, sys.version, sysconfig.get_config_var("EXT_SUFFIX"), numpy.__version__,
        compile_command, link_command, compiler_version(compile_command),
        extension.extra_compile_args, extension.extra_link_args, extension.define_macros,
        extension.undef_macros, extension.libraries,
        *[Path(path) for path in extension.sources],
        *[part for path in sorted(extension.depends) for part in (str(path), Path(path))])


def cached_build_ext(base):
    """`base` (setuptools' build_ext) with each extension taken from the cache when it has it."""

    class CachedBuildExt(base):
        def build_extension(self, extension):
            cache = folder()
            if cache is None:
                return super().build_extension(extension)
            key = extension_key(self, extension)
            cached = cache / f"{extension.name}-{key}{sysconfig.get_config_var('EXT_SUFFIX')}"
            target = Path(self.get_ext_fullpath(extension.name))
            if cached.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(cached, target)
                print(f"smoothl1: {extension.name} from the build cache ({cached})")
                return None
            result = super().build_extension(extension)
            if target.exists():
                store(cached, target)
            return result

    return CachedBuildExt
