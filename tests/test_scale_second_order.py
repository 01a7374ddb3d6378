"""The second order on other array libraries: hvp, gauss_newton_product and hessian take the
array API path (matgrad.generic_vjp) for array-api-strict, torch CPU and Dask arrays.

Every property runs over the registry; each library's tests skip when it is not installed.
"""

from __future__ import annotations

import numpy as np
import pytest

from matgrad.registry import OBJECTIVES

SIZES = {"n": 7, "k": 4, "m": 3, "d": 4, "h": 5, "o": 3}
KINDS = ("full", "row", "vector")
PRODUCTS = ("hvp", "gauss_newton_product")


def cases() -> list:
    return [
        pytest.param(o, kind, product, id=f"{o.id}-{kind}-{product}")
        for o in OBJECTIVES
        for kind in KINDS
        for product in PRODUCTS
    ]


def problem(objective, kind, dtype=np.float64, seed=0):
    """Arguments, and a direction moving every argument (every cross term in play)."""
    rng = np.random.default_rng(seed)
    arrays = objective.signature.random_arguments(rng, SIZES, kind, dtype)
    direction = {name: rng.standard_normal(a.shape).astype(dtype) for name, a in arrays.items()}
    return arrays, direction


def assert_close(got: dict, expected: dict, to_numpy, rtol: float) -> None:
    assert list(got) == list(expected)
    for name, block in expected.items():
        np.testing.assert_allclose(to_numpy(got[name]), block, rtol=rtol, atol=rtol * np.abs(block).max())


@pytest.mark.parametrize(("objective", "kind", "product"), cases())
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_array_api_strict_equals_numpy_and_keeps_library_and_dtype(objective, kind, product, dtype):
    xp = pytest.importorskip("array_api_strict")
    arrays, direction = problem(objective, kind, np.dtype(dtype))
    expected = getattr(objective, product)(arrays, direction)
    got = getattr(objective, product)(
        {name: xp.asarray(a) for name, a in arrays.items()},
        {name: xp.asarray(v) for name, v in direction.items()},
    )
    for name, block in got.items():
        assert type(block) is type(xp.asarray(0.0)) and block.dtype == getattr(xp, dtype)
        assert block.shape == arrays[name].shape
    assert_close(got, expected, np.asarray, rtol=1e-4 if dtype == "float32" else 1e-10)


@pytest.mark.parametrize(("objective", "kind", "product"), cases())
def test_torch_cpu_equals_numpy_and_keeps_dtype_and_device(objective, kind, product):
    torch = pytest.importorskip("torch")
    pytest.importorskip("array_api_compat")
    arrays, direction = problem(objective, kind, np.float32)
    tensors = {name: torch.from_numpy(a) for name, a in arrays.items()}
    expected = getattr(objective, product)(arrays, direction)
    got = getattr(objective, product)(tensors, {name: torch.from_numpy(v) for name, v in direction.items()})
    for block in got.values():
        assert isinstance(block, torch.Tensor) and block.dtype == torch.float32
        assert block.device == tensors["X"].device
    assert_close(got, expected, lambda t: t.numpy(), rtol=1e-4)


@pytest.mark.parametrize("objective", [pytest.param(o, id=o.id) for o in OBJECTIVES])
def test_torch_hessian_equals_numpy_block_by_block(objective):
    """Every block ∂²f/∂A∂B of two of the weights (a diagonal block and a cross block)."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("array_api_compat")
    arrays, _ = problem(objective, "row")
    tensors = {name: torch.from_numpy(a) for name, a in arrays.items()}
    first, last = objective.arguments[0], objective.arguments[-1]
    for wrt in (last, (first, last), (last, first)):
        expected = objective.hessian(arrays, wrt)
        got = objective.hessian(tensors, wrt)
        assert isinstance(got, torch.Tensor) and got.dtype == torch.float64
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12, atol=1e-12 * np.abs(expected).max())


def test_mixed_libraries_and_wrong_shapes_in_a_direction_are_named():
    torch = pytest.importorskip("torch")
    pytest.importorskip("array_api_compat")
    from matgrad import affine

    X, W, b = torch.ones(4, 3, dtype=torch.float64), torch.ones(3, 2, dtype=torch.float64), torch.zeros(2)
    with pytest.raises(TypeError, match=r"different libraries .*direction\['W'\]: .*numpy"):
        affine.hvp(X, W, b, {"W": np.ones((3, 2))})
    with pytest.raises(ValueError, match=r"direction\['W'\] has shape \(3, 3\) but W has shape \(3, 2\)"):
        affine.hvp(X, W, b, {"W": torch.ones(3, 3, dtype=torch.float64)})
    with pytest.raises(ValueError, match="wrt"):
        affine.hvp(X, W, b, {"W": torch.ones(3, 2, dtype=torch.float64)}, wrt="X")


@pytest.mark.parametrize(("objective", "kind", "product"), cases())
def test_dask_is_lazy_and_equals_numpy(objective, kind, product):
    dask = pytest.importorskip("dask")
    da = pytest.importorskip("dask.array")
    pytest.importorskip("array_api_compat")
    arrays, direction = problem(objective, kind)
    n = arrays["X"].shape[0]

    def lazy(table):  # arrays with n rows in chunks of 3 rows; the weights stay numpy
        return {
            k: da.from_array(a, chunks=(3, -1)) if a.ndim == 2 and a.shape[0] == n else a
            for k, a in table.items()
        }

    got = getattr(objective, product)(lazy(arrays), lazy(direction))
    assert all(isinstance(block, da.Array) for block in got.values())
    computed = dask.compute(got, scheduler="threads")[0]
    assert_close(computed, getattr(objective, product)(arrays, direction), np.asarray, rtol=1e-10)


def test_dask_hessian_is_refused_with_the_way_out():
    da = pytest.importorskip("dask.array")
    pytest.importorskip("array_api_compat")
    from matgrad import affine

    with pytest.raises(TypeError, match=r"use hvp\(\.\.\., direction\) with Dask arrays"):
        affine.hessian(da.ones((6, 2), chunks=(3, 2)), np.ones((2, 2)), np.zeros(2), wrt="W")


def test_numpy_second_order_does_not_import_array_api_compat_or_dask():
    import subprocess
    import sys

    code = (
        "import sys, numpy as np; from matgrad import affine;"
        "affine.hvp(np.ones((3, 2)), np.ones((2, 2)), np.zeros(2), {'W': np.ones((2, 2))});"
        "print(sorted(m for m in ('dask', 'array_api_compat', 'torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
