"""Every function over a grid of dtype x memory layout x reduction x weight x output buffer,
against the reference (contract §2, 3, 4, 6); in-place and overlapping outputs (contract §6). Results
for every number of threads: tests/test_threads.py."""
import numpy as np
import pytest

from reference import (KINDS, LOSSES, REDUCTIONS, assert_bitwise_equal, assert_close, call,
                       reference)

DTYPES = [np.float32, np.float64]
PARAM = 0.75  # beta / delta: the values below fall on both sides of it
SENTINEL = 1234.5


def _values(rng, shape, dtype):
    return rng.normal(scale=1.5, size=shape).astype(dtype)


def _weights(rng, shape, dtype):
    return rng.uniform(0.1, 2.0, size=shape).astype(dtype)


# Each layout builds (input, target, weight) in that layout.

def _c_order(rng, dtype, tmp_path):
    return _values(rng, (5, 7), dtype), _values(rng, (5, 7), dtype), _weights(rng, (5, 7), dtype)


def _fortran(rng, dtype, tmp_path):
    return tuple(np.asfortranarray(a) for a in _c_order(rng, dtype, tmp_path))


def _transposed(rng, dtype, tmp_path):
    return (_values(rng, (7, 5), dtype).T, _values(rng, (7, 5), dtype).T,
            _weights(rng, (7, 5), dtype).T)


def _step_sliced(rng, dtype, tmp_path):
    return (_values(rng, (11, 22), dtype)[::2, ::3], _values(rng, (12, 24), dtype)[1::2, 2::3],
            _weights(rng, (6, 16), dtype)[:, ::2])


def _negative_strides(rng, dtype, tmp_path):
    return (_values(rng, (6, 16), dtype)[::-1, ::-2], _values(rng, (6, 8), dtype)[::-1],
            _weights(rng, (12, 8), dtype)[::-2, ::-1])


def _mixed(rng, dtype, tmp_path):
    return (_values(rng, (6, 8), dtype), np.asfortranarray(_values(rng, (6, 8), dtype)),
            _weights(rng, (8, 12), dtype)[:, ::-2].T)


def _scalar_target(rng, dtype, tmp_path):
    # A Python float target and weight: converted to input's dtype (contract §3).
    return _values(rng, (5, 7), dtype), 0.3, 1.7


def _zero_d_array_target(rng, dtype, tmp_path):
    return (_values(rng, (5, 7), dtype), np.array(-0.4, dtype=dtype),
            np.array(0.6, dtype=dtype))


def _per_row_target(rng, dtype, tmp_path):
    return (_values(rng, (5, 7), dtype), _values(rng, (5, 1), dtype),
            _weights(rng, (5, 1), dtype))


def _per_column_target(rng, dtype, tmp_path):
    return (_values(rng, (5, 7), dtype), _values(rng, (7,), dtype), _weights(rng, (7,), dtype))


def _broadcast_views(rng, dtype, tmp_path):
    # zero strides: np.broadcast_to views of a row and a column
    return (_values(rng, (5, 7), dtype), np.broadcast_to(_values(rng, (7,), dtype), (5, 7)),
            np.broadcast_to(_weights(rng, (5, 1), dtype), (5, 7)))


def _list_target(rng, dtype, tmp_path):
    input = _values(rng, (4, 3), dtype)
    return input, [[0.5, -1.0, 2.0]] * 4, [1.0, 0.5, 2.0]


def _read_only(rng, dtype, tmp_path):
    arrays = _c_order(rng, dtype, tmp_path)
    for a in arrays:
        a.flags.writeable = False
    return arrays


def _memory_mapped(rng, dtype, tmp_path):
    arrays = []
    for name, a in zip(("input", "target", "weight"), _c_order(rng, dtype, tmp_path)):
        path = tmp_path / f"{name}.npy"
        np.save(path, a)
        arrays.append(np.load(path, mmap_mode="r"))
    return tuple(arrays)


def _unaligned(rng, dtype, tmp_path):
    # Arrays over a byte buffer at an odd offset: not aligned to their dtype (such inputs are
    # copied: docs/contract.md section 3).
    def unaligned(values):
        raw = bytearray(values.nbytes + 1)
        array = np.frombuffer(raw, dtype=values.dtype, offset=1).reshape(values.shape)
        array[...] = values
        assert not array.flags.aligned
        return array
    return tuple(unaligned(a) for a in _c_order(rng, dtype, tmp_path))


