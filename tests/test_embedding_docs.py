"""Every Cython and C sample of docs/embedding.md, built and run as a reader would.

Each sample is copied out of the markdown (a fenced block that names its file after the
language, ```cython boxes.pyx, and the block after it that builds it, ```python setup.py)
into a temporary folder, built in a subprocess against the installed package, run, and
compared with the Python API bit for bit: the Cython module ``boxes`` (including a reversed
array, whose negative stride the sample must divide as a signed number), the C extension
``robust``, and the standalone program ``embed``, which starts an interpreter and calls the
kernels from its own threads.
"""
import array
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest

import smoothl1
from test_embedding import build_in_place, compiler_check, load_extension  # noqa: F401

DOC = Path(__file__).resolve().parent.parent / "docs" / "embedding.md"
# The samples with a test below; a new sample must join them.
SAMPLES = {"boxes.pyx": "setup.py", "robust.c": "setup.py", "embed.c": "build-embed.sh"}


def named_blocks():
    """[(language, file name, text)] of the fenced blocks that name a file after their
    language (docs/README.md's convention: ```cython boxes.pyx), in document order."""
    fences = re.findall(r"^```(\w+) +(\S+)\n(.*?)^```$", DOC.read_text(), re.M | re.S)
    return [(language, name, text) for language, name, text in fences]


def sample(source, folder):
    """Write `source` and the block that builds it (the next block named SAMPLES[source]) into
    `folder`; returns the folder."""
    blocks = named_blocks()
    names = [name for _, name, _ in blocks]
    start = names.index(source)
    builder = names.index(SAMPLES[source], start + 1)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / source).write_text(blocks[start][2])
    (folder / SAMPLES[source]).write_text(blocks[builder][2])
    return folder


def assert_same_bits(actual, expected):
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.dtype == expected.dtype and actual.shape == expected.shape
    assert actual.tobytes() == expected.tobytes(), (actual, expected)


def test_every_cython_and_c_sample_is_tested():
    sources = {name for language, name, _ in named_blocks() if language in ("c", "cython")}
    assert sources == set(SAMPLES)


@pytest.fixture(scope="module")
def built(tmp_path_factory, compiler_check):  # noqa: F811
    """{source: folder} where each extension sample was built in place."""
    folders = {}
    for source in ("boxes.pyx", "robust.c"):
        folder = sample(source, tmp_path_factory.mktemp(source.replace(".", "_")))
        result = build_in_place(folder)
        assert result.returncode == 0, f"building {source} failed:\n{result.stderr}"
        folders[source] = folder
    return folders


def test_boxes_huber_mean_and_grad(built):
    boxes = load_extension(built["boxes.pyx"], "boxes")
    rng = np.random.default_rng(7)
    pred, target = rng.normal(size=5000) * 2, rng.normal(size=5000)
    grad = np.empty_like(pred)
    loss = boxes.huber_mean_and_grad(pred, target, grad, 0.5)
    expected_loss, expected_grad = smoothl1.huber_loss_and_grad(pred, target, delta=0.5)
    assert_same_bits(np.float64(loss), expected_loss)
    assert_same_bits(grad, expected_grad)
    with pytest.raises(ValueError):
        boxes.huber_mean_and_grad(pred, target[:-1], grad, 0.5)


def test_boxes_float32_mean_rounds_once(built):
    boxes = load_extension(built["boxes.pyx"], "boxes")
    rng = np.random.default_rng(8)
    for n in (1, 7, 1000, 3 * 16384 + 5):
        for beta in (1.0, 0.3):
            pred = (rng.normal(size=n) * 3).astype(np.float32)
            target = rng.normal(size=n).astype(np.float32)
            mean = boxes.smooth_l1_mean_f32(pred, target, beta)
            assert_same_bits(mean, smoothl1.smooth_l1_loss(pred, target, beta=beta))


