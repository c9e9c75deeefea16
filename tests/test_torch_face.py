"""smoothl1.torch (docs/contract.md section 18): values and gradients against
torch.nn.functional and the oracle, gradcheck, the means by name, the MMDetection modules,
errors, zero-copy, layouts, threads, and a short training loop."""
import inspect
import subprocess
import sys

import numpy as np
import pytest

from reference import LOSSES, PARAM_NAME, reference

torch = pytest.importorskip("torch")
F = torch.nn.functional
st = pytest.importorskip("smoothl1.torch")
adapter = pytest.importorskip("smoothl1._adapters.torch")
torch_autograd = pytest.importorskip("smoothl1._adapters.torch_autograd")

BETAS = [0.0, 1 / 9, 1.0, 3.0]
DTYPES = [torch.float32, torch.float64]
DTYPE_IDS = ["float32", "float64"]
# the losses torch.nn.functional has, with beta (and delta, which must be > 0) in BETAS
TORCH_PEERS = ([pytest.param("smooth_l1", p, id=f"smooth_l1-beta={p:g}") for p in BETAS]
               + [pytest.param("huber", p, id=f"huber-delta={p:g}") for p in BETAS if p > 0])


def _data(shape, dtype=torch.float64, seed=0, scale=2.0):
    generator = torch.Generator().manual_seed(seed)
    target = torch.randn(shape, generator=generator, dtype=torch.float64)
    input = target + scale * torch.randn(shape, generator=generator, dtype=torch.float64)
    return input.to(dtype), target.to(dtype)


def _function(loss):
    return getattr(st, loss + "_loss")


def _torch_peer(loss, input, target, reduction, param):
    if loss == "smooth_l1":
        return F.smooth_l1_loss(input, target, reduction=reduction, beta=param)
    return F.huber_loss(input, target, reduction=reduction, delta=param)


def _within_ulps(got, expected64, ulps):
    """got (float32) within `ulps` float32 ulps of the float64 values expected64."""
    expected = expected64.detach().numpy()
    spacing = np.spacing(np.abs(expected).astype(np.float32)).astype(np.float64)
    error = np.abs(got.detach().numpy().astype(np.float64) - expected)
    assert np.all(error <= ulps * spacing), float(np.max(error / spacing))


# -- the module ----------------------------------------------------------------------------------

def test_every_loss_of_the_table_has_its_function_and_module():
    from smoothl1._core.losses import LOSSES as ROWS
    assert st.__all__ == ([row.name + "_loss" for row in ROWS]
                          + [adapter.class_name(row) for row in ROWS])
    for row in ROWS:
        function = getattr(st, row.name + "_loss")
        assert function.__module__ == "smoothl1.torch"
        parameters = inspect.signature(function).parameters
        assert list(parameters)[:4] == ["input", "target", "reduction", row.param]
        assert parameters[row.param].default == row.default
        assert parameters["reduction"].default == "mean"
        module = getattr(st, adapter.class_name(row))()
        assert isinstance(module, torch.nn.Module)
        assert getattr(module, row.param) == row.default and module.loss_weight == 1.0
    assert [adapter.class_name(row) for row in ROWS][:3] == [
        "SmoothL1Loss", "HuberLoss", "PseudoHuberLoss"]


def test_importing_smoothl1_does_not_import_torch():
    code = "import sys, smoothl1; assert 'torch' not in sys.modules, 'torch imported'"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_without_pytorch_the_import_error_says_what_to_install():
    code = ("import sys; sys.modules['torch'] = None\n"
            "try:\n    import smoothl1.torch\n"
            "except ImportError as error:\n    print(error.name, '|', error)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ('torch | smoothl1.torch needs PyTorch: install it with pip '
                                     'install "smoothl1[torch]"')


# -- values and gradients against torch.nn.functional ------------------------------------------

@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("loss, param", TORCH_PEERS)
def test_float64_values_and_gradients_equal_torch(loss, param, reduction):
    input, target = _data((257, 4), seed=1)
    x, t = input.clone().requires_grad_(), target.clone().requires_grad_()
    x_ref, t_ref = input.clone().requires_grad_(), target.clone().requires_grad_()
    got = _function(loss)(x, t, reduction, param)
    expected = _torch_peer(loss, x_ref, t_ref, reduction, param)
    assert got.dtype == torch.float64 and got.shape == expected.shape
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-300)
    seed = torch.randn(got.shape, dtype=torch.float64) if reduction == "none" else None
    got.backward(seed)
    expected.backward(seed)
    torch.testing.assert_close(x.grad, x_ref.grad, rtol=1e-12, atol=1e-300)
    torch.testing.assert_close(t.grad, t_ref.grad, rtol=1e-12, atol=1e-300)
    torch.testing.assert_close(t.grad, -x.grad, rtol=0, atol=0)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("loss, param", TORCH_PEERS)
