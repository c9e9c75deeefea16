"""The command line, run as a user runs it: ``python -m smoothl1 ...`` in a subprocess.

Numbers are checked against NumPy computations of the contract's formulas (docs/contract.md); every user error must
exit with status 2 and one line on stderr, never a traceback.
"""
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

import smoothl1
from smoothl1.cli import demo


def run_cli(*args, cwd=None, prelude=None):
    """Run the CLI; ``prelude`` is Python code run first in the child (to simulate things)."""
    if prelude is None:
        command = [sys.executable, "-m", "smoothl1", *map(str, args)]
    else:
        code = (f"{prelude}\nimport sys\nfrom smoothl1.cli import main\n"
                f"sys.exit(main({[str(a) for a in args]!r}))")
        command = [sys.executable, "-c", code]
    env = dict(os.environ, PYTHONWARNINGS="error::RuntimeWarning")
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)


def assert_user_error(result, *fragments):
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    message = result.stderr.strip()
    assert "\n" not in message, message
    assert message.startswith("smoothl1"), message
    for fragment in fragments:
        assert fragment in message, message


# NumPy references (docs/contract.md section 1), elementwise.
def smooth_l1_reference(pred, target, beta):
    d = pred.astype(np.float64) - target
    z = np.abs(d)
    if beta == 0:
        return z, np.sign(d)
    inside = z < beta
    return (np.where(inside, 0.5 * z ** 2 / beta, z - 0.5 * beta),
            np.where(inside, d / beta, np.sign(d)))


def huber_reference(pred, target, delta):
    loss, grad = smooth_l1_reference(pred, target, delta)
    return delta * loss, delta * grad


@pytest.fixture
def arrays(tmp_path):
    rng = np.random.default_rng(42)
    pred = rng.normal(scale=2.0, size=(40, 3))
    target = rng.normal(size=(40, 3))
    weight = rng.uniform(0.1, 2.0, size=(40, 3))
    np.save(tmp_path / "pred.npy", pred)
    np.save(tmp_path / "target.npy", target)
    np.save(tmp_path / "weight.npy", weight)
    return pred, target, weight


# --- loss: values --------------------------------------------------------------------------