def _zero_d(rng, dtype, tmp_path):
    return (np.array(1.2, dtype=dtype), np.array(0.1, dtype=dtype), np.array(0.5, dtype=dtype))


def _one_d(rng, dtype, tmp_path):
    return _values(rng, (37,), dtype), _values(rng, (37,), dtype), _weights(rng, (37,), dtype)


def _empty(rng, dtype, tmp_path):
    return (np.empty((0, 4), dtype=dtype), np.empty((0, 4), dtype=dtype),
            np.empty((0, 4), dtype=dtype))


def _empty_broadcast(rng, dtype, tmp_path):
    return np.empty((3, 0), dtype=dtype), _values(rng, (3, 1), dtype), np.array(2.0, dtype=dtype)


def _three_d_non_contiguous(rng, dtype, tmp_path):
    return (_values(rng, (6, 5, 8), dtype)[::2, ::-1, 1::3].transpose(2, 0, 1),
            _values(rng, (3, 10, 3), dtype)[:, ::2, ::-1].transpose(0, 2, 1),  # (3, 3, 5)
            _weights(rng, (3, 1, 1), dtype))


def _size_one_dims(rng, dtype, tmp_path):
    return (_values(rng, (1, 9, 1), dtype), _values(rng, (9, 1), dtype),
            _weights(rng, (1, 9, 1), dtype)[:, ::-1])


LAYOUTS = {
    "C": _c_order,
    "Fortran": _fortran,
    "transposed": _transposed,
    "step-sliced": _step_sliced,
    "negative-strides": _negative_strides,
    "mixed-layouts": _mixed,
    "python-scalar-target": _scalar_target,
    "0d-array-target": _zero_d_array_target,
    "per-row-target": _per_row_target,
    "per-column-target": _per_column_target,
    "zero-stride-views": _broadcast_views,
    "list-target": _list_target,
    "read-only": _read_only,
    "memory-mapped": _memory_mapped,
    "unaligned": _unaligned,
    "0-d": _zero_d,
    "1-d": _one_d,
    "empty": _empty,
    "empty-broadcast": _empty_broadcast,
    "3-d-non-contiguous": _three_d_non_contiguous,
    "size-one-dims": _size_one_dims,
}


def make_layout(name, dtype, request, seed=0):
    rng = np.random.default_rng(seed)
    tmp_path = request.getfixturevalue("tmp_path") if name == "memory-mapped" else None
    return LAYOUTS[name](rng, dtype, tmp_path)


def make_output(shape, dtype):
    """A sentinel-filled, reversed, every-other-element view of a bigger buffer.

    Returns (view, buffer, untouched) where `untouched` masks the buffer elements outside the
    view, which no call may write to."""
    dtype = np.dtype(dtype)
    if len(shape) == 0:
        buffer = np.full(3, SENTINEL, dtype=dtype)
        view = buffer[1:2].reshape(())
        untouched = np.array([True, False, True])
        return view, buffer, untouched
    buffer = np.full([2 * s for s in shape], SENTINEL, dtype=dtype)
    index = (slice(None, None, -2),) * len(shape)
    view = buffer[index]
    untouched = np.ones(buffer.shape, dtype=bool)
    untouched[index] = False
    assert view.shape == tuple(shape)
    return view, buffer, untouched


def _snapshot(arrays):
    return [(a, np.array(a, copy=True)) for a in arrays if isinstance(a, np.ndarray)]


def _assert_unchanged(snapshot):
    for array, copy in snapshot:
        assert_bitwise_equal(np.asarray(array), copy)


def _output_variants(kind, reduction):
    """Which output buffers a call of `kind` accepts with `reduction` (contract §6)."""
    if kind == "loss":
        return [(), ("out",)] if reduction == "none" else [()]
    if kind == "grad":
        return [(), ("out",)]
    if reduction == "none":
        return [(), ("out",), ("grad_out",), ("out", "grad_out")]
    return [(), ("grad_out",)]


def _split(kind, result):
    """(loss, grad) of a call's result, None for the part the function does not return."""
    if kind == "loss":
        return result, None
    if kind == "grad":
        return None, result
    assert isinstance(result, tuple) and len(result) == 2
    return result


