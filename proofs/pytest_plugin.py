"""pytest plugin (entry point ``pytest11``): collect every :class:`l2l.proofs.claim.Claim` as a test.

A claim file therefore runs unchanged under ``pytest FILE.py``: each claim is one item that runs
the claim with the Hypothesis profile named by ``L2L_PROFILE`` (default ``dev``) and fails when
the verdict misses the claim's expectation, showing the message and the counterexample.

Reproducible by default: claims run with Hypothesis seed 0 unless ``--hypothesis-seed=N`` (or the
environment variable ``L2L_SEED``) names another; ``--hypothesis-seed=random`` draws a fresh one
to hunt for counterexamples. The seed is printed in pytest's header and in every failure, with the
command line that repeats the run.

The plugin is inert in a project that does not use l2l: loading it imports only ``json``, ``os``,
``sys`` and pytest, and collection consults it only once :mod:`l2l.proofs.claim` has been imported
by the project's own code (before that, no object can be a claim).
"""

from __future__ import annotations

import json
import os
import sys

import pytest


class ClaimFailed(Exception):
    pass


class ClaimItem(pytest.Item):
    def __init__(self, *, claim, **kwargs):
        super().__init__(**kwargs)
        self.claim = claim

    def runtest(self) -> None:
        from l2l.proofs.runner import run_claim

        profile = os.environ.get("L2L_PROFILE", "dev")
        result = run_claim(self.claim, profile=profile if profile in ("ci", "dev", "thorough") else "dev",
                           seed=_seed(self.config))
        self.user_properties.append(("verdict", result.verdict))
        if not result.matches:
            raise ClaimFailed(result)

    def repr_failure(self, excinfo, style=None):  # noqa: D401 - pytest API
        if isinstance(excinfo.value, ClaimFailed):
            r = excinfo.value.args[0]
            lines = [
                f"claim {r.id}: verdict {r.verdict}, expected {r.expect}",
                f"message: {r.message}",
                f"seed {r.seed} (profile {r.profile}): repeat with --hypothesis-seed={r.seed}",
            ]
            for ce in r.counterexamples or ([r.counterexample] if r.counterexample is not None else []):
                lines.append("counterexample: " + json.dumps(ce))
            return "\n".join(lines)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return self.path, None, f"claim {self.claim.id}"


def _seed(config) -> int:
    """The run's seed (chosen once per session; see the module docstring)."""
    cached = getattr(config, "_l2l_seed", None)
    if cached is not None:
        return cached
    raw = None
    try:
        raw = config.getoption("hypothesis_seed")
    except ValueError:  # Hypothesis' pytest plugin is not loaded
        raw = None
    if raw in (None, ""):
        raw = os.environ.get("L2L_SEED", "0")
    if str(raw) == "random":
        import random

        seed = random.SystemRandom().randrange(2**32)
    else:
        try:
            seed = int(raw)
        except (TypeError, ValueError):
            raise pytest.UsageError(f"--hypothesis-seed / L2L_SEED: must be an integer or 'random' (got {raw!r})") from None
        if not 0 <= seed < 2**32:
            raise pytest.UsageError(f"--hypothesis-seed / L2L_SEED: must be in [0, 2^32) (got {seed})")
    config._l2l_seed = seed
    return seed


def pytest_report_collectionfinish(config, start_path, items):
    if not any(isinstance(item, ClaimItem) for item in items):
        return None
    return f"l2l claims: Hypothesis seed {_seed(config)} (--hypothesis-seed=N or =random to change)"


def pytest_pycollect_makeitem(collector, name, obj):
    module = sys.modules.get("l2l.proofs.claim")
    if module is None:  # nothing has defined a claim: stay out of the way
        return None
    if isinstance(obj, module.Claim) and obj.module == getattr(collector.obj, "__name__", None):
        return ClaimItem.from_parent(collector, name=name, claim=obj)
    return None
