"""The public functions of every loss, made from the table of losses (smoothl1._core.losses).

For each row, ``smoothl1`` and ``smoothl1.dask`` get ``<name>_loss``, ``<name>_grad`` and
``<name>_loss_and_grad`` (OPERATIONS), and ``<name>_grad_hess``, with the loss's own keyword
(``beta=1.0`` or ``delta=1.0``) for ``inspect.signature``, ``help()`` and IDEs.

NumPy's are compiled (src/kernels/entry_points.pxi, generated from the same table, with the
signatures written below), so that a small call costs what NumPy's do (docs/contract.md
section 21); ``compiled_function`` gives each its docstring and its module. Dask's are real
``def``s, written from the templates below and executed, as ``collections.namedtuple`` makes
its methods: Python itself refuses a wrong keyword with its usual message, and the call costs
what a hand-written function costs. Each body is one call of the module's ``run`` with the
loss's row and every argument by name.
"""
from dataclasses import dataclass

from .losses import LOSSES


@dataclass(frozen=True)
class Operation:
    """One of the three loss functions of a loss: what it computes, and where ``out`` goes."""
    suffix: str               # of the name: <loss>_loss, <loss>_grad, <loss>_loss_and_grad
    want_loss: bool
    want_grad: bool
    loss_out: str             # the argument passed as the loss buffer: "out" or "None"
    grad_out: str             # and as the gradient buffer
    grad_out_param: str = ""  # the extra parameter, if any, before n_threads


OPERATIONS = (
    Operation("_loss", want_loss=True, want_grad=False, loss_out="out", grad_out="None"),
    Operation("_grad", want_loss=False, want_grad=True, loss_out="None", grad_out="out"),
    Operation("_loss_and_grad", want_loss=True, want_grad=True, loss_out="out",
              grad_out="grad_out", grad_out_param=" grad_out=None,"),
)

_LOSS_FUNCTION = """\
def {name}(input, target, *, {param}={default!r}, reduction="mean", weight=None,
        avg_factor=None, axis=None, keepdims=False, out=None,{grad_out_param} n_threads=None):
    return run(loss, input, target, param={param}, weight=weight, reduction=reduction,
               loss_out={loss_out}, grad_out={grad_out}, n_threads=n_threads,
               want_loss={want_loss}, want_grad={want_grad}, grad_out_name={grad_out_name!r},
               axis=axis, keepdims=keepdims, avg_factor=avg_factor)
"""

_GRAD_HESS_FUNCTION = """\
def {name}(input, target, *, {param}={default!r}, weight=None, curvature="exact",
        grad_out=None, hess_out=None, n_threads=None):
    return run(loss, input, target, param={param}, weight=weight, curvature=curvature,
               grad_out=grad_out, hess_out=hess_out, n_threads=n_threads)
"""


def loss_function_names():
    """The names of the loss functions, loss by loss, in the table's order."""
    return [loss.name + operation.suffix for loss in LOSSES for operation in OPERATIONS]


def grad_hess_names():
    return [loss.name + "_grad_hess" for loss in LOSSES]


def loss_function(loss, operation, run, module, doc):
    """``<loss.name><operation.suffix>`` of ``module``: a call of ``run`` (see api._run)."""
    name = loss.name + operation.suffix
    # The gradient's buffer of <loss>_grad is its "out"; messages name it so.
    grad_out_name = "out" if operation.grad_out == "out" else "grad_out"
    source = _LOSS_FUNCTION.format(
        name=name, param=loss.param, default=loss.default,
        grad_out_param=operation.grad_out_param, loss_out=operation.loss_out,
        grad_out=operation.grad_out, want_loss=operation.want_loss,
        want_grad=operation.want_grad, grad_out_name=grad_out_name)
    return _define(name, source, module, doc, loss=loss, run=run)


def grad_hess_function(loss, run, module, doc):
    """``<loss.name>_grad_hess`` of ``module``: a call of ``run`` (see grad_hess.grad_hess)."""
    name = loss.name + "_grad_hess"
    source = _GRAD_HESS_FUNCTION.format(name=name, param=loss.param, default=loss.default)
    return _define(name, source, module, doc, loss=loss, run=run)


def compiled_function(kernels, name, module, doc):
    """The compiled ``name`` of the kernel build ``kernels`` (src/kernels/entry_points.pxi,
    generated from the same table, with the signature _LOSS_FUNCTION or _GRAD_HESS_FUNCTION
    writes), as the public function of ``module``: its docstring ``doc``, found by pickle and
    help() there (docs/contract.md section 21)."""
    function = getattr(kernels, name)
    function.__module__ = module
    function.__doc__ = doc
    return function


def _define(name, source, module, doc, **names):
    """The function ``source`` defines, with ``names`` as its globals. ``__module__`` is
    ``module`` (the function is found there: pickle and help() see it as written there)."""
    namespace = dict(names, __name__=module)
    exec(compile(source, f"<{module}.{name}, made by smoothl1._core.functions>", "exec"),
         namespace)
    function = namespace[name]
    function.__doc__ = doc
    return function


# For the docstrings that list the losses (least_squares_loss, the boosting objectives).

def quoted_names():
    """'"smooth_l1", "huber", ...': the losses' names, as a set of choices."""
    return ", ".join(f'"{loss.name}"' for loss in LOSSES)


def parameter_ranges():
    """"smooth L1: ``beta >= 0``; Huber, ...: ``delta > 0``": the losses of each parameter."""
    by_param = {}
    for loss in LOSSES:
        by_param.setdefault((loss.param, loss.accepted), []).append(loss.title)
    return "; ".join(f"{', '.join(titles)}: ``{param} {accepted}``"
                     for (param, accepted), titles in by_param.items())
