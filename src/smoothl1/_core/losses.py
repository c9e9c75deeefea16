"""The table of losses: the one place where a loss of smoothl1 is listed.

Every face reads it: the public functions and their docstrings (``smoothl1._core.api``,
``smoothl1._core.grad_hess``), ``smoothl1.dask``, ``least_squares_loss``, the boosting
objectives, the command line and the stubs. So does the build: setup.py renders the per-loss
dispatch of the kernels (src/kernels/*.pxi.tp, with Cython's Tempita) and the C API from
``LOSSES``.

What stays hand-written for a loss (docs/contract.md, "Adding a loss"): its parameter structs
and point functions in ``src/kernels/losses/<name>.pxi``, its row here, its reference formula
in tests/reference.py and its section of docs/contract.md.

This module imports nothing but the standard library: setup.py loads it by path, before
anything is built.
"""
from dataclasses import dataclass
from functools import cached_property
from typing import Optional


@dataclass(frozen=True)
class Loss:
    """One loss: what its faces need to name, check and document it, and what the kernels'
    generated dispatch calls.

    The kernels (src/kernels/losses/<name>.pxi) define, for ``kernel = "K"`` and
    ``name = "n"``: the structs ``KParams`` (a scalar parameter, derived once a call) and
    ``KArrayParams`` (the same fields, derived per element), the fused type ``KAny`` of both
    (and of ``fast_scalar``'s struct), ``set_n(KAny*, double)`` that derives the fields, and the
    point functions ``n_loss_point``, ``n_grad_point``, ``n_exact_hess_point`` and
    ``n_irls_hess_point`` of ``(double d, const KAny* p)``.
    """
    name: str            # the functions' prefix; the name the command line, least_squares_loss
                         # and the boosting objectives take; the C API's <loss>
    title: str           # in prose: "smooth L1"
    param: str           # the parameter's keyword: "beta" or "delta"
    zero_allowed: bool   # whether the parameter may be 0 (it is > 0 otherwise)
    kernel: str          # the stem of its Cython structs (see above)
    summary: str         # the first line of <name>_loss's docstring
    formula: str         # the docstrings' formula block: loss and gradient
    param_doc: str       # what the parameter is
    curvatures: str      # grad_hess's table of the curvatures "exact", "irls" and "one"
    default: float = 1.0
    inf_allowed: bool = True      # whether the parameter may be inf
    curvature_note: str = ""      # appended to grad_hess's docstring
    # A variant of KParams for some scalar parameters, chosen per call when
    # <name>_fast_applies(const KParams*) holds, built by <name>_fast_params (the same bits,
    # faster: smooth L1's power-of-two beta multiplies where it would divide).
    fast_scalar: Optional[str] = None
    # The point functions are C (always inlined, in the .pxi's verbatim block), called as
    # smoothl1_<name>_<grad|exact|irls>(d, <fields of the struct>) by grad_hess's loop,
    # where GCC would not inline the Cython wrappers (a call keeps the loop scalar).
    c_fields: tuple = ()
    # What the loss equals in other libraries (least_squares_loss's and the docs' notes).
    scipy_least_squares: str = ""
    # How least_squares_loss computes rho''(z) = (exact - irls) / (2 z) of a squared residual z
    # (exact, irls: the curvatures at sqrt(z)). As written, the difference is exact where it is
    # 0 (the quadratic zone of a piecewise loss) but cancels near 0 for a loss smooth there,
    # and no one formula avoids that for every loss, so the row names its form (derived in
    # smoothl1._adapters.least_squares): "difference" (as written), "exact" (-exact /
    # (2 param**2)), "irls_squared" (-irls**2 / param**2) or "tanh_series" (as written, and a
    # series in (r / param)**2 below r = param / 2).
    least_squares_rho2: str = "difference"
    # How a NumPy user writes the mean loss, stably, in d = x - t and the parameter p: the
    # peer of `python -m smoothl1 bench`'s rows of this loss (docs/speed.md).
    numpy_mean: str = ""

    @cached_property
    def code(self):
        """The kernels' code for this loss (its index in LOSSES). Cached: every call of a loss
        function reads it, and the search compares whole rows (0.6 us for the last one)."""
        return LOSSES.index(self)

    @property
    def accepted(self):
        """The parameter's range, as the error messages say it: ">= 0" or "> 0"."""
        return ">= 0" if self.zero_allowed else "> 0"


