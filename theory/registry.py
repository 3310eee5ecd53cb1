"""Every registered derivation of :mod:`theory`, by name: ``l2l derive NAME`` looks names up here.

The registry merges the ``DERIVATIONS`` dicts of :mod:`theory.quadratic` (``quadratic.*``),
:mod:`theory.least_squares` (``least_squares.*``), :mod:`theory.sgd_moments` (``sgd.*``) and
:mod:`theory.nqm` (``nqm.*``, the noisy quadratic model), :mod:`theory.break_even` (``break_even.*``: Eq. 1 and
the break-even point of Jastrzebski et al. 2020), :mod:`theory.learned` (``learned.*``: identities of
the learned optimizer of Wichrowska et al. 2017) and :mod:`theory.metz` (``metz.*``: meta-loss,
truncation, Gaussian smoothing and estimators of Metz et al. 2019), in that order. It is the only lookup
by name: it imports the model modules and none of them imports it (no import cycle).

>>> names()[:2]
('quadratic.iterate', 'quadratic.loss')
>>> get("sgd.isserlis").name
'sgd.isserlis'
"""

from __future__ import annotations

from typing import Callable, Sequence

from l2l.theory import break_even, learned, least_squares, metz, nqm, quadratic, sgd_moments
from l2l.theory import derivation
from l2l.theory.derivation import Derivation, Verification

__all__ = ["MODULES", "derivations", "names", "get", "verified", "select"]

#: The modules whose ``DERIVATIONS`` are merged, in order.
MODULES = (quadratic, least_squares, sgd_moments, nqm, break_even, learned, metz)


def derivations() -> dict[str, Callable[[], Derivation]]:
    """A fresh merged ``{name: factory}`` dict; a name defined twice is an error."""
    out: dict[str, Callable[[], Derivation]] = {}
    for module in MODULES:
        for name, factory in module.DERIVATIONS.items():
            if name in out:
                raise RuntimeError(f"derivation {name!r} is registered twice (again in {module.__name__})")
            out[name] = factory
    return out


def names() -> tuple[str, ...]:
    """Every registered derivation name, module by module in registration order."""
    return tuple(derivations())


def verified(name: str) -> Verification:
    """The verification of the registered derivation ``name``, once per process
    (:func:`theory.derivation.verified`): what a claim returns to take a derivation's status as its
    verdict, and what the report's derivation tasks compute; ``KeyError`` as for :func:`get`."""
    if name not in derivations():
        get(name)  # the KeyError naming the known derivations
    return derivation.verified(name)


def get(name: str) -> Derivation:
    """A fresh :class:`theory.derivation.Derivation` by name; ``KeyError`` naming the known names otherwise."""
    table = derivations()
    factory = table.get(name) if isinstance(name, str) else None
    if factory is None:
        raise KeyError(f"unknown derivation {name!r}; known: {', '.join(table)}")
    return factory()


def matches(name: str, prefix: str) -> bool:
    """``name`` is ``prefix`` or lies under it (``quadratic`` covers ``quadratic.log-gradient``;
    the rule of claim ids in ``l2l check``)."""
    return name == prefix or name.startswith(prefix + ".") or name.startswith(prefix + "-")


def select(prefixes: Sequence[str]) -> tuple[str, ...]:
    """The registered names under any of ``prefixes``, in registration order (all of them when
    ``prefixes`` is empty); ``KeyError`` naming a prefix that matches nothing.

    >>> select(["quadratic.log-gradient"])
    ('quadratic.log-gradient',)
    >>> len(select(["quadratic"])) > 1
    True
    """
    known = names()
    for p in prefixes:
        if not any(matches(n, p) for n in known):
            raise KeyError(f"no derivation name or prefix matches {p!r} (see `l2l derive --list`)")
    return tuple(n for n in known if not prefixes or any(matches(n, p) for p in prefixes))
