"""`python -m smoothl1 bench` runs and prints one row per size, dtype and operation."""
import io
import os
import subprocess
import sys

import numpy as np
import pytest

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


def test_bench_torch_rows_forward_and_backward_against_pytorch():
    """The PyTorch rows (smoothl1.torch against F.smooth_l1_loss, forward + backward); where
    PyTorch is missing they print nothing and return no rows."""
    pytest.importorskip("torch")
    printed = io.StringIO()
    rows = bench.torch_rows([1000, 3000], repeat=1, out=printed)
    assert [(row["size"], row["dtype"]) for row in rows] == [(1000, "float32"),
                                                              (3000, "float32")]
    for row in rows:
        assert row["seconds"] > 0 and row["PyTorch_seconds"] > 0 and row["PyTorch"] > 0
    assert "x PyTorch" in printed.getvalue() and "forward + backward" in printed.getvalue()


def test_bench_torch_rows_skip_without_pytorch(monkeypatch):
    optional = bench._optional
    monkeypatch.setattr(bench, "_optional",
                        lambda name: None if name == "torch" else optional(name))
    printed = io.StringIO()
    assert bench.torch_rows([1000], repeat=1, out=printed) == []
    assert printed.getvalue() == ""


def test_regression_verdicts_compare_ranges():
    from smoothl1.cli._bench_regression import verdict
    assert verdict([1.0, 1.1], [1.2, 1.3]) == "faster"
    assert verdict([1.4, 1.5], [1.2, 1.3]) == "slower"
    assert verdict([1.0, 1.25], [1.2, 1.3]) == "within spread"


def test_regression_table_against_another_build(tmp_path):
    """--against DIR: this build against DIR's smoothl1 in alternating processes. Here DIR
    holds a stand-in smoothl1 with only smooth_l1_loss (NumPy's formula): its rows are timed,
    the losses it lacks are n/a."""
    from smoothl1.cli import _bench_regression
    (tmp_path / "smoothl1").mkdir()
    (tmp_path / "smoothl1" / "__init__.py").write_text(
        "import numpy as np\n"
        "def smooth_l1_loss(x, t, beta=1.0, reduction='mean', n_threads=None, out=None):\n"
        "    z = np.abs(x - t)\n"
        "    loss = np.where(z < beta, 0.5 * z * z / beta, z - 0.5 * beta)\n"
        "    return loss.mean() if reduction == 'mean' else loss\n")
    printed = io.StringIO()
    results = _bench_regression.run(tmp_path, flat_size=2000, loss_size=1000, pairs=1,
                                    repeat=1, out=printed)
    from smoothl1._core.losses import LOSSES
    assert len(results) == 4 + 3 * len(LOSSES)
    for row in results:
        if row["label"].startswith("smooth_l1"):
            assert row["verdict"] in ("faster", "slower", "within spread"), row
            assert len(row["this"]) == len(row["other"]) == 1 and min(row["this"]) > 0
        else:
            assert row["verdict"] == "n/a" and row["change"] is None, row
    assert "alternating processes" in printed.getvalue()


def test_regression_table_needs_a_smoothl1_folder(tmp_path):
    result = subprocess.run([sys.executable, "-m", "smoothl1", "bench", "--against",
                             str(tmp_path), "--pairs", "1"], capture_output=True, text=True)
    assert result.returncode == 2
    assert "has no smoothl1 folder" in result.stderr and "Traceback" not in result.stderr


def test_bench_header_names_the_kernel_build():
    import smoothl1
    first_line = bench.versions(None, None).splitlines()[0]
    assert first_line.startswith(f"smoothl1 {smoothl1.__version__} "
                                 f"({smoothl1.simd_build()} kernels, ")
    forced = subprocess.run(
        [sys.executable, "-c",
         "from smoothl1.cli import bench; print(bench.versions(None, None))"],
        capture_output=True, text=True, env=dict(os.environ, SMOOTHL1_BASELINE="1"), check=True)
    assert "(baseline kernels, " in forced.stdout.splitlines()[0]