def test_float32_within_2_ulps_of_a_float64_reference(loss, param, reduction):
    input, target = _data((1000,), dtype=torch.float32, seed=2)
    x = input.clone().requires_grad_()
    got = _function(loss)(x, target, reduction, param)
    expected = _torch_peer(loss, input.double(), target.double(), reduction, param)
    _within_ulps(got, expected, 2)
    seed = torch.ones(got.shape) if reduction == "none" else None
    got.backward(seed)
    x64 = input.double().requires_grad_()
    _torch_peer(loss, x64, target.double(), reduction, param).backward(
        None if seed is None else seed.double())
    _within_ulps(x.grad, x64.grad, 2)


def test_beta_zero_is_plain_l1_with_the_gradient_sign_d():
    """beta=0: the gradient is sign(d) / N, with sign(0) = 0 (no division by zero)."""
    x = torch.tensor([1.0, -2.0, 0.0, 3.0], dtype=torch.float64, requires_grad=True)
    t = torch.zeros(4, dtype=torch.float64)
    st.smooth_l1_loss(x, t, beta=0.0).backward()
    torch.testing.assert_close(x.grad, torch.tensor([0.25, -0.25, 0.0, 0.25],
                                                    dtype=torch.float64))


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("reduction", ["none", "mean", "sum", "weighted_mean"])
def test_every_loss_matches_the_oracle_with_weights_and_tensor_parameters(loss, reduction):
    input, target = _data((50, 4), seed=3)
    weight = torch.rand((50, 1), dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    param = torch.tensor([0.5, 1.0, 2.0, 0.25], dtype=torch.float64)
    got = _function(loss)(input, target, reduction, param, weight=weight)
    numpy_reduction = {"weighted_mean": "mean", "mean": "sum"}.get(reduction, reduction)
    expected, _ = reference(loss, input.numpy(), target.numpy(), param.numpy(),
                            numpy_reduction, weight.numpy())
    if reduction == "mean":   # PyTorch's convention: mean(w * l) over the input's elements
        expected = expected / input.numel()
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-13)


# -- the means, by name ------------------------------------------------------------------------

def test_the_three_weighted_means_side_by_side():
    input, target = _data((64, 4), seed=5)
    weight = torch.rand((64, 1), dtype=torch.float64, generator=torch.Generator().manual_seed(6))
    elementwise = F.smooth_l1_loss(input, target, reduction="none", beta=0.5) * weight
    mean = st.smooth_l1_loss(input, target, beta=0.5, weight=weight)
    torch.testing.assert_close(mean, elementwise.mean(), rtol=1e-13, atol=0)
    # the same as torch's F.huber_loss(weight=) convention, for Huber
    huber = st.huber_loss(input, target, delta=0.5, weight=weight.expand(64, 4))
    torch.testing.assert_close(huber, F.huber_loss(input, target, delta=0.5,
                                                   weight=weight.expand(64, 4)),
                               rtol=1e-13, atol=0)
    weighted = st.smooth_l1_loss(input, target, "weighted_mean", 0.5, weight=weight)
    torch.testing.assert_close(weighted, elementwise.sum() / weight.expand(64, 4).sum(),
                               rtol=1e-13, atol=0)
    by_count = st.smooth_l1_loss(input, target, beta=0.5, weight=weight, avg_factor=17)
    torch.testing.assert_close(by_count, elementwise.sum() / 17, rtol=1e-13, atol=0)
    # and their gradients
    for reduction, avg_factor, reference_value in (
            ("mean", None, lambda x: (F.smooth_l1_loss(x, target, reduction="none", beta=0.5)
                                      * weight).mean()),
            ("weighted_mean", None,
             lambda x: (F.smooth_l1_loss(x, target, reduction="none", beta=0.5)
                        * weight).sum() / weight.expand(64, 4).sum()),
            ("mean", 17, lambda x: (F.smooth_l1_loss(x, target, reduction="none", beta=0.5)
                                    * weight).sum() / 17)):
        x, x_ref = input.clone().requires_grad_(), input.clone().requires_grad_()
        st.smooth_l1_loss(x, target, reduction, 0.5, weight=weight,
                          avg_factor=avg_factor).backward()
        reference_value(x_ref).backward()
        torch.testing.assert_close(x.grad, x_ref.grad, rtol=1e-13, atol=1e-300)


