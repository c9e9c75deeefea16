"""More than 2**31 elements: no index or offset may wrap at 32 bits.

Both inputs need almost no real memory: a broadcast view of a row and a column (zero strides),
and a reversed view of a calloc'ed float32 buffer of 8 GiB of which only a few pages are ever
written (the rest reads as the kernel's shared zero page). Each test makes one call of about a
second; sums are checked against closed forms that are exact in double precision.
"""
import numpy as np
import pytest

import smoothl1

ROWS, COLUMNS = 2**16, 2**15 + 3   # 2,147,680,256 elements > 2**31


def mem_available():
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


needs_memory = pytest.mark.skipif(mem_available() < 2 * 2**30,
                                  reason="needs 2 GiB of available memory (/proc/meminfo)")


def smooth_l1(d, beta=1.0):
    z = abs(d)
    return 0.5 * z * z / beta if z < beta else z - 0.5 * beta


def huber(d, delta):
    z = abs(d)
    return 0.5 * z * z if z < delta else delta * (z - 0.5 * delta)


@needs_memory
@pytest.mark.parametrize("case", ["smooth_l1-float64-sum", "huber-float32-mean"])
def test_broadcast_view_beyond_2_to_31_elements(case):
    loss, dtype, reduction = case.split("-")
    dtype = np.dtype(dtype)
    # input[i, j] = ROW[j % 4], target[i, j] = 100 when i % 3 == 0, else 0 (losses are
    # multiples of 1/8, so every partial sum is exact and the order of summation is moot)
    row_values = np.array([0.0, 0.5, 2.0, -3.0])
    row = row_values[np.arange(COLUMNS) % 4].astype(dtype)
    column = np.where(np.arange(ROWS) % 3 == 0, 100.0, 0.0)[:, None].astype(dtype)
    input = np.broadcast_to(row, (ROWS, COLUMNS))
    target = np.broadcast_to(column, (ROWS, COLUMNS))
    assert input.size > 2**31
    per_value = np.bincount(np.arange(COLUMNS) % 4)          # how often each row value occurs
    rows_at_100 = len(range(0, ROWS, 3))
    point = (lambda d: smooth_l1(d)) if loss == "smooth_l1" else (lambda d: huber(d, 2.0))
    total = sum(int(count) * (rows_at_100 * point(v - 100.0) + (ROWS - rows_at_100) * point(v))
                for v, count in zip(row_values, per_value))
    if loss == "smooth_l1":
        got = smoothl1.smooth_l1_loss(input, target, reduction=reduction)
    else:
        got = smoothl1.huber_loss(input, target, delta=2.0, reduction=reduction)
    expected = total if reduction == "sum" else total / input.size
    assert type(got) is dtype.type
    assert got == dtype.type(expected), (got, expected)


@needs_memory
def test_reversed_strided_view_beyond_2_to_31_elements():
    """A real (not broadcast) float32 array of 2**31 + 1024 elements, read backwards (negative
    stride, byte offsets up to 8 GiB): the few non-zero elements are found where they are."""
    n = 2**31 + 1024
    try:
        buffer = np.zeros(n, dtype=np.float32)   # calloc: untouched pages cost no memory
    except MemoryError:
        pytest.skip("cannot reserve 8 GiB of address space")
    values = {5: 0.5, 2**31 - 1: -2.0, 2**31 + 7: 3.0, n - 1: -0.25}
    for index, value in values.items():
        buffer[index] = value
    reversed_view = buffer[::-1]
    assert reversed_view.strides == (-4,)
    got = smoothl1.smooth_l1_loss(reversed_view, 0.0, reduction="sum")
    assert got == np.float32(sum(smooth_l1(v) for v in values.values()))  # 0.125+1.5+2.5+0.03125
