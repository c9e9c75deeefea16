"""How many threads a call with ``n_threads=None`` uses, and threadpoolctl's view of it.

The kernels run on their own thread pool (src/smoothl1_pool.h; docs/threads.md). Its limit,
the thread count of ``n_threads=None`` on a large input, starts from the environment when a
kernel module is loaded (``configure``), in this order of precedence:

1. ``SMOOTHL1_NUM_THREADS``, a positive integer: smoothl1's own setting;
2. ``OMP_NUM_THREADS`` (its first entry, as OpenMP reads "4,2"): honoured because it is what
   users of the OpenMP builds of smoothl1 (and of most numerical libraries) set;
3. the number of CPUs this process may run on (``os.sched_getaffinity`` where the OS has it,
   e.g. under ``taskset`` or a container's CPU set; else ``os.cpu_count()``).

Values are clamped to [1, MAX_THREADS]; a value that is not a positive integer is ignored with
a RuntimeWarning (for ``SMOOTHL1_NUM_THREADS``) or silently (for ``OMP_NUM_THREADS``, which
belongs to other libraries too). ``threadpoolctl`` sees the kernel build in use as a library
with ``user_api`` and ``internal_api`` "smoothl1": ``threadpool_limits`` changes the same limit.
"""
import importlib
import os
import warnings

#: Environment variables read for the default thread count, strongest first.
ENVIRONMENT_VARIABLES = ("SMOOTHL1_NUM_THREADS", "OMP_NUM_THREADS")


def _positive_int(text):
    try:
        value = int(text.strip())
    except ValueError:
        return None
    return value if value >= 1 else None


def usable_cpus():
    """CPUs this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except OSError:
            pass
    return os.cpu_count() or 1


def default_thread_count(environ=None):
    """The thread limit the environment asks for (module docstring), before clamping."""
    environ = os.environ if environ is None else environ
    own = environ.get("SMOOTHL1_NUM_THREADS", "").strip()
    if own:
        value = _positive_int(own)
        if value is not None:
            return value
        warnings.warn(f"SMOOTHL1_NUM_THREADS={own!r} is not a positive integer; ignored",
                      RuntimeWarning, stacklevel=2)
    openmp = environ.get("OMP_NUM_THREADS", "").split(",")[0]
    if openmp.strip():
        value = _positive_int(openmp)
        if value is not None:
            return value
    return usable_cpus()


def set_limit(module, count):
    """module.set_max_threads(count) for any whole count: the kernels clamp to
    [1, MAX_THREADS] (docs/threads.md), and a count beyond a C int (2**31 from the environment
    or threadpoolctl) is clamped here first, where it would otherwise raise OverflowError."""
    module.set_max_threads(max(1, min(int(count), module.MAX_THREADS)))


_configured: set[str] = set()


def configure(module):
    """Give a kernel module its thread limit from the environment, once: a later call (a
    second lookup of the module) keeps a limit set since, e.g. by threadpoolctl."""
    if module.__name__ not in _configured:
        _configured.add(module.__name__)
        set_limit(module, default_thread_count())
    return module


def register_with_threadpoolctl(kernels):
    """Let threadpoolctl (>= 3.5, which lets a library register its controller) list and limit
    `kernels`, the kernel build the Python API runs. Without threadpoolctl this does nothing."""
    try:
        threadpoolctl = importlib.import_module("threadpoolctl")   # optional, and untyped
    except ImportError:
        return
    if not hasattr(threadpoolctl, "register"):
        return

    class SmoothL1Controller(threadpoolctl.LibController):
        user_api = "smoothl1"
        internal_api = "smoothl1"
        # The compiled modules _smoothl1.<tag>.so, _smoothl1_avx2... and _smoothl1_avx512...
        # share this prefix; only the build in use is listed (its module init function is the
        # symbol that tells them apart): the others run nothing threaded.
        filename_prefixes = ("_smoothl1",)
        check_symbols = ("PyInit_" + kernels.__name__.rpartition(".")[2],)

        def get_num_threads(self):
            return kernels.max_threads()

        def set_num_threads(self, num_threads):
            set_limit(kernels, num_threads)

        def get_version(self):
            from .. import __version__
            return __version__

    threadpoolctl.register(SmoothL1Controller)
