"""What the command line and the benchmark share: one-line errors and whole-number options.

A user error (``UserError``, or an argparse usage error through ``OneLineArgumentParser``) is
printed as exactly one line on stderr with exit status 2; ``single_line`` and
``one_line_message`` keep a message on one line whatever a file name, an argument or an
exception's text holds. ``whole_number`` is the type of every count option (``--n``,
``--threads``, ``--sizes``...): ``1e6`` is accepted, a fraction, inf or a word is not.
"""
import argparse
import math

EXIT_USAGE = 2


class UserError(Exception):
    """A mistake in the command line or its files: printed as one line, exit status 2."""


class OneLineArgumentParser(argparse.ArgumentParser):
    """argparse, with its usage errors on one line too (argparse prints the usage first)."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {single_line(message)} "
                              f"(see '{self.prog} --help')\n")

    def parse_known_args(self, args=None, namespace=None):
        # argparse (3.11) reads "--opt=--" as "--opt" given an empty list, bypassing its type.
        for arg in args or ():
            if arg.startswith("-") and arg.endswith("=--"):
                self.error(f"argument {arg[:-3]}: expected one value, got '--'")
        return super().parse_known_args(args, namespace)


def whole_number(text):
    """argparse type: ``20000``, ``1e6`` or ``2_000`` -> int; a fraction, inf, nan or a word is
    a usage error that says what is expected (ranges are checked by each command)."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value.is_integer()):
        raise argparse.ArgumentTypeError(f"expected a whole number such as 20000 or 1e6, "
                                         f"got {text!r}")
    return int(value)


def single_line(text):
    """Line breaks shown as \\n: an argument or a file name holding one stays on one line."""
    return str(text).replace("\r", "\\r").replace("\n", "\\n")


def one_line_message(error):
    """An exception's text as one sentence (NumPy and zipfile wrap theirs over lines)."""
    return " ".join(str(error).split()) or type(error).__name__
