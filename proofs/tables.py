"""``l2l eval --format table``: an evaluation's results as a Markdown pipe table for people.

One row per result, one column per field (in the order the fields first appear); numbers with 14
significant digits, JSON ``null`` (a value that does not exist, e.g. a derivative at f = 0) as
``-``, lists abridged to their first three and last entries with their length, nested records as
``key: value`` pairs. The JSON form (``--format json``) is the complete, machine-readable one.

>>> print(results_table({"model": "m", "results": [{"eta": 0.25, "t": 10, "loss": [1.0, 0.5]}]}))
| eta | t | loss |
|---|---|---|
| 0.25 | 10 | [1, 0.5] |
"""

from __future__ import annotations

from typing import Any

__all__ = ["results_table", "cell_text"]

_MAX_LIST = 4  #: lists longer than this are abridged to their first three entries and their last


def cell_text(value: Any) -> str:
    """One value as table-cell text (``|`` escaped so a cell never splits)."""
    if value is None:
        text = "-"
    elif isinstance(value, bool):
        text = str(value).lower()
    elif isinstance(value, float):
        text = f"{value:.14g}"
    elif isinstance(value, list):
        items = [cell_text(v) for v in value]
        if len(items) > _MAX_LIST:
            items = [*items[:3], "…", items[-1]]
            text = f"[{', '.join(items)}] ({len(value)} values)"
        else:
            text = f"[{', '.join(items)}]"
    elif isinstance(value, dict):
        text = "; ".join(f"{k}: {cell_text(v)}" for k, v in value.items())
    else:
        text = str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def results_table(out: dict) -> str:
    """The ``results`` of an ``l2l eval`` output as a Markdown table (see the module docstring)."""
    rows = out.get("results", [])
    columns: list[str] = []
    for r in rows:
        columns.extend(k for k in r if k not in columns)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell_text(r.get(k)) for k in columns) + " |" for r in rows]
    return "\n".join(lines)
