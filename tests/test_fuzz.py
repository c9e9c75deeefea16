"""Fuzzing of the loss functions of every loss (reference.LOSSES): bad input must give the
documented error and change nothing; good input must give the reference result and change
nothing it should not.

Each example is one call of one of those functions, built from random choices of: dtype (also
bad ones and non-arrays), shape (0-d to 4-d, empty, sizes around the chunk and work-item
boundaries, up to 64 dimensions), memory layout (C, Fortran, permuted, step-sliced with negative
steps, offset into a bigger buffer, read-only, misaligned, zero strides from np.broadcast_to and
read-only np.lib.stride_tricks.as_strided views), broadcast or Python-number/list targets and
weights, special values (NaN, +-inf, +-0, huge, tiny, subnormal, values at the kink), parameter
values (0, tiny, huge, inf, NaN, negative, wrong types), reductions, n_threads, and out/grad_out
buffers: fresh in any layout, the very input/target/weight array, an overlapping view of it
(reversed or shifted), or a bad one (dtype, shape, read-only, misaligned, wrong type).

Arguments are drawn valid or bad, and every bad one carries the error it must cause, decided
when it is drawn from contract §3, 4, 6 and 7 (not from the library's code). A call with bad
arguments must raise one of those errors (TypeError/ValueError, the message naming that
argument) and leave every input and output buffer bit-for-bit unchanged; a call with good
arguments must return the reference result (tests/reference.py) in the given output buffers
and leave every input it was not told to overwrite unchanged. A crash kills the run.

Default: a few hundred examples per test (seconds). SMOOTHL1_FUZZ_EXAMPLES=N runs N examples
per test, e.g. SMOOTHL1_FUZZ_EXAMPLES=20000 (docs/guarantees.md).
"""
import decimal
import fractions
import math
import os
import warnings
from dataclasses import dataclass, field

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st
from numpy.lib.stride_tricks import as_strided

from reference import ATOL, LOSSES, RTOL, assert_close, call, exact_sum, reference

EXAMPLES = int(os.environ.get("SMOOTHL1_FUZZ_EXAMPLES", "0") or 0)


def fuzz_settings(default):
    return settings(max_examples=EXAMPLES or default, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))


FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
MAX_DIMS = 64 if int(np.__version__.split(".")[0]) >= 2 else 32
SWAPPED = {dtype: dtype.newbyteorder() for dtype in FLOATS}
BAD_DTYPES = ["int8", "int32", "int64", "uint16", "bool", "float16", "complex64", "complex128",
              "object", "U3", "longdouble", "datetime64[s]"]
SENTINEL = -7.25  # what fresh output buffers hold before a call


@dataclass
class Bad:
    """A bad argument: the exception it must raise and the name the message must contain."""
    error: type
    name: str


@dataclass
class Case:
    loss: str
    kind: str
    input: object
    target: object
    param: object
    reduction: object
    weight: object = None
    n_threads: object = None
    out: object = None
    grad_out: object = None
    bad: list = field(default_factory=list)
    buffers: list = field(default_factory=list)  # every ndarray's memory owner, to snapshot
    signed_weight: bool = False

    @property
    def function(self):
        return f"{self.loss}_{self.kind}"

    def kwargs(self):
        kwargs = {"reduction": self.reduction}
        for name in ("weight", "n_threads", "out", "grad_out"):
            value = getattr(self, name)
            if value is not None:
                kwargs[name] = value
        return kwargs

    def describe(self):
        def show(value):
            if isinstance(value, np.ndarray):
                return (f"{type(value).__name__}(shape={value.shape}, dtype={value.dtype}, "
                        f"strides={value.strides}, aligned={value.flags.aligned}, "
                        f"writeable={value.flags.writeable}, data={value.ravel()[:8]!r})")
            return repr(value)[:200]
        lines = [f"{self.function}(param={self.param!r}, reduction={self.reduction!r}, "
                 f"n_threads={self.n_threads!r})"]
        for name in ("input", "target", "weight", "out", "grad_out"):
            lines.append(f"  {name} = {show(getattr(self, name))}")
        lines.append(f"  bad = {self.bad}")
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------------------------

def _scale(param):
    try:
        value = float(param)
    except (TypeError, ValueError, OverflowError):
        return 1.0
    return value if 0 < value < 1e30 else 1.0