def test_weight_shapes_per_box_per_coordinate_and_full():
    input, target = _data((30, 4), seed=7)
    elementwise = F.smooth_l1_loss(input, target, reduction="none")
    for weight in (torch.rand(30, 1, dtype=torch.float64), torch.rand(4, dtype=torch.float64),
                   torch.rand(30, 4, dtype=torch.float64), 0.5):
        got = st.smooth_l1_loss(input, target, "sum", weight=weight)
        torch.testing.assert_close(got, (elementwise * weight).sum(), rtol=1e-13, atol=0)


def test_empty_input():
    x = torch.empty(0, 4, requires_grad=True)
    t = torch.empty(0, 4)
    assert torch.isnan(st.smooth_l1_loss(x, t))
    assert torch.isnan(st.smooth_l1_loss(x, t, weight=torch.ones(0, 1)))
    assert st.smooth_l1_loss(x, t, "sum") == 0
    st.smooth_l1_loss(x, t, "sum").backward()
    assert x.grad.shape == (0, 4)


# -- reductions along dimensions (dim=, keepdim=) ------------------------------------------------

@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", [-1, 0, (0, 1), [1]], ids=["-1", "0", "(0,1)", "[1]"])
def test_reductions_along_dim(dim, keepdim):
    input, target = _data((6, 4), seed=30)
    weight = torch.rand(6, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(31))
    elementwise = F.smooth_l1_loss(input, target, reduction="none", beta=0.5) * weight
    dims = tuple(dim) if isinstance(dim, list) else dim
    weights = weight.expand(6, 4)
    expected = {
        ("sum", None): elementwise.sum(dims, keepdim=keepdim),
        ("mean", None): elementwise.mean(dims, keepdim=keepdim),
        ("weighted_mean", None): (elementwise.sum(dims, keepdim=keepdim)
                                  / weights.sum(dims, keepdim=keepdim)),
        ("mean", 2.5): elementwise.sum(dims, keepdim=keepdim) / 2.5,
    }
    for (reduction, avg_factor), value in expected.items():
        got = st.smooth_l1_loss(input, target, reduction, 0.5, weight=weight,
                                avg_factor=avg_factor, dim=dim, keepdim=keepdim)
        torch.testing.assert_close(got, value, rtol=1e-13, atol=0)
    # unweighted, float32: PyTorch's values, the mean of each group rounded once
    x32, t32 = input.float(), target.float()
    got = st.huber_loss(x32, t32, "mean", 0.5, dim=dim, keepdim=keepdim)
    reference64 = F.huber_loss(input.float().double(), target.float().double(),
                               reduction="none", delta=0.5).mean(dims, keepdim=keepdim)
    assert got.dtype == torch.float32
    _within_ulps(got, reference64, 2)


@pytest.mark.parametrize("reduction, avg_factor", [("sum", None), ("mean", None),
                                                   ("weighted_mean", None), ("mean", 2.5)])
def test_gradcheck_along_dim(reduction, avg_factor):
    generator = torch.Generator().manual_seed(32)
    input = torch.randn(5, 4, dtype=torch.float64, generator=generator, requires_grad=True)
    target = torch.randn(5, 4, dtype=torch.float64, generator=generator, requires_grad=True)
    weight = torch.rand(5, 1, dtype=torch.float64, generator=generator) + 0.1
    beta = torch.rand(4, dtype=torch.float64, generator=generator) + 0.5
    for dim, keepdim in ((-1, False), (0, True)):
        assert torch.autograd.gradcheck(
            lambda x, t: st.smooth_l1_loss(x, t, reduction, beta, weight=weight,
                                           avg_factor=avg_factor, dim=dim, keepdim=keepdim),
            (input, target))


def test_dim_errors_name_dim_and_keepdim():
    x = torch.zeros(3, 4)
    with pytest.raises(ValueError, match="dim 2 is out of bounds"):
        st.smooth_l1_loss(x, x, dim=2)
    with pytest.raises(TypeError, match="dim must be None, an int or a tuple of ints"):
        st.smooth_l1_loss(x, x, dim=1.0)
    with pytest.raises(TypeError, match="keepdim must be True or False"):
        st.smooth_l1_loss(x, x, dim=0, keepdim=1)
    with pytest.raises(ValueError, match="dim and keepdim are only accepted with a reduction"):
        st.smooth_l1_loss(x, x, "none", dim=0)


