"""The one validation path shared by every public function (docs/contract.md sections 3, 4, 6 and 7).

Everything is checked before anything is computed, so a call that raises changes nothing
(one exception, which writes nothing either: the elements of a parameter array of a call that
only returns a reduced loss, checked after it on a NaN result; see check_param_values).
The common case (ndarrays of one native float dtype and one shape) takes a short path that
does no NumPy work beyond attribute reads; broadcasting, scalar conversion, alignment copies
and overlap handling happen only when the arguments need them.
"""
import math
import numbers
import operator
import sys

import numpy as np

from .. import _smoothl1
from .overlap import may_overlap_itself, overlap, untangle

_FLOAT32 = np.dtype(np.float32)
_FLOAT64 = np.dtype(np.float64)
# reduction= of the loss functions, and the kernel's reduction of each (the compiled small
# calls read the same table; "element_mean" with weights: see smoothl1._core.api.evaluate).
_REDUCTIONS = _smoothl1.REDUCTIONS
#: MMDetection's guard against a zero avg_factor, torch.finfo(torch.float32).eps (2**-23):
#: avg_factor=0 divides by it (docs/contract.md section 20).
AVG_FACTOR_EPS = float(np.finfo(np.float32).eps)
#: mean_divisor's answer for "element_mean": each group's element count.
ELEMENT_COUNT = "element count"
_ndarray = np.ndarray
_base_view = np.ndarray.view   # the base class's method: a subclass may override .view


def _as_base_array(value):
    """value as a base-class ndarray (value itself, or a view of a subclass), or None if it is
    not an ndarray. The kernels read the C-level shape, dtype and strides; a subclass's Python
    properties could report others, so validation reads them from this view too. type(), not
    isinstance(): an object can claim a __class__ it does not have."""
    kind = type(value)
    if kind is _ndarray:
        return value
    if issubclass(kind, _ndarray):
        return _base_view(value, _ndarray)
    return None


def _conversion_hint(name, value):
    """How to hand an array of another library to smoothl1, for a TypeError message. Read from
    the type's module name, so that pandas, torch and Dask are never imported here."""
    library = type(value).__module__.partition(".")[0]
    if library == "pandas":
        return f"; pass {name}.to_numpy() (smoothl1 takes NumPy arrays)"
    if library == "torch":
        return (f"; pass {name}.numpy() (after .detach().cpu() if it requires grad or is on a "
                f"GPU), or use smoothl1.torch, whose functions take CPU tensors with autograd; "
                f"smoothl1 takes NumPy arrays")
    if library == "dask":
        return "; for Dask arrays use the functions of smoothl1.dask"
    return ""


def _describe_dtype(dtype):
    if dtype.kind == "f" and not dtype.isnative:
        return f"{dtype.str} (non-native byte order)"
    return str(dtype)


def _check_float_dtype(name, dtype):
    # A float32/float64 descriptor made elsewhere (unpickled, say) may be a distinct object that
    # compares equal: accept it. Byte-swapped ('>f8' on little-endian) compares unequal.
    if dtype is _FLOAT64 or dtype is _FLOAT32 or dtype == _FLOAT64 or dtype == _FLOAT32:
        return
    raise TypeError(f"{name} must be a float32 or float64 array, got dtype "
                    f"{_describe_dtype(dtype)}; convert it explicitly, e.g. "
                    f"{name}.astype(np.float64) (smoothl1 never casts arrays silently)")


def _check_array_type(name, value):
    # A MaskedArray exists only once numpy.ma is imported; np.ma itself would import it (a
    # lazy import, which fails at interpreter shutdown).
    masked = sys.modules.get("numpy.ma")
    if masked is not None and issubclass(type(value), masked.MaskedArray):
        raise TypeError(f"{name} is a numpy.ma.MaskedArray: masks are not supported (the masked "
                        f"values would be used); pass {name}.filled(...) or select the "
                        f"unmasked elements")


