"""A cache of the kernels' build, so that building the same sources twice compiles them once:
the README's two commands (`pip install .`, then `pip install ".[test]"`, which pip builds
again from scratch), and CI's many builds. setup.py loads this file by its path.

Where it lives: SMOOTHL1_BUILD_CACHE=<folder> when set (CI sets its own, empty, folder, so a
run never reads a user's cache), else the user's cache folder, where pip keeps its own:
$XDG_CACHE_HOME/smoothl1/build (~/.cache/smoothl1/build) on Linux,
~/Library/Caches/smoothl1/build on macOS, %LOCALAPPDATA%\\smoothl1\\Cache\\build on Windows.
SMOOTHL1_BUILD_CACHE=0 turns it off. It holds at most KEEP entries of each kind (Cython's
output; each extension for each interpreter), the most recently used: some tens of MB.

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
import zlib
from pathlib import Path


# Entries kept of each kind; a third lets CI's interpreters whose NumPy .pxd differ share one
# folder without evicting each other's Cython output.
KEEP = 3
OFF = "0"


def default_folder():
    """The user's cache folder for smoothl1's builds (see the module's docstring)."""
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local",
                    "smoothl1", "Cache", "build")
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "smoothl1" / "build"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache", "smoothl1", "build")


def folder():
    """The cache folder (created), or None when the cache is off or cannot be created."""
    setting = os.environ.get("SMOOTHL1_BUILD_CACHE", "")
    if setting == OFF:
        return None
    try:
        path = Path(setting) if setting else default_folder()
        path.mkdir(parents=True, exist_ok=True)
    except (OSError, RuntimeError):   # RuntimeError: Path.home() without a home folder
        return None
    return path


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
    build ever reads half a file; whether it did. A failure leaves nothing behind (the cache
    just misses)."""
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        write(temporary)
        os.replace(temporary, path)
        return True
    except OSError:
        try:
            temporary.unlink(missing_ok=True)
        except OSError:
            pass
        return False


def store(path, source, kind):
    """Copy `source` to `path` atomically, then keep only the KEEP newest entries of `kind`."""
    if write_atomically(path, lambda temporary: shutil.copyfile(source, temporary)):
        prune(path.parent, kind)


def make_parent(path):
    """Create the folder of `path`; whether it exists."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return True
    except OSError:
        return False


def mark_used(path):
    """Make `path` the newest entry of its kind, so that prune() keeps it longest."""
    try:
        os.utime(path)
    except OSError:
        pass


def prune(cache, kind):
    """Delete all but the KEEP most recently used entries matching the glob `kind`."""
    try:
        entries = sorted(cache.glob(kind), key=lambda path: path.stat().st_mtime, reverse=True)
        for path in entries[KEEP:]:
            path.unlink(missing_ok=True)
    except OSError:
        pass


def cython_key(sources, directives):
    """Key of Cython's output for `sources` (paths, relative to setup.py) and `directives`."""
    import Cython
    import numpy
    numpy_pxd = sorted(Path(numpy.get_include()).parent.parent.glob("__init__*.pxd"))
    return digest(Cython.__version__, sorted(directives.items()),
                  *[part for path in sorted(sources) for part in (str(path), Path(path))],
                  *[part for path in numpy_pxd for part in (path.name, path)])


CYTHON_KIND = "cython-*.zip"


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
            # Read (and so CRC-check) every file before writing any: a damaged archive then
            # changes nothing and Cython runs as usual.
            contents = {path: zipped.read(path) for path in outputs}
    except (OSError, zipfile.BadZipFile, zlib.error):
        return False
    for path, data in contents.items():
        # A file not written keeps its old content and date, so Cython redoes it.
        if not write_atomically(Path(path), lambda temporary: temporary.write_bytes(data)):
            return False
    mark_used(archive)
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

    if write_atomically(cache / f"cython-{key}.zip", write_zip):
        prune(cache, CYTHON_KIND)


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
        *[part for path in sorted(extension.depends, key=dependency_name)
          for part in (dependency_name(path), Path(path))])


def dependency_name(path):
    """How a file an extension depends on is named in its key: by its path in the source tree,
    but only by its file name when absolute. cythonize lists NumPy's headers by their absolute
    path, in each isolated build environment's own temporary folder: keyed by that path, no
    two pip builds ever shared an extension. (Their content is keyed, and NumPy's version.)"""
    return os.path.basename(path) if os.path.isabs(path) else str(path)


def cached_build_ext(base):
    """`base` (setuptools' build_ext) with each extension taken from the cache when it has it."""

    class CachedBuildExt(base):
        def build_extension(self, extension):
            cache = folder()
            if cache is None:
                return super().build_extension(extension)
            suffix = sysconfig.get_config_var("EXT_SUFFIX")
            # One kind per extension and interpreter (its suffix), so that the builds for two
            # Pythons do not evict each other.
            kind = f"{extension.name}-*{suffix}"
            cached = cache / f"{extension.name}-{extension_key(self, extension)}{suffix}"
            target = Path(self.get_ext_fullpath(extension.name))
            # (atomically: half a file newer than its sources would pass for an up-to-date
            # build; an entry that cannot be copied leaves nothing and builds as usual)
            if cached.exists() and make_parent(target) and write_atomically(
                    target, lambda temporary: shutil.copyfile(cached, temporary)):
                mark_used(cached)
                print(f"smoothl1: {extension.name} from the build cache ({cached})")
                return None
            result = super().build_extension(extension)
            if target.exists():
                store(cached, target, kind)
            return result

    return CachedBuildExt
