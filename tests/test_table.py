"""The table of losses (smoothl1._core.losses.LOSSES) drives every face: each row gives the public
functions of smoothl1 and smoothl1.dask with the loss's own keyword, default and docstring,
the parameter checks, the command line's --loss and parameter options, the boosting
objectives and least_squares_loss (docs/contract.md sections 2, 11 and 14)."""
import contextlib
import dataclasses
import importlib
import importlib.util
import inspect
import io
from pathlib import Path

import numpy as np
import pytest

import smoothl1
import smoothl1.boosting as boosting
from smoothl1 import cli
from smoothl1._core import validation as _validation
from smoothl1._core.losses import LOSSES, NAMES

ROWS = [pytest.param(loss, id=loss.name) for loss in LOSSES]
OPERATIONS = ("_loss", "_grad", "_loss_and_grad", "_grad_hess")
OTHER_PARAMS = {loss.param for loss in LOSSES}


def namespaces():
    """smoothl1, and smoothl1.dask where Dask is installed."""
    yield smoothl1
    try:
        dask_module = importlib.import_module("smoothl1.dask")
    except ImportError:
        return
    yield dask_module


@pytest.mark.parametrize("loss", ROWS)
@pytest.mark.parametrize("operation", OPERATIONS)
def test_every_row_has_its_functions_with_its_keyword(loss, operation):
    for module in namespaces():
        name = loss.name + operation
        function = getattr(module, name)
        assert name in module.__all__
        assert function.__name__ == name and function.__qualname__ == name
        parameters = inspect.signature(function).parameters
        assert list(parameters)[:2] == ["input", "target"]
        keyword = parameters[loss.param]
        assert keyword.kind is inspect.Parameter.KEYWORD_ONLY
        assert keyword.default == loss.default
        assert not (OTHER_PARAMS - {loss.param}) & set(parameters)


@pytest.mark.parametrize("loss", ROWS)
def test_a_wrong_keyword_is_pythons_own_type_error(loss):
    wrong = next(iter(OTHER_PARAMS - {loss.param}))
    x = np.zeros(3)
    with pytest.raises(TypeError, match=f"{loss.name}_loss\\(\\) got an unexpected keyword "
                                        f"argument '{wrong}'"):
        getattr(smoothl1, loss.name + "_loss")(x, x, **{wrong: 1.0})
    with pytest.raises(TypeError, match="positional argument"):
        getattr(smoothl1, loss.name + "_grad")(x, x, 0.5)


@pytest.mark.parametrize("loss", ROWS)
def test_docstrings_come_from_the_row(loss):
    doc = getattr(smoothl1, loss.name + "_loss").__doc__
    assert doc.startswith(loss.summary)
    assert loss.formula in doc and loss.param_doc in doc
    assert f"    {loss.param} : float, or ndarray or list, keyword-only" in doc
    grad_hess_doc = getattr(smoothl1, loss.name + "_grad_hess").__doc__
    assert loss.curvatures in grad_hess_doc and loss.param_doc in grad_hess_doc
    assert grad_hess_doc.startswith(f"Gradient and curvature of the {loss.title} loss.")
    for listing in (smoothl1.least_squares_loss.__doc__, boosting.xgboost_objective.__doc__):
        assert f'"{loss.name}"' in listing and loss.title in listing


def test_module_lists_come_from_the_table():
    expected = ([loss.name + suffix for loss in LOSSES
                 for suffix in ("_loss", "_grad", "_loss_and_grad")]
                + [loss.name + "_grad_hess" for loss in LOSSES])
    assert smoothl1.__all__ == expected + ["least_squares_loss", "LeastSquaresLoss",
                                           "get_include", "simd_build"]
    for module in namespaces():
        assert set(expected) <= set(module.__all__)


@pytest.mark.parametrize("loss", ROWS)
def test_parameter_checks_take_the_row(loss):
    assert _validation.check_param(loss, 2) == 2.0
    assert _validation.check_param(loss, float("inf")) == float("inf")
    if loss.zero_allowed:
        assert _validation.check_param(loss, 0.0) == 0.0
    else:
        with pytest.raises(ValueError, match=f"^{loss.param} must be > 0 \\(inf is allowed\\), "
                                             f"got 0.0$"):
            _validation.check_param(loss, 0.0)
    with pytest.raises(ValueError, match=f"^{loss.param} must be {loss.accepted} \\(inf is "
                                         f"allowed\\), got -1.0$"):
        _validation.check_param(loss, -1.0)
    with pytest.raises(ValueError, match=f"^{loss.param} must be {loss.accepted} at every "
                                         f"element \\(inf is allowed\\), got -1.0$"):
        _validation.check_param_array(loss, np.array([1.0, -1.0]))
    x = np.zeros(3)
    with pytest.raises(ValueError, match=f"^{loss.param} must be a number, got nan$"):
        getattr(smoothl1, loss.name + "_loss")(x, x, **{loss.param: float("nan")})


