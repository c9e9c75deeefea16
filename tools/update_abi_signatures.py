"""Rewrite tests/cython_abi_signatures.txt from the built module, on request only.

    PYTHONPATH=src python tools/update_abi_signatures.py    # after a build

The list pins the C API (docs/contract.md section 9): tests/test_cython_abi.py fails when the
built smoothl1._smoothl1 changes or drops a listed signature. Run this after adding functions
to the table in tools/generate_kernels.py, and commit the new lines as a reviewed diff. It prints
what changed; a CHANGED or REMOVED line means extensions built against an earlier release
would no longer import, which is a breaking change, not an update.
"""
import ctypes
import sys
from pathlib import Path

SIGNATURES = Path(__file__).resolve().parent.parent / "tests" / "cython_abi_signatures.txt"


def exported_signatures():
    """{name: signature} of smoothl1._smoothl1.__pyx_capi__ (the capsule names)."""
    import smoothl1._smoothl1

    capsule_name = ctypes.pythonapi.PyCapsule_GetName
    capsule_name.restype = ctypes.c_char_p
    capsule_name.argtypes = [ctypes.py_object]
    return {name: capsule_name(capsule).decode()
            for name, capsule in smoothl1._smoothl1.__pyx_capi__.items()}


def main():
    lines = SIGNATURES.read_text().splitlines()
    header = [line for line in lines if line.startswith("#")]
    pinned = dict(line.split(": ", 1) for line in lines if line and not line.startswith("#"))
    exported = exported_signatures()
    for name in sorted(set(pinned) | set(exported)):
        if name not in exported:
            print(f"REMOVED  {name}: {pinned[name]}  (a breaking change)")
        elif name not in pinned:
            print(f"added    {name}: {exported[name]}")
        elif pinned[name] != exported[name]:
            print(f"CHANGED  {name}: {pinned[name]} -> {exported[name]}  (a breaking change)")
    body = [f"{name}: {signature}" for name, signature in sorted(exported.items())]
    SIGNATURES.write_text("\n".join(header + body) + "\n")
    print(f"wrote {len(body)} signatures to {SIGNATURES}; review the diff before committing")
    return 0


if __name__ == "__main__":
    sys.exit(main())
