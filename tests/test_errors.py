"""Every bad argument raises the documented exception with a message that names the argument
and what was given (contract §3, 4, 6, 7); a call that raises changes nothing (contract §6)."""
import re
import sys

import numpy as np
import pytest

from reference import KINDS, LOSSES, PARAM_NAME, REDUCTIONS, assert_bitwise_equal, call

FUNCTIONS = [pytest.param(loss, kind, id=f"{loss}_{kind}") for loss in LOSSES for kind in KINDS]


def mentions(*fragments):
    """A `match` pattern requiring every fragment, in any order (literal, case-sensitive); a
    tuple of strings is a fragment of which any one will do."""
    def one(fragment):
        if isinstance(fragment, tuple):
            return "(?=.*(?:" + "|".join(re.escape(f) for f in fragment) + "))"
        return f"(?=.*{re.escape(fragment)})"
    return "(?s)" + "".join(one(fragment) for fragment in fragments)


def _valid(n=4, dtype=np.float64):
    rng = np.random.default_rng(0)
    return rng.normal(size=n).astype(dtype), rng.normal(size=n).astype(dtype)


# ---------------------------------------------------------------------------------------------
# dtypes and array types (contract §3)
# ---------------------------------------------------------------------------------------------

BAD_ARRAYS = [
    pytest.param(np.arange(4, dtype=np.int64), "int64", id="int64"),
    pytest.param(np.arange(4, dtype=np.int32), "int32", id="int32"),
    pytest.param(np.arange(4, dtype=np.uint8), "uint8", id="uint8"),
    pytest.param(np.array([True, False, True, True]), "bool", id="bool"),
    pytest.param(np.ones(4, dtype=np.float16), "float16", id="float16"),
    pytest.param(np.ones(4, dtype=np.complex128), "complex128", id="complex128"),
    pytest.param(np.ones(4, dtype=np.complex64), "complex64", id="complex64"),
    pytest.param(np.array([1.0, 2.0, 3.0, 4.0], dtype=object), "object", id="object"),
    pytest.param(np.array([None] * 4), "object", id="None-array"),
    pytest.param(np.array(["a", "b", "c", "d"]), "<U1", id="string"),
    pytest.param(np.ones(4, dtype=np.longdouble), str(np.dtype(np.longdouble)), id="longdouble",
                 marks=pytest.mark.skipif(np.dtype(np.longdouble) == np.float64,
                                          reason="long double is double here")),
]


@pytest.mark.parametrize("array, dtype_name", BAD_ARRAYS)
@pytest.mark.parametrize("argument", ["input", "target", "weight"])
@pytest.mark.parametrize("loss, kind", FUNCTIONS)
def test_bad_dtype(loss, kind, argument, array, dtype_name):
    input, target = _valid()
    arguments = {"input": input, "target": target, "weight": None}
    arguments[argument] = array
    with pytest.raises(TypeError, match=mentions(argument, dtype_name)):
        call(loss, kind, arguments["input"], arguments["target"], 1.0,
             weight=arguments["weight"])


@pytest.mark.parametrize("input_dtype, other_dtype", [(np.float64, np.float32),
                                                      (np.float32, np.float64)],
                         ids=["float64-input", "float32-input"])
@pytest.mark.parametrize("argument", ["target", "weight"])
@pytest.mark.parametrize("loss, kind", FUNCTIONS)
def test_mismatched_float_dtypes(loss, kind, argument, input_dtype, other_dtype):
    """float32 with float64 is refused, not cast (a cast would copy)."""
    input, target = _valid(dtype=input_dtype)
    other = target.astype(other_dtype)
    kwargs = {"weight": other} if argument == "weight" else {}
    with pytest.raises(TypeError, match=mentions(argument, np.dtype(other_dtype).name)):
        call(loss, kind, input, other if argument == "target" else target, 1.0, **kwargs)


