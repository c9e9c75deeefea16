"""Memory overlap between the arguments of a call, for the one validation path
(smoothl1._core.validation; docs/contract.md section 6): an output whose own elements share memory
is refused, and an input that overlaps an output other than as the very same view is copied
first, so the result is the one separate buffers give, as with NumPy ufuncs."""
import numpy as np

_TooHardError = getattr(np, "exceptions", np).TooHardError   # np.TooHardError before NumPy 1.25
#: work bound of the exact overlap test (np.shares_memory); beyond it, overlap is assumed
_OVERLAP_MAX_WORK = 1000


def may_overlap_itself(array):
    """Whether two elements of array may share memory: a zero stride on an axis longer than 1,
    or strides that do not nest (NumPy's own cheap test: taken by size, each stride spans the
    whole extent of the smaller ones). Slicing, transposing and reshaping keep strides nested;
    only as_strided can make the rare non-overlapping layout this test cannot prove."""
    flags = array.flags
    if flags.c_contiguous or flags.f_contiguous or array.size == 0:   # the common case
        return False
    extent = array.itemsize
    for stride, size in sorted((abs(stride), size)
                               for stride, size in zip(array.strides, array.shape) if size > 1):
        if stride < extent:
            return True
        extent += stride * (size - 1)
    return False


def _same_view(a, b):
    return (a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
            and a.strides == b.strides)


def overlap(a, b):
    """Whether a and b share an element: exact where np.shares_memory decides within a small
    work bound (an output interleaved with an input shares none), else assumed."""
    if not np.may_share_memory(a, b):   # memory bounds only: the common, cheap answer
        return False
    try:
        return np.shares_memory(a, b, max_work=_OVERLAP_MAX_WORK)
    except _TooHardError:
        return True


def untangle(source, outputs, shape):
    """source, or a private copy of it if it overlaps an output other than as the same view.

    NumPy ufuncs give the same answer for overlapping arguments as for separate ones; so do we.
    The copy is of the array as given (a broadcast target is copied at its own small size).
    """
    for output in outputs:
        if overlap(output, source):
            view = source if source.shape == shape else np.broadcast_to(source, shape)
            if not _same_view(view, output):
                return source.copy()
    return source
