"""pytest plugin (entry point ``pytest11``): collect every :class:`l2l.proofs.claim.Claim` as a test.

A claim file therefore runs unchanged under ``pytest FILE.py``: each claim is one item that runs
the claim with the Hypothesis profile named by ``L2L_PROFILE`` (default ``dev``) and fails when
the verdict misses the claim's expectation, showing the message and the counterexample.

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
        result = run_claim(self.claim, profile=profile if profile in ("ci", "dev", "thorough") else "dev")
        self.user_properties.append(("verdict", result.verdict))
        if not result.matches:
            raise ClaimFailed(result)

    def repr_failure(self, excinfo, style=None):  # noqa: D401 - pytest API
        if isinstance(excinfo.value, ClaimFailed):
            r = excinfo.value.args[0]
            lines = [
                f"claim {r.id}: verdict {r.verdict}, expected {r.expect}",
                f"message: {r.message}",
            ]
            for ce in r.counterexamples or ([r.counterexample] if r.counterexample is not None else []):
                lines.append("counterexample: " + json.dumps(ce))
            return "\n".join(lines)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return self.path, None, f"claim {self.claim.id}"


def pytest_pycollect_makeitem(collector, name, obj):
    module = sys.modules.get("l2l.proofs.claim")
    if module is None:  # nothing has defined a claim: stay out of the way
        return None
    if isinstance(obj, module.Claim) and obj.module == getattr(collector.obj, "__name__", None):
        return ClaimItem.from_parent(collector, name=name, claim=obj)
    return None
