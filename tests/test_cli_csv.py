"""The command line's CSV, both ways, and its standard streams (docs/cli.md, "CSV and standard
streams"): a CSV keeps its shape, outputs are .npy or .csv by name, ``-`` is stdin or stdout.
Every loss of the table runs from the command line with its own parameter.

Run as a user runs it (``python -m smoothl1`` in a subprocess); the numbers are checked against
tests/reference.py, the suite's independent oracle.
"""
import os
import subprocess
import sys

import numpy as np
import pytest

from reference import reference
from smoothl1._core.losses import LOSSES
from test_cli import assert_user_error, run_cli


def run_with_stdin(*args, text, cwd):
    """The CLI with ``text`` on its standard input (a pipe, as ``cat f.csv | smoothl1 ...``)."""
    env = dict(os.environ, PYTHONWARNINGS="error::RuntimeWarning")
    return subprocess.run([sys.executable, "-m", "smoothl1", *map(str, args)], cwd=cwd,
                          env=env, input=text, capture_output=True, text=True, timeout=120)


def read_csv(text_or_path):
    """An independent reader: NumPy's, keeping two dimensions as the contract says."""
    return np.loadtxt(text_or_path, delimiter=",", ndmin=2)


@pytest.fixture
def table(tmp_path):
    """PRED (4, 3) and TARGET (4, 3) as CSV files; per-row weights as a one-column CSV."""
    pred = np.array([[0.2, 1.5, -3.0], [4.0, -0.5, 0.25], [1.0, 2.0, 3.0], [-7.5, 0.0, 0.1]])
    target = np.array([[0.0, 1.0, -1.0], [1.0, 1.0, 1.0], [0.5, 0.5, 0.5], [0.0, 0.0, 0.0]])
    row_weight = np.array([[0.5], [2.0], [1.0], [3.0]])
    np.savetxt(tmp_path / "pred.csv", pred, delimiter=",", fmt="%.17g")
    np.savetxt(tmp_path / "target.csv", target, delimiter=",", fmt="%.17g")
    (tmp_path / "w.csv").write_text("0.5\n2\n1\n3\n")
    return pred, target, row_weight


# --- a CSV keeps its shape ------------------------------------------------------------------


