"""The plain C list of the C API, SMOOTHL1_FOR_EACH_FUNCTION(X) in smoothl1_functions.h
(docs/embedding.md, "Every signature in C"), and a C++ consumer of smoothl1.h.

The list is generated from the table that generates kernels.pxd (tools/generate_kernels.py);
here it is compared with the checked-in signatures (tests/cython_abi_signatures.txt) and with
the declarations of the .pxd, parameter names included. Then C and C++ consumers
(tests/embedding/function_list/) are built against the installed package, as a stranger would:
the C one checks at compile time that every listed signature is its pointer's type and reports
that smoothl1_import() set every listed pointer; the C++ one must compile with no warning under
-Wall -Wextra -Wold-style-cast -Wzero-as-null-pointer-constant -Werror.
"""
import os
import platform
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest

import smoothl1
import smoothl1._smoothl1
from test_cython_abi import pinned_signatures
from test_embedding import build_in_place, compiler_check, load_extension  # noqa: F401

INCLUDE = Path(smoothl1.get_include())
CONSUMERS = Path(__file__).parent / "embedding" / "function_list"


def listed_functions():
    """[(return type, name, [(parameter type, parameter name)])] from smoothl1_functions.h."""
    text = (INCLUDE / "smoothl1_functions.h").read_text().replace("\\\n", " ")
    body = re.search(r"#define SMOOTHL1_FOR_EACH_FUNCTION\(X\)(.*)", text).group(1)
    body = re.sub(r"/\*.*?\*/", " ", body)
    entries = re.findall(r"X\((\w+), (\w+),\s*\(([^()]*)\)\)", body)
    assert len(entries) == body.count("X("), "an entry the pattern does not read"
    result = []
    for returns, name, parameters in entries:
        pairs = [re.match(r"(.*?)\s*(\w+)$", part.strip()).groups()
                 for part in parameters.split(",")]
        result.append((returns, name, pairs))
    return result


def capsule_signature(returns, pairs):
    """The signature as Cython writes it in a capsule's name: "double (Py_ssize_t, float
    const *, ...)"."""
    def c_type(ctype):
        const = ctype.startswith("const ")
        base = ctype.removeprefix("const ").rstrip("*").strip()
        return base + (" const" if const else "") + (" *" if ctype.endswith("*") else "")
    return f"{returns} ({', '.join(c_type(ctype) for ctype, _ in pairs)})"


def pxd_declarations():
    """{name: (return type, [(parameter type, parameter name)])} from _smoothl1.pxd."""
    text = (INCLUDE / "_smoothl1.pxd").read_text()
    found = {}
    for returns, name, parameters in re.findall(r"^cdef (\w+) (\w+)\(\s*(.*?)\) noexcept nogil",
                                                text, re.M | re.S):
        found[name] = (returns, [re.match(r"(.*?)\s*(\w+)$", " ".join(part.split())).groups()
                                 for part in parameters.split(",")])
    return found


def test_the_list_holds_every_function_with_its_pinned_signature():
    listed = listed_functions()
    names = [name for _, name, _ in listed]
    assert len(names) == len(set(names)) == len(smoothl1._smoothl1.__pyx_capi__) == 280
    assert set(names) == set(smoothl1._smoothl1.__pyx_capi__)
    pinned = pinned_signatures()
    assert set(names) == set(pinned)
    for returns, name, pairs in listed:
        assert capsule_signature(returns, pairs) == pinned[name], name
    count = re.search(r"#define SMOOTHL1_FUNCTION_COUNT (\d+)",
                      (INCLUDE / "smoothl1_functions.h").read_text()).group(1)
    assert int(count) == len(listed)


def test_the_list_and_the_pxd_agree_with_parameter_names():
    declared = pxd_declarations()
    listed = listed_functions()
    assert [name for _, name, _ in listed] == list(declared)   # the same order, too
    for returns, name, pairs in listed:
        assert (returns, pairs) == declared[name], name
    kernels = (INCLUDE / "kernels.pxd").read_text()
    assert set(re.findall(r"^    (smoothl1_\w+),$", kernels, re.M)) == set(declared)


def test_smoothl1_h_includes_the_list():
    assert '#include "smoothl1_functions.h"' in (INCLUDE / "smoothl1.h").read_text()