LOSSES = (
    Loss(
        name="smooth_l1",
        title="smooth L1", param="beta", zero_allowed=True,
        numpy_mean='np.mean(np.where(np.abs(d) < p, 0.5 * d * d / p, np.abs(d) - 0.5 * p))',
        kernel="SmoothL1", fast_scalar="PowerOfTwoSmoothL1",
        summary="Smooth L1 loss (PyTorch's ``F.smooth_l1_loss``).",
        formula="""
    With ``d = input - target`` and ``z = |d|``, elementwise::

        loss = 0.5 * z**2 / beta   if z < beta   else  z - 0.5 * beta
        grad = d / beta            if z < beta   else  sign(d)

    ``beta = 0`` is plain L1 (``grad = sign(d)``, ``sign(0) = 0``); ``beta = inf`` gives
    ``loss = 0`` for finite ``d``. The loss is continuous with a continuous first derivative.""",
        param_doc="Width of the quadratic zone, ``>= 0`` (default 1.0; ``inf`` is allowed).",
        curvatures="""\
        grad  = d / beta           if z < beta  else  sign(d)
        exact = 1 / beta           if z < beta  else  0          (beta = 0: 0)
        irls  = min(1 / beta, 1 / z)                            (= 1 / max(beta, z))
        one   = 1""",
        curvature_note=("\n\n    With ``beta = 0`` (plain L1) ``\"irls\"`` is ``1 / z``, +inf "
                        "at ``d = 0`` (the limit of\n    ``sign(d) / d``); use ``beta > 0`` "
                        "to keep curvatures finite."),
        scipy_least_squares=('``loss="huber", f_scale=beta`` (whose cost is ``beta`` times '
                             'ours: the same fit)'),
    ),
    Loss(
        name="huber",
        title="Huber", param="delta", zero_allowed=False, kernel="Huber",
        numpy_mean='np.mean(np.where(np.abs(d) < p, 0.5 * d * d, p * (np.abs(d) - 0.5 * p)))',
        summary="Huber loss (PyTorch's ``F.huber_loss``).",
        formula="""
    With ``d = input - target`` and ``z = |d|``, elementwise::

        loss = 0.5 * z**2          if z < delta  else  delta * (z - 0.5 * delta)
        grad = d                   if z < delta  else  delta * sign(d)

    ``huber(d; delta) == delta * smooth_l1(d; beta=delta)``; ``delta = inf`` gives
    ``0.5 * z**2``.""",
        param_doc="Width of the quadratic zone, ``> 0`` (default 1.0; ``inf`` is allowed).",
        curvatures="""\
        grad  = d                  if z < delta else  delta * sign(d)
        exact = 1                  if z < delta else  0
        irls  = min(1, delta / z)
        one   = 1""",
        scipy_least_squares='``loss="huber", f_scale=delta``',
    ),
    Loss(
        name="pseudo_huber",
        title="pseudo-Huber", param="delta", zero_allowed=False,
        numpy_mean='np.mean(p * p * (np.sqrt(1 + (d / p) ** 2) - 1))',
        kernel="PseudoHuber", c_fields=("delta", "finite_delta"),
        summary="Pseudo-Huber (Charbonnier) loss.",
        formula="""
    With ``d = input - target`` and ``q = d / delta``, elementwise::

        loss = delta**2 * (sqrt(1 + q**2) - 1)
        grad = d / sqrt(1 + q**2)

    (Charbonnier; SciPy's ``special.pseudo_huber(delta, d)``, XGBoost's
    ``reg:pseudohubererror`` with ``huber_slope=delta``.) Smooth everywhere: about
    ``0.5 * d**2`` for ``|d| << delta`` and ``delta * |d|`` for ``|d| >> delta``. Computed
    without overflow or cancellation for every finite ``d``; ``d = ±inf`` gives loss inf and
    grad ``±delta``; ``delta = inf`` gives ``0.5 * d**2``.""",
        param_doc=("Scale of the quadratic zone and slope of the asymptotes, ``> 0`` "
                   "(default 1.0; ``inf`` is allowed)."),
        curvatures="""\
        grad  = d / sqrt(1 + (d / delta)**2)
        exact = (1 + (d / delta)**2) ** -1.5
        irls  = 1 / sqrt(1 + (d / delta)**2)
        one   = 1""",
        scipy_least_squares='``loss="soft_l1", f_scale=delta``', least_squares_rho2="exact",
    ),
    Loss(
        name="log_cosh",
        title="log-cosh", param="delta", zero_allowed=False,
        numpy_mean='np.mean(p * p * (np.logaddexp(d / p, -d / p) - np.log(2)))',
        kernel="LogCosh", c_fields=("delta",), least_squares_rho2="tanh_series",
        summary="Log-cosh loss (Keras' ``LogCosh`` and optax's ``log_cosh`` at ``delta = 1``).",
        formula="""
    With ``d = input - target`` and ``q = d / delta``, elementwise::

        loss = delta**2 * log(cosh(q))
        grad = delta * tanh(q)

    Smooth everywhere: about ``0.5 * d**2`` for ``|d| << delta`` and
    ``delta * |d| - delta**2 * log(2)`` for ``|d| >> delta``. Computed without overflow (past
    ``|q| = 710``, where ``cosh`` overflows) or cancellation (near 0) for every finite ``d``;
    ``d = ±inf`` gives loss inf and grad ``±delta``; ``delta = inf`` gives ``0.5 * d**2``.""",
        param_doc=("Scale of the quadratic zone and slope of the asymptotes, ``> 0`` "
                   "(default 1.0; ``inf`` is allowed)."),
        curvatures="""\
        grad  = delta * tanh(d / delta)
        exact = 1 / cosh(d / delta)**2
        irls  = tanh(q) / q              (q = d / delta; 1 at d = 0)
        one   = 1""",
    ),
    Loss(
        name="cauchy",
        title="Cauchy", param="delta", zero_allowed=False,
        numpy_mean='np.mean(0.5 * p * p * np.log1p((d / p) ** 2))',
        kernel="Cauchy", c_fields=("delta",),
        summary="Cauchy (Lorentzian) loss (SciPy's ``least_squares(loss=\"cauchy\")``).",
        formula="""
    With ``d = input - target`` and ``q = d / delta``, elementwise::

        loss = 0.5 * delta**2 * log(1 + q**2)
        grad = d / (1 + q**2)

    (Lorentzian; Ceres' ``CauchyLoss``.) About ``0.5 * d**2`` for ``|d| << delta``, growing
    only logarithmically beyond: the gradient falls back to 0 for large residuals, so gross
    outliers are all but ignored (the loss is not convex past ``|d| = delta``). Computed
    without overflow or cancellation for every finite ``d``; ``d = ±inf`` gives loss inf and
    grad 0; ``delta = inf`` gives ``0.5 * d**2``.""",
        param_doc="Scale of the quadratic zone, ``> 0`` (default 1.0; ``inf`` is allowed).",
        curvatures="""\
        grad  = d / (1 + q**2)                (q = d / delta)
        exact = (1 - q**2) / (1 + q**2)**2    (negative past |d| = delta)
        irls  = 1 / (1 + q**2)
        one   = 1""",
        curvature_note=("\n\n    The ``\"exact\"`` curvature is negative past ``|d| = delta`` "
                        "(the loss is not convex there):\n    Newton-type fitters want "
                        "``\"irls\"``, which is positive for finite ``d``."),
        scipy_least_squares='``loss="cauchy", f_scale=delta``',
        least_squares_rho2="irls_squared",
    ),
)

NAMES = tuple(loss.name for loss in LOSSES)
_BY_NAME = {loss.name: loss for loss in LOSSES}


def loss_named(name, argument="loss"):
    """The row of the loss called ``name``; a ValueError naming ``argument`` and listing the
    losses otherwise (a TypeError for a name that is not a string)."""
    if not isinstance(name, str):
        raise TypeError(f"{argument} must be a string, one of {_listed()}, got "
                        f"{type(name).__name__}")
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(f"{argument} must be one of {_listed()}, got {name!r}") from None


def _listed():
    return ", ".join(repr(name) for name in NAMES)
