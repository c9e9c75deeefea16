"""Command line: ``python -m smoothl1 --help`` (the logic is in ``smoothl1.cli``)."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
