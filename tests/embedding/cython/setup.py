"""Build the Cython consumer of smoothl1.kernels in place: python setup.py build_ext --inplace.

Nothing points at the smoothl1 sources: Cython finds smoothl1/kernels.pxd in the installed
package through sys.path, as it finds NumPy's .pxd files.
"""
from Cython.Build import cythonize
from setuptools import Extension, setup

setup(
    name="smoothl1-cython-consumer",
    ext_modules=cythonize([Extension("smoothl1_cython_consumer",
                                     ["smoothl1_cython_consumer.pyx"])],
                          language_level=3),
)