@pytest.mark.parametrize("argument", ["input", "target", "weight"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("loss, kind", FUNCTIONS)
def test_byte_swapped(loss, kind, dtype, argument):
    input, target = _valid(dtype=dtype)
    swapped_dtype = np.dtype(dtype).newbyteorder()
    arguments = {"input": input, "target": target, "weight": None}
    arguments[argument] = np.ones(4).astype(swapped_dtype)
    assert not arguments[argument].dtype.isnative
    pattern = mentions(argument, (swapped_dtype.str, "byte order", "byteorder", "endian"))
    with pytest.raises(TypeError, match=pattern):
        call(loss, kind, arguments["input"], arguments["target"], 1.0,
             weight=arguments["weight"])


@pytest.mark.parametrize("argument", ["input", "target", "weight"])
@pytest.mark.parametrize("loss, kind", FUNCTIONS)
def test_masked_array(loss, kind, argument):
    input, target = _valid()
    arguments = {"input": input, "target": target, "weight": None}
    arguments[argument] = np.ma.array(input, mask=[False, True, False, False])
    with pytest.raises(TypeError, match=mentions(argument, ("masked", "Masked"))):
        call(loss, kind, arguments["input"], arguments["target"], 1.0,
             weight=arguments["weight"])


NON_ARRAY_INPUTS = [
    pytest.param([1.0, 2.0, 3.0], "list", id="list"),
    pytest.param((1.0, 2.0), "tuple", id="tuple"),
    pytest.param(None, "None", id="None"),
    pytest.param(1.5, "float", id="python-float"),
    pytest.param("1.5", "str", id="string"),
]


@pytest.mark.parametrize("value, given", NON_ARRAY_INPUTS)
@pytest.mark.parametrize("loss, kind", FUNCTIONS)
def test_input_not_an_array(loss, kind, value, given):
    with pytest.raises(TypeError, match=mentions("input", given)):
        call(loss, kind, value, np.zeros(3), 1.0)


BAD_OPERANDS = [
    pytest.param(None, TypeError, "None", id="None"),
    pytest.param("abc", TypeError, "str", id="string"),
    pytest.param(["a", "b", "c", "d"], TypeError, "", id="list-of-strings"),
    pytest.param(1j, TypeError, "complex", id="complex-scalar"),
    pytest.param({"a": 1}, TypeError, "dict", id="dict"),
]


@pytest.mark.parametrize("value, error, given", BAD_OPERANDS)
@pytest.mark.parametrize("loss, kind", FUNCTIONS)
def test_bad_target(loss, kind, value, error, given):
    input, _ = _valid()
    with pytest.raises(error, match=mentions("target", given)):
        call(loss, kind, input, value, 1.0)


@pytest.mark.parametrize("value, error, given", BAD_OPERANDS[1:])
@pytest.mark.parametrize("loss, kind", FUNCTIONS)
def test_bad_weight(loss, kind, value, error, given):
    input, target = _valid()
    with pytest.raises(error, match=mentions("weight", given)):
        call(loss, kind, input, target, 1.0, weight=value)


@pytest.mark.parametrize("argument", ["target", "weight"])
def test_ragged_list(argument):
    input, target = _valid()
    kwargs = {"weight": [[1.0, 2.0], [3.0]]} if argument == "weight" else {}
    with pytest.raises((TypeError, ValueError), match=argument):
        call("smooth_l1", "loss", input,
             [[1.0, 2.0], [3.0]] if argument == "target" else target, 1.0, **kwargs)


# ---------------------------------------------------------------------------------------------
# Shapes (contract §3)
# ---------------------------------------------------------------------------------------------

SHAPE_CASES = [
    pytest.param("target", (5, 1), (5,), id="target-(N,)-vs-input-(N,1)"),
    pytest.param("target", (5,), (5, 1), id="target-(N,1)-vs-input-(N,)"),
    pytest.param("weight", (5, 1), (5,), id="weight-(N,)-vs-input-(N,1)"),
    pytest.param("weight", (5,), (5, 1), id="weight-(N,1)-vs-input-(N,)"),
    pytest.param("target", (4,), (3,), id="target-wrong-length"),
    pytest.param("weight", (4,), (3,), id="weight-wrong-length"),
    pytest.param("weight", (4, 3), (4,), id="weight-per-row-without-axis"),
    pytest.param("target", (4,), (1, 4), id="target-more-dims-size-one"),
    pytest.param("target", (4,), (2, 4), id="target-more-dims"),
    pytest.param("weight", (4,), (1, 4), id="weight-more-dims"),
    pytest.param("target", (), (1,), id="target-(1,)-vs-0-d-input"),
    pytest.param("target", (0, 3), (2, 3), id="target-(2,3)-vs-empty-input"),
    pytest.param("target", (3, 4), (4, 3), id="target-transposed-shape"),
]


@pytest.mark.parametrize("argument, input_shape, bad_shape", SHAPE_CASES)
@pytest.mark.parametrize("loss, kind", FUNCTIONS)
def test_bad_shape(loss, kind, argument, input_shape, bad_shape):
    input = np.ones(input_shape)
    bad = np.ones(bad_shape)
    target = bad if argument == "target" else np.zeros(input_shape)
    weight = bad if argument == "weight" else None
    with pytest.raises(ValueError, match=mentions(argument, str(bad_shape), str(input_shape))):
        call(loss, kind, input, target, 1.0, weight=weight)


def test_bad_shape_list_target():
    with pytest.raises(ValueError, match=mentions("target", "(3,)")):
        call("huber", "loss", np.ones(4), [1.0, 2.0, 3.0], 1.0)


# ---------------------------------------------------------------------------------------------
# reduction, beta / delta, n_threads (contract §4, 7)
# ---------------------------------------------------------------------------------------------

BAD_REDUCTIONS = ["avg", "MEAN", "Mean", "", "mean ", "elementwise", None, 1, 0, 1.5, b"mean",
                  ("mean",), ["sum"]]


@pytest.mark.parametrize("reduction", BAD_REDUCTIONS, ids=repr)
@pytest.mark.parametrize("loss, kind", FUNCTIONS)
def test_bad_reduction(loss, kind, reduction):
    input, target = _valid()
    with pytest.raises(ValueError, match=mentions("reduction", repr(reduction))) as info:
        call(loss, kind, input, target, 1.0, reduction=reduction)
    message = str(info.value)
    for accepted in REDUCTIONS:  # "a ValueError listing them"
        assert accepted in message


BAD_PARAMS = [
    # (loss, value, exception, fragments of the message)
    ("smooth_l1", -1.0, ValueError, ["-1"]),
    ("smooth_l1", -1e-300, ValueError, ["-1e-300"]),
    ("smooth_l1", -np.inf, ValueError, ["-inf"]),
    ("smooth_l1", np.nan, ValueError, ["nan"]),
    ("smooth_l1", "1.0", TypeError, ["str"]),
    ("smooth_l1", True, TypeError, ["bool"]),
    ("smooth_l1", np.True_, TypeError, ["bool"]),
    ("smooth_l1", None, TypeError, ["None"]),
    ("smooth_l1", 1j, TypeError, ["complex"]),
    ("smooth_l1", ["1.0"], TypeError, ["real numbers"]),   # lists of numbers: section 13
    ("huber", 0.0, ValueError, ["0"]),
    ("huber", 0, ValueError, ["0"]),
    ("huber", -0.0, ValueError, ["0"]),
    ("huber", -2.0, ValueError, ["-2"]),
    ("huber", -np.inf, ValueError, ["-inf"]),
    ("huber", np.nan, ValueError, ["nan"]),
    ("huber", "2", TypeError, ["str"]),
    ("huber", False, TypeError, ["bool"]),
    ("huber", None, TypeError, ["None"]),
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("loss, value, error, fragments", BAD_PARAMS,
                         ids=[f"{PARAM_NAME[c[0]]}={c[1]!r}" for c in BAD_PARAMS])
def test_bad_parameter(loss, kind, value, error, fragments):
    input, target = _valid()
    with pytest.raises(error, match=mentions(PARAM_NAME[loss], *fragments)):
        call(loss, kind, input, target, value)


@pytest.mark.parametrize("loss, value", [("smooth_l1", 0), ("smooth_l1", np.float32(0.5)),
                                         ("smooth_l1", np.inf), ("huber", 2),
                                         ("huber", np.float64(0.25)), ("huber", np.int64(3)),
                                         ("huber", np.inf)], ids=repr)
def test_accepted_parameter_forms(loss, value):
    input, target = _valid()
    got = call(loss, "loss", input, target, value, reduction="sum")
    assert got == call(loss, "loss", input, target, float(value), reduction="sum")


BAD_THREADS = [
    (0, ValueError, ["0"]),
    (-1, ValueError, ["-1"]),
    (1.5, TypeError, ["float"]),
    (2.0, TypeError, ["float"]),
    (True, TypeError, ["bool"]),
    ("2", TypeError, ["str"]),
    ([2], TypeError, ["list"]),
]


@pytest.mark.parametrize("n_threads, error, fragments", BAD_THREADS,
                         ids=[repr(c[0]) for c in BAD_THREADS])
@pytest.mark.parametrize("loss, kind", FUNCTIONS)
def test_bad_n_threads(loss, kind, n_threads, error, fragments):
    input, target = _valid()
    with pytest.raises(error, match=mentions("n_threads", *fragments)):
        call(loss, kind, input, target, 1.0, n_threads=n_threads)


@pytest.mark.parametrize("n_threads", [1, 2, np.int64(3), 1000, sys.maxsize])
def test_accepted_n_threads(n_threads):
    input, target = _valid()
    got = call("huber", "loss", input, target, 1.0, n_threads=n_threads)
    assert got == call("huber", "loss", input, target, 1.0)


# ---------------------------------------------------------------------------------------------
# Output buffers (contract §6)
# ---------------------------------------------------------------------------------------------

def _output_slots():
    """(loss, kind, output name, reduction) for every output a function takes."""
    slots = []
    for loss in LOSSES:
        slots.append(pytest.param(loss, "loss", "out", "none", id=f"{loss}_loss-out"))
        for reduction in REDUCTIONS:
            slots.append(pytest.param(loss, "grad", "out", reduction,
                                      id=f"{loss}_grad-out-{reduction}"))
        slots.append(pytest.param(loss, "loss_and_grad", "out", "none",
                                  id=f"{loss}_loss_and_grad-out"))
        for reduction in REDUCTIONS:
            slots.append(pytest.param(loss, "loss_and_grad", "grad_out", reduction,
                                      id=f"{loss}_loss_and_grad-grad_out-{reduction}"))
    return slots


def _read_only(shape):
    array = np.zeros(shape)
    array.flags.writeable = False
    return array


_SWAPPED_FLOAT64 = np.dtype(np.float64).newbyteorder()

BAD_OUTPUTS = [
    pytest.param(lambda: np.zeros((4, 1)), ValueError, ["(4, 1)"], id="shape-(4,1)"),
    pytest.param(lambda: np.zeros(5), ValueError, ["(5,)"], id="shape-(5,)"),
    pytest.param(lambda: np.zeros(()), ValueError, ["()"], id="shape-0-d"),
    pytest.param(lambda: np.zeros(4, dtype=np.float32), TypeError, ["float32"], id="float32"),
    pytest.param(lambda: np.zeros(4, dtype=np.int64), TypeError, ["int64"], id="int64"),
    pytest.param(lambda: np.zeros(4, dtype=_SWAPPED_FLOAT64), TypeError,
                 [_SWAPPED_FLOAT64.str], id="byte-swapped"),
    pytest.param(lambda: _read_only(4), ValueError, [("read-only", "writeable")],
                 id="read-only"),
    pytest.param(lambda: np.broadcast_to(np.zeros(1), (4,)), ValueError,
                 [("read-only", "writeable")], id="broadcast-view"),
    pytest.param(lambda: [0.0] * 4, TypeError, ["list"], id="list"),
    pytest.param(lambda: 0.0, TypeError, ["float"], id="python-float"),
    pytest.param(lambda: np.ma.zeros(4), TypeError, ["asked"], id="masked"),
]


@pytest.mark.parametrize("make_bad, error, fragments", BAD_OUTPUTS)
@pytest.mark.parametrize("loss, kind, name, reduction", _output_slots())
def test_bad_output(loss, kind, name, reduction, make_bad, error, fragments):
    input, target = _valid()
    with pytest.raises(error, match=mentions(name, *fragments)):
        call(loss, kind, input, target, 1.0, reduction=reduction, **{name: make_bad()})


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("kind", ["loss", "loss_and_grad"])
@pytest.mark.parametrize("loss", LOSSES)
def test_out_with_reduced_loss(loss, kind, reduction):
    input, target = _valid()
    out = np.zeros(4)
    with pytest.raises(ValueError, match=mentions("out", "reduction", reduction)):
        call(loss, kind, input, target, 1.0, reduction=reduction, out=out)


@pytest.mark.parametrize("overlap", ["same-array", "overlapping-slices"])
@pytest.mark.parametrize("loss", LOSSES)
def test_out_and_grad_out_overlap(loss, overlap):
    input, target = _valid()
    if overlap == "same-array":
        out = grad_out = np.zeros(4)
    else:
        buffer = np.zeros(6)
        out, grad_out = buffer[:4], buffer[2:]
    with pytest.raises(ValueError, match=mentions("out", "grad_out")):
        call(loss, "loss_and_grad", input, target, 1.0, reduction="none", out=out,
             grad_out=grad_out)


# ---------------------------------------------------------------------------------------------
# A call that raises changes nothing (contract §6)
# ---------------------------------------------------------------------------------------------

SENTINEL = 777.25


def _failing_calls():
    """(id, loss, kind, builder) where builder(input, target, weight) -> (kwargs, outputs)."""
    def full(shape=(4,), dtype=np.float64):
        return np.full(shape, SENTINEL, dtype=dtype)

    cases = [
        ("bad-reduction-with-out", "grad",
         lambda x, t, w: {"reduction": "bogus", "out": full(), "weight": w}),
        ("bad-reduction-with-out-and-grad_out", "loss_and_grad",
         lambda x, t, w: {"reduction": "Mean", "out": full(), "grad_out": full()}),
        ("bad-grad_out-dtype-with-valid-out", "loss_and_grad",
         lambda x, t, w: {"reduction": "none", "out": full(),
                          "grad_out": full(dtype=np.float32)}),
        ("read-only-out-with-valid-grad_out", "loss_and_grad",
         lambda x, t, w: {"reduction": "none", "out": _read_only(4), "grad_out": full()}),
        ("bad-grad_out-shape-with-valid-out", "loss_and_grad",
         lambda x, t, w: {"reduction": "none", "out": full(), "grad_out": full((2, 2))}),
        ("bad-n_threads-with-outputs", "loss_and_grad",
         lambda x, t, w: {"reduction": "none", "out": full(), "grad_out": full(),
                          "n_threads": 0}),
        ("bad-weight-shape-with-out", "loss",
         lambda x, t, w: {"reduction": "none", "out": full(), "weight": np.ones(3)}),
        ("bad-weight-dtype-with-out", "grad",
         lambda x, t, w: {"reduction": "sum", "out": full(),
                          "weight": w.astype(np.float32)}),
        ("out-with-mean-and-valid-grad_out", "loss_and_grad",
         lambda x, t, w: {"reduction": "mean", "out": full(), "grad_out": full()}),
        ("in-place-out-is-input-bad-target", "loss",
         lambda x, t, w: {"reduction": "none", "out": x, "target_override": np.ones((4, 1))}),
        ("in-place-grad-out-is-target-bad-n_threads", "grad",
         lambda x, t, w: {"reduction": "mean", "out": t, "n_threads": -1}),
        ("in-place-out-is-input-bad-parameter", "loss_and_grad",
         lambda x, t, w: {"reduction": "none", "out": x, "grad_out": t, "param": -1.0}),
        ("in-place-out-is-weight-bad-reduction", "grad",
         lambda x, t, w: {"reduction": None, "out": w, "weight": w}),
    ]
    return [pytest.param(loss, kind, build, id=f"{loss}-{case_id}")
            for loss in LOSSES for case_id, kind, build in cases]


@pytest.mark.parametrize("loss, kind, build", _failing_calls())
def test_failed_call_changes_nothing(loss, kind, build):
    input, target = _valid()
    weight = np.linspace(0.5, 2.0, 4)
    kwargs = build(input, target, weight)
    param = kwargs.pop("param", 1.0)
    target_arg = kwargs.pop("target_override", target)
    watched = [input, target, weight, target_arg] + [kwargs[name] for name in ("out", "grad_out")
                                                     if name in kwargs]
    before = [np.array(a, copy=True) for a in watched]
    with pytest.raises((TypeError, ValueError)):
        call(loss, kind, input, target_arg, param, **kwargs)
    for array, copy in zip(watched, before):
        assert_bitwise_equal(array, copy)
