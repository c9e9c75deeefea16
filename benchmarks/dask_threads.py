"""Dask's threaded scheduler against its synchronous one, on smoothl1.dask.

The kernels release the GIL, so Dask's threaded scheduler runs blocks on all cores at once. This
times the same lazy computations with both schedulers (one kernel thread per block) on a float64
array of 4*10**7 elements cut into 16 chunks, and prints the speed-up:

    python benchmarks/dask_threads.py [--size N] [--chunks K] [--repeat R]
"""
import argparse
import os
import time

import dask
import dask.array as da
import numpy as np

import smoothl1
import smoothl1.dask as sd


def best_time(run, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4 * 10**7)
    parser.add_argument("--chunks", type=int, default=16, help="number of chunks")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    input = rng.normal(size=args.size)
    target = rng.normal(size=args.size)
    weight = rng.uniform(size=args.size)
    chunk = -(-args.size // args.chunks)
    input_lazy = da.from_array(input, chunks=chunk)
    target_lazy = da.from_array(target, chunks=chunk)
    weight_lazy = da.from_array(weight, chunks=chunk)
    grad = np.empty_like(input)     # gradients are stored here, block by block, as to a file

    cases = {
        "smooth_l1_loss mean": lambda: sd.smooth_l1_loss(
            input_lazy, target_lazy, n_threads=1).compute(),
        "huber_loss weighted mean": lambda: sd.huber_loss(
            input_lazy, target_lazy, weight=weight_lazy, n_threads=1).compute(),
        "smooth_l1_grad mean -> store": lambda: da.store(
            sd.smooth_l1_grad(input_lazy, target_lazy, n_threads=1), grad, lock=False),
        "loss_and_grad mean -> store": lambda: _loss_and_store_grad(
            input_lazy, target_lazy, grad),
        # A control without smoothl1: if NumPy's own GIL-free ufuncs do not speed up either,
        # the cores are busy with other work and the speed-ups above are not the library's.
        "control: da.exp(input).sum()": lambda: da.exp(input_lazy).sum().compute(),
    }
    cores = os.cpu_count()
    print(f"{args.size:,} float64 elements in {input_lazy.numblocks[0]} chunks of {chunk:,}; "
          f"{cores} cores (load average {os.getloadavg()[0]:.2f}); n_threads=1 per chunk; "
          f"best of {args.repeat}")
    numpy_path = best_time(lambda: smoothl1.smooth_l1_loss(input, target, n_threads=1),
                           args.repeat)
    print(f"(for reference, NumPy path smoothl1.smooth_l1_loss, n_threads=1: {numpy_path:.3f} s)")
    print(f"{'computation':32} {'synchronous':>12} {'threads':>10} {'speed-up':>9}")
    for name, run in cases.items():
        run()   # warm-up: first-call costs (imports, page faults of grad) are not timed
        with dask.config.set(scheduler="synchronous"):
            serial = best_time(run, args.repeat)
        with dask.config.set(scheduler="threads", num_workers=cores):
            threaded = best_time(run, args.repeat)
        print(f"{name:32} {serial:10.3f} s {threaded:8.3f} s {serial / threaded:8.2f}x")


def _loss_and_store_grad(input_lazy, target_lazy, grad):
    # One graph, so each block is computed once for both results.
    loss, grad_lazy = sd.smooth_l1_loss_and_grad(input_lazy, target_lazy, n_threads=1)
    return dask.compute(loss, da.store(grad_lazy, grad, lock=False, compute=False))[0]


if __name__ == "__main__":
    main()