@pytest.mark.parametrize("loss, option, value, reference", [
    ("smooth_l1", "--beta", 1.0, smooth_l1_reference),
    ("smooth_l1", "--beta", 0.25, smooth_l1_reference),
    ("smooth_l1", "--beta", 0.0, smooth_l1_reference),
    ("huber", "--delta", 1.0, huber_reference),
    ("huber", "--delta", 2.5, huber_reference),
], ids=["sl1-default", "sl1-beta0.25", "sl1-beta0-is-L1", "huber-default", "huber-delta2.5"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_loss_matches_numpy(tmp_path, arrays, loss, option, value, reference, reduction):
    pred, target, _ = arrays
    result = run_cli("loss", "pred.npy", "target.npy", "--loss", loss, option, value,
                     "--reduction", reduction, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    elementwise, _ = reference(pred, target, value)
    expected = elementwise.mean() if reduction == "mean" else elementwise.sum()
    assert float(result.stdout) == pytest.approx(expected, rel=1e-13)


def test_loss_default_is_mean_smooth_l1_beta_1(tmp_path, arrays):
    pred, target, _ = arrays
    result = run_cli("loss", "pred.npy", "target.npy", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert float(result.stdout) == pytest.approx(
        smooth_l1_reference(pred, target, 1.0)[0].mean(), rel=1e-13)


def test_loss_prints_the_library_result_exactly(tmp_path, arrays):
    pred, target, _ = arrays
    result = run_cli("loss", "pred.npy", "target.npy", "--beta", "0.5", cwd=tmp_path)
    assert result.stdout.strip() == str(smoothl1.smooth_l1_loss(pred, target, beta=0.5))


def test_weighted_mean_is_np_average(tmp_path, arrays):
    pred, target, weight = arrays
    result = run_cli("loss", "pred.npy", "target.npy", "--weight", "weight.npy",
                     "--loss", "huber", "--delta", "0.5", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    expected = np.average(huber_reference(pred, target, 0.5)[0], weights=weight)
    assert float(result.stdout) == pytest.approx(expected, rel=1e-13)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_grad_out_writes_the_gradient(tmp_path, arrays, reduction):
    pred, target, _ = arrays
    result = run_cli("loss", "pred.npy", "target.npy", "--beta", "0.5", "--reduction",
                     reduction, "--grad-out", "grad.npy", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    grad = np.load(tmp_path / "grad.npy")
    _, expected = smooth_l1_reference(pred, target, 0.5)
    if reduction == "mean":
        expected = expected / pred.size
    assert grad.shape == pred.shape and grad.dtype == np.float64
    np.testing.assert_allclose(grad, expected, rtol=1e-14, atol=0)


def test_weighted_grad_out(tmp_path, arrays):
    pred, target, weight = arrays
    result = run_cli("loss", "pred.npy", "target.npy", "--weight", "weight.npy",
                     "--grad-out", "grad.npy", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    _, grad = smooth_l1_reference(pred, target, 1.0)
    np.testing.assert_allclose(np.load(tmp_path / "grad.npy"), grad * weight / weight.sum(),
                               rtol=1e-13)


def test_reduction_none_prints_elementwise_losses(tmp_path):
    np.save(tmp_path / "p.npy", np.array([0.2, 1.5, -3.0]))
    result = run_cli("loss", "p.npy", "0", "--reduction", "none", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    printed = np.array(result.stdout.strip().strip("[]").split(), dtype=float)
    np.testing.assert_allclose(printed, [0.02, 1.0, 2.5])


def test_reduction_none_out_file(tmp_path, arrays):
    pred, target, _ = arrays
    result = run_cli("loss", "pred.npy", "target.npy", "--reduction", "none", "--out",
                     "losses.npy", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    np.testing.assert_allclose(np.load(tmp_path / "losses.npy"),
                               smooth_l1_reference(pred, target, 1.0)[0], rtol=1e-14)


def test_scalar_target(tmp_path, arrays):
    pred, _, _ = arrays
    result = run_cli("loss", "pred.npy", "0.5", "--reduction", "sum", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert float(result.stdout) == pytest.approx(
        smooth_l1_reference(pred, 0.5, 1.0)[0].sum(), rel=1e-13)


# --- loss: file formats and dtypes ---------------------------------------------------------


def test_npz_with_key_and_with_file_colon_key(tmp_path, arrays):
    pred, target, _ = arrays
    np.savez(tmp_path / "data.npz", pred=pred, target=target)
    np.savez(tmp_path / "other.npz", pred=target, target=pred)
    expected = smooth_l1_reference(pred, target, 1.0)[0].mean()
    by_suffix = run_cli("loss", "data.npz:pred", "data.npz:target", cwd=tmp_path)
    assert by_suffix.returncode == 0, by_suffix.stderr
    assert float(by_suffix.stdout) == pytest.approx(expected, rel=1e-13)
    # --key names the array in both files: data's pred against other's pred (= target).
    by_key = run_cli("loss", "data.npz", "other.npz", "--key", "pred", cwd=tmp_path)
    assert by_key.returncode == 0, by_key.stderr
    assert float(by_key.stdout) == pytest.approx(expected, rel=1e-13)


def test_npz_with_one_array_needs_no_key(tmp_path, arrays):
    pred, target, _ = arrays
    np.savez(tmp_path / "p.npz", pred)
    result = run_cli("loss", "p.npz", "target.npy", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert float(result.stdout) == pytest.approx(
        smooth_l1_reference(pred, target, 1.0)[0].mean(), rel=1e-13)


def test_csv_files(tmp_path, arrays):
    pred, target, weight = arrays
    for name, array in (("pred", pred), ("target", target), ("weight", weight)):
        np.savetxt(tmp_path / f"{name}.csv", array, delimiter=",", fmt="%.17g")
    result = run_cli("loss", "pred.csv", "target.csv", "--weight", "weight.csv",
                     "--reduction", "sum", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    expected = (weight * smooth_l1_reference(pred, target, 1.0)[0]).sum()
    assert float(result.stdout) == pytest.approx(expected, rel=1e-13)


def test_csv_target_is_read_as_the_float32_pred_dtype(tmp_path):
    pred = np.array([[0.2, 1.5], [-3.0, 0.7]], dtype=np.float32)
    np.save(tmp_path / "p32.npy", pred)
    (tmp_path / "t.csv").write_text("# a comment\n0.1,0.2\n0.3,0.4\n")
    result = run_cli("loss", "p32.npy", "t.csv", "--grad-out", "g.npy", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    target = np.array([[0.1, 0.2], [0.3, 0.4]], dtype=np.float32)
    assert result.stdout.strip() == str(smoothl1.smooth_l1_loss(pred, target))
    assert np.load(tmp_path / "g.npy").dtype == np.float32


def test_mismatched_dtypes_are_refused_with_a_hint(tmp_path, arrays):
    _, target, _ = arrays
    np.save(tmp_path / "t32.npy", target.astype(np.float32))
    result = run_cli("loss", "pred.npy", "t32.npy", "--grad-out", "g.npy", cwd=tmp_path)
    assert_user_error(result, "target must have the dtype of input (float64), got float32",
                      "--dtype")
    assert not (tmp_path / "g.npy").exists()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dtype_option_converts_every_array(tmp_path, arrays, dtype):
    pred, target, _ = arrays
    np.save(tmp_path / "t32.npy", target.astype(np.float32))
    np.save(tmp_path / "pint.npy", np.round(pred * 10).astype(np.int64))
    result = run_cli("loss", "pint.npy", "t32.npy", "--dtype", dtype, "--grad-out", "g.npy",
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    p = np.round(pred * 10).astype(dtype)
    t = target.astype(np.float32).astype(dtype)
    assert result.stdout.strip() == str(smoothl1.smooth_l1_loss(p, t))
    assert np.load(tmp_path / "g.npy").dtype == np.dtype(dtype)


# --- loss: user errors ---------------------------------------------------------------------


def test_missing_file(tmp_path, arrays):
    assert_user_error(run_cli("loss", "pred.npy", "nope.npy", cwd=tmp_path),
                      "TARGET 'nope.npy' not found")
    assert_user_error(run_cli("loss", "nope.npy", "target.npy", cwd=tmp_path),
                      "PRED 'nope.npy' not found")
    assert_user_error(run_cli("loss", "pred.npy", "target.npy", "--weight", "w.npy",
                              cwd=tmp_path), "'w.npy' not found")


def test_bad_shape(tmp_path, arrays):
    np.save(tmp_path / "col.npy", np.zeros((5, 1)))
    np.save(tmp_path / "row.npy", np.zeros(5))
    assert_user_error(run_cli("loss", "row.npy", "col.npy", cwd=tmp_path),
                      "target has shape (5, 1)", "(5,)")
    assert_user_error(run_cli("loss", "pred.npy", "row.npy", cwd=tmp_path), "shape")


@pytest.mark.parametrize("dtype", ["int64", "bool", "float16", "complex128"])
def test_bad_dtype(tmp_path, arrays, dtype):
    np.save(tmp_path / "bad.npy", np.zeros((40, 3), dtype=dtype))
    assert_user_error(run_cli("loss", "pred.npy", "bad.npy", cwd=tmp_path),
                      f"target must be a float32 or float64 array, got dtype {dtype}")
    assert_user_error(run_cli("loss", "bad.npy", "target.npy", cwd=tmp_path),
                      f"input must be a float32 or float64 array, got dtype {dtype}")


def test_dtype_option_refuses_complex(tmp_path, arrays):
    np.save(tmp_path / "c.npy", np.zeros((40, 3), dtype=complex))
    assert_user_error(run_cli("loss", "pred.npy", "c.npy", "--dtype", "float64",
                              cwd=tmp_path), "complex128", "real numbers only")


@pytest.mark.parametrize("args, fragment", [
    (["--beta", "-1"], "beta must be >= 0"),
    (["--beta", "nan"], "beta must be a number, got nan"),
    (["--loss", "huber", "--delta", "0"], "delta must be > 0"),
    (["--loss", "huber", "--delta=-inf"], "delta must be > 0"),
    (["--loss", "l3"], "--loss must be one of smooth_l1, huber, pseudo_huber, log_cosh, "
                      "cauchy, got 'l3'"),
    (["--reduction", "avg"], "--reduction must be one of mean, sum, none, got 'avg'"),
    (["--delta", "2"], "--delta is Huber's parameter"),
    (["--loss", "huber", "--beta", "2"], "--beta is smooth L1's parameter"),
    (["--threads", "0"], "--threads must be at least 1, got 0"),
    (["--out", "l.npy"], "--out writes elementwise losses: it needs --reduction none"),
    (["--grad-out", "no/such/dir/g.npy"], "does not exist"),
    (["--grad-out", "g.txt"], "give a name ending in .npy"),
], ids=["beta-negative", "beta-nan", "delta-zero", "delta-minus-inf", "unknown-loss",
        "unknown-reduction", "delta-with-smooth-l1", "beta-with-huber", "threads-zero",
        "out-without-none", "grad-out-missing-folder", "grad-out-not-npy"])
def test_bad_parameters(tmp_path, arrays, args, fragment):
    assert_user_error(run_cli("loss", "pred.npy", "target.npy", *args, cwd=tmp_path), fragment)


def test_non_number_parameter_is_an_argparse_error(tmp_path, arrays):
    assert_user_error(run_cli("loss", "pred.npy", "target.npy", "--beta", "abc", cwd=tmp_path),
                      "smoothl1 loss: error: argument --beta: invalid float value: 'abc'",
                      "--help")


def test_npz_without_key(tmp_path, arrays):
    pred, target, _ = arrays
    np.savez(tmp_path / "data.npz", pred=pred, target=target)
    assert_user_error(run_cli("loss", "data.npz", "target.npy", cwd=tmp_path),
                      "holds 2 arrays (pred, target)", "--key")
    assert_user_error(run_cli("loss", "data.npz:nope", "target.npy", cwd=tmp_path),
                      "has no array 'nope'", "pred, target")


def test_unreadable_and_unsupported_files(tmp_path, arrays):
    (tmp_path / "broken.npy").write_bytes(b"not an npy file")
    assert_user_error(run_cli("loss", "broken.npy", "target.npy", cwd=tmp_path),
                      "PRED 'broken.npy' is not a .npy file")
    (tmp_path / "t.csv").write_text("1,2,x\n")
    assert_user_error(run_cli("loss", "pred.npy", "t.csv", cwd=tmp_path),
                      "cannot read TARGET 't.csv': line 1, column 3: 'x' is not a number")
    (tmp_path / "p.parquet").write_bytes(b"")
    assert_user_error(run_cli("loss", "p.parquet", "target.npy", cwd=tmp_path),
                      "unsupported file type '.parquet'")
    np.save(tmp_path / "obj.npy", np.array([1, "a"], dtype=object), allow_pickle=True)
    assert_user_error(run_cli("loss", "obj.npy", "target.npy", cwd=tmp_path),
                      "PRED 'obj.npy' holds Python objects")


# --- demo ----------------------------------------------------------------------------------


def parse_demo_table(stdout):
    rows = {}
    for line in stdout.splitlines():
        match = re.match(r"^(intercept|coef\[\d+\]|max \|error\||test RMSE)\s+(.*)$", line)
        if match:
            rows[match.group(1)] = [float(v) for v in match.group(2).split()]
    return rows


@pytest.mark.parametrize("optimizer", ["lbfgs", "gd"])
def test_demo_shows_smooth_l1_is_robust(optimizer):
    if optimizer == "lbfgs":
        pytest.importorskip("scipy")
    result = run_cli("demo", "--n", 3000, "--seed", 3, "--optimizer", optimizer)
    assert result.returncode == 0, result.stderr
    rows = parse_demo_table(result.stdout)
    X1, y, true_coef, is_outlier = demo.make_regression_data(3000, 3, 0.1, 3)
    assert is_outlier.sum() == 300
    coef_ls = np.linalg.lstsq(X1, y, rcond=None)[0]
    names = ["intercept", "coef[1]", "coef[2]", "coef[3]"]
    for name, true_value, ls_value in zip(names, true_coef, coef_ls):
        printed_true, printed_ls, printed_sl1 = rows[name]
        assert printed_true == pytest.approx(true_value, abs=5e-4)
        assert printed_ls == pytest.approx(ls_value, abs=5e-4)
    err_ls, err_sl1 = rows["max |error|"]
    assert err_ls == pytest.approx(np.max(np.abs(coef_ls - true_coef)), abs=5e-4)
    assert err_ls > 2.0          # the outliers wreck least squares...
    assert err_sl1 < 0.15        # ...but not smooth L1
    assert rows["test RMSE"][1] < rows["test RMSE"][0] / 10


def test_demo_optimizers_reach_the_smooth_l1_minimum():
    pytest.importorskip("scipy")
    X1, y, _, _ = demo.make_regression_data(2000, 2, 0.1, 5)
    objective = demo.SmoothL1Objective(X1, y, beta=0.5)
    lipschitz = np.linalg.norm(X1, 2) ** 2 / (len(y) * 0.5)
    coef_gd = demo.fit_accelerated_gd(objective, np.zeros(3), lipschitz)
    coef_lbfgs = demo.fit_lbfgs(objective, np.zeros(3))
    np.testing.assert_allclose(coef_gd, coef_lbfgs, atol=1e-6)
    # The minimum: the NumPy gradient of the mean smooth L1 vanishes there.
    _, grad = smooth_l1_reference(X1 @ coef_gd, y, 0.5)
    np.testing.assert_allclose(grad @ X1 / len(y), 0, atol=1e-8)


def test_demo_objective_reuses_its_buffers():
    X1, y, _, _ = demo.make_regression_data(500, 2, 0.1, 0)
    objective = demo.SmoothL1Objective(X1, y, beta=1.0)
    pred, residual_grad = objective.pred, objective.residual_grad
    coef = np.array([0.5, -1.0, 2.0])
    loss, grad = objective(coef)
    assert objective.pred is pred and objective.residual_grad is residual_grad
    expected_loss, expected_grad = smooth_l1_reference(X1 @ coef, y, 1.0)
    assert loss == pytest.approx(expected_loss.mean(), rel=1e-13)
    np.testing.assert_allclose(grad, expected_grad @ X1 / len(y), rtol=1e-12)


@pytest.mark.parametrize("args, fragment", [
    (["--outliers", "0.7"], "--outliers must be a fraction in [0, 0.5)"),
    (["--beta", "0"], "--beta must be a finite number > 0"),
    (["--n", "1"], "--n must be at least 2"),
])
def test_demo_bad_options(args, fragment):
    assert_user_error(run_cli("demo", *args), fragment)


def test_demo_without_scipy_falls_back_to_numpy():
    result = run_cli("demo", "--n", 2000, prelude="import sys; sys.modules['scipy'] = None")
    assert result.returncode == 0, result.stderr
    assert "accelerated GD (NumPy)" in result.stdout
    err_ls, err_sl1 = parse_demo_table(result.stdout)["max |error|"]
    assert err_sl1 < err_ls / 10


# --- plot ----------------------------------------------------------------------------------


def test_plot_draws_a_png(tmp_path):
    image = pytest.importorskip("matplotlib.image")
    result = run_cli("plot", "curves.png", "--dpi", 60, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "wrote curves.png"
    pixels = image.imread(tmp_path / "curves.png")
    assert pixels.shape[0] == round(4.6 * 60) and pixels.shape[1] == 11 * 60
    assert pixels[..., :3].std() > 0.05  # something is drawn


def test_plot_without_matplotlib(tmp_path):
    result = run_cli("plot", "curves.png", cwd=tmp_path,
                     prelude="import sys; sys.modules['matplotlib'] = None")
    assert_user_error(result, "matplotlib", "pip install")
    assert not (tmp_path / "curves.png").exists()


def test_plot_into_missing_folder(tmp_path):
    pytest.importorskip("matplotlib")
    assert_user_error(run_cli("plot", "no/such/dir/c.png", cwd=tmp_path), "does not exist")


# --- bench, --version, help, console script ------------------------------------------------


FAKE_BENCH = """
import sys, types
bench = types.ModuleType("smoothl1.cli.bench")
def main(argv):
    print("bench got", argv)
    return 7
bench.main = main
sys.modules["smoothl1.cli.bench"] = bench
"""


def test_bench_forwards_its_arguments_and_status():
    result = run_cli("bench", "--quick", "-n", "3", "--help", prelude=FAKE_BENCH)
    assert result.returncode == 7, result.stderr
    assert result.stdout.strip() == "bench got ['--quick', '-n', '3', '--help']"


def test_bench_missing_module():
    result = run_cli("bench", prelude="import sys; sys.modules['smoothl1.cli.bench'] = None")
    assert_user_error(result, "smoothl1.cli.bench")


def test_version():
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.startswith(f"smoothl1 {smoothl1.__version__} ")
    assert f"numpy {np.__version__}" in result.stdout
    assert f"(kernels: {smoothl1.simd_build()}, " in result.stdout


def test_version_names_the_forced_baseline_build():
    result = subprocess.run([sys.executable, "-m", "smoothl1", "--version"], capture_output=True,
                            text=True, env=dict(os.environ, SMOOTHL1_BASELINE="1"), timeout=120)
    assert result.returncode == 0, result.stderr
    assert "(kernels: baseline, " in result.stdout


@pytest.mark.parametrize("command", [[], ["loss"], ["demo"], ["plot"], ["bench"]],
                         ids=["top", "loss", "demo", "plot", "bench"])
def test_help_is_plain_text(command):
    # --help is read in a terminal: no reStructuredText (``code``, :func:`x`, directives).
    result = run_cli(*command, "--help")
    assert result.returncode == 0 and result.stderr == ""
    assert "usage: smoothl1" in result.stdout
    assert "``" not in result.stdout
    assert not re.search(r":\w+:`|^\s*\.\. \w+::", result.stdout, flags=re.M), result.stdout


def test_no_command_prints_help():
    result = run_cli()
    assert result.returncode == 0
    for command in ("loss", "demo", "plot", "bench"):
        assert command in result.stdout


def test_unknown_command():
    assert_user_error(run_cli("frobnicate"), "invalid choice: 'frobnicate'")


def test_console_script(tmp_path, arrays):
    script = shutil.which("smoothl1")
    if script is None:
        pytest.skip("the smoothl1 console script is not on PATH")
    pred, target, _ = arrays
    result = subprocess.run([script, "loss", "pred.npy", "target.npy"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(smoothl1.smooth_l1_loss(pred, target))
    missing = subprocess.run([script, "loss", "nope.npy", "target.npy"], cwd=tmp_path,
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2



@pytest.mark.parametrize("optimizer", ["gd", "lbfgs"])
def test_fit_smooth_l1_reaches_the_minimum(optimizer):
    # The one fit behind both `smoothl1 demo` and examples/robust_regression.py.
    if optimizer == "lbfgs":
        pytest.importorskip("scipy")
    X1, y, _, _ = demo.make_regression_data(1500, 2, 0.1, 7)
    coef, n_evaluations = demo.fit_smooth_l1(X1, y, beta=0.5, optimizer=optimizer)
    _, grad = smooth_l1_reference(X1 @ coef, y, 0.5)
    np.testing.assert_allclose(grad @ X1 / len(y), 0, atol=1e-8)
    assert 0 < n_evaluations < 20000
    with pytest.raises(ValueError, match="optimizer must be 'gd' or 'lbfgs', got 'sgd'"):
        demo.fit_smooth_l1(X1, y, beta=0.5, optimizer="sgd")


def test_demo_report_prints_to_the_stream_it_is_given(capsys):
    import io

    printed = io.StringIO()
    demo.report(500, 2, 0.1, 0.5, 1, "gd", out=printed)
    assert capsys.readouterr().out == ""
    rows = parse_demo_table(printed.getvalue())
    X1, y, true_coef, _ = demo.make_regression_data(500, 2, 0.1, 1)
    coef_ls = np.linalg.lstsq(X1, y, rcond=None)[0]
    assert rows["max |error|"][0] == pytest.approx(np.max(np.abs(coef_ls - true_coef)),
                                                   abs=5e-4)


@pytest.mark.parametrize("args, allowed", [
    (["--help"], set()),
    (["loss", "--help"], set()),
    (["loss", "pred.npy", "0"], {"smoothl1.cli._files"}),
], ids=["help", "loss-help", "loss"])
def test_commands_import_only_what_they_need(tmp_path, arrays, args, allowed):
    # --help and loss start fast: the demo, the figure (matplotlib), SciPy and the benchmark
    # are imported only by the commands that use them.
    heavy = {"smoothl1.cli._files", "smoothl1.cli.demo", "smoothl1.cli.figure",
             "smoothl1.cli.bench", "matplotlib", "scipy"}
    code = (f"import contextlib, io, sys\nfrom smoothl1.cli import main\n"
            f"with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    try:\n        main({args!r})\n    except SystemExit:\n        pass\n"
            f"print(sorted(m for m in sys.modules if m in {sorted(heavy)!r}))")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == repr(sorted(allowed))
