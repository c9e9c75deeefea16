"""The timing of ``python -m smoothl1 bench``'s tables (docs/speed.md, "Measure it on your
machine"): ``measure`` times a row's contenders in turns, ``--repeat`` batches each, into a
``Timing`` per contender; ``collapse_warnings`` says which of them collapsed while timed (a busy
machine), so that their ratios are printed as ``?``, never as numbers. Also the small helpers
the tables share: PyTorch on one thread, the spread of a row, the printed seconds and the
import of an optional peer.
"""
import importlib
import statistics
import time
from dataclasses import dataclass

UNSTABLE = 2.0         # a median over this many times the best: slowed down while timed
FLOOR_ALLOWANCE = 2.0  # smoothl1 on one thread may beat the one-thread floor by this much
                       # (by up to 1.35x measured, 1e5 to 1e7 elements, both layouts); by
                       # more, the floor was slowed down while timed


@dataclass(frozen=True)
class Timing:
    """The seconds per call of each timed batch of one contender."""
    samples: tuple

    @property
    def best(self):
        return min(self.samples)

    @property
    def median(self):
        return statistics.median(self.samples)

    @property
    def spread(self):
        """Median over best: 1.0 when every batch took the same time."""
        return self.median / self.best


def _calls_per_batch(function):
    """One warm-up call, then enough calls per batch to last about 20 ms, so small sizes are
    not lost in the timer's resolution."""
    function()
    start = time.perf_counter()
    function()
    once = max(time.perf_counter() - start, 1e-7)
    return max(1, int(0.02 / once))


def _batch_seconds(function, number):
    start = time.perf_counter()
    for _ in range(number):
        function()
    return (time.perf_counter() - start) / number


def measure(functions, repeat):
    """{name: Timing} of `repeat` batches of each function, timed in turns (a batch of each,
    then the next round), so that a burst of load falls on every contender alike."""
    numbers = {name: _calls_per_batch(function) for name, function in functions.items()}
    samples = {name: [] for name in functions}
    for _ in range(repeat):
        for name, function in functions.items():
            samples[name].append(_batch_seconds(function, numbers[name]))
    return {name: Timing(tuple(times)) for name, times in samples.items()}


def best_time(function, repeat):
    """Best wall time of one call of `function` over `repeat` batches (see ``measure``)."""
    return measure({"function": function}, repeat)["function"].best


def collapse_warnings(timings, one_thread):
    """{contender: why its ratio is not shown} for one row's {contender: Timing} (the main
    table's: "smoothl1", "floor" and the peers); `one_thread` {contender: Timing} holds the
    same calls of the threaded contenders on one thread (smoothl1's, where there is a floor).

    Three signs of a contender that collapsed (the machine was busy while it was timed): its
    median is over UNSTABLE times its best; its best on its threads is over UNSTABLE times its
    best on one thread (threads waiting for cores that others hold, which every repeat can show
    alike); or, for the floor, smoothl1 on one thread beating it by more than FLOOR_ALLOWANCE,
    widened by their spreads (one thread cannot read the same bytes much faster than one
    thread)."""
    warnings = {}
    for name, timing in timings.items():
        if timing.spread > UNSTABLE:
            warnings[name] = (f"{_named(name)} was slowed down while timed: its median time is "
                              f"{timing.spread:.1f}x its best (over {UNSTABLE:g}x)")
        elif name in one_thread and timing.best > UNSTABLE * one_thread[name].best:
            warnings[name] = (f"{_named(name)} collapsed on its threads: its best time is "
                              f"{timing.best / one_thread[name].best:.1f}x its best on one "
                              f"thread (over {UNSTABLE:g}x)")
    if "floor" not in timings or "floor" in warnings:
        return warnings
    ours, floor = one_thread["smoothl1"], timings["floor"]
    limit = FLOOR_ALLOWANCE * max(ours.spread, floor.spread)
    if floor.best / ours.best > limit:
        warnings["floor"] = (f"the floor collapsed: smoothl1 on one thread would be "
                             f"{floor.best / ours.best:.1f}x faster than one thread reading "
                             f"the same bytes (possible: up to {limit:.1f}x)")
    return warnings


def _named(contender):
    return "the floor" if contender == "floor" else contender


def _spread(timings):
    """A row's spread: the largest median over best among its contenders, minus 1."""
    return max(timing.spread for timing in timings.values()) - 1


def _format_seconds(seconds):
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    return f"{seconds * 1e3:.2f} ms"


def _optional(name):
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def on_one_torch_thread(torch, function):
    """`function` run with PyTorch on one thread (setting it costs 0.2 us)."""
    def run():
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return function()
        finally:
            torch.set_num_threads(threads)

    return run