def check_input(input):
    """input as a base-class ndarray of float32 or float64. A NumPy float32/float64 scalar is
    taken as a 0-d array of its own dtype (it carries its dtype: nothing is cast)."""
    array = _as_base_array(input)
    if array is None:
        if isinstance(input, (np.float32, np.float64)):
            return np.array(input)
        kind = (f"a numpy.{type(input).__name__} scalar" if isinstance(input, np.generic)
                else type(input).__name__)
        raise TypeError(f"input must be a numpy.ndarray (or NumPy scalar) of float32 or "
                        f"float64, got {kind}{_conversion_hint('input', input)}")
    if array is not input:
        _check_array_type("input", input)
    _check_float_dtype("input", array.dtype)
    return array


def _broadcasts_to(shape, target_shape):
    # NumPy's rule, read one way: shape may only stretch its size-1 axes and gain leading axes.
    # (np.broadcast_shapes would do, but stops at 32 dimensions; arrays may have 64.)
    if len(shape) > len(target_shape):
        return False
    tail = target_shape[len(target_shape) - len(shape):]
    return all(size == 1 or size == wanted for size, wanted in zip(shape, tail))


def _is_real_number(item):
    # numbers.Real (int, float, Fraction, NumPy's integer and float scalars...) but not bool,
    # which NumPy would take as an integer; Decimal is not a numbers.Real.
    return isinstance(item, numbers.Real) and not isinstance(item, (bool, np.bool_))


def _converted(name, value, input):
    """A Python number or (nested) list of numbers, or a NumPy scalar, as a new array of
    input's dtype. Called inside KeptFloatingPointFlags."""
    try:
        # (NumPy < 1.24 warns before making an object array of a ragged list, refused below)
        converted = np.asarray(value)
        if converted.dtype == object:
            items = list(converted.flat)
            if any(isinstance(item, (list, tuple)) for item in items):
                raise ValueError("the nested lists have different lengths")
            if all(map(_is_real_number, items)):
                # ints beyond 64 bits, Fractions, other numbers.Real: as float() converts them
                converted = np.array([float(item) for item in items]).reshape(converted.shape)
    except (ValueError, TypeError, OverflowError) as error:
        raise ValueError(f"{name} could not be converted to an array: {error}") from None
    if converted.dtype.kind not in "iuf":
        item = converted.flat[0] if converted.size else value
        advice = "; convert it with float()" if converted.dtype == object else ""
        raise TypeError(f"{name} must hold real numbers (bool and Decimal are not accepted), "
                        f"got a {type(value).__name__} holding {type(item).__name__} (dtype "
                        f"{converted.dtype}){advice}")
    if converted.dtype == input.dtype:
        return converted
    # beyond float32's range becomes inf, below it a subnormal or 0, quietly (a C cast)
    return _smoothl1.quiet_cast(converted, input)


def _as_operand(name, value, input):
    """target or weight as a base-class array of input's dtype that broadcasts to input's
    shape."""
    array = _as_base_array(value)
    if array is not None:
        _check_array_type(name, value)
        if array.dtype != input.dtype:
            _check_float_dtype(name, array.dtype)
            raise TypeError(f"{name} must have the dtype of input ({input.dtype}), got "
                            f"{array.dtype}; convert one of them explicitly (smoothl1 never "
                            f"casts arrays silently)")
        value = array
    elif isinstance(value, (list, tuple, np.number)) or _is_real_number(value):
        # Python numbers and lists (and NumPy scalars) carry no array data: convert them.
        with _smoothl1.KeptFloatingPointFlags():
            value = _converted(name, value, input)
    else:
        given = type(value).__name__
        if isinstance(value, (bool, np.bool_)):
            given += " (True/False are not taken as numbers, as bool arrays are not)"
        raise TypeError(f"{name} must be a numpy.ndarray of float32 or float64, a Python "
                        f"number or a list of numbers, got {given}"
                        f"{_conversion_hint(name, value)}")
    if value.shape != input.shape:
        if not _broadcasts_to(value.shape, input.shape):
            raise ValueError(f"{name} has shape {value.shape}, which does not broadcast to "
                             f"input's shape {input.shape} without changing it; reshape "
                             f"{name} (for example (N, 1) and (N,) would silently give an "
                             f"N x N result)")
    return value