# -- gradcheck ---------------------------------------------------------------------------------

GRADCHECK_CASES = [
    pytest.param(reduction, avg_factor, id=f"{reduction}{'-avg_factor' if avg_factor else ''}")
    for reduction, avg_factor in (("none", None), ("mean", None), ("sum", None),
                                  ("weighted_mean", None), ("mean", 3.5))]


@pytest.mark.parametrize("reduction, avg_factor", GRADCHECK_CASES)
@pytest.mark.parametrize("loss", LOSSES)
def test_gradcheck_with_weights_and_per_element_parameters(loss, reduction, avg_factor):
    generator = torch.Generator().manual_seed(8)
    input = torch.randn(6, 4, dtype=torch.float64, generator=generator, requires_grad=True)
    target = torch.randn(6, 4, dtype=torch.float64, generator=generator, requires_grad=True)
    weight = torch.rand(6, 1, dtype=torch.float64, generator=generator) + 0.1
    param = torch.rand(6, 4, dtype=torch.float64, generator=generator) + 0.5
    function = _function(loss)

    def value(x, t):
        return function(x, t, reduction, param, weight=weight, avg_factor=avg_factor)

    assert torch.autograd.gradcheck(value, (input, target))
    # a broadcast target (one per coordinate) gets its gradient summed to its shape
    per_coordinate = torch.randn(4, dtype=torch.float64, generator=generator,
                                 requires_grad=True)
    assert torch.autograd.gradcheck(value, (input, per_coordinate))


def test_gradient_to_target_alone_and_a_second_backward():
    input, target = _data((20, 4), seed=9)
    t = target.clone().requires_grad_()
    st.huber_loss(input, t, delta=0.3).backward()
    t_ref = target.clone().requires_grad_()
    F.huber_loss(input, t_ref, delta=0.3).backward()
    torch.testing.assert_close(t.grad, t_ref.grad, rtol=1e-13, atol=1e-300)
    # retain_graph: the second backward recomputes the gradient and accumulates it
    x = input.clone().requires_grad_()
    loss = st.smooth_l1_loss(x, target, "none", 0.5)
    seed = torch.rand(20, 4, dtype=torch.float64)
    loss.backward(seed, retain_graph=True)
    first = x.grad.clone()
    loss.backward(seed * 2)
    torch.testing.assert_close(x.grad, 3 * first, rtol=1e-14, atol=0)


def test_a_second_backward_after_an_in_place_change_is_refused():
    input, target = _data((5,), seed=10)
    x = input.clone().requires_grad_()
    t = target.clone()
    loss = st.smooth_l1_loss(x, t)
    loss.backward(retain_graph=True)
    t.add_(1.0)
    with pytest.raises(RuntimeError, match="modified in place"):
        loss.backward()


def test_double_backward_is_a_clear_error():
    x = torch.randn(5, dtype=torch.float64, requires_grad=True)
    loss = st.smooth_l1_loss(x, torch.zeros(5, dtype=torch.float64))
    (grad,) = torch.autograd.grad(loss, x, create_graph=True)
    with pytest.raises(RuntimeError, match="does not support double backward"):
        grad.sum().backward()


@pytest.mark.parametrize("weight_shape", [(6, 1), (4,), (6, 4), ()],
                         ids=["per-box", "per-coordinate", "full", "0-d"])
@pytest.mark.parametrize("reduction, avg_factor, dim", [
    ("none", None, None), ("sum", None, None), ("mean", None, None),
    ("weighted_mean", None, None), ("mean", 2.5, None), ("mean", None, -1),
    ("weighted_mean", None, 0), ("sum", None, -1)])
def test_a_weight_that_requires_grad_gets_its_gradient(weight_shape, reduction, avg_factor,
                                                        dim):
    generator = torch.Generator().manual_seed(34)
    input = torch.randn(6, 4, dtype=torch.float64, generator=generator, requires_grad=True)
    target = torch.randn(6, 4, dtype=torch.float64, generator=generator, requires_grad=True)
    beta = torch.rand(4, dtype=torch.float64, generator=generator) + 0.5
    weight = (torch.rand(weight_shape, dtype=torch.float64, generator=generator)
              + 0.1).requires_grad_()

    def value(x, t, w):
        return st.smooth_l1_loss(x, t, reduction, beta, weight=w, avg_factor=avg_factor,
                                 dim=dim)

    assert torch.autograd.gradcheck(value, (input, target, weight))
    # the weight alone: input and target need no gradient
    assert torch.autograd.gradcheck(lambda w: value(input.detach(), target.detach(), w),
                                    (weight,))


