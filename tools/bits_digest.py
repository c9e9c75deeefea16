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
(SIMD loops and their scalar tails) and as (N, 4) boxes along each axis; every reduction
(also PyTorch's mean and avg_factor), with and without weights, a parameter per element,
grad_hess's three curvatures, n_threads 1 and 2 (the pool).
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


def weights(x):
    """Weights of x's shape: 0, 1, and fractions (the weighted paths; the fused weight sums)."""
    return np.resize(np.array([0.0, 1.0, 0.25, 3.5, 1.0 / 3.0], x.dtype), x.shape)


def boxes(x):
    """x's first multiple of 4 elements as (N, 4) boxes (the axis paths: short groups)."""
    return x[:x.size // 4 * 4].reshape(-1, 4)


def calls(loss):
    """(function name, a call of it on (x, t, parameter, n_threads)) of the loss: every
    reduction and kind, weighted and not, along axes, with a parameter per element, and the
    other weighted mean."""
    functions = {name: getattr(smoothl1, f"{loss.name}_{name}")
                 for name in ("loss", "grad", "loss_and_grad", "grad_hess")}
    for name in ("loss", "grad", "loss_and_grad"):
        f = functions[name]
        for reduction in ("none", "mean", "sum", "element_mean"):
            yield f"{name}/{reduction}", lambda x, t, p, n, f=f, r=reduction: \
                f(x, t, reduction=r, n_threads=n, **{loss.param: p})
            yield f"{name}/{reduction}/weighted", lambda x, t, p, n, f=f, r=reduction: \
                f(x, t, reduction=r, weight=weights(x), n_threads=n, **{loss.param: p})
        yield f"{name}/mean/avg_factor", lambda x, t, p, n, f=f: \
            f(x, t, weight=weights(x), avg_factor=7.0, n_threads=n, **{loss.param: p})
        for reduction in ("mean", "sum"):
            for axis in (-1, 0, ()):
                yield f"{name}/{reduction}/axis={axis}", \
                    lambda x, t, p, n, f=f, r=reduction, a=axis: \
                    f(boxes(x), boxes(t), reduction=r, axis=a, weight=weights(boxes(x)),
                      n_threads=n, **{loss.param: p})
        # (its own parameters: once, at the default)
        yield f"{name}/none/{loss.param} per element", lambda x, t, p, n, f=f: \
            f(x, t, reduction="none", n_threads=n,
              **{loss.param: np.resize(np.array([0.5, 2.0, 1 / 9, np.inf][:3 + loss.inf_allowed],
                                                x.dtype), x.shape)}) \
            if p == loss.default else np.empty(0)
    for curvature in ("exact", "irls", "one"):
        yield f"grad_hess/{curvature}", lambda x, t, p, n, c=curvature: \
            functions["grad_hess"](x, t, curvature=c, n_threads=n, **{loss.param: p})
        yield f"grad_hess/{curvature}/weighted", lambda x, t, p, n, c=curvature: \
            functions["grad_hess"](x, t, curvature=c, weight=weights(x), n_threads=n,
                                   **{loss.param: p})


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