def _accepted(loss):
    """The parameter's range, as the error messages say it: ">= 0 (inf is allowed)"."""
    if loss.inf_allowed:
        return f"{loss.accepted} (inf is allowed)"
    return f"{loss.accepted} and finite"


def _out_of_range(loss, value):
    return value < 0 or (value == 0 and not loss.zero_allowed) or (
        value == float("inf") and not loss.inf_allowed)


def element_count(shape, axes):
    """The elements a reduction over ``axes`` (a tuple, or None for all) sums per result: the
    element count PyTorch's mean divides by (docs/contract.md section 20)."""
    return math.prod(shape if axes is None else (shape[k] for k in axes))


def loss_param(loss, given, who):
    """The parameter of ``loss`` (a row of LOSSES) from the keywords ``given`` ({name: value},
    only those the caller gave), checked (check_param), its default when not given. A keyword
    of another loss is a TypeError that names it: "<who> takes the keyword 'delta', got beta"."""
    unexpected = sorted(set(given) - {loss.param})
    if unexpected:
        raise TypeError(f"{who} takes the keyword {loss.param!r}, got {', '.join(unexpected)}")
    return check_param(loss, given.get(loss.param, loss.default))


def check_param(loss, value):
    """The parameter of ``loss`` (a row of smoothl1._core.losses.LOSSES, which gives its name and
    range) as a float, or the TypeError or ValueError that names it."""
    name = loss.param
    if type(value) is not float:
        if not _is_real_number(value):
            raise TypeError(f"{name} must be a real number, got {type(value).__name__} (bool "
                            f"and Decimal are not taken as numbers; convert with float())")
        try:
            with _smoothl1.KeptFloatingPointFlags():   # float(Fraction(1, 10**400)) underflows
                value = float(value)
        except OverflowError:
            raise ValueError(f"{name} is too large for a float: {value!r:.40}") from None
    if value != value:
        raise ValueError(f"{name} must be a number, got nan")
    if _out_of_range(loss, value):
        raise ValueError(f"{name} must be {_accepted(loss)}, got {value!r}")
    return value


def check_param_values(loss, value, input, deferred=False):
    """The parameter of ``loss``, per element (docs/contract.md section 13): an array or list
    with the rules of weight, every element checked. Returns (scalar, None) for a Python or
    NumPy number, (None, array) otherwise; an array of a single element is returned as its
    scalar (the same results, bit for bit, without a per-element division). deferred leaves
    the elements of a longer array unchecked: the caller checks them with check_param_array
    if the call's result is NaN (see smoothl1._core.api.evaluate)."""
    if not isinstance(value, (_ndarray, list, tuple)):
        return check_param(loss, value), None
    array = _as_operand(loss.param, value, input)
    if array.size == 0:
        return None, array
    if array.size == 1 or not deferred:
        check_param_array(loss, array)
    if array.size == 1:
        return float(array.reshape(())), None
    return None, array


def check_param_array(loss, array):
    """Raise the ValueError of a NaN or out-of-range element of an array of the parameter of
    ``loss``."""
    name = loss.param
    if array.size == 0:   # nothing to check (and min() of nothing raises)
        return
    worst = array.min()   # NaN propagates; no temporary of the array's size
    if worst != worst:
        raise ValueError(f"{name} must be a number at every element, got nan")
    if not _out_of_range(loss, worst) and not loss.inf_allowed:
        worst = array.max()   # a second pass, only for a loss that refuses inf
    if _out_of_range(loss, worst):
        allowed = "(inf is allowed)" if loss.inf_allowed else "and finite"
        raise ValueError(f"{name} must be {loss.accepted} at every element {allowed}, got "
                         f"{float(worst)!r}")


