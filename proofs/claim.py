r"""Claims: statements bound to checks, with verdicts and shrunk counterexamples.

A claim is a statement from a paper (or from you) bound to a check (``../shared/DESIGN.md``,
"Claims"). Write it like a Hypothesis test and decorate it with :func:`claim`::

    from hypothesis import given, strategies as st
    from l2l import claim, strategies as ps

    @claim(id="mylab.bound", statement=r"|G'(\eta)| \le 2L^2(L+\alpha)/(c_{\min}^2\alpha(L-\alpha))",
           source="my note, eq. (3)", kind="inequality")
    @given(problem=ps.quadratic_problems(max_dim=8), t=st.integers(1, 10_000))
    def bound(problem, t):
        ...  # assert the claim on this instance

The same file runs unchanged under ``l2l check FILE.py`` and ``pytest FILE.py`` (the ``l2l``
pytest plugin collects every claim, whatever its name, and fails the item when the verdict misses
the expectation).

Three shapes of check are accepted:

* a Hypothesis test (``@given``): ``holds`` when no counterexample turns up in the profile's number
  of examples, ``refuted`` with the shrunk failing example when an assertion fails;
* a plain function of no arguments (a deterministic check over a grid): ``holds`` or ``refuted``
  (raise :func:`refute` or ``AssertionError``; :func:`refute` attaches a witness);
* a function returning a :class:`theory.derivation.Derivation` (or its ``Verification``):
  ``proved`` when SymPy established every checked step for all symbol values, ``holds`` when some
  step was only checked at concrete instances (the message says which), ``refuted`` when a step
  failed.

Any other exception is an ``error`` verdict. A verdict depends only on the code, the claim, the
profile and the seed: a claim bounds its work by counts (``examples`` per profile, and the grid
points and iterations it declares), never by time. The only clock is a hang guard (``timeout``,
generous by default): a claim that overruns it is an ``error`` that says ``timeout after N s``,
not a verdict about the mathematics. Claims run in a worker process (:mod:`.runner`), so nothing a
claim does (exit, crash, signals, threads, output) changes another claim's verdict.
Verdicts compare with ``expect``: ``proved`` and ``holds`` meet ``expect="holds"``; ``refuted``
meets ``expect="refuted"`` (a negative control: a deliberately false variant the checker must
refute, proving it has teeth).

Runs are reproducible: profile ``ci`` is derandomised, ``seed=N`` fixes Hypothesis' seed, and no
example database is consulted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from . import context
from .codec import ReplayData, to_jsonable

__all__ = [
    "claim",
    "Claim",
    "REGISTRY",
    "KINDS",
    "VERDICTS",
    "PROFILES",
    "refute",
    "evidence",
    "ClaimRefuted",
    "current_profile",
]

KINDS = ("identity", "inequality", "asymptotic", "statistical", "trend")
VERDICTS = ("proved", "holds", "refuted", "error")
EXPECTATIONS = ("holds", "refuted")
TAGS = ("paper", "code", "derived", "unconfirmed", "analogue", "user")
PROFILES = ("ci", "dev", "thorough")

#: Examples per Hypothesis claim unless the claim says otherwise.
DEFAULT_EXAMPLES = {"ci": 20, "dev": 100, "thorough": 1000}
#: The hang guard: seconds of wall time after which a claim's worker is stopped and the claim is an
#: ``error`` ("timeout after N s"). Generous (a claim of the catalogue takes at most ~60 s under
#: ``ci`` on a loaded 2-core machine); never a stopping rule for the mathematics.
DEFAULT_TIMEOUT = {"ci": 900.0, "dev": 1800.0, "thorough": 7200.0}


class ClaimRefuted(AssertionError):
    """An assertion failure that carries a JSON-serialisable witness (raised by :func:`refute`)."""

    def __init__(self, message: str, witness: Mapping[str, Any] | None = None):
        super().__init__(message)
        self.witness = dict(witness or {})


def refute(message: str, **witness: Any) -> None:
    """Fail the current claim with ``message`` and a witness (the counterexample of a grid check)."""
    raise ClaimRefuted(message, witness)


def current_profile() -> str:
    """The profile of the claim run in progress (``dev`` outside a run): lets a grid check scale its
    setting, e.g. to the paper's problem size under ``thorough``."""
    return context.PROFILE.get()


def evidence(name: str, computed: Any, expected: Any = None, tolerance: Any = None, why: str | None = None) -> None:
    """Record a number and its certificate for the report: what was computed, what theory
    predicts, the tolerance and why. Outside a claim run this does nothing.

    >>> evidence("slope", -0.0852, expected=-0.0880, tolerance="5% relative", why="ln t term")
    """
    sink = context.EVIDENCE.get()
    if sink is not None:
        sink.append(
            {
                "name": name,
                "computed": to_jsonable(computed),
                "expected": to_jsonable(expected),
                "tolerance": to_jsonable(tolerance),
                "why": why,
            }
        )


