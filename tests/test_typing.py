"""The type stubs: a consumer script passes ``mypy --strict`` with the types it should infer,
a wrong use fails, and ``mypy.stubtest`` finds the stubs consistent with the runtime.

Skipped where mypy is not installed (it is in the ``test`` extra).
"""
import importlib
import importlib.util
import pkgutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import smoothl1

pytest.importorskip("mypy")

CONSUMER = '''
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from typing_extensions import assert_type

import smoothl1

pred32 = np.array([0.2, 1.5, -3.0], dtype=np.float32)
target32 = np.zeros(3, dtype=np.float32)
x64: npt.NDArray[np.float64] = np.zeros((4, 2))

# "mean"/"sum" give a NumPy scalar of input's dtype, "none" an array.
assert_type(smoothl1.smooth_l1_loss(pred32, target32), np.float32)
assert_type(smoothl1.smooth_l1_loss(pred32, target32, beta=0.5, reduction="sum"), np.float32)
assert_type(smoothl1.huber_loss(x64, 1.0, delta=2.0, weight=[1.0, 2.0]), np.float64)
assert_type(smoothl1.smooth_l1_loss(pred32, target32, reduction="none"),
            npt.NDArray[np.float32])
assert_type(smoothl1.huber_loss(x64, x64, reduction="none", out=np.empty_like(x64)),
            npt.NDArray[np.float64])

# Reductions along axes: an array (or a scalar when every axis is reduced); array parameters.
assert_type(smoothl1.smooth_l1_loss(x64, x64, reduction="sum", axis=-1),
            np.float64 | npt.NDArray[np.float64])
assert_type(smoothl1.huber_loss(x64, x64, axis=(0, 1), keepdims=True),
            np.float64 | npt.NDArray[np.float64])
assert_type(smoothl1.smooth_l1_loss(x64, x64, beta=np.array([0.5, 1.0])), np.float64)
assert_type(smoothl1.huber_grad(x64, x64, delta=[0.5, 1.0], axis=0), npt.NDArray[np.float64])

# Gradients are arrays of input's dtype.
assert_type(smoothl1.smooth_l1_grad(pred32, target32), npt.NDArray[np.float32])
assert_type(smoothl1.huber_grad(x64, 0, reduction="none", out=x64, n_threads=2),
            npt.NDArray[np.float64])

# loss_and_grad: a (loss, grad) pair.
grad_buffer = np.empty_like(x64)
loss, grad = smoothl1.smooth_l1_loss_and_grad(x64, x64, beta=0.1, grad_out=grad_buffer)
assert_type(loss, np.float64)
assert_type(grad, npt.NDArray[np.float64])
losses, grad32 = smoothl1.huber_loss_and_grad(pred32, target32, reduction="none")
assert_type(losses, npt.NDArray[np.float32])
assert_type(grad32, npt.NDArray[np.float32])

# A reduction known only at run time: the scalar or the array.
def loss_of(reduction: str) -> "np.float64 | npt.NDArray[np.float64]":
    return smoothl1.smooth_l1_loss(x64, x64, reduction=reduction)

# An array of unknown dtype still checks.
def untyped(values: npt.NDArray[Any]) -> float:
    return float(smoothl1.smooth_l1_loss(values, 0.0))

# pseudo-Huber: the same API as Huber.
assert_type(smoothl1.pseudo_huber_loss(x64, x64, delta=0.5), np.float64)
assert_type(smoothl1.pseudo_huber_grad(pred32, target32, reduction="none"),
            npt.NDArray[np.float32])

# grad_hess: two arrays of input's dtype.
g32, h32 = smoothl1.huber_grad_hess(pred32, target32, delta=2.0, curvature="irls")
assert_type(g32, npt.NDArray[np.float32])
assert_type(h32, npt.NDArray[np.float32])
assert_type(smoothl1.smooth_l1_grad_hess(x64, 0.0, beta=0.0, weight=x64,
                                         grad_out=np.empty_like(x64)),
            tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]])
assert_type(smoothl1.pseudo_huber_grad_hess(x64, x64), tuple[npt.NDArray[np.float64],
                                                             npt.NDArray[np.float64]])

# least_squares_loss: a callable giving the (3, m) float64 array.
rho_of = smoothl1.least_squares_loss("huber", delta=2.0)
assert_type(rho_of(np.ones(3)), npt.NDArray[np.float64])
assert_type(smoothl1.least_squares_loss("smooth_l1", beta=0.5), smoothl1.LeastSquaresLoss)

assert_type(smoothl1.get_include(), str)
assert_type(smoothl1.simd_build(), Literal["avx512", "avx2", "baseline"])
assert_type(smoothl1.__version__, str)
print(float(smoothl1.smooth_l1_loss(pred32, target32)) + float(loss))
'''