def check_axis(axis, ndim, keepdims):
    """axis as a sorted tuple of distinct dimensions in [0, ndim), or None for every
    dimension without keepdims (docs/contract.md section 12; negative values count from the
    end, as in NumPy)."""
    if not isinstance(keepdims, (bool, np.bool_)):
        raise TypeError(f"keepdims must be True or False, got {type(keepdims).__name__}")
    if axis is None:
        return tuple(range(ndim)) if keepdims else None
    axes = axis if isinstance(axis, tuple) else (axis,)
    normalized = []
    for value in axes:
        if isinstance(value, (bool, np.bool_)):
            raise TypeError("axis must be None, an int or a tuple of ints, got bool")
        try:
            value = operator.index(value)
        except TypeError:
            raise TypeError(f"axis must be None, an int or a tuple of ints, got "
                            f"{type(value).__name__}") from None
        if not -ndim <= value < ndim:
            raise ValueError(f"axis {value} is out of bounds for input of {ndim} "
                             f"dimension{'s' if ndim != 1 else ''}")
        value %= ndim
        if value in normalized:
            raise ValueError(f"axis contains dimension {value} more than once: {axis!r}")
        normalized.append(value)
    return tuple(sorted(normalized))


def reduced_shape(shape, axes, keepdims):
    return tuple(1 if k in axes else size for k, size in enumerate(shape) if keepdims
                 or k not in axes)


def check_reduction(reduction):
    try:
        return _REDUCTIONS[reduction]
    except (KeyError, TypeError):
        raise ValueError(f"reduction must be one of {', '.join(map(repr, _REDUCTIONS))}, "
                         f"got {reduction!r}") from None


def avg_factor_divisor(avg_factor):
    """What avg_factor divides by: a finite number > 0 as given, 0 as AVG_FACTOR_EPS (so a
    batch with no positive sample gives 0, as MMDetection's ``avg_factor + eps``), or the
    error naming it. Shared by smoothl1.torch, which converts a tensor to a float first."""
    if not _is_real_number(avg_factor):
        raise TypeError(f"avg_factor must be a number >= 0 (int or float), got "
                        f"{type(avg_factor).__name__}")
    try:
        value = float(avg_factor)
    except OverflowError:   # an int beyond double's range
        value = float("inf")
    if not 0 <= value < float("inf"):
        raise ValueError(f"avg_factor must be a finite number >= 0, got {avg_factor!r}")
    return value if value > 0 else AVG_FACTOR_EPS


def mean_divisor(reduction, avg_factor):
    """What divides a call's sum instead of the kernel's own normaliser (docs/contract.md
    section 20): None (the kernel reduces as check_reduction says), ELEMENT_COUNT for
    "element_mean", or avg_factor's divisor (a float); errors name avg_factor."""
    check_reduction(reduction)
    if avg_factor is not None:
        if reduction != "mean":
            raise ValueError(f"avg_factor is only accepted with reduction='mean' (it replaces "
                             f"the mean's divisor), got reduction={reduction!r}")
        return avg_factor_divisor(avg_factor)
    return ELEMENT_COUNT if reduction == "element_mean" else None


def check_n_threads(n_threads):
    if n_threads is None:
        return None
    if isinstance(n_threads, (bool, np.bool_)):
        raise TypeError("n_threads must be None or an int >= 1, got bool")
    try:
        n_threads = operator.index(n_threads)
    except TypeError:
        raise TypeError(f"n_threads must be None or an int >= 1, got "
                        f"{type(n_threads).__name__}") from None
    if n_threads < 1:
        raise ValueError(f"n_threads must be None or an int >= 1, got {n_threads}")
    return min(n_threads, _smoothl1.N_THREADS_CLAMP)


def check_output(name, value, input, shape=None):
    """value (an output buffer) as a base-class view; the caller returns value itself. shape:
    what the output must have when it is not input's (a reduction along axes)."""
    expected = input.shape if shape is None else shape
    described = "input's shape" if shape is None else "the reduced shape"
    array = _as_base_array(value)
    if array is None:
        raise TypeError(f"{name} must be a numpy.ndarray of input's dtype ({input.dtype}) and "
                        f"shape {expected}, got {type(value).__name__}"
                        f"{_conversion_hint(name, value)}")
    _check_array_type(name, value)
    if array.dtype != input.dtype:
        raise TypeError(f"{name} must have input's dtype ({input.dtype}), got "
                        f"{_describe_dtype(array.dtype)}")
    if array.shape != expected:
        raise ValueError(f"{name} must have {described} {expected}, got {array.shape}")
    if not array.flags.writeable:
        raise ValueError(f"{name} is read-only; pass a writeable array")
    if not _smoothl1.aligned(array):
        raise ValueError(f"{name} is not aligned to its dtype; pass an aligned array "
                         f"(np.empty_like(input))")
    if may_overlap_itself(array):
        raise ValueError(f"{name} has elements that share memory (strides {array.strides} for "
                         f"shape {array.shape}, e.g. a zero stride from np.broadcast_to or "
                         f"as_strided), so no element would hold a well-defined result; pass "
                         f"an array with one element per result (np.empty_like(input))")
    return array


