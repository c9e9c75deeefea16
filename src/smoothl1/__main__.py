"""Command line: ``python -m smoothl1 --help``."""
import argparse
import sys


def build_parser():
    parser = argparse.ArgumentParser(
        prog="smoothl1",
        description="Smooth L1 and Huber losses and gradients for NumPy arrays.")
    parser.add_argument("--version", action="store_true", help="print versions and exit")
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        import numpy
        from . import __version__, _smoothl1
        print(f"smoothl1 {__version__} (OpenMP: {'yes' if _smoothl1.HAVE_OPENMP else 'no'}, "
              f"threads: {_smoothl1.max_threads()}), numpy {numpy.__version__}")
        return 0
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