def _check_call(loss, kind, reduction, outputs, input, target, weight):
    dtype = input.dtype
    snapshot = _snapshot([input, target, weight])
    buffers = {name: make_output(input.shape, dtype) for name in outputs}
    kwargs = {name: view for name, (view, _, _) in buffers.items()}

    result = call(loss, kind, input, target, PARAM, reduction=reduction, weight=weight,
                  **kwargs)

    _assert_unchanged(snapshot)
    got_loss, got_grad = _split(kind, result)
    expected_loss, expected_grad = reference(loss, input, target, PARAM, reduction, weight)
    if got_loss is not None:
        if reduction == "none":
            assert type(got_loss) is np.ndarray
            assert got_loss.shape == input.shape and got_loss.dtype == dtype
            if "out" in buffers:
                assert got_loss is buffers["out"][0]
        else:
            assert type(got_loss) is dtype.type
        assert_close(got_loss, expected_loss, dtype)
    if got_grad is not None:
        assert type(got_grad) is np.ndarray
        assert got_grad.shape == input.shape and got_grad.dtype == dtype
        grad_name = "out" if kind == "grad" else "grad_out"
        if grad_name in buffers:
            assert got_grad is buffers[grad_name][0]
        assert_close(got_grad, expected_grad, dtype)
    for _, buffer, untouched in buffers.values():
        assert np.all(buffer[untouched] == SENTINEL), "wrote outside the output view"
    for new in (got_loss if "out" not in buffers and reduction == "none" else None,
                got_grad if not set(buffers) & {"out", "grad_out"} else None):
        if new is not None:  # a new result is not a view of an argument
            for argument in (input, target, weight):
                if isinstance(argument, np.ndarray):
                    assert not np.shares_memory(new, argument)

    # Elementwise values do not depend on where they are stored: the same call without output
    # buffers gives the same bits. (A weighted mean's gradient is only compared with the
    # reference: its 1 / sum(w) may be summed in a layout-dependent order.)
    plain_loss, plain_grad = _split(kind, call(loss, kind, input, target, PARAM,
                                               reduction=reduction, weight=weight))
    if got_loss is not None and reduction == "none":
        assert_bitwise_equal(np.asarray(got_loss), plain_loss)
    if got_grad is not None and not (reduction == "mean" and weight is not None):
        assert_bitwise_equal(np.asarray(got_grad), plain_grad)
    # contract §2: *_loss_and_grad returns exactly what the two separate calls return, bit for bit
    # (the separate calls given output buffers of the same layouts, where they take one).
    if kind == "loss_and_grad":
        loss_kwargs, grad_kwargs = {}, {}
        if "out" in buffers:
            loss_kwargs["out"] = make_output(input.shape, dtype)[0]
        if "grad_out" in buffers:
            grad_kwargs["out"] = make_output(input.shape, dtype)[0]
        separate_loss = call(loss, "loss", input, target, PARAM, reduction=reduction,
                             weight=weight, **loss_kwargs)
        separate_grad = call(loss, "grad", input, target, PARAM, reduction=reduction,
                             weight=weight, **grad_kwargs)
        if reduction == "none":
            got_loss, separate_loss = np.asarray(got_loss), np.asarray(separate_loss)
        assert_bitwise_equal(got_loss, separate_loss)
        assert_bitwise_equal(np.asarray(got_grad), np.asarray(separate_grad))
    _assert_unchanged(snapshot)


GRID_FUNCTIONS = [pytest.param(loss, kind, reduction, id=f"{loss}_{kind}-{reduction}")
                  for loss in LOSSES for kind in KINDS for reduction in REDUCTIONS]


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("loss, kind, reduction", GRID_FUNCTIONS)
def test_grid(loss, kind, reduction, dtype, layout, request):
    """Against the reference, with and without weight, with every accepted output buffer (a
    reversed strided view); type, shape, identity of outputs; inputs unchanged."""
    input, target, weight = make_layout(layout, dtype, request)
    for weighted in (False, True):
        for outputs in _output_variants(kind, reduction):
            try:
                _check_call(loss, kind, reduction, outputs, input, target,
                            weight if weighted else None)
            except AssertionError as error:
                error.add_note(f"weighted={weighted}, outputs={outputs or 'none'}")
                raise


