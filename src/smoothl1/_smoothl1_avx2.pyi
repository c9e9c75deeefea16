# The compiled kernel module is private: its Python-level names are typed loosely on purpose,
# so that the public stubs in __init__.pyi stay the one contract (and this file need not follow
# every change of the kernels).
from typing import Any

def __getattr__(name: str) -> Any: ...