def test_the_weight_gradient_equals_torchs_through_the_module():
    input, target = _data((10, 4), seed=35)
    weight = torch.rand(10, 1, dtype=torch.float64).requires_grad_()
    weight_ref = weight.detach().clone().requires_grad_()
    st.SmoothL1Loss(beta=0.5, loss_weight=2.0)(input, target, weight, avg_factor=3).backward()
    _mmdet_smooth_l1(input, target, weight_ref, "mean", 3, beta=0.5,
                     loss_weight=2.0).backward()
    torch.testing.assert_close(weight.grad, weight_ref.grad, rtol=1e-12, atol=1e-300)


def test_a_parameter_that_requires_grad_is_refused():
    x = torch.randn(5, requires_grad=True)
    t = torch.zeros(5)
    with pytest.raises(ValueError, match="beta requires grad"):
        st.smooth_l1_loss(x, t, beta=torch.ones(5, requires_grad=True))
    with pytest.raises(ValueError, match="delta requires grad"):
        st.HuberLoss(delta=torch.ones(5, requires_grad=True))(x, t)
    with pytest.raises(ValueError, match="avg_factor requires grad"):
        st.SmoothL1Loss()(x, t, avg_factor=torch.tensor(2.0, requires_grad=True))
    with torch.no_grad():   # nothing to differentiate: accepted
        st.smooth_l1_loss(x, t, beta=torch.ones(5, requires_grad=True))


def test_the_weight_gradient_refuses_tensors_modified_in_place():
    x = torch.randn(5, dtype=torch.float64)
    weight = torch.rand(5, dtype=torch.float64, requires_grad=True)
    loss = st.smooth_l1_loss(x, torch.zeros(5, dtype=torch.float64), weight=weight)
    x.add_(1.0)
    with pytest.raises(RuntimeError, match="modified in place"):
        loss.backward()


# -- errors --------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.int64, torch.int32,
                                   torch.complex64, torch.bool])
def test_other_dtypes_are_a_type_error_naming_the_argument(dtype):
    bad = torch.zeros(3, dtype=dtype)
    good = torch.zeros(3)
    with pytest.raises(TypeError, match=r"input must be a float32 or float64 tensor"):
        st.smooth_l1_loss(bad, good)
    if dtype != torch.float32:
        with pytest.raises(TypeError, match=r"target must have input's dtype"):
            st.smooth_l1_loss(good, bad)
        with pytest.raises(TypeError, match=r"weight must have input's dtype"):
            st.smooth_l1_loss(good, good, weight=bad)
        with pytest.raises(TypeError, match=r"delta must have input's dtype"):
            st.huber_loss(good, good, delta=bad)


def test_float32_against_float64_is_a_type_error():
    with pytest.raises(TypeError, match=r"target must have input's dtype \(torch.float32\), "
                                        r"got torch.float64"):
        st.smooth_l1_loss(torch.zeros(3), torch.zeros(3, dtype=torch.float64))


def test_another_device_is_a_value_error_naming_the_argument():
    meta = torch.empty(3, device="meta")
    cpu = torch.zeros(3)
    with pytest.raises(ValueError, match=r"input is on device meta.*CPU only"):
        st.smooth_l1_loss(meta, cpu)
    with pytest.raises(ValueError, match=r"target is on device meta"):
        st.smooth_l1_loss(cpu, meta)
    with pytest.raises(ValueError, match=r"weight is on device meta"):
        st.smooth_l1_loss(cpu, cpu, weight=meta)
    with pytest.raises(ValueError, match=r"beta is on device meta"):
        st.smooth_l1_loss(cpu, cpu, beta=meta)


def test_mismatched_shapes_are_a_value_error_naming_the_argument():
    x = torch.zeros(5, 4)
    with pytest.raises(ValueError, match=r"target has shape \(5, 3\)"):
        st.smooth_l1_loss(x, torch.zeros(5, 3))
    with pytest.raises(ValueError, match=r"weight has shape \(5,\)"):
        st.smooth_l1_loss(x, x, weight=torch.zeros(5))
    with pytest.raises(ValueError, match=r"beta has shape \(3,\)"):
        st.smooth_l1_loss(x, x, beta=torch.ones(3))
    with pytest.raises(ValueError, match=r"target has shape \(5, 1\)"):   # (N,1) vs (N,)
        st.smooth_l1_loss(torch.zeros(5), torch.zeros(5, 1))


