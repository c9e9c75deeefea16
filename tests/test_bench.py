"""`python -m smoothl1 bench` runs and prints one row per size, dtype and operation."""
import io
import subprocess
import sys

import numpy as np

from smoothl1.cli import _bench_boxes, bench


def test_bench_table_rows():
    printed = io.StringIO()
    rows = bench.run([1000, 3000], [np.dtype(np.float32), np.dtype(np.float64)], repeat=1,
                     out=printed)
    assert [(row["size"], row["dtype"], row["operation"]) for row in rows] == [
        (size, dtype, operation) for size in (1000, 3000) for dtype in ("float32", "float64")
        for operation in ("loss", "loss+grad", "loss[::2]")]
    for row in rows:
        assert row["seconds"] > 0 and row["vs_floor"] > 0 and row["NumPy"] > 0
    printed = printed.getvalue()
    assert "C API" in printed and "DIFFERENT BITS" not in printed
    assert "vs floor" in printed and "x NumPy" in printed and printed.count("\n") >= 7


def test_bench_command_line_rejects_bad_dtype():
    result = subprocess.run([sys.executable, "-m", "smoothl1", "bench", "--dtypes", "int8"],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "int8" in result.stderr


def test_c_api_row_calls_the_capsule_and_gets_the_python_bits():
    for dtype in (np.float32, np.float64):
        row = bench.c_api_row(dtype, repeat=1, size=40_000)
        assert row["dtype"] == np.dtype(dtype).name and row["size"] == 40_000
        assert row["c_api"] > 0 and row["python_api"] > 0 and row["ratio"] > 0
        assert row["same_bits"]


def test_bench_box_rows():
    printed = io.StringIO()
    rows = _bench_boxes.run(3000, [np.dtype(np.float32), np.dtype(np.float64)], 1,
                            bench.best_time, printed)
    groups = [(row["group"], row["dtype"]) for row in rows]
    for group in ("broadcast", "axis", "per-element"):
        assert (group, "float32") in groups and (group, "float64") in groups
    for row in rows:
        assert row["seconds"] > 0 and row["vs_base"] > 0 and row["NumPy"] > 0
    floors = {(row["case"], row["dtype"]): row["floor"] for row in rows}
    for case in ("sum axis=-1", "w mean axis=-1", "beta (N,4)"):   # the rows with a floor
        assert floors[case, "float32"] > 0 and floors[case, "float64"] > 0
    assert floors["target (N,1)", "float64"] is None
    assert "vs base" in printed.getvalue() and "target (N,1)" in printed.getvalue()
    assert "floor" in printed.getvalue()


def test_bench_loss_rows_cover_every_loss_of_the_table():
    from smoothl1._core.losses import LOSSES
    printed = io.StringIO()
    rows = bench.loss_rows(2000, [np.dtype(np.float32), np.dtype(np.float64)], 1, printed)
    assert [(row["loss"], row["dtype"]) for row in rows] == [
        (loss.name, dtype) for dtype in ("float32", "float64") for loss in LOSSES]
    for row in rows:
        assert row["seconds"] > 0 and row["NumPy"] > 0
    for loss in LOSSES:
        assert loss.name in printed.getvalue()


def test_every_loss_has_a_numpy_expression_equal_to_its_mean():
    """The bench's NumPy peers compute the loss they stand for (float64, moderate values)."""
    import smoothl1
    from smoothl1._core.losses import LOSSES
    rng = np.random.default_rng(0)
    x, t = rng.standard_normal(1000) * 3, rng.standard_normal(1000)
    for loss in LOSSES:
        expected = getattr(smoothl1, loss.name + "_loss")(x, t, **{loss.param: 0.7})
        value = eval(loss.numpy_mean, {"np": np, "d": x - t, "p": 0.7})
        np.testing.assert_allclose(value, expected, rtol=1e-12, err_msg=loss.name)
