"""The scripts in examples/ run at their small size and do what they claim.

Skipped when examples/ is not beside tests/ (a wheel's test run copies tests/ only).
"""
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import smoothl1

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
pytestmark = pytest.mark.skipif(not EXAMPLES.is_dir(), reason="examples/ is not here")


def run_example(name, *args, small_env=False):
    env = dict(os.environ)
    env.pop("SMOOTHL1_EXAMPLES_SMALL", None)
    if small_env:
        env["SMOOTHL1_EXAMPLES_SMALL"] = "1"
    result = subprocess.run([sys.executable, str(EXAMPLES / name), *args], env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return result.stdout


def load_example(name):
    spec = importlib.util.spec_from_file_location(name.removesuffix(".py"), EXAMPLES / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- robust_regression.py ------------------------------------------------------------------


def test_robust_regression_beats_least_squares():
    stdout = run_example("robust_regression.py", "--small")
    assert stdout.startswith("2000 points")
    rows = {m.group(1): [float(v) for v in m.group(2).split()[:3]]
            for m in re.finditer(r"^(least squares|smooth L1)\s+(.*)$", stdout, re.M)}
    example = load_example("robust_regression.py")
    X, y, outliers = example.make_data(2000, seed=0)
    truth = np.array([example.TRUE_SLOPE, example.TRUE_INTERCEPT])
    coef_ls = np.linalg.lstsq(X, y, rcond=None)[0]
    np.testing.assert_allclose(rows["least squares"][:2], coef_ls, atol=5e-5)
    ls_error, sl1_error = rows["least squares"][2], rows["smooth L1"][2]
    assert ls_error == pytest.approx(np.max(np.abs(coef_ls - truth)), abs=5e-5)
    assert ls_error > 1.0
    assert sl1_error < 0.15
    assert sl1_error < ls_error / 10


def test_robust_regression_fit_is_the_smooth_l1_minimum():
    example = load_example("robust_regression.py")
    X, y, _ = example.make_data(3000, seed=1)
    coef, steps = example.fit_smooth_l1(X, y, beta=0.5)
    assert steps < 5000  # converged, not stopped
    # NumPy gradient of mean(smooth_l1(X @ coef - y; 0.5)) with respect to coef is ~0.
    d = X @ coef - y
    grad = np.where(np.abs(d) < 0.5, d / 0.5, np.sign(d)) @ X / len(y)
    np.testing.assert_allclose(grad, 0, atol=1e-8)
    # ...and moving away from it in any direction raises the loss.
    loss = smoothl1.smooth_l1_loss(X @ coef, y, beta=0.5)
    for step in ([1e-3, 0], [0, 1e-3], [-1e-3, 0], [0, -1e-3]):
        assert smoothl1.smooth_l1_loss(X @ (coef + step), y, beta=0.5) > loss


def test_robust_regression_small_env_var():
    assert run_example("robust_regression.py", small_env=True).startswith("2000 points")


# --- training_loop.py ----------------------------------------------------------------------


MEMORY_HEADING = "memory allocated by one training step (tracemalloc peak, bytes):"


def parse_training(stdout):
    """(epoch rows, {batch: (hidden layer, this script's step, NumPy step)} in bytes)."""
    training, memory = stdout.split(MEMORY_HEADING)
    epochs = [[float(v) for v in line.split()]
              for line in training.splitlines() if re.match(r"^\s+\d+\s", line)]
    sizes = {}
    for line in memory.strip().splitlines()[1:]:
        batch, hidden, ours, numpy_way = (int(v.replace(",", "")) for v in line.split())
        sizes[batch] = (hidden, ours, numpy_way)
    return epochs, sizes


def test_training_loop_learns():
    stdout = run_example("training_loop.py", small_env=True)
    assert stdout.startswith("2000 training samples")
    epochs, _ = parse_training(stdout)
    assert [int(row[0]) for row in epochs] == list(range(7))
    initial_val_loss, initial_mae = epochs[0][1:]
    final_val_loss, final_mae = epochs[-1][-2:]
    assert final_val_loss < 0.35 * initial_val_loss
    assert final_mae < 0.4 * initial_mae


@pytest.mark.parametrize("batch_size", [64, 200])
def test_training_steps_allocate_nothing_of_the_batch_size(batch_size):
    """The printout proves the claim: at the batch size and at 8 times it, a step allocates the
    same few bytes (small Python objects), far less than one hidden layer, while the same step
    with NumPy temporaries allocates more than a hidden layer and grows with the batch."""
    _, sizes = parse_training(
        run_example("training_loop.py", "--small", "--batch-size", str(batch_size)))
    assert sorted(sizes) == [batch_size, 8 * batch_size]
    hidden, ours, numpy_way = sizes[batch_size]
    hidden_8x, ours_8x, numpy_way_8x = sizes[8 * batch_size]
    assert hidden == batch_size * 64 * 4 and hidden_8x == 8 * hidden
    assert ours_8x <= ours + 256          # does not grow with an 8 times larger batch
    assert ours_8x < 4096 < hidden        # a few Python objects, not a layer
    assert numpy_way > hidden             # the measurement does see NumPy's arrays
    assert numpy_way_8x > 4 * numpy_way   # ...and theirs grow with the batch


def test_numpy_step_is_the_same_step():
    """The NumPy version the printout compares with computes what train_step computes."""
    example = load_example("training_loop.py")
    rng = np.random.default_rng(4)
    X, _, noisy = example.make_data(256, 0.05, rng)
    model = example.MLP(32, rng)
    params = [p.copy() for p in model.params]
    momenta = [np.zeros_like(p) for p in params]
    rows = np.arange(40, 72)
    x_batch = np.empty((32, example.N_FEATURES), np.float32)
    y_batch = np.empty((32, example.N_OUTPUTS), np.float32)
    for _ in range(3):
        loss = example.train_step(model, X, noisy, rows, x_batch, y_batch, 0.1)
        numpy_loss = example.numpy_train_step(params, momenta, X, noisy, rows, 0.1)
        assert float(numpy_loss) == pytest.approx(float(loss), rel=1e-5)
    for ours, theirs in zip(model.params, params):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-6)


def test_training_step_matches_numpy_backprop():
    example = load_example("training_loop.py")
    rng = np.random.default_rng(3)
    X, _, noisy = example.make_data(256, 0.05, rng)
    model = example.MLP(32, rng)
    params_before = [p.copy() for p in model.params]
    x_batch = np.empty((32, example.N_FEATURES), np.float32)
    y_batch = np.empty((32, example.N_OUTPUTS), np.float32)
    rows = np.arange(100, 132)
    loss = example.train_step(model, X, noisy, rows, x_batch, y_batch, 0.1)

    # The same step in plain NumPy, in float64.
    W1, b1, W2, b2 = (p.astype(np.float64) for p in params_before)
    x, y = X[rows].astype(np.float64), noisy[rows].astype(np.float64)
    hidden = np.maximum(x @ W1 + b1, 0)
    pred = hidden @ W2 + b2
    d = pred - y
    beta = example.BETA
    inside = np.abs(d) < beta
    expected_loss = np.where(inside, 0.5 * d ** 2 / beta, np.abs(d) - 0.5 * beta).mean()
    grad_pred = np.where(inside, d / beta, np.sign(d)) / d.size
    grad_hidden = (grad_pred @ W2.T) * (hidden > 0)
    grads = [x.T @ grad_hidden, grad_hidden.sum(0), hidden.T @ grad_pred, grad_pred.sum(0)]
    assert loss.dtype == np.float32
    assert float(loss) == pytest.approx(expected_loss, rel=1e-5)
    np.testing.assert_array_equal(x_batch, X[rows])
    for before, after, grad in zip(params_before, model.params, grads):
        # First step from zero momentum: param -= learning_rate * grad.
        np.testing.assert_allclose(after, before - 0.1 * grad, rtol=1e-4, atol=1e-6)
