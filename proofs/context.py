"""The state of the claim run in progress, shared by :mod:`.claim` (``evidence``, ``current_profile``)
and :mod:`.runner` (which sets it): the evidence sink and the active profile.
"""

from __future__ import annotations

import contextvars

#: Evidence records of the example being run (``None`` outside a claim run).
EVIDENCE: contextvars.ContextVar[list | None] = contextvars.ContextVar("l2l_evidence", default=None)
#: The profile of the claim run in progress.
PROFILE: contextvars.ContextVar[str] = contextvars.ContextVar("l2l_profile", default="dev")
