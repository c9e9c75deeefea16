"""tools/simd_variants.py, which derives the SIMD builds' C from Cython's C of the baseline
module by renaming it (setup.py), on a small module: Cython's C of it, renamed, compiles
into a module that Python imports under the new name, with that name everywhere Python shows
one, and the same functions (a `cdef api` function in __pyx_capi__ too). The kernels' own
builds are checked by tests/test_dispatch.py (test_each_build_carries_its_own_name)."""
import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parent.parent / "tools" / "simd_variants.py"
pytestmark = pytest.mark.skipif(not TOOL.is_file(), reason="tools/simd_variants.py is not here")

SOURCE = '''\
# cython: language_level=3
"""The module ``pkg._mod``: a docstring that names it."""

cdef api double twice(double x) noexcept nogil:
    return 2.0 * x

cdef class Flags:
    def __enter__(self):
        return self

def call_twice(double x):
    """A Python function, whose __module__ names the module."""
    return twice(x)

def fail():
    raise ValueError("from the module")
'''


def load_tool():
    spec = importlib.util.spec_from_file_location("simd_variants", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A folder with the package pkg: _mod (from Cython) and _mod_v (its C, derived)."""
    pytest.importorskip("Cython")
    folder = tmp_path_factory.mktemp("simd_variants")
    (folder / "pkg").mkdir()
    (folder / "pkg" / "__init__.py").write_text("")
    (folder / "pkg" / "_mod.pyx").write_text(SOURCE)
    (folder / "setup.py").write_text(textwrap.dedent("""\
        import importlib.util
        from pathlib import Path
        from Cython.Build import cythonize
        from setuptools import Extension, setup
        spec = importlib.util.spec_from_file_location("simd_variants", %r)
        tool = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(tool)
        extensions = cythonize([Extension("pkg._mod", ["pkg/_mod.pyx"])])
        c_text = Path("pkg/_mod.c").read_text(encoding="utf-8")
        Path("pkg/_mod_v.c").write_text(tool.derive(c_text, "pkg", "_mod", "_mod_v"),
                                        encoding="utf-8")
        setup(ext_modules=extensions + [Extension("pkg._mod_v", ["pkg/_mod_v.c"])])
        """ % str(TOOL)))
    result = subprocess.run([sys.executable, "setup.py", "build_ext", "--inplace"],
                            cwd=folder, capture_output=True, text=True)
    if result.returncode != 0 and "error: command" in result.stderr + result.stdout \
            and "_mod.c" not in result.stderr:
        pytest.skip(f"no working C compiler: {result.stderr[-500:]}")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return folder


def run(folder, code):
    """The output of `code` run in a subprocess that imports pkg from `folder`."""
    result = subprocess.run([sys.executable, "-c", code], cwd=folder, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_derived_module_carries_its_own_name(built):
    output = run(built, textwrap.dedent("""\
        import traceback
        import pkg._mod as base, pkg._mod_v as variant
        for module in (base, variant):
            try:
                module.fail()
            except ValueError as error:
                frames = traceback.extract_tb(error.__traceback__)
            print(module.__name__, module.call_twice.__module__, module.Flags.__module__,
                  module.Flags.__name__, module.call_twice(1.5), "``" + module.__name__ + "``"
                  in module.__doc__, repr(module.__pyx_capi__["twice"]).split('"')[1],
                  frames[-1].filename.endswith("_mod.pyx"), frames[-1].lineno)
        """))
    base, variant = output.splitlines()
    assert base.split(" ", 3)[:3] == ["pkg._mod"] * 3
    assert variant.split(" ", 3)[:3] == ["pkg._mod_v"] * 3
    assert base.split(" ", 3)[3] == variant.split(" ", 3)[3]   # the rest: the same
    assert variant.endswith(" 3.0 True double (double) True 16")   # the raise


def test_derived_module_is_a_module_of_its_own(built):
    # Two modules, two copies of the code: each has its own state and its own type.
    output = run(built, textwrap.dedent("""\
        import pkg._mod as base, pkg._mod_v as variant
        print(base.Flags is variant.Flags, base.__pyx_capi__["twice"] is
              variant.__pyx_capi__["twice"], type(variant.Flags()).__module__)
        """))
    assert output.split() == ["False", "False", "pkg._mod_v"]


def test_unknown_c_is_refused():
    tool = load_tool()
    with pytest.raises(tool.DerivationError):
        tool.derive("int main(void) { return 0; }\n", "pkg", "_mod", "_mod_v")
    # a module that is not the one named
    with pytest.raises(tool.DerivationError):
        tool.derive('PyMODINIT_FUNC PyInit__other(void);\nconst char* n = "pkg._other";\n',
                    "pkg", "_mod", "_mod_v")
