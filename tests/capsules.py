"""The address of a C API function from its capsule in a module's ``__pyx_capi__``, for the
tests that call the exported functions through ctypes."""
import ctypes

_capsule_name = ctypes.pythonapi.PyCapsule_GetName
_capsule_name.restype = ctypes.c_char_p
_capsule_name.argtypes = [ctypes.py_object]
_capsule_pointer = ctypes.pythonapi.PyCapsule_GetPointer
_capsule_pointer.restype = ctypes.c_void_p
_capsule_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]


def capsule_name(capsule):
    """The capsule's name: the C signature Cython gave the function."""
    return _capsule_name(capsule)


def capsule_address(capsule):
    return _capsule_pointer(capsule, _capsule_name(capsule))