def test_other_argument_errors():
    x = torch.zeros(4)
    with pytest.raises(TypeError, match="input must be a torch.Tensor, got numpy.ndarray"):
        st.smooth_l1_loss(np.zeros(4), x)
    with pytest.raises(TypeError, match="target must be a torch.Tensor, got float"):
        st.smooth_l1_loss(x, 0.0)
    with pytest.raises(ValueError, match="reduction must be one of 'none', 'mean', 'sum', "
                                         "'weighted_mean', 'element_mean', got 'avg'"):
        st.smooth_l1_loss(x, x, "avg")
    with pytest.raises(ValueError, match="avg_factor is only accepted with reduction='mean'"):
        st.smooth_l1_loss(x, x, "sum", avg_factor=2)
    with pytest.raises(ValueError, match="avg_factor must be a finite number >= 0, got -1.0"):
        st.smooth_l1_loss(x, x, avg_factor=-1)
    with pytest.raises(TypeError, match="avg_factor must be a number"):
        st.smooth_l1_loss(x, x, avg_factor="2")
    with pytest.raises(ValueError, match=r"beta must be >= 0"):
        st.smooth_l1_loss(x, x, beta=-1.0)
    with pytest.raises(ValueError, match=r"delta must be > 0"):
        st.huber_loss(x, x, delta=0.0)
    with pytest.raises(ValueError, match=r"beta must be >= 0 at every element"):
        st.smooth_l1_loss(x, x, beta=torch.tensor([1.0, -1.0, 1.0, 1.0]))
    with pytest.raises(TypeError, match="dense"):
        st.smooth_l1_loss(x.to_sparse(), x)
    with pytest.raises(ValueError, match="n_threads"):
        st.smooth_l1_loss(x, x, n_threads=0)
    with pytest.raises(TypeError):
        st.SmoothL1Loss(1 / 9)   # keyword-only: MMDetection's positional order is refused
    with pytest.raises(TypeError, match="unexpected keyword argument 'beta'"):
        st.HuberLoss(beta=1.0)
    with pytest.raises(ValueError, match="reduction must be"):
        st.SmoothL1Loss(reduction="avg")


# -- memory: no copies, any layout ---------------------------------------------------------------

def _spy(monkeypatch, name):
    """Record the arguments of torch_autograd.<name> (the kernel entry or the NumPy API's
    evaluate)."""
    calls = []
    original = getattr(torch_autograd, name)

    def spy(*args, **kwargs):
        calls.append((args, kwargs))
        return original(*args, **kwargs)

    monkeypatch.setattr(torch_autograd, name, spy)
    return calls


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_contiguous_tensors_are_read_and_written_in_place(monkeypatch, dtype):
    calls = _spy(monkeypatch, "_compute")
    input, target = _data((100, 4), dtype=dtype, seed=11)
    x = input.clone().requires_grad_()
    loss = st.smooth_l1_loss(x, target)
    (args, _), = calls
    kernel_input, kernel_target, kernel_grad = args[2], args[3], args[7]
    assert kernel_input.ctypes.data == x.data_ptr()
    assert kernel_target.ctypes.data == target.data_ptr()
    loss.backward()
    # the gradient the kernel wrote is x.grad itself: handed over, not copied
    assert x.grad.data_ptr() == kernel_grad.ctypes.data
    # "none": the loss tensor is the array the kernel wrote
    calls.clear()
    elementwise = st.smooth_l1_loss(input, target, "none")
    (args, _), = calls
    assert elementwise.data_ptr() == args[6].ctypes.data


def test_strided_tensors_are_read_in_place(monkeypatch):
    calls = _spy(monkeypatch, "_compute")
    base, target = _data((8, 6), seed=33)
    x = base[1:, ::2].t()   # an offset, a step and a transposition
    st.smooth_l1_loss(x, target[1:, ::2].t())
    (args, _), = calls
    assert args[2].ctypes.data == x.data_ptr()
    assert args[2].strides == tuple(stride * 8 for stride in x.stride())