@pytest.mark.parametrize("layout", ["C", "F", "reversed-C", "reversed-F"])
def test_boxes_column_sums_any_layout(built, layout):
    boxes = load_extension(built["boxes.pyx"], "boxes")
    rng = np.random.default_rng(9)
    b = (rng.normal(size=(999, 4)) * 2).astype(np.float32, order=layout[-1])
    t = rng.normal(size=(999, 4)).astype(np.float32, order=layout[-1])
    if layout.startswith("reversed"):
        b, t = b[::-1], t[::-1]        # row stride -16 bytes, i.e. -4 elements
        assert b.strides[0] < 0
    sums = boxes.column_sums(b, t)
    assert sums.dtype == np.float64 and sums.shape == (4,)
    for j in range(4):
        # The kernel walks the column in element order, from element 0: the Python API's
        # order on a contiguous copy.
        column, target = np.ascontiguousarray(b[:, j]), np.ascontiguousarray(t[:, j])
        expected = smoothl1.smooth_l1_loss(column, target, beta=1.0 / 9, reduction="sum")
        assert_same_bits(np.float32(sums[j]), expected)


@pytest.mark.parametrize("layout", ["C", "F", "reversed-C"])
def test_boxes_per_box_huber(built, layout):
    # one delta per box through the _params functions: the Python API's per-row delta
    boxes = load_extension(built["boxes.pyx"], "boxes")
    rng = np.random.default_rng(11)
    b = (rng.normal(size=(999, 4)) * 2).astype(np.float64, order=layout[-1])
    t = rng.normal(size=(999, 4)).astype(np.float64, order=layout[-1])
    delta = rng.choice([0.25, 1.0, 1.5, np.inf], size=999)
    if layout.startswith("reversed"):
        b, t, delta = b[::-1], t[::-1], delta[::-1]
    grad = np.full(b.shape, -7.0, order=layout[-1])
    total = boxes.per_box_huber(b, t, delta, grad)
    expected_loss, expected_grad = smoothl1.huber_loss_and_grad(b, t, delta=delta[:, None],
                                                                reduction="sum")
    assert_same_bits(grad, expected_grad)
    columns = 0.0
    for j in range(4):   # the sample adds the column sums in order
        columns += float(smoothl1.huber_loss(b[:, j], t[:, j], delta=delta, reduction="sum"))
    assert total == columns
    assert total == pytest.approx(float(expected_loss), rel=1e-13)
    with pytest.raises(ValueError, match="delta"):
        boxes.per_box_huber(b, t, np.where(np.arange(999) == 5, 0.0, delta), grad)


def test_boxes_sample_divides_strides_as_signed_numbers():
    # `strides[0] // sizeof(float)` is an unsigned division in C: -16 // 4 would be
    # 4611686018427387900. The sample must divide by a signed size.
    text = dict((name, text) for _, name, text in named_blocks())["boxes.pyx"]
    assert re.search(r"strides\[0\]\s*//\s*sizeof", text) is None
    assert "<Py_ssize_t>sizeof(float)" in text


def test_robust_mean_smooth_l1(built):
    robust = load_extension(built["robust.c"], "robust")
    rng = np.random.default_rng(10)
    pred, target = rng.normal(size=20_000) * 2, rng.normal(size=20_000)
    assert_same_bits(np.float64(robust.mean_smooth_l1(pred, target, 0.5)),
                     smoothl1.smooth_l1_loss(pred, target, beta=0.5))
    assert robust.mean_smooth_l1(array.array("d", [1.0, 3.0]), array.array("d", [0.0, 0.0])) \
        == float(smoothl1.smooth_l1_loss(np.array([1.0, 3.0]), np.zeros(2)))
    with pytest.raises(ValueError, match="float64"):
        robust.mean_smooth_l1(pred.astype(np.float32), target.astype(np.float32))
    # The mean of nothing: NaN with np.nan's bits, as the Python API gives (0.0 / 0 in C would
    # give the CPU's default NaN, negative on x86-64).
    empty = array.array("d")
    assert np.float64(robust.mean_smooth_l1(empty, empty)).tobytes() \
        == smoothl1.smooth_l1_loss(np.array([]), np.array([])).tobytes() \
        == np.float64(np.nan).tobytes()


