"""Hypothesis profiles (DESIGN.md, "Quality rules").

- ``dev`` (default): a moderate number of random examples.
- ``ci``: derandomised and small, so CI is reproducible and fits its time budget.
- ``thorough``: many examples, for a long local run.

Chosen by the environment variable ``L2L_PROFILE`` or pytest's ``--hypothesis-profile``.
``deadline=None`` everywhere: run times of numerical checks vary with the machine, not with bugs.
"""

import os

from hypothesis import HealthCheck, settings

_common = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=40, **_common)
settings.register_profile("ci", max_examples=15, derandomize=True, print_blob=True, **_common)
settings.register_profile("thorough", max_examples=500, **_common)
settings.load_profile(os.environ.get("L2L_PROFILE", "dev"))
