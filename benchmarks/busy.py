"""smoothl1 on a busy machine: the default n_threads against n_threads=1 (docs/threads.md).

    python benchmarks/busy.py [--seconds 1.0] [--windows 6] [--load-per-core 2]

First the idle machine: the speed-up of the default n_threads over one thread at 10^6
elements (best of several runs), and 16 Python threads calling at once, each call asking for 4
threads, against each asking for one (throughput ratio: no collapse means about 1.0x). Then
the script starts its own CPU-bound processes (--load-per-core per CPU, each ending by itself
after a bounded time, and killed by PID when the measurement is done) and measures float32 and
float64 smooth_l1_loss at 10^5 and 10^6 elements: windows of --seconds each, alternating
default and one thread, so both see the same load. It prints, per row, the throughput ratio
(calls per second, default / one thread) and the 90th percentile of one call's latency for
each. Goals (docs/contract.md section 15): ratio >= 0.9, p90 of the default within 2x of one
thread's.

The machine's load average before the run is printed: on a machine that is already busy the
"idle" row is not idle. For the large-size rows against the memory floor run
``python -m smoothl1 bench --sizes 30000000``.
"""
import argparse
import os
import subprocess
import sys
import threading
import time

import numpy as np

import smoothl1
from smoothl1._core import dispatch as _dispatch

# A CPU-bound loop that stops by itself, so nothing outlives the benchmark even if it is killed.
BUSY_LOOP = ("import time\nend = time.monotonic() + {limit}\n"
             "while time.monotonic() < end:\n    pass\n")


def inputs(size, dtype):
    rng = np.random.default_rng(0)
    return ((rng.standard_normal(size) * 2).astype(dtype),
            rng.standard_normal(size).astype(dtype))


def idle_speedup(size, repeat=20, rounds=5):
    """Best time of one thread / best time of the default, float32 and float64."""
    speedups = {}
    for dtype in (np.float32, np.float64):
        x, t = inputs(size, dtype)
        best = {}
        for n_threads in (1, None) * rounds:
            start = time.perf_counter()
            for _ in range(repeat):
                smoothl1.smooth_l1_loss(x, t, n_threads=n_threads)
            elapsed = (time.perf_counter() - start) / repeat
            best[n_threads] = min(best.get(n_threads, elapsed), elapsed)
        speedups[np.dtype(dtype).name] = best[1] / best[None]
    return speedups


def window(x, t, n_threads, seconds):
    """Latencies of back-to-back calls for `seconds`."""
    latencies = []
    end = time.perf_counter() + seconds
    while True:
        start = time.perf_counter()
        smoothl1.smooth_l1_loss(x, t, n_threads=n_threads)
        stop = time.perf_counter()
        latencies.append(stop - start)
        if stop >= end:
            return latencies


def busy_rows(sizes, seconds, windows):
    rows = []
    for dtype in (np.float32, np.float64):
        for size in sizes:
            x, t = inputs(size, dtype)
            latencies = {None: [], 1: []}
            for _ in range(windows):
                for n_threads in (None, 1):
                    latencies[n_threads] += window(x, t, n_threads, seconds)
            throughput = {n: len(v) / sum(v) for n, v in latencies.items()}
            p90 = {n: float(np.percentile(v, 90)) for n, v in latencies.items()}
            rows.append((np.dtype(dtype).name, size, throughput[None] / throughput[1],
                         p90[None], p90[1]))
    return rows


def python_threads_ratio(size, python_threads, n_threads, seconds, windows):
    """Calls per second of `python_threads` Python threads calling at once, each call asking for
    `n_threads` threads, over the same with n_threads=1 (alternating windows, float32)."""
    x, t = inputs(size, np.float32)
    calls = {n_threads: 0, 1: 0}
    elapsed = {n_threads: 0.0, 1: 0.0}
    for _ in range(windows):
        for threads in (n_threads, 1):
            counts = [0] * python_threads
            end = time.perf_counter() + seconds

            def work(index):
                while time.perf_counter() < end:
                    smoothl1.smooth_l1_loss(x, t, n_threads=threads)
                    counts[index] += 1

            workers = [threading.Thread(target=work, args=(i,)) for i in range(python_threads)]
            start = time.perf_counter()
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
            elapsed[threads] += time.perf_counter() - start
            calls[threads] += sum(counts)
    return (calls[n_threads] / elapsed[n_threads]) / (calls[1] / elapsed[1])


def start_load(per_core, limit):
    """CPU-bound processes, per_core per CPU; each ends by itself after `limit` seconds."""
    count = per_core * (os.cpu_count() or 1)
    code = BUSY_LOOP.format(limit=limit)
    return [subprocess.Popen([sys.executable, "-c", code]) for _ in range(count)]


def stop_load(processes):
    for process in processes:   # by PID: only the processes this script started
        process.kill()
    for process in processes:
        process.wait()


def load_average():
    try:
        return "load average %.2f %.2f %.2f" % os.getloadavg()
    except (AttributeError, OSError):
        return "load average unknown"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=1.0, help="length of one window")
    parser.add_argument("--windows", type=int, default=6, help="windows per thread setting")
    parser.add_argument("--load-per-core", type=int, default=2,
                        help="CPU-bound processes per CPU (default 2)")
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.windows < 1 or args.load_per_core < 1:
        parser.error("--seconds, --windows and --load-per-core must be positive")
    kernels = _dispatch.kernels
    print(f"smoothl1 {smoothl1.__version__} ({_dispatch.build} kernels), default n_threads "
          f"uses {kernels.max_threads()} threads; {os.cpu_count()} CPUs; {load_average()}")
    speedups = idle_speedup(10**6)
    print("idle machine, 10^6 elements, speed-up of the default over one thread: "
          + ", ".join(f"{name} {value:.2f}x" for name, value in speedups.items()))
    ratio = python_threads_ratio(10**6, 16, 4, args.seconds, args.windows)
    print(f"16 Python threads at once, 10^6 float32 elements, each call n_threads=4: "
          f"{ratio:.2f}x the throughput of each call n_threads=1 "
          f"({kernels.pool_statistics()['helpers']} helper threads in the pool)")
    sizes = (10**5, 10**6)
    # the whole measurement, with margin: the load ends by itself even if this script dies
    limit = 2 * (len(sizes) * 2 * 2 * args.windows * args.seconds) + 30
    processes = start_load(args.load_per_core, limit)
    try:
        time.sleep(0.5)   # let the load start
        print(f"busy machine: {len(processes)} CPU-bound processes "
              f"({args.load_per_core} per CPU), {args.windows} alternating windows of "
              f"{args.seconds:g} s per setting")
        rows = busy_rows(sizes, args.seconds, args.windows)
    finally:
        stop_load(processes)
    header = (f"{'dtype':>7} {'size':>8} {'throughput default/1':>21} {'p90 default':>12} "
              f"{'p90 1 thread':>12} {'p90 ratio':>9}")
    print(header)
    print("-" * len(header))
    for dtype, size, ratio, p90_default, p90_one in rows:
        print(f"{dtype:>7} {size:>8} {ratio:>20.2f}x {p90_default * 1e3:>9.3f} ms "
              f"{p90_one * 1e3:>9.3f} ms {p90_default / p90_one:>8.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
