"""Test set-up: the test oracle (``reference.py``) importable whatever pytest's rootdir/import
mode, and reproducible property-based tests.

Hypothesis draws its examples from a fixed seed (``derandomize``), so the suite, in CI as
everywhere, runs the same examples every time and a failure can be replayed. A deep fuzzing run
(``SMOOTHL1_FUZZ_EXAMPLES=N``, docs/guarantees.md) explores instead: its seed is random unless
``SMOOTHL1_FUZZ_SEED`` gives one, and the header of the run prints it, to replay a failure.
"""
import os
import random
import sys

import pytest
from hypothesis import settings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

DEEP_FUZZING = bool(os.environ.get("SMOOTHL1_FUZZ_EXAMPLES"))

if not DEEP_FUZZING:
    settings.register_profile("reproducible", derandomize=True, database=None)
    settings.load_profile("reproducible")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    # Before Hypothesis's own plugin reads --hypothesis-seed, so a deep run's seed applies to
    # every test, as if given on the command line.
    if DEEP_FUZZING and config.getoption("hypothesis_seed", None) is None:
        config.option.hypothesis_seed = int(os.environ.get("SMOOTHL1_FUZZ_SEED")
                                            or random.SystemRandom().randrange(2**32))


def pytest_report_header(config):
    if DEEP_FUZZING:
        seed = config.getoption("hypothesis_seed")
        return [f"deep fuzzing: Hypothesis seed {seed} (replay: SMOOTHL1_FUZZ_SEED={seed})"]
    return ["Hypothesis: derandomized (fixed seed)"]