# -- claims -----------------------------------------------------------------------------------


@dataclass(eq=False)
class Claim:
    """One checkable statement. Calling it runs the underlying check directly."""

    id: str
    statement: str
    source: str
    kind: str
    expect: str
    func: Callable
    tag: str = "paper"
    assumptions: str = ""
    tolerance: str = ""
    examples: dict = field(default_factory=dict)
    timeout: dict = field(default_factory=dict)
    module: str = ""
    qualname: str = ""
    shares: str = ""

    @property
    def is_hypothesis(self) -> bool:
        return hasattr(self.func, "hypothesis") and hasattr(self.func.hypothesis, "inner_test")

    @property
    def doc(self) -> str:
        return (self.func.__doc__ or "").strip()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.func(*args, **kwargs)

    def replay(self, example: Mapping[str, Any]) -> Any:
        """Run the check once on ``example`` (a result's ``raw_counterexample``, or the decoded
        JSON one): raises exactly as the check does."""
        inner = self.func.hypothesis.inner_test if self.is_hypothesis else self.func
        kwargs = {k: (ReplayData(v.draws) if isinstance(v, ReplayData) else v) for k, v in example.items()}
        return inner(**kwargs)

    def n_examples(self, profile: str) -> int:
        return int(self.examples.get(profile, DEFAULT_EXAMPLES[profile]))

    def hang_timeout(self, profile: str) -> float:
        """Seconds after which the runner stops this claim as hung (see :data:`DEFAULT_TIMEOUT`)."""
        return float(self.timeout.get(profile, DEFAULT_TIMEOUT[profile]))

    def describe(self) -> dict:
        return {
            "id": self.id,
            "kind": self.kind,
            "source": self.source,
            "expect": self.expect,
            "tag": self.tag,
            "statement": self.statement,
        }


REGISTRY: dict[str, Claim] = {}


def claim(
    id: str,
    statement: str,
    source: str,
    kind: str,
    expect: str = "holds",
    *,
    tag: str | None = None,
    assumptions: str = "",
    tolerance: str = "",
    examples: Mapping[str, int] | None = None,
    timeout: Mapping[str, float] | None = None,
    shares: str = "",
) -> Callable[[Callable], Claim]:
    """Bind a statement to a check and register it (see the module docstring).

    ``kind``: identity | inequality | asymptotic | statistical | trend. ``expect``: holds (default)
    or refuted (negative controls). ``tag``: the confidence tag of ``papers/`` (paper, code,
    derived, unconfirmed; ``analogue`` for a package-made analogue of an unavailable statement;
    ``user`` by default for claims outside the catalogue). ``examples`` overrides the per-profile
    number of Hypothesis examples; ``timeout`` the per-profile hang guard in seconds. ``shares``
    names a cached computation the check reads (say ``"wu2018.momentum-runs"``): claims that share
    one run in the same worker process, so it is computed once; verdicts do not depend on it.
    """
    if not isinstance(id, str) or not id or any(ch.isspace() for ch in id):
        raise ValueError(f"claim id: must be a non-empty string without spaces (got {id!r})")
    if kind not in KINDS:
        raise ValueError(f"claim {id}: kind must be one of {', '.join(KINDS)} (got {kind!r})")
    if expect not in EXPECTATIONS:
        raise ValueError(f"claim {id}: expect must be 'holds' or 'refuted' (got {expect!r})")
    if tag is not None and tag not in TAGS:
        raise ValueError(f"claim {id}: tag must be one of {', '.join(TAGS)} (got {tag!r})")
    for name, table in (("examples", examples), ("timeout", timeout)):
        for key, val in (table or {}).items():
            if key not in PROFILES or not (isinstance(val, (int, float)) and val > 0):
                raise ValueError(f"claim {id}: {name} must map profiles {PROFILES} to positive numbers")

    def decorate(func: Callable) -> Claim:
        if isinstance(func, Claim):
            raise ValueError(f"claim {id}: already a claim ({func.id})")
        module = getattr(func, "__module__", "") or ""
        c = Claim(
            id=id,
            statement=statement,
            source=source,
            kind=kind,
            expect=expect,
            func=func,
            tag=tag or "user",  # a registered paper's claims become "paper" when it loads them
            assumptions=assumptions,
            tolerance=tolerance,
            examples=dict(examples or {}),
            timeout=dict(timeout or {}),
            module=module,
            qualname=getattr(func, "__qualname__", ""),
            shares=str(shares),
        )
        old = REGISTRY.get(id)
        if old is not None and (old.module, old.qualname) != (c.module, c.qualname):
            raise ValueError(f"claim id {id!r} is already registered by {old.module}.{old.qualname}")
        REGISTRY[id] = c
        return c

    return decorate


