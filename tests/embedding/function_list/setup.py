"""Build the consumers of smoothl1's X-macro list in place: python setup.py build_ext --inplace.

SMOOTHL1_CXX=1 builds the C++ one, with the warnings a strict C++ project turns on, as errors;
otherwise the C one, as C11. Both take the headers from the installed package
(smoothl1.get_include()) and link nothing of smoothl1.
"""
import os

import smoothl1
from setuptools import Extension, setup

if os.environ.get("SMOOTHL1_CXX"):
    extension = Extension(
        "function_list_cpp", ["function_list_cpp.cpp"], language="c++",
        include_dirs=[smoothl1.get_include()],
        extra_compile_args=["-std=c++11", "-Wall", "-Wextra", "-Wold-style-cast",
                            "-Wzero-as-null-pointer-constant", "-Werror"])
else:
    extension = Extension("function_list_c", ["function_list_c.c"],
                          include_dirs=[smoothl1.get_include()],
                          extra_compile_args=["-std=c11", "-Wall", "-Werror"])
setup(name="smoothl1-function-list-consumers", ext_modules=[extension])
