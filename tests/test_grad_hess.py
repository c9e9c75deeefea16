"""The grad_hess functions (docs/contract.md section 11): values against the float64
reference, the curvature definitions, finite differences, special values, weights, dtypes,
layouts, in-place use, threads, and bad arguments."""
import math
import warnings

import numpy as np
import pytest

import smoothl1
from allocations import peak_allocation
from reference import (CURVATURES, LOSSES, PARAM_NAME, assert_bitwise_equal, assert_close,
                       reference_grad_hess)

inf = math.inf
nan = math.nan
PARAMS = {"smooth_l1": [0.0, 1 / 9, 1.0, 2.5, inf], "huber": [1 / 9, 1.0, 2.5, inf],
          "pseudo_huber": [1 / 9, 1.0, 2.5, inf], "log_cosh": [1 / 9, 1.0, 2.5, inf],
          "cauchy": [1 / 9, 1.0, 2.5, inf]}
CASES = [pytest.param(loss, param, id=f"{loss}-{PARAM_NAME[loss]}={param:g}")
         for loss in LOSSES for param in PARAMS[loss]]


def grad_hess(loss, input, target, param, **kwargs):
    kwargs[PARAM_NAME[loss]] = param
    return getattr(smoothl1, f"{loss}_grad_hess")(input, target, **kwargs)


def sample(dtype, size=2000, seed=20):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(size) * 3).astype(dtype)
    x[::50] = 0.0
    x[1::77] = inf
    x[2::79] = -inf
    x[3::83] = nan
    t = rng.standard_normal(size).astype(dtype)
    t[::50] = 0.0
    return x, t


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("curvature", CURVATURES)
@pytest.mark.parametrize("loss, param", CASES)
def test_matches_the_reference(loss, param, curvature, dtype, weighted):
    x, t = sample(dtype)
    w = np.random.default_rng(21).random(x.size).astype(dtype) if weighted else None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        grad, hess = grad_hess(loss, x, t, param, curvature=curvature, weight=w)
    expected_grad, expected_hess = reference_grad_hess(loss, x, t, param, curvature, w)
    assert grad.dtype == hess.dtype == dtype and grad.shape == hess.shape == x.shape
    assert_close(grad, expected_grad)
    assert_close(hess, expected_hess)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("loss, param", CASES)
def test_grad_is_the_elementwise_grad_bit_for_bit(loss, param, dtype):
    x, t = sample(dtype)
    w = np.random.default_rng(22).random(x.size).astype(dtype)
    for weight in (None, w):
        grad, _ = grad_hess(loss, x, t, param, weight=weight, curvature="irls")
        expected = getattr(smoothl1, f"{loss}_grad")(x, t, reduction="none", weight=weight,
                                                     **{PARAM_NAME[loss]: param})
        assert_bitwise_equal(grad, expected)


# (loss, param, d, exact, irls): the curvature definitions by hand, at 0, inside, outside
HAND = [
    ("smooth_l1", 2.0, 0.0, 0.5, 0.5),
    ("smooth_l1", 2.0, 1.0, 0.5, 0.5),
    ("smooth_l1", 2.0, -4.0, 0.0, 0.25),
    ("smooth_l1", 2.0, 2.0, 0.0, 0.5),            # at beta: the linear branch, as grad's
    ("smooth_l1", 0.0, 0.0, 0.0, inf),            # plain L1: 1/z, whose limit at 0 is inf
    ("smooth_l1", 0.0, -0.5, 0.0, 2.0),
    ("smooth_l1", inf, 1e300, 0.0, 0.0),          # the loss is 0 for finite d
    ("huber", 2.0, 0.0, 1.0, 1.0),
    ("huber", 2.0, 1.5, 1.0, 1.0),
    ("huber", 2.0, -8.0, 0.0, 0.25),
    ("huber", inf, 1e300, 1.0, 1.0),
    ("pseudo_huber", 1.0, 0.0, 1.0, 1.0),
    ("pseudo_huber", 1.0, 1.0, 2 ** -1.5, 2 ** -0.5),
    ("pseudo_huber", 3.0, -4.0, (3 / 5) ** 3, 3 / 5),   # sqrt(1 + 16/9) = 5/3
    ("pseudo_huber", 1.0, 1e300, 0.0, 1e-300),   # (1/q)**3 underflows to 0, 1/q does not
    ("pseudo_huber", inf, 1e300, 1.0, 1.0),
]
# at +-inf every loss is in its linear zone: exact 0, irls 0; NaN gives NaN for each kind
for _loss, _params in PARAMS.items():
    for _param in _params:
        HAND += [(_loss, _param, inf, 0.0, 0.0), (_loss, _param, -inf, 0.0, 0.0),
                 (_loss, _param, nan, nan, nan)]


