# The AVX-512 build of the private kernel module (same source as _smoothl1, see _core/dispatch.py):
# typed loosely on purpose, like smoothl1/_smoothl1.pyi.
from typing import Any

def __getattr__(name: str) -> Any: ...