MISUSE = '''
import numpy as np
import numpy.typing as npt

import smoothl1

x = np.zeros(3)
as_array: npt.NDArray[np.float64] = smoothl1.smooth_l1_loss(x, x)
smoothl1.huber_loss(x, x, beta=1.0)
smoothl1.smooth_l1_grad(x, x, 0.5)
smoothl1.smooth_l1_loss(x, x, reduction="none", out=3)
smoothl1.huber_grad_hess(x, x, curvature="newton")
smoothl1.least_squares_loss("huber", beta=1.0)
'''


@pytest.fixture(scope="module")
def mypy_cache(tmp_path_factory):
    # One cache for the module's mypy runs: NumPy's stubs are analysed once, not per test.
    return tmp_path_factory.mktemp("mypy_cache")


def run_mypy(tmp_path, cache, source, name):
    script = tmp_path / name
    script.write_text(textwrap.dedent(source))
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(cache),
         "--no-color-output", "--hide-error-context", str(script)],
        cwd=tmp_path, capture_output=True, text=True, timeout=600)


def test_consumer_passes_mypy_strict(tmp_path, mypy_cache):
    result = run_mypy(tmp_path, mypy_cache, CONSUMER, "consumer.py")
    assert result.returncode == 0, result.stdout + result.stderr
    # The script runs too: the types describe what the functions really return.
    run = subprocess.run([sys.executable, str(tmp_path / "consumer.py")], capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr


def test_misuse_is_caught(tmp_path, mypy_cache):
    result = run_mypy(tmp_path, mypy_cache, MISUSE, "misuse.py")
    assert result.returncode == 1, result.stdout + result.stderr
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    lines = sorted({int(line.split(":")[1]) for line in errors})
    # A scalar is not an array; Huber has no beta; beta is keyword-only; out must be an array;
    # curvature is one of three; least_squares_loss("huber") takes delta.
    assert lines == [8, 9, 10, 11, 12, 13], result.stdout


def test_stubs_ship_with_the_package():
    folder = Path(smoothl1.__file__).parent
    assert (folder / "py.typed").is_file()
    assert (folder / "__init__.pyi").is_file()


def test_stubtest(tmp_path, mypy_cache):
    allowlists = [Path(__file__).with_name("stubtest-allowlist.txt")]
    # A submodule whose optional dependency is not installed (smoothl1.dask and
    # smoothl1._adapters.dask without dask) cannot be imported, so stubtest cannot compare it:
    # leave it out here. The subpackages (the wings, docs/layout.md) are walked too.
    optional = []
    for module in pkgutil.walk_packages(smoothl1.__path__, "smoothl1."):
        try:
            importlib.import_module(module.name)
        except ImportError as error:
            if error.name and not error.name.startswith("smoothl1"):
                optional.append(module.name.replace(".", "\\.") + "(\\..*)?")
    # Nor a SIMD build of the kernels that this install lacks (off x86-64, or built with
    # SMOOTHL1_NO_SIMD): its stub ships, its module does not.
    for stub in Path(smoothl1.__file__).parent.glob("_smoothl1_*.pyi"):
        if importlib.util.find_spec(f"smoothl1.{stub.stem}") is None:
            optional.append(f"smoothl1\\.{stub.stem}")
    if optional:
        extra = tmp_path / "optional-allowlist.txt"
        extra.write_text("\n".join(optional) + "\n")
        allowlists.append(extra)
    config = tmp_path / "mypy.ini"
    config.write_text(f"[mypy]\ncache_dir = {mypy_cache}\n")
    command = [sys.executable, "-m", "mypy.stubtest", "smoothl1", "--ignore-unused-allowlist",
               "--mypy-config-file", str(config)]
    for allowlist in allowlists:
        command += ["--allowlist", str(allowlist)]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
