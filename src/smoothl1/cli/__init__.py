"""The command line, ``python -m smoothl1 {loss,demo,plot,bench} ...`` (or the ``smoothl1``
script): ``main`` (from main.py, whose docstring gives the design) parses and dispatches; each
command's work lives in its own module (``demo``, ``figure``, ``bench``), imported only when it
runs.
"""
from .main import main

__all__ = ["main"]
