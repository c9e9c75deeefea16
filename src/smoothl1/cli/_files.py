"""The command line's array files: reading ``.npy``, ``.npz`` and ``.csv`` safely (or CSV text
from standard input), writing ``.npy`` or ``.csv`` (or CSV text to standard output).

Design (every rule is here because a file from outside may be anything):

1. A file is opened once, and the opened file is what gets checked (``os.fstat``), so a name
   swapped after the check changes nothing. Only regular files are read: ``/dev/zero``, a FIFO
   or a terminal (or a symlink to one) is refused, and ``O_NONBLOCK`` keeps the open of a FIFO
   from waiting for a writer.
2. Nothing is read or allocated past ``max_bytes`` (the command line's ``--max-bytes``): the
   header of a ``.npy`` (or of a ``.npz`` member) declares its array's shape and dtype, and that
   size is checked against the limit and against the bytes really present before any memory is
   allocated; CSV text is read up to the limit and one byte more.
3. A file must be exactly what it declares: a ``.npy`` whose data is shorter or longer than its
   header says, an archive member that fails its CRC, a CSV with a ragged row is refused, with
   one line saying what is wrong, where, and naming the argument (PRED, TARGET, --weight).
4. CSV is a table and keeps its shape both ways: N lines of M values read as an (N, M) array
   (one column is (N, 1), one line (1, M)), so a per-row weight broadcasts as a NumPy (N, 1)
   array does; an array of at most 2 dimensions is written the same way (a 0-d or 1-d array
   as one line), each value in the shortest text that reads back to the same bits.
"""
import io
import math
import os
import stat
import sys
import zipfile
import zlib

import numpy as np

from ._arguments import UserError, one_line_message

DEFAULT_MAX_BYTES = 2**30
STANDARD_STREAM = "-"  # an input: CSV text read from stdin; an output: CSV written to stdout
_NPY_MAGIC = b"\x93NUMPY"
_HEADER_LIMIT = 10000  # numpy.load's own default bound on a .npy header
_FILE_KINDS = {stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
               stat.S_IFIFO: "a FIFO (named pipe)", stat.S_IFSOCK: "a socket",
               stat.S_IFDIR: "a directory"}


