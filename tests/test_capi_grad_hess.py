"""The C API's pseudo-Huber and grad_hess functions (docs/contract.md sections 9, 10 and 11),
called through their capsules with ctypes: the same bits as the Python API. (The compiled
consumers of tests/test_embedding.py cover how C and Cython callers link to them.)"""
import ctypes

import numpy as np
import pytest

import smoothl1
from capsules import capsule_address
from smoothl1 import _smoothl1

CTYPES = {"f32": (np.float32, ctypes.c_float), "f64": (np.float64, ctypes.c_double)}
PARAM = {"smooth_l1": "beta", "huber": "delta", "pseudo_huber": "delta"}


def exported(name, restype, *argtypes):
    capsule = _smoothl1.__pyx_capi__[name]
    address = capsule_address(capsule)
    return ctypes.CFUNCTYPE(restype, *argtypes)(address)


def pointer(array, ctype):
    return array.ctypes.data_as(ctypes.POINTER(ctype))


def data(dtype, n=40_000):
    rng = np.random.default_rng(50)
    x = (rng.standard_normal(n) * 3).astype(dtype)
    x[::97] = np.nan
    x[1::89] = np.inf
    return x, rng.standard_normal(n).astype(dtype)


@pytest.mark.parametrize("curvature", ["exact", "irls", "one"])
@pytest.mark.parametrize("suffix", CTYPES)
@pytest.mark.parametrize("loss", PARAM)
def test_grad_hess_functions(loss, suffix, curvature):
    dtype, ctype = CTYPES[suffix]
    x, t = data(dtype)
    n = x.size
    expected = getattr(smoothl1, f"{loss}_grad_hess")(x, t, curvature=curvature,
                                                      **{PARAM[loss]: 0.7})
    array = ctypes.POINTER(ctype)
    contiguous = exported(f"smoothl1_{loss}_grad_hess_{curvature}_{suffix}", None,
                          ctypes.c_ssize_t, array, array, array, array, ctypes.c_double)
    grad, hess = np.empty_like(x), np.empty_like(x)
    contiguous(n, pointer(x, ctype), pointer(t, ctype), pointer(grad, ctype),
               pointer(hess, ctype), 0.7)
    assert grad.tobytes() == expected[0].tobytes() and hess.tobytes() == expected[1].tobytes()
    strided = exported(f"smoothl1_{loss}_grad_hess_{curvature}_{suffix}_strided", None,
                       ctypes.c_ssize_t, array, ctypes.c_ssize_t, array, ctypes.c_ssize_t,
                       array, ctypes.c_ssize_t, array, ctypes.c_ssize_t, ctypes.c_double)
    wide = np.zeros((n, 2), dtype)          # outputs every other element
    hess_wide = np.zeros((n, 3), dtype)
    strided(n, pointer(x, ctype), 1, pointer(t, ctype), 1, pointer(wide, ctype), 2,
            pointer(hess_wide, ctype), 3, 0.7)
    assert wide[:, 0].tobytes() == expected[0].tobytes()
    assert hess_wide[:, 0].tobytes() == expected[1].tobytes()
    assert not wide[:, 1].any() and not hess_wide[:, 1:].any()


@pytest.mark.parametrize("suffix", CTYPES)
def test_pseudo_huber_loss_functions(suffix):
    dtype, ctype = CTYPES[suffix]
    x, t = data(dtype)
    x = np.where(np.isfinite(x), x, 0).astype(dtype)
    n = x.size
    array = ctypes.POINTER(ctype)
    loss_and_grad = exported(f"smoothl1_pseudo_huber_loss_and_grad_{suffix}", ctypes.c_double,
                             ctypes.c_ssize_t, array, array, array, ctypes.c_double,
                             ctypes.c_double)
    grad = np.empty_like(x)
    total = loss_and_grad(n, pointer(x, ctype), pointer(t, ctype), pointer(grad, ctype), 2.0,
                          1.0)
    loss, expected_grad = smoothl1.pseudo_huber_loss_and_grad(x, t, delta=2.0, reduction="sum")
    assert dtype(total) == loss
    assert grad.tobytes() == expected_grad.tobytes()
    elementwise = exported(f"smoothl1_pseudo_huber_loss_{suffix}", None, ctypes.c_ssize_t,
                           array, array, array, ctypes.c_double)
    out = np.empty_like(x)
    elementwise(n, pointer(x, ctype), pointer(t, ctype), pointer(out, ctype), 2.0)
    assert out.tobytes() == smoothl1.pseudo_huber_loss(x, t, delta=2.0,
                                                       reduction="none").tobytes()


@pytest.mark.parametrize("curvature", ["exact", "irls", "one"])
@pytest.mark.parametrize("suffix", CTYPES)
@pytest.mark.parametrize("loss", PARAM)
def test_grad_hess_functions_with_a_parameter_per_element(loss, suffix, curvature):
    # smoothl1_<loss>_grad_hess_<curvature>_<dtype>_params[_strided]: element i's beta or
    # delta is param[i * stride]; the Python API's results for the same array, bit for bit,
    # whatever the stride (strided parameters are gathered a block at a time; 0 is one value)
    dtype, ctype = CTYPES[suffix]
    x, t = data(dtype)
    n = x.size
    rng = np.random.default_rng(51)
    values = rng.uniform(0.2, 3.0, n).astype(dtype)
    values[::101] = np.inf
    if loss == "smooth_l1":
        values[7::103] = 0.0
    grad_hess = getattr(smoothl1, f"{loss}_grad_hess")
    expected = grad_hess(x, t, curvature=curvature, **{PARAM[loss]: values})
    array = ctypes.POINTER(ctype)
    name = f"smoothl1_{loss}_grad_hess_{curvature}_{suffix}_params"
    contiguous = exported(name, None, ctypes.c_ssize_t, array, array, array, array, array)
    grad, hess = np.empty_like(x), np.empty_like(x)
    contiguous(n, pointer(x, ctype), pointer(t, ctype), pointer(grad, ctype),
               pointer(hess, ctype), pointer(values, ctype))
    assert grad.tobytes() == expected[0].tobytes() and hess.tobytes() == expected[1].tobytes()
    strided = exported(name + "_strided", None, ctypes.c_ssize_t, array, ctypes.c_ssize_t,
                       array, ctypes.c_ssize_t, array, ctypes.c_ssize_t, array,
                       ctypes.c_ssize_t, array, ctypes.c_ssize_t)
    for step in [3, -2]:
        memory = np.full(abs(step) * n, -1.0, dtype)   # invalid values between the used ones
        view = memory[::step][:n]
        view[...] = values
        start = pointer(view, ctype)   # the address of element 0 (the last in memory if < 0)
        wide, hess_wide = np.zeros((n, 2), dtype), np.zeros((n, 3), dtype)
        strided(n, pointer(x, ctype), 1, pointer(t, ctype), 1, pointer(wide, ctype), 2,
                pointer(hess_wide, ctype), 3, start, step)
        assert wide[:, 0].tobytes() == expected[0].tobytes()
        assert hess_wide[:, 0].tobytes() == expected[1].tobytes()
        assert not wide[:, 1].any() and not hess_wide[:, 1:].any()
    one = np.array([0.7], dtype)   # stride 0: the scalar function's results
    scalar = grad_hess(x, t, curvature=curvature, **{PARAM[loss]: float(one[0])})
    strided(n, pointer(x, ctype), 1, pointer(t, ctype), 1, pointer(grad, ctype), 1,
            pointer(hess, ctype), 1, pointer(one, ctype), 0)
    assert grad.tobytes() == scalar[0].tobytes() and hess.tobytes() == scalar[1].tobytes()