@pytest.mark.parametrize("loss, param, d, exact, irls", HAND,
                         ids=[f"{c[0]}-{c[1]:g}-d={c[2]:g}" for c in HAND])
def test_curvature_hand_values(loss, param, d, exact, irls):
    input = np.array([d])
    for curvature, expected in (("exact", exact), ("irls", irls), ("one", 1.0)):
        if math.isnan(d):
            expected = nan
        _, hess = grad_hess(loss, input, 0.0, param, curvature=curvature)
        # pseudo-Huber's curvatures are products of rounded factors: a few ulps
        assert_close(hess, np.array([expected]), rtol=2e-15, atol=0)


@pytest.mark.parametrize("loss, param", [c for c in CASES if math.isfinite(c.values[1])])
def test_irls_is_grad_over_d_and_positive(loss, param):
    d = np.concatenate([-np.logspace(-3, 3, 101), np.logspace(-3, 3, 101)])
    grad, hess = grad_hess(loss, d, 0.0, param, curvature="irls")
    np.testing.assert_allclose(hess, grad / d, rtol=1e-15)
    assert np.all(hess > 0)


@pytest.mark.parametrize("loss, param", [c for c in CASES if 0 < c.values[1] < inf])
def test_exact_is_the_derivative_of_grad(loss, param):
    """4th-order central differences of the gradient, away from the kinks (Huber and smooth
    L1 have none elsewhere)."""
    rng = np.random.default_rng(23)
    d = rng.normal(scale=3 * param, size=300)
    h = 1e-4 * param
    d = d[np.abs(np.abs(d) - param) > 10 * h]

    def grad(values):
        return grad_hess(loss, values, 0.0, param)[0]

    numeric = (-grad(d + 2 * h) + 8 * grad(d + h) - 8 * grad(d - h) + grad(d - 2 * h)) / (12 * h)
    _, hess = grad_hess(loss, d, 0.0, param, curvature="exact")
    np.testing.assert_allclose(hess, numeric, rtol=1e-6, atol=1e-9 / param)


def test_pseudo_huber_huge_and_tiny_stay_finite():
    d = np.array([1e-300, 1e-30, 1e150, 1e300])
    for delta in (1e-300, 1.0, 1e300):
        for curvature in CURVATURES:
            grad, hess = smoothl1.pseudo_huber_grad_hess(d, 0.0, delta=delta,
                                                         curvature=curvature)
            assert np.all(np.isfinite(grad)) and np.all(np.isfinite(hess))
            expected_grad, expected_hess = reference_grad_hess("pseudo_huber", d, 0.0, delta,
                                                               curvature)
            assert_close(grad, expected_grad)
            assert_close(hess, expected_hess)


