"""Type stubs for smoothl1's public API (the loss functions, the grad_hess functions,
least_squares_loss, get_include, __version__)."""
from typing import Any, Literal, TypeVar, overload

import numpy as np
import numpy.typing as npt

__version__: str
__all__ = [
    "smooth_l1_loss", "smooth_l1_grad", "smooth_l1_loss_and_grad",
    "huber_loss", "huber_grad", "huber_loss_and_grad",
    "pseudo_huber_loss", "pseudo_huber_grad", "pseudo_huber_loss_and_grad",
    "smooth_l1_grad_hess", "huber_grad_hess", "pseudo_huber_grad_hess",
    "least_squares_loss", "get_include",
]

# input's dtype decides the result's: float32 in, float32 out; float64 in, float64 out. (The
# bound admits every NumPy float so that arrays typed ``NDArray[np.floating[Any]]`` check; only
# float32 and float64 are accepted at run time, other dtypes raise TypeError.)
_Float = TypeVar("_Float", bound=np.floating[Any])
_Reduced = Literal["mean", "sum"]
_Reduction = Literal["mean", "sum", "none"]
# target and weight: an array of input's dtype, or a Python number / list of numbers.
_Operand = npt.ArrayLike
# beta and delta: a number, or an array / list of one per element (same rules as weight).
_Param = float | npt.ArrayLike
# axis of a reduction: None (every dimension), an int or a tuple of ints, as in NumPy.
_Axis = int | tuple[int, ...] | None

def get_include() -> str: ...

