"""The exported C API keeps its names and signatures (docs/contract.md section 9: a stable contract).

A module that cimports ``smoothl1.kernels`` (or includes ``_smoothl1_api.h``) is compiled
against exact signatures; at import time it looks each function up by name in
``smoothl1._smoothl1.__pyx_capi__`` and checks the signature string that names the capsule.
A function that disappears or changes its signature breaks every such module, without any
warning at compile time: the checked-in list, tests/cython_abi_signatures.txt, catches both.
Adding a function is allowed (it passes, with a warning asking to list it). The functions are
generated from the table in tools/generate_kernels.py; the list is not: a change to it is a
reviewed diff (tools/update_abi_signatures.py writes it on request).

smoothl1._core.dispatch points ``__pyx_capi__`` at the kernel build in use, so every build
(baseline, AVX2, AVX-512) must export the pinned functions with the pinned signatures.
"""
import ctypes
import warnings
from pathlib import Path

import pytest

import smoothl1._smoothl1
from smoothl1._core import dispatch as _dispatch

SIGNATURES = Path(__file__).parent / "cython_abi_signatures.txt"

_capsule_name = ctypes.pythonapi.PyCapsule_GetName
_capsule_name.restype = ctypes.c_char_p
_capsule_name.argtypes = [ctypes.py_object]


def exported_signatures(module=smoothl1._smoothl1):
    """{name: signature} of every function in module.__pyx_capi__."""
    return {name: _capsule_name(capsule).decode()
            for name, capsule in module.__pyx_capi__.items()}


def pinned_signatures():
    pinned = {}
    for line in SIGNATURES.read_text().splitlines():
        if line and not line.startswith("#"):
            name, signature = line.split(": ", 1)
            pinned[name] = signature
    return pinned


def test_pinned_list_is_readable():
    pinned = pinned_signatures()
    assert len(pinned) >= 32   # the functions of the first release
    assert all(name.startswith("smoothl1_") for name in pinned)


def test_no_exported_signature_changed_or_removed():
    exported = exported_signatures()
    errors = []
    for name, signature in sorted(pinned_signatures().items()):
        if name not in exported:
            errors.append(f"REMOVED  {name} (was {signature!r})")
        elif exported[name] != signature:
            errors.append(f"CHANGED  {name}\n  pinned:   {signature!r}\n"
                          f"  exported: {exported[name]!r}")
    assert not errors, (
        "the C API of smoothl1._smoothl1 broke; extensions built against an earlier release "
        "would fail to import:\n" + "\n".join(errors))


def test_new_exports_are_allowed():
    new = sorted(set(exported_signatures()) - set(pinned_signatures()))
    if new:
        warnings.warn(
            f"{len(new)} exported function(s) not yet pinned in {SIGNATURES.name}; adding is "
            f"allowed, list them (tools/update_abi_signatures.py) to make them part of the "
            f"stable contract: {', '.join(new)}",
            UserWarning)


@pytest.mark.parametrize("build", sorted(_dispatch.available_builds()))
def test_every_kernel_build_exports_the_pinned_functions(build):
    module = _dispatch.available_builds()[build]
    assert exported_signatures(module) == exported_signatures()
    pinned = pinned_signatures()
    assert {name: exported_signatures(module)[name] for name in pinned} == pinned