def test_one_column_csv_is_a_per_row_weight(tmp_path, table):
    pred, target, row_weight = table
    result = run_cli("loss", "pred.csv", "target.csv", "--weight", "w.csv", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    expected, _ = reference("smooth_l1", pred, target, 1.0, weight=row_weight)
    assert float(result.stdout) == pytest.approx(float(expected), rel=1e-14)


@pytest.mark.parametrize("text, shape", [("1\n2\n3\n", (3, 1)), ("1,2,3\n", (1, 3)),
                                         ("# a comment\n1,2\n3,4\n", (2, 2)), ("5\n", (1, 1))],
                         ids=["one-column", "one-line", "two-by-two", "one-value"])
def test_csv_keeps_its_shape(tmp_path, text, shape):
    (tmp_path / "p.csv").write_text(text)
    result = run_cli("loss", "p.csv", "0", "--reduction", "none", "--out", "l.npy",
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    losses = np.load(tmp_path / "l.npy")
    assert losses.shape == shape
    np.testing.assert_array_equal(losses, reference("smooth_l1", read_csv(tmp_path / "p.csv"),
                                                    0.0, 1.0, reduction="none")[0])


def test_one_column_csv_against_a_flat_npy_is_refused_with_a_hint(tmp_path):
    # (N, 1) against (N,) would be an N x N result: the library refuses it, and the command
    # line says why a CSV is (N, 1).
    np.save(tmp_path / "p.npy", np.array([1.0, 2.0, 3.0]))
    (tmp_path / "t.csv").write_text("1\n2\n3\n")
    assert_user_error(run_cli("loss", "p.npy", "t.csv", cwd=tmp_path),
                      "target has shape (3, 1)", "one column (N, 1)")


# --- outputs as CSV -------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_csv_outputs_read_back_to_the_same_bits(tmp_path, table, dtype):
    pred, target, _ = table
    result = run_cli("loss", "pred.csv", "target.csv", "--beta", "0.3", "--dtype", dtype,
                     "--reduction", "none", "--out", "l.csv", "--grad-out", "g.csv",
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    losses, grad = reference("smooth_l1", pred.astype(dtype), target.astype(dtype), 0.3,
                             reduction="none")
    for name, expected in (("l.csv", losses), ("g.csv", grad)):
        written = np.loadtxt(tmp_path / name, delimiter=",", ndmin=2, dtype=dtype)
        assert written.shape == (4, 3)
        np.testing.assert_allclose(written, expected, rtol=3e-7 if dtype == "float32" else 1e-15)
    # The text is the shortest that reads back to the same value: what the library returned.
    import smoothl1
    ours, their_grad = smoothl1.smooth_l1_loss_and_grad(
        pred.astype(dtype), target.astype(dtype), beta=0.3, reduction="none")
    assert (np.loadtxt(tmp_path / "l.csv", delimiter=",", dtype=dtype).tobytes()
            == ours.tobytes())
    assert (tmp_path / "l.csv").read_text().splitlines()[0] == ",".join(str(v) for v in ours[0])


def test_flat_npy_writes_one_csv_line(tmp_path):
    np.save(tmp_path / "p.npy", np.array([0.2, 1.5, -3.0]))
    result = run_cli("loss", "p.npy", "0", "--grad-out", "g.csv", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    # The gradient of the mean: (0.2, 1, -1) / 3, each value in its shortest exact text.
    assert ((tmp_path / "g.csv").read_text()
            == "0.06666666666666667,0.3333333333333333,-0.3333333333333333\n")


def test_csv_output_of_more_than_two_dimensions_is_refused_before_any_write(tmp_path):
    np.save(tmp_path / "p.npy", np.zeros((2, 2, 2)))
    assert_user_error(run_cli("loss", "p.npy", "0", "--reduction", "none", "--out", "l.csv",
                              "--grad-out", "g.npy", cwd=tmp_path),
                      "--out 'l.csv'", "at most 2 dimensions", "(2, 2, 2)")
    assert not (tmp_path / "g.npy").exists() and not (tmp_path / "l.csv").exists()


# --- standard input and output --------------------------------------------------------------


@pytest.mark.parametrize("position", ["PRED", "TARGET", "--weight"])
def test_dash_reads_csv_from_standard_input(tmp_path, table, position):
    pred, target, row_weight = table
    files = {"PRED": "pred.csv", "TARGET": "target.csv", "--weight": "w.csv"}
    stdin_text = (tmp_path / files[position]).read_text()
    files[position] = "-"
    result = run_with_stdin("loss", files["PRED"], files["TARGET"], "--weight",
                            files["--weight"], "--reduction", "sum", text=stdin_text,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    expected, _ = reference("smooth_l1", pred, target, 1.0, reduction="sum", weight=row_weight)
    assert float(result.stdout) == pytest.approx(float(expected), rel=1e-14)


def test_dash_output_writes_only_csv_to_standard_output(tmp_path, table):
    pred, target, _ = table
    result = run_with_stdin("loss", "-", "target.csv", "--loss", "huber", "--delta", "2",
                            "--grad-out", "-", text=(tmp_path / "pred.csv").read_text(),
                            cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    _, grad = reference("huber", pred, target, 2.0)
    np.testing.assert_allclose(read_csv(result.stdout.splitlines()), grad, rtol=1e-15)
    assert len(result.stdout.splitlines()) == 4   # the CSV alone: the loss is not printed


def test_dash_out_with_a_gradient_file(tmp_path, table):
    pred, target, _ = table
    result = run_cli("loss", "pred.csv", "target.csv", "--reduction", "none", "--out", "-",
                     "--grad-out", "g.npy", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    losses, grad = reference("smooth_l1", pred, target, 1.0, reduction="none")
    np.testing.assert_array_equal(read_csv(result.stdout.splitlines()), losses)
    np.testing.assert_array_equal(np.load(tmp_path / "g.npy"), grad)


@pytest.mark.parametrize("args, fragments", [
    (["-", "-"], ["only one input can be -", "PRED and TARGET"]),
    (["pred.csv", "-", "--weight", "-"], ["only one input can be -", "TARGET and --weight"]),
    (["pred.csv", "0", "--reduction", "none", "--out", "-", "--grad-out", "-"],
     ["--out and --grad-out are both - (standard output)"]),
    (["pred.csv", "0", "--grad-out", "g.txt"], ["--grad-out 'g.txt'", "ending in .npy or .csv"]),
], ids=["two-stdin-inputs", "stdin-target-and-weight", "two-stdout-outputs", "unknown-output"])
def test_standard_stream_conflicts_are_refused(tmp_path, table, args, fragments):
    result = run_with_stdin("loss", *args, text="1,2,3\n", cwd=tmp_path)
    assert_user_error(result, *fragments)


@pytest.mark.parametrize("text, fragments", [
    ("", ["PRED (standard input) holds no numbers"]),
    ("1,2\n3\n", ["PRED (standard input)", "line 2 has 1 value"]),
    ("1,two\n", ["PRED (standard input)", "line 1, column 2: 'two' is not a number"]),
], ids=["empty", "ragged", "not-a-number"])
def test_bad_standard_input_names_the_argument(tmp_path, text, fragments):
    assert_user_error(run_with_stdin("loss", "-", "0", text=text, cwd=tmp_path), *fragments)


def test_standard_input_obeys_max_bytes(tmp_path):
    assert_user_error(run_with_stdin("loss", "-", "0", "--max-bytes", "8",
                                     text="1,2,3,4,5,6\n", cwd=tmp_path),
                      "PRED (standard input) is larger than the limit of 8 bytes")


TERMINAL = ("import io, sys\n"
            "class Terminal(io.TextIOWrapper):\n"
            "    def isatty(self):\n"
            "        return True\n"
            "sys.stdin = Terminal(io.BytesIO(b'1,2\\n'))")


@pytest.mark.parametrize("prelude, fragment", [
    (TERMINAL, "which is a terminal: pipe CSV text"),
    ("import sys; sys.stdin = None", "standard input is closed"),
], ids=["terminal", "closed"])
def test_standard_input_that_would_wait_or_is_closed_is_refused(tmp_path, prelude, fragment):
    # A terminal would wait for typed text, a hang to whoever forgot the pipe: refused.
    assert_user_error(run_cli("loss", "-", "0", cwd=tmp_path, prelude=prelude),
                      "PRED is - (standard input)", fragment)


# --- every loss of the table ----------------------------------------------------------------


@pytest.mark.parametrize("loss", LOSSES, ids=[loss.name for loss in LOSSES])
def test_every_loss_of_the_table_runs_with_its_parameter(tmp_path, table, loss):
    pred, target, row_weight = table
    result = run_cli("loss", "pred.csv", "target.csv", "--loss", loss.name,
                     f"--{loss.param}", "0.7", "--weight", "w.csv", "--grad-out", "g.csv",
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    expected, grad = reference(loss.name, pred, target, 0.7, weight=row_weight)
    assert float(result.stdout) == pytest.approx(float(expected), rel=1e-13)
    np.testing.assert_allclose(read_csv(tmp_path / "g.csv"), grad, rtol=1e-13, atol=1e-300)


def test_help_lists_every_loss_and_parameter_of_the_table():
    result = run_cli("loss", "--help")
    assert result.returncode == 0
    help_text = " ".join(result.stdout.split())
    for loss in LOSSES:
        assert loss.name in help_text and loss.title in help_text
        assert f"--{loss.param}" in help_text