@overload
def smooth_l1_loss(
    input: npt.NDArray[_Float], target: _Operand, *, beta: _Param = 1.0,
    reduction: _Reduced = "mean", weight: _Operand | None = None, axis: None = None,
    keepdims: Literal[False] = False, out: None = None,
    n_threads: int | None = None,
) -> _Float: ...
@overload
def smooth_l1_loss(
    input: npt.NDArray[_Float], target: _Operand, *, beta: _Param = 1.0,
    reduction: Literal["none"], weight: _Operand | None = None, axis: None = None,
    keepdims: Literal[False] = False,
    out: npt.NDArray[_Float] | None = None, n_threads: int | None = None,
) -> npt.NDArray[_Float]: ...
@overload
def smooth_l1_loss(
    input: npt.NDArray[_Float], target: _Operand, *, beta: _Param = 1.0,
    reduction: str = "mean", weight: _Operand | None = None, axis: _Axis = None,
    keepdims: bool = False,
    out: npt.NDArray[_Float] | None = None, n_threads: int | None = None,
) -> _Float | npt.NDArray[_Float]: ...
def smooth_l1_grad(
    input: npt.NDArray[_Float], target: _Operand, *, beta: _Param = 1.0,
    reduction: _Reduction = "mean", weight: _Operand | None = None, axis: _Axis = None,
    keepdims: bool = False,
    out: npt.NDArray[_Float] | None = None, n_threads: int | None = None,
) -> npt.NDArray[_Float]: ...
@overload
def smooth_l1_loss_and_grad(
    input: npt.NDArray[_Float], target: _Operand, *, beta: _Param = 1.0,
    reduction: _Reduced = "mean", weight: _Operand | None = None, axis: None = None,
    keepdims: Literal[False] = False, out: None = None,
    grad_out: npt.NDArray[_Float] | None = None, n_threads: int | None = None,
) -> tuple[_Float, npt.NDArray[_Float]]: ...
@overload
def smooth_l1_loss_and_grad(
    input: npt.NDArray[_Float], target: _Operand, *, beta: _Param = 1.0,
    reduction: Literal["none"], weight: _Operand | None = None, axis: None = None,
    keepdims: Literal[False] = False,
    out: npt.NDArray[_Float] | None = None, grad_out: npt.NDArray[_Float] | None = None,
    n_threads: int | None = None,
) -> tuple[npt.NDArray[_Float], npt.NDArray[_Float]]: ...
@overload
def smooth_l1_loss_and_grad(
    input: npt.NDArray[_Float], target: _Operand, *, beta: _Param = 1.0,
    reduction: str = "mean", weight: _Operand | None = None, axis: _Axis = None,
    keepdims: bool = False,
    out: npt.NDArray[_Float] | None = None, grad_out: npt.NDArray[_Float] | None = None,
    n_threads: int | None = None,
) -> tuple[_Float | npt.NDArray[_Float], npt.NDArray[_Float]]: ...
@overload
def huber_loss(
    input: npt.NDArray[_Float], target: _Operand, *, delta: _Param = 1.0,
    reduction: _Reduced = "mean", weight: _Operand | None = None, axis: None = None,
    keepdims: Literal[False] = False, out: None = None,
    n_threads: int | None = None,
) -> _Float: ...
@overload
def huber_loss(
    input: npt.NDArray[_Float], target: _Operand, *, delta: _Param = 1.0,
    reduction: Literal["none"], weight: _Operand | None = None, axis: None = None,
    keepdims: Literal[False] = False,
    out: npt.NDArray[_Float] | None = None, n_threads: int | None = None,
) -> npt.NDArray[_Float]: ...
@overload
def huber_loss(
    input: npt.NDArray[_Float], target: _Operand, *, delta: _Param = 1.0,
    reduction: str = "mean", weight: _Operand | None = None, axis: _Axis = None,
    keepdims: bool = False,
    out: npt.NDArray[_Float] | None = None, n_threads: int | None = None,
) -> _Float | npt.NDArray[_Float]: ...
def huber_grad(
    input: npt.NDArray[_Float], target: _Operand, *, delta: _Param = 1.0,
    reduction: _Reduction = "mean", weight: _Operand | None = None, axis: _Axis = None,
    keepdims: bool = False,
    out: npt.NDArray[_Float] | None = None, n_threads: int | None = None,
) -> npt.NDArray[_Float]: ...
@overload
def huber_loss_and_grad(
    input: npt.NDArray[_Float], target: _Operand, *, delta: _Param = 1.0,
    reduction: _Reduced = "mean", weight: _Operand | None = None, axis: None = None,
    keepdims: Literal[False] = False, out: None = None,
    grad_out: npt.NDArray[_Float] | None = None, n_threads: int | None = None,
) -> tuple[_Float, npt.NDArray[_Float]]: ...
@overload
def huber_loss_and_grad(
    input: npt.NDArray[_Float], target: _Operand, *, delta: _Param = 1.0,
    reduction: Literal["none"], weight: _Operand | None = None, axis: None = None,
    keepdims: Literal[False] = False,
    out: npt.NDArray[_Float] | None = None, grad_out: npt.NDArray[_Float] | None = None,
    n_threads: int | None = None,
) -> tuple[npt.NDArray[_Float], npt.NDArray[_Float]]: ...
@overload
def huber_loss_and_grad(
    input: npt.NDArray[_Float], target: _Operand, *, delta: _Param = 1.0,
    reduction: str = "mean", weight: _Operand | None = None, axis: _Axis = None,
    keepdims: bool = False,
    out: npt.NDArray[_Float] | None = None, grad_out: npt.NDArray[_Float] | None = None,
    n_threads: int | None = None,
) -> tuple[_Float | npt.NDArray[_Float], npt.NDArray[_Float]]: ...