def test_weights_and_parameters_are_read_in_place(monkeypatch):
    calls = _spy(monkeypatch, "_evaluate")
    input, target = _data((10, 4), seed=12)
    weight = torch.rand(10, 1, dtype=torch.float64)
    beta = torch.rand(4, dtype=torch.float64) + 0.5
    st.smooth_l1_loss(input, target, beta=beta, weight=weight)
    (args, kwargs), = calls
    assert kwargs["weight"].ctypes.data == weight.data_ptr()
    assert kwargs["param"].ctypes.data == beta.data_ptr()


VIEWS = {"transposed": lambda base: base.t(), "strided": lambda base: base[::2, ::3],
         "expanded": lambda base: base[:1].expand(5, 10),
         "offset": lambda base: base[3:7, 2:9]}


@pytest.mark.parametrize("layout", list(VIEWS))
def test_non_contiguous_tensors(layout):
    """Views of a (12, 10) leaf, read in place (strides, offsets, a zero stride), against
    PyTorch on contiguous copies; the gradient reaches the leaf through the view."""
    base, base_target = _data((12, 10), seed=13)
    view_of = VIEWS[layout]
    t = base_target[:5] if layout == "expanded" else view_of(base_target)
    assert not view_of(base).is_contiguous()
    for reduction in ("none", "mean", "sum"):
        leaf, leaf_ref = base.clone().requires_grad_(), base.clone().requires_grad_()
        got = st.smooth_l1_loss(view_of(leaf), t, reduction, 0.7)
        expected = F.smooth_l1_loss(view_of(leaf_ref).contiguous(), t.contiguous(),
                                    reduction=reduction, beta=0.7)
        torch.testing.assert_close(got, expected, rtol=1e-13, atol=1e-300)
        seed = torch.ones(got.shape, dtype=torch.float64) if reduction == "none" else None
        got.backward(seed)
        expected.backward(seed)
        torch.testing.assert_close(leaf.grad, leaf_ref.grad, rtol=1e-13, atol=1e-300)


def test_without_a_tensor_that_needs_a_gradient_no_graph_is_made():
    input, target = _data((8, 4), seed=14)
    with torch.no_grad():
        loss = st.smooth_l1_loss(input.clone().requires_grad_(), target)
    assert loss.grad_fn is None and not loss.requires_grad
    loss = st.smooth_l1_loss(input, target)
    assert loss.grad_fn is None


# -- threads -------------------------------------------------------------------------------------

def test_threads_follow_torch_unless_given(monkeypatch):
    calls = _spy(monkeypatch, "_compute")
    input, target = _data((100,), seed=15)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        st.smooth_l1_loss(input, target)
        assert calls[-1][0][10] == 1
        torch.set_num_threads(2)
        st.smooth_l1_loss(input, target)
        assert calls[-1][0][10] == 2
        st.smooth_l1_loss(input, target, n_threads=3)
        assert calls[-1][0][10] == 3
    finally:
        torch.set_num_threads(before)


# -- the MMDetection modules -------------------------------------------------------------------

def _mmdet_smooth_l1(pred, target, weight=None, reduction="mean", avg_factor=None, beta=1.0,
                     loss_weight=1.0):
    """MMDetection's SmoothL1Loss written by hand with torch operations (mmdet/models/losses:
    smooth_l1_loss.py and utils.weight_reduce_loss)."""
    diff = torch.abs(pred - target)
    loss = torch.where(diff < beta, 0.5 * diff * diff / beta, diff - 0.5 * beta)
    if weight is not None:
        loss = loss * weight
    if avg_factor is None:
        loss = {"none": loss, "mean": loss.mean(), "sum": loss.sum()}[reduction]
    elif reduction == "mean":
        loss = loss.sum() / (avg_factor + torch.finfo(torch.float32).eps)
    elif reduction != "none":
        raise ValueError('avg_factor can not be used with reduction="sum"')
    return loss_weight * loss