def build_consumer(tmp_path, environment=None):
    folder = tmp_path / "function_list"
    shutil.copytree(CONSUMERS, folder)
    result = subprocess.run([sys.executable, "setup.py", "build_ext", "--inplace"], cwd=folder,
                            capture_output=True, text=True,
                            env={**os.environ, **(environment or {})})
    return folder, result


def test_a_c_program_macros_over_the_list(tmp_path, compiler_check):  # noqa: F811
    folder, result = build_consumer(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    module = load_extension(folder, "function_list_c")
    listed = module.listed()
    assert [name for name, _ in listed] == [name for _, name, _ in listed_functions()]
    assert all(is_set for _, is_set in listed), [name for name, is_set in listed if not is_set]
    assert module.count == len(listed) == len(smoothl1._smoothl1.__pyx_capi__)
    assert module.huber_sum() == 0.5 + 2.5   # 0.5 * 1**2, and 3 - 0.5 * 1


def c_compiler():
    return shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")


def test_the_type_check_of_the_c_program_catches_a_wrong_signature(tmp_path):
    # The consumer's _Static_assert must be able to fail: the same check, with float in place
    # of double, does not compile; with the listed types it does.
    cc = c_compiler()
    if cc is None or sys.platform == "win32":
        pytest.skip("no C compiler that takes GCC's options")
    check = ("#include \"smoothl1.h\"\n"
             "_Static_assert(_Generic((smoothl1_huber_loss_sum_f64), double (*)(Py_ssize_t n, "
             "const {0}* input, const {0}* target, double delta): 1, default: 0), \"type\");\n")
    outcomes = {}
    for element in ("double", "float"):
        source = tmp_path / f"check_{element}.c"
        source.write_text(check.format(element))
        outcomes[element] = subprocess.run(
            [cc, "-std=c11", "-fsyntax-only", f"-I{INCLUDE}",
             f"-I{sysconfig.get_paths()['include']}", str(source)],
            capture_output=True, text=True)
    assert outcomes["double"].returncode == 0, outcomes["double"].stderr
    assert outcomes["float"].returncode != 0
    assert "type" in outcomes["float"].stderr


def cxx_compiler():
    configured = (sysconfig.get_config_var("CXX") or "c++").split()[0]
    return shutil.which(configured) or shutil.which("c++")


def test_a_cpp_consumer_compiles_with_no_warning(tmp_path, compiler_check):  # noqa: F811
    # -Wold-style-cast and -Wzero-as-null-pointer-constant, as errors: Cython's generated
    # declarations would give hundreds; smoothl1.h marks them as a system header.
    if cxx_compiler() is None or sys.platform == "win32":
        pytest.skip("no C++ compiler that takes GCC's options")
    folder, result = build_consumer(tmp_path, {"SMOOTHL1_CXX": "1"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "warning" not in result.stderr.lower(), result.stderr
    module = load_extension(folder, "function_list_cpp")
    assert module.huber_sum() == 3.0


# What docs/embedding.md ("The mean of nothing") says a C caller's 0.0 / 0 gives: the CPU's
# default NaN, whose sign differs between machines.
DEFAULT_NAN_BITS = {"x86_64": 0xFFF8000000000000, "AMD64": 0xFFF8000000000000,
                    "aarch64": 0x7FF8000000000000, "arm64": 0x7FF8000000000000}


def bits(value):
    return int(np.float64(value).view(np.uint64))


def test_the_mean_of_nothing_from_c(tmp_path, compiler_check):  # noqa: F811
    folder, result = build_consumer(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    module = load_extension(folder, "function_list_c")
    total, divided, advised = module.empty_means(0)
    assert bits(total) == 0   # +0.0: a sum of nothing
    assert np.isnan(divided)
    if platform.machine() in DEFAULT_NAN_BITS:
        assert bits(divided) == DEFAULT_NAN_BITS[platform.machine()], hex(bits(divided))
    # NAN, as the docs advise, has the Python API's bits: those of np.nan
    empty = np.array([], dtype=np.float64)
    assert bits(advised) == bits(np.nan) == bits(smoothl1.huber_loss(empty, empty)) \
        == 0x7FF8000000000000
