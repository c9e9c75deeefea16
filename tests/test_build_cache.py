"""tools/build_cache.py, the build's cache (docs/contract.md section 19), without compiling
anything: its keys change with every input and only then, a hit gives the very file the
build made, SMOOTHL1_BUILD_CACHE=0 turns it off, the default folder is the user's cache folder,
and a cache that cannot be written or read is an ordinary build.

The build is played by a stand-in for setuptools' build_ext whose build_extension writes a
file (and counts its calls). Skipped when tools/ is not beside tests/ (a wheel's test run copies
tests/ only).
"""
import importlib.util
import itertools
import os
import sys
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest

TOOL = Path(__file__).resolve().parent.parent / "tools" / "build_cache.py"
pytestmark = pytest.mark.skipif(not TOOL.is_file(), reason="tools/build_cache.py is not here")


@pytest.fixture
def build_cache(monkeypatch, tmp_path):
    """A fresh copy of the module, the working folder a temporary one (the build's sources are
    relative paths there), and the cache in tmp_path/cache."""
    spec = importlib.util.spec_from_file_location("build_cache_under_test", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SMOOTHL1_BUILD_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(module, "compiler_version", lambda command: "cc 1.0")
    return module


def make_extension(name="smoothl1._smoothl1"):
    Path("kernel.c").write_text("int kernel;\n")
    Path("kernel.pxi").write_text("# the kernels\n")
    return SimpleNamespace(name=name, sources=["kernel.c"], depends=["kernel.pxi"],
                           extra_compile_args=["-O3"], extra_link_args=["-pthread"],
                           define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_23_API_VERSION")],
                           undef_macros=[], libraries=[])


class FakeBuildExt:
    """setuptools' build_ext as far as the cache uses it: build_extension writes the extension
    (bytes numbered across all builds, so a rebuild is told apart from a copy) and counts its
    calls in `builds`."""

    builds = 0
    numbers = itertools.count()

    def __init__(self, build_folder):
        self.build_folder = Path(build_folder)
        self.compiler = SimpleNamespace(compiler_so=["cc", "-fPIC"], linker_so=["cc", "-shared"])

    def get_ext_fullpath(self, name):
        return str(self.build_folder / (name.replace(".", "/") + ".so"))

    def build_extension(self, extension):
        type(self).builds += 1
        target = Path(self.get_ext_fullpath(extension.name))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(f"compiled {extension.name} #{next(FakeBuildExt.numbers)}".encode())


def builder(build_cache, build_folder):
    """A build_ext stand-in with the cache, and a fresh build counter."""
    cls = build_cache.cached_build_ext(type("Base", (FakeBuildExt,), {"builds": 0}))
    return cls(build_folder)


# --- the keys --------------------------------------------------------------------------------

def extension_changes():
    """(what changes, a function that changes it in (module, build_ext, extension))."""
    def edit(path, text):
        return lambda module, build, ext: Path(path).write_text(text)
    return [
        ("C source", edit("kernel.c", "int kernel2;\n")),
        ("a file it includes", edit("kernel.pxi", "# other kernels\n")),
        ("extension name", lambda m, b, e: setattr(e, "name", "smoothl1._smoothl1_avx2")),
        ("compile args", lambda m, b, e: e.extra_compile_args.append("-mavx2")),
        ("link args", lambda m, b, e: e.extra_link_args.append("-lm")),
        ("macros", lambda m, b, e: e.define_macros.append(("DEBUG", "1"))),
        ("compiler command (CFLAGS)", lambda m, b, e: b.compiler.compiler_so.append("-g")),
        ("linker command (LDFLAGS)", lambda m, b, e: b.compiler.linker_so.append("-s")),
        ("compiler version", lambda m, b, e: setattr(m, "compiler_version",
                                                     lambda command: "cc 2.0")),
        ("interpreter", lambda m, b, e: setattr(m, "sys", SimpleNamespace(
            version=sys.version + " (another build)"))),
        ("extension suffix", lambda m, b, e: setattr(m, "sysconfig", SimpleNamespace(
            get_config_var=lambda name: ".cpython-399-other.so"))),
        ("NumPy's version", lambda m, b, e: setattr(sys.modules["numpy"], "__version__",
                                                    "0.0.1")),
    ]


@pytest.mark.parametrize("change", extension_changes(), ids=lambda change: change[0])
def test_extension_key_changes_with_each_input(build_cache, monkeypatch, tmp_path, change):
    pytest.importorskip("numpy")
    # (set to itself, so that monkeypatch restores it after the change below)
    monkeypatch.setattr(sys.modules["numpy"], "__version__", sys.modules["numpy"].__version__)
    build, extension = FakeBuildExt(tmp_path / "build"), make_extension()
    key = build_cache.extension_key(build, extension)
    assert build_cache.extension_key(build, make_extension()) == key      # same inputs, same key
    change[1](build_cache, build, extension)
    assert build_cache.extension_key(build, extension) != key


def test_extension_key_ignores_where_the_build_runs(build_cache, tmp_path, monkeypatch):
    # pip builds in a fresh temporary folder each time: paths must not be part of the key
    extension = make_extension()
    key = build_cache.extension_key(FakeBuildExt(tmp_path / "build"), extension)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert build_cache.extension_key(FakeBuildExt(elsewhere / "build"), make_extension()) == key


def test_extension_key_ignores_the_build_environments_folder(build_cache, tmp_path):
    # cythonize lists NumPy's headers by absolute path, in pip's temporary build environment
    keys = []
    for environment in ("pip-build-env-1", "pip-build-env-2"):
        header = tmp_path / environment / "numpy" / "arrayobject.h"
        header.parent.mkdir(parents=True)
        header.write_text("/* numpy */\n")
        extension = make_extension()
        extension.depends.append(str(header))
        keys.append(build_cache.extension_key(FakeBuildExt(tmp_path / "build"), extension))
    assert keys[0] == keys[1]
    header.write_text("/* another numpy */\n")
    assert build_cache.extension_key(FakeBuildExt(tmp_path / "build"), extension) != keys[1]


def test_cython_key_changes_with_each_input(build_cache, monkeypatch, tmp_path):
    Cython = pytest.importorskip("Cython")
    numpy = pytest.importorskip("numpy")
    # NumPy's .pxd as Cython reads it: a stand-in package folder
    include = tmp_path / "numpy" / "_core" / "include"
    include.mkdir(parents=True)
    (tmp_path / "numpy" / "__init__.pxd").write_text("# numpy 2\n")
    monkeypatch.setattr(numpy, "get_include", lambda: str(include))
    Path("a.pyx").write_text("include 'k.pxi'\n")
    Path("k.pxi").write_text("# kernels\n")
    sources, directives = ["a.pyx", "k.pxi"], {"boundscheck": False}
    key = build_cache.cython_key(sources, directives)
    assert build_cache.cython_key(list(reversed(sources)), dict(directives)) == key
    changes = [
        lambda: Path("k.pxi").write_text("# other kernels\n"),
        lambda: directives.update(boundscheck=True),
        lambda: (tmp_path / "numpy" / "__init__.pxd").write_text("# numpy 3\n"),
        lambda: monkeypatch.setattr(Cython, "__version__", "9.9.9"),
        lambda: sources.append("k2.pxi") or Path("k2.pxi").write_text(""),
    ]
    seen = {key}
    for change in changes:
        change()
        key = build_cache.cython_key(sources, directives)
        assert key not in seen
        seen.add(key)


# --- hits and misses -------------------------------------------------------------------------

def test_a_hit_gives_the_built_file_and_a_change_is_a_miss(build_cache, tmp_path):
    first = builder(build_cache, tmp_path / "first")
    extension = make_extension()
    first.build_extension(extension)
    built = Path(first.get_ext_fullpath(extension.name)).read_bytes()
    assert type(first).builds == 1

    second = builder(build_cache, tmp_path / "second")   # pip's second, isolated build
    second.build_extension(make_extension())
    assert type(second).builds == 0
    assert Path(second.get_ext_fullpath(extension.name)).read_bytes() == built

    third = builder(build_cache, tmp_path / "third")
    changed = make_extension()
    Path("kernel.pxi").write_text("# a changed kernel\n")
    third.build_extension(changed)
    assert type(third).builds == 1
    assert Path(third.get_ext_fullpath(extension.name)).read_bytes() != built


def test_cython_output_round_trip(build_cache, tmp_path):
    outputs = ["a.c", "a_api.h"]
    Path("a.c").write_bytes(b"/* generated */ int a;\n" * 1000)
    Path("a_api.h").write_bytes(b"/* api */\n")
    assert not build_cache.restore_cython("k1", outputs)          # nothing cached yet
    build_cache.store_cython("k1", outputs)
    for path in outputs:
        Path(path).unlink()
    assert build_cache.restore_cython("k1", outputs)
    assert Path("a.c").read_bytes() == b"/* generated */ int a;\n" * 1000
    assert Path("a_api.h").read_bytes() == b"/* api */\n"
    assert not build_cache.restore_cython("k2", outputs)          # another key: a miss


def test_a_damaged_cython_archive_changes_nothing(build_cache, tmp_path):
    outputs = ["a.c"]
    Path("a.c").write_bytes(b"int a;\n" * 1000)
    build_cache.store_cython("k1", outputs)
    archive = tmp_path / "cache" / "cython-k1.zip"
    with zipfile.ZipFile(archive) as zipped:
        offset = zipped.getinfo("a.c").header_offset
    data = bytearray(archive.read_bytes())
    data[offset + 40:offset + 60] = b"\xff" * 20      # inside a.c's compressed bytes
    archive.write_bytes(bytes(data))
    Path("a.c").write_bytes(b"the tree's own a.c\n")
    assert not build_cache.restore_cython("k1", outputs)
    assert Path("a.c").read_bytes() == b"the tree's own a.c\n"


def test_each_kind_keeps_the_most_recently_used_entries(build_cache, tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    kind = "smoothl1._smoothl1-*.so"
    names = [f"smoothl1._smoothl1-{i}.so" for i in range(build_cache.KEEP + 2)]
    other = cache / "smoothl1._smoothl1_avx2-0.so"            # another kind
    other.write_bytes(b"x")
    os.utime(other, (1, 1))
    for age, name in enumerate(names):
        (cache / name).write_bytes(b"x")
        os.utime(cache / name, (1000 + age, 1000 + age))
    build_cache.mark_used(cache / names[0])                     # the oldest, just used
    build_cache.prune(cache, kind)
    kept = sorted(path.name for path in cache.glob(kind))
    assert kept == sorted([names[0]] + names[-(build_cache.KEEP - 1):])
    assert other.exists()


def test_the_cache_stays_bounded_across_builds(build_cache, tmp_path):
    for version in range(build_cache.KEEP + 3):
        extension = make_extension()
        Path("kernel.c").write_text(f"int kernel{version};\n")
        builder(build_cache, tmp_path / f"build{version}").build_extension(extension)
    assert len(list((tmp_path / "cache").iterdir())) == build_cache.KEEP


# --- where it lives, and off -----------------------------------------------------------------

def test_default_folder_is_the_users_cache(build_cache, monkeypatch, tmp_path):
    monkeypatch.delenv("SMOOTHL1_BUILD_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "local"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    expected = {"win32": tmp_path / "local" / "smoothl1" / "Cache" / "build",
                "darwin": tmp_path / "home" / "Library" / "Caches" / "smoothl1" / "build"}.get(
        sys.platform, tmp_path / "xdg" / "smoothl1" / "build")
    assert build_cache.folder() == expected
    assert expected.is_dir()
    builder(build_cache, tmp_path / "build").build_extension(make_extension())
    assert len(list(expected.iterdir())) == 1


def test_off(build_cache, monkeypatch, tmp_path):
    monkeypatch.setenv("SMOOTHL1_BUILD_CACHE", "0")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert build_cache.folder() is None
    for attempt in range(2):
        build = builder(build_cache, tmp_path / f"build{attempt}")
        build.build_extension(make_extension())
        assert type(build).builds == 1
    Path("a.c").write_text("int a;\n")
    build_cache.store_cython("k1", ["a.c"])
    assert not build_cache.restore_cython("k1", ["a.c"])
    assert not (tmp_path / "xdg").exists() and not (tmp_path / "home").exists()
    assert not (tmp_path / "0").exists()


# --- a cache that fails is an ordinary build -------------------------------------------------

def test_a_cache_folder_that_cannot_be_created_builds(build_cache, monkeypatch, tmp_path):
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("SMOOTHL1_BUILD_CACHE", str(tmp_path / "a-file" / "cache"))
    assert build_cache.folder() is None
    build = builder(build_cache, tmp_path / "build")
    build.build_extension(make_extension())
    assert type(build).builds == 1
    assert Path(build.get_ext_fullpath("smoothl1._smoothl1")).is_file()


def test_a_cache_that_cannot_be_written_builds(build_cache, monkeypatch, tmp_path):
    # As a read-only folder does (chmod would not stop root): every rename into it fails.
    real_replace = os.replace

    def refuse(source, target):
        if Path(target).parent == tmp_path / "cache":
            raise PermissionError(13, "Permission denied", str(target))
        return real_replace(source, target)

    monkeypatch.setattr(build_cache.os, "replace", refuse)
    for attempt in range(2):
        build = builder(build_cache, tmp_path / f"build{attempt}")
        build.build_extension(make_extension())
        assert type(build).builds == 1
        assert Path(build.get_ext_fullpath("smoothl1._smoothl1")).is_file()
    assert list((tmp_path / "cache").iterdir()) == []            # no temporary left behind


def test_an_entry_that_cannot_be_read_builds(build_cache, tmp_path):
    first = builder(build_cache, tmp_path / "first")
    first.build_extension(make_extension())
    (entry,) = (tmp_path / "cache").iterdir()
    entry.unlink()
    entry.mkdir()                                  # the entry's name, but not a readable file
    second = builder(build_cache, tmp_path / "second")
    second.build_extension(make_extension())
    assert type(second).builds == 1
    assert Path(second.get_ext_fullpath("smoothl1._smoothl1")).read_bytes().startswith(
        b"compiled")