LAYOUTS = {
    "fortran": lambda a: np.asfortranarray(a),
    "transposed": lambda a: np.ascontiguousarray(a.T).T,
    "strided": lambda a: np.repeat(a, 2, axis=1)[:, ::2],
    "negative-strides": lambda a: np.ascontiguousarray(a[::-1, ::-1])[::-1, ::-1],
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("loss", LOSSES)
def test_layouts_and_broadcast_operands(loss, dtype, layout):
    rng = np.random.default_rng(24)
    x = (rng.standard_normal((37, 11)) * 2).astype(dtype)
    t = rng.standard_normal(11).astype(dtype)       # broadcast along rows
    w = rng.random((37, 1)).astype(dtype)           # broadcast along columns
    expected = grad_hess(loss, np.ascontiguousarray(x), t, 0.8, weight=w, curvature="irls")
    view = LAYOUTS[layout](x)
    grad_out = LAYOUTS[layout](np.zeros_like(x))
    hess_out = LAYOUTS[layout](np.zeros_like(x))
    got = grad_hess(loss, view, t, 0.8, weight=w, curvature="irls", grad_out=grad_out,
                    hess_out=hess_out)
    assert got[0] is grad_out and got[1] is hess_out
    assert_bitwise_equal(grad_out, expected[0])
    assert_bitwise_equal(hess_out, expected[1])
    new = grad_hess(loss, view, t, 0.8, weight=w, curvature="irls")
    assert_bitwise_equal(new[0], expected[0])
    assert new[0].flags.f_contiguous == view.flags.f_contiguous


@pytest.mark.parametrize("loss", LOSSES)
def test_outputs_may_be_the_inputs(loss):
    rng = np.random.default_rng(25)
    x = rng.standard_normal(500) * 3
    t = rng.standard_normal(500)
    expected = grad_hess(loss, x, t, 1.5, curvature="exact")
    a, b = x.copy(), t.copy()
    grad, hess = grad_hess(loss, a, b, 1.5, curvature="exact", grad_out=a, hess_out=b)
    assert grad is a and hess is b
    assert_bitwise_equal(a, expected[0])
    assert_bitwise_equal(b, expected[1])
    a, b = x.copy(), t.copy()
    grad_hess(loss, a, b, 1.5, curvature="exact", grad_out=b, hess_out=a)   # swapped
    assert_bitwise_equal(b, expected[0])
    assert_bitwise_equal(a, expected[1])
    # an output overlapping an input other than as the same view: the input is read first
    a = np.concatenate([x, [0.0]])
    grad_hess(loss, a[1:], t, 1.5, curvature="exact", grad_out=a[:-1], hess_out=np.empty(500))
    assert_bitwise_equal(a[:-1], grad_hess(loss, np.concatenate([x, [0.0]])[1:], t, 1.5)[0])


@pytest.mark.parametrize("curvature", CURVATURES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("loss", LOSSES)
def test_threads_give_the_same_bits(loss, dtype, curvature):
    rng = np.random.default_rng(26)
    x = (rng.standard_normal((300, 700)) * 3).astype(dtype)     # many items
    t = rng.standard_normal(700).astype(dtype)
    w = rng.random((300, 700)).astype(dtype)
    results = [grad_hess(loss, x, t, 0.9, weight=w, curvature=curvature, n_threads=n)
               for n in (1, 2, 3, None)]
    for grad, hess in results[1:]:
        assert_bitwise_equal(grad, results[0][0])
        assert_bitwise_equal(hess, results[0][1])


@pytest.mark.parametrize("loss", LOSSES)
def test_weights_multiply_both(loss):
    x = np.array([0.3, -2.0, 5.0])
    grad, hess = grad_hess(loss, x, 0.0, 1.0, curvature="irls")
    w = np.array([2.0, 0.5, 0.0])
    grad_w, hess_w = grad_hess(loss, x, 0.0, 1.0, curvature="irls", weight=w)
    np.testing.assert_array_equal(grad_w, grad * w)
    np.testing.assert_array_equal(hess_w, hess * w)
    _, one = grad_hess(loss, x, 0.0, 1.0, curvature="one", weight=3.0)
    np.testing.assert_array_equal(one, [3.0, 3.0, 3.0])


def test_empty_and_zero_dimensional():
    grad, hess = smoothl1.huber_grad_hess(np.empty((0, 4), np.float32), 0.0)
    assert grad.shape == hess.shape == (0, 4) and hess.dtype == np.float32
    grad, hess = smoothl1.pseudo_huber_grad_hess(np.array(2.0), 0.0, curvature="irls")
    assert grad.shape == () and float(hess) == 1 / math.sqrt(5)


# ---------------------------------------------------------------------------------------------
# Per-element beta / delta (docs/contract.md section 13), as the loss functions take them
# ---------------------------------------------------------------------------------------------

def param_values(loss, shape, dtype, seed=30):
    """One beta or delta per element of `shape`: powers of two and others (1/9 divides
    inexactly), inf, and for smooth L1 zeros too."""
    rng = np.random.default_rng(seed)
    values = rng.choice([1 / 9, 0.25, 0.5, 0.75, 1.0, 1.5, 3.0, 1e-30, 1e30, inf], size=shape)
    if loss == "smooth_l1":
        values.flat[::7] = 0.0
    return values.astype(dtype)


# (N, 4) boxes: the parameter of every element, per row (N, 1), per coordinate (4,), and a 0-d
# array (its one value)
PARAM_SHAPES = {"full": (300, 4), "per-row": (300, 1), "per-coordinate": (4,), "0-d": ()}
PARAM_LAYOUTS = {   # of the input, and of a full parameter
    "C": lambda a: a,
    "fortran": lambda a: np.asfortranarray(a),
    "strided": lambda a: np.repeat(a, 2, axis=-1)[..., ::2],
}


@pytest.mark.parametrize("layout", sorted(PARAM_LAYOUTS))
@pytest.mark.parametrize("param_shape", sorted(PARAM_SHAPES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("loss", LOSSES)
def test_per_element_parameter_matches_the_reference(loss, dtype, param_shape, layout):
    x, t = sample(dtype, size=1200)
    x, t = PARAM_LAYOUTS[layout](x.reshape(300, 4)), t.reshape(300, 4)
    param = param_values(loss, PARAM_SHAPES[param_shape], dtype)
    if param_shape == "full":
        param = PARAM_LAYOUTS[layout](param)
    w = np.random.default_rng(31).random((300, 1)).astype(dtype)
    for curvature in CURVATURES:
        for weight in (None, w):
            grad, hess = grad_hess(loss, x, t, param, curvature=curvature, weight=weight)
            expected = reference_grad_hess(loss, x, t, param, curvature, weight)
            assert grad.dtype == hess.dtype == dtype and grad.shape == x.shape
            assert_close(grad, expected[0])
            assert_close(hess, expected[1])
            # the gradient is the loss functions' own, per element too
            assert_bitwise_equal(grad, getattr(smoothl1, f"{loss}_grad")(
                x, t, reduction="none", weight=weight, **{PARAM_NAME[loss]: param}))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("loss", LOSSES)
def test_per_element_parameter_threads_give_the_same_bits(loss, dtype):
    # 36,000 elements: above the size that threads, several items
    x, t = sample(dtype, size=36_000)
    x, t = x.reshape(9000, 4), t.reshape(9000, 4)
    w = np.random.default_rng(32).random(4).astype(dtype)
    for param in (param_values(loss, (9000, 1), dtype), param_values(loss, (4,), dtype),
                  param_values(loss, (9000, 4), dtype)):
        for curvature in CURVATURES:
            results = [grad_hess(loss, x, t, param, weight=w, curvature=curvature, n_threads=n)
                       for n in (1, 2, None)]
            for grad, hess in results[1:]:
                assert_bitwise_equal(grad, results[0][0])
                assert_bitwise_equal(hess, results[0][1])
            expected = reference_grad_hess(loss, x, t, param, curvature, w)
            assert_close(results[0][0], expected[0])
            assert_close(results[0][1], expected[1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("loss, value", [
    (loss, value) for loss in LOSSES for value in [0.0, 0.1, 0.5, 1.0, 1.7, 1e-30, 3e38, inf]
    if value > 0 or loss == "smooth_l1"])
def test_array_of_one_value_gives_the_scalar_results(loss, value, dtype):
    value = float(dtype(value))   # the scalar the array holds, exactly
    x, t = sample(dtype, size=2800)
    x, t = x.reshape(700, 4), t.reshape(700, 4)
    w = np.linspace(0.0, 2.0, 4).astype(dtype)
    for param in (np.full(x.shape, value, dtype), np.full((4,), value, dtype),
                  np.full((700, 1), value, dtype), np.full((1, 1), value, dtype),
                  np.array(value, dtype), [value] * 4):
        for curvature in CURVATURES:
            for weight in (None, w):
                scalar = grad_hess(loss, x, t, value, weight=weight, curvature=curvature)
                array = grad_hess(loss, x, t, param, weight=weight, curvature=curvature)
                assert_bitwise_equal(array[0], scalar[0])
                assert_bitwise_equal(array[1], scalar[1])


@pytest.mark.parametrize("loss", LOSSES)
def test_per_element_parameter_into_given_outputs(loss):
    """grad_out / hess_out of any layout, and outputs that are the inputs themselves: each
    element's parameter is read with its inputs, before its outputs are written."""
    x, t = sample(np.float64, size=1200)
    x, t = x.reshape(300, 4), t.reshape(300, 4)
    param = param_values(loss, (300, 4), np.float64)
    expected = grad_hess(loss, x, t, param, curvature="irls")
    grad_out, hess_out = np.zeros((4, 300)).T, np.zeros((300, 8))[:, ::2]
    got = grad_hess(loss, x, t, param, curvature="irls", grad_out=grad_out, hess_out=hess_out)
    assert got[0] is grad_out and got[1] is hess_out
    assert_bitwise_equal(grad_out, expected[0])
    assert_bitwise_equal(hess_out, expected[1])
    a, b = x.copy(), param.copy()
    grad_hess(loss, a, t, b, curvature="irls", grad_out=a, hess_out=b)
    assert_bitwise_equal(a, expected[0])
    assert_bitwise_equal(b, expected[1])


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("bad, fragment", [
    (-0.5, "at every element"), (nan, "got nan"), (0.0, "0 at every element")])
def test_bad_parameter_values_write_nothing(loss, bad, fragment):
    if loss == "smooth_l1" and bad == 0.0:
        bad, fragment = -inf, "at every element"      # beta = 0 is plain L1
    name = PARAM_NAME[loss]
    x = np.ones((5, 4))
    for param in (np.ones((5, 4)), np.ones((5, 1)), np.ones(4)):
        param.flat[-1] = bad
        grad_out, hess_out = np.full((5, 4), 3.0), np.full((5, 4), 3.0)
        with pytest.raises(ValueError, match=name) as info:
            grad_hess(loss, x, 0.0, param, grad_out=grad_out, hess_out=hess_out)
        assert fragment in str(info.value)
        assert (grad_out == 3.0).all() and (hess_out == 3.0).all()
    with pytest.raises(ValueError, match=f"{name} must be"):
        grad_hess(loss, x, 0.0, [1.0, 1.0, bad, 1.0])


@pytest.mark.parametrize("loss", LOSSES)
def test_bad_parameter_arrays(loss):
    name = PARAM_NAME[loss]
    x = np.ones((5, 4), np.float32)
    with pytest.raises(TypeError, match=f"{name} must have the dtype of input"):
        grad_hess(loss, x, 0.0, np.ones(4))
    with pytest.raises(ValueError, match=f"{name} has shape"):
        grad_hess(loss, x, 0.0, np.ones((5, 4, 1), np.float32))
    with pytest.raises(ValueError, match=f"{name} has shape"):
        grad_hess(loss, x, 0.0, np.ones((5,), np.float32))    # (5,) against rows of 4
    with pytest.raises(TypeError, match=f"{name} must hold real numbers"):
        grad_hess(loss, x, 0.0, ["a", "b", "c", "d"])
    with pytest.raises(TypeError, match=f"{name} must be a float32 or float64 array"):
        grad_hess(loss, x, 0.0, np.ones(4, np.int64))


# ---------------------------------------------------------------------------------------------
# Bad arguments: clear errors naming the argument, and nothing written
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("curvature", ["Exact", "newton", "", None, 1, "one "])
def test_bad_curvature(curvature):
    x = np.zeros(3)
    grad_out, hess_out = np.full(3, 7.0), np.full(3, 7.0)
    with pytest.raises(ValueError, match=r"curvature must be one of 'exact', 'irls', 'one'"):
        smoothl1.huber_grad_hess(x, x, curvature=curvature, grad_out=grad_out,
                                 hess_out=hess_out)
    assert np.all(grad_out == 7.0) and np.all(hess_out == 7.0)


def _bad_outputs():
    x = np.zeros((4, 3))
    readonly = np.zeros((4, 3))
    readonly.flags.writeable = False
    shared = np.zeros((4, 6))
    return [
        ("hess-shape", dict(hess_out=np.zeros((3, 4))), ValueError, r"hess_out must have input's shape"),
        ("hess-dtype", dict(hess_out=np.zeros((4, 3), np.float32)), TypeError, "hess_out must have input's dtype"),
        ("hess-readonly", dict(hess_out=readonly), ValueError, "hess_out is read-only"),
        ("hess-list", dict(hess_out=[[0.0] * 3] * 4), TypeError, "hess_out must be a numpy.ndarray"),
        ("grad-shape", dict(grad_out=np.zeros(12)), ValueError, r"grad_out must have input's shape"),
        ("same-array", dict(grad_out=x, hess_out=x), ValueError, "hess_out and grad_out overlap"),
        ("overlapping", dict(grad_out=shared[:, :3], hess_out=shared[:, 2:5]), ValueError,
         "hess_out and grad_out overlap"),
    ]


@pytest.mark.parametrize("case", _bad_outputs(), ids=lambda c: c[0])
def test_bad_outputs(case):
    _, kwargs, error, message = case
    x = np.ones((4, 3))
    before = {name: np.array(value, copy=True) for name, value in kwargs.items()}
    with pytest.raises(error, match=message):
        smoothl1.pseudo_huber_grad_hess(x, 0.0, **kwargs)
    for name, value in kwargs.items():
        np.testing.assert_array_equal(value, before[name])


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(delta=0.0), ValueError, "delta must be > 0"),
    (dict(delta=-1.0), ValueError, "delta must be > 0"),
    (dict(delta="1"), TypeError, "delta must be a real number"),
    (dict(beta=1.0), TypeError, "beta"),
    (dict(reduction="sum"), TypeError, "reduction"),
    (dict(weight=np.ones(5)), ValueError, "weight has shape"),
    (dict(n_threads=0), ValueError, "n_threads"),
])
def test_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        smoothl1.huber_grad_hess(np.zeros(3), 0.0, **kwargs)


def test_smooth_l1_accepts_beta_zero_only_there():
    smoothl1.smooth_l1_grad_hess(np.zeros(2), 0.0, beta=0.0)
    with pytest.raises(ValueError, match="beta must be >= 0"):
        smoothl1.smooth_l1_grad_hess(np.zeros(2), 0.0, beta=-1.0)
    with pytest.raises(TypeError, match="input must be a float32 or float64 array"):
        smoothl1.smooth_l1_grad_hess(np.zeros(2, np.int64), 0.0)


# ---------------------------------------------------------------------------------------------
# No temporaries: NumPy reports its data buffers to tracemalloc
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("loss", LOSSES)
def test_no_temporary_of_the_input_size(loss):
    n = 1 << 18                                        # 2 MB of float64
    rng = np.random.default_rng(27)
    x, t, w = rng.standard_normal(n), rng.standard_normal(n), rng.random(n)
    grad_out, hess_out = np.empty(n), np.empty(n)
    into_buffers = peak_allocation(lambda: grad_hess(loss, x, t, 1.0, weight=w,
                                                      curvature="irls", grad_out=grad_out,
                                                      hess_out=hess_out))
    assert into_buffers < n * 8 // 16, into_buffers
    allocating = peak_allocation(lambda: grad_hess(loss, x, t, 1.0, weight=w))
    assert allocating < 2 * n * 8 + n * 8 // 16, allocating      # the two results only


@pytest.mark.parametrize("loss", LOSSES)
def test_no_temporary_for_a_broadcast_parameter(loss):
    """A per-row delta (N, 1) or per-coordinate beta (4,) is gathered into chunk buffers,
    never broadcast to the input's size."""
    n = 1 << 16                                        # (n, 4): 2 MB of float64
    rng = np.random.default_rng(29)
    x, t = rng.standard_normal((n, 4)), rng.standard_normal((n, 4))
    grad_out, hess_out = np.empty((n, 4)), np.empty((n, 4))
    for param in (rng.uniform(0.5, 2.0, (n, 1)), rng.uniform(0.5, 2.0, 4)):
        peak = peak_allocation(lambda: grad_hess(loss, x, t, param, curvature="exact",
                                                 grad_out=grad_out, hess_out=hess_out))
        assert peak < n * 4 * 8 // 16, peak


@pytest.mark.parametrize("label_dtype", [np.float32, np.float64])
def test_boosting_objective_allocates_only_its_results(label_dtype):
    from smoothl1 import boosting
    n = 1 << 18
    rng = np.random.default_rng(28)
    preds = rng.standard_normal(n)
    labels = rng.standard_normal(n).astype(label_dtype)       # LightGBM: float32 labels
    weights = rng.random(n).astype(np.float32)
    objective = boosting.lightgbm_objective("pseudo_huber", delta=1.0)
    peak = peak_allocation(lambda: objective(labels, preds, weights))
    assert peak < 2 * n * 8 + n * 8 // 16, peak
    ders = peak_allocation(lambda: boosting.catboost_objective("huber").calc_ders_range(
        preds, labels, weights))
    assert ders < 2 * n * 8 + n * 8 // 16, ders