def _values_of(kind, rng, m, param):
    p = _scale(param)
    pick = lambda choices: rng.choice(np.array(choices, dtype=np.float64), size=m)  # noqa: E731
    if kind == "normal":
        return rng.normal(scale=rng.choice([0.1, 1.0, 10.0]), size=m) * p
    if kind == "kink":  # |d| at and next to the parameter, when the target is 0
        near = [p, np.nextafter(p, 0), np.nextafter(p, np.inf),
                float(np.float32(p)), float(np.nextafter(np.float32(p), np.float32(0)))]
        return pick(near + [-v for v in near])
    if kind == "special":
        return pick([math.nan, math.inf, -math.inf, 0.0, -0.0])
    if kind == "huge":
        return pick([1e300, -1e300, 1.7976931348623157e308, -1.7976931348623157e308, 1e38,
                     -3.4028234663852886e38, 3.5e38, -1e200])
    if kind == "tiny":
        return pick([5e-324, -5e-324, 2.2250738585072014e-308, 1e-300, -1e-300, 1.4e-45,
                     -1.1754943508222875e-38, 1e-40])
    if kind == "int":
        return rng.integers(-3, 4, size=m).astype(np.float64)
    if kind == "zero":
        return np.zeros(m)
    # weights
    if kind == "w_uniform":
        return rng.uniform(0, 3, size=m)
    if kind == "w_int":
        return rng.integers(0, 4, size=m).astype(np.float64)
    if kind == "w_special":
        return pick([math.nan, math.inf, 0.0, 1.0])
    if kind == "w_negative":
        return rng.uniform(-3, 0, size=m)
    raise AssertionError(kind)


VALUE_KINDS = ["normal", "normal", "kink", "special", "huge", "tiny", "int", "zero"]
WEIGHT_KINDS = ["w_uniform", "w_uniform", "w_int", "w_special", "zero"]


@st.composite
def fillers(draw, param, weight=False, signed=False):
    """A function n -> n float64 values mixing a few kinds of values."""
    kinds = WEIGHT_KINDS + (["w_negative", "w_negative"] if signed else []) if weight \
        else VALUE_KINDS
    palette = draw(st.lists(st.sampled_from(kinds), min_size=1, max_size=3))
    seed = draw(st.integers(0, 2**32 - 1))

    def fill(n):
        rng = np.random.default_rng(seed)
        which = rng.integers(0, len(palette), size=n)
        values = np.empty(n)
        for index, kind in enumerate(palette):
            mask = which == index
            values[mask] = _values_of(kind, rng, int(mask.sum()), param)
        return values
    return fill


def _cast(values, dtype):
    with np.errstate(all="ignore"):
        return np.asarray(values).astype(dtype)


# ---------------------------------------------------------------------------------------------
# Shapes and layouts
# ---------------------------------------------------------------------------------------------