def embedding_tools():
    """(cc, python3-config of this interpreter) or a reason to skip."""
    if sys.platform == "win32":
        return None, "a POSIX C compiler and python3-config are needed"
    if not sysconfig.get_config_var("Py_ENABLE_SHARED"):
        return None, "this Python has no shared libpython to embed"
    include = Path(sysconfig.get_paths()["include"]) / "Python.h"
    if not include.is_file():
        return None, f"this Python has no headers ({include} is missing)"
    version = sysconfig.get_config_var("LDVERSION") or sysconfig.get_python_version()
    for folder in (Path(sys.executable).parent, Path(sysconfig.get_config_var("BINDIR") or "")):
        config = folder / f"python{version}-config"
        if config.is_file():
            break
    else:
        return None, f"no python{version}-config next to {sys.executable}"
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        return None, "no C compiler (cc)"
    return (cc, config), None


def test_standalone_program_embeds_python_and_calls_kernels_from_threads(tmp_path):
    tools, reason = embedding_tools()
    if tools is None:
        pytest.skip(reason)
    cc, config = tools
    folder = sample("embed.c", tmp_path)
    script = (folder / "build-embed.sh").read_text()
    # The sample's commands, run with this interpreter and its python3-config.
    script = script.replace("python3-config", str(config))
    script = script.replace("python3 -c", f"{sys.executable} -c")
    script = re.sub(r"^cc ", f"{cc} ", script, flags=re.M)
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=folder,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 4, result.stdout
    n = 100_000
    index = np.arange(n)
    input = (index % 97) / 10.0 - 4.0
    target = (index % 89) / 20.0 - 2.0
    for number, line in enumerate(lines):
        delta, total = (float(part.split("=")[1]) for part in line.split())
        assert delta == 0.5 * (number + 1)
        expected = smoothl1.huber_loss(input, target, delta=delta, reduction="sum")
        assert_same_bits(np.float64(total), expected)


def test_a_second_interpreter_cannot_import_the_kernels_again(tmp_path):
    """docs/embedding.md: after Py_FinalizeEx, a second Py_Initialize's smoothl1_import() fails
    (NumPy cannot be loaded twice in a process), returning -1 with an exception set; it does
    not crash, and the first interpreter's results were right."""
    tools, reason = embedding_tools()
    if tools is None:
        pytest.skip(reason)
    cc, config = tools
    program = tmp_path / "twice.c"
    program.write_text(r"""
#define PY_SSIZE_T_CLEAN
#include "smoothl1.h"
#include <stdio.h>
int main(void) {
    double input[2] = {1.0, 3.0}, target[2] = {0.0, 0.0};
    int status;
    Py_Initialize();
    if (smoothl1_import() < 0) { PyErr_Print(); return 1; }
    printf("first=%.17g\n", smoothl1_huber_loss_sum_f64(2, input, target, 1.0));
    if (Py_FinalizeEx() < 0) return 1;
    Py_Initialize();
    status = smoothl1_import();
    printf("second=%d error=%d\n", status, status < 0 && PyErr_Occurred() != NULL);
    fflush(stdout);
    PyErr_Clear();
    return Py_FinalizeEx() < 0;
}
""")

    def config_flags(*options):
        return subprocess.run([str(config), *options], capture_output=True, text=True,
                              check=True).stdout.split()
    libdir = sysconfig.get_config_var("LIBDIR")
    subprocess.run([cc, str(program), "-o", str(tmp_path / "twice"),
                    *config_flags("--cflags", "--embed"), f"-I{smoothl1.get_include()}",
                    *config_flags("--ldflags", "--embed"), f"-Wl,-rpath,{libdir}"],
                   check=True, capture_output=True)
    paths = [str(Path(module.__file__).parent.parent) for module in (smoothl1, np)]
    result = subprocess.run([str(tmp_path / "twice")], capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(paths)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == ["first=3", "second=-1 error=1"], result.stdout
