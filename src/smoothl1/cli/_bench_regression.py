"""``python -m smoothl1 bench --against DIR``: this build of smoothl1 against another one (an
earlier commit built in place, or an installed release), to catch a regression of the
library's own speed, which the other tables cannot: they compare with NumPy, PyTorch and the
memory floor in one run, never with smoothl1's own past.

DIR is a folder holding a ``smoothl1`` package with its compiled kernels: a checkout's ``src``
after ``python setup.py build_ext --inplace``, or a venv's ``site-packages``. docs/speed.md
shows how to build an earlier commit for it.

The two builds run in alternating processes (this one first in odd pairs, the other first in
even ones, so that neither always meets the warmer or the cooler machine), ``--pairs`` pairs
of them. Each process times every row, best of ``--repeat`` calls after a warm-up, on the
same data (a fixed seed). A row's verdict compares the ranges of the pairs' times: "faster"
or "slower" when they do not overlap, "within spread" when they do. The change is the ratio
of the medians. A row whose loss the other build lacks is "n/a".

The rows: the mean of ``smooth_l1_loss`` on flat arrays of the largest ``--sizes`` (3e7 by
default), float32 and float64, on the default threads and on one thread (the rows of issue
27, where 6-16% went unnoticed); then, at ``--losses`` elements (1e6) on one thread, every
loss of the table: its mean in float64 and float32, and ``reduction="none"`` into ``out=``
in float64 (each path has its own loops: a loop that stops vectorising shows in one of them).
"""
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from .._core.losses import LOSSES

# What one process runs: argv[1] the rows (JSON), argv[2] the repeats. Prints one JSON line:
# the file smoothl1 came from and each row's best time in seconds (None: no such loss).
_PROBE = r"""
import json, sys, time
import numpy as np
import smoothl1
rows, repeat = json.loads(sys.argv[1]), int(sys.argv[2])
data = {}
times = {}
for row in rows:
    function = getattr(smoothl1, row["loss"] + "_loss", None)
    if function is None:
        times[row["label"]] = None
        continue
    key = (row["size"], row["dtype"])
    if key not in data:
        rng = np.random.default_rng(1)
        data[key] = ((rng.standard_normal(row["size"]) * 2).astype(row["dtype"]),
                     rng.standard_normal(row["size"]).astype(row["dtype"]))
    x, t = data[key]
    keywords = {row["param"]: 0.7, "reduction": row["reduction"], "n_threads": row["n_threads"]}
    if row["reduction"] == "none":
        keywords["out"] = np.empty_like(x)
    function(x, t, **keywords)
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        function(x, t, **keywords)
        best = min(best, time.perf_counter() - start)
    times[row["label"]] = best
print(json.dumps({"file": smoothl1.__file__, "times": times}))
"""


def rows(flat_size, loss_size):
    """The rows measured: dicts of label, loss, param, dtype, size, reduction, n_threads."""
    table = []
    smooth_l1 = next(loss for loss in LOSSES if loss.name == "smooth_l1")
    for dtype in ("float32", "float64"):
        for n_threads in (None, 1):
            threads = "default threads" if n_threads is None else "1 thread"
            table.append({"label": f"smooth_l1 mean {dtype} {flat_size:.0e} {threads}",
                          "loss": smooth_l1.name, "param": smooth_l1.param, "dtype": dtype,
                          "size": flat_size, "reduction": "mean", "n_threads": n_threads})
    for loss in LOSSES:
        for reduction, dtype in (("mean", "float64"), ("mean", "float32"),
                                 ("none", "float64")):
            table.append({"label": f"{loss.name} {reduction} {dtype} {loss_size:.0e} 1 thread",
                          "loss": loss.name, "param": loss.param, "dtype": dtype,
                          "size": loss_size, "reduction": reduction, "n_threads": 1})
    return table


def _measure(folder, table, repeat):
    """{label: seconds or None} from one process importing smoothl1 from `folder`."""
    environment = dict(os.environ)
    environment["PYTHONPATH"] = os.pathsep.join(
        [str(folder)] + [p for p in environment.get("PYTHONPATH", "").split(os.pathsep) if p])
    result = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(table), str(repeat)],
                            capture_output=True, text=True, env=environment)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise RuntimeError(f"the smoothl1 of {folder} failed: {last}")
    report = json.loads(result.stdout.strip().splitlines()[-1])
    origin = Path(report["file"]).resolve()
    if Path(folder).resolve() not in origin.parents:
        raise RuntimeError(f"{folder} holds no smoothl1 package: Python imported {origin}")
    return report["times"]


def verdict(this, other):
    """'faster', 'slower' or 'within spread' for two lists of times (this build's first)."""
    if max(this) < min(other):
        return "faster"
    if min(this) > max(other):
        return "slower"
    return "within spread"


def run(against, flat_size, loss_size, pairs, repeat, out=sys.stdout):
    """Times both builds in alternating processes and prints the table; returns its rows as
    dicts (label, this, other (lists of seconds, or None), change, verdict)."""
    against = Path(against)
    if not (against / "smoothl1").is_dir():
        raise RuntimeError(f"--against: {against} has no smoothl1 folder (give a checkout's "
                           f"src/ built in place, or a site-packages)")
    this_folder = Path(__file__).resolve().parent.parent.parent
    table = rows(flat_size, loss_size)
    times = {"this": [], "other": []}
    for pair in range(pairs):
        order = ("this", "other") if pair % 2 == 0 else ("other", "this")
        for which in order:
            folder = this_folder if which == "this" else against
            times[which].append(_measure(folder, table, repeat))
    print(f"\nthis build ({this_folder}) against {against}: {pairs} pair(s) of alternating "
          f"processes, best of {repeat} calls each", file=out)
    header = (f"{'row':<44} {'this build':>17} {'other build':>17} {'change':>7}  verdict")
    print(header, file=out)
    print("-" * len(header), file=out)
    results = []
    for row in table:
        label = row["label"]
        this = [run_times[label] for run_times in times["this"]]
        other = [run_times[label] for run_times in times["other"]]
        if None in this or None in other:
            change, judged = None, "n/a"
            print(f"{label:<44} {'-':>17} {'-':>17} {'':>7}  n/a (a build lacks this loss)",
                  file=out)
        else:
            change = statistics.median(this) / statistics.median(other) - 1.0
            judged = verdict(this, other)
            this_text = f"{min(this) * 1e3:.2f}-{max(this) * 1e3:.2f} ms"
            other_text = f"{min(other) * 1e3:.2f}-{max(other) * 1e3:.2f} ms"
            print(f"{label:<44} {this_text:>17} {other_text:>17} {change:>+7.1%}  {judged}",
                  file=out)
        results.append({"label": label, "this": None if None in this else this,
                        "other": None if None in other else other, "change": change,
                        "verdict": judged})
    return results