@overload
def pseudo_huber_loss(
    input: npt.NDArray[_Float], target: _Operand, *, delta: _Param = 1.0,
    reduction: _Reduced = "mean", weight: _Operand | None = None, axis: None = None,
    keepdims: Literal[False] = False, out: None = None,
    n_threads: int | None = None,
) -> _Float: ...
@overload
def pseudo_huber_loss(
    input: npt.NDArray[_Float], target: _Operand, *, delta: _Param = 1.0,
    reduction: Literal["none"], weight: _Operand | None = None, axis: None = None,
    keepdims: Literal[False] = False,
    out: npt.NDArray[_Float] | None = None, n_threads: int | None = None,
) -> npt.NDArray[_Float]: ...
@overload
def pseudo_huber_loss(
    input: npt.NDArray[_Float], target: _Operand, *, delta: _Param = 1.0,
    reduction: str = "mean", weight: _Operand | None = None, axis: _Axis = None,
    keepdims: bool = False,
    out: npt.NDArray[_Float] | None = None, n_threads: int | None = None,
) -> _Float | npt.NDArray[_Float]: ...
def pseudo_huber_grad(
    input: npt.NDArray[_Float], target: _Operand, *, delta: _Param = 1.0,
    reduction: _Reduction = "mean", weight: _Operand | None = None, axis: _Axis = None,
    keepdims: bool = False,
    out: npt.NDArray[_Float] | None = None, n_threads: int | None = None,
) -> npt.NDArray[_Float]: ...
@overload
def pseudo_huber_loss_and_grad(
    input: npt.NDArray[_Float], target: _Operand, *, delta: _Param = 1.0,
    reduction: _Reduced = "mean", weight: _Operand | None = None, axis: None = None,
    keepdims: Literal[False] = False, out: None = None,
    grad_out: npt.NDArray[_Float] | None = None, n_threads: int | None = None,
) -> tuple[_Float, npt.NDArray[_Float]]: ...
@overload
def pseudo_huber_loss_and_grad(
    input: npt.NDArray[_Float], target: _Operand, *, delta: _Param = 1.0,
    reduction: Literal["none"], weight: _Operand | None = None, axis: None = None,
    keepdims: Literal[False] = False,
    out: npt.NDArray[_Float] | None = None, grad_out: npt.NDArray[_Float] | None = None,
    n_threads: int | None = None,
) -> tuple[npt.NDArray[_Float], npt.NDArray[_Float]]: ...
@overload
def pseudo_huber_loss_and_grad(
    input: npt.NDArray[_Float], target: _Operand, *, delta: _Param = 1.0,
    reduction: str = "mean", weight: _Operand | None = None, axis: _Axis = None,
    keepdims: bool = False,
    out: npt.NDArray[_Float] | None = None, grad_out: npt.NDArray[_Float] | None = None,
    n_threads: int | None = None,
) -> tuple[_Float | npt.NDArray[_Float], npt.NDArray[_Float]]: ...

_Curvature = Literal["exact", "irls", "one"]

def smooth_l1_grad_hess(
    input: npt.NDArray[_Float], target: _Operand, *, beta: _Param = 1.0,
    weight: _Operand | None = None, curvature: _Curvature = "exact",
    grad_out: npt.NDArray[_Float] | None = None, hess_out: npt.NDArray[_Float] | None = None,
    n_threads: int | None = None,
) -> tuple[npt.NDArray[_Float], npt.NDArray[_Float]]: ...
def huber_grad_hess(
    input: npt.NDArray[_Float], target: _Operand, *, delta: _Param = 1.0,
    weight: _Operand | None = None, curvature: _Curvature = "exact",
    grad_out: npt.NDArray[_Float] | None = None, hess_out: npt.NDArray[_Float] | None = None,
    n_threads: int | None = None,
) -> tuple[npt.NDArray[_Float], npt.NDArray[_Float]]: ...
def pseudo_huber_grad_hess(
    input: npt.NDArray[_Float], target: _Operand, *, delta: _Param = 1.0,
    weight: _Operand | None = None, curvature: _Curvature = "exact",
    grad_out: npt.NDArray[_Float] | None = None, hess_out: npt.NDArray[_Float] | None = None,
    n_threads: int | None = None,
) -> tuple[npt.NDArray[_Float], npt.NDArray[_Float]]: ...

class LeastSquaresLoss:
    loss: str
    param: float
    def __init__(self, loss: str, param: float) -> None: ...
    def __call__(
        self, z: npt.NDArray[np.float64], cost_only: bool = False,
    ) -> npt.NDArray[np.float64]: ...

@overload
def least_squares_loss(loss: Literal["smooth_l1"], *, beta: float = 1.0) -> LeastSquaresLoss: ...
@overload
def least_squares_loss(
    loss: Literal["huber", "pseudo_huber"], *, delta: float = 1.0,
) -> LeastSquaresLoss: ...