@pytest.mark.parametrize("avg_factor", [None, 7, 0], ids=["no-avg", "avg=7", "avg=0"])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_module_is_mmdetection_exactly(dtype, reduction, avg_factor):
    if reduction == "sum" and avg_factor is not None:
        module = st.SmoothL1Loss(reduction=reduction)
        with pytest.raises(ValueError, match='avg_factor can not be used with reduction="sum"'):
            module(*_data((4, 4), dtype=dtype), avg_factor=avg_factor)
        return
    input, target = _data((40, 4), dtype=dtype, seed=16)
    weight = (torch.rand(40, 1, generator=torch.Generator().manual_seed(17)) > 0.5).to(dtype)
    module = st.SmoothL1Loss(reduction=reduction, beta=1 / 9, loss_weight=2.5)
    x, x_ref = input.clone().requires_grad_(), input.clone().requires_grad_()
    got = module(x, target, weight, avg_factor=avg_factor)
    expected = _mmdet_smooth_l1(x_ref, target, weight.expand(40, 4), reduction, avg_factor,
                                beta=1 / 9, loss_weight=2.5)
    tolerance = dict(rtol=1e-12, atol=1e-300) if dtype == torch.float64 else dict(rtol=1e-5,
                                                                                  atol=1e-6)
    torch.testing.assert_close(got, expected, **tolerance)
    seed = torch.ones(got.shape, dtype=dtype) if reduction == "none" else None
    got.backward(seed)
    expected.backward(seed)
    torch.testing.assert_close(x.grad, x_ref.grad, **tolerance)


def test_module_reduction_override_tensor_avg_factor_and_mmdetection_shortcuts():
    input, target = _data((10, 4), seed=18)
    weight = torch.rand(10, 4, dtype=torch.float64)
    module = st.SmoothL1Loss(beta=0.5)
    torch.testing.assert_close(module(input, target, weight, reduction_override="sum"),
                               _mmdet_smooth_l1(input, target, weight, "sum", beta=0.5))
    torch.testing.assert_close(
        module(input, target, weight, avg_factor=torch.tensor(3.0)),
        _mmdet_smooth_l1(input, target, weight, "mean", 3.0, beta=0.5))
    # no weight > 0: MMDetection returns (pred * weight).sum(), in the graph
    x = input.clone().requires_grad_()
    zero = module(x, target, torch.zeros(10, dtype=torch.float64))
    assert zero.item() == 0 and zero.requires_grad
    # an empty target: pred.sum() * 0
    empty = module(torch.empty(0, 4, requires_grad=True), torch.empty(0, 4))
    assert empty.item() == 0 and empty.requires_grad
    with pytest.raises(ValueError, match="reduction_override"):
        module(input, target, reduction_override="avg")
    assert "beta=0.5" in repr(module) and "loss_weight=1.0" in repr(module)


@pytest.mark.parametrize("loss", LOSSES)
def test_every_module_is_its_function_scaled(loss):
    input, target = _data((10, 4), seed=19)
    weight = torch.rand(10, 1, dtype=torch.float64)
    name = adapter.class_name(next(row for row in adapter.LOSSES if row.name == loss))
    module = getattr(st, name)(**{PARAM_NAME[loss]: 0.7}, loss_weight=3.0)
    got = module(input, target, weight, avg_factor=5.0)
    expected = 3.0 * _function(loss)(input, target, "mean", 0.7, weight=weight,
                                     avg_factor=5.0 + float(torch.finfo(torch.float32).eps))
    torch.testing.assert_close(got, expected, rtol=1e-15, atol=0)


# -- a training loop ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_box_regression_training_loop_matches_a_hand_written_loss(dtype):
    """A box-regression head trained 10 steps with the MMDetection-style module (weights on
    positive boxes, avg_factor their count) ends with the parameters of the same loop with
    the loss written by hand in PyTorch, to 1e-6."""
    generator = torch.Generator().manual_seed(20)
    features = torch.randn(128, 16, generator=generator, dtype=dtype)
    targets = torch.randn(128, 4, generator=generator, dtype=dtype)
    positive = (torch.rand(128, 1, generator=generator) < 0.4).to(dtype)
    avg_factor = float(positive.sum())

    def train(loss_of):
        torch.manual_seed(21)
        head = torch.nn.Linear(16, 4).to(dtype)
        optimizer = torch.optim.SGD(head.parameters(), lr=0.5, momentum=0.9)
        for _ in range(10):
            optimizer.zero_grad()
            loss_of(head(features)).backward()
            optimizer.step()
        return [parameter.detach().clone() for parameter in head.parameters()]

    module = st.SmoothL1Loss(beta=1 / 9, loss_weight=1.0)
    ours = train(lambda pred: module(pred, targets, positive, avg_factor=avg_factor))
    theirs = train(lambda pred: _mmdet_smooth_l1(pred, targets, positive, "mean", avg_factor,
                                                 beta=1 / 9))
    for got, expected in zip(ours, theirs):
        torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)
    assert not torch.equal(ours[0], train(lambda pred: pred.sum() * 0)[0])   # it trained