def test_a_loss_that_refuses_inf_says_so():
    # No row refuses inf today; the checks read inf_allowed all the same.
    finite = dataclasses.replace(LOSSES[1], inf_allowed=False)
    with pytest.raises(ValueError, match="^delta must be > 0 and finite, got inf$"):
        _validation.check_param(finite, float("inf"))
    with pytest.raises(ValueError, match="^delta must be > 0 at every element and finite, got "
                                         "inf$"):
        _validation.check_param_array(finite, np.array([1.0, np.inf]))
    _validation.check_param_array(finite, np.array([1.0, 2.0]))


# --- the command line --------------------------------------------------------------------------

def cli_output(*argv):
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
        status = cli.main(list(argv))
    return status, printed.getvalue()


def test_cli_offers_every_loss():
    status, text = cli_output("loss", "--help")
    assert status == 0
    assert "{" + ",".join(NAMES) + "}" in text
    for param in OTHER_PARAMS:
        assert f"--{param}" in text


@pytest.mark.parametrize("loss", ROWS)
def test_cli_computes_every_loss_with_its_option(tmp_path, loss, monkeypatch):
    monkeypatch.chdir(tmp_path)
    pred = np.array([0.2, 1.5, -3.0])
    np.save("pred.npy", pred)
    status, text = cli_output("loss", "pred.npy", "0", "--loss", loss.name,
                              f"--{loss.param}", "0.5", "--reduction", "sum")
    assert status == 0, text
    expected = getattr(smoothl1, loss.name + "_loss")(pred, 0.0, reduction="sum",
                                                      **{loss.param: 0.5})
    assert text.strip() == str(expected)
    for other in OTHER_PARAMS - {loss.param}:
        status, text = cli_output("loss", "pred.npy", "0", "--loss", loss.name,
                                  f"--{other}", "0.5")
        assert status == 2
        assert f"--{other} is " in text and f"{loss.title} takes --{loss.param}" in text


# --- boosting and least_squares_loss ------------------------------------------------------------

MAKERS = [boosting.xgboost_objective, boosting.lightgbm_objective,
          boosting.catboost_objective, boosting.xgboost_metric, boosting.lightgbm_metric,
          boosting.catboost_metric, smoothl1.least_squares_loss]


@pytest.mark.parametrize("make", MAKERS)
@pytest.mark.parametrize("bad, error", [(["huber"], TypeError), ("tukey", ValueError),
                                        ({"huber": 1}, TypeError), (None, TypeError)])
def test_an_unknown_or_unhashable_loss_lists_the_losses(make, bad, error):
    with pytest.raises(error) as raised:
        make(bad)
    message = str(raised.value)
    assert message.startswith("loss must be")
    assert all(repr(name) in message for name in NAMES)


@pytest.mark.parametrize("make", MAKERS)
@pytest.mark.parametrize("loss", ROWS)
def test_adapters_take_the_rows_keyword_and_default(make, loss):
    made = make(loss.name)
    assert made.param == loss.default
    assert f"{loss.param}={loss.default!r}" in repr(made)
    made = make(loss.name, **{loss.param: 2.5})
    assert made.param == 2.5
    wrong = next(iter(OTHER_PARAMS - {loss.param}))
    with pytest.raises(TypeError, match=f"takes the keyword '{loss.param}', got {wrong}"):
        make(loss.name, **{wrong: 1.0})


# --- the stubs ---------------------------------------------------------------------------------

GENERATOR = Path(__file__).resolve().parent.parent / "tools" / "generate_stubs.py"


@pytest.mark.skipif(not GENERATOR.is_file(), reason="tools/ is not beside tests/")
def test_the_stubs_are_generated_from_the_table():
    # The build writes __init__.pyi (setup.py runs tools/generate_stubs.py); a stale one means
    # the table changed since the last build.
    spec = importlib.util.spec_from_file_location("generate_stubs", GENERATOR)
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    stubs = Path(smoothl1.__file__).with_name("__init__.pyi")
    assert stubs.read_text() == generator.render(LOSSES)
    dask_stubs = Path(smoothl1.__file__).with_name("dask.pyi")
    assert dask_stubs.read_text() == generator.render_dask(LOSSES)
    for loss in LOSSES:
        for text in (stubs.read_text(), dask_stubs.read_text()):
            assert f"def {loss.name}_grad_hess(" in text
            assert f"*, {loss.param}: " in text