def test_layout_builders():
    """The layouts are what their names say (guards the grid above against silent drift)."""
    rng = np.random.default_rng(0)
    input, _, _ = _fortran(rng, np.float64, None)
    assert input.flags.f_contiguous and not input.flags.c_contiguous
    input, target, _ = _negative_strides(rng, np.float64, None)
    assert input.strides[0] < 0 and input.strides[1] < 0 and target.strides[0] < 0
    _, target, weight = _broadcast_views(rng, np.float64, None)
    assert target.strides[0] == 0 and weight.strides[1] == 0
    input, _, _ = _step_sliced(rng, np.float64, None)
    assert not input.flags.c_contiguous and not input.flags.f_contiguous
    input, target, _ = _read_only(rng, np.float64, None)
    assert not input.flags.writeable and not target.flags.writeable
    input, target, _ = _three_d_non_contiguous(rng, np.float64, None)
    assert input.shape == target.shape == (3, 3, 5)
    assert not input.flags.c_contiguous and not input.flags.f_contiguous


def test_memory_mapped_inputs_are_memmaps(tmp_path):
    input, target, weight = _memory_mapped(np.random.default_rng(0), np.float64, tmp_path)
    assert isinstance(input, np.memmap) and not input.flags.writeable
    expected = reference("huber", input, target, PARAM, "sum", weight)
    got = call("huber", "loss_and_grad", input, target, PARAM, reduction="sum", weight=weight)
    assert_close(got[0], expected[0])
    assert_close(got[1], expected[1])


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("kind", ["loss", "grad", "loss_and_grad"])
def test_output_in_contiguous_layouts(kind, order):
    rng = np.random.default_rng(5)
    input = np.asfortranarray(_values(rng, (4, 6), np.float64))
    target = _values(rng, (4, 6), np.float64)
    out = np.full((4, 6), SENTINEL, order=order)
    grad_out = np.full((4, 6), SENTINEL, order=order)
    kwargs = {"out": out}
    if kind == "loss_and_grad":
        kwargs["grad_out"] = grad_out
    result = call("smooth_l1", kind, input, target, PARAM, reduction="none", **kwargs)
    expected_loss, expected_grad = reference("smooth_l1", input, target, PARAM, "none")
    if kind == "loss":
        assert result is out
        assert_close(out, expected_loss)
    elif kind == "grad":
        assert result is out
        assert_close(out, expected_grad)
    else:
        assert result[0] is out and result[1] is grad_out
        assert_close(out, expected_loss)
        assert_close(grad_out, expected_grad)


def test_memory_mapped_output(tmp_path):
    rng = np.random.default_rng(9)
    input, target = _values(rng, (6, 4), np.float32), _values(rng, (6, 4), np.float32)
    out = np.lib.format.open_memmap(tmp_path / "out.npy", mode="w+", dtype=np.float32,
                                    shape=(6, 4))
    result = call("smooth_l1", "grad", input, target, PARAM, reduction="sum", out=out)
    assert result is out
    out.flush()
    assert_close(np.load(tmp_path / "out.npy"),
                 reference("smooth_l1", input, target, PARAM, "sum")[1])


MANY_DIMS_TARGETS = {
    "full": lambda input: input[::-1] * 0.5,
    "python-float": lambda input: 0.25,
    "0-d-array": lambda input: np.array(-0.5),
    "trailing-axis": lambda input: np.linspace(-1, 1, 2),
    "leading-size-one": lambda input: np.ones((1,) * input.ndim),
}


@pytest.mark.parametrize("target_style", list(MANY_DIMS_TARGETS))
@pytest.mark.parametrize("ndim", [32, 33, 64])
def test_many_dimensions(ndim, target_style):
    """NumPy 2 arrays may have up to 64 dimensions; a broadcast target works for them too."""
    if ndim > 32 and np.lib.NumpyVersion(np.__version__) < "2.0.0":
        pytest.skip("NumPy 1 arrays have at most 32 dimensions")
    rng = np.random.default_rng(10)
    shape = (1,) * (ndim - 5) + (2,) * 5
    input = rng.normal(size=shape)[..., ::-1]
    target = MANY_DIMS_TARGETS[target_style](input)
    for reduction in REDUCTIONS:
        got = call("huber", "loss_and_grad", input, target, PARAM, reduction=reduction)
        expected = reference("huber", input, target, PARAM, reduction)
        assert_close(got[0], expected[0])
        assert_close(got[1], expected[1])


