"""Build the C consumer of smoothl1's C API in place: python setup.py build_ext --inplace.

The header smoothl1.h (and the _smoothl1_api.h it includes) comes from the installed package (smoothl1.get_include()); the
consumer does not link against smoothl1: it fetches the functions at import time.
"""
import numpy
import smoothl1
from setuptools import Extension, setup

setup(
    name="smoothl1-c-consumer",
    ext_modules=[Extension("smoothl1_c_consumer", ["smoothl1_c_consumer.c"],
                           include_dirs=[smoothl1.get_include(), numpy.get_include()],
                           define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_23_API_VERSION")])],
)
