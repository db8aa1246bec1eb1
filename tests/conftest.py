"""Shared fixtures: every test starts from a seeded global generator."""
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import chainrule as cr

# scripts that the tests launch under mpiexec (they start a process group when imported), not
# modules for pytest to import
collect_ignore = ["distributed"]

settings.register_profile("ci", max_examples=50, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=15, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def seeded() -> np.random.Generator:
    """Seed chainrule's global generator (and return a local one for test data)."""
    cr.manual_seed(0)
    return np.random.default_rng(0)


@pytest.fixture(params=["compiled", "numpy"])
def kernel_mode(request: pytest.FixtureRequest):
    """Run a test with the compiled kernels (Numba) and again with the NumPy formulas.

    Yields True for the compiled run (skipped where Numba is not installed), False for NumPy.
    """
    from chainrule.backend import use_compiled
    from chainrule.kernels import compiled

    on = request.param == "compiled"
    with use_compiled(on):
        if on and compiled() is None:
            pytest.skip("Numba is not installed: no compiled kernels")
        yield on