def test_new_result_keeps_memory_order():
    """A new "none" result or gradient is an ndarray of input's shape, in input's memory order
    (docs/contract.md section 2)."""
    input = np.asfortranarray(np.random.default_rng(0).normal(size=(4, 5)))
    loss, grad = call("huber", "loss_and_grad", input, 0.0, 1.0, reduction="none")
    assert loss.shape == grad.shape == (4, 5)
    assert loss.flags.f_contiguous and grad.flags.f_contiguous


# ---------------------------------------------------------------------------------------------
# In-place use and overlapping outputs (contract §6)
# ---------------------------------------------------------------------------------------------

def clone_layout(array):
    """A new array with `array`'s values, shape and strides (signs included).

    Sums may be accumulated in an order that follows the memory layout of all the operands,
    outputs included; comparing an in-place call with a clone of identical layout asks for
    identical bits."""
    if not isinstance(array, np.ndarray):
        return array
    itemsize = array.itemsize
    byte_bounds = getattr(getattr(np.lib, "array_utils", None), "byte_bounds",
                          getattr(np, "byte_bounds", None))   # NumPy 2 moved it
    low, high = byte_bounds(array)
    memory = np.empty(max((high - low) // itemsize, 1), dtype=array.dtype)
    start = (array.__array_interface__["data"][0] - low) // itemsize
    clone = np.lib.stride_tricks.as_strided(memory[start:], shape=array.shape,
                                            strides=array.strides)
    clone[...] = array
    return clone


def test_clone_layout():
    base = np.arange(60.0).reshape(6, 10)
    for array in (base, base.T, base[::-2, 1::3], np.asfortranarray(base)[::-1]):
        clone = clone_layout(array)
        assert clone.strides == array.strides
        assert_bitwise_equal(clone, array)
        assert not np.may_share_memory(clone, array)


def _inplace_cases():
    cases = []
    for loss in LOSSES:
        for alias in ("input", "target", "weight"):
            cases.append(pytest.param(loss, "loss", "none", {"out": alias},
                                      id=f"{loss}_loss-none-out=is-{alias}"))
        for reduction in REDUCTIONS:
            for alias in ("input", "target", "weight"):
                cases.append(pytest.param(loss, "grad", reduction, {"out": alias},
                                          id=f"{loss}_grad-{reduction}-out=is-{alias}"))
        for out_alias, grad_alias in (("input", "target"), ("target", "input"),
                                      ("weight", "input"), ("input", "weight")):
            cases.append(pytest.param(
                loss, "loss_and_grad", "none", {"out": out_alias, "grad_out": grad_alias},
                id=f"{loss}_loss_and_grad-none-out=is-{out_alias}-grad_out=is-{grad_alias}"))
        for reduction in ("mean", "sum"):
            for alias in ("input", "target"):
                cases.append(pytest.param(
                    loss, "loss_and_grad", reduction, {"grad_out": alias},
                    id=f"{loss}_loss_and_grad-{reduction}-grad_out=is-{alias}"))
    return cases


@pytest.mark.parametrize("layout", ["C", "negative-strides", "Fortran", "3-d-non-contiguous"])
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("loss, kind, reduction, aliases", _inplace_cases())
def test_output_is_an_input(loss, kind, reduction, aliases, dtype, layout, request):
    """An output that is the very array passed as input/target/weight: same result as with a
    separate buffer (contract §6)."""
    arrays = dict(zip(("input", "target", "weight"), make_layout(layout, dtype, request)))
    for alias in aliases.values():
        if arrays[alias].shape != arrays["input"].shape:
            # a broadcast weight cannot be an output: use a full one in input's layout
            full = clone_layout(arrays["input"])
            full[...] = arrays[alias]
            arrays[alias] = full
    # expected: identical layouts, separate output buffers
    clones = {name: clone_layout(a) for name, a in arrays.items()}
    separate = {name: clone_layout(arrays[alias]) for name, alias in aliases.items()}
    expected = call(loss, kind, clones["input"], clones["target"], PARAM, reduction=reduction,
                    weight=clones["weight"], **separate)
    outputs = {name: arrays[alias] for name, alias in aliases.items()}
    result = call(loss, kind, arrays["input"], arrays["target"], PARAM, reduction=reduction,
                  weight=arrays["weight"], **outputs)
    got_loss, got_grad = _split(kind, result)
    want_loss, want_grad = _split(kind, expected)
    grad_name = "out" if kind == "grad" else "grad_out"
    if got_loss is not None:
        if "out" in outputs:
            assert got_loss is outputs["out"]
            got_loss, want_loss = np.asarray(got_loss), np.asarray(want_loss)
        assert_bitwise_equal(got_loss, want_loss)
    if got_grad is not None:
        assert got_grad is outputs[grad_name]
        assert_bitwise_equal(np.asarray(got_grad), np.asarray(want_grad))


def _overlap_cases():
    """(id, builder) where builder(buffer) -> dict of input/target/weight/out/grad_out views
    of one flat buffer of 48 elements, with some output overlapping some input."""
    return [
        ("out-shifted-forward", lambda b: dict(input=b[:30], out=b[4:34])),
        ("out-shifted-backward", lambda b: dict(input=b[4:34], out=b[:30])),
        ("out-reversed-input", lambda b: dict(input=b[:30], out=b[:30][::-1])),
        ("out-interleaved", lambda b: dict(input=b[0:48:2], out=b[1:48:2])),
        ("out-overlaps-strided-input", lambda b: dict(input=b[0:45:3], out=b[2:47:3][::-1])),
        ("out-overlaps-target", lambda b: dict(input=b[30:45].copy(), target=b[:15],
                                               out=b[3:18])),
        ("out-overlaps-weight", lambda b: dict(input=b[30:45].copy(), weight=b[:15],
                                               out=b[1:16])),
        ("out-transposed-input", lambda b: dict(input=b[:36].reshape(6, 6),
                                                out=b[:36].reshape(6, 6).T)),
        ("out-overlaps-per-column-target", lambda b: dict(input=b[:36].reshape(6, 6),
                                                          target=b[2:8],
                                                          out=b[:36].reshape(6, 6)[::-1])),
        ("grad_out-shifted", lambda b: dict(input=b[:30], grad_out=b[5:35])),
        ("out-and-grad_out-overlap-input", lambda b: dict(input=b[10:30], out=b[0:20],
                                                          grad_out=b[25:45])),
    ]


def _overlap_params():
    params = []
    for case_id, build in _overlap_cases():
        for reduction in REDUCTIONS:
            probe = build(np.zeros(48))
            if "out" in probe and "grad_out" in probe and reduction != "none":
                continue  # out is only accepted with "none" (tested in test_errors)
            params.append(pytest.param(build, reduction, id=f"{case_id}-{reduction}"))
    return params


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("build, reduction", _overlap_params())
def test_output_overlapping_an_input(build, reduction, loss, dtype):
    """An output overlapping an input other than as the same array gives the result of
    separate buffers, as NumPy ufuncs do (contract §6)."""
    rng = np.random.default_rng(6)
    buffer = _values(rng, 48, dtype)
    views = build(buffer)
    input = views["input"]
    target = views.get("target", _values(rng, input.shape, dtype))
    weight = views.get("weight", _weights(rng, input.shape, dtype))
    has_out, has_grad_out = "out" in views, "grad_out" in views
    if has_out and reduction != "none":
        kind = "grad"
    elif has_out and not has_grad_out:
        kind = "loss"
    else:
        kind = "loss_and_grad"
    outputs = {name: views[name] for name in ("out", "grad_out") if name in views}
    expected = call(loss, kind, clone_layout(input), clone_layout(target), PARAM,
                    reduction=reduction, weight=clone_layout(weight),
                    **{name: clone_layout(view) for name, view in outputs.items()})
    result = call(loss, kind, input, target, PARAM, reduction=reduction, weight=weight,
                  **outputs)
    got_loss, got_grad = _split(kind, result)
    want_loss, want_grad = _split(kind, expected)
    if got_loss is not None:
        if reduction == "none":
            if "out" in outputs:
                assert got_loss is outputs["out"]
            got_loss, want_loss = np.asarray(got_loss), np.asarray(want_loss)
        assert_bitwise_equal(got_loss, want_loss)
    if got_grad is not None:
        assert got_grad is outputs["out" if kind == "grad" else "grad_out"]
        assert_bitwise_equal(np.asarray(got_grad), np.asarray(want_grad))