def _size(n_bytes):
    """1073741824 -> '1.1 GB (1073741824 bytes)': the exact count, and a readable one."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.3g} {unit} ({n_bytes} bytes)"
    return f"{n_bytes} bytes"


def split_key(spec, default_key):
    """``data.npz:pred`` -> ("data.npz", "pred"); other paths keep ``default_key``."""
    head, sep, tail = spec.rpartition(":")
    if sep and head.lower().endswith(".npz") and tail:
        return head, tail
    return spec, default_key


def _open_regular(path, label):
    """Open ``path`` for reading, and refuse it unless it is a regular file (rule 1)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise UserError(f"{label} {path!r} not found") from None
    except OSError as error:
        raise UserError(f"cannot read {label} {path!r}: {error.strerror or error}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = _FILE_KINDS.get(stat.S_IFMT(mode), "not a file")
        raise UserError(f"{label} {path!r} is {kind}; only regular .npy, .npz or .csv files "
                        f"are read")
    return os.fdopen(fd, "rb")


def load_array(spec, *, key=None, dtype=None, text_dtype=None, max_bytes=DEFAULT_MAX_BYTES,
               label="file"):
    """Read one array from ``.npy``, ``.npz`` (``FILE.npz:KEY`` or ``key``), ``.csv``, or
    CSV text on standard input (``spec`` is ``-``).

    ``dtype`` (from ``--dtype``) converts whatever was read, explicitly requested by the user.
    Without it, binary files keep their dtype (the library refuses a mismatch) and CSV text,
    which has no dtype, is parsed as ``text_dtype`` (float64 if None). Every problem is a
    ``UserError`` whose message names ``label`` and the file.
    """
    options = {"max_bytes": max_bytes, "dtype": dtype or text_dtype or np.float64}
    if spec == STANDARD_STREAM:
        where = f"{label} (standard input)"
        array = _parsed(_read_csv, _standard_input(label), where, **options)
    else:
        path, key = split_key(spec, key)
        suffix = os.path.splitext(path)[1].lower()
        readers = {".npy": _read_npy_file, ".npz": _read_npz, ".csv": _read_csv}
        if suffix not in readers:
            if not os.path.lexists(path):
                raise UserError(f"{label} {path!r} not found")
            raise UserError(f"{label} {path!r}: unsupported file type {suffix or '(none)'!r}; "
                            f"use .npy, .npz (with --key or FILE.npz:KEY), .csv, or - for "
                            f"CSV text on standard input")
        where = f"{label} {path!r}"
        with _open_regular(path, label) as file:
            array = _parsed(readers[suffix], file, where, key=key, path=path, **options)
    if dtype is not None and array.dtype != dtype:
        if array.dtype.kind not in "biuf":
            raise UserError(f"{where} has dtype {array.dtype}, which --dtype {dtype} "
                            f"cannot convert (real numbers only)")
        array = array.astype(dtype)
    return array


def _parsed(reader, file, where, **options):
    """``reader(file, where, **options)``, whatever a corrupt file makes it raise a UserError."""
    try:
        return reader(file, where, **options)
    except UserError:
        raise
    except MemoryError:
        raise UserError(f"not enough memory to read {where}") from None
    except (OSError, ValueError, EOFError, RuntimeError, NotImplementedError,
            zipfile.BadZipFile, zlib.error) as error:
        # What the parsers of NumPy and zipfile raise for a corrupt file (RuntimeError: an
        # encrypted archive; NotImplementedError: an unknown compression method).
        raise UserError(f"cannot read {where}: {one_line_message(error)}") from None


def _standard_input(label):
    """Standard input's bytes, for an input given as ``-``. A terminal is refused: the command
    would sit waiting for text typed by hand, which looks like a hang to whoever forgot a pipe."""
    stream = sys.stdin
    if stream is None or getattr(stream, "closed", False):
        raise UserError(f"{label} is - (standard input), but standard input is closed")
    if stream.isatty():
        raise UserError(f"{label} is - (standard input), which is a terminal: pipe CSV text "
                        f"into it, as in: cat pred.csv | smoothl1 loss - TARGET")
    return getattr(stream, "buffer", stream)


# ---------------------------------------------------------------------------------------------
# .npy and .npz


def _read_npy_file(file, where, *, max_bytes, **_):
    return _read_npy(file, os.fstat(file.fileno()).st_size, where, max_bytes)


def _read_npy(file, file_size, where, max_bytes):
    """The array of a .npy stream of ``file_size`` bytes, checked before it is allocated."""
    magic = file.read(len(_NPY_MAGIC) + 2)
    if not magic.startswith(_NPY_MAGIC):
        hint = ""
        if magic and all(32 <= byte < 127 or byte in b"\t\r\n" for byte in magic):
            hint = "; it looks like text: comma-separated numbers belong in a .csv file"
        raise UserError(f"{where} is not a .npy file (a .npy file starts with the bytes "
                        f"\\x93NUMPY){hint}")
    version = tuple(magic[len(_NPY_MAGIC):])
    if version == (1, 0):
        header = np.lib.format.read_array_header_1_0(file, max_header_size=_HEADER_LIMIT)
    elif version == (2, 0):
        header = np.lib.format.read_array_header_2_0(file, max_header_size=_HEADER_LIMIT)
    else:
        raise UserError(f"{where}: unsupported .npy format version {version}")
    shape, fortran_order, dtype = header
    if dtype.hasobject:
        raise UserError(f"{where} holds Python objects (dtype {dtype}), which are never "
                        f"loaded (it would unpickle code); save real numbers")
    if any(side < 0 for side in shape):
        raise UserError(f"{where} is corrupt: its header declares shape {shape}")
    n_bytes = math.prod(shape) * dtype.itemsize
    present = file_size - file.tell()
    if n_bytes != present:
        what = "only" if n_bytes > present else "but"
        raise UserError(f"{where} is corrupt: its header declares shape {shape} of {dtype} "
                        f"({_size(n_bytes)}), {what} {_size(max(present, 0))} follow it")
    _check_limit(n_bytes, where, max_bytes)
    array = np.empty(math.prod(shape), dtype)
    if n_bytes:
        buffer = memoryview(array.view(np.uint8))
        filled = 0
        while filled < n_bytes:
            count = file.readinto(buffer[filled:])
            if not count:
                raise UserError(f"{where} is corrupt: it ended after {filled} of its "
                                f"{n_bytes} data bytes")
            filled += count
    if file.read(1):  # also makes zipfile check the member's CRC, which it does at its end
        raise UserError(f"{where} is corrupt: it holds more data than its header declares")
    return array.reshape(shape, order="F" if fortran_order else "C")


def _check_limit(n_bytes, where, max_bytes):
    if n_bytes > max_bytes:
        raise UserError(f"{where} holds {_size(n_bytes)}, over the limit of "
                        f"{_size(max_bytes)}; raise it with --max-bytes")


def _names(members, shown=10):
    """The first names of an archive, for a message (names as written, unless unprintable)."""
    names = [name if name.isprintable() else repr(name) for name in list(members)[:shown]]
    return ", ".join(names) + (f", ... ({len(members) - shown} more)"
                               if len(members) > shown else "")


def _read_npz(file, where, *, key, path, max_bytes, **_):
    try:
        archive = zipfile.ZipFile(file)
    except zipfile.BadZipFile:
        raise UserError(f"{where} is not a .npz file (not a zip archive, or a damaged "
                        f"one)") from None
    with archive:
        members = {info.filename.removesuffix(".npy"): info for info in archive.infolist()
                   if not info.is_dir()}
        if key is None:
            if len(members) != 1:
                raise UserError(f"{where} holds {len(members)} arrays "
                                f"({_names(members) or 'none'}); choose one with "
                                f"--key NAME or {path}:NAME")
            key = next(iter(members))
        if key not in members:
            raise UserError(f"{where} has no array {key!r}; it holds: "
                            f"{_names(members) or 'nothing'}")
        info = members[key]
        where = f"{where} (array {key!r})"
        if not info.filename.endswith(".npy"):
            raise UserError(f"{where} is not a .npy member, so not an array")
        with archive.open(info) as member:
            return _read_npy(member, info.file_size, where, max_bytes)


# ---------------------------------------------------------------------------------------------
# .csv


def _read_csv(file, where, *, dtype, max_bytes, **_):
    raw = file.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise UserError(f"{where} is larger than the limit of {_size(max_bytes)}; raise it "
                        f"with --max-bytes")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UserError(f"{where} is not UTF-8 text (byte {error.start}); is it a binary "
                        f"file?") from None
    lines = text.splitlines()
    if not any(_csv_fields(line) for line in lines):
        # np.loadtxt would return an empty array with a UserWarning: an empty CSV is far
        # more likely the wrong file than an empty array, which a .npy can hold if meant.
        raise UserError(f"{where} holds no numbers (empty, or only comments); an empty "
                        f"array can be given as a .npy file")
    try:
        return np.loadtxt(io.StringIO(text), delimiter=",", dtype=dtype, ndmin=2,
                          comments="#")
    except ValueError as error:
        raise UserError(f"cannot read {where}: {_csv_problem(lines, dtype) or error}") from None


def _csv_fields(line):
    """The comma-separated fields of one CSV line, [] for a blank or comment line."""
    content = line.split("#", 1)[0]
    return [field.strip() for field in content.split(",")] if content.strip() else []


def _csv_problem(lines, dtype):
    """Why np.loadtxt refused the CSV, in the file's own line numbers (NumPy counts rows)."""
    width = None
    for number, line in enumerate(lines, start=1):
        fields = _csv_fields(line)
        if not fields:
            continue
        for column, field in enumerate(fields, start=1):
            try:
                np.array(field, dtype=dtype)
                float(field)
            except (ValueError, OverflowError):
                return (f"line {number}, column {column}: {field!r} is not a number"
                        if field else f"line {number}, column {column} is empty")
        if width is None:
            width = len(fields)
        elif len(fields) != width:
            return (f"line {number} has {len(fields)} value{'s' * (len(fields) != 1)} "
                    f"where the lines before it have {width}; every row needs the same number "
                    f"of comma-separated values")
    return None


# ---------------------------------------------------------------------------------------------
# Writing


def is_csv(path):
    """Whether a file is CSV text: a name ending in .csv, or - (standard input or output)."""
    return path == STANDARD_STREAM or path.lower().endswith(".csv")


def check_output_path(option, path):
    """Refuse an output name early (before any work): neither .npy nor .csv, no folder, a
    directory. ``-`` is standard output."""
    if path == STANDARD_STREAM:
        return
    if not path.lower().endswith((".npy", ".csv")):
        raise UserError(f"{option} {path!r}: the output's format is chosen by its name; give "
                        f"a name ending in .npy or .csv (or - for CSV on standard output)")
    if os.path.isdir(path):
        raise UserError(f"{option} {path!r} is a directory; give a file name ending in .npy "
                        f"or .csv")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UserError(f"{option} {path!r}: folder {folder!r} does not exist")


def check_output_shape(option, path, shape):
    """A CSV output holds a table: refuse an array of more than 2 dimensions before any work."""
    if is_csv(path) and len(shape) > 2:
        raise UserError(f"{option} {path!r}: CSV holds a table of at most 2 dimensions, but "
                        f"the output has PRED's shape {shape}; write it as .npy")


def csv_text(array):
    """An array of at most 2 dimensions as CSV: one line per row (a 0-d or 1-d array is one
    line), each value as NumPy's shortest text that reads back to the same value."""
    rows = np.atleast_2d(array)
    return "".join(",".join(map(str, row)) + "\n" for row in rows)


def save_array(option, path, array):
    """Write ``array`` to ``path``: ``.npy`` (``np.save``), ``.csv`` (``csv_text``) or, for
    ``-``, CSV to standard output. Every OSError (read-only /sys, a full /dev/full) is one
    line; a broken standard output is left to ``main``, which handles it for every command."""
    if path == STANDARD_STREAM:
        sys.stdout.write(csv_text(array))
        return
    try:
        if is_csv(path):
            text = csv_text(array)   # formatted before the file is opened: nothing half-written
            with open(path, "w", encoding="utf-8", newline="") as file:
                file.write(text)
        else:
            with open(path, "wb") as file:
                np.save(file, array)
    except OSError as error:
        raise UserError(f"cannot write {option} {path!r}: {error.strerror or error}") from None
