"""The registry of papers: every catalogue (claims, figures, report section) is a plug-in.

A paper is a module (or package) that defines ``PAPER``, a :class:`Paper`: its key, its report
section title, its citation, its place in the report, the module that defines its claims and,
optionally, the function that draws its figures. This package knows two sources of papers:

* :data:`BUILTIN`: the papers shipped here, one line each (``proofs/papers/<key>/``);
* the entry-point group ``l2l.papers``: a third-party distribution ships a paper by declaring
  ``[project.entry-points."l2l.papers"] mykey = "mypackage.mypaper"``.

``l2l list``, ``l2l check``, the catalogue and ``l2l report`` (sections and figures) all read
:func:`papers`; nothing else names a paper. Adding one is a folder and at most one line in
:data:`BUILTIN` (``CONTRIBUTING.md``).

A paper cites itself the way the report cites it: :attr:`Paper.short` in the text of claims and
derivations ("Wang et al. (2021), Theorem 4"), :attr:`Paper.reference` in the report's list of
references.

>>> [p.key for p in papers()][:4]
['wang2021', 'wu2018', 'zhang2019', 'metz2019']
>>> paper_of("l2l.proofs.papers.zhang2019.claims").citation
'Zhang, Li, Nado, Martens, Sachdeva, Dahl, Shallue & Grosse, NeurIPS 2019'
>>> get("wang2021").short
'Wang et al. (2021)'
>>> print(get("wang2021").reference)
Xiang Wang, Shuai Yuan, Chenwei Wu, Rong Ge. Guarantees for Tuning the Step Size using a Learning-to-Learn
Approach. Proceedings of the 38th International Conference on Machine Learning (ICML), PMLR 139, 2021.
arXiv:2006.16495.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Callable

__all__ = ["Paper", "BUILTIN", "ENTRY_POINT_GROUP", "papers", "get", "paper_of", "PaperError"]

#: The papers shipped with l2l-theory (module names), in no particular order: reports order
#: sections by :attr:`Paper.order`.
BUILTIN = (
    "l2l.proofs.papers.wang2021",
    "l2l.proofs.papers.wu2018",
    "l2l.proofs.papers.zhang2019",
    "l2l.proofs.papers.metz2019",
    "l2l.proofs.papers.jastrzebski2020",
    "l2l.proofs.papers.wichrowska2017",
)
#: Entry-point group through which other distributions register papers.
ENTRY_POINT_GROUP = "l2l.papers"


class PaperError(Exception):
    """A plug-in that cannot be loaded or clashes with another (reported in one line, exit 2)."""


@dataclass(frozen=True)
class Paper:
    """One paper's plug-in record.

    ``key`` is the paper's short name (``wang2021``); its claims' ids conventionally start with it.
    ``title`` heads its report section; ``citation`` is a compact reference (authors, venue and
    year); ``order`` places the section (ascending; ties by key). ``claims`` names the module whose
    :func:`l2l.claim` decorators define the claims (default: the module that defines ``PAPER`` plus
    ``.claims`` for a package, the module itself otherwise). ``figures`` is ``"module:function"``,
    a function ``figures(render) -> list[Figure]`` drawing matplotlib figures, each passed through
    ``render(fig, name, title, caption)``; it is imported only when a report draws figures.

    The bibliographic fields (all optional, so that older plug-ins keep working) give the full
    reference: ``authors`` (every author's full name, separated by commas, in the paper's order),
    ``paper_title`` (the work's exact title), ``year``, ``venue`` and ``arxiv`` (the identifier
    alone, e.g. ``"2006.16495"``). From them come :attr:`short`, the in-text citation that claim
    and derivation sources start with, and :attr:`reference`, the entry of the report's list of
    references. A surname is the last word of a name; write a surname of several words with
    no-break spaces (``"Laurens van\\u00a0der\\u00a0Maaten"``).

    >>> one = Paper("x", "X", "X 2020", authors="Ada Lovelace", year=1843)
    >>> two = Paper("x", "X", "X 2020", authors="Yuhuai Wu, Roger Grosse", year=2018)
    >>> three = Paper("x", "X", "X 2020", authors="Xiang Wang, Shuai Yuan, Rong Ge", year=2021)
    >>> one.short, two.short, three.short
    ('Lovelace (1843)', 'Wu & Grosse (2018)', 'Wang et al. (2021)')
    >>> print(Paper("x", "X", "X 2020", authors="A B", paper_title="T", year=2000, venue="V").reference)
    A B. T. V, 2000.
    >>> Paper("toy", "Toy & Co. (2026): a toy paper", "Toy & Co., 2026").short  # no authors given
    'Toy & Co., 2026'
    """

    key: str
    title: str
    citation: str
    order: int = 100
    claims: str = ""
    figures: str | None = None
    module: str = ""  #: filled in by the registry: where ``PAPER`` was found
    authors: str = ""  #: full names, comma-separated: "Xiang Wang, Shuai Yuan, Chenwei Wu, Rong Ge"
    paper_title: str = ""  #: the work's exact title
    year: int | None = None
    venue: str = ""  #: e.g. "Proceedings of the 38th International Conference on Machine Learning (ICML)"
    arxiv: str = ""  #: the arXiv identifier alone, e.g. "2006.16495"

    @property
    def author_list(self) -> tuple[str, ...]:
        """The authors' full names, in order."""
        return tuple(a.strip() for a in self.authors.split(",") if a.strip())

    @property
    def short(self) -> str:
        """The in-text citation: "Lovelace (1843)", "Wu & Grosse (2018)", "Wang et al. (2021)".

        Without ``authors`` it is ``citation`` unchanged (a plug-in written before these fields).
        """
        surnames = [name.split(" ")[-1] for name in self.author_list]  # not split(): keeps no-break spaces
        if not surnames:
            return self.citation
        if len(surnames) == 1:
            names = surnames[0]
        elif len(surnames) == 2:
            names = f"{surnames[0]} & {surnames[1]}"
        else:
            names = f"{surnames[0]} et al."
        return f"{names} ({self.year})" if self.year is not None else names

    @property
    def reference(self) -> str:
        """The full reference: "Authors. Title. Venue, year. arXiv:ID." (missing parts left out).

        Without ``authors`` it is ``citation`` unchanged.
        """
        if not self.author_list:
            return self.citation
        parts = [", ".join(self.author_list)]
        if self.paper_title:
            parts.append(self.paper_title.rstrip(". "))
        venue = ", ".join(x for x in (self.venue, "" if self.year is None else str(self.year)) if x)
        if venue:
            parts.append(venue)
        if self.arxiv:
            parts.append(f"arXiv:{self.arxiv}")
        # a part ending in "?" or "!" (a title asking a question) takes no full stop after it
        return " ".join(p if p.endswith(("?", "!")) else p + "." for p in parts)

    def claim_module(self) -> str:
        return self.claims or self.module

    def load_claims(self) -> list:
        """Import the claims module and return its claims in definition order."""
        from ..claim import REGISTRY

        name = self.claim_module()
        try:
            importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - a broken plug-in is a load error, not a crash
            raise PaperError(f"paper {self.key!r}: cannot import {name}: {type(exc).__name__}: {exc}") from None
        claims = [c for c in REGISTRY.values() if c.module == name]
        for c in claims:
            if c.tag == "user":  # no tag given: a paper's claim is a "paper" claim
                c.tag = "paper"
        return claims

    def draw_figures(self, render: Callable[..., Any]) -> list:
        """The paper's figures (none when it declares no figure function)."""
        if not self.figures:
            return []
        module, _, func = self.figures.partition(":")
        return list(getattr(importlib.import_module(module), func)(render))


