"""The command line never prints a traceback: every error is exit status 2 and one stderr line.

Most cases call ``smoothl1.cli.main`` in this process (stdout and stderr captured, argparse's
``SystemExit`` caught), which is fast enough for a property-based test; the cases that need a
real process (a closed pipe, a read that would never end on the old code) and a sample of the
others run ``python -m smoothl1`` as a user does. docs/cli.md describes the behaviours.
"""
import contextlib
import io
import os
import re
import stat
import subprocess
import sys
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smoothl1 import cli
from smoothl1.cli import _arguments

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX files: symlinks, FIFOs, devices")
# Cases that write into /proc, /sys or /dev/full, which only Linux has.
LINUX_ONLY = {"grad-out-proc", "out-sys", "grad-out-dev-full"}
ON_LINUX = sys.platform.startswith("linux")


def run_main(*args):
    """``smoothl1 ARGS`` in this process: (status, stdout, stderr, warnings raised)."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with warnings.catch_warnings(record=True) as caught, \
            contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        warnings.simplefilter("always")
        try:
            status = cli.main([str(arg) for arg in args])
        except SystemExit as exit:  # argparse's usage errors
            status = exit.code
    return status, stdout.getvalue(), stderr.getvalue(), caught


def assert_one_line_error(status, stdout, stderr, caught, *fragments, absent=()):
    assert status == 2, (status, stdout, stderr)
    assert stdout == ""
    assert stderr.endswith("\n") and stderr.count("\n") == 1, stderr
    assert re.match(r"smoothl1( \w+)?: error: ", stderr), stderr
    assert not caught, [str(w.message) for w in caught]
    for fragment in fragments:
        assert fragment in stderr, stderr
    for fragment in absent:
        assert fragment not in stderr, stderr


# tools/sanitize.sh preloads AddressSanitizer, which reserves terabytes of address space at
# start: a process whose address space is capped cannot start under it.
UNDER_ADDRESS_SANITIZER = "libasan" in os.environ.get("LD_PRELOAD", "")


def run_process(*args, cwd=None, limit_memory=False, timeout=60):
    """``python -m smoothl1 ARGS`` in a subprocess (address space capped if ``limit_memory``,
    so a read that never ends fails fast instead of filling the machine)."""
    if limit_memory and UNDER_ADDRESS_SANITIZER:
        pytest.skip("no address-space cap under AddressSanitizer (the plain run has these)")

    def cap_memory():
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))

    return subprocess.run([sys.executable, "-m", "smoothl1", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout,
                          preexec_fn=cap_memory if limit_memory else None)


def assert_process_error(result, *fragments):
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


def npy_bytes(array):
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def npy_header(shape, descr="<f8"):
    """A version 1.0 .npy header declaring ``shape`` (padded to 128 bytes, as numpy writes)."""
    text = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape!r}, }}"
    text = text.ljust(128 - 10 - 1) + "\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text.encode("latin1")


def npz_bytes(**arrays):
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def npz_with_bad_crc():
    """A stored (uncompressed) archive with one data byte of its member changed."""
    data = bytearray(npz_bytes(pred=np.arange(6.0)))
    data[data.index(b"\x93NUMPY") + 128 + 5] ^= 0xFF
    return bytes(data)


@pytest.fixture
def files(tmp_path, monkeypatch):
    """Good and bad input files in a fresh working folder."""
    monkeypatch.chdir(tmp_path)
    np.save("pred.npy", np.array([0.2, 1.5, -3.0, 0.5]))
    np.save("target.npy", np.zeros(4))
    Path("notzip.npz").write_bytes(b"this is not a zip archive")
    Path("badcrc.npz").write_bytes(npz_with_bad_crc())
    Path("truncated.npz").write_bytes(npz_bytes(pred=np.arange(6.0))[:-30])
    Path("huge.npy").write_bytes(npy_header((2**45,)).ljust(200, b"\0"))
    Path("short.npy").write_bytes(npy_bytes(np.arange(6.0))[:-8])
    Path("long.npy").write_bytes(npy_bytes(np.arange(6.0)) + b"\0")
    Path("negative.npy").write_bytes(npy_header((-2, 3)))
    Path("text.npy").write_text("0.2,1.5,-3.0,0.5\n")
    Path("uneven.csv").write_text("1,2\n3,4\n5\n")
    Path("word.csv").write_text("1,2\n3,four\n")
    Path("empty.csv").write_text("")
    Path("comments.csv").write_text("# no numbers here\n\n")
    Path("latin1.csv").write_bytes(b"1,2\n\xe9\n")
    with zipfile.ZipFile("notes.npz", "w") as archive:
        archive.writestr("notes.txt", "hello")
    np.savez("many.npz", **{f"a{i}": np.zeros(1) for i in range(30)})
    np.savez("odd.npz", **{"a\nb": np.zeros(1), "c": np.zeros(1)})
    os.mkdir("folder.npy")
    os.symlink("/dev/full", "full.npy")
    os.symlink("/dev/null", "null.npy")
    return tmp_path


# Each case: the arguments and what the one line must say (and must not say). The first group
# printed a traceback before the command line was hardened; the second misled.
CASES = {
    "npz-not-a-zip": (["loss", "notzip.npz", "0"], ["PRED 'notzip.npz' is not a .npz file"],
                      ["allow_pickle"]),
    "npz-bad-crc": (["loss", "badcrc.npz", "0"], ["cannot read PRED 'badcrc.npz'", "CRC"], []),
    "npz-truncated": (["loss", "truncated.npz", "0"], ["is not a .npz file"], []),
    "npy-header-2**45": (["loss", "huge.npy", "0"],
                         ["PRED 'huge.npy' is corrupt", "(35184372088832,)", "281 TB"], []),
    "out-directory": (["loss", "pred.npy", "0", "--reduction", "none", "--out", "folder.npy"],
                      ["--out 'folder.npy' is a directory"], []),
    "grad-out-directory": (["loss", "pred.npy", "0", "--grad-out", "folder.npy"],
                           ["--grad-out 'folder.npy' is a directory"], []),
    "grad-out-proc": (["loss", "pred.npy", "0", "--grad-out", "/proc/smoothl1-test.npy"],
                      ["cannot write --grad-out '/proc/smoothl1-test.npy'"], []),
    "out-sys": (["loss", "pred.npy", "0", "--reduction", "none", "--out",
                 "/sys/smoothl1-test.npy"], ["cannot write --out '/sys/smoothl1-test.npy'"], []),
    "grad-out-dev-full": (["loss", "pred.npy", "0", "--grad-out", "full.npy"],
                          ["cannot write --grad-out 'full.npy': No space left on device"], []),
    "demo-seed-negative": (["demo", "--seed", "-1"], ["--seed must be at least 0, got -1"], []),
    "demo-n-1e12": (["demo", "--n", "1e12"], ["--n 1000000000000 with --features 3 needs"],
                    []),
    "demo-features-1e11": (["demo", "--features", "1e11"], ["needs about", "GB"], []),
    "bench-sizes-inf": (["bench", "--sizes", "inf"],
                        ["smoothl1 bench: error: argument --sizes: expected a whole number"],
                        []),
    "bench-sizes-1e13": (["bench", "--sizes", "1e13"],
                         ["each size must be from 1 to 1e+08, got 10000000000000"], []),
    # misleading messages
    "weight-missing": (["loss", "pred.npy", "target.npy", "--weight", "nosuch"],
                       ["--weight 'nosuch' not found"], ["TARGET"]),
    "text-named-npy": (["loss", "text.npy", "0"],
                       ["PRED 'text.npy' is not a .npy file", "belong in a .csv file"],
                       ["allow_pickle"]),
    "csv-uneven-rows": (["loss", "uneven.csv", "0"],
                        ["line 3 has 1 value where the lines before it have 2"], ["usecols"]),
    "bench-sizes-word": (["bench", "--sizes", "abc"], ["expected a whole number", "'abc'"],
                         ["<lambda>"]),
    "threads-zero": (["loss", "pred.npy", "0", "--threads", "0"],
                     ["--threads must be at least 1, got 0"], ["n_threads"]),
    "csv-empty": (["loss", "empty.csv", "0"], ["PRED 'empty.csv' holds no numbers"], []),
    "csv-only-comments": (["loss", "comments.csv", "0"], ["holds no numbers"], []),
    # siblings
    "npy-data-short": (["loss", "short.npy", "0"], ["is corrupt", "only 40 bytes follow"], []),
    "npy-data-long": (["loss", "long.npy", "0"], ["is corrupt", "but 49 bytes follow"], []),
    "npy-shape-negative": (["loss", "negative.npy", "0"], ["is corrupt", "(-2, 3)"], []),
    "npz-member-not-npy": (["loss", "notes.npz", "0"], ["is not a .npy member"], []),
    "npz-weight-not-a-zip": (["loss", "pred.npy", "0", "--weight", "notzip.npz"],
                             ["--weight 'notzip.npz' is not a .npz file"], []),
    "target-bad-crc": (["loss", "pred.npy", "badcrc.npz"], ["TARGET 'badcrc.npz'", "CRC"],
                       []),
    "csv-word": (["loss", "word.csv", "0"], ["line 2, column 2: 'four' is not a number"], []),
    "csv-not-utf8": (["loss", "latin1.csv", "0"], ["is not UTF-8 text"], []),
    "input-directory": (["loss", "folder.npy", "0"], ["PRED 'folder.npy' is a directory"], []),
    "input-device": (["loss", "null.npy", "0"], ["PRED 'null.npy' is a character device"], []),
    "max-bytes": (["loss", "pred.npy", "target.npy", "--max-bytes", "16"],
                  ["PRED 'pred.npy' holds 32 bytes, over the limit of 16 bytes",
                   "--max-bytes"], []),
    "max-bytes-csv": (["loss", "uneven.csv", "0", "--max-bytes", "4"],
                      ["larger than the limit of 4 bytes"], []),
    "max-bytes-negative": (["loss", "pred.npy", "0", "--max-bytes", "-1"],
                           ["--max-bytes must be at least 0"], []),
    "threads-fraction": (["loss", "pred.npy", "0", "--threads", "1.5"],
                         ["argument --threads: expected a whole number", "'1.5'"], []),
    "same-output-twice": (["loss", "pred.npy", "0", "--reduction", "none", "--out", "a.npy",
                           "--grad-out", "./a.npy"], ["name the same file"], []),
    "demo-n-inf": (["demo", "--n", "inf"], ["argument --n: expected a whole number"], []),
    "demo-seed-word": (["demo", "--seed", "x"], ["argument --seed: expected a whole"], []),
    "demo-beta-nan": (["demo", "--beta", "nan"], ["--beta must be a finite number > 0"], []),
    "demo-outliers-nan": (["demo", "--outliers", "nan"], ["--outliers must be a fraction"],
                          []),
    "plot-dpi-huge": (["plot", "x.png", "--dpi", "1e6"], ["--dpi must be from 10 to 1000"],
                      []),
    "plot-into-directory": (["plot", "folder.npy"], ["OUT 'folder.npy' is a directory"], []),
    "bench-repeat-zero": (["bench", "--repeat", "0"], ["--repeat must be from 1 to 1000"], []),
    "bench-sizes-empty-item": (["bench", "--sizes", "1000,"], ["expected a whole number"], []),
    "bench-dtypes": (["bench", "--dtypes", "int8"], ["'int8' is not float32 or float64"], []),
    "unrecognized-with-line-break": (["loss", "pred.npy", "0", "x\ny"],
                                     ["unrecognized arguments: x\\ny"], []),
    "npz-many-arrays": (["loss", "many.npz", "0"],
                        ["holds 30 arrays (a0, a1, a2", "... (20 more)"], []),
    "npz-name-with-line-break": (["loss", "odd.npz", "0"], ["'a\\nb'"], []),
    "option-equals-dashes": (["demo", "--n=--"], ["argument --n: expected one value"], []),
    "bench-option-equals-dashes": (["bench", "--sizes=--"], ["argument --sizes"], []),
}


@pytest.mark.parametrize("name", CASES)
def test_error_is_one_line_with_status_2(files, name):
    if name in LINUX_ONLY and not ON_LINUX:
        pytest.skip("/proc, /sys and /dev/full are Linux's")
    args, fragments, absent = CASES[name]
    assert_one_line_error(*run_main(*args), *fragments, absent=absent)
    assert not Path("a.npy").exists()


def test_failed_command_writes_nothing(files):
    # The inputs are read and checked before any output is opened.
    status, *_ = run_main("loss", "pred.npy", "badcrc.npz", "--grad-out", "g.npy")
    assert status == 2 and not Path("g.npy").exists()


def test_out_of_memory_is_one_line(files, monkeypatch):
    import smoothl1

    def no_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(smoothl1, "smooth_l1_loss", no_memory)
    assert_one_line_error(*run_main("loss", "pred.npy", "0"), "not enough memory")


def test_ctrl_c_stops_quietly_with_status_130(monkeypatch):
    from smoothl1.cli import demo

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(demo, "report", interrupted)
    status, stdout, stderr, _ = run_main("demo", "--n", "100")
    assert (status, stdout, stderr) == (130, "", "")


# --- In a real process --------------------------------------------------------------------


@pytest.mark.parametrize("name", ["npz-bad-crc", "npy-header-2**45", "grad-out-dev-full",
                                  "demo-seed-negative", "bench-sizes-inf", "csv-empty",
                                  "threads-zero"])
def test_error_is_one_line_in_a_real_process(files, name):
    if name in LINUX_ONLY and not ON_LINUX:
        pytest.skip("/dev/full is Linux's")
    args, fragments, _ = CASES[name]
    assert_process_error(run_process(*args, cwd=files, limit_memory=True), *fragments)


@pytest.mark.parametrize("make, kind", [
    (lambda path: os.symlink("/dev/zero", path), "a character device"),
    (os.mkfifo, "a FIFO"),
], ids=["symlink-to-dev-zero", "fifo"])
@pytest.mark.parametrize("suffix", [".csv", ".npy"])
def test_non_regular_files_are_refused_without_reading(tmp_path, make, kind, suffix):
    # Before: /dev/zero was read until memory ran out, and opening a FIFO waited for a writer.
    make(tmp_path / f"data{suffix}")
    result = run_process("loss", f"data{suffix}", "0", cwd=tmp_path, limit_memory=True)
    assert_process_error(result, f"PRED 'data{suffix}' is {kind}", "only regular")


@pytest.mark.parametrize("args", [["demo", "--n", "2000"],
                                  ["loss", "pred.npy", "0", "--reduction", "none"]],
                         ids=["demo", "loss-none"])
def test_closed_stdout_exits_quietly(tmp_path, args):
    # `smoothl1 demo | head`: the reader is gone before the command writes. Exit status 1, as
    # Python's own docs do for EPIPE, and nothing on stderr (no BrokenPipeError traceback).
    np.save(tmp_path / "pred.npy", np.linspace(-3, 3, 5000))
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run([sys.executable, "-m", "smoothl1", *args], cwd=tmp_path,
                                stdout=write_end, stderr=subprocess.PIPE, text=True,
                                timeout=120)
    finally:
        os.close(write_end)
    assert (result.returncode, result.stderr) == (1, "")


@pytest.mark.skipif(not ON_LINUX, reason="/dev/full is Linux's")
def test_stdout_on_a_full_device_is_one_line(tmp_path):
    with open("/dev/full", "w") as full:
        result = subprocess.run([sys.executable, "-m", "smoothl1", "demo", "--n", "100"],
                                stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr == ("smoothl1: error: cannot write the output: No space left on "
                             "device\n")


def test_closed_stdout_at_start_is_no_traceback(tmp_path):
    # `smoothl1 demo >&-`: Python starts with sys.stdout None and print() discards.
    result = subprocess.run([sys.executable, "-m", "smoothl1", "demo", "--n", "100"],
                            stderr=subprocess.PIPE, text=True, timeout=120,
                            preexec_fn=lambda: os.close(1))
    assert (result.returncode, result.stderr) == (0, "")


@pytest.mark.skipif(not ON_LINUX, reason="/dev/full is Linux's")
def test_plot_onto_a_full_device_is_one_line(files):
    pytest.importorskip("matplotlib")
    os.symlink("/dev/full", "full.png")
    assert_one_line_error(*run_main("plot", "full.png", "--dpi", "10"),
                          "cannot write 'full.png'", "No space left on device")


def test_pipe_into_head_prints_the_first_lines(tmp_path):
    result = subprocess.run(f"'{sys.executable}' -m smoothl1 demo --n 2000 --optimizer gd "
                            f"| head -n 1", shell=True, capture_output=True, text=True,
                            timeout=120, cwd=tmp_path)
    assert result.stdout.startswith("Linear fit of 2000 points") and result.stderr == ""


# --- Property: random bad files and arguments ---------------------------------------------


def _mutated_npy(data):
    """A .npy that is certainly broken: cut short, lengthened, or declaring a larger shape."""
    array = np.arange(data.draw(st.integers(1, 40)), dtype=data.draw(st.sampled_from(
        ["<f8", "<f4"])))
    good = npy_bytes(array)
    how = data.draw(st.sampled_from(["cut", "append", "grow-shape", "magic"]))
    if how == "cut":
        return good[:data.draw(st.integers(0, len(good) - 1))]
    if how == "append":
        return good + data.draw(st.binary(min_size=1, max_size=64))
    if how == "grow-shape":
        shape = tuple(data.draw(st.lists(st.integers(1, 2**40), min_size=1, max_size=4)))
        if np.prod(shape, dtype=object) <= array.size:
            shape = (array.size + 1,)
        return npy_header(shape, array.dtype.str) + good[128:]
    # anything not starting with the magic bytes
    return data.draw(st.binary(max_size=300).filter(lambda b: not b.startswith(b"\x93")))


def _mutated_npz(data):
    good = npz_bytes(pred=np.arange(data.draw(st.integers(1, 40)), dtype=np.float64))
    how = data.draw(st.sampled_from(["cut", "flip", "junk"]))
    if how == "cut":
        return good[:data.draw(st.integers(0, len(good) - 1))]
    if how == "flip":  # any byte of the member: its CRC no longer matches
        start = good.index(b"\x93NUMPY")
        end = good.index(b"PK\x01\x02")  # the central directory follows the member
        position = data.draw(st.integers(start, end - 1))
        return good[:position] + bytes([good[position] ^ data.draw(st.integers(1, 255))]) + \
            good[position + 1:]
    return data.draw(st.binary(max_size=300).filter(lambda b: not b.startswith(b"PK")))


BAD_FIELDS = ["x", "", "1..2", "--1", "0x1g", "1e", "nan nan", "[1]", "'1'"]


def _bad_csv(data):
    """CSV text that is certainly refused: a field that is not a number, ragged rows, empty."""
    how = data.draw(st.sampled_from(["field", "ragged", "empty", "binary"]))
    numbers = st.floats(allow_nan=False, allow_infinity=False, width=32).map(repr)
    width = data.draw(st.integers(1, 4))
    rows = data.draw(st.lists(st.lists(numbers, min_size=width, max_size=width),
                              min_size=1, max_size=6))
    if how == "field":
        row = data.draw(st.integers(0, len(rows) - 1))
        rows[row][data.draw(st.integers(0, width - 1))] = data.draw(st.sampled_from(BAD_FIELDS))
    elif how == "ragged":
        rows.append(rows[0] + ["1"] if data.draw(st.booleans()) or width == 1 else rows[0][1:])
    elif how == "empty":
        return data.draw(st.sampled_from(["", "\n\n", "# comment\n", "  \n# x\n"])).encode()
    else:
        return b"1,2\n\xff\xfe" + data.draw(st.binary(max_size=20))
    return "\n".join(",".join(row) for row in rows).encode() + b"\n"


WHOLE_NUMBER_JUNK = st.one_of(
    st.sampled_from(["", "abc", "inf", "-inf", "nan", "1e400", "0x10", "1,5", "one", "2.5",
                     "1e-3", "--"]),
    st.floats(allow_nan=False, allow_infinity=False).filter(
        lambda v: not float(v).is_integer()).map(repr))

BAD_OPTIONS = {
    "demo": [("--n", st.one_of(WHOLE_NUMBER_JUNK, st.integers(-10**20, 1).map(str),
                               st.integers(2 * 10**8, 10**30).map(str))),
             ("--features", st.one_of(WHOLE_NUMBER_JUNK, st.integers(-10**6, 0).map(str),
                                      st.integers(10**8, 10**30).map(str))),
             ("--seed", st.one_of(WHOLE_NUMBER_JUNK, st.integers(-10**30, -1).map(str))),
             ("--outliers", st.sampled_from(["0.5", "-0.1", "nan", "inf", "2", "x"])),
             ("--beta", st.sampled_from(["0", "-1", "nan", "inf", "-0", "b"])),
             ("--optimizer", st.sampled_from(["bfgs", "", "GD"]))],
    "bench": [("--sizes", st.one_of(WHOLE_NUMBER_JUNK, st.integers(-10**9, 0).map(str),
                                    st.integers(10**8 + 1, 10**40).map(str),
                                    st.just("1000,"), st.just(",1000"))),
              ("--repeat", st.one_of(WHOLE_NUMBER_JUNK, st.integers(-10**9, 0).map(str),
                                     st.integers(1001, 10**40).map(str))),
              ("--dtypes", st.sampled_from(["int8", "float16", "", "float32,", "f8"]))],
    "plot": [("--dpi", st.one_of(WHOLE_NUMBER_JUNK, st.integers(-10**9, 9).map(str),
                                 st.integers(1001, 10**40).map(str)))],
    "loss": [("--threads", st.one_of(WHOLE_NUMBER_JUNK, st.integers(-10**9, 0).map(str))),
             ("--max-bytes", st.one_of(WHOLE_NUMBER_JUNK, st.integers(-10**9, -1).map(str))),
             ("--beta", st.sampled_from(["-1", "nan", "-inf", "x", ""])),
             ("--reduction", st.sampled_from(["avg", "", "MEAN", "sum ", "sum\n"])),
             ("--loss", st.sampled_from(["l1", "", "Huber", "huber\r\nx"])),
             ("--dtype", st.sampled_from(["float16", "int", ""])),
             ("--grad-out", st.sampled_from(["g.txt", "no/such/dir/g.npy", "folder.npy",
                                            "/proc/x.npy", "full.npy"]))],
}


@st.composite
def bad_command_lines(draw):
    """(argv, files to write): a command line with at least one certain mistake."""
    kind = draw(st.sampled_from(["npy", "npz", "csv", "option", "extra"]))
    if kind == "extra":  # a stray argument, printed back in the message whatever it holds
        extra = draw(st.text(min_size=1, max_size=20).filter(lambda t: not t.startswith("-")))
        return draw(st.sampled_from([["loss", "pred.npy", "0"], ["demo"], ["plot", "x.png"]])) \
            + [extra], {}
    if kind == "option":
        command = draw(st.sampled_from(sorted(BAD_OPTIONS)))
        option, values = draw(st.sampled_from(BAD_OPTIONS[command]))
        argv = [command] + {"loss": ["pred.npy", "0"], "plot": ["x.png"]}.get(command, [])
        return argv + [f"{option}={draw(values)}"], {}
    make = {"npy": _mutated_npy, "npz": _mutated_npz, "csv": _bad_csv}[kind]
    bad = f"bad.{kind}"
    slot = draw(st.sampled_from(["PRED", "TARGET", "--weight"]))
    argv = {"PRED": ["loss", bad, "0"], "TARGET": ["loss", "pred.npy", bad],
            "--weight": ["loss", "pred.npy", "0", "--weight", bad]}[slot]
    argv += draw(st.sampled_from([[], ["--reduction", "sum"], ["--loss", "huber"],
                                  ["--dtype", "float64"], ["--threads", "2"]]))
    return argv, {bad: make(draw(st.data()))}


@settings(max_examples=300, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(case=bad_command_lines())
def test_property_bad_command_lines_fail_in_one_line(case):
    argv, files = case
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)
        try:
            np.save("pred.npy", np.array([0.2, 1.5, -3.0, 0.5]))
            os.mkdir("folder.npy")
            os.symlink("/dev/full", "full.npy")
            for name, content in files.items():
                Path(name).write_bytes(content)
            before = sorted(os.listdir())
            assert_one_line_error(*run_main(*argv), absent=["Traceback"])
            assert sorted(os.listdir()) == before  # a failed command writes nothing
        finally:
            os.chdir(cwd)


def test_whole_number_type():
    assert [_arguments.whole_number(text) for text in ("20000", "1e6", "2_000", "-3", "1.0e2",
                                                str(2**70))] == [
        20000, 10**6, 2000, -3, 100, 2**70]
    for text in ("2.5", "inf", "nan", "abc", "", "1e400"):
        with pytest.raises(Exception, match="expected a whole number"):
            _arguments.whole_number(text)


def test_regular_file_check_is_on_the_opened_file(files):
    # A symlink to a regular file is read; what decides is the file opened, not the name.
    os.symlink("pred.npy", "link.npy")
    status, stdout, stderr, _ = run_main("loss", "link.npy", "target.npy")
    assert (status, stderr) == (0, "")
    reference = run_main("loss", "pred.npy", "target.npy")[1]
    assert stdout == reference
    assert stat.S_ISLNK(os.lstat("link.npy").st_mode)
