"""Print a digest of the bits smoothl1 computes, one line per kernel build, loss and function.

Two builds of the kernels made by different compilers (GCC for the Linux wheels, Clang for the
macOS ones) must give the same bits (docs/guarantees.md). The test suite compares the SIMD
builds of one compile with each other; this compares two compiles: run it once against each
(e.g. with PYTHONPATH pointing at each build) and diff the outputs. .ci/run does so for a Clang
build against the GCC build it tests.

    python tools/bits_digest.py > gcc.txt
    PYTHONPATH=/path/to/clang/build/src python tools/bits_digest.py > clang.txt
    diff gcc.txt clang.txt

It digests the build the process runs (the widest this CPU has; SMOOTHL1_BASELINE=1 forces
the baseline): the suite checks that every SIMD build gives the baseline's bits, so the
baseline and the widest build of each compiler are enough.
Each line: build, loss, function, dtype, the SHA-256 of every output's bytes over one set of
inputs: the special values (signed zeros, subnormals, the largest finite, infinities, NaN)
against each other with every parameter, and random values of several scales, as flat arrays
(SIMD loops and their scalar tails), every reduction, n_threads 1 and 2 (the pool), and
grad_hess's three curvatures.
"""
import hashlib

import numpy as np

import smoothl1
from smoothl1._core.dispatch import build
from smoothl1._core.losses import LOSSES

THREADED = 65_537    # above the threading threshold (32,768), and not a multiple of any SIMD width


def special_values(dtype):
    info = np.finfo(dtype)
    values = [0.0, -0.0, info.smallest_subnormal, -info.smallest_subnormal, info.tiny, 0.5,
              -1.0, 1.0 - info.eps, 1.0 + info.eps, 3.0, -7.5, 1e4, info.max, -info.max,
              np.inf, -np.inf, np.nan]
    return np.array(values, dtype=dtype)


def inputs(dtype):
    """(input, target) pairs: every special value against every other, then random ones."""
    special = special_values(dtype)
    x, t = np.meshgrid(special, special)
    rng = np.random.default_rng(0)
    scales = np.repeat(np.array([1e-3, 1.0, 30.0, 1e6]), THREADED // 4 + 1)[:THREADED]
    yield x.ravel(), t.ravel()
    yield ((rng.standard_normal(THREADED) * scales).astype(dtype),
           (rng.standard_normal(THREADED) * scales).astype(dtype))


def parameters(loss):
    values = [loss.default, 1 / 9, 2.0 ** -3, 3.0, 1e-300, np.inf]
    if loss.zero_allowed:
        values.append(0.0)
    return [v for v in values if loss.inf_allowed or np.isfinite(v)]


def calls(loss):
    """(function name, a call of it on (x, t, parameter)) of the loss."""
    functions = {name: getattr(smoothl1, f"{loss.name}_{name}")
                 for name in ("loss", "grad", "loss_and_grad", "grad_hess")}
    for reduction in ("none", "mean", "sum"):
        for name in ("loss", "grad", "loss_and_grad"):
            yield f"{name}/{reduction}", lambda x, t, p, n, f=functions[name], r=reduction: \
                f(x, t, reduction=r, n_threads=n, **{loss.param: p})
    for curvature in ("exact", "irls", "one"):
        yield f"grad_hess/{curvature}", lambda x, t, p, n, c=curvature: \
            functions["grad_hess"](x, t, curvature=c, n_threads=n, **{loss.param: p})


def outputs_bytes(result):
    if isinstance(result, tuple):
        return b"".join(outputs_bytes(part) for part in result)
    return np.asarray(result).tobytes()


def digest_lines():
    for loss in LOSSES:
        for function, call in calls(loss):
            for dtype in (np.float32, np.float64):
                digest = hashlib.sha256()
                for x, t in inputs(dtype):
                    for p in parameters(loss):
                        for n_threads in (1, 2):
                            with np.errstate(all="ignore"):
                                digest.update(outputs_bytes(call(x, t, p, n_threads)))
                yield (f"{build} {loss.name} {function} {np.dtype(dtype).name} "
                       f"{digest.hexdigest()[:32]}")


def main():
    for line in digest_lines():
        print(line)


if __name__ == "__main__":
    main()
