"""The public modules' namespaces (docs/layout.md, docs/contract.md sections 2, 17, 18 and 20):
``dir()`` of smoothl1, smoothl1.dask, smoothl1.torch and smoothl1.linear_model holds the names
of ``__all__`` and nothing public besides (no ``np``, ``importlib``, ``dask``, ``sklearn``
left over from an import); every name of ``__all__`` is there. Subpackages imported by then
(``smoothl1.dask`` ...) are attributes of their parent, as Python makes them."""
import importlib
import types

import pytest

MODULES = {
    "smoothl1": None,
    "smoothl1.dask": "dask.array",
    "smoothl1.torch": "torch",
    "smoothl1.linear_model": "sklearn",
}


def _stray_names(module):
    public = {name for name in dir(module) if not name.startswith("_")}
    submodules = {name for name in public
                  if isinstance(getattr(module, name), types.ModuleType)
                  and getattr(module, name).__name__ == f"{module.__name__}.{name}"}
    return sorted(public - set(module.__all__) - submodules)


@pytest.mark.parametrize("name", MODULES)
def test_dir_holds_all_and_nothing_else(name):
    if MODULES[name] is not None:
        pytest.importorskip(MODULES[name])
    module = importlib.import_module(name)
    assert _stray_names(module) == []
    assert len(set(module.__all__)) == len(module.__all__)
    missing = [item for item in module.__all__ if not hasattr(module, item)]
    assert missing == []


def test_the_check_finds_a_stray_name():
    module = types.ModuleType("example")
    module.__all__ = ["f"]
    module.f, module.np = len, importlib
    assert _stray_names(module) == ["np"]


def test_smoothl1_all_lists_the_loss_functions_and_helpers():
    import smoothl1
    assert {"smooth_l1_loss", "huber_grad", "cauchy_loss_and_grad", "log_cosh_grad_hess",
            "least_squares_loss", "LeastSquaresLoss", "get_include"} <= set(smoothl1.__all__)