@st.composite
def shapes(draw):
    style = draw(st.sampled_from(["small"] * 8 + ["boundary", "threads", "many-dims"]))
    if style == "small":
        ndim = draw(st.integers(0, 4))
        return tuple(draw(st.lists(st.integers(0, 6), min_size=ndim, max_size=ndim)))
    if style == "boundary":  # around CHUNK (512) and ITEM_SIZE (16384)
        n = draw(st.sampled_from([511, 512, 513, 1023, 1025, 16383, 16384, 16385]))
        return draw(st.sampled_from([(n,), (1, n), (n, 1)]))
    if style == "threads":  # several work items: n_threads > 1 really runs threads
        n = draw(st.integers(2 * 16384 + 1, 70000))
        return draw(st.sampled_from([(n,), (n // 7, 7), (3, n // 3)]))
    # more dimensions than NumPy 1 allows (its limit, 32, where it runs)
    ndim = draw(st.integers(33, 64) if MAX_DIMS > 32 else st.integers(20, 32))
    sides = [1] * ndim
    for axis in draw(st.lists(st.integers(0, ndim - 1), max_size=10, unique=True)):
        sides[axis] = 2
    return tuple(sides)


# Every array a test generates stays below this many elements (32 MiB of float64): the shapes
# themselves are small, but a layout multiplies them (steps of 3 on ten axes of a 64-dimensional
# shape would be 6**10 elements), and so would a careless wrong shape (every side + 1).
MAX_GENERATED = 1 << 22


def _size(shape):
    size = int(np.prod(shape, dtype=np.int64))
    assert size <= MAX_GENERATED, f"generated shape {tuple(shape)} is too large"
    return size


def _steps_within_bound(shape, steps):
    """steps, or their signs alone when the buffer they need would pass MAX_GENERATED."""
    if int(np.prod([side * abs(step) for side, step in zip(shape, steps)])) > MAX_GENERATED:
        return [1 if step > 0 else -1 for step in steps]
    return steps


@st.composite
def smaller_shapes(draw, shape):
    """A shape that broadcasts to `shape` without changing it."""
    dropped = draw(st.integers(0, len(shape)))
    return tuple(draw(st.sampled_from([side, 1])) for side in shape[dropped:])


@st.composite
def non_broadcasting_shapes(draw, shape):
    """A shape that does not broadcast to `shape` without changing it (NumPy's rule)."""
    if shape and draw(st.booleans()):
        axis = draw(st.integers(0, len(shape) - 1))
        wrong = list(shape)
        wrong[axis] = draw(st.sampled_from([s for s in (0, 2, 3, 7) if s != shape[axis]]))
        return tuple(wrong)
    # one more dimension: (N, 1) against (N,), or any extra leading axis
    extra = draw(st.sampled_from(["trailing-1", "leading"]))
    if extra == "trailing-1" and shape and shape[-1] != 1:
        return tuple(shape) + (1,)
    return (draw(st.sampled_from([1, 2])),) + tuple(shape)


def broadcasts_to(small, shape):
    return len(small) <= len(shape) and all(
        a in (1, b) for a, b in zip(small, shape[len(shape) - len(small):]))


@st.composite
def arrays(draw, shape, dtype, fill, styles):
    """(array, memory owner, style): an array of `shape` holding fill()'s values in a layout."""
    style = draw(st.sampled_from(styles))
    n = _size(shape)
    ndim = len(shape)
    if style == "c" or (style == "strided" and ndim == 0):
        owner = _cast(fill(n), dtype).reshape(shape)
        return owner, owner, "c"
    if style == "f":
        owner = np.array(_cast(fill(n), dtype).reshape(shape), order="F")  # (keeps 0-d)
        return owner, owner, style
    if style == "readonly":
        owner = _cast(fill(n), dtype).reshape(shape)
        owner.flags.writeable = False
        return owner, owner, style
    if style == "strided":
        order = draw(st.permutations(range(ndim)))
        steps = [draw(st.sampled_from([1, 1, 2, 3, -1, -2])) if side > 1
                 else draw(st.sampled_from([1, -1])) for side in shape]
        steps = _steps_within_bound(shape, steps)
        base_shape = [shape[axis] * abs(steps[axis]) for axis in order]
        owner = _cast(fill(_size(base_shape)), dtype).reshape(base_shape)
        view = owner.transpose(np.argsort(order))[tuple(slice(None, None, s) for s in steps)]
        assert view.shape == tuple(shape)
        return view, owner, style
    if style == "offset":  # a window of a bigger 1-D buffer, possibly reversed
        shift = draw(st.integers(1, 3))
        owner = _cast(fill(n + 2 * shift), dtype)
        window = owner[shift:shift + n]
        if draw(st.booleans()):
            window = window[::-1]
        return window.reshape(shape), owner, style
    if style == "broadcast":  # a read-only zero-stride view of a smaller array
        small = draw(smaller_shapes(shape))
        small = tuple(1 if s == 0 and n else s for s in small)
        if not broadcasts_to(small, shape):
            small = ()
        owner = _cast(fill(_size(small)), dtype).reshape(small)
        return np.broadcast_to(owner, shape), owner, style
    if style == "zero-stride":  # as_strided, read-only, zero stride on one axis, maybe negative
        if ndim == 0 or n == 0:
            owner = _cast(fill(n), dtype).reshape(shape)
            return owner, owner, "c"
        axis = draw(st.integers(0, ndim - 1))
        reduced = list(shape)
        reduced[axis] = 1
        steps = [draw(st.sampled_from([1, -1, 2])) if side > 1
                 else draw(st.sampled_from([1, -1])) for side in reduced]
        steps = _steps_within_bound(reduced, steps)
        owner = _cast(fill(_size([r * abs(s) for r, s in zip(reduced, steps)])), dtype)
        owner = owner.reshape([r * abs(s) for r, s in zip(reduced, steps)])
        base = owner[tuple(slice(None, None, s) for s in steps)]
        strides = list(base.strides)
        strides[axis] = 0
        return as_strided(base, shape=shape, strides=strides, writeable=False), owner, style
    if style == "unaligned":  # from a byte buffer at an odd offset
        raw = np.zeros(n * dtype.itemsize + 1, dtype=np.uint8)
        view = raw[1:].view(dtype).reshape(shape)
        view[...] = _cast(fill(n), dtype).reshape(shape)
        return view, raw, style
    raise AssertionError(style)


INPUT_STYLES = ["c", "c", "f", "strided", "strided", "offset", "readonly", "broadcast",
                "zero-stride", "unaligned"]
OPERAND_STYLES = ["c", "f", "strided", "offset", "readonly", "broadcast", "zero-stride",
                  "unaligned"]
OUTPUT_STYLES = ["c", "f", "strided", "offset"]


# ---------------------------------------------------------------------------------------------
# Arguments
# ---------------------------------------------------------------------------------------------

GOOD_BETAS = [1.0, 0.0, -0.0, 5e-324, 1e-300, 1 / 9, 0.5, 2.0, 1e300, 1.7976931348623157e308,
              math.inf, 3, np.float32(0.1), np.float64(0.75), np.int64(2), np.float16(1.5),
              fractions.Fraction(1, 3)]
BAD_PARAMS = [(math.nan, ValueError), (-1.0, ValueError), (-5e-324, ValueError),
              (-math.inf, ValueError), (np.float64(math.nan), ValueError), (-2, ValueError),
              ("1.0", TypeError), (None, TypeError), (1j, TypeError), (True, TypeError),
              (np.bool_(False), TypeError), (["1.0"], TypeError),
              (decimal.Decimal("1.0"), TypeError), (np.array(["a", "b"]), TypeError)]
# (arrays and lists of numbers are per-element parameters, docs/contract.md section 13)


@st.composite
def params(draw, loss, case_bad, allow_bad):
    name = "beta" if loss == "smooth_l1" else "delta"
    if allow_bad and draw(st.integers(0, 9)) == 0:
        value, error = draw(st.sampled_from(BAD_PARAMS))
        case_bad.append(Bad(error, name))
        return value
    value = draw(st.one_of(st.sampled_from(GOOD_BETAS),
                           st.floats(0, 1e6, allow_subnormal=False)))
    if loss != "smooth_l1" and not float(value) > 0:
        if allow_bad and draw(st.booleans()):
            case_bad.append(Bad(ValueError, name))  # delta must be > 0
            return value
        value = 1.0
    return value


GOOD_REDUCTIONS = ["mean", "sum", "none"]
BAD_REDUCTIONS = ["MEAN", "avg", "", None, 1, ["mean"], b"sum", "none "]


@st.composite
def reductions(draw, case_bad, allow_bad):
    if allow_bad and draw(st.integers(0, 14)) == 0:
        case_bad.append(Bad(ValueError, "reduction"))
        return draw(st.sampled_from(BAD_REDUCTIONS))
    return draw(st.sampled_from(GOOD_REDUCTIONS))


GOOD_THREADS = [None, None, None, 1, 2, 3, 4, np.int64(2), np.uint8(3), 100, 10**9]
BAD_THREADS = [(0, ValueError), (-1, ValueError), (np.int32(0), ValueError), (1.5, TypeError),
               (2.0, TypeError), ("2", TypeError), (True, TypeError), (np.bool_(True), TypeError)]


@st.composite
def thread_counts(draw, case_bad, allow_bad):
    if allow_bad and draw(st.integers(0, 14)) == 0:
        value, error = draw(st.sampled_from(BAD_THREADS))
        case_bad.append(Bad(error, "n_threads"))
        return value
    return draw(st.sampled_from(GOOD_THREADS))


@st.composite
def inputs(draw, shape, dtype, fill, case, allow_bad, styles=INPUT_STYLES):
    """input: a float array in some layout, or (sometimes) a bad one."""
    if allow_bad and draw(st.integers(0, 11)) == 0:
        kind = draw(st.sampled_from(["dtype", "swapped", "masked", "list", "scalar", "none",
                                     "string"]))
        case.bad.append(Bad(TypeError, "input"))
        values = _cast(fill(_size(shape)), dtype).reshape(shape)
        if kind == "dtype":
            bad_dtype = draw(st.sampled_from(BAD_DTYPES))
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                array = values.astype(bad_dtype)
            case.buffers.append(array)
            return array
        if kind == "swapped":
            array = values.astype(SWAPPED[dtype])
            case.buffers.append(array)
            return array
        if kind == "masked":
            return np.ma.masked_array(values, mask=np.zeros(shape, bool))
        return {"list": values.tolist(), "scalar": 1.5, "none": None, "string": "x"}[kind]
    array, owner, style = draw(arrays(shape, dtype, fill, styles))
    case.buffers.append(owner)
    return array


@st.composite
def operands(draw, name, shape, dtype, fill, case, input, allow_bad):
    """target or weight: an array (full or broadcasting), a Python number/list, a NumPy
    scalar, the input itself or a view of it (target only); or (sometimes) a bad one."""
    if allow_bad and draw(st.integers(0, 9)) == 0:
        kind = draw(st.sampled_from(["dtype", "other-float", "swapped", "shape", "list-shape",
                                     "none" if name == "target" else "string", "string", "bool", "complex", "ragged",
                                     "list-of-str", "list-of-bool", "masked", "dict"]))
        error = ValueError if kind in ("shape", "list-shape", "ragged") else TypeError
        case.bad.append(Bad(error, name))
        values = _cast(fill(_size(shape)), dtype).reshape(shape)
        if kind == "dtype":
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                return values.astype(draw(st.sampled_from(BAD_DTYPES)))
        if kind == "other-float":
            return _cast(values, np.float32 if dtype == np.float64 else np.float64)
        if kind == "swapped":
            return values.astype(SWAPPED[dtype])
        if kind in ("shape", "list-shape"):
            wrong = draw(non_broadcasting_shapes(shape))
            array = _cast(fill(_size(wrong)), dtype).reshape(wrong)
            listed = array.tolist() if kind == "list-shape" and array.ndim else None
            # a list loses empty dimensions ((0, 0) -> []): keep the array then
            return listed if listed is not None and np.shape(listed) == wrong else array
        if kind == "masked":
            return np.ma.masked_array(values)
        return {"none": None, "string": "0.5", "bool": True, "complex": 1 + 2j,
                "ragged": [[1.0, 2.0], [3.0]], "list-of-str": ["a", "b"],
                "list-of-bool": [True, False], "dict": {"a": 1.0}}[kind]
    kinds = ["full", "full", "broadcast", "python-float", "python-int", "list", "numpy-scalar"]
    if name == "target":
        kinds += ["same-as-input", "view-of-input"]
    kind = draw(st.sampled_from(kinds))
    if kind in ("same-as-input", "view-of-input"):
        if not (isinstance(input, np.ndarray) and input.dtype == dtype
                and type(input) is np.ndarray):
            kind = "full"
        elif kind == "same-as-input":
            return input
        else:
            return np.flip(input, axis=draw(st.integers(0, input.ndim - 1))) \
                if input.ndim else input
    if kind == "full":
        array, owner, style = draw(arrays(shape, dtype, fill, OPERAND_STYLES))
        case.buffers.append(owner)
        return array
    if kind == "broadcast":
        small = draw(smaller_shapes(shape))
        array, owner, style = draw(arrays(small, dtype, fill, ["c", "strided", "readonly"]))
        case.buffers.append(owner)
        return array
    if kind == "python-float":
        return float(_cast(fill(1), dtype)[0])
    if kind == "python-int":
        return draw(st.integers(-5, 5))
    if kind == "list":
        small = draw(smaller_shapes(shape))
        values = _cast(fill(_size(small)), dtype).reshape(small).tolist()
        # an empty nested list loses its inner lengths: [] for (0, 1)
        return values if np.shape(values) == small else float(_cast(fill(1), dtype)[0])
    scalar_type = draw(st.sampled_from([np.float32, np.float64, np.int16, np.float16]))
    with np.errstate(all="ignore"):
        return scalar_type(_cast(fill(1), np.float64)[0]) if scalar_type is not np.int16 \
            else scalar_type(3)


def _writeable_full(value, shape, dtype):
    return (type(value) is np.ndarray and value.dtype == dtype and value.shape == tuple(shape)
            and value.flags.writeable and value.flags.aligned)


@st.composite
def outputs(draw, name, shape, dtype, case, reduced_loss_out, allow_bad, choices):
    """out / grad_out: None, a fresh buffer in some layout, an input-aliasing buffer (the
    same array, a reversed or shifted view of it), or a bad one."""
    choice = draw(st.sampled_from(choices + (["bad"] if allow_bad else [])))
    if choice == "none":
        return None
    if reduced_loss_out:
        assert allow_bad
        case.bad.append(Bad(ValueError, "out"))  # out with a reduced *_loss
    label = "out" if name == "out" or case.kind == "grad" else "grad_out"
    if choice == "fresh":
        array, owner, style = draw(arrays(shape, dtype, lambda n: np.full(n, SENTINEL),
                                          OUTPUT_STYLES))
        case.buffers.append(owner)
        return array
    if choice == "alias":
        candidates = [v for v in (case.input, case.target, case.weight)
                      if _writeable_full(v, shape, dtype)]
        if candidates:
            base = draw(st.sampled_from(candidates))
            how = draw(st.sampled_from(["same", "same", "flip", "shift"]))
            if how == "flip" and base.ndim:
                return np.flip(base, axis=draw(st.integers(0, base.ndim - 1)))
            if how == "shift" and base.ndim and base.shape[-1] > 1:
                # the same memory shifted by one element along the last axis: a view of
                # input's shape that overlaps it, when the buffer has room
                flat = base.base if base.base is not None else base
                if isinstance(flat, np.ndarray) and flat.ndim == 1 and flat.flags.writeable \
                        and base.flags.c_contiguous and flat.dtype == dtype:
                    start = (base.__array_interface__["data"][0]
                             - flat.__array_interface__["data"][0]) // dtype.itemsize
                    for new_start in (start - 1, start + 1):
                        if 0 <= new_start and new_start + base.size <= flat.size:
                            return flat[new_start:new_start + base.size].reshape(shape)
            return base
        array, owner, style = draw(arrays(shape, dtype, lambda n: np.full(n, SENTINEL), ["c"]))
        case.buffers.append(owner)
        return array
    kind = draw(st.sampled_from(["dtype", "other-float", "swapped", "shape", "readonly",
                                 "broadcast", "unaligned", "list", "scalar", "masked"]))
    if kind == "unaligned" and _size(shape) == 0:
        kind = "readonly"   # NumPy counts an empty array as aligned: nothing to refuse
    error = ValueError if kind in ("shape", "readonly", "broadcast", "unaligned") else TypeError
    case.bad.append(Bad(error, label))
    fresh = np.full(shape, SENTINEL, dtype=dtype)
    if kind == "dtype":
        value = np.zeros(shape, dtype=draw(st.sampled_from(["int32", "float16", "complex128",
                                                           "object", "bool"])))
    elif kind == "other-float":
        value = fresh.astype(np.float32 if dtype == np.float64 else np.float64)
    elif kind == "swapped":
        value = fresh.astype(SWAPPED[dtype])
    elif kind == "shape":
        # one more axis (where NumPy allows it), or the last side one longer: never more
        # than twice the elements of the right shape
        if not shape or (len(shape) < MAX_DIMS and draw(st.booleans())):
            wrong = list(shape) + [1]
        else:
            wrong = list(shape[:-1]) + [shape[-1] + 1]
        value = np.full(wrong, SENTINEL, dtype=dtype)
    elif kind == "readonly":
        fresh.flags.writeable = False
        value = fresh
    elif kind == "broadcast":
        owner = np.full((1,) * len(shape), SENTINEL, dtype=dtype)
        case.buffers.append(owner)
        return np.broadcast_to(owner, shape)
    elif kind == "unaligned":
        raw = np.zeros(_size(shape) * dtype.itemsize + 1, dtype=np.uint8)
        value = raw[1:].view(dtype).reshape(shape)
        case.buffers.append(raw)
        return value
    elif kind == "list":
        return fresh.tolist()
    elif kind == "scalar":
        return 0.0
    else:
        return np.ma.masked_array(fresh)
    case.buffers.append(value)
    return value


OUTPUT_CHOICES = ["none"] * 4 + ["fresh"] * 3 + ["alias"] * 3


@st.composite
def cases(draw, allow_bad=True, aliasing=False):
    """One call. allow_bad: arguments may be bad; aliasing: elementwise results only, written
    to outputs that mostly alias the inputs."""
    loss = draw(st.sampled_from(LOSSES))
    kind = draw(st.sampled_from(["loss", "grad", "loss_and_grad"]))
    dtype = draw(st.sampled_from(FLOATS))
    shape = draw(shapes())
    case = Case(loss, kind, None, None, None, None)
    case.param = draw(params(loss, case.bad, allow_bad))
    case.reduction = draw(reductions(case.bad, allow_bad))
    if aliasing and kind != "grad":
        case.reduction = "none"
    fill = draw(fillers(case.param))
    case.input = draw(inputs(shape, dtype, fill, case, allow_bad,
                             OUTPUT_STYLES if aliasing else INPUT_STYLES))
    target_fill = draw(st.sampled_from([fill, lambda n: np.zeros(n), draw(fillers(case.param))]))
    case.target = draw(operands("target", shape, dtype, target_fill, case, case.input,
                                allow_bad))
    if draw(st.booleans()):
        # negative weights only where the result is not divided by their sum
        case.signed_weight = case.reduction in ("sum", "none") and draw(st.booleans())
        weight_fill = draw(fillers(case.param, weight=True, signed=case.signed_weight))
        case.weight = draw(operands("weight", shape, dtype, weight_fill, case, case.input,
                                    allow_bad))
    case.n_threads = draw(thread_counts(case.bad, allow_bad))
    choices = ["fresh", "alias", "alias", "alias"] if aliasing else OUTPUT_CHOICES
    reduced = case.reduction not in ("none",)  # (a bad reduction is not "none" either)
    if kind in ("loss", "loss_and_grad") and (allow_bad or not reduced):
        case.out = draw(outputs("out", shape, dtype, case, reduced, allow_bad, choices))
    if kind == "grad":
        case.out = draw(outputs("out", shape, dtype, case, False, allow_bad, choices))
    if kind == "loss_and_grad":
        case.grad_out = draw(outputs("grad_out", shape, dtype, case, False, allow_bad, choices))
        if isinstance(case.out, np.ndarray) and isinstance(case.grad_out, np.ndarray) \
                and np.may_share_memory(case.out, case.grad_out):
            if allow_bad:
                case.bad.append(Bad(ValueError, "out"))  # out and grad_out must not overlap
            else:
                case.grad_out = None
    assert allow_bad or not case.bad, case.bad
    return case


# ---------------------------------------------------------------------------------------------
# Checking one call
# ---------------------------------------------------------------------------------------------

def _snapshot(buffers):
    seen, snaps = set(), []
    for owner in buffers:
        if id(owner) not in seen:
            seen.add(id(owner))
            snaps.append((owner, np.array(owner, copy=True)))
    return snaps


def _same_bits(a, b):
    if a.dtype.hasobject:
        return all(x is y or x == y for x, y in zip(a.ravel().tolist(), b.ravel().tolist()))
    return np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes()


def _outputs_of(case):
    return [o for o in (case.out, case.grad_out) if isinstance(o, np.ndarray)]


def _check_reduced(got, expected, dtype, abs_bound, n):
    got, expected = float(got), float(expected)
    if math.isnan(expected):
        assert math.isnan(got), (got, expected)
        return
    if math.isinf(expected):
        assert got == expected, (got, expected)
        return
    if not math.isfinite(abs_bound):
        return  # cancellation of overflowing terms: no usable bound
    tolerance = (RTOL[dtype] * abs(expected) + ATOL[dtype]
                 + (n + 1) * 2.0**-52 * abs_bound)
    assert abs(got - expected) <= tolerance, (got, expected, tolerance)


def _expected(case):
    """Reference (loss, grad) from copies of the arguments taken before the call."""
    copies = {}
    for name in ("input", "target", "weight"):
        value = getattr(case, name)
        copies[name] = np.array(value, copy=True) if isinstance(value, np.ndarray) else value
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        ref = reference(case.loss, copies["input"], copies["target"], case.param,
                        case.reduction, copies["weight"])
        terms = reference(case.loss, copies["input"], copies["target"], case.param, "none",
                          copies["weight"])[0] if case.signed_weight else None
    return copies, ref, terms


def check(case):
    note(case.describe())
    outputs = _outputs_of(case)
    snapshots = _snapshot(case.buffers + outputs)
    expected = None if case.bad else _expected(case)
    conversions = not all(isinstance(v, np.ndarray) or v is None
                          for v in (case.target, case.weight))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = call(case.loss, case.kind, case.input, case.target, case.param,
                          **case.kwargs())
        except (TypeError, ValueError) as error:
            if not case.bad:
                raise AssertionError(f"good call raised {error!r}") from error
            event(f"raised {type(error).__name__}")
            message = str(error)
            assert any(isinstance(error, bad.error) and bad.name in message
                       for bad in case.bad), f"{error!r} is none of {case.bad}"
            for owner, before in snapshots:
                assert _same_bits(owner, before), "a raising call changed an argument"
            return
    assert not case.bad, f"expected one of {case.bad}, got a result"
    event("result")
    inputs = [v for v in (case.input, case.target, case.weight) if isinstance(v, np.ndarray)]
    if any(np.may_share_memory(o, i) for o in outputs for i in inputs):
        event("an output overlaps an input")
    if not conversions or case.input.dtype == np.float64:
        # (a Python number converted to float32 may warn of overflow, as NumPy's cast does)
        assert not caught, [str(w.message) for w in caught]
    copies, (ref_loss, ref_grad), terms = expected
    dtype = case.input.dtype
    shape = case.input.shape
    n = case.input.size
    if case.kind == "loss":
        loss, grad = result, None
    elif case.kind == "grad":
        loss, grad = None, result
    else:
        loss, grad = result
    if loss is not None:
        if case.reduction == "none":
            assert type(loss) is np.ndarray and loss.shape == shape and loss.dtype == dtype
            if case.out is not None:
                assert loss is case.out
            assert_close(loss, ref_loss, dtype)
        else:
            assert type(loss) is dtype.type, type(loss)
            bound = abs(float(ref_loss)) if terms is None else \
                exact_sum(np.abs(terms.astype(np.float64)))
            _check_reduced(loss, ref_loss, dtype, bound, n)
    if grad is not None:
        assert type(grad) is np.ndarray and grad.shape == shape and grad.dtype == dtype
        given_buffer = case.out if case.kind == "grad" else case.grad_out
        if given_buffer is not None:
            assert grad is given_buffer
        weighted_mean = case.weight is not None and case.reduction == "mean"
        assert_close(grad, ref_grad, dtype, rtol=RTOL[dtype] * (4 if weighted_mean else 1))
    # inputs that no output overlaps are unchanged (all of their owner buffer)
    for owner, before in snapshots:
        if not any(np.may_share_memory(owner, o) for o in outputs):
            assert _same_bits(owner, before), "an input changed"
    for name in ("input", "target", "weight"):
        value = getattr(case, name)
        if isinstance(value, np.ndarray) and not any(np.may_share_memory(value, o)
                                                     for o in outputs):
            assert _same_bits(value, copies[name]), f"{name} changed"


# ---------------------------------------------------------------------------------------------
# The tests
# ---------------------------------------------------------------------------------------------

@fuzz_settings(400)
@given(cases())
def test_fuzz_any_arguments(case):
    """Good and bad arguments mixed: documented error (nothing changed) or reference result."""
    check(case)


@fuzz_settings(250)
@given(cases(allow_bad=False))
def test_fuzz_good_arguments(case):
    """Only valid calls: every one returns the reference result."""
    check(case)


@fuzz_settings(200)
@given(cases(allow_bad=False, aliasing=True))
def test_fuzz_outputs_alias_inputs(case):
    """Valid calls writing elementwise results, with outputs that are, or overlap, inputs."""
    check(case)


@pytest.mark.parametrize("function", ["smooth_l1_loss", "smooth_l1_grad",
                                      "smooth_l1_loss_and_grad", "huber_loss", "huber_grad",
                                      "huber_loss_and_grad", "pseudo_huber_loss",
                                      "pseudo_huber_grad", "pseudo_huber_loss_and_grad"])
def test_huge_int_parameter(function):
    import smoothl1
    name = "beta" if function.startswith("smooth_l1") else "delta"
    with pytest.raises(ValueError, match=name):
        getattr(smoothl1, function)(np.zeros(3), 0.0, **{name: 10**400})


def test_big_python_int_target_is_converted():
    import smoothl1
    x = np.zeros(3)
    assert smoothl1.smooth_l1_loss(x, 2**70, reduction="sum") == 3 * (2.0**70 - 0.5)