def _load(module_name: str) -> Paper:
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # noqa: BLE001
        raise PaperError(f"paper plug-in {module_name}: cannot import it: {type(exc).__name__}: {exc}") from None
    paper = getattr(module, "PAPER", None)
    if not isinstance(paper, Paper):
        raise PaperError(f"paper plug-in {module_name}: defines no PAPER = l2l.proofs.papers.Paper(...)")
    claims = paper.claims or (f"{module_name}.claims" if hasattr(module, "__path__") else module_name)
    return dataclasses.replace(paper, claims=claims, module=module_name)


@functools.lru_cache(maxsize=1)
def _discover() -> tuple[Paper, ...]:
    names = list(BUILTIN)
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.value not in names:
            names.append(ep.value)
    found: dict[str, Paper] = {}
    for name in names:
        p = _load(name)
        if p.key in found:
            raise PaperError(f"paper key {p.key!r} is registered twice ({found[p.key].module} and {p.module})")
        found[p.key] = p
    return tuple(sorted(found.values(), key=lambda p: (p.order, p.key)))


def papers() -> tuple[Paper, ...]:
    """Every registered paper, in report order."""
    return _discover()


def get(key: str) -> Paper:
    """The paper with this key; ``PaperError`` naming the known keys otherwise."""
    for p in papers():
        if p.key == key:
            return p
    raise PaperError(f"unknown paper {key!r}; known: {', '.join(p.key for p in papers())}")


def paper_of(module: str) -> Paper | None:
    """The paper whose claims module is ``module`` (a claim's ``module``), else ``None``."""
    for p in papers():
        if p.claim_module() == module:
            return p
    return None


def reset() -> None:
    """Forget the discovered papers (after installing a plug-in at run time, e.g. in tests)."""
    _discover.cache_clear()