def check_curvature(curvature):
    """The mode bits of a grad_hess curvature (docs/contract.md section 11)."""
    try:
        return _smoothl1.CURVATURES[curvature]
    except (KeyError, TypeError):
        raise ValueError(f"curvature must be one of 'exact', 'irls', 'one', got "
                         f"{curvature!r}") from None


def prepare(input, target, weight, reduction, out, grad_out, n_threads, *, loss, param=1.0,
            grad_out_name="grad_out", axis=None, keepdims=False, out_name="out",
            deferred_param_check=False):
    """Validate a call; return (input, target, weight, reduction code, out, grad_out, n_threads,
    param, param_values, axes); target, weight and param_values broadcast to input's shape.
    `out` is the loss buffer (reduction='none', or the reduced loss along `axis`), or the
    curvature buffer of a grad_hess call, called `out_name` in messages; `grad_out` the
    gradient buffer, called `grad_out_name`. `param` is the parameter of `loss` (a row of
    smoothl1._core.losses.LOSSES, which names it and gives its range): a number, or an array giving
    param_values (param is then None; deferred_param_check: see check_param_values). axes are
    the reduced dimensions (None: all, without keepdims). Every array returned is a base-class
    ndarray (a view of a subclass the caller gave), so the kernel uses exactly what was
    checked."""
    input = check_input(input)
    reduction_code = check_reduction(reduction)
    if type(target) is not _ndarray or target.dtype is not input.dtype \
            or target.shape != input.shape:
        target = _as_operand("target", target, input)
    if weight is not None:
        weight = _as_operand("weight", weight, input)
    param, param_values = check_param_values(loss, param, input, deferred_param_check)
    axes = check_axis(axis, input.ndim, keepdims)
    if axes is not None and reduction_code == _smoothl1.REDUCTION_NONE:
        raise ValueError("axis and keepdims are only accepted with reduction='mean' or 'sum' "
                         "(reduction='none' keeps every element)")
    n_threads = check_n_threads(n_threads)
    outputs = []
    if out is not None:
        if axes is not None:   # the reduced loss (not an elementwise output: see api.evaluate)
            out = check_output("out", out, input, reduced_shape(input.shape, axes, keepdims))
        elif reduction_code != _smoothl1.REDUCTION_NONE:
            raise ValueError(f"out is only accepted with reduction='none' or with axis (got "
                             f"reduction={reduction!r}): a reduced loss is a scalar")
        else:
            out = check_output(out_name, out, input)
            outputs.append(out)
    if grad_out is not None:
        grad_out = check_output(grad_out_name, grad_out, input)
        outputs.append(grad_out)
        if out is not None and overlap(out, grad_out):
            raise ValueError(f"{out_name} and {grad_out_name} overlap; pass two separate "
                             f"arrays")
    if outputs or target.shape != input.shape or (weight is not None
                                                  and weight.shape != input.shape) \
            or param_values is not None or not _smoothl1.aligned(input, target, weight):
        operands = [input, target, weight, param_values]
        for k, operand in enumerate(operands):
            if operand is not None:
                if outputs:
                    operand = untangle(operand, outputs, input.shape)
                if not _smoothl1.aligned(operand):
                    # the kernels step in whole elements: a misaligned input (from a raw
                    # byte buffer) is copied; a misaligned output is refused (check_output)
                    operand = np.array(operand, copy=True)
                operands[k] = operand   # broadcast by the kernels (zero steps)
        input, target, weight, param_values = operands
    return (input, target, weight, reduction_code, out, grad_out, n_threads, param,
            param_values, axes)
