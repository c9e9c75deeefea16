"""Agreement with PyTorch's F.smooth_l1_loss / F.huber_loss: forward values for every
reduction, and autograd gradients for "mean" and "sum"."""
import numpy as np
import pytest

from reference import REDUCTIONS, call

torch = pytest.importorskip("torch")
F = torch.nn.functional

# torch computes float32 in float32 (smoothl1 in double, rounded once): compare loosely there.
TOLERANCE = {np.float32: dict(rtol=2e-6, atol=1e-7), np.float64: dict(rtol=1e-13, atol=1e-300)}


def _data(dtype, param):
    rng = np.random.default_rng(8)
    target = rng.normal(size=300)
    input = target + rng.normal(scale=2.0, size=300)
    d = np.array([0.0, -0.0, param, -param, 0.5 * param, 3 * param, 1e-3, -7.0])
    # exactly at the kink too: |input - target| == param with target 0
    input = np.concatenate([input, d])
    target = np.concatenate([target, np.zeros(d.size)])
    return input.astype(dtype), target.astype(dtype)


def _torch(loss, input, target, param, reduction):
    x = torch.tensor(input, requires_grad=True)
    t = torch.tensor(target)
    if loss == "smooth_l1":
        value = F.smooth_l1_loss(x, t, reduction=reduction, beta=param)
    else:
        value = F.huber_loss(x, t, reduction=reduction, delta=param)
    return x, value


TORCH_PARAMS = ([pytest.param("smooth_l1", p, id=f"smooth_l1-beta={p:g}")
                 for p in (0.0, 1 / 9, 0.5, 1.0, 2.0)]
                + [pytest.param("huber", p, id=f"huber-delta={p:g}")
                   for p in (1 / 9, 0.5, 1.0, 2.0, 10.0)])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("loss, param", TORCH_PARAMS)
def test_forward_matches_torch(loss, param, dtype, reduction):
    input, target = _data(dtype, param)
    _, expected = _torch(loss, input, target, param, reduction)
    got = call(loss, "loss", input, target, param, reduction=reduction)
    np.testing.assert_allclose(got, expected.detach().numpy(), **TOLERANCE[dtype])


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("loss, param", TORCH_PARAMS)
def test_gradient_matches_torch_autograd(loss, param, dtype, reduction):
    input, target = _data(dtype, param)
    x, value = _torch(loss, input, target, param, reduction)
    value.backward()
    expected = x.grad.numpy()
    got = call(loss, "grad", input, target, param, reduction=reduction)
    np.testing.assert_allclose(got, expected, **TOLERANCE[dtype])
    got_loss, got_both = call(loss, "loss_and_grad", input, target, param, reduction=reduction)
    np.testing.assert_allclose(got_both, expected, **TOLERANCE[dtype])
    np.testing.assert_allclose(got_loss, value.detach().numpy(), **TOLERANCE[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("loss, param", TORCH_PARAMS)
def test_elementwise_gradient_matches_torch(loss, param, dtype):
    """"none": the elementwise derivative is torch's gradient of the unreduced loss summed
    with unit weights."""
    input, target = _data(dtype, param)
    x, value = _torch(loss, input, target, param, "none")
    value.backward(torch.ones_like(value))
    got = call(loss, "grad", input, target, param, reduction="none")
    np.testing.assert_allclose(got, x.grad.numpy(), **TOLERANCE[dtype])
