"""Peak allocation of one call, for the tests that check that no temporary of the input's size
is made: NumPy reports its data buffers to tracemalloc."""
import tracemalloc


def peak_allocation(function):
    """Peak bytes allocated while function() runs, after a warm-up call (which may fill caches
    of NumPy and Python once)."""
    function()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        function()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
