"""The C of the SIMD builds (smoothl1._smoothl1_avx2, _avx512), derived from Cython's C of the
baseline module smoothl1._smoothl1 instead of running Cython on each. setup.py loads this file
by its path.

The three modules are one source (src/_smoothl1_<name>.pyx is `include "_smoothl1.pyx"`), so
Cython's three outputs differ only where the module's name is written: its init function
(PyInit__smoothl1_avx2, the one exported symbol, which Python looks up by the module's name),
the strings Python sees (functions' __module__, the type's tp_name, traceback entries), the
header guards of the C API, the module docstring (each .pyx has its own) and the file table
of tracebacks (the variants add the included _smoothl1.pyx). Cython takes about a minute per
module (590,000 lines of C), a third of a fresh install; renaming takes a fraction of a
second. The derived module has the baseline's docstring, with its name.

How the name is written depends on Cython's version: as C string literals (Cython 3.1), and
since 3.2 the Python strings are also one concatenated table with a length per string
(str_length_index), stored compressed as well (lzss, zlib, bz2). Here: every C identifier and
literal that names the module is renamed, and the table's entries are decoded, renamed, and
written back uncompressed with their new lengths (CYTHON_COMPRESS_STRINGS forced to 0: the
compressed copies left in the file are the baseline's). Anything unexpected (no PyInit, no
module name, a table that does not read back byte for byte, the old name left anywhere)
raises DerivationError, and setup.py then runs Cython on the variant's .pyx as before
(tests/test_dispatch.py checks the names of every build).
"""
import codecs
import re

# The old name must not continue as an identifier (smoothl1._smoothl1_api is another name).
_END = r"(?![A-Za-z0-9_])"
_START = r"(?<![A-Za-z0-9_])"


class DerivationError(Exception):
    """The baseline's C is not what derive() knows how to rename (another Cython version)."""


def _literal_bytes(initializer):
    """The bytes of a C string literal made of adjacent pieces ("..." "..."), as Cython writes
    them (escapes: \\n \\r \\t \\" \\\\ and three-digit octal, which Python reads alike)."""
    pieces = re.findall(r'"((?:[^"\\]|\\.)*)"', initializer)
    return codecs.escape_decode("".join(pieces).encode("ascii"))[0]


def _literal(data):
    """data as Cython writes a C string literal (so that an unchanged table reads back the same)."""
    from Cython.Compiler import StringEncoding
    return '"' + StringEncoding.split_string_literal(StringEncoding.escape_byte_string(data)) + '"'


# Cython's string table: the lengths of its strings, in one array (Cython 3.2) or two
# (3.3: str_length_index, then bytes_length_index) ...
_LENGTHS = re.compile(r"const struct \{ const unsigned int length: \d+; \} (\w*index)\[\] = "
                      r"\{((?:\{\d+\},?)*)\};")
# ... the strings, concatenated, uncompressed (3.3: static const char bytes[] = "...";, 3.2:
# const char* const bytes = "...";) and compressed (cstring, the same forms) ...
_TABLE_LINE = re.compile(r"^\s*(?:static )?const char(?:\* const)? (bytes|cstring)(?:\[\])? = "
                         r"(\".*\");$", re.MULTILINE)
# ... and the compression used by default, which the C file defines (any value but 0).
_DEFAULT = re.compile(r"^( *)#ifndef CYTHON_COMPRESS_STRINGS\n\s*#define CYTHON_COMPRESS_STRINGS "
                      r"\d+\n\s*#endif\n", re.MULTILINE)


