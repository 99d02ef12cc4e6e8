"""Test-wide settings: hypothesis profiles and strict floating-point errors.

The "ci" profile (chosen when CI is set) is derandomized, so CI is deterministic;
the "dev" profile searches with fresh randomness on every run. Overflow, division
by zero and invalid operations raise inside every test (underflow is allowed).
"""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", derandomize=True, deadline=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("FNN_HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


@pytest.fixture(autouse=True)
def _strict_floating_point():
    with np.errstate(over="raise", divide="raise", invalid="raise", under="ignore"):
        yield