def _rename_string_table(text, old, new):
    """text with the module's name renamed inside Cython's concatenated string table (Cython
    3.2 and later): the uncompressed copy, its lengths, and compression turned off. Returns
    (text, how many names were renamed in it)."""
    tables = list(_LENGTHS.finditer(text))
    raw = [line for line in _TABLE_LINE.finditer(text) if line.group(1) == "bytes"]
    if not tables and not raw and "CYTHON_COMPRESS_STRINGS" not in text:
        return text, 0                     # Cython 3.1: every string is its own C literal
    if not tables or len(raw) != 1:
        raise DerivationError(f"a string table of {len(tables)} length arrays and {len(raw)} "
                              "uncompressed copies")
    lengths = [[int(n) for n in re.findall(r"\d+", table.group(2))] for table in tables]
    data = _literal_bytes(raw[0].group(2))
    if _literal(data) != raw[0].group(2) or len(data) != sum(map(sum, lengths)):
        raise DerivationError("the string table does not read back as written")
    pattern = re.compile(re.escape(old.encode()) + _END.encode())
    renamed, position, new_data, new_lengths = 0, 0, [], []
    for array in lengths:
        new_lengths.append([])
        for length in array:
            entry, count = pattern.subn(new.encode(), data[position:position + length])
            position += length
            renamed += count
            new_data.append(entry)
            new_lengths[-1].append(len(entry))
    new_data = b"".join(new_data)
    edits = [(raw[0].start(2), raw[0].end(2), _literal(new_data))]
    for table, array in zip(tables, new_lengths):
        edits.append((table.start(), table.end(),
                      "const struct { const unsigned int length: %d; } %s[] = {%s};"
                      % (max(array).bit_length() or 1, table.group(1),
                         ",".join("{%d}" % n for n in array))))
    # from the end of the file backwards, so that the earlier positions stay valid
    for start, end, replacement in sorted(edits, reverse=True):
        text = text[:start] + replacement + text[end:]
    text = text.replace(f"/* compression: none ({len(data)} bytes) */",
                        f"/* compression: none ({len(new_data)} bytes) */", 1)
    # The compressed copies of the table are the baseline's: never use them.
    text, count = _DEFAULT.subn(
        r"\1/* derived from another module's C: its compressed string tables are not this "
        "one's */\n\\1#undef CYTHON_COMPRESS_STRINGS\n\\1#define CYTHON_COMPRESS_STRINGS 0\n",
        text)
    compressed = any(line.group(1) == "cstring" for line in _TABLE_LINE.finditer(text))
    if count != (1 if compressed else 0):
        raise DerivationError("compressed string tables whose use cannot be turned off")
    return text, renamed


def derive(c_text, package, module, variant):
    """Cython's C of package.module, renamed package.variant (e.g. "smoothl1", "_smoothl1",
    "_smoothl1_avx2"). Raises DerivationError for C it does not recognise."""
    old, new = f"{package}.{module}", f"{package}.{variant}"
    text, in_table = _rename_string_table(c_text, old, new)
    renames = {
        # C identifiers: PyInit_<name> is how Python finds the module; the others are
        # Cython's global flag and the C API's header guards
        "PyInit": (_START + f"PyInit_{module}" + _END, f"PyInit_{variant}"),
        "exec": (_START + f"__pyx_pymod_exec_{module}" + _END, f"__pyx_pymod_exec_{variant}"),
        "is_main": (_START + f"__pyx_module_is_main_{package}__{module}" + _END,
                    f"__pyx_module_is_main_{package}__{variant}"),
        "guards": (_START + f"(__PYX_HAVE(?:_API)?__){package}__{module}" + _END,
                   rf"\g<1>{package}__{variant}"),
        # the full name in C strings and comments: __Pyx_MODULE_NAME, tp_name, tracebacks
        "name": (re.escape(old) + _END, new),
        # the short name in quotes: the module definition's m_name, an error message
        "short": ("([\"'])" + re.escape(module) + "([\"'])", rf"\g<1>{variant}\g<2>"),
    }
    # The string table's lines are done: keep them out of the renaming (their compressed
    # copies can hold the name verbatim, and the lengths are set). pieces[odd]: those lines.
    bounds = [0] + [end for line in _TABLE_LINE.finditer(text) for end in line.span()]
    pieces = [text[start:end] for start, end in zip(bounds, bounds[1:] + [len(text)])]
    counts = dict.fromkeys(renames, 0)
    for i in range(0, len(pieces), 2):
        for key, (pattern, replacement) in renames.items():
            pieces[i], count = re.subn(pattern, replacement, pieces[i])
            counts[key] += count
    text = "".join(pieces)
    # Each kind of name occurs in the C of every Cython this was written against: a kind not
    # found means a Cython that spells it otherwise, which would leave the C half renamed.
    missing = [key for key in ("PyInit", "exec", "is_main", "guards") if counts[key] == 0]
    if missing or counts["name"] + in_table == 0:
        raise DerivationError(f"names not found in the C: {missing or 'the module name'} "
                              f"({counts}, {in_table} in the string table)")
    # Nothing may still name the baseline, outside the unused compressed tables.
    left = re.search(_START + f"PyInit_{module}" + _END + "|" + re.escape(old) + _END,
                     "".join(pieces[0::2]))
    if left:
        raise DerivationError(f"{left.group(0)!r} is left in the derived C")
    return text
